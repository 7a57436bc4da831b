"""Claims in the corners of the third audit, with known truth: rates before and after, in one run.

Each line is a rate over --reps simulated runs in which the truth is known, through the public
stages the record uses (metrics.compute, limits.check, decision.decide). `--baseline PATH` runs the
same scenarios on an earlier checkout in a child process and prints both columns side by side.
The promise: 95% intervals cover >= 94%, a false 'worse' <= 5%, a false fail <= 5%.

    python benchmarks/corners3.py [--reps 400] [--baseline PATH]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _setup(tree: Path) -> None:
    sys.path.insert(0, str(tree))


# --- 1. every example passes, clusters forgotten --------------------------------------------------

def ceiling(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """80 examples in 8 clusters of 10. A cluster is strong (every answer right) with chance 0.9,
    else weak (right 30% of the time): truth 0.93, and all 80 right in about 43% of runs."""
    from corners import arrays, req, row

    from modelsel.analysis.limits import check
    from modelsel.analysis.metrics import compute

    truth = 0.9 * 1.0 + 0.1 * 0.3
    r = req(quality={"min_score": 0.935})
    cover = sure = 0
    for _ in range(reps):
        rows = []
        for c in range(8):
            p = 1.0 if rng.random() < 0.9 else 0.3
            rows += [row("a", f"x{c}-{i}", float(rng.random() < p), f"c{c}") for i in range(10)]
        figs, _, _ = compute(arrays(rows), r)
        q = figs["a"].quality
        cover += q.pass_lo is not None and q.pass_lo <= truth <= (q.pass_hi or 1.0)
        chk = next(x for x in check(figs["a"], r) if x.requirement == "quality.min_score")
        sure += chk.status == "pass"
    return {"1 80 examples in 8 clusters, truth 0.930: quality interval covers (>= 94%)": cover / reps,
            "1 same, bar 0.935 above the truth: a sure pass (<= 2.5%)": sure / reps}


# --- 5. graded scores in few clusters ------------------------------------------------------------

def graded_clusters(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """Graded scores in g clusters of 10; a cluster's level is drawn around 0.85 (SD 0.15), each
    score around it (SD 0.1), clipped to [0, 1]. Truth: the mean of that process."""
    from corners import arrays, req, row

    from modelsel.analysis.metrics import compute

    z = np.random.default_rng(5)
    lv = np.clip(0.85 + z.normal(0, 0.15, 200_000), 0, 1)
    truth = float(np.clip(lv[:, None] + z.normal(0, 0.1, (200_000, 5)), 0, 1).mean())
    r = req()
    out = {}
    for g in (4, 6, 8):
        cover = 0
        for _ in range(reps):
            rows = []
            for c in range(g):
                level = np.clip(0.85 + rng.normal(0, 0.15), 0, 1)
                rows += [row("a", f"x{c}-{i}", float(np.clip(level + rng.normal(0, 0.1), 0, 1)), f"c{c}") for i in range(10)]
            q = compute(arrays(rows), r)[0]["a"].quality
            cover += q.lo is not None and q.lo <= truth <= (q.hi if q.hi is not None else 1.0)
        out[f"5 graded scores in {g} clusters of 10: quality interval covers (>= 94%)"] = cover / reps
    return out


# --- 2. 'worse' under non_inferior ---------------------------------------------------------------

def worse_family(reps: int, rng: np.random.Generator) -> dict[str, float]:
    from corners import arrays, decide_run, req, row

    r = req(decision={"equivalence": "non_inferior", "small_difference": 0.05})
    out = {}
    for k in (10, 12):
        ids = [f"m{i}" for i in range(k)]
        hits = 0
        for _ in range(reps):
            rows = [row(c, f"x{i}", float(rng.random() < 0.8), cost=0.001 * (j + 1))
                    for j, c in enumerate(ids) for i in range(80)]
            d, *_ = decide_run(arrays(rows), r, ids)
            hits += any(v.verdict == "worse" for v in d.verdicts)
        out[f"2 {k} truly equal candidates, non_inferior: any called 'worse' (<= 5%)"] = hits / reps
    return out


# --- 6. graded non-inferiority with rare total failures -------------------------------------------

def rare_failures(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """A's graded scores around 0.8; B the same answers but a total failure (0) on 7% of examples:
    truly 5.6 points worse than A, over the 5-point margin. How often is B non-inferior within 0.05?"""
    from corners import arrays, decide_run, req, row

    r = req(decision={"equivalence": "non_inferior", "small_difference": 0.05})
    out = {}
    for n in (80, 200):
        ni = 0
        for _ in range(reps):
            a = np.clip(rng.normal(0.8, 0.15, n), 0, 1)
            b = np.where(rng.random(n) < 0.07, 0.0, a)
            rows = [row("A", f"x{i}", float(a[i]), cost=0.01) for i in range(n)]
            rows += [row("B", f"x{i}", float(b[i]), cost=0.001) for i in range(n)]
            d, *_ = decide_run(arrays(rows), r, ["A", "B"])
            ni += any(v.candidate == "B" and v.verdict == "non_inferior" for v in d.verdicts)
        out[f"6 graded, B = A but zeros on 7% (5.6 points worse), n={n}: 'non-inferior within 0.05' (<= 2.5%)"] = ni / reps
    return out


# --- 8. fairness across groups -------------------------------------------------------------------

def gaps(reps: int, rng: np.random.Generator) -> dict[str, float]:
    from corners import arrays, req, row

    from modelsel.analysis.limits import check
    from modelsel.analysis.metrics import compute

    r = req(quality={"max_gap": {"between": "lang:*", "gap": 0.05}})
    out = {}
    for truth, n, label, bad in (((0.967, 0.933, 0.6), 30, "true gap 37 points: eliminated (power)", "fail"),
                                 ((0.85, 0.85, 0.85), 30, "all 0.85: eliminated (<= 5%)", "fail"),
                                 ((0.90, 0.87, 0.87), 60, "true gap 3 points, limit 5: eliminated (<= 5%)", "fail")):
        hits = 0
        for _ in range(reps):
            rows = [row("a", f"{lang}{i}", float(rng.random() < p), tags=[f"lang:{lang}"])
                    for lang, p in zip(("en", "de", "es"), truth, strict=True) for i in range(n)]
            figs, _, _ = compute(arrays(rows), r)
            c = next(x for x in check(figs["a"], r) if x.requirement.startswith("quality.max_gap"))
            hits += c.status == bad
        out[f"8 en/de/es x {n}, {label}"] = hits / reps
    return out


# --- 9. many candidates ------------------------------------------------------------------------

def many(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """12 candidates on 80 examples, one (the cheapest) truly 10 points worse than the other 11.
    How often is it chosen, and how often does the opening then say a better-scoring model lost?"""
    from corners import arrays, decide_run, req, row

    r = req()
    ids = [f"m{i}" for i in range(12)]
    chosen = said = 0
    for _ in range(reps):
        rows = [row(c, f"x{i}", float(rng.random() < (0.7 if j == 0 else 0.8)), cost=0.001 * (j + 1))
                for j, c in enumerate(ids) for i in range(80)]
        d, figs, *_ = decide_run(arrays(rows), r, ids)
        if d.chosen == "m0":
            chosen += 1
            best = max(f.quality.mean or 0 for f in figs.values())
            said += best - (figs["m0"].quality.mean or 0) > r.decision.small_difference
    return {"9 12 candidates, the cheapest truly 10 points worse: chosen": chosen / reps,
            "9 same: chosen and a higher-scoring survivor more than small_difference above it (the opening "
            "now says so)": said / reps}


SCENARIOS = (ceiling, graded_clusters, worse_family, rare_failures, gaps, many)


def main() -> int:
    from corners import main as run

    return run(__file__, SCENARIOS, 20261206, reps=400)


if __name__ == "__main__":
    raise SystemExit(main())
