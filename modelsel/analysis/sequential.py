"""Confidence sequences: intervals that hold at every look at once, for a live trial the team
reads every day and may stop as soon as the evidence is in.

A fixed-n interval read daily and acted on the first day it excludes a value misses far more often
than its 5% (benchmarks/trial.py prints how often). A confidence sequence C_t covers the true mean
at every t simultaneously with probability 1 - alpha, so stopping at any look, chosen by looking,
keeps its level.

- Bounded signals in [0, 1] (thumbs-down, errors): the predictable plug-in empirical-Bernstein
  confidence sequence (Waudby-Smith and Ramdas 2024, JRSS B, Theorem 2), valid for every
  distribution on [0, 1] at every n, not only as n grows.
- Latency: its median, with the quantile confidence sequence of Howard and Ramdas (2022,
  "Sequential estimation of quantiles with applications to A/B-testing and best-arm
  identification", Bernoulli): distribution-free and valid at every n, however heavy the tail.
- Cost per request (a mean, unbounded): the asymptotic confidence sequence of Waudby-Smith,
  Arnold, Wu, McAuliffe and Ramdas (2024, "Time-uniform central limit theory and asymptotic
  confidence sequences", Annals of Statistics, Theorem 2.2), valid as the count grows for any
  distribution with a finite variance (a Robbins normal mixture with the running variance); it
  opens after BURN_IN calls on an arm. benchmarks/trial.py shows where that holds and where a
  heavy tail needs more calls.

Two arms, rates: the k-th challenger observation is paired with the mean of the k-th block of r
incumbent observations (arrival order; r, the incumbent's share per challenger request, fixed from
the first day's split of calls, never from outcomes). The paired differences are independent with
mean mu_B - mu_A and lie in [-1, 1], so one empirical-Bernstein sequence on them covers the
difference at every look with probability 1 - alpha: far narrower than two arms' sequences
subtracted (benchmarks/trial.py: with truly equal 50/50 arms it shows non-inferiority within 3
points by day 14 in most trials where the subtracted sequences rarely did). Latency and cost: a
sequence for each arm at alpha/2 and their difference [lo_B - hi_A, hi_B - lo_A], which by the
union bound covers mu_B - mu_A at every look with probability 1 - alpha, however the arms' requests
interleave. Each sequence is the running intersection of its intervals, so the difference's
interval only shrinks and a margin once excluded stays excluded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BURN_IN = 100  # the asymptotic sequence opens after this many observations on an arm (its variance must settle)
C_MAX = 0.5  # the empirical-Bernstein stake's cap (WSR's c in (0, 1); 1/2 keeps psi_E tame)

# What each confidence sequence is called in the trial record (one place, as analysis/methods.py
# holds the eval's; the trial is a separate record).


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
    observation: mean +- sd * sqrt(2 (t rho^2 + 1) / (t^2 rho^2) * log(sqrt(t rho^2 + 1) / alpha)),
    unbounded (every mean possible) for the first BURN_IN observations."""
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
    half[: min(BURN_IN, n)] = np.inf  # no look before BURN_IN observations: the theorem is about large counts
    lo, hi = mean - half, mean + half
    if intersect:
        lo, hi = np.maximum.accumulate(lo), np.minimum.accumulate(hi)
        hi = np.maximum(hi, lo)
    return Sequence(mean, lo, hi)


def mixture_bound(v: np.ndarray | float, rho: float, alpha: float) -> np.ndarray:
    """The two-sided normal-mixture boundary (Robbins; Howard et al. 2021): a martingale whose
    increments are sub-Gaussian with variance v after t steps stays within +-this at every t with
    probability 1 - alpha."""
    v = np.asarray(v, dtype=float)
    return np.sqrt((v + rho) * np.log((v + rho) / (rho * alpha * alpha)))


def _rho_quantile(alpha: float, t_star: float) -> float:
    """The mixture's rho that makes the boundary tightest relative to t at t_star (variance t_star / 4)."""
    grid = np.geomspace(0.05, 50, 200) * t_star / 4
    return float(grid[np.argmin(mixture_bound(t_star / 4, grid, alpha))]) if t_star > 0 else 1.0  # type: ignore[arg-type]


def quantile_cs_at(x: np.ndarray, alpha: float, ks: np.ndarray, q: float = 0.5, t_star: float = 500.0) -> Sequence:
    """A confidence sequence for the q-quantile (the median by default) of x, after the first k
    observations for each k in ks (Howard and Ramdas 2022's construction): the count of observations
    at or below the true quantile is a sum of bounded increments (each sub-Gaussian with variance
    1/4), so it stays within tq +- u_t at every t, and the quantile lies between the order
    statistics of ranks ceil(tq - u_t) and floor(tq + u_t) + 1. Distribution-free, valid at every n
    for a continuous distribution (latency). Read at the looks `ks`, and intersected across them."""
    x = np.asarray(x, dtype=float)
    ks = np.asarray(ks, dtype=int)
    rho = _rho_quantile(alpha, t_star)
    est, lo, hi = (np.full(len(ks), np.nan), np.full(len(ks), -np.inf), np.full(len(ks), np.inf))
    for i, k in enumerate(ks):
        if k <= 0:
            continue
        u = float(mixture_bound(k / 4, rho, alpha))
        k_lo, k_hi = math.ceil(k * q - u), math.floor(k * q + u) + 1
        est[i] = float(np.quantile(x[:k], q))
        ranks = [r - 1 for r in (k_lo, k_hi) if 1 <= r <= k]
        part = np.partition(x[:k], ranks) if ranks else x[:k]  # two order statistics: no full sort
        lo[i] = part[k_lo - 1] if k_lo >= 1 else -np.inf
        hi[i] = part[k_hi - 1] if k_hi <= k else np.inf
    lo, hi = np.maximum.accumulate(lo), np.minimum.accumulate(hi)
    return Sequence(est, lo, np.maximum(hi, lo))


def at(seq: Sequence, ks: np.ndarray) -> Sequence:
    """A whole sequence read after k observations for each k in ks (k = 0: nothing known)."""
    ks = np.asarray(ks, dtype=int)
    i = np.maximum(ks - 1, 0)
    none = ks <= 0
    if len(seq) == 0:
        n = len(ks)
        return Sequence(np.full(n, np.nan), np.full(n, -np.inf), np.full(n, np.inf))
    return Sequence(np.where(none, np.nan, seq.mean[i]), np.where(none, -np.inf, seq.lo[i]),
                    np.where(none, np.inf, seq.hi[i]))


def arm_cs(x: np.ndarray, alpha: float, bounded: bool, t_star: float = 500.0) -> Sequence:
    return eb_cs(x, alpha) if bounded else asymptotic_cs(x, alpha, t_star)


def arm_at(x: np.ndarray, alpha: float, method: str, ks: np.ndarray, t_star: float = 500.0) -> Sequence:
    """One arm's sequence (a key of methods.TRIAL) read after k observations for each k in ks."""
    if method == "quantile":
        return quantile_cs_at(x, alpha, ks, 0.5, t_star)
    return at(eb_cs(x, alpha) if method == "eb" else asymptotic_cs(x, alpha, t_star), ks)


def difference(a: Sequence, b: Sequence) -> Sequence:
    """B - A at the same looks (each arm read with `at` or `quantile_cs_at`): [lo_B - hi_A, hi_B - lo_A]."""
    with np.errstate(invalid="ignore"):
        return Sequence(b.mean - a.mean, b.lo - a.hi, b.hi - a.lo)


def paired(xa: np.ndarray, ta: np.ndarray, xb: np.ndarray, tb: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """(differences, the time each is complete): the k-th challenger observation minus the mean of the
    k-th block of r incumbent observations, each arm in arrival order; leftovers wait for their pair."""
    r = max(int(r), 1)
    m = min(len(xb), len(xa) // r)
    z = np.asarray(xb[:m], dtype=float) - np.asarray(xa[: m * r], dtype=float).reshape(m, r).mean(axis=1)
    tz = np.maximum(np.asarray(tb[:m], dtype=float), np.asarray(ta[r - 1: m * r: r], dtype=float))
    return z, tz


def paired_cs_at(z: np.ndarray, tz: np.ndarray, alpha: float, look_times: np.ndarray) -> Sequence:
    """The empirical-Bernstein sequence of differences in [-1, 1] (mapped onto [0, 1] and back), read at
    each look's time."""
    s = at(eb_cs((np.asarray(z) + 1) / 2, alpha), np.searchsorted(tz, look_times, side="right"))
    return Sequence(2 * s.mean - 1, 2 * s.lo - 1, 2 * s.hi - 1)


def _typical_path(p: float, n: int) -> np.ndarray:
    """n pass/fail outcomes with exactly the share p spread evenly: the width a CS has on data of that rate."""
    k = np.floor(np.arange(1, n + 1) * p + 1e-9) - np.floor(np.arange(0, n) * p + 1e-9)
    return k.astype(float)


def needed_per_arm(p: float, margin: float, r: int = 1, alpha: float = 0.05, power: float = 0.8,
                   cap: int = 2_000_000) -> int | None:
    """Observations on the challenger's arm (each paired with r of the incumbent's) for the paired
    sequence to show non-inferiority at `margin` with probability `power` when both arms truly have
    rate p: the smallest n with the sequence's half-width + z_power * se <= margin, the half-width
    from a seeded simulated path of rate p (the same figure every time). None beyond `cap`."""
    if margin <= 0 or not 0 <= p <= 1:
        return None
    r = max(int(r), 1)
    z_pow = _norm_ppf(power)
    var = max(p * (1 - p), 1e-4) * (1 + 1 / r)
    top = 4096
    while top <= cap:
        rng = np.random.default_rng(20261207)
        xb = (rng.random(top) < p).astype(float)
        xa = (rng.random(top * r) < p).astype(float)
        s = eb_cs((xb - xa.reshape(top, r).mean(axis=1) + 1) / 2, alpha, intersect=False)
        n = np.arange(1, top + 1)
        bad = np.flatnonzero((s.hi - s.lo) + z_pow * np.sqrt(var / n) > margin)  # hi - lo on [0, 1]: z's half-width
        if len(bad) and bad[-1] < top - top // 8:  # enough from here on (a random path's width wiggles)
            return int(bad[-1]) + 2
        top *= 4
    return None


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
