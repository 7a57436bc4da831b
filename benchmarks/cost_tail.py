"""Monthly cost with a heavy tail (issue 49, item 4), with known truth: rates before and after, in one run.

Output lengths as a support bot's: 3% of examples draw an answer near 8,000 tokens (every try of
that example does), the rest a lognormal length around their own median. Each line is a rate over
--reps simulated runs through the public stages the record uses (metrics.compute, limits.check).
The load pass's latency-only calls (Record.latency_pass = "load") sit beside the quality calls, as
a run with `latency.load` makes them. `--baseline PATH` runs the same scenarios on an earlier
checkout and prints both columns. The promise: the 95% interval covers >= 94%; a month truly 10%
over budget passes surely <= 2.5%.

    python benchmarks/cost_tail.py [--reps 400] [--baseline PATH]
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PIN, POUT, INPUT = 3e-6, 15e-6, 400  # $ per input token, per output token; input tokens a request
LONG_SHARE, LONG_TOKENS = 0.03, 8000
VOLUME = 1_000_000
MAX_TOKENS = 8192  # the requests' max_tokens: the long answers run near it


def _example(rng: np.random.Generator) -> tuple[bool, float]:
    return bool(rng.random() < LONG_SHARE), float(250 * np.exp(0.6 * rng.normal()))


def _tokens(rng: np.random.Generator, ex: tuple[bool, float]) -> float:
    long, median = ex
    return float(min(MAX_TOKENS, rng.normal(LONG_TOKENS, 100))) if long else float(median * np.exp(0.3 * rng.normal()))


def _truth() -> float:
    z = np.random.default_rng(49)
    m = 1_000_000
    long = z.random(m) < LONG_SHARE
    out = np.where(long, np.minimum(MAX_TOKENS, z.normal(LONG_TOKENS, 100, m)), 250 * np.exp(0.6 * z.normal(size=m)) * np.exp(0.3 ** 2 / 2))
    return float(INPUT * PIN + POUT * out.mean())


def _run(rng: np.random.Generator, n: int, repeats: int = 1, load_calls: int = 0):  # type: ignore[no-untyped-def]
    from corners import row

    from modelsel.run.calls import Calls
    from modelsel.run.records import Record

    exs = [_example(rng) for _ in range(n)]
    rows: list[dict[str, Any]] = []
    outs: list[float] = []

    def add(i: int, k: int, **kw: Any) -> None:
        t = max(1.0, _tokens(rng, exs[i]))
        cost = INPUT * PIN + t * POUT
        rows.append({**row("a", f"x{i}", 1.0, cost=cost), "repeat": k, "input_tokens": INPUT, "output_tokens": int(t),
                     "cost_live_usd": cost, **kw})
        outs.append(t * POUT)

    for k in range(repeats):
        for i in range(n):
            add(i, k)
    for j in range(load_calls):  # the load pass cycles over the eval set's examples, as latency_pass.run_one does
        add(j % n, 1000 + j, latency_pass="load", latency_sample=True)
    arr = Calls.from_records(Record(**r) for r in rows).arrays()
    # what projection.with_production_costs fills in the real path: each call's output tokens' cost
    return replace(arr, cost_output_usd=np.array(outs))


def _compute(arr, r):  # type: ignore[no-untyped-def]
    """metrics.compute with the candidate's max_tokens (8,192) where this tree takes it."""
    import inspect

    from modelsel.analysis.metrics import compute

    if "max_output_tokens" in inspect.signature(compute).parameters:
        return compute(arr, r, max_output_tokens={"a": MAX_TOKENS})
    return compute(arr, r)


def coverage(reps: int, rng: np.random.Generator) -> dict[str, float]:
    from corners import req

    truth = _truth()
    r = req(cost={"monthly_requests": VOLUME})
    out = {}
    for n, k, load, label in ((50, 1, 0, "n=50"), (80, 1, 0, "n=80"), (100, 1, 0, "n=100"),
                              (50, 3, 0, "n=50 x 3 repeats"), (80, 3, 0, "n=80 x 3 repeats"),
                              (50, 1, 300, "n=50 + a load pass of 300 latency-only calls")):
        cover = 0
        for _ in range(reps):
            c = _compute(_run(rng, n, k, load), r)[0]["a"].cost
            cover += c.per_request_lo is not None and c.per_request_lo <= truth <= (c.per_request_hi or 0.0)
        out[f"4 3% of answers near 8,000 tokens, {label}: cost-per-request interval covers (>= 94%)"] = cover / reps
    return out


def budget(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """The month truly 10% over budget: how often does the budget check call it a sure pass?"""
    from corners import req

    from modelsel.analysis.limits import check

    limit = _truth() * VOLUME / 1.1
    r = req(cost={"monthly_requests": VOLUME, "monthly_budget_usd": round(limit, 2)})
    out = {}
    for n, k, load, label in ((50, 1, 300, "n=50 + a load pass of 300"), (80, 1, 0, "n=80"),
                              (50, 3, 0, "n=50 x 3 repeats")):
        sure = 0
        for _ in range(reps):
            figs = _compute(_run(rng, n, k, load), r)[0]
            c = next(x for x in check(figs["a"], r) if x.requirement == "cost.monthly_budget_usd")
            sure += c.status == "pass"
        out[f"4 month truly 10% over budget, {label}: passes surely (<= 2.5%)"] = sure / reps
    under = req(cost={"monthly_requests": VOLUME, "monthly_budget_usd": round(_truth() * VOLUME * 2, 2)})
    for n in (50, 100):  # what the honest interval costs: a budget twice the true month
        sure = 0
        for _ in range(reps):
            figs = _compute(_run(rng, n), under)[0]
            c = next(x for x in check(figs["a"], under) if x.requirement == "cost.monthly_budget_usd")
            sure += c.status == "pass"
        out[f"4 month truly half the budget, n={n}: passes surely (power)"] = sure / reps
    return out


SCENARIOS = (coverage, budget)


def main() -> int:
    from corners import main as run

    return run(__file__, SCENARIOS, 20261207, reps=400)


if __name__ == "__main__":
    raise SystemExit(main())
