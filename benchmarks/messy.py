"""Messy data, known truth: the rates behind issue 21, before and after, in one run.

- clustered pass/fail quality with few clusters (4 x 15, 6 x 10, 10 x 6): coverage of the
  Korn-Graubard interval without and with its degrees-of-freedom adjustment;
- paired comparisons when examples share clusters (6 x 10, equal true quality): how often the
  interval excludes 0, and how often the 10x dearer model is chosen as 'better', with the
  per-example Tango test (before) and the cluster-robust t (after);
- repeats (60 examples x 5): coverage of the pass-rate interval over calls (before) and with
  repeats as clusters (after); the must-pass bound for a tag of 10 examples;
- many candidates (5 and 8 of equal quality, n=80): how often one is declared worse than the
  best, and how often the cheapest is missed, unadjusted (before) and with Holm over the table;
- review: how often 'quality drifted down' fires on an unchanged model (promised: 2.5%).

    python benchmarks/messy.py [--reps 2000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modelsel.analysis import stats  # noqa: E402


def old_clustered_proportion(x: np.ndarray, cl: list[str]) -> tuple[float, float, float]:
    """Korn-Graubard at n_eff without the degrees-of-freedom adjustment (what modelsel printed)."""
    a = np.asarray(x, float)
    n, m = len(a), float(np.mean(x))
    inv, g = stats.cluster_index(cl)
    se = stats.cluster_robust_se(a, inv, g)
    var = se * se
    n_eff = float(n) if var <= 0 or m in (0.0, 1.0) else min(float(n), m * (1 - m) / var)
    k = m * n_eff
    lo = 0.0 if k <= 0 else stats.beta_ppf(0.025, k, n_eff - k + 1)
    hi = 1.0 if k >= n_eff else stats.beta_ppf(0.975, k + 1, n_eff - k)
    return m, lo, hi


def _truth(base: float, sd: float) -> float:
    r = np.random.default_rng(1).normal(0, sd, 2_000_000)
    return float(np.clip(base + r, 0.0, 1.0).mean())


def few_clusters(reps: int, rng: np.random.Generator) -> None:
    print("Clustered pass/fail quality, worst coverage over base 0.6/0.8/0.9 and cluster SD 0.1/0.2 (target >= 94%)")
    for g, m in ((4, 15), (6, 10), (10, 6)):
        worst_old = worst_new = 1.0
        for base in (0.6, 0.8, 0.9):
            for sd in (0.1, 0.2):
                truth = _truth(base, sd)
                ho = hn = 0
                for _ in range(reps):
                    p = np.clip(base + rng.normal(0, sd, g), 0, 1)
                    x = (rng.random((g, m)) < p[:, None]).astype(float).ravel()
                    cl = [str(i // m) for i in range(g * m)]
                    _, lo, hi = old_clustered_proportion(x, cl)
                    ho += lo <= truth <= hi
                    _, lo, hi = stats.clustered_proportion(x, cl)
                    hn += lo <= truth <= hi
                worst_old, worst_new = min(worst_old, ho / reps), min(worst_new, hn / reps)
        print(f"  {g} clusters x {m}: before {worst_old:6.1%}   after {worst_new:6.1%}")


def clustered_pairs(reps: int, rng: np.random.Generator) -> None:
    print("\nPaired comparison, 6 clusters x 10, equal true quality (cluster SD of the advantage 0.25)")
    sig_old = sig_new = dear_old = dear_new = 0
    for _ in range(reps):
        shift = rng.normal(0, 0.25, 6)
        pa = np.clip(0.7 + shift, 0.02, 0.98)
        pb = np.clip(0.7 - shift, 0.02, 0.98)
        a = (rng.random((6, 10)) < pa[:, None]).astype(float).ravel()
        b = (rng.random((6, 10)) < pb[:, None]).astype(float).ravel()
        cl = [str(i // 10) for i in range(60)]
        old = stats.paired_difference(a, b, binary=True)
        new = stats.paired_difference(a, b, binary=True, clusters=cl)
        s_old = old.lo > 0 or old.hi < 0
        s_new = new.lo > 0 or new.hi < 0
        sig_old += s_old
        sig_new += s_new
        dear_old += old.lo > 0  # 'a' (10x dearer) shown better: chosen over the cheaper 'b'
        dear_new += new.lo > 0
    print(f"  interval excludes 0:          before {sig_old / reps:6.1%}   after {sig_new / reps:6.1%}   (target <= 5%)")
    print(f"  10x dearer model chosen:      before {dear_old / reps:6.1%}   after {dear_new / reps:6.1%}   (target <= 2.5%)")
    # coverage when one model is truly better by about 10 points, and interval/test agreement
    s = np.random.default_rng(4).normal(0, 0.25, 2_000_000)
    truth = float(np.mean(np.clip(0.75 + s, 0.02, 0.98) - np.clip(0.65 - s, 0.02, 0.98)))
    hits = disagree = 0
    for _ in range(reps // 2):
        shift = rng.normal(0, 0.25, 6)
        a = (rng.random((6, 10)) < np.clip(0.75 + shift, 0.02, 0.98)[:, None]).astype(float).ravel()
        b = (rng.random((6, 10)) < np.clip(0.65 - shift, 0.02, 0.98)[:, None]).astype(float).ravel()
        r = stats.paired_difference(a, b, binary=True, clusters=[str(i // 10) for i in range(60)])
        hits += r.lo <= truth <= r.hi
        disagree += (r.lo > 0 or r.hi < 0) != (r.p_value < 0.05)
    print(f"  coverage at a true gap of {truth * 100:.1f} points: after {hits / (reps // 2):6.1%}; interval and test "
          f"disagree in {disagree / (reps // 2):.2%} of runs")


def repeats(reps: int, rng: np.random.Generator) -> None:
    print("\nRepeats: 60 examples x 5, example pass probabilities from Beta(2, 1) (truth 2/3)")
    truth = 2 / 3
    ho = hn = 0
    w_old = w_new = 0.0
    for _ in range(reps):
        p = rng.beta(2, 1, 60)
        x = (rng.random((60, 5)) < p[:, None]).astype(float).ravel()
        cl = [str(i // 5) for i in range(300)]
        lo, hi = stats.clopper_pearson(int(x.sum()), 300)
        ho += lo <= truth <= hi
        w_old += hi - lo
        _, lo, hi = stats.clustered_proportion(x, cl)
        hn += lo <= truth <= hi
        w_new += hi - lo
    print(f"  pass-rate coverage:           before {ho / reps:6.1%}   after {hn / reps:6.1%}   "
          f"(mean width {w_old / reps:.3f} -> {w_new / reps:.3f})")
    x = np.array([1.0] * 200 + [0.0] * 100)  # 40 examples always right, 20 always wrong, 5 times each
    cl = [str(i // 5) for i in range(300)]
    lo, hi = stats.clopper_pearson(200, 300)
    _, nlo, nhi = stats.clustered_proportion(x, cl)
    print(f"  40 of 60 always right, x5:    before [{lo:.3f}, {hi:.3f}]   after [{nlo:.3f}, {nhi:.3f}]   "
          f"(60 independent examples: {stats.clopper_pearson(40, 60)[0]:.3f}-{stats.clopper_pearson(40, 60)[1]:.3f})")
    print(f"  must-pass, 10 examples x5 all passed: 'failure rate up to' before {stats.clopper_pearson(0, 50)[1]:.0%}"
          f"   after {stats.clopper_pearson(0, 10)[1]:.0%}")


def many(reps: int, rng: np.random.Generator) -> None:
    from datetime import date

    from modelsel.analysis.decision import decide
    from modelsel.analysis.metrics import compute, find
    from modelsel.catalog.compliance import Screening
    from modelsel.catalog.models import Candidate
    from modelsel.inputs.requirements import Requirements
    from modelsel.run.calls import Calls
    from modelsel.run.records import Record

    req = Requirements.model_validate({"task": "t", "evalset": "x", "candidates": [{"catalog": "x"}],
                                       "quality": {"min_score": 0.5}, "decision": {"max_error_rate": 0.5}})
    print("\nMany candidates of equal quality (pass rate 0.8, n=80 each)")
    for k in (5, 8):
        worse_old = worse_new = miss_old = miss_new = 0
        for _ in range(reps):
            rows = []
            for j in range(k):
                for i in range(80):
                    ok = bool(rng.random() < 0.8)
                    rows.append(Record(candidate=f"m{j}", example_id=f"x{i}", tags=["t"], score=float(ok), passed=ok,
                                       latency_ms=100.0, cost_usd=0.001 * (j + 1), attempts=1))
            arr = Calls.from_records(rows).arrays()
            figs, comps, _ = compute(arr, req)
            cands = [Candidate(id=f"m{j}", provider="x", vendor=f"v{j}", model="m") for j in range(k)]
            d, _ = decide(cands, figs, comps, req, Screening(), date(2026, 12, 1))
            best = d.best
            old = [o for o in figs if o != best and (c := find(comps, best, o)) is not None and c.lo is not None and c.lo > 0]
            worse_old += bool(old)
            miss_old += "m0" in old
            worse_new += any(v.verdict == "worse" for v in d.verdicts)
            miss_new += d.chosen != "m0"
        print(f"  {k} candidates: one declared worse   before {worse_old / reps:6.1%}   after {worse_new / reps:6.1%}"
              f"   (target <= 5%)")
        print(f"  {k} candidates: cheapest missed      before {miss_old / reps:6.1%}   after {miss_new / reps:6.1%}")


def drift(reps: int, rng: np.random.Generator) -> None:
    from modelsel.analysis.metrics import compare

    print("\nReview of an unchanged model, 64 examples of varied difficulty (promised one-sided: 2.5%)")
    p = rng.beta(4, 1.5, 64)
    old_alarm = new_alarm = 0
    for _ in range(reps):
        a = {f"x{i}": float(rng.random() < p[i]) for i in range(64)}
        b = {f"x{i}": float(rng.random() < p[i]) for i in range(64)}
        va = np.array(list(a.values()))
        lo, _ = stats.clopper_pearson(int(va.sum()), 64)
        c = compare(b, a, "now", "before")
        sig = c is not None and c.hi is not None and c.hi < 0
        old_alarm += float(np.mean(list(b.values()))) < lo or sig
        new_alarm += sig
    print(f"  'quality drifted down':       before {old_alarm / reps:6.1%}   after {new_alarm / reps:6.1%}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=2000)
    args = ap.parse_args()
    rng = np.random.default_rng(20261202)
    t0 = time.perf_counter()
    few_clusters(args.reps, rng)
    clustered_pairs(args.reps * 2, rng)
    repeats(args.reps, rng)
    many(max(200, args.reps // 4), rng)
    drift(args.reps, rng)
    print(f"\n({time.perf_counter() - t0:.0f} s; {args.reps} draws per setting)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
