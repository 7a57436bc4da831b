"""Nothing finished is lost: kill -9 and Ctrl-C keep finished calls, a re-run resumes from the
cache without paying again, and the budget guard stops spending."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests.conftest import KEYS, cli, cli_subprocess, openai_cand, oracle, run_dir, write_req

ENV = dict(KEYS, MODELSEL_RETRY_SCALE="0")


def _wait_for_trace(folder: Path, n: int, timeout: float = 30) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        traces = list(folder.glob("*/trace.jsonl"))
        if traces:
            lines = traces[0].read_text().splitlines()
            if len(lines) >= n:
                return len(lines)
        time.sleep(0.02)
    raise AssertionError("the run never got going")


def _interrupt_then_resume(fake, tmp_path: Path, sig: int) -> tuple[int, str]:
    fake.script("slow", answer=oracle, latency_ms=150)
    req = write_req(tmp_path, [openai_cand(fake, "slow", concurrency=1)])
    proc = cli_subprocess("eval", req, cwd=tmp_path, env=ENV)
    _wait_for_trace(tmp_path / "reports", 4)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    done_before = len(fake.requests_for("slow"))
    assert 4 <= done_before < 12
    # Re-run the same command: finished calls come from the cache; only the rest are made.
    res = cli("eval", req, "--out", tmp_path / "resumed")
    assert res.exit_code == 0, res.output
    summary, recs = run_dir(tmp_path / "resumed")
    assert len(recs) == 12
    cached = [r for r in recs if r["cached"]]
    made_after = len(fake.requests_for("slow")) - done_before
    assert len(cached) >= 4 and len(cached) + made_after == 12
    assert all(r["latency_ms"] >= 150 for r in cached)  # the latency measured when the call was made
    assert summary["candidates"]["oa-slow"]["cached"] == len(cached)
    return proc.returncode, err


def test_kill_9_loses_nothing_finished(fake, keys, tmp_path: Path) -> None:
    code, _ = _interrupt_then_resume(fake, tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL


def test_ctrl_c_saves_and_says_how_to_resume(fake, keys, tmp_path: Path) -> None:
    code, err = _interrupt_then_resume(fake, tmp_path, signal.SIGINT)
    assert code == 130
    assert "Interrupted" in err and "run the same command again to resume" in err


def test_no_cache_makes_fresh_calls(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "m")])
    cli("eval", req, "--out", tmp_path / "a")
    cli("eval", req, "--out", tmp_path / "b")
    assert len(fake.requests_for("m")) == 12
    _, recs = run_dir(tmp_path / "b")
    assert all(r["cached"] for r in recs)
    cli("eval", req, "--out", tmp_path / "c", "--no-cache")
    assert len(fake.requests_for("m")) == 24
    _, recs = run_dir(tmp_path / "c")
    assert not any(r["cached"] for r in recs)


def test_changed_params_are_not_served_from_cache(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    cli("eval", write_req(tmp_path, [openai_cand(fake, "m", params={"temperature": 0})]), "--out", tmp_path / "a")
    cli("eval", write_req(tmp_path, [openai_cand(fake, "m", params={"temperature": 0.7})]), "--out", tmp_path / "b")
    assert len(fake.requests_for("m")) == 24


def test_budget_guard_stops_spending_and_says_so(fake, keys, tmp_path: Path) -> None:
    # Each call: 100 input tokens at $10/Mtok = $0.001.
    fake.script("pricey", answer=oracle, input_tokens=100, output_tokens=0)
    cand = openai_cand(fake, "pricey", pin=10.0, pout=10.0, concurrency=1, params={"max_tokens": 1})
    res = cli("eval", write_req(tmp_path, [cand]), "--out", tmp_path / "run", "--max-cost", "0.0035")
    made = len(fake.requests_for("pricey"))
    assert made == 3, made
    summary, recs = run_dir(tmp_path / "run")
    assert summary["run"]["budget_stopped"] is True and summary["run"]["calls_not_made"] == 9
    assert summary["run"]["spent_usd"] <= 0.0035
    out = " ".join(res.output.split())
    assert "Budget guard: stopped with $0.0030 spent of $0.0035" in out and "9 calls not made" in out
    assert res.exit_code == 1 and "partial data" in out
    assert "budget guard (--max-cost $0.0035) stopped the run" in (tmp_path / "run" / "decision.md").read_text()
    assert len(recs) == 3


def test_the_budget_guard_reserves_what_answers_cost_not_a_fixed_guess(fake, keys, tmp_path: Path) -> None:
    """No max_tokens: the first calls are reserved at 256 output tokens ($0.0026 each at $10/Mtok);
    the answers cost $0.0002. Reserving the guess for every call stopped a $0.01 run after 3 calls;
    reserving what the answers cost lets it make about 50, and the run says why it stopped."""
    fake.script("m", answer=oracle, input_tokens=10, output_tokens=10)
    cand = openai_cand(fake, "m", pin=10.0, pout=10.0, concurrency=4)
    rows = [(f"x{i}{t[0]}", t[1], t[2], t[3]) for i in range(6) for t in __import__("tests.conftest").conftest.TICKETS]
    from tests.conftest import write_evalset

    write_evalset(tmp_path, rows)
    res = cli("eval", write_req(tmp_path, [cand], evalset="tickets.jsonl"), "--out", tmp_path / "run", "--max-cost", "0.01")
    summary, recs = run_dir(tmp_path / "run")
    assert len(recs) >= 45 and summary["run"]["spent_usd"] <= 0.01
    assert res.exit_code == 1 and summary["decision"]["partial_data"]
    assert "Budget guard stopped the run" in (tmp_path / "run" / "decision.md").read_text()


def test_trace_lines_survive_a_torn_write(fake, keys, tmp_path: Path) -> None:
    """A crash mid-line leaves a partial JSON line; readers skip it instead of failing."""
    from modelsel.run.rundir import iter_jsonl_records

    fake.script("m", answer=oracle)
    cli("eval", write_req(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "run")
    t = tmp_path / "run" / "trace.jsonl"
    t.write_text(t.read_text() + '{"candidate": "oa-m", "example_')
    assert len(list(iter_jsonl_records(t))) == 12
    json.loads(t.read_text().splitlines()[0])
