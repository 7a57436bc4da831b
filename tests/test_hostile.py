"""Hostile and careless files: each gets exit 2 with the file, line and field, fast, and nothing is
written (no run folder, no reports/, nothing copied)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import cli, write_req

KW = [{"id": "kw", "provider": "python", "model": "rules:classify"}]


@pytest.fixture(autouse=True)
def _rules(tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("def classify(text):\n    return 'other'\n")


def bad(res, tmp_path: Path, *words: str) -> str:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    for w in words:
        assert w in out, (w, out)
    assert "Traceback" not in res.output
    assert not (tmp_path / "reports").exists() and not (tmp_path / "run").exists(), "nothing may be written"
    return out


def _req_text(tmp_path: Path, **over: object) -> str:
    return write_req(tmp_path, KW, **over).read_text()


# --- files that eat the machine ------------------------------------------------------------------

LAUGHS = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                   + [f"{c}: &{c} [{', '.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)])


@pytest.mark.parametrize("cmd", ["check", "eval"])
def test_a_billion_laughs_requirements_file_is_refused_at_once(tmp_path: Path, cmd: str) -> None:
    p = tmp_path / "req.yaml"
    p.write_text(_req_text(tmp_path) + "\nx_laughs:\n" + "\n".join("  " + line for line in LAUGHS.splitlines()) + "\n")
    t0 = time.perf_counter()
    res = cli(cmd, p, "--out", tmp_path / "run") if cmd == "eval" else cli(cmd, p)
    assert time.perf_counter() - t0 < 5
    bad(res, tmp_path, "req.yaml:", "expands to more than 100,000 values")


def test_a_billion_laughs_in_an_eval_sets_meta_is_refused(tmp_path: Path) -> None:
    es = tmp_path / "set.yaml"
    rows = [{"id": f"e{i}", "input": "x", "expected": "other", "tags": ["t"]} for i in range(3)]
    es.write_text(LAUGHS + "\nexamples:\n" + yaml.safe_dump(rows).replace("- ", "  - ").replace("\n  ", "\n    ")
                  .replace("    - ", "  - ") + "  - {id: e9, input: y, expected: other, meta: {boom: *i}}\n")
    p = write_req(tmp_path, KW, evalset="set.yaml")
    bad(cli("eval", p), tmp_path, "set.yaml:", "expands to more than")


def test_files_beyond_the_stated_size_are_refused(tmp_path: Path) -> None:
    p = write_req(tmp_path, KW)
    p.write_text(p.read_text() + "#" + "x" * (1024 * 1024) + "\n")
    bad(cli("check", p), tmp_path, "req.yaml", "the limit is 1 MB")


# --- values that are not what they look like ---------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ("name: a\x00b\n", ["NUL byte"]),
    ("name: x\nname: y\n", ["req.yaml:2", "'name' appears twice"]),
    ("nested: " + "[" * 5000 + "]" * 5000 + "\n", ["nested more than"]),
    ("big: " + "9" * 5000 + "\n", ["5,000 digits"]),
])
def test_yaml_values_that_cannot_be_held(tmp_path: Path, text: str, words: list[str]) -> None:
    p = tmp_path / "req.yaml"
    p.write_text(text + _req_text(tmp_path).replace("name: Ticket triage test\n", ""))
    bad(cli("check", p), tmp_path, "req.yaml", *words)


@pytest.mark.parametrize("over, words", [
    ({"cost": {"monthly_budget_usd": True, "monthly_requests": 100}}, ["cost.monthly_budget_usd", "yes/no"]),
    ({"cost": {"max_per_request_usd": float("inf")}}, ["cost.max_per_request_usd", "finite"]),
    ({"latency": {"p50_ms": 900, "p95_ms": 300}}, ["latency", "p95_ms (300) is below p50_ms (900)"]),
    ({"cost": {"monthly_requests": 0}}, ["cost.monthly_requests", "greater than 0"]),
    ({"quality": {"min_by_tag": {"simpel": 0.5}}}, ["quality.min_by_tag.simpel", "no example", "Did you mean 'simple'"]),
    ({"scoring": []}, ["field 'scoring'", "'scoring' is empty"]),
    ({"scoring": [{"type": "regex", "pattern": "(unclosed"}]}, ["scoring", "does not compile"]),
])
def test_mistakes_found_before_the_first_call(tmp_path: Path, over: dict, words: list[str]) -> None:
    p = write_req(tmp_path, KW, **over)
    for cmd in ("check", "eval"):
        bad(cli(cmd, p, *(["--out", str(tmp_path / "run")] if cmd == "eval" else [])), tmp_path, "req.yaml", *words)


def test_candidate_mistakes_found_before_the_first_call(tmp_path: Path) -> None:
    p = write_req(tmp_path, [{"id": "v", "provider": "openai-compatible", "model": "m", "base_url": "ftp://host/v1"}])
    bad(cli("check", p), tmp_path, "candidates.0.base_url", "http:// or https://")
    p = write_req(tmp_path, [{"id": "v", "provider": "openai-compatible", "model": "m", "base_url": "http://h/v1",
                              "params": {"max_tokens": "lots"}}])
    bad(cli("eval", p), tmp_path, "candidates.0.params", "max_tokens", "'lots'")
    p = write_req(tmp_path, [{"id": "bad\x1b[31mred", "provider": "python", "model": "rules:classify"}])
    out = bad(cli("check", p), tmp_path, "candidates.0.id", "U+001B")
    assert "\x1b[31m" not in out


def test_an_example_without_what_its_scorer_needs(tmp_path: Path) -> None:
    es = tmp_path / "tickets.jsonl"
    write_req(tmp_path, KW)
    lines = es.read_text().splitlines()
    row = json.loads(lines[3])
    del row["expected"]
    lines[3] = json.dumps(row)
    es.write_text("\n".join(lines) + "\n")
    bad(cli("check", tmp_path / "req.yaml"), tmp_path, "tickets.jsonl:4", "field 'expected'", "has none")
    row["expected"] = "other"
    row["scorer"] = {"type": "regex", "pattern": "[unclosed"}
    lines[3] = json.dumps(row)
    es.write_text("\n".join(lines) + "\n")
    bad(cli("eval", tmp_path / "req.yaml"), tmp_path, "tickets.jsonl:4", "does not compile")


@pytest.mark.parametrize("raw, words", [
    (b"\xef\xbb\xbf" + b'{"id": "e1", "input": "x", "expected": "other"}\n', ["byte-order mark"]),
    ('{"id": "e1", "input": "caf\u00e9", "expected": "other"}\n'.encode("latin-1"), ["not UTF-8", "Latin-1"]),
    (b'{"id": "e1", "input": "\\ud800", "expected": "other"}\n', ["tickets.jsonl:1", "lone surrogate"]),
    (b'{"id": "e1", "input": "x", "expected": ' + b"9" * 5000 + b"}\n", ["tickets.jsonl:1", "cannot be read"]),
    (b'{"id": "e1", "input": ' + b"[" * 5000 + b"]" * 5000 + b"}\n", ["tickets.jsonl:1", "nested too deeply"]),
])
def test_eval_sets_that_are_not_clean_text(tmp_path: Path, raw: bytes, words: list[str]) -> None:
    p = write_req(tmp_path, KW)
    (tmp_path / "tickets.jsonl").write_bytes(raw)
    bad(cli("check", p), tmp_path, "tickets.jsonl", *words)


def test_a_csv_without_a_header(tmp_path: Path) -> None:
    (tmp_path / "set.csv").write_text("e1,my card was charged twice,billing,simple\ne2,app crashes,technical,simple\n")
    p = write_req(tmp_path, KW, evalset="set.csv")
    bad(cli("check", p), tmp_path, "set.csv:1", "header row")


# --- paths and keys ------------------------------------------------------------------------------------

def test_a_prompt_outside_the_folder_tree_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    secret.write_text("root:SECRET-HASH\n")
    proj = tmp_path / "proj"
    rel = "../../" + secret.name
    p = write_req(proj, [{"id": "kw", "provider": "python", "model": "rules:classify", "prompt": rel}])
    (proj / "rules.py").write_text("def classify(text):\n    return 'other'\n")
    out = bad(cli("eval", p, "--out", proj / "run"), tmp_path, "req.yaml:", "candidates.0.prompt", "outside",
              "--allow-path")
    assert "SECRET-HASH" not in out and not (proj / "run").exists()
    res = cli("check", p, "--allow-path", secret.parent)
    assert res.exit_code == 0, res.output


def test_python_code_comes_from_the_folder_tree_only(tmp_path: Path) -> None:
    p = write_req(tmp_path, [{"id": "sh", "provider": "python", "model": "os:system"}])
    bad(cli("eval", p), tmp_path, "candidates[0].model", "no file os.py", "never from installed modules")
    p = write_req(tmp_path, KW, scoring=[{"type": "python", "function": "subprocess:getoutput"}])
    bad(cli("check", p), tmp_path, "field 'scoring'", "no file subprocess.py")


def test_a_key_pasted_as_api_key_env_is_refused_and_never_echoed(tmp_path: Path) -> None:
    key = "sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    p = write_req(tmp_path, [{"id": "v", "provider": "openai-compatible", "model": "m", "base_url": "http://h/v1",
                              "api_key_env": key}])
    for cmd in ("check", "eval"):
        out = bad(cli(cmd, p), tmp_path, "candidates[0].api_key_env", "looks like an API key")
        assert key not in out and key[:12] not in out


def test_templates_render_in_a_sandbox(tmp_path: Path) -> None:
    tpl = "{{ ''.__class__.__mro__[1].__subclasses__() }} {{ input }}"
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "rules:classify", "prompt": tpl}])
    bad(cli("eval", p), tmp_path, "prompt template", "kw")


# --- small leaks ---------------------------------------------------------------------------------------

def test_csv_quotes_formulas_in_every_column() -> None:
    from modelsel.report.exports import row

    r = row({"candidate": "=HYPERLINK(1)", "example_id": "+1", "tags": ["@x"], "input": "\t=cmd", "output": "\r-2",
             "label": "ok"})
    assert r[0] == "'=HYPERLINK(1)" and r[1] == "'+1" and r[3] == "'@x"
    assert r[4] == "'\t=cmd" and r[6] == "'\r-2"


def test_a_servers_error_message_reaches_the_terminal(fake, keys, tmp_path: Path) -> None:
    from tests.conftest import openai_cand

    fake.script("m", always="400")
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "run")
    out = " ".join(res.output.split())
    assert "bad_request 12: HTTP 400: Unsupported parameter: 'temperature'" in out


def test_history_mlflow_without_the_extra_says_so_before_printing(tmp_path: Path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "mlflow" else real(n, *a))
    p = write_req(tmp_path, KW)
    res = cli("history", p, "--mlflow", "sqlite:///x.db")
    assert res.exit_code == 2 and "pip install 'modelsel[mlflow]'" in res.output
    assert "History" not in res.output and "runs" not in res.output.split("error")[0]


def test_decision_folders_can_be_committed() -> None:
    from tests.conftest import ROOT

    ignore = (ROOT / ".gitignore").read_text().splitlines()
    assert "!reports/decisions/" in ignore


def test_the_init_template_agrees_with_itself(tmp_path: Path) -> None:
    res = cli("init", "Ticket Triage")
    assert res.exit_code == 0
    chk = cli("check", tmp_path / "requirements" / "ticket-triage.yaml")
    out = " ".join(chk.output.split())
    assert chk.exit_code == 0, chk.output
    assert "eliminated before any call" not in out  # no candidate breaks the template's own limits
    assert "✗ Requirements written: still the template's placeholder: task, owner" in out
    assert "✗ Eval set is the task's own: 6 example(s) still hold the template's placeholder text" in out
    ids = [json.loads(x)["id"] for x in (tmp_path / "evalsets" / "ticket-triage.jsonl").read_text().splitlines()]
    assert ids == [f"ex0{i}" for i in range(1, 7)]


def test_the_shortlist_says_what_the_local_model_needs_and_runs_at(tmp_path: Path) -> None:
    from modelsel.catalog.models import load_catalog

    m = load_catalog()["local/gemma-3-270m"]
    assert m.fact("context_window") == 2048 and "modelsel[local]" in (m.needs or "")
    p = write_req(tmp_path, KW, strategy={"min_context_tokens": 4000}, compliance={"self_hosted_only": True})
    res = cli("shortlist", p, "--json")
    props = {x["id"]: x for x in json.loads(res.output)}
    assert any("context" in r for r in props["local/gemma-3-270m"]["out"])


def test_catalog_providers_and_requirements_import_no_circle() -> None:
    import ast

    from tests.conftest import ROOT

    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (ROOT / "modelsel").rglob("*.py")}
    deps: dict[str, set[str]] = {}
    for name, p in files.items():
        found = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("modelsel"):
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in files}
        deps[name] = {d for d in found if d in files and d != name}

    def reaches(a: str, b: str, seen: set[str]) -> bool:
        if a == b:
            return True
        seen.add(a)
        return any(reaches(d, b, seen) for d in deps.get(a, ()) if d not in seen)

    core = ["modelsel.catalog.models", "modelsel.inputs.requirements", "modelsel.providers", "modelsel.providers.base",
            "modelsel.inputs.candidate"]
    for a in core:
        for b in core:
            if a != b:
                assert not (reaches(a, b, set()) and reaches(b, a, set())), (a, b)
    assert "modelsel.catalog.models" not in deps["modelsel.inputs.candidate"] and "modelsel.inputs.requirements" not in deps["modelsel.inputs.candidate"]
