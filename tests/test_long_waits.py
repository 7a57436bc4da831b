"""No long waits (issue "No long waits"): a latency-only call is optional. A provider that asks it
to wait longer than the cap gets no more of them, and the record says the p95 was not judged and
why; a quality call is retried, and asked twice to wait past the cap it ends as an error."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import cli, flat, openai_cand, oracle, run_dir, write_req


def test_a_hostile_retry_after_stops_the_latency_only_calls_not_the_run(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, every=(3, "429"), retry_after="99999")
    req = write_req(tmp_path, [openai_cand(fake, "m", concurrency=4)], latency={"p95_ms": 2000},
                    decision={"max_error_rate": 1.0})
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code in (0, 1), res.output
    summary, recs = run_dir(tmp_path / "run")
    quality = [r for r in recs if not r["latency_sample"]]
    extra = [r for r in recs if r["latency_pass"] == "extra"]
    # every quality call ends answered, or as a rate-limit error once the server asked it twice to wait 27 hours
    assert len(quality) == 12 and sum(r["error"] is None for r in quality) >= 8
    assert all(r["error"] is None or (r["error_kind"] == "rate_limit" and r["attempts"] == 2) for r in quality)
    # Latency-only calls stop at the first over-cap ask; the refused ones are dropped, not recorded as errors.
    assert all(r["error"] is None for r in extra)
    sent = sum(1 for s in fake.seen if s.model == "m")
    assert sent < 12 + 6 + 4 + 4, sent  # quality calls and their retries, then at most one wave of extra calls
    lat = summary["candidates"]["oa-m"]["latency"]
    assert "asked a latency-only call to wait 99999 s (Retry-After), over the 60 s cap" in lat["extra_stopped"]
    check = next(c for c in summary["candidates"]["oa-m"]["checks"] if c["requirement"] == "latency.p95_ms")
    assert check["status"] == "unmeasured"
    assert "not judged" in check["text"] and "99999 s" in check["text"]
    md = flat((tmp_path / "run" / "decision.md").read_text())
    assert "latency-only calls stopped: the provider asked a latency-only call to wait 99999 s" in md


def test_a_latency_only_call_is_retried_once_after_a_short_wait_then_dropped(fake, keys, tmp_path: Path) -> None:
    """A 503 on every latency-only call: each is tried twice, then left out (it was optional); the
    quality calls are not touched by it."""
    n = {"i": 0}

    def after_quality(prompt: str) -> str | None:
        n["i"] += 1
        return "503" if n["i"] > 12 else None

    fake.script("m", answer=oracle, fault_when=after_quality)
    req = write_req(tmp_path, [openai_cand(fake, "m", concurrency=4)], latency={"p95_ms": 2000})
    res = cli("eval", req, "--out", tmp_path / "run")
    summary, recs = run_dir(tmp_path / "run")
    assert [r for r in recs if r["latency_pass"]] == []
    extra_sent = sum(1 for s in fake.seen if s.model == "m") - 12
    lat = summary["candidates"]["oa-m"]["latency"]
    assert lat["extra_dropped"] * 2 == extra_sent and lat["extra_dropped"] >= 50
    assert lat["extra_stopped"] is None
    assert len(recs) == 12 and all(r["error"] is None for r in recs)
    check = next(c for c in summary["candidates"]["oa-m"]["checks"] if c["requirement"] == "latency.p95_ms")
    assert check["status"] == "unmeasured" and "failed after one retry" in check["text"]
    assert "latency-only calls failed after one retry and were left out" in flat(res.output + (
        tmp_path / "run" / "decision.md").read_text())
