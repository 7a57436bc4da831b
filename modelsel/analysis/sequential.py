"""Confidence sequences: intervals that hold at every look at once, for a live trial the team
reads every day and may stop as soon as the evidence is in.

A fixed-n interval read daily and acted on the first day it excludes a value misses far more often
than its 5% (benchmarks/trial.py prints how often). A confidence sequence C_t covers the true mean
at every t simultaneously with probability 1 - alpha, so stopping at any look, chosen by looking,
keeps its level.

- Bounded signals in [0, 1] (thumbs-down, errors): the predictable plug-in empirical-Bernstein
  confidence sequence (Waudby-Smith and Ramdas 2024, JRSS B, Theorem 2), valid for every
  distribution on [0, 1] at every n, not only as n grows.
- Unbounded signals (latency, cost per request): the asymptotic confidence sequence of
  Waudby-Smith, Arnold, Wu, McAuliffe and Ramdas (2024, "Time-uniform central limit theory and
  asymptotic confidence sequences", Annals of Statistics, Theorem 2.2), valid as the count grows for
  any distribution with a finite variance (a Robbins normal mixture with the running variance).

Two arms: a sequence for each arm at alpha/2 and their difference [lo_B - hi_A, hi_B - lo_A]; by
the union bound it covers mu_B - mu_A at every look with probability 1 - alpha, however the arms'
requests interleave (a 10% canary, a shadow call per request). Each arm's sequence is the running
intersection of its intervals, so the difference's interval only shrinks and a margin once
excluded stays excluded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

C_MAX = 0.5  # the empirical-Bernstein stake's cap (WSR's c in (0, 1); 1/2 keeps psi_E tame)

# What each confidence sequence is called in the trial record (one place, as analysis/methods.py
# holds the eval's; the trial is a separate record).
METHODS = {
    "eb": ("empirical Bernstein CS", "the predictable plug-in empirical-Bernstein confidence sequence "
           "(Waudby-Smith and Ramdas 2024), valid at every look for any distribution on [0, 1]"),
    "asymptotic": ("asymptotic CS", "the asymptotic confidence sequence (Waudby-Smith, Arnold, Wu, McAuliffe and "
                   "Ramdas 2024), valid at every look as the count grows, for any distribution with a finite variance"),
}


@dataclass(frozen=True)
class Sequence:
    """One arm's running mean and its confidence sequence after each observation (arrays of n)."""

    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def __len__(self) -> int:
        return len(self.mean)


def eb_cs(x: np.ndarray, alpha: float, intersect: bool = True) -> Sequence:
    """The PrPl-EB confidence sequence for the mean of x in [0, 1] after each observation
    (two-sided, level 1 - alpha; WSR eq. 13-15). Values outside [0, 1] are clipped."""
    x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    n = len(x)
    if n == 0:
        e = np.empty(0)
        return Sequence(e, e, e)
    t = np.arange(1, n + 1, dtype=float)
    mu_hat = (0.5 + np.cumsum(x)) / (t + 1)
    var_hat = (0.25 + np.cumsum((x - mu_hat) ** 2)) / (t + 1)
    var_prev = np.concatenate(([0.25], var_hat[:-1]))
    mu_prev = np.concatenate(([0.5], mu_hat[:-1]))
    log2a = math.log(2 / alpha)
    lam = np.minimum(np.sqrt(2 * log2a / (var_prev * t * np.log1p(t))), C_MAX)
    v = 4 * (x - mu_prev) ** 2
    psi = (-np.log1p(-lam) - lam) / 4
    sum_lam = np.cumsum(lam)
    centre = np.cumsum(lam * x) / sum_lam
    half = (log2a + np.cumsum(v * psi)) / sum_lam
    lo, hi = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    if intersect:
        lo, hi = np.maximum.accumulate(lo), np.minimum.accumulate(hi)
        hi = np.maximum(hi, lo)  # an empty intersection (a miss) is kept as a point, never inverted
    return Sequence(np.cumsum(x) / t, lo, hi)


def rho_for(alpha: float, t_star: float) -> float:
    """The normal mixture's rho that makes the asymptotic CS narrowest at count t_star (WSR et al. eq. 2.6)."""
    la = -2 * math.log(alpha)
    return math.sqrt((la + math.log(la + 1)) / max(t_star, 1.0))


def asymptotic_cs(x: np.ndarray, alpha: float, t_star: float = 500.0, intersect: bool = True) -> Sequence:
    """The asymptotic confidence sequence for the mean of x (two-sided, level 1 - alpha) after each
    observation: mean +- sd * sqrt(2 (t rho^2 + 1) / (t^2 rho^2) * log(sqrt(t rho^2 + 1) / alpha))."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n == 0:
        e = np.empty(0)
        return Sequence(e, e, e)
    t = np.arange(1, n + 1, dtype=float)
    mean = np.cumsum(x) / t
    var = np.maximum(np.cumsum(x * x) / t - mean**2, 0.0)  # the running (biased) variance, as the theorem uses
    r2 = rho_for(alpha, t_star) ** 2
    half = np.sqrt(var) * np.sqrt(2 * (t * r2 + 1) / (t * t * r2) * np.log(np.sqrt(t * r2 + 1) / alpha))
    half[0] = np.inf  # one observation says nothing about the spread
    lo, hi = mean - half, mean + half
    if intersect:
        lo, hi = np.maximum.accumulate(lo), np.minimum.accumulate(hi)
        hi = np.maximum(hi, lo)
    return Sequence(mean, lo, hi)


def arm_cs(x: np.ndarray, alpha: float, bounded: bool, t_star: float = 500.0) -> Sequence:
    return eb_cs(x, alpha) if bounded else asymptotic_cs(x, alpha, t_star)


@dataclass(frozen=True)
class Look:
    """The difference challenger - incumbent at one look: its estimate and confidence sequence."""

    n_a: int
    n_b: int
    diff: float
    lo: float
    hi: float


def diff_at(a: Sequence, b: Sequence, n_a: int, n_b: int) -> Look:
    """B - A after n_a and n_b observations (either arm without any: every difference possible)."""
    if n_a == 0 or n_b == 0:
        return Look(n_a, n_b, math.nan, -math.inf, math.inf)
    i, j = n_a - 1, n_b - 1
    return Look(n_a, n_b, float(b.mean[j] - a.mean[i]), float(b.lo[j] - a.hi[i]), float(b.hi[j] - a.lo[i]))


def looks(a: Sequence, b: Sequence, times_a: np.ndarray, times_b: np.ndarray, at: np.ndarray) -> list[Look]:
    """The difference at each of the times `at`, from every observation made by then."""
    na = np.searchsorted(np.asarray(times_a), at, side="right")
    nb = np.searchsorted(np.asarray(times_b), at, side="right")
    return [diff_at(a, b, int(i), int(j)) for i, j in zip(na, nb, strict=True)]


def first_crossing(a: Sequence, b: Sequence, times_a: np.ndarray, times_b: np.ndarray,
                   crossed: str, bound: float) -> float | None:
    """The time of the first observation after which the difference's CS lies wholly below
    (crossed="below": hi < bound) or above (crossed="above": lo > bound) `bound`; None if never.
    Every observation is a look: the sequence holds at all of them at once."""
    ta, tb = np.asarray(times_a, dtype=float), np.asarray(times_b, dtype=float)
    if len(ta) == 0 or len(tb) == 0:
        return None
    at = np.union1d(ta, tb)
    na = np.searchsorted(ta, at, side="right")
    nb = np.searchsorted(tb, at, side="right")
    ok = (na > 0) & (nb > 0)
    ia, ib = np.maximum(na - 1, 0), np.maximum(nb - 1, 0)
    if crossed == "below":
        hit = ok & (b.hi[ib] - a.lo[ia] < bound)
    else:
        hit = ok & (b.lo[ib] - a.hi[ia] > bound)
    idx = np.flatnonzero(hit)
    return float(at[idx[0]]) if len(idx) else None


def _typical_path(p: float, n: int) -> np.ndarray:
    """n pass/fail outcomes with exactly the share p spread evenly: the width a CS has on data of that rate."""
    k = np.floor(np.arange(1, n + 1) * p + 1e-9) - np.floor(np.arange(0, n) * p + 1e-9)
    return k.astype(float)


def needed_per_arm(p: float, margin: float, ratio: float = 1.0, alpha: float = 0.05, power: float = 0.8,
                   cap: int = 10_000_000) -> int | None:
    """Observations on the challenger's arm (the incumbent's holding `ratio` times as many) for the
    difference's CS to show non-inferiority at `margin` with probability `power` when both arms
    truly have rate p: the smallest n with width_A + width_B + z_power * se <= margin, widths from
    the empirical-Bernstein CS on a path of rate p. None beyond `cap`."""
    if margin <= 0 or not 0 <= p <= 1:
        return None
    z = _norm_ppf(power)
    var = max(p * (1 - p), 1e-4)

    def enough(n: int) -> bool:
        na = max(2, int(math.ceil(n * ratio)))
        ha = eb_cs(_typical_path(p, na), alpha / 2, intersect=False)
        hb = eb_cs(_typical_path(p, n), alpha / 2, intersect=False)
        width = (ha.hi[-1] - ha.mean[-1]) + (hb.mean[-1] - hb.lo[-1])
        return width + z * math.sqrt(var / n + var / na) <= margin

    hi = 16
    while not enough(hi):
        hi *= 2
        if hi > cap:
            return None
    lo = hi // 2
    while hi - lo > max(1, hi // 200):  # to within half a percent: a planning figure
        mid = (lo + hi) // 2
        if enough(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _norm_ppf(q: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(q)


def naive_interval(x_a: np.ndarray, x_b: np.ndarray, conf: float = 0.95) -> tuple[float, float]:
    """The fixed-n (Wald) interval for mean_B - mean_A: right once, wrong when read at every look
    (only for the benchmark's comparison)."""
    z = _norm_ppf(1 - (1 - conf) / 2)
    na, nb = len(x_a), len(x_b)
    d = float(np.mean(x_b) - np.mean(x_a))
    se = math.sqrt(float(np.var(x_a, ddof=1)) / na + float(np.var(x_b, ddof=1)) / nb) if na > 1 and nb > 1 else math.inf
    return d - z * se, d + z * se
