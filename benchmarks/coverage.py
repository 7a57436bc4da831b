"""How often does each 95% interval the record prints contain the truth? At n = 50, 80 and 100:
one line per interval and n, with the worst case over a grid of true parameters. Intervals on
counts (pass/fail quality, paired pass/fail differences) are computed exactly, summing over every
possible outcome; the others by simulation with known truth. Every 95% interval must reach >= 94%.

Also printed, for the record: the methods modelsel used before (percentile bootstrap for latency
percentiles, a t interval on pass/fail differences beside an exact McNemar test), so the change
shows in one run.

    python benchmarks/coverage.py [--reps 2000]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modelsel.analysis import stats  # noqa: E402

NS = (50, 80, 100)


# --- the methods modelsel printed before (kept here only to measure them) -------------------------

def old_wilson(k: int, n: int) -> tuple[float, float]:
    z = stats.Z95
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (0.0 if k == 0 else centre - half, 1.0 if k == n else centre + half)


def old_percentile_bootstrap(x: np.ndarray, q: float, n_boot: int = 2000, seed: int = 20240601) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    vals = np.percentile(x[idx], q, axis=1)
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def old_paired_binary(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """t interval on the differences + exact McNemar p: the pair that could disagree."""
    from scipy import stats as sps

    d = a - b
    n = len(d)
    m, sd = d.mean(), d.std(ddof=1)
    t = sps.t.ppf(0.975, n - 1)
    lo, hi = m - t * sd / math.sqrt(n), m + t * sd / math.sqrt(n)
    b01, b10 = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    p = float(sps.binomtest(b01, b01 + b10, 0.5).pvalue) if b01 + b10 else 1.0
    return lo, hi, p


# --- simulations ---------------------------------------------------------------------------------

def line(name: str, n: int, cov: float, extra: str = "", target: float = 0.94) -> bool:
    ok = cov >= target
    print(f"{name:<52} n={n:<4} {cov * 100:5.1f}%  {'ok' if ok else 'BELOW ' + format(target, '.0%')}{extra}")
    return ok


def binomial_pmf(n: int, p: float) -> np.ndarray:
    return np.diff(np.concatenate(([0.0], stats.binom_cdf_all(n, p))))


def proportion_cov(n: int, interval) -> float:  # type: ignore[no-untyped-def]
    """Exact worst coverage over true pass rates 0.5-0.995 (symmetric below 0.5)."""
    bounds = [interval(k, n) for k in range(n + 1)]
    worst = 1.0
    for p in np.linspace(0.5, 0.995, 100):
        pmf = binomial_pmf(n, p)
        worst = min(worst, float(sum(pmf[k] for k in range(n + 1) if bounds[k][0] <= p <= bounds[k][1])))
    return worst


def t_cov(n: int, reps: int, rng: np.random.Generator, method=None) -> float:  # type: ignore[no-untyped-def]
    from modelsel.analysis import betting

    method = method or betting.interval
    worst = 1.0
    for a, b in ((2, 2), (5, 2), (8, 1.5), (20, 1)):  # graded scores in [0, 1] with known mean, up to strongly skewed
        mu = a / (a + b)
        hits = 0
        for _ in range(reps):
            _, lo, hi = method(rng.beta(a, b, n))
            hits += lo <= mu <= hi
        worst = min(worst, hits / reps)
    return worst


def cluster_cov(n: int, reps: int, rng: np.random.Generator, method=None) -> float:  # type: ignore[no-untyped-def]
    """Pass/fail examples in clusters of 2-4 that share a difficulty (intra-cluster correlation)."""
    method = method or stats.clustered_proportion
    worst = 1.0
    for base in (0.6, 0.8):
        hits = 0
        for _ in range(reps):
            sizes, total = [], 0
            while total < n:
                s = int(rng.integers(2, 5))
                sizes.append(min(s, n - total))
                total += sizes[-1]
            vals, cl = [], []
            for g, s in enumerate(sizes):
                p = min(1.0, max(0.0, base + rng.normal(0, 0.15)))
                vals += list(rng.binomial(1, p, s).astype(float))
                cl += [str(g)] * s
            _, lo, hi = method(vals, cl)
            # truth: the expected mean of the clipped cluster probabilities (computed by a large draw below)
            hits += lo <= _cluster_truth(base) <= hi
        worst = min(worst, hits / reps)
    return worst


_TRUTH: dict[float, float] = {}


def _cluster_truth(base: float) -> float:
    if base not in _TRUTH:
        r = np.random.default_rng(1).normal(0, 0.15, 2_000_000)
        _TRUTH[base] = float(np.clip(base + r, 0, 1).mean())
    return _TRUTH[base]


GRID = [(p12, p21) for p12 in np.linspace(0, 0.4, 9) for p21 in np.linspace(0, 0.4, 9)]


def paired_binary_cov(n: int, old: bool = False) -> tuple[float, float]:
    """Exact worst coverage over a grid of (p12, p21), and the share of all possible tables on
    which the interval and its test disagree."""
    from scipy import stats as sps

    tables = [(a, b) for a in range(n + 1) for b in range(n + 1 - a)]
    got = {}
    disagree = 0
    for a, b in tables:
        if old:
            x = np.array([1] * a + [0] * b + [1] * (n - a - b), float)
            y = np.array([0] * a + [1] * b + [1] * (n - a - b), float)
            lo, hi, p = old_paired_binary(x, y) if a + b else (0.0, 0.0, 1.0)
        else:
            lo, hi, p = stats.tango(a, b, n)
        got[(a, b)] = (lo, hi)
        disagree += (lo > 0 or hi < 0) != (p < 0.05)
    ca = np.array([t[0] for t in tables])
    cb = np.array([t[1] for t in tables])
    lo = np.array([got[t][0] for t in tables])
    hi = np.array([got[t][1] for t in tables])
    worst = 1.0
    for p12, p21 in GRID:
        d = p12 - p21
        pmf = sps.multinomial.pmf(np.stack([ca, cb, n - ca - cb], 1), n, [p12, p21, 1 - p12 - p21])
        worst = min(worst, float(pmf[(lo <= d + 1e-12) & (d - 1e-12 <= hi)].sum()))
    return worst, disagree / len(tables)


def graded_cluster_cov(n: int, reps: int, rng: np.random.Generator) -> float:
    """Graded scores in clusters of 2-4 sharing a cluster effect: the cluster-robust t interval."""
    hits = 0
    for _ in range(reps):
        vals, cl, g = [], [], 0
        while len(vals) < n:
            s = min(int(rng.integers(2, 5)), n - len(vals))
            u = rng.normal(0, 0.1)
            vals += list(np.clip(0.7 + u + rng.normal(0, 0.15, s), 0, 1))
            cl += [str(g)] * s
            g += 1
        _, lo, hi = stats.mean_ci(vals, cl)
        hits += lo <= _graded_cluster_truth() <= hi
    return hits / reps


_GCT: list[float] = []


def _graded_cluster_truth() -> float:
    if not _GCT:
        r = np.random.default_rng(3)
        _GCT.append(float(np.clip(0.7 + r.normal(0, 0.1, 2_000_000) + r.normal(0, 0.15, 2_000_000), 0, 1).mean()))
    return _GCT[0]


def paired_t_cov(n: int, reps: int, rng: np.random.Generator) -> float:
    worst = 1.0
    for shift in (0.0, 0.05, 0.1):
        hits = 0
        for _ in range(reps):
            a = rng.beta(4, 2, n)
            b = np.clip(a - shift + rng.normal(0, 0.15, n), 0, 1)
            true = shift_truth(shift)
            r = stats.paired_difference(a, b, binary=False)
            hits += r.lo <= true <= r.hi
        worst = min(worst, hits / reps)
    return worst


_PT: dict[float, float] = {}


def shift_truth(shift: float) -> float:
    """E[a - clip(a - shift + e, 0, 1)], by a large draw."""
    if shift not in _PT:
        r = np.random.default_rng(2)
        a = r.beta(4, 2, 2_000_000)
        _PT[shift] = float((a - np.clip(a - shift + r.normal(0, 0.15, 2_000_000), 0, 1)).mean())
    return _PT[shift]


def quantile_cov(n: int, q: float, reps: int, rng: np.random.Generator, old: bool = False) -> tuple[float, float]:
    """(coverage, share of draws with no upper bound) for lognormal latency, sigma 0.5."""
    true = math.exp(0.5 * stats.norm_ppf(q / 100))
    hits, unbounded = 0, 0
    for _ in range(reps):
        x = rng.lognormal(0, 0.5, n)
        if old:
            lo, hi = old_percentile_bootstrap(x, q)
        else:
            c = stats.quantile_ci(x, q)
            lo = c.lo if c.lo is not None else -math.inf
            hi = c.hi if c.hi is not None else math.inf
            unbounded += c.hi is None
        hits += lo <= true <= hi
    return hits / reps, unbounded / reps


def mde_power(n: int, reps: int, rng: np.random.Generator) -> float:
    """The record says differences of MDD points are found with 80% power: check it."""
    sd = 0.5
    delta = stats.minimum_detectable_difference(n, sd)
    found = 0
    for _ in range(reps):
        d = rng.normal(delta, sd, n)
        r = stats.paired_difference(d, np.zeros(n), binary=False)
        found += r.lo > 0
    return found / reps


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=4000, help="simulated draws per true parameter")
    args = ap.parse_args()
    rng = np.random.default_rng(20261124)
    t0 = time.perf_counter()
    ok = True
    se = math.sqrt(0.95 * 0.05 / args.reps) * 100
    print(f"Coverage of every 95% interval the record prints (worst case over a grid of true parameters).\n"
          f"'exact': summed over every possible outcome; 'sim': {args.reps} simulated draws per parameter "
          f"(standard error {se:.2f} points, so the worst of several is biased low by about that much).\n")
    for n in NS:
        ok &= line("quality, pass/fail (exact binomial) [exact]", n, proportion_cov(n, stats.clopper_pearson))
        ok &= line("quality, graded (bounded: betting) [sim]", n, t_cov(n, args.reps // 2, rng))
        ok &= line("quality, clustered pass/fail (exact at n_eff) [sim]", n, cluster_cov(n, args.reps // 2, rng))
        ok &= line("quality, clustered graded (CR2, Bell-McCaffrey df) [sim]", n, graded_cluster_cov(n, args.reps // 2, rng))
        cov, dis = paired_binary_cov(n)
        ok &= line("paired pass/fail (Tango, cc 1/2) [exact]", n, cov,
                   f"  interval/test disagree on {dis * 100:.2f}% of tables")
        ok &= line("paired graded (paired t) [sim]", n, paired_t_cov(n, args.reps // 2, rng))
        for q in (50, 95, 99):
            cov, unb = quantile_cov(n, q, args.reps, rng)
            extra = f"  no upper bound in {unb * 100:.0f}% of draws (n < {stats.min_n_for_upper_bound(q / 100)})" if unb else ""
            ok &= line(f"latency p{q} (order statistics) [sim]", n, cov, extra)
        p = mde_power(n, args.reps, rng)
        ok &= line("MDE claim: power at the stated MDD [sim]", n, p, "  (claim: 80%)", target=0.79)
        print()
    print("Before (the methods modelsel printed until this change):")
    for n in NS:
        line("quality, pass/fail (Wilson) [exact]", n, proportion_cov(n, old_wilson))
        line("quality, graded (t) [sim]", n, t_cov(n, args.reps // 2, rng, stats.mean_ci))
        line("quality, graded (bootstrap-t) [sim]", n, t_cov(n, args.reps // 2, rng, stats.mean_ci_boot_t))
        line("quality, clustered pass/fail (cluster-robust t) [sim]", n, cluster_cov(n, args.reps // 2, rng, stats.mean_ci))
        for q in (50, 95, 99):
            cov, _ = quantile_cov(n, q, max(200, args.reps // 10), rng, old=True)
            line(f"latency p{q} (percentile bootstrap) [sim]", n, cov)
        cov, dis = paired_binary_cov(n, old=True)
        line("paired pass/fail (t + exact McNemar) [exact]", n, cov, f"  interval/test disagree on {dis * 100:.2f}% of tables")
    print(f"\n{'all current intervals keep their promise' if ok else 'SOME CURRENT INTERVAL UNDER-COVERS'} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
