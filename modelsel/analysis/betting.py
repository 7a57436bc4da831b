"""Intervals and tests for the mean of bounded scores that hold whatever the spread.

Graded scores live in [0, 1] (a paired difference in [-1, 1]). A t or bootstrap interval rests
on the observed spread: when every example scores the same it collapses to a point, and a model
truly 10 points worse passed a bar with no doubt in 12% of runs. Waudby-Smith and Ramdas (2024,
"Estimating means of bounded random variables by betting", JRSS B) give intervals that are
valid for every distribution on a bounded range at every n: for each candidate mean m a gambler
bets on the scores with a stake fixed before each score is seen; the capital is then a
nonnegative martingale when m is the true mean, so by Ville's inequality it reaches 1/alpha with
probability at most alpha, and the interval is the set of m at which it does not. The p-value
of m is 1 / the largest capital. The scores are bet on in a seeded random order, so an eval set
sorted by difficulty neither helps nor hurts, and the same run prints the same interval.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

_C = 0.75  # the stake never exceeds 3/4 of what a bet can afford to lose (WSR's truncation c, in [1/2, 3/4])
_SEED = 20261205


@functools.lru_cache(maxsize=64)
def _order(n: int) -> np.ndarray:
    return np.random.default_rng(_SEED + n).permutation(n)


def _lambdas(x: np.ndarray, alpha: float, n: int, sides: int = 2) -> np.ndarray:
    """The predictable plug-in stakes: each uses only the scores before it (WSR section 5, fixed n;
    log(2/alpha) when the bet is hedged over both sides)."""
    t = np.arange(1, len(x) + 1, dtype=float)
    mu = (0.5 + np.cumsum(x)) / (t + 1)
    sq = 0.25 + np.cumsum((x - mu) ** 2)
    var = sq / (t + 1)
    var_prev = np.concatenate(([0.25], var[:-1]))
    return np.sqrt(2 * math.log(sides / alpha) / (n * var_prev))


def _cum_log_capital(x: np.ndarray, lam: np.ndarray, m: float, side: int) -> np.ndarray:
    """The log capital after each score, betting that the mean is above (side=+1) or below (side=-1)
    m. At the range's end a single score on the far side makes the capital infinite: a mean of 0
    cannot produce a score above 0."""
    if side > 0:
        return np.cumsum(np.log1p(np.minimum(lam, _C / m) * (x - m)) if m > 0 else np.where(x > 0, np.inf, 0.0))
    return np.cumsum(np.log1p(-np.minimum(lam, _C / (1 - m)) * (x - m)) if m < 1 else np.where(x < 1, np.inf, 0.0))


def _log_capital(x: np.ndarray, lam: np.ndarray, m: float, side: int) -> float:
    """The largest log capital over the sequence of one side's bet."""
    return float(np.max(_cum_log_capital(x, lam, m, side)))


def _hedged_log_capital(x: np.ndarray, lam: np.ndarray, m: float) -> float:
    """log of the largest hedged capital 1/2 K+ + 1/2 K- (both martingales, so their mean is one)."""
    both = np.logaddexp(_cum_log_capital(x, lam, m, 1), _cum_log_capital(x, lam, m, -1)) - math.log(2)
    return float(np.max(both))


def _prepare(x: Sequence[float] | np.ndarray, lo: float, hi: float) -> np.ndarray:
    a = (np.asarray(x, dtype=float) - lo) / (hi - lo)
    return np.clip(a, 0.0, 1.0)[_order(len(a))]


def _edge(rejected, inside: float, outside: float, tol: float = 1e-7) -> float:  # type: ignore[no-untyped-def]
    """The boundary between `inside` (not rejected) and `outside` (rejected), to within tol, on the
    outside's side so the interval never comes out narrower than it is."""
    while abs(outside - inside) > tol:
        mid = (inside + outside) / 2
        if rejected(mid):
            outside = mid
        else:
            inside = mid
    return outside


def interval(x: Sequence[float] | np.ndarray, conf: float = 0.95, lo: float = 0.0, hi: float = 1.0
             ) -> tuple[float, float, float]:
    """(mean, lower, upper) of scores bounded by [lo, hi], valid for any distribution there."""
    raw = np.asarray(x, dtype=float)
    n = len(raw)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(raw.mean())
    if n == 1:
        return (mean, lo, hi)  # one score says nothing about the spread: every mean is possible
    a = _prepare(raw, lo, hi)
    alpha = 1 - conf
    lam = _lambdas(a, alpha, n)
    cut = math.log(1 / alpha)
    m0 = float(a.mean())

    def rejected(m: float) -> bool:
        return _hedged_log_capital(a, lam, m) >= cut

    # The hedged capital is quasi-convex in m (WSR Prop. 4): the interval is one piece around the mean.
    left = 0.0 if not rejected(0.0) else _edge(rejected, m0, 0.0)
    right = 1.0 if not rejected(1.0) else _edge(rejected, m0, 1.0)
    scale = hi - lo
    return (mean, min(lo + left * scale, mean), max(lo + right * scale, mean))


def p_value(x: Sequence[float] | np.ndarray, m: float, lo: float = 0.0, hi: float = 1.0, conf: float = 0.95) -> float:
    """Two-sided p-value of 'the mean is m' (1 / the largest hedged capital): below 1 - conf exactly
    when `interval` at the same level excludes m."""
    a = _prepare(x, lo, hi)
    if len(a) < 2:
        return 1.0
    lam = _lambdas(a, 1 - conf, len(a))
    return float(min(1.0, math.exp(-_hedged_log_capital(a, lam, (m - lo) / (hi - lo)))))


def p_below(x: Sequence[float] | np.ndarray, m: float, lo: float = 0.0, hi: float = 1.0, alpha: float = 0.025) -> float:
    """One-sided p-value of 'the mean is m or more' against 'it is below m' (the capital of
    betting that the scores fall short of m)."""
    a = _prepare(x, lo, hi)
    if len(a) < 2:
        return 1.0
    lam = _lambdas(a, alpha, len(a), sides=1)
    mm = (m - lo) / (hi - lo)
    if mm >= 1.0:
        return 0.0 if float(a.min()) < 1.0 and len(a) else 1.0
    return float(min(1.0, math.exp(-_log_capital(a, lam, mm, -1))))
