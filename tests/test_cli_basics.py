"""init, check and models: what a PM runs before the first eval."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import cli, write_req


def test_init_writes_a_template_that_checks_clean_but_for_the_eval_set_size(tmp_path: Path) -> None:
    res = cli("init", "Ticket Triage")
    assert res.exit_code == 0
    req = tmp_path / "requirements" / "ticket-triage.yaml"
    assert req.exists() and (tmp_path / "evalsets" / "ticket-triage.jsonl").exists()
    text = req.read_text()
    assert "# Write these down BEFORE comparing models" in text and "must_pass" in text
    chk = cli("check", req)
    assert chk.exit_code == 0, chk.output
    assert "✓ Quality bar defined" in chk.output
    assert "✗ Eval set of 50-100 examples: 6 examples" in chk.output
    again = cli("init", "Ticket Triage")
    assert again.exit_code == 2 and "exists; pass --force" in again.output


def test_check_lists_what_is_missing(tmp_path: Path) -> None:
    # check finds the python candidate's file but never runs it: this module would exit if imported
    (tmp_path / "m.py").write_text("raise SystemExit('imported!')\ndef f(x):\n    return 'other'\n")
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "m:f"}], latency={}, cost={},
                  compliance={}, quality={})
    res = cli("check", p)
    assert res.exit_code == 0, res.output
    assert "imported!" not in res.output
    out = res.output
    for item in ("✗ Quality bar defined: set quality.min_score", "✗ Latency targets: set latency.p50_ms and latency.p95_ms",
                 "✗ Cost budget and volume", "✗ Privacy and compliance", "✗ Strategic considerations",
                 "✗ Eval set of 50-100 examples: 12 examples"):
        assert item in out, item
    assert "checklist item(s) open" in out
    assert cli("check", p, "--strict").exit_code == 1


def test_check_reports_compliance_eliminations_before_any_call(tmp_path: Path) -> None:
    p = write_req(tmp_path, ["google/gemini-3.8-flash", "openai/gpt-6.1-terra"],
                  compliance={"max_retention_days": 30, "require_no_training": True})
    res = cli("check", p)
    assert "eliminated before any call google/gemini-3.8-flash: retains data 55 days" in " ".join(res.output.split())
    assert "not evaluable here openai/gpt-6.1-terra: no API key (set OPENAI_API_KEY)" in " ".join(res.output.split())


def test_models_lists_the_catalog_with_sources() -> None:
    res = cli("models", "--json")
    data = json.loads(res.output)
    ids = {m["id"] for m in data}
    assert {"openai/gpt-6.1-terra", "anthropic/claude-sonnet-4-5", "google/gemini-3.8-flash", "groq/llama-3.3-70b-versatile",
            "local/gemma-3-270m"} <= ids
    for m in data:
        assert m["price_source"] and m["price_source"] != "unknown", m["id"]
        for fact in m["facts"].values():
            assert fact["source"], (m["id"], fact)
            # A known fact says when it was true; an unknown one says it is unknown.
            assert fact["as_of"] or (fact["value"] is None and "not" in fact["source"]), (m["id"], fact)
    mini = next(m for m in data if m["id"] == "openai/gpt-6.1-terra")
    assert mini["price_source"].startswith("genai-prices") and mini["input_per_mtok"] > 0
    table = cli("models", "--provider", "anthropic")
    assert "claude-haiku-4-5" in table.output and "gpt-5" not in table.output


def test_help_is_fast_and_lists_commands() -> None:
    import subprocess
    import sys
    import time

    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "modelsel", "--help"], capture_output=True, text=True, check=True).stdout
    assert time.perf_counter() - t < 10  # generous: the figure itself is in benchmarks/, not a timed test
    for cmd in ("init", "check", "models", "eval", "report", "review", "diff"):
        assert cmd in out
    heavy = subprocess.run([sys.executable, "-c", "import sys, modelsel.cli; print(sorted(m for m in ('openai', 'anthropic', "
                            "'google.genai', 'matplotlib', 'pandas', 'scipy', 'llama_cpp', 'genai_prices') if m in sys.modules))"],
                           capture_output=True, text=True, check=True).stdout
    assert heavy.strip() == "[]"


def test_eval_loads_nothing_of_the_end_of_a_run_before_its_first_request() -> None:
    """What `eval` imports before its calls is time before the first request goes out: the
    statistics (numpy), the latency pass, the history and the report templates load while the
    first calls are in flight (session.AFTER_CALLS), not before."""
    import subprocess
    import sys

    code = ("import sys, modelsel.cli, modelsel.pipeline, modelsel.session, modelsel.run.runner; "
            "print(sorted(m for m in sys.modules if m in ('numpy', 'jinja2', 'matplotlib', 'scipy', 'pandas') or "
            "m.startswith(('modelsel.analysis', 'modelsel.quarterly', 'modelsel.run.latency_pass', "
            "'modelsel.report.html', 'modelsel.report.markdown', 'modelsel.report.terminal'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
    from modelsel import session

    assert "modelsel.analysis.limits" in session.AFTER_CALLS and "modelsel.report.html:template" in session.AFTER_CALLS


def test_the_tls_context_is_built_beside_the_imports_and_its_failure_is_said_where_it_is_used(tmp_path: Path) -> None:
    """build_tls_early loads the CA bundle in a thread; the clients take that very context. A bundle
    that cannot be read fails quietly in the thread and with its own error where the context is asked for."""
    import ssl
    import subprocess
    import sys

    code = ("from modelsel.providers import base; base.build_tls_early(); ctx = base._tls_context(); "
            "import ssl; print(isinstance(ctx, ssl.SSLContext), ctx is base._tls_context(), "
            "base._TLS_BUILDER[0].is_alive())")
    ok = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ok.stdout.split() == ["True", "True", "False"] and ok.stderr == ""
    bad = tmp_path / "bundle.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    code = ("from modelsel.providers import base; base.build_tls_early(); base._TLS_BUILDER[0].join()\n"
            "try:\n    base._tls_context()\nexcept Exception as exc:\n    print(type(exc).__name__)")
    import os

    failed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "SSL_CERT_FILE": str(bad)})
    assert failed.stdout.strip() == ssl.SSLError.__name__ and "Traceback" not in failed.stderr


def test_a_first_run_without_the_local_model(tmp_path: Path) -> None:
    """A team that only calls cloud models installs no llama.cpp: init, check and eval --dry-run work,
    and the local candidate says which extra it needs (the module is made unimportable here)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    def run(*args: str) -> subprocess.CompletedProcess:
        code = ("import sys; sys.modules['llama_cpp'] = None; from modelsel.cli import main; "
                f"sys.argv = ['modelsel', *{list(args)!r}]; main()")
        return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})

    assert run("init", "triage").returncode == 0
    check = run("check", "requirements/triage.yaml")
    assert check.returncode == 0, check.stderr
    out = " ".join(check.stdout.split())
    assert "local-gemma: llama-cpp-python is not installed (pip install 'modelsel[local]')" in out
    dry = run("eval", "requirements/triage.yaml", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "no API key (set OPENAI_API_KEY)" in " ".join(dry.stdout.split())
    assert "Traceback" not in check.stderr + dry.stderr
    assert "local" in run("--help").stdout and "similarity" in run("--help").stdout
