"""Latency as production will see it: enough calls to bound a p95, latency-only calls kept out of
quality, a pass at the stated load (a rate the candidate cannot sustain is flagged), figures by
input size, and what this machine added to the calls, measured by the control endpoint. Real SDKs
over HTTP against the fake provider on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelsel.analysis import stats
from tests.conftest import cli, flat, openai_cand, oracle, run_dir, write_evalset, write_req


def _tickets(tmp_path: Path, n: int, long_every: int = 0) -> None:
    rows = []
    for i in range(n):
        text = f"ticket {i} I was charged twice"
        if long_every and i % long_every == 0:
            text += " and here is the whole thread" + " word" * 1500  # over 1k tokens
        rows.append((f"e{i}", text, "billing", "simple"))
    write_evalset(tmp_path, rows)


def _req(tmp_path: Path, fake: Any, **over: Any) -> Path:
    latency = {"p50_ms": 2000, "p95_ms": 5000, **over.pop("latency", {})}
    return write_req(tmp_path, [openai_cand(fake, "m")], evalset="tickets.jsonl", latency=latency, quality={"min_score": 0.1},
                     decision={"max_error_rate": 0.5}, **over)


def test_a_p95_gets_the_calls_it_needs_and_quality_does_not_count_them(fake, keys, tmp_path: Path) -> None:
    """40 examples give at most 40 warm calls; a p95 needs 59 for an upper bound. Latency-only calls
    are added (said in --dry-run with their cost), the p95 is bounded, quality stays on 40."""
    fake.script("m", answer=oracle, latency_ms=5)
    _tickets(tmp_path, 40)
    req = _req(tmp_path, fake)
    dry = cli("eval", req, "--dry-run")
    assert dry.exit_code == 0 and "latency-only calls (extra calls so the p95 can be bounded" in flat(dry.output)
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    s, recs = run_dir(tmp_path / "run")
    c = s["candidates"]["oa-m"]
    lat = c["latency"]
    assert c["quality"]["n"] == 40 and lat["extra_calls"] > 0 and lat["source"] == "quality pass + extra calls"
    assert lat["n"] >= stats.min_n_for_upper_bound(0.95) and lat["p95"]["hi"] is not None
    extra = [r for r in recs if r.get("latency_pass") == "extra"]
    assert extra and all(r["latency_sample"] for r in extra)
    p95 = next(k for k in c["checks"] if k["requirement"] == "latency.p95_ms")
    assert p95["status"] == "pass", p95["text"]
    assert s["run"]["machine"]["n"] > 0  # the control endpoint was sampled while the calls were in flight


def test_no_extra_calls_leaves_the_p95_not_judged(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    _tickets(tmp_path, 40)
    res = cli("eval", _req(tmp_path, fake), "--out", tmp_path / "run", "--no-extra-calls")
    assert res.exit_code == 0, res.output
    s, recs = run_dir(tmp_path / "run")
    assert not any(r.get("latency_pass") for r in recs)
    p95 = next(k for k in s["candidates"]["oa-m"]["checks"] if k["requirement"] == "latency.p95_ms")
    assert p95["status"] == "unmeasured" and "not judged" in p95["text"] and "--no-extra-calls" in p95["text"]


def test_the_judged_latency_comes_from_a_pass_at_the_stated_concurrency(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, latency_ms=20)
    _tickets(tmp_path, 20)
    res = cli("eval", _req(tmp_path, fake, latency={"load": {"concurrency": 4, "calls": 40}}), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    s, recs = run_dir(tmp_path / "run")
    lat = s["candidates"]["oa-m"]["latency"]
    assert lat["source"] == "load pass" and lat["load"] == "4 calls in flight" and lat["n"] <= 40
    assert len([r for r in recs if r.get("latency_pass") == "load"]) == 40
    assert s["candidates"]["oa-m"]["quality"]["n"] == 20
    md = (tmp_path / "run" / "decision.md").read_text()
    assert "under 4 calls in flight" in flat(md)


def test_a_rate_the_candidate_cannot_sustain_is_flagged_with_the_rate_it_sustained(fake, keys, tmp_path: Path) -> None:
    """The quality pass is answered; every latency-pass call at 20 requests/s is refused (429)."""
    fake.script("m", answer=oracle, faults=[""] * 12 + ["429"] * 1000)
    _tickets(tmp_path, 12)
    res = cli("eval", _req(tmp_path, fake, latency={"load": {"rps": 20, "calls": 20}}), "--out", tmp_path / "run")
    s, _ = run_dir(tmp_path / "run")
    c = s["candidates"]["oa-m"]
    load = next(k for k in c["checks"] if k["requirement"] == "latency.load")
    assert load["status"] == "fail" and "did not sustain 20 requests/s" in load["text"] and "rate-limited" in load["text"]
    assert c["latency"]["sustained_rps"] == 0
    assert res.exit_code == 1  # nothing else qualifies


def test_latency_by_input_size(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    _tickets(tmp_path, 30, long_every=3)
    res = cli("eval", _req(tmp_path, fake), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    s, _ = run_dir(tmp_path / "run")
    by = s["candidates"]["oa-m"]["latency"]["by_input"]
    assert set(by) == {"< 1k tokens", "1k-10k tokens"}
    assert by["< 1k tokens"]["n"] > by["1k-10k tokens"]["n"] > 0  # the eval set's mix, two short to one long
    md = (tmp_path / "run" / "decision.md").read_text()
    assert "1k-10k tokens" in md


def test_summary_json_lines_have_the_pass_flag(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    _tickets(tmp_path, 10)
    cli("eval", _req(tmp_path, fake), "--out", tmp_path / "run")
    lines = (tmp_path / "run" / "records.jsonl").read_text().splitlines()
    assert all("latency_pass" in json.loads(x) for x in lines)


def test_a_busy_machine_moves_the_judged_latency_to_a_quiet_pass_and_the_record_says_so(fake, keys, tmp_path: Path,
                                                                                         monkeypatch) -> None:
    """With the threshold at 0 ms any machine is 'busy': the judged figures come from the quiet pass
    (one call in flight), whose own control figures stand beside them in the record."""
    monkeypatch.setenv("MODELSEL_QUIET_PASS_MS", "0")
    fake.script("m", answer=oracle, latency_ms=60)  # a quality pass of about 0.6 s: a dozen control samples
    _tickets(tmp_path, 80)
    res = cli("eval", _req(tmp_path, fake), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    s, recs = run_dir(tmp_path / "run")
    lat = s["candidates"]["oa-m"]["latency"]
    assert s["run"]["machine"]["quiet_pass"] is True and s["run"]["machine"]["n"] >= 5
    assert f"oa-m: a quiet latency pass adds {len([r for r in recs if r.get('latency_pass') == 'quiet'])} calls, " \
        "one at a time, because this machine added" in flat(res.output)  # said on the terminal, not only in the record
    assert lat["source"] == "quiet pass" and lat["load"].startswith("1 call in flight")
    quiet = [r for r in recs if r.get("latency_pass") == "quiet"]
    assert len(quiet) >= stats.min_n_for_upper_bound(0.95) and lat["n"] <= len(quiet)
    assert lat["machine_added_n"] > 0 and lat["machine_added_p50_ms"] is not None
    md = flat((tmp_path / "run" / "decision.md").read_text())
    assert "from a quiet pass (this machine distorted the quality pass's calls)" in md
    assert "this machine added" in md and "to the control endpoint's calls meanwhile" in md


def test_a_quiet_pass_is_made_only_for_the_distortion_it_could_remove(monkeypatch) -> None:
    """The control's median over the threshold is first set against what a call alone costs on this
    machine (Control.floor, after the quality pass): a quiet pass measures no lower than that floor,
    so only the excess over it calls for minutes of one-at-a-time calls. The loop's lag, or a
    threshold of 0, decide without it."""
    from modelsel.run.control import Distortion
    from modelsel.run.latency_pass import floor_needed

    monkeypatch.setenv("MODELSEL_QUIET_PASS_MS", "5")
    over = Distortion.of([6.0] * 20, [1.0] * 20)  # 6 ms at the median, the loop on time
    assert floor_needed(over) and over.busy(5.0, 5)
    over.floor_ms = 4.0  # 2 ms of excess: a quiet pass would move the figures by about that
    assert not over.busy(5.0, 5) and not floor_needed(over) and over.excess_ms() == 2.0
    over.floor_ms = 0.5
    assert over.busy(5.0, 5)
    lagging = Distortion.of([6.0] * 20, [12.0] * 20)  # the loop woke 12 ms late at p95: busy, whatever the floor
    assert not floor_needed(lagging) and lagging.busy(5.0, 5)
    under = Distortion.of([3.0] * 20, [1.0] * 20)
    assert not floor_needed(under) and not under.busy(5.0, 5)
    few = Distortion.of([9.0] * 3, [1.0] * 3)  # too few samples to call anything
    assert not floor_needed(few) and not few.busy(5.0, 5)
    monkeypatch.setenv("MODELSEL_QUIET_PASS_MS", "0")  # forced: nothing to measure first
    assert not floor_needed(over) and over.busy(0.0, 5)


def test_the_control_alone_is_measured_one_call_at_a_time_through_the_models_path() -> None:
    import asyncio

    from modelsel.run.control import Control

    c = Control()
    assert c.start()
    try:
        async def go() -> tuple[float | None, list[float | None]]:
            floor = await c.floor(n=4)
            held_after = c._held
            await c.aclose()
            return floor, [held_after]

        floor, held = asyncio.run(go())
    finally:
        c.stop()
    assert floor is not None and 0 <= floor < 5000 and held == [False]
    assert len(c.samples) == 4  # the same samples a watcher takes, each one call alone


def test_the_record_says_what_a_call_alone_costs_when_that_ruled_out_a_quiet_pass() -> None:
    from modelsel.report.fmt import latency_condition
    from modelsel.schema import LatencyFigures

    lat = LatencyFigures(n=70, source="quality pass", machine_added_p50_ms=5.6, machine_added_p95_ms=9.1,
                         machine_added_n=120, machine_floor_ms=4.2)
    text = latency_condition(lat)
    assert ("this machine added 5.6 ms at the median (p95 9.1 ms) to the control endpoint's calls meanwhile (120 calls)"
            in text)
    assert ("4.2 ms of it a call pays here with nothing else in flight (the control alone, after the pass), which a "
            "quiet pass could not remove, so none was made") in text
    lat.machine_floor_ms = None
    assert "nothing else in flight" not in latency_condition(lat)


def test_the_floor_is_said_only_where_it_ruled_the_quiet_pass_out(monkeypatch) -> None:
    from types import SimpleNamespace

    from modelsel import pipeline
    from modelsel.run.control import Distortion
    from modelsel.schema import LatencyFigures

    monkeypatch.setenv("MODELSEL_QUIET_PASS_MS", "5")

    def said(floor: float) -> float | None:
        machine = Distortion.of([6.0] * 20, [1.0] * 20)
        machine.floor_ms = floor
        figs = {"m": SimpleNamespace(latency=LatencyFigures(n=70, source="quality pass"))}
        facts = SimpleNamespace(extra_calls=True, latency_passes={}, machine=machine, concurrency="8 in flight")
        pipeline._latency_conditions(figs, facts)  # type: ignore[arg-type]
        return figs["m"].latency.machine_floor_ms

    assert said(4.0) == 4.0  # 2 ms of excess: no quiet pass, and the record says why
    assert said(0.5) is None  # 5.5 ms of excess: busy; the floor ruled nothing out
