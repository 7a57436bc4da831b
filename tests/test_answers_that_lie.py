"""What comes back, round three: answers too big for memory, usage nobody could have used, batch
results files that repeat themselves or cannot be fetched, and a batch made while a stop landed.
Each attack is the fake provider's; each test says what the user sees instead."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import (
    TICKETS,
    anthropic_cand,
    cli,
    cli_subprocess,
    flat,
    openai_cand,
    oracle,
    run_dir,
    write_evalset,
    write_req,
)

ROWS = [(f"b{i}{t[0]}", t[1], t[2], t[3]) for i in range(5) for t in TICKETS]  # 60 examples


def _req(tmp_path: Path, cands: list, **over) -> Path:  # type: ignore[no-untyped-def]
    write_evalset(tmp_path, ROWS)
    over.setdefault("run", {"latency_sample": 6})
    return write_req(tmp_path, cands, evalset="tickets.jsonl", **over)


# --- 9. impossible usage without a stated limit -----------------------------------------------------------

@pytest.mark.parametrize("batch", [False, True], ids=["live", "batch"])
def test_a_trillion_tokens_is_a_fault_even_without_a_stated_window(fake, keys, tmp_path: Path, batch: bool) -> None:
    """A custom candidate with no context window and no max_tokens: 10^12 tokens was spent as
    $33,000,000 (a month: $240 billion). The absolute bound makes it a fault of the call."""
    fake.script("m", answer=oracle, input_tokens=10**12, output_tokens=5)
    req = _req(tmp_path, [openai_cand(fake, "m", pin=33.0, pout=33.0)])
    res = cli("eval", req, "--out", tmp_path / "run", *(["--batch"] if batch else []))
    s, recs = run_dir(tmp_path / "run")
    assert all(r["error_kind"] == "bad_usage" for r in recs), {r["error_kind"] for r in recs}
    assert all(r["cost_usd"] == 0 for r in recs)
    assert "impossible token usage" in json.dumps(recs)
    assert s["run"]["spent_usd"] < 1 if "spent_usd" in s["run"] else True
    if batch:
        assert s["run"]["batch"]["billed_usd"] == 0 and s["run"]["batch"]["candidates"]["oa-m"]["bad_usage"] == 60
    assert s["decision"]["chosen"] is None and res.exit_code == 1


# --- 10. answers too big for memory -------------------------------------------------------------------------

@pytest.mark.parametrize("flood,params", [("body", {"stream": False}), ("gzip", {"stream": False}), ("sseline", {})],
                         ids=["unstreamed body", "gzip bomb", "event line without newline"])
def test_an_answer_too_big_for_memory_is_read_no_further_than_its_cap(fake, keys, tmp_path: Path, flood: str,
                                                                        params: dict) -> None:
    """A 24 MB answer, however it comes, is read to run.max_answer_chars x 100 bytes + 8 MB (8.1 MB here) and
    no further: the call fails, saying so, instead of holding the whole body (2.7 GB, then MemoryError)."""
    fake.script("big", flood=flood, flood_mb=24)
    fake.script("ok", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "big", params=params), openai_cand(fake, "ok", params=params)],
                    run={"max_answer_chars": 1000})
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    s, recs = run_dir(tmp_path / "run")
    big = [r for r in recs if r["candidate"] == "oa-big"]
    assert big and all(r["error_kind"] == "malformed" for r in big), {r["error"] for r in big}
    assert all("the response passed 8 MB" in r["error"] for r in big)
    assert s["decision"]["chosen"] == "oa-ok"
    ok = [r for r in recs if r["candidate"] == "oa-ok"]
    assert ok and not any(r["error"] for r in ok)  # a normal answer under the same cap is untouched


# --- 14. batch results that lie ------------------------------------------------------------------------------

def test_a_results_file_with_every_line_twice_is_read_once(fake, keys, tmp_path: Path) -> None:
    """Every line duplicated gave billed_usd 0.0, quality 0.0 and an elimination."""
    fake.script("m", answer=oracle, input_tokens=100, output_tokens=10, batch_polls=1,
                batch_lines=lambda lines: [x for x in lines for _ in (0, 1)])
    res = cli("eval", _req(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "run", "--batch")
    assert res.exit_code == 0, res.output
    s, recs = run_dir(tmp_path / "run")
    b = s["run"]["batch"]["candidates"]["oa-m"]
    assert b["from_batch"] == 60 and b["billed_usd"] == pytest.approx(60 * (100 * 1.0 + 10 * 2.0) / 1e6)
    assert s["candidates"]["oa-m"]["quality"]["mean"] == 1.0 and s["decision"]["chosen"] == "oa-m"
    assert any("word for word; read once" in p for p in b["problems"])


def _conflicting(lines: list[str]) -> list[str]:
    """The first 30 lines answered again, differently (another answer for the same custom_id)."""
    out = list(lines)
    for x in lines[:30]:
        row = json.loads(x)
        row["response"]["body"]["choices"][0]["message"]["content"] = "something else"
        out.append(json.dumps(row))
    return out


def test_a_request_answered_twice_differently_is_the_files_fault_not_the_models(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, input_tokens=100, output_tokens=10, batch_polls=1, batch_lines=_conflicting)
    res = cli("eval", _req(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "run", "--batch")
    assert res.exit_code in (0, 1), res.output
    s, recs = run_dir(tmp_path / "run")
    b = s["run"]["batch"]["candidates"]["oa-m"]
    assert b["from_batch"] == 30 and b["left_out"] == 30 and b["retried_live"] == 0
    assert not [r for r in recs if r["batch"] and r["error"]]  # no error counted against the model
    assert s["candidates"]["oa-m"]["quality"]["mean"] == 1.0 and not s["candidates"]["oa-m"].get("eliminated")
    assert b["billed_usd"] == pytest.approx(60 * (100 * 1.0 + 10 * 2.0) / 1e6)  # the batch billed all 60
    assert "a fault of the file" in flat(s["decision"]["partial_data"])


def test_a_refused_results_url_is_not_paid_for_again_live(fake, keys, tmp_path: Path) -> None:
    """The results_url on another host is refused (the key is not sent there); its requests were made
    live again, all 60 of them, paid twice. Now they wait for the next run, said as partial data."""
    fake.script("m", answer=oracle, batch_polls=1, results_url_base="http://169.254.169.254")
    res = cli("eval", _req(tmp_path, [anthropic_cand(fake, "m")]), "--out", tmp_path / "run", "--batch")
    assert res.exit_code == 1, res.output
    s, recs = run_dir(tmp_path / "run")
    live = [x for x in fake.requests_for("m") if x.path.endswith("/v1/messages")]
    assert len(live) == 6  # the latency sample, nothing else
    b = s["run"]["batch"]["candidates"]["an-m"]
    assert b["left_out"] == 60 and b["retried_live"] == 0 and "not on the API's own host" in json.dumps(b)
    db = sqlite3.connect(tmp_path / "reports" / ".cache" / "responses.sqlite")
    assert db.execute("SELECT state FROM batches").fetchone()[0] == "submitted"  # the next run collects it


# --- 8. a stop while an Anthropic batch is being made -----------------------------------------------------------

def test_a_signal_swallowed_inside_a_call_still_stops_the_run() -> None:
    """SIGTERM raised inside library code that turns it into another error (pydantic-core building a
    validator made it a SchemaError, and the run went on to exit 0): the call's guard raises the stop."""
    import asyncio

    from modelsel import errors
    from modelsel.run.runner import _guarded

    async def swallowing() -> None:
        try:
            raise errors.Stopped(signal.SIGTERM)
        except KeyboardInterrupt:
            errors._PENDING.append(errors.Stopped(signal.SIGTERM))
            raise ValueError("SchemaError: Error building validator") from None

    try:
        with pytest.raises(errors.Stopped) as got:
            asyncio.run(_guarded(swallowing()))
        assert got.value.exit_code == 143
    finally:
        errors._PENDING.clear()


def test_sigterm_while_an_anthropic_batch_is_made_does_not_submit_it_twice(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, batch_polls=1, batch_create_delay_s=5)
    req = _req(tmp_path, [anthropic_cand(fake, "m")])
    p = cli_subprocess("eval", req, "--batch", cwd=tmp_path, env=dict(keys, MODELSEL_RETRY_SCALE="0.02"))
    deadline = time.time() + 60
    while time.time() < deadline and not fake.batch_created:
        time.sleep(0.05)
    assert fake.batch_created, "the batch was made"
    p.send_signal(signal.SIGTERM)  # the provider made it; its id never reaches the run
    p.communicate(timeout=30)
    assert p.returncode == 143
    fake.scripts["m"].batch_create_delay_s = 0
    res = cli("eval", req, "--batch", "--out", tmp_path / "again")
    assert res.exit_code == 0, res.output
    assert len(fake.batch_created) == 1  # looked up, not submitted again
    s, _ = run_dir(tmp_path / "again")
    b = s["run"]["batch"]["candidates"]["an-m"]
    assert b["resumed"] and b["from_batch"] == 60
