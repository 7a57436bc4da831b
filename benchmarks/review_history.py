"""Reviews over years, with known truth: 8-quarter histories of one decision, before and after.

An eval set of 80 examples; the incumbent's chance of a right answer per example is fixed (70% of
examples near-certain right, 15% near-certain wrong, 15% a coin between 0.3 and 0.7). Each quarter
a review re-runs it. Unchanged histories keep those chances; in drop histories four near-certain
examples go wrong from quarter 5 on (a true 5-point drop).

- before: each review's paired test against the newest run (how `review` picked its baseline), at
  the two-sided 95% interval, per review;
- after: modelsel's drift test (quarterly/drift.py) against the decision's run and the reviews since,
  within the plan's budget (2.5% one-sided over 8 planned reviews).

And the choice: two truly equal candidates near the quality bar; 'does not hold' whenever the rules
pick the other one (a sure pass before an at-risk one, or a tie broken the other way; before) against modelsel's `_choice` (after: only when shown better).

    python benchmarks/review_history.py [--reps 400]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

N, QUARTERS, DROP_AT = 80, 8, 5


def chances(rng: np.random.Generator) -> np.ndarray:
    kind = rng.random(N)
    return np.where(kind < 0.70, 0.98, np.where(kind < 0.85, 0.03, rng.uniform(0.3, 0.7, N)))


def history(rng: np.random.Generator, drop: bool) -> list[dict[str, float]]:
    p = chances(rng)
    sure = np.flatnonzero(p == 0.98)[:4]
    runs = []
    for q in range(QUARTERS + 1):
        pq = p.copy()
        if drop and q >= DROP_AT:
            pq[sure] = 0.02
        runs.append({f"e{i}": float(x) for i, x in enumerate(rng.random(N) < pq)})
    return runs


def before_flags(runs: list[dict[str, float]]) -> list[bool]:
    from modelsel.analysis.metrics import compare

    out = []
    for q in range(1, len(runs)):
        c = compare(runs[q], runs[q - 1], "now", "before")
        out.append(c is not None and c.hi is not None and c.hi < 0)
    return out


def after_flags(runs: list[dict[str, float]]) -> list[bool]:
    from modelsel.quarterly.drift import budget, drift_test

    out = []
    for q in range(1, len(runs)):
        b = budget(q, QUARTERS)
        d = drift_test(runs[:q], runs[q], permutations=4000)
        out.append(d is not None and not b.exhausted and d.diff < 0 and d.p < b.per_look)
    return out


def choice_rates(reps: int, rng: np.random.Generator) -> tuple[float, float]:
    """Two equal candidates (pass chance 0.8 each, bar 0.7, equal price): over 8 quarters, the share
    of histories with at least one 'does not hold' on the choice, before and after."""
    from corners import arrays, decide_run, req, row

    from modelsel.quarterly.review import _choice
    from modelsel.schema import Summary

    r = req(quality={"min_score": 0.7})
    old_any = new_any = 0
    for _ in range(reps):
        old_fail = new_fail = False
        for _q in range(QUARTERS):
            rows = [row(c, f"x{i}", float(rng.random() < 0.8), cost=0.001) for c in ("A", "B") for i in range(N)]
            d, *_ = decide_run(arrays(rows), r, ["A", "B"])
            if d.chosen != "A":
                old_fail = True
                s = Summary.model_validate({"modelsel_version": "b", "run": {"started_at": "x", "finished_at": "x",
                                            "requirements": "r", "evalset": "e", "n_examples": N}, "requirements": {},
                                            "candidates": {}, "decision": d.model_dump()})
                new_fail |= not all(f.holds for f in _choice(s, s, "A"))
        old_any += old_fail
        new_any += new_fail
    return old_any / reps, new_any / reps


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=400)
    args = ap.parse_args()
    rng = np.random.default_rng(20261206)
    t0 = time.perf_counter()
    same = {"before": 0, "after": 0}
    caught = {"before": 0, "after": 0}
    for _ in range(args.reps):
        h = history(rng, drop=False)
        same["before"] += any(before_flags(h))
        same["after"] += any(after_flags(h))
        h = history(rng, drop=True)
        caught["before"] += any(before_flags(h)[DROP_AT - 1:DROP_AT + 1])
        caught["after"] += any(after_flags(h)[DROP_AT - 1:DROP_AT + 1])
    old_choice, new_choice = choice_rates(max(50, args.reps // 4), rng)
    print(f"8-quarter histories, {args.reps} each (choice: {max(50, args.reps // 4)}), known truth.\n")
    print(f"{'(goal)':<96} {'before':>7} {'after':>7}")
    print(f"{'unchanged model: any drift alarm over 8 reviews (<= 5%)':<96} "
          f"{same['before'] / args.reps:7.1%} {same['after'] / args.reps:7.1%}")
    print(f"{'a 5-point drop at quarter 5: flagged at review 5 or 6 (>= 80%)':<96} "
          f"{caught['before'] / args.reps:7.1%} {caught['after'] / args.reps:7.1%}")
    print(f"{'two equal candidates: any does-not-hold on the choice over 8 reviews':<96} {old_choice:7.1%} {new_choice:7.1%}")
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
