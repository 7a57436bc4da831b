"""The judge's own error (issue 49, item 7), with known truth: rates before and after, in one run.

Each answer is truly right or wrong; an LLM judge passes a right one with its sensitivity and a
wrong one with 1 - its specificity. 'Before' is the record without a judge_check set (what modelsel
did, and still does without one: the judge's verdicts taken as the truth); 'after' has the judge
grade a judge_check set (answers people marked: half passed, half failed) and goes through
analysis/judge_error.py. Both through the public stages the record uses (metrics.compute,
decision.decide). The promise: 95% intervals cover >= 94%, two equal models called different <= 5%.

    python benchmarks/judge_error.py [--reps 400]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def _answers(rng: np.random.Generator, cid: str, n: int, truth: float, se: float, sp: float) -> list[dict[str, Any]]:
    from corners import row

    right = rng.random(n) < truth
    passed = np.where(right, rng.random(n) < se, rng.random(n) >= sp)
    return [row(cid, f"x{i}", float(passed[i])) for i in range(n)]


def _check(rng: np.random.Generator, n: int, se: float, sp: float, cid: str | None = None):  # type: ignore[no-untyped-def]
    """n answers people marked, half passed and half failed, graded by the judge."""
    from modelsel.inputs.judge_check import CheckRow

    out = []
    for i in range(n):
        truth = i % 2 == 0
        judged = bool(rng.random() < se) if truth else bool(rng.random() >= sp)
        out.append(CheckRow(line=i + 1, input="q", answer="a", truth=truth, candidate=cid, judged=judged))
    return out


def _decide(rows: list[dict[str, Any]], ids: list[str], check: list[Any] | None):  # type: ignore[no-untyped-def]
    from corners import arrays, cands, req

    from modelsel.analysis import judge_error
    from modelsel.analysis.decision import decide
    from modelsel.analysis.metrics import compute
    from modelsel.catalog.compliance import Screening

    r = req()
    arr = arrays(rows)
    figs, comps, _ = compute(arr, r)
    if check is not None:
        judge_error.apply(figs, arr, check, True)
    d, _ = decide(cands(ids), figs, comps, r, Screening(), date(2026, 12, 7))
    return d, figs


def coverage(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """One model truly right on 0.90 of 80 examples; a judge agreeing with people 85% of the time."""
    out: dict[str, float] = {}
    for se, sp, m, label in ((0.85, 0.85, 200, "judge 85% right, check set of 200"),
                             (0.85, 0.85, 100, "judge 85% right, check set of 100"),
                             (0.97, 0.95, 200, "judge 96% right, check set of 200")):
        cover = {"before": 0, "after": 0}
        width = 0.0
        for _ in range(reps):
            rows = _answers(rng, "a", 80, 0.90, se, sp)
            for when, check in (("before", None), ("after", _check(rng, m, se, sp))):
                q = _decide(rows, ["a"], check)[1]["a"].quality
                cover[when] += q.lo is not None and q.lo <= 0.90 <= (q.hi if q.hi is not None else 1.0)
                if when == "after":
                    width += (q.hi or 1.0) - (q.lo or 0.0)
        key = f"7 truth 0.90 at n=80, {label}: quality interval covers (>= 94%)"
        out[key] = (cover["before"] / reps, cover["after"] / reps)  # type: ignore[assignment]
        out[f"7 same: the corrected interval's mean width (points, shown as a rate)"
            f" [{label}]"] = (float("nan"), width / reps)  # type: ignore[assignment]
    return out


def lenient(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """Two models truly right on 0.80 of 80 examples; the judge passes 95% of right answers from both,
    but half of A's wrong answers and a tenth of B's (lenient on A). Check set: 100 answers of each."""
    called = {"before": 0, "after": 0}
    for _ in range(reps):
        rows = _answers(rng, "A", 80, 0.80, 0.95, 0.5) + _answers(rng, "B", 80, 0.80, 0.95, 0.9)
        check = _check(rng, 100, 0.95, 0.5, "A") + _check(rng, 100, 0.95, 0.9, "B")
        for when, chk in (("before", None), ("after", check)):
            d, _ = _decide(rows, ["A", "B"], chk)
            called[when] += any(v.verdict == "worse" for v in d.verdicts)
    out = {"7 two equal models (0.80), judge lenient on A, 100 checks each: called different (<= 5%)":
           (called["before"] / reps, called["after"] / reps)}
    for m in (100, 300):  # power: A truly 0.90, B 0.65, the judge fair to both (90% right)
        found = {"before": 0, "after": 0}
        for _ in range(reps):
            rows = _answers(rng, "A", 80, 0.90, 0.9, 0.9) + _answers(rng, "B", 80, 0.65, 0.9, 0.9)
            check = _check(rng, m, 0.9, 0.9, "A") + _check(rng, m, 0.9, 0.9, "B")
            for when, chk in (("before", None), ("after", check)):
                d, _ = _decide(rows, ["A", "B"], chk)
                found[when] += any(v.verdict == "worse" for v in d.verdicts)
        out[f"7 A truly 0.90, B 0.65, a fair judge 90% right, {m} checks each: B found worse (power)"] = \
            (found["before"] / reps, found["after"] / reps)
    return out  # type: ignore[return-value]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=400)
    args = ap.parse_args()
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    for i, f in enumerate((coverage, lenient)):
        out.update(f(args.reps, np.random.default_rng(20261207 + i)))
    width = max(len(k) for k in out)
    print(f"Rates over {args.reps} simulated runs each, known truth (before: no judge_check; after: with one).\n")
    print(f"{'scenario (promise)':<{width}} {'before':>7} {'after':>7}")
    for k, (b, a) in out.items():
        print(f"{k:<{width}} {b * 100:6.1f}% {a * 100:6.1f}%")
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
