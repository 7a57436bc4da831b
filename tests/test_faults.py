"""Never hang, never pay twice: every wire-level fault in each provider's format ends as a
classified error on that record or a successful retry; absurd Retry-After values are capped; a
run can have a deadline; concurrent runs on one reports folder pay once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import (
    KEYS,
    TICKETS,
    anthropic_cand,
    cli,
    cli_subprocess,
    gemini_cand,
    openai_cand,
    oracle,
    run_dir,
    write_req,
)

MAKERS = {"openai": openai_cand, "anthropic": anthropic_cand, "gemini": gemini_cand}

# Per ticket: the faults its calls meet, in order; then it answers. None: always that fault.
PLAN = {
    "I was charged twice": ["truncated"],            # stream ends without its final chunk: retried
    "app crashes on start": ["reset"],               # connection reset mid-stream: retried
    "reset my password": ["500", "502", "503"],      # a 5xx burst: retried three times
    "parcel never arrived": ["malformed"],           # not JSON: retried
    "are you hiring": "empty",                       # 200 with no choices/content, every time
    "refund my annual plan": "400",                  # unsupported parameter: not retried, message kept
    "export gives blank pages": "401",               # auth: not retried, key redacted
    "2fa goes to old phone": "oversize",             # headers beyond the client's limit
}
EXPECT = {"e5": ("empty", 4), "e6": ("bad_request", 1), "e7": ("auth", 1), "e8": ("connection", 4)}


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("api", list(MAKERS))
def test_every_wire_fault_is_classified_or_retried(fake, keys, tmp_path: Path, api: str, stream: bool) -> None:
    plan = {k: (list(v) if isinstance(v, list) else v) for k, v in PLAN.items()}

    def fault_for(prompt: str) -> str | None:
        for text, faults in plan.items():
            if text in prompt:
                if isinstance(faults, str):
                    return faults
                return faults.pop(0) if faults else None
        return None

    fake.script("m", answer=oracle, fault_when=fault_for)
    cand = MAKERS[api](fake, "m", params={"stream": stream, "max_tokens": 8})
    t0 = time.perf_counter()
    res = cli("eval", write_req(tmp_path, [cand], decision={"max_error_rate": 0.5}, quality={"min_score": 0.3}),
              "--out", tmp_path / "run")
    assert time.perf_counter() - t0 < 60  # no hang
    assert res.exit_code in (0, 1), res.output
    s, recs = run_dir(tmp_path / "run")
    by = {r["example_id"]: r for r in recs}
    assert len(recs) == len(TICKETS)
    for ex in ("e1", "e2", "e3", "e4"):  # recovered by a retry
        assert by[ex]["error"] is None and by[ex]["output"], (ex, by[ex]["error"])
    assert by["e1"]["attempts"] == 2 and by["e3"]["attempts"] == 4
    for ex, (kind, attempts) in EXPECT.items():
        assert (by[ex]["error_kind"], by[ex]["attempts"]) == (kind, attempts), (ex, by[ex]["error_kind"], by[ex]["error"])
    assert "Unsupported parameter: 'temperature'" in by["e6"]["error"] and by["e6"]["status"] == 400
    assert "[REDACTED]" in by["e7"]["error"] and KEYS[f"{api.upper()}_API_KEY"] not in json.dumps(recs)
    c = s["candidates"][cand["id"]]
    assert c["error_kinds"] == {"auth": 1, "bad_request": 1, "connection": 1, "empty": 1}
    md = (tmp_path / "run" / "decision.md").read_text()
    assert "4/12 (auth 1, bad\\_request 1, connection 1, empty 1)" in md
    html = (tmp_path / "run" / "report.html").read_text()
    assert "4/12 (auth 1, bad_request 1, connection 1, empty 1)" in html


def test_an_absurd_retry_after_is_capped_and_recorded(fake, keys, tmp_path: Path, monkeypatch) -> None:
    """Every third call answers 429 with Retry-After: 99999 (27 hours). With a cap of 0.2 s the run
    ends in seconds; what the server asked is recorded; a call asked twice to wait past the cap
    becomes a rate-limit error and the run goes on."""
    monkeypatch.setenv("MODELSEL_RETRY_SCALE", "1")
    n = {"i": 0}

    def every_third(prompt: str) -> str | None:
        n["i"] += 1
        return "429" if n["i"] % 3 == 0 else None

    fake.script("m", answer=oracle, fault_when=every_third, retry_after="99999")
    fake.script("always", answer=oracle, always="429", retry_after="99999")
    req = write_req(tmp_path, [openai_cand(fake, "m", concurrency=1), openai_cand(fake, "always")],
                    decision={"max_error_rate": 1.0})
    t0 = time.perf_counter()
    res = cli("eval", req, "--out", tmp_path / "run", "--retry-after-cap", "0.2")
    wall = time.perf_counter() - t0
    assert wall < 30, wall
    _, recs = run_dir(tmp_path / "run")
    hit = [r for r in recs if r["candidate"] == "oa-m" and r["attempts"] > 1]
    # Each wait is the cap (0.2 s) or the jittered backoff when that is longer (at most 0.5, 1, 2 s).
    assert hit and all(r["retry_after_asked_s"] == 99999 and 0.2 * (r["attempts"] - 1) <= r["retry_wait_s"] < 3.5
                       for r in hit)
    # a call the server refused twice (its retry came third again) is a rate-limit error; the rest answered
    mine = [r for r in recs if r["candidate"] == "oa-m"]
    assert sum(r["error"] is None for r in mine) >= 9
    assert all(r["error"] is None or (r["error_kind"] == "rate_limit" and r["attempts"] == 2) for r in mine)
    always = [r for r in recs if r["candidate"] == "oa-always"]
    # asked twice to wait 27 hours: a third try would be refused as well, so there is none
    assert all(r["error_kind"] == "rate_limit" and r["attempts"] == 2 and r["retry_after_asked_s"] == 99999 for r in always)
    assert res.exit_code in (0, 1)


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"retry-after": "7"}, 7.0),
    ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
    ({"retry-after-ms": "99999000"}, 99999.0),  # asked for: the runner caps it
    ({"retry-after": "-5"}, None),
    ({"retry-after": "soon"}, None),
    ({"retry-after": "nan"}, None),
    ({"retry-after-ms": "garbage"}, None),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),  # a date in the past
])
def test_retry_after_values(headers: dict[str, str], seconds: float | None) -> None:
    from modelsel.providers.base import retry_after

    assert retry_after(headers) == seconds


def test_a_future_http_date_is_honoured_up_to_the_cap() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from modelsel.providers.base import retry_after
    from modelsel.run.runner import RetryPolicy

    later = format_datetime(datetime.now(UTC) + timedelta(days=2), usegmt=True)
    asked = retry_after({"retry-after": later})
    assert asked is not None and asked > 86400
    wait, over = RetryPolicy(retry_after_cap_s=60).wait(1, asked)
    assert wait == 60 and over == asked


def test_a_deadline_finishes_the_reports_on_partial_data(fake, keys, tmp_path: Path) -> None:
    fake.script("slow", answer=oracle, latency_ms=250)
    req = write_req(tmp_path, [openai_cand(fake, "slow", concurrency=1)])
    t0 = time.perf_counter()
    res = cli("eval", req, "--out", tmp_path / "run", "--max-minutes", "0.02")  # 1.2 s
    assert time.perf_counter() - t0 < 15
    assert res.exit_code == 1
    s, recs = run_dir(tmp_path / "run")
    assert s["run"]["deadline_hit"] is True and s["run"]["not_run"] == 12 - len(recs) > 0
    assert 0 < len(recs) < 12 and not any(r["error"] for r in recs)  # not-run calls are not errors
    n = s["candidates"]["oa-slow"]["n"]
    assert f"oa-slow: n={n} of 12" in s["decision"]["partial_data"]
    assert "Partial data" in (tmp_path / "run" / "decision.md").read_text()
    assert "The run's deadline passed" in " ".join(res.output.split())


def test_the_deadline_can_be_set_in_the_requirements(fake, keys, tmp_path: Path) -> None:
    fake.script("slow", answer=oracle, latency_ms=250)
    req = write_req(tmp_path, [openai_cand(fake, "slow", concurrency=1)], run={"max_minutes": 0.01})
    res = cli("eval", req, "--out", tmp_path / "run")
    s, _ = run_dir(tmp_path / "run")
    assert s["run"]["deadline_hit"] is True and s["run"]["deadline_minutes"] == 0.01 and res.exit_code == 1


def test_three_concurrent_runs_pay_once(fake, keys, tmp_path: Path) -> None:
    """Three runs of one file on one reports folder at once: each request is made once; the other
    runs wait for its answer through the cache's lease instead of paying for it again."""
    fake.script("m", answer=oracle, latency_ms=150)
    req = write_req(tmp_path, [openai_cand(fake, "m", concurrency=2)])
    env = dict(KEYS, MODELSEL_RETRY_SCALE="0")
    procs = [cli_subprocess("eval", req, "--out", tmp_path / f"run{i}", cwd=tmp_path, env=env) for i in range(3)]
    for p in procs:
        p.communicate(timeout=60)
    assert len(fake.requests_for("m")) == 12
    outputs = []
    for i in range(3):
        s, recs = run_dir(tmp_path / f"run{i}")
        assert len(recs) == 12 and s["decision"]["chosen"] == "oa-m"
        outputs.append({r["example_id"]: r["output"] for r in recs})
    assert outputs[0] == outputs[1] == outputs[2]
    assert sum(1 for i in range(3) for r in run_dir(tmp_path / f"run{i}")[1] if r["cached"]) == 24


def test_a_lease_from_a_dead_process_expires(tmp_path: Path) -> None:
    import asyncio
    import sqlite3

    from modelsel.run.store import Cache

    cache = Cache(tmp_path / "c.sqlite")
    db = sqlite3.connect(tmp_path / "c.sqlite")
    db.execute("INSERT INTO leases VALUES (?, ?, ?, ?)", ("k", cache.host, 2**22 + 12345, time.time() + 3600))
    db.commit()
    t0 = time.perf_counter()
    assert asyncio.run(cache.get_or_lease("k", 1.0)) is None  # the dead holder's lease is taken over at once
    assert time.perf_counter() - t0 < 1 and "k" in cache.held
    cache.close()


def test_replay_reads_records_with_the_one_reader(fake, keys, tmp_path: Path) -> None:
    """A last line cut by a crash does not stop a replay: the same reader as every other skips it."""
    fake.script("a", answer=oracle)
    cli("eval", write_req(tmp_path, [openai_cand(fake, "a")]), "--out", tmp_path / "r1")
    p = tmp_path / "r1" / "records.jsonl"
    p.write_text(p.read_text() + '{"candidate": "oa-a", "example_id": "e1", "outp')
    replay = write_req(tmp_path / "ci", [{"id": "a-replayed", "provider": "replay", "model": "oa-a",
                                          "replay_from": str(tmp_path / "r1")}])
    res = cli("eval", replay, "--out", tmp_path / "r2")
    assert res.exit_code == 0, res.output
    _, recs = run_dir(tmp_path / "r2")
    assert len(recs) == 12 and all(r["replayed"] and not r["error"] for r in recs)
