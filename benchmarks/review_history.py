"""Reviews over years, with known truth: 8-quarter histories of one decision, before and after.

An eval set of 80 examples; the incumbent's chance of a right answer per example is fixed (70% of
examples near-certain right, 15% near-certain wrong, 15% a coin between 0.3 and 0.7). Each quarter
a review re-runs it. Unchanged histories keep those chances; in drop histories four near-certain
examples go wrong from quarter 5 on (a true 5-point drop). The columns, on the very same histories:

- newest run: each review's paired test against the newest run only, at the two-sided 95% interval
  (how `review` picked its baseline before issue 50);
- baseline: the drift test of an earlier checkout (`--baseline PATH`), within its plan;
- this tree: modelsel's drift test (quarterly/drift.py) against the decision's run and the reviews
  since, within the plan's budget (one-sided 2.5% over 8 planned reviews, Bonferroni);
- e-process: a test martingale instead of the plan: this tree's statistic on the latest run alone
  (a conformal p-value per review, independent from review to review with no drift), each bet on
  with the mixture calibrator, mixed over the quarter the drop may start; an alarm when it reaches
  1/2.5% = 40. Valid at any number of reviews, no plan to run out of.

And two bounds, so the gap is plain: the same statistic if the whole 2.5% were spent at review 6
(a test that knows the drop starts at quarter 5: no plan could beat it with this statistic), and
the test that also knows which four examples broke.

The choice: two truly equal candidates near the quality bar (0.8 each, bar 0.7); 'does not hold'
whenever the rules pick the other one, before; against modelsel's `_choice`, split by its reason.

    python benchmarks/review_history.py [--reps 200] [--choice-reps N] [--baseline PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N, QUARTERS, DROP_AT, ALPHA = 80, 8, 5, 0.025


def chances(rng: np.random.Generator) -> np.ndarray:
    kind = rng.random(N)
    return np.where(kind < 0.70, 0.98, np.where(kind < 0.85, 0.03, rng.uniform(0.3, 0.7, N)))


def history(rng: np.random.Generator, drop: bool) -> list[dict[str, float]]:
    return history_of(rng, drop)[0]


def history_of(rng: np.random.Generator, drop: bool) -> tuple[list[dict[str, float]], list[str]]:
    """The runs, and the examples the drop breaks."""
    p = chances(rng)
    sure = np.flatnonzero(p == 0.98)[:4]
    runs = []
    for q in range(QUARTERS + 1):
        pq = p.copy()
        if drop and q >= DROP_AT:
            pq[sure] = 0.02
        runs.append({f"e{i}": float(x) for i, x in enumerate(rng.random(N) < pq)})
    return runs, [f"e{i}" for i in sure]


def newest_flags(runs: list[dict[str, float]]) -> list[bool]:
    from modelsel.analysis.metrics import compare

    out = []
    for q in range(1, len(runs)):
        c = compare(runs[q], runs[q - 1], "now", "before")
        out.append(c is not None and c.hi is not None and c.hi < 0)
    return out


def plan_flags(runs: list[dict[str, float]]) -> tuple[list[bool], list[float]]:
    """This tree's drift test within its plan, and its p-values (for the bound)."""
    from modelsel.quarterly.drift import budget, drift_test

    out, ps = [], []
    for q in range(1, len(runs)):
        b = budget(q, QUARTERS)
        d = drift_test(runs[:q], runs[q], permutations=4000)
        out.append(d is not None and not b.exhausted and d.diff < 0 and d.p < b.per_look)
        ps.append(d.p if d is not None and d.diff < 0 else 1.0)
    return out, ps


def _calibrate(p: float) -> float:
    """The mixture calibrator: the average of k p^(k-1) over k in (0, 1); a fair bet on a p-value."""
    if p >= 0.999:
        return 0.5
    lp = np.log(p)
    return float((1 - p + p * lp) / (p * lp * lp))


def eprocess_flags(runs: list[dict[str, float]]) -> list[bool]:
    """Conformal test martingale: the products of calibrated p-values from each possible start
    quarter s, mixed with weights 1/(s(s+1)) (they sum to 1, so the mixture is a test martingale;
    by Ville's inequality it ever reaches 1/alpha with chance at most alpha)."""
    from modelsel.quarterly.drift import drift_test

    bets, out = [], []
    for q in range(1, len(runs)):
        d = drift_test(runs[:q], runs[q], permutations=4000, windows=(1,))
        bets.append(_calibrate(d.p if d is not None else 1.0))
        m = sum(np.prod(bets[s - 1:]) / (s * (s + 1)) for s in range(1, q + 1)) + 1 / (q + 1)
        out.append(m >= 1 / ALPHA)
    return out


def known_examples_flag(runs: list[dict[str, float]], dropped: list[str]) -> bool:
    """The test that knows the quarter and the four examples: at review 6, the count of them wrong in
    both reviews 5 and 6; with no drift an example with m misses among its 7 runs has two of them
    there with chance m(m-1)/42, independently; the exact tail of the count at the whole 2.5%."""
    x = np.array([[r[e] for r in runs[:DROP_AT + 2]] for e in dropped])
    k = x.shape[1]
    hits = int(np.sum((x[:, -1] < 1) & (x[:, -2] < 1)))
    dist = np.array([1.0])
    for m in (x < 1).sum(axis=1):
        q = m * (m - 1) / (k * (k - 1))
        dist = np.convolve(dist, [1 - q, q])
    return hits > 0 and float(dist[hits:].sum()) < ALPHA


def choice_rates(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """Two equal candidates (pass chance 0.8 each, bar 0.7, equal price): over 8 quarters, the share
    of histories with at least one 'does not hold' on the choice, and by which reason."""
    from corners import arrays, decide_run, req, row

    from modelsel.quarterly.review import _choice
    from modelsel.schema import Summary

    r = req(quality={"min_score": 0.7})
    rates = {"rules_pick_other": 0, "any": 0, "new_choice": 0, "incumbent_eliminated": 0}
    for _ in range(reps):
        seen: set[str] = set()
        for q in range(QUARTERS):
            rows = [row(c, f"x{i}", float(rng.random() < 0.8), cost=0.001) for c in ("A", "B") for i in range(N)]
            d, *_ = decide_run(arrays(rows), r, ["A", "B"])
            if d.chosen != "A":
                seen.add("rules_pick_other")
                s = Summary.model_validate({"modelsel_version": "b", "run": {"started_at": "x", "finished_at": "x",
                                            "requirements": "r", "evalset": "e", "n_examples": N}, "requirements": {},
                                            "candidates": {}, "decision": d.model_dump()})
                try:
                    found = _choice(s, s, "A", look=q + 1, planned=QUARTERS)
                except TypeError:  # an earlier checkout: no plan for the choice
                    found = _choice(s, s, "A")
                for f in found:
                    if not f.holds:
                        seen |= {"any", f.kind}
        for k in seen & set(rates):
            rates[k] += 1
    return {k: v / reps for k, v in rates.items()}


def measure(reps: int, full: bool, choice_reps: int) -> dict[str, float]:
    rng = np.random.default_rng(20261206)
    got = dict.fromkeys(["newest_same", "plan_same", "e_same", "newest_drop", "plan_drop", "e_drop",
                         "spent_at_6", "known_examples"], 0.0)
    for _ in range(reps):
        h = history(rng, drop=False)
        got["newest_same"] += any(newest_flags(h))
        got["plan_same"] += any(plan_flags(h)[0])
        h, dropped = history_of(rng, drop=True)
        win = slice(DROP_AT - 1, DROP_AT + 1)
        got["newest_drop"] += any(newest_flags(h)[win])
        flags, ps = plan_flags(h)
        got["plan_drop"] += any(flags[win])
        if full:
            got["e_drop"] += any(eprocess_flags(h)[win])
            got["spent_at_6"] += ps[DROP_AT] < ALPHA
            got["known_examples"] += known_examples_flag(h, dropped)
    if full:  # the e-process's false alarms on fresh unchanged histories (its own stream)
        rng2 = np.random.default_rng(20261207)
        for _ in range(reps):
            got["e_same"] += any(eprocess_flags(history(rng2, drop=False)))
    out = {k: v / reps for k, v in got.items()}
    out.update({f"choice_{k}": v for k, v in choice_rates(choice_reps, rng).items()})
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--baseline", type=Path, help="an earlier checkout: its drift test on the same histories")
    ap.add_argument("--choice-reps", type=int, help="histories for the choice rows (default: a quarter of --reps, at least 50)")
    ap.add_argument("--tree", type=Path, default=HERE.parent, help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sys.path.insert(0, str(args.tree))
    sys.path.insert(1, str(HERE))
    creps = args.choice_reps or max(50, args.reps // 4)
    if args.json:
        print(json.dumps(measure(args.reps, full=False, choice_reps=creps)))
        return 0
    t0 = time.perf_counter()
    base: dict[str, float] = {}
    if args.baseline:
        env = dict(os.environ, PYTHONPATH=str(args.baseline))
        got = subprocess.run([sys.executable, __file__, "--json", "--reps", str(args.reps), "--choice-reps", str(creps), "--tree", str(args.baseline)],
                             capture_output=True, text=True, env=env, check=True)
        base = json.loads(got.stdout.strip().splitlines()[-1])
    now = measure(args.reps, full=True, choice_reps=creps)

    def col(d: dict[str, float], k: str) -> str:
        return f"{d[k]:10.1%}" if k in d else f"{'-':>10}"

    print(f"8-quarter histories, {args.reps} each (choice: {creps}), known truth; "
          f"baseline: {args.baseline or '-'}.\n")
    print(f"{'(goal)':<70} {'newest run':>10} {'baseline':>10} {'this tree':>10} {'e-process':>10}")
    for label, k in (("unchanged model: any drift alarm over 8 reviews (<= 5%)", "same"),
                     ("a 5-point drop at quarter 5: flagged at review 5 or 6 (>= 80%)", "drop")):
        print(f"{label:<70} {col(now, 'newest_' + k)} {col(base, 'plan_' + k)} {col(now, 'plan_' + k)} "
              f"{col(now, 'e_' + k)}")
    print("\nbounds on the drop's detection, for tests told what no review knows:")
    print(f"{'  the whole 2.5% spent at review 6 (knows the quarter)':<70} {'':>10} {'':>10} {col(now, 'spent_at_6')}")
    print(f"{'  ... and knows which four examples broke':<70} {'':>10} {'':>10} {col(now, 'known_examples')}")
    print(f"\n{'two equal candidates, any does-not-hold on the choice over 8 reviews':<70} "
          f"{col(now, 'choice_rules_pick_other')} {col(base, 'choice_any')} {col(now, 'choice_any')}")
    for label, k in (("  of which: a challenger called better (a flip)", "choice_new_choice"),
                     ("  of which: the incumbent under the bar in that run", "choice_incumbent_eliminated")):
        print(f"{label:<70} {'':>10} {col(base, k)} {col(now, k)}")
    print(f"\n(newest run's choice column: the rules pick the other candidate at all; {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
