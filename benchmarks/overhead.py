"""modelsel's own cost: per-call overhead of the runner (no network, no SDK), `modelsel --help`
start-up, and rendering a large report.

Run: .venv/bin/python benchmarks/overhead.py
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modelsel.catalog.models import Candidate  # noqa: E402
from modelsel.inputs.evalset import Example  # noqa: E402
from modelsel.providers.python_fn import PythonProvider  # noqa: E402
from modelsel.run.records import Record  # noqa: E402
from modelsel.run.rundir import RunDir  # noqa: E402
from modelsel.run.runner import RetryPolicy, RunConfig, run_eval  # noqa: E402
from modelsel.run.store import Cache  # noqa: E402

N = 5000


def constant(text: str) -> str:
    return "billing"


class Cached(PythonProvider):
    cacheable = True  # python candidates skip the cache; this measures what the cache costs a call


def per_call(cache: bool, trace: bool) -> float:
    sys.modules.setdefault("bench_fns", sys.modules[__name__])
    c = Candidate(id="baseline", provider="python", vendor="in-process code", model="bench_fns:constant",
                  prompt="Ticket: {{ input }}\\nLabel:")
    ex = [Example(id=f"x{i}", input=f"ticket {i}", tags=["simple"]) for i in range(N)]
    with tempfile.TemporaryDirectory() as d:
        store = Cache(Path(d) / "c.sqlite") if cache else None
        folder = RunDir.create(Path(d) / "run", Path(d), "bench")
        on = folder.trace if trace else None
        cfg = RunConfig(retry=RetryPolicy(scale=0))
        t = time.perf_counter()
        asyncio.run(run_eval([c], {c.id: Cached(c)}, ex, cfg, store, on))
        dt = time.perf_counter() - t
        folder.close()
        if store:
            store.close()
    return dt / N * 1e6


def help_startup() -> tuple[float, float]:
    times = []
    for _ in range(7):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "modelsel", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    base = []
    for _ in range(7):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        base.append(time.perf_counter() - t)
    return statistics.median(times), statistics.median(base)


def report_render() -> tuple[float, int, float]:
    from modelsel.analysis.decision import decide
    from modelsel.analysis.metrics import compute
    from modelsel.catalog.compliance import Screening
    from modelsel.inputs.requirements import Requirements
    from modelsel.report import write_reports
    from modelsel.run.calls import Calls
    from modelsel.schema import CandidateEntry, RunInfo, Summary

    req = Requirements.model_validate({"task": "t", "evalset": "x", "candidates": [{"catalog": "x"}],
                                       "quality": {"min_score": 0.5}, "cost": {"monthly_requests": 1000}})
    recs = [Record(candidate=f"c{c}", example_id=f"e{i}", tags=["simple" if i % 2 else "complex"],
                   input=f"ticket {i} " * 8, expected="billing", output="billing" if (i * c) % 7 else "other",
                   score=1.0 if (i * c) % 7 else 0.0, passed=bool((i * c) % 7), latency_ms=100 + (i % 50) * c,
                   cost_usd=0.0001 * c) for c in range(10) for i in range(1000)]
    t0 = time.perf_counter()
    arr = Calls.from_records(recs).arrays()
    figs, comps, res = compute(arr, req)
    d, _ = decide([], figs, comps, req, Screening())
    t_metrics = time.perf_counter() - t0
    summary = Summary(modelsel_version="bench", requirements=req.model_dump(mode="json"),
                      run=RunInfo(started_at="x", finished_at="2026-11-22T00:00:00", requirements="r", evalset="x",
                                  n_examples=1000),
                      candidates={cid: CandidateEntry(provider="openai", vendor="v", model=cid, **f.model_dump())
                                  for cid, f in figs.items()}, comparisons=comps, resolution=res, decision=d)
    with tempfile.TemporaryDirectory() as dd:
        folder = RunDir.create(Path(dd) / "run", Path(dd), "bench")
        folder.write_records(recs)
        t = time.perf_counter()
        write_reports(folder, summary, arr)
        dt = time.perf_counter() - t
        size = (folder.path / "report.html").stat().st_size
    return dt, size, t_metrics


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}")
    print(f"1. Runner overhead per call, {N} calls to an in-process function (render, schedule, record):")
    print(f"   no cache, no trace:   {per_call(False, False):7.1f} µs")
    print(f"   SQLite cache + trace: {per_call(True, True):7.1f} µs")
    h, b = help_startup()
    print(f"2. `modelsel --help`: {h * 1000:.0f} ms median of 7 (bare interpreter start {b * 1000:.0f} ms)")
    dt, size, tm = report_render()
    print(f"3. 1,000 examples x 10 candidates: metrics {tm:.2f} s; json+md+csv+html written in {dt:.2f} s; "
          f"report.html {size / 1e6:.1f} MB")
