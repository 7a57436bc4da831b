"""Statistical formulas, pure and seeded. Every interval is 95% unless stated."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats as sps

Z95 = 1.959963984540054
SEED = 20240601  # bootstrap is seeded: the same run always prints the same intervals


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (good at 0, 1 and small n)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At k = 0 or k = n the bound is exactly 0 or 1; float rounding must not move it.
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


def mean_ci(x: Sequence[float], clusters: Sequence[str] | None = None) -> tuple[float, float, float]:
    """Mean with a t interval; cluster-robust when examples share a cluster."""
    a = np.asarray(x, dtype=float)
    n = len(a)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    m = float(a.mean())
    if n == 1:
        return (m, math.nan, math.nan)  # one example: no interval can be computed, and we say so
    if clusters is not None and len(set(clusters)) < n:
        ids = np.asarray(clusters)
        groups = [a[ids == g] for g in dict.fromkeys(clusters)]
        g = len(groups)
        if g < 2:
            return (m, math.nan, math.nan)
        resid = np.array([float(np.sum(grp - m)) for grp in groups])
        se = math.sqrt(float(np.sum(resid**2))) / n * math.sqrt(g / (g - 1))
        df = g - 1
    else:
        se = float(a.std(ddof=1)) / math.sqrt(n)
        df = n - 1
    if se == 0:
        return (m, m, m)
    t = float(sps.t.ppf(0.975, df))
    return (m, m - t * se, m + t * se)


def bootstrap_ci(x: Sequence[float], stat: Callable[[np.ndarray], float], n_boot: int = 2000,
                 seed: int = SEED) -> tuple[float, float]:
    a = np.asarray(x, dtype=float)
    if len(a) < 2:
        v = stat(a) if len(a) else math.nan
        return (v, v)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(n_boot, len(a)))
    vals = np.apply_along_axis(stat, 1, a[idx]) if stat not in _FAST else _FAST[stat](a[idx])
    return (float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5)))


def pct(q: float) -> Callable[[np.ndarray], float]:
    f = _PCT.get(q)
    if f is None:
        def f(a: np.ndarray) -> float:
            return float(np.percentile(a, q))
        _PCT[q] = f
        _FAST[f] = lambda m: np.percentile(m, q, axis=1)
    return f


_PCT: dict[float, Callable[[np.ndarray], float]] = {}
_FAST: dict[Callable, Callable[[np.ndarray], np.ndarray]] = {}


def percentile_ci(x: Sequence[float], q: float) -> tuple[float, float, float]:
    """A latency percentile with a seeded bootstrap interval."""
    a = np.asarray(x, dtype=float)
    if len(a) == 0:
        return (math.nan, math.nan, math.nan)
    v = float(np.percentile(a, q))
    lo, hi = bootstrap_ci(a, pct(q))
    return (v, lo, hi)


def paired_difference(a: Sequence[float], b: Sequence[float], binary: bool) -> dict[str, float | int | str]:
    """Difference a - b on the same examples: mean, 95% interval, p-value.
    Pass/fail uses the exact McNemar test; graded scores a paired t test."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = len(x)
    d = x - y
    diff = float(d.mean()) if n else math.nan
    out: dict[str, float | int | str] = {"n": n, "diff": diff}
    if n < 2:
        out.update(lo=math.nan, hi=math.nan, p_value=1.0, test="none")
        return out
    sd = float(d.std(ddof=1))
    t = float(sps.t.ppf(0.975, n - 1))
    out["lo"], out["hi"] = diff - t * sd / math.sqrt(n), diff + t * sd / math.sqrt(n)
    out["sd_diff"] = sd
    if binary:
        b01 = int(np.sum((x == 1) & (y == 0)))
        b10 = int(np.sum((x == 0) & (y == 1)))
        out["discordant"] = b01 + b10
        out["p_value"] = float(sps.binomtest(b01, b01 + b10, 0.5).pvalue) if b01 + b10 else 1.0
        out["test"] = "mcnemar_exact"
    else:
        out["p_value"] = 1.0 if sd == 0 else float(sps.ttest_rel(x, y).pvalue)
        out["test"] = "paired_t"
    return out


def resolvable_difference(n: int, sd_diff: float = 0.5) -> float:
    """Half-width of the 95% interval of a paired difference: smaller gaps are not resolvable."""
    return Z95 * sd_diff / math.sqrt(n) if n else math.inf


def minimum_detectable_difference(n: int, sd_diff: float = 0.5, power: float = 0.8) -> float:
    """Smallest true difference a paired test finds with the given power at alpha 0.05."""
    if not n:
        return math.inf
    return (Z95 + float(sps.norm.ppf(power))) * sd_diff / math.sqrt(n)


def ab_sample_size(p1: float, p2: float, power: float = 0.8) -> int | None:
    """Users per arm for a two-proportion A/B test (normal approximation, alpha 0.05 two-sided)."""
    delta = abs(p1 - p2)
    if delta == 0:
        return None
    pbar = (p1 + p2) / 2
    zb = float(sps.norm.ppf(power))
    n = (Z95 * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / delta**2
    return math.ceil(n)


def monthly_projection(per_request: float, requests: int, growth_pct: float, months: int,
                       fixed: float = 0.0) -> dict[str, float]:
    """Cost at projected volume: month 1, the last month of the horizon, and the horizon total."""
    g = 1 + growth_pct / 100
    per_month = [per_request * requests * g**i + fixed for i in range(months)]
    return {"first_month_usd": per_month[0], "last_month_usd": per_month[-1], "horizon_total_usd": sum(per_month),
            "peak_requests": requests * g ** (months - 1)}
