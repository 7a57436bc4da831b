"""What comes back is input too: a server that echoes keys, sends control characters or impossible
usage, a batch results file with bad lines, a cache or history that was edited or broken, a signal,
an imported config that points outside its folder. Each is handled and said, never trusted."""

from __future__ import annotations

import base64
import json
import re
import signal
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import (
    KEYS,
    anthropic_cand,
    cli,
    cli_subprocess,
    compat_cand,
    flat,
    openai_cand,
    oracle,
    run_dir,
    write_evalset,
    write_req,
)
from tests.fakes.batches import mangle_results

SECRET = "vllm-Auth-Zq81-0123456789abcdefXYZ"
ROWS = [(f"b{i}{t[0]}", t[1], t[2], t[3]) for i in range(2) for t in __import__("tests.conftest").conftest.TICKETS]


def _all_written(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


# --- 1. keys redacted by value, whatever their variable is called -------------------------------------

def test_a_key_under_any_variable_name_is_redacted_in_every_form_a_server_echoes(fake, keys, tmp_path: Path,
                                                                                  monkeypatch) -> None:
    monkeypatch.setenv("VLLM_AUTH", SECRET)
    fake.script("m", always="401", echo_key_forms=True)
    res = cli("eval", write_req(tmp_path, [compat_cand(fake, "m", api_key_env="VLLM_AUTH")]), "--out", tmp_path / "run")
    forms = [SECRET, SECRET.upper(), quote(SECRET, safe=""), base64.b64encode(("user:" + SECRET).encode()).decode(),
             " ".join(SECRET)]
    written = _all_written(tmp_path / "run") + _all_written(tmp_path / "reports")
    assert "[REDACTED]" in flat(res.output)  # the echo reached the terminal, redacted
    for form in forms:
        assert form not in res.output and form not in flat(res.output), form
        assert form not in written, form
    assert fake.requests_for("m")[0].auth == f"Bearer {SECRET}"  # the key itself was sent


# --- 2. no control characters from outside -------------------------------------------------------------

HOSTILE = ("denied \x1b]52;c;ZXZpbA==\x07 \x1b[2J\x1b[1A\x1b[2K \x1b]8;;http://evil.example\x07click\x1b]8;;\x07 "
           "\x1b]0;pwned\x07 \x9b31m bell\x07")


def test_control_characters_from_a_server_reach_neither_terminal_nor_files(fake, keys, tmp_path: Path) -> None:
    fake.script("bad", always="400", error_message=HOSTILE)
    fake.script("good", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "bad"), openai_cand(fake, "good")])
    res = cli("eval", req, "--out", tmp_path / "run", "--junit", tmp_path / "j.xml", "--summary-md", tmp_path / "s.md")
    assert "denied" in res.output  # the message is shown ...
    for ch in ("\x1b", "\x07", "\x9b"):  # ... without a control character
        assert ch not in res.output
        assert ch not in (tmp_path / "run" / "decision.md").read_text()
        assert ch not in (tmp_path / "s.md").read_text()
    assert "\\x1b]52" in res.output  # spelled out, so the reader sees what the server sent


def test_junit_stays_well_formed_with_a_control_character_in_a_fact(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    odd = openai_cand(fake, "m", id="odd")
    odd["facts"] = {"trains_on_data": False, "regions": ["us\x01\x1b[31m"], "retention_days": 0}
    req = write_req(tmp_path, [odd, openai_cand(fake, "m", id="ok")],
                    compliance={"data_sensitivity": "internal", "allowed_regions": ["eu", "us"]})
    cli("eval", req, "--out", tmp_path / "run", "--junit", tmp_path / "j.xml")
    root = ET.parse(tmp_path / "j.xml").getroot()  # well-formed XML
    assert root.tag == "testsuites"


def test_the_job_summary_escapes_what_markdown_would_render(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    nasty = "a`![b](http://beacon.example/x.png)`@team*em*"  # a candidate id cannot hold it (issue 48, 15): a name
    req = write_req(tmp_path, [openai_cand(fake, "m")], name=nasty)
    cli("eval", req, "--out", tmp_path / "run", "--summary-md", tmp_path / "s.md")
    md = (tmp_path / "s.md").read_text()
    unescaped = re.sub(r"\\.", "", md.split("Full record")[0])  # what is left once every \x escape is taken out
    assert "`" not in unescaped and "![" not in unescaped and "@team" not in md and "*em*" not in unescaped
    assert "\\!\\[b\\]\\(http://beacon.example/x.png\\)" in md and "&#64;team" in md and "\\*em\\*" in md


# --- 3. usage is checked before it is money -------------------------------------------------------------

@pytest.mark.parametrize("usage", [{"input_tokens": -50_000}, {"output_tokens": -3},
                                   {"output_tokens": 90_000, "params": {"max_tokens": 50}}])
def test_impossible_usage_is_a_fault_never_money(fake, keys, tmp_path: Path, usage: dict) -> None:
    params = usage.pop("params", {})
    fake.script("liar", answer=oracle, **usage)
    fake.script("honest", answer=oracle, input_tokens=100, output_tokens=5)
    req = write_req(tmp_path, [openai_cand(fake, "liar", pin=5.0, pout=5.0, params=params),
                               openai_cand(fake, "honest", pin=50.0, pout=50.0)])
    res = cli("eval", req, "--out", tmp_path / "run", "--max-cost", "1")
    s, recs = run_dir(tmp_path / "run")
    liar = [r for r in recs if r["candidate"] == "oa-liar"]
    assert all(r["error_kind"] == "bad_usage" for r in liar)
    assert all((r.get("cost_usd") or 0) >= 0 for r in recs)
    assert s["run"]["spent_usd"] >= 0
    assert "impossible token usage" in flat(res.output) or "impossible token usage" in (tmp_path / "run" / "decision.md").read_text()
    assert s["decision"]["chosen"] == "oa-honest"  # the failed answers count as failures, not as a bargain


# --- 4. batch results read line by line ------------------------------------------------------------------

@pytest.mark.parametrize("maker", [openai_cand, anthropic_cand])
def test_a_bad_batch_line_costs_that_line_alone(fake, keys, tmp_path: Path, maker) -> None:
    fake.script("m", answer=oracle, batch_lines=mangle_results, batch_polls=1)
    write_evalset(tmp_path, ROWS)
    req = write_req(tmp_path, [maker(fake, "m")], evalset="tickets.jsonl", run={"latency_sample": 6})
    res = cli("eval", req, "--out", tmp_path / "run", "--batch")
    assert res.exit_code in (0, 1), res.output
    s, recs = run_dir(tmp_path / "run")
    b = next(iter(s["run"]["batch"]["candidates"].values()))
    assert b["from_batch"] == 24 - 4  # every good line kept: the file was not thrown away
    assert b["retried_live"] == 2  # the unreadable line and the line without custom_id, made live alone
    errors = [r for r in recs if r.get("error") and r.get("batch")]
    assert len(errors) == 1 and "some-other-model" in errors[0]["error"]  # the other model's answer: an error, said
    assert b["left_out"] == 1  # answered twice differently: the file's fault, no figure and no error of the model's
    md = flat((tmp_path / "run" / "decision.md").read_text())
    assert "answered twice" in md and "not JSON" in md
    assert b["billed_usd"] > 0 and res.exit_code in (0, 1)


def test_anthropic_results_are_fetched_only_from_the_api_host(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, batch_polls=1, results_url_base="http://169.254.169.254")
    write_evalset(tmp_path, ROWS)
    req = write_req(tmp_path, [anthropic_cand(fake, "m")], evalset="tickets.jsonl", run={"latency_sample": 6})
    cli("eval", req, "--out", tmp_path / "run", "--batch")
    s, _ = run_dir(tmp_path / "run")
    assert "not on the API's own host" in json.dumps(s["run"]["batch"])


# --- 5. a signal is not a loss ----------------------------------------------------------------------------

def test_sigterm_is_handled_as_ctrl_c(fake, keys, tmp_path: Path) -> None:
    from tests.test_resume_budget import _wait_for_trace

    fake.script("slow", answer=oracle, latency_ms=150)
    req = write_req(tmp_path, [openai_cand(fake, "slow", concurrency=1)])
    proc = cli_subprocess("eval", req, cwd=tmp_path, env=dict(KEYS, MODELSEL_RETRY_SCALE="0"))
    _wait_for_trace(tmp_path / "reports", 4)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert "Stopped by SIGTERM" in err and "run the same command again to resume" in flat(err)
    marker = json.loads(next((tmp_path / "reports").glob("*/.modelsel-run.json")).read_text())
    assert marker["state"] == "interrupted"
    db = sqlite3.connect(tmp_path / "reports" / ".cache" / "responses.sqlite")
    assert db.execute("SELECT count(*) FROM leases").fetchone()[0] == 0  # no lease left behind
    assert db.execute("SELECT count(*) FROM responses").fetchone()[0] >= 4  # finished answers kept
    md = flat(next((tmp_path / "reports").glob("*/decision.md")).read_text())  # what was measured, said partial
    assert "The run was stopped (Stopped by SIGTERM) before every call was made" in md and "oa-slow: n=" in md


@pytest.mark.parametrize("maker", ["openai", "gemini"])
def test_a_batch_created_but_never_saved_is_found_not_submitted_again(fake, keys, tmp_path: Path, maker: str) -> None:
    """A run stopped between the provider creating the batch and saving its id: the re-run finds it by the
    key the batch was tagged with (OpenAI's metadata, Gemini's display name), and collects it. Anthropic's
    message batches keep no metadata to find one by."""
    from tests.conftest import gemini_cand

    fake.script("m", answer=oracle, batch_polls=1)
    write_evalset(tmp_path, ROWS)
    cand = openai_cand(fake, "m") if maker == "openai" else gemini_cand(fake, "m")
    req = write_req(tmp_path, [cand], evalset="tickets.jsonl", run={"latency_sample": 6})
    cli("eval", req, "--out", tmp_path / "a", "--batch")
    assert len(fake.batch_created) == 1
    db = sqlite3.connect(tmp_path / "reports" / ".cache" / "responses.sqlite")
    db.execute("DELETE FROM batches")  # as if the id had never been saved ...
    db.execute("DELETE FROM responses")  # ... nor any answer collected
    db.commit()
    cli("eval", req, "--out", tmp_path / "b", "--batch")
    assert len(fake.batch_created) == 1  # found by its tag, not submitted twice
    s, _ = run_dir(tmp_path / "b")
    assert next(iter(s["run"]["batch"]["candidates"].values()))["resumed"] is True


# --- 8. --out checks the folder it was given ---------------------------------------------------------------

def test_out_never_writes_into_a_folder_holding_only_a_users_decision_md(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "decision.md").write_text("my own notes\n")
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "m")]), "--out", mine)
    assert res.exit_code == 2 and "not a modelsel run" in flat(res.output)
    assert (mine / "decision.md").read_text() == "my own notes\n"


def test_a_batch_past_its_completion_window_is_partial_data_even_without_a_deadline(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, batch_polls=10_000)  # a batch that never finishes
    write_evalset(tmp_path, ROWS)
    req = write_req(tmp_path, [openai_cand(fake, "m")], evalset="tickets.jsonl", run={"latency_sample": 6},
                    decision={"max_error_rate": 1.0})
    proc = cli_subprocess("eval", req, "--out", tmp_path / "a", "--batch", cwd=tmp_path,
                          env=dict(KEYS, MODELSEL_RETRY_SCALE="0"))
    db_path = tmp_path / "reports" / ".cache" / "responses.sqlite"
    import time

    def saved() -> bool:
        try:
            return bool(sqlite3.connect(db_path).execute("SELECT count(*) FROM batches WHERE batch_id IS NOT NULL")
                        .fetchone()[0])  # the id, not the intent saved before the request
        except sqlite3.OperationalError:  # the run has made the file but not yet its tables
            return False

    for _ in range(400):  # wait until the batch id is saved, then stop the run
        if db_path.exists() and saved():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    db = sqlite3.connect(db_path)
    db.execute("UPDATE batches SET created = created - 25 * 3600")  # submitted 25 hours ago
    db.commit()
    res = cli("eval", req, "--out", tmp_path / "b", "--batch")
    s, _ = run_dir(tmp_path / "b")
    b = next(iter(s["run"]["batch"]["candidates"].values()))
    assert b["state"] == "still running past the provider's 24 h completion window"
    assert res.exit_code == 1 and "completion window" in flat(res.output)
    assert len(fake.batch_created) == 1


# --- 6. the cache and the history are input -------------------------------------------------------------

def test_a_cache_row_that_is_not_json_or_was_edited_is_a_miss_said(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "m")])
    cli("eval", req, "--out", tmp_path / "a")
    db = sqlite3.connect(tmp_path / "reports" / ".cache" / "responses.sqlite")
    keys_ = [k for (k,) in db.execute("SELECT key FROM responses ORDER BY key")]
    db.execute("UPDATE responses SET value = '{not json' WHERE key = ?", (keys_[0],))
    row = json.loads(db.execute("SELECT value FROM responses WHERE key = ?", (keys_[1],)).fetchone()[0])
    row.update(output="billing", latency_ms=1, input_tokens=-1_000_000)  # an edited answer
    db.execute("UPDATE responses SET value = ? WHERE key = ?", (json.dumps(row), keys_[1]))
    db.commit()
    res = cli("eval", req, "--out", tmp_path / "b")
    assert res.exit_code == 0, res.output
    _, recs = run_dir(tmp_path / "b")
    assert sum(not r["cached"] for r in recs) == 2 and len(fake.requests_for("m")) == 14  # both made again
    out = flat(res.output)
    assert "2 cached answer(s) in" in out and "does not match its checksum (edited, damaged, or written with another cache key): not used" in out


def test_a_damaged_cache_file_is_named_with_what_to_do(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "m")])
    cache = tmp_path / "reports" / ".cache" / "responses.sqlite"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"SQLite format 3\x00" + b"\x07" * 100)  # truncated
    res = cli("eval", req, "--out", tmp_path / "run")
    out = flat(res.output)
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "the response cache reports/.cache/responses.sqlite cannot be read" in out
    assert "move it aside" in out and "free space" not in out


def test_a_damaged_history_is_named_not_a_traceback(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "m")])
    cli("eval", req, "--out", tmp_path / "reports" / "run")
    store = next((tmp_path / "reports").rglob("history.sqlite"))
    store.write_bytes(b"garbage" * 50)
    res = cli("history", req)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "the history store cannot be read" in flat(res.output) and "move this file aside" in flat(res.output)


# --- 7. imports are confined like requirements --------------------------------------------------------------

def _pf(tmp_path: Path, body: str) -> Path:
    d = tmp_path / "pf"
    d.mkdir(exist_ok=True)
    (d / "promptfooconfig.yaml").write_text(body)
    return d / "promptfooconfig.yaml"


@pytest.mark.parametrize("ref", ["file://../secret.txt", "file:///etc/hostname"])
def test_an_import_does_not_read_a_prompt_outside_the_configs_folder(tmp_path: Path, ref: str) -> None:
    (tmp_path / "secret.txt").write_text("the secret {{q}}")
    cfg = _pf(tmp_path, f"prompts: ['{ref}']\nproviders: [openai:gpt-6.1-terra]\ntests:\n  - vars: {{q: x}}\n")
    res = cli("import", "promptfoo", cfg, "--out", tmp_path / "proj")
    assert res.exit_code == 2 and "outside the config's folder tree" in flat(res.output)
    assert not (tmp_path / "proj").exists()
    if ref.startswith("file://.."):  # --allow-path widens the tree, as for requirements
        ok = cli("import", "promptfoo", cfg, "--out", tmp_path / "proj", "--allow-path", tmp_path)
        assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize("ref", ["file:///etc/*", "file://../*.csv"])
def test_an_import_does_not_glob_outside_the_configs_folder(tmp_path: Path, ref: str) -> None:
    (tmp_path / "other.csv").write_text("q,__expected\nx,equals:y\n")
    cfg = _pf(tmp_path, f"prompts: ['{{{{q}}}}']\nproviders: [openai:gpt-6.1-terra]\ntests: '{ref}'\n")
    res = cli("import", "promptfoo", cfg, "--out", tmp_path / "proj")
    assert res.exit_code == 2 and "outside the config's folder tree" in flat(res.output)
    assert "Traceback" not in res.output and "NotImplementedError" not in res.output


def test_a_metadata_endpoint_is_flagged_on_import_and_check_and_eval_sends_no_key(fake, tmp_path: Path,
                                                                                   monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-value-0123456789")
    cfg = _pf(tmp_path, "prompts: ['{{q}}']\nproviders:\n  - id: openai:chat:mymodel\n    config:\n"
                        "      apiBaseUrl: http://169.254.169.254/latest\n      apiKeyEnvar: AWS_SECRET_ACCESS_KEY\n"
                        "tests:\n  - vars: {q: x}\n    assert: [{type: equals, value: y}]\n")
    res = cli("import", "promptfoo", cfg, "--out", tmp_path / "proj", "--name", "x")
    assert res.exit_code == 0 and "link-local or cloud metadata address" in flat(res.output)
    req = tmp_path / "proj" / "requirements" / "x.yaml"
    check = cli("check", req)
    assert "key at risk" in flat(check.output) and "Keys travel protected" in flat(check.output)
    ev = cli("eval", req, "--out", tmp_path / "run")
    assert ev.exit_code == 2 and "no key is sent there" in flat(ev.output)


def test_a_key_is_not_sent_over_plain_http_to_another_host_unless_the_file_says_so(fake, keys, tmp_path: Path) -> None:
    cand = compat_cand(fake, "m", base_url="http://models.example.internal:8000/v1")
    res = cli("eval", write_req(tmp_path, [cand]), "--out", tmp_path / "run")
    assert res.exit_code == 2 and "plain http on another host" in flat(res.output) and "req.yaml:" in res.output
    ok = cli("check", write_req(tmp_path, [dict(cand, allow_plain_http=True)]))
    assert "Keys travel protected: https or this machine only" in flat(ok.output)


def test_a_cache_from_before_checksums_is_opened_and_its_rows_are_misses(tmp_path: Path) -> None:
    """Rows without a checksum cannot be told from rows edited by hand: none is used (issue 48, 11)."""
    from modelsel.run.store import Cache

    path = tmp_path / "responses.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")
    db.execute("INSERT INTO responses VALUES ('old', ?, 0)", (json.dumps({"output": "billing", "latency_ms": 5.0}),))
    db.commit()
    cache = Cache(path)
    assert cache.get("old") is None
    cache.put("good", {"output": "billing", "latency_ms": 5.0})
    cache.put("bad", {"output": "x"})
    cache.put("neg", {"output": "x", "output_tokens": -4})
    cache.db.execute("UPDATE responses SET value = '{oops' WHERE key = 'bad'")
    assert cache.get("good") == {"output": "billing", "latency_ms": 5.0}
    assert cache.get("bad") is None and cache.get("neg") is None
    assert cache.unusable == {"has no checksum (edited, or written before checksums)": {"old"},
                              "does not match its checksum (edited, damaged, or written with another cache key)":
                                  {"bad"},
                              "holds an impossible output_tokens": {"neg"}}
    cache.close()


def test_a_python_candidates_exception_reaches_the_terminal_without_its_escapes(tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("def classify(text):\n    raise ValueError('boom \\x1b]52;c;ZXZpbA==\\x07 \\x1b]0;title\\x07')\n")
    req = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "rules:classify"}])
    res = cli("eval", req, "--out", tmp_path / "run")
    assert "boom" in res.output and "\x1b]" not in res.output and "\x07" not in res.output
    assert "\x1b" not in (tmp_path / "run" / "decision.md").read_text()


def test_a_results_file_past_the_cap_is_read_no_further_and_not_paid_again(fake, keys, tmp_path: Path,
                                                                           monkeypatch) -> None:
    """The cap (1 GB in production) made small: what was read is kept, the rest are errors said in the
    record, not made again live (the provider billed them)."""
    import modelsel.batch as batch

    monkeypatch.setattr(batch, "MAX_RESULT_BYTES", 3000)
    fake.script("m", answer=oracle, batch_polls=1)
    write_evalset(tmp_path, ROWS)
    req = write_req(tmp_path, [openai_cand(fake, "m")], evalset="tickets.jsonl", run={"latency_sample": 6},
                    decision={"max_error_rate": 1.0})
    cli("eval", req, "--out", tmp_path / "run", "--batch")
    s, recs = run_dir(tmp_path / "run")
    b = next(iter(s["run"]["batch"]["candidates"].values()))
    assert 0 < b["from_batch"] < 24 and b["retried_live"] == 0
    assert any("read no further" in p for p in b["problems"])
    cut = [r for r in recs if r.get("batch") and r.get("error")]
    assert len(cut) == 24 - b["from_batch"] and all("no result was read" in r["error"] for r in cut)
