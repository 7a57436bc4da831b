"""Nothing of ours inside the clock: a fast candidate beside slow ones is timed close to the
server's own time, calls in flight while the report machinery warms up are not slowed, the event
loop's lag is measured and flagged, and one candidate's endless answer cannot stall the others."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli, openai_cand, run_dir, write_req
from tests.fakes.process import FakeProcess

TOLERANCE_MS = 15.0  # what a loaded 2-core machine holds; a bare client adds 2-8 ms here (benchmarks/latency_accuracy.py)


def _overheads(fake: FakeProcess, run: Path) -> dict[str, list[tuple[str, float]]]:
    srv = {(s["model"], s["prompt"]): s["server_ms"] for s in fake.seen()}
    out: dict[str, list[tuple[str, float]]] = {}
    for r in run_dir(run)[1]:
        model = r["candidate"].removeprefix("oa-")
        key = (model, r["input"])
        if key in srv and not r["cold"] and not r["error"]:
            out.setdefault(model, []).append((r["started_at"], r["latency_ms"] - srv[key]))
    return out


def _bare(fake: FakeProcess, models: dict[str, int], n: int) -> dict[str, list[float]]:
    """The bare official client (benchmarks/_bare.py) on the same endpoint: its own overhead."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    before = len(fake.seen())
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "_bare.py"), fake.url + "/v1", json.dumps(models),
                        str(n)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    srv = {(s["model"], s["prompt"]): s["server_ms"] for s in fake.seen()[before:]}
    out: dict[str, list[float]] = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        if not r["cold"]:
            out.setdefault(r["model"], []).append(r["latency_ms"] - srv[(r["model"], r["prompt"])])
    return out


def _fast_beside_slow(tmp_path: Path, attempt: int) -> tuple[float, float, float]:
    """(modelsel's median overhead on the fast model, the bare client's, modelsel's early-minus-late
    median) for one run of each on one fake."""
    fake = FakeProcess({"fast": {"answer": "billing", "latency_ms": 20}, "mid": {"answer": "billing", "latency_ms": 150},
                        "slow": {"answer": "billing", "latency_ms": 400}})
    work = tmp_path / f"try{attempt}"
    try:
        class F:
            url = fake.url

        conc = {"fast": 16, "mid": 8, "slow": 8}  # 32 in flight in all
        cands = [openai_cand(F, m, concurrency=k) for m, k in conc.items()]
        rows = [(f"t{i}", f"ticket number {i}", "billing", "simple") for i in range(96)]
        from tests.conftest import write_evalset

        write_evalset(work, rows)
        res = cli("eval", write_req(work, cands, evalset="tickets.jsonl", quality={"min_score": 0.0}),
                  "--out", work / "run", "--no-cache")
        assert res.exit_code in (0, 1), res.output
        over = _overheads(fake, work / "run")
        bare = _bare(fake, conc, 96)
    finally:
        fake.stop()
    fast = [o for _, o in over["fast"]]
    assert len(fast) >= 60
    stamps = sorted(over["fast"])
    early = [o for t, o in stamps[: len(stamps) // 3]]
    late = [o for t, o in stamps[len(stamps) // 3:]]
    return statistics.median(fast), statistics.median(bare["fast"]), statistics.median(early) - statistics.median(late)


def test_a_fast_candidate_beside_others_is_timed_like_a_bare_client(keys: dict[str, str], tmp_path: Path) -> None:
    """A 20 ms model beside 150 ms and 400 ms ones, 32 calls in flight: what modelsel adds to its
    measured latency, beyond what the bare official SDK client sees on the same endpoint at the same
    concurrency, stays within the tolerance at the median; calls made while the report machinery was
    being imported (the first third) are not slower than the rest. Timing on a shared 2-core machine
    is noisy, so a second pair of runs may confirm a first that missed."""
    results = []
    for attempt in range(2):
        ms, bare, early = _fast_beside_slow(tmp_path, attempt)
        results.append((ms, bare, early))
        if ms - bare <= TOLERANCE_MS and early <= TOLERANCE_MS:
            break
    else:
        raise AssertionError(f"modelsel vs bare median overhead, early-late (ms): {results}")
    lag = run_dir(tmp_path / f"try{attempt}" / "run")[0]["run"]["loop_lag"]
    assert lag["n"] > 10 and lag["p50_ms"] >= 0


def test_a_saturated_machine_is_flagged_not_blamed_on_the_model() -> None:
    from modelsel.session import lag_summary

    calm = lag_summary([0.2] * 95 + [1.0] * 5)
    busy = lag_summary([0.5] * 80 + [40.0] * 20)
    assert calm is not None and not calm["flagged"]
    assert busy is not None and busy["flagged"] and busy["p95_ms"] == 40.0


@pytest.mark.parametrize("stream", [True, False])
def test_an_endless_answer_is_cut_flagged_and_kept_small(keys: dict[str, str], tmp_path: Path, stream: bool) -> None:
    """A model that answers 2 MB per call: each answer is cut at run.max_answer_chars (streamed: the
    rest is never read), flagged, and stored once at that size; the other model's clock stays near
    its own latency (without the cap, parsing the floods delayed it by seconds)."""
    fake = FakeProcess({"flood": {"answer": "word ", "answer_times": 400_000}, "ok": {"answer": "billing", "latency_ms": 30}})
    try:
        class F:
            url = fake.url

        cands = [openai_cand(F, "flood", params={"stream": stream}), openai_cand(F, "ok")]
        res = cli("eval", write_req(tmp_path, cands, run={"max_answer_chars": 5000}, quality={"min_score": 0.0}),
                  "--out", tmp_path / "run", "--no-extra-calls")
    finally:
        fake.stop()
    assert res.exit_code in (0, 1), res.output
    s, recs = run_dir(tmp_path / "run")
    flood = [r for r in recs if r["candidate"] == "oa-flood"]
    assert len(flood) == 12
    assert all(r["output_truncated"] and len(r["output"]) == 5000 and r["output_chars"] > 5000 for r in flood)
    assert (tmp_path / "run" / "records.jsonl").stat().st_size < 200_000  # not 12 x 2 MB
    assert (tmp_path / "run" / "trace.jsonl").stat().st_size < 200_000
    ok = [r["latency_ms"] for r in recs if r["candidate"] == "oa-ok" and not r["cold"]]
    # Without the cap, parsing the floods held the other model's answers for seconds. With it, what
    # is left is this machine's own load (200-600 ms at the median on a busy 2-core runner, measured
    # in benchmarks/latency_accuracy.py, not here): the bound separates the two, not the few ms.
    assert np.median(ok) < 1500
    md = " ".join((tmp_path / "run" / "decision.md").read_text().split())
    assert "were cut at 5,000 characters" in md
    assert s["candidates"]["oa-flood"]["truncated"] == 12
