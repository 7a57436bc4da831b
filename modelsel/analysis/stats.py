"""Statistical formulas, pure and deterministic. Every interval is 95% unless stated.

Only numpy and the standard library are imported: `scipy.special` alone takes 0.35 s to
import on a 2-core machine, more than the whole budget for turning the last answer into
reports. The few distribution functions needed (normal, Student t, binomial) are written out
below and checked against scipy and statsmodels in tests/test_stats.py.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

from modelsel.analysis import betting

CONF = 0.95
_N = NormalDist()
Z95 = _N.inv_cdf(0.975)


# --- distribution functions ----------------------------------------------------------------

def norm_cdf(x: float) -> float:
    return _N.cdf(x)


def norm_ppf(p: float) -> float:
    return _N.inv_cdf(p)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        de = d * c
        h *= de
        if abs(de - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def _bisect(g: Callable[[float], float], lo: float, hi: float, tol: float) -> float:
    """The root of an increasing g with g(lo) < 0 <= g(hi): every quantile and interval end here."""
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if g(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < tol:
            break
    return (lo + hi) / 2.0


@functools.lru_cache(maxsize=4096)
def t_ppf(p: float, df: float) -> float:
    """Quantile of Student's t (bisection on the cdf: exact to 1e-10, cached per df)."""
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    hi = 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    return _bisect(lambda x: t_cdf(x, df) - p, 0.0, hi, 1e-10)


def t_sf2(t: float, df: float) -> float:
    """Two-sided p-value of a t statistic."""
    return min(1.0, 2.0 * (1.0 - t_cdf(abs(t), df)))


def binom_cdf_all(n: int, p: float) -> np.ndarray:
    """P(B <= k) for k = 0..n, B ~ Binomial(n, p), in log space so large n is exact enough."""
    k = np.arange(n + 1, dtype=float)
    logs = np.log(np.arange(1, n + 1, dtype=float))
    log_fact = np.concatenate(([0.0], np.cumsum(logs)))
    logc = log_fact[n] - log_fact - log_fact[::-1]
    if p <= 0.0:
        pmf = (k == 0).astype(float)
    elif p >= 1.0:
        pmf = (k == n).astype(float)
    else:
        logpmf = logc + k * math.log(p) + (n - k) * math.log1p(-p)
        pmf = np.exp(logpmf - logpmf.max())
        pmf /= pmf.sum()
    return np.minimum(np.cumsum(pmf), 1.0)


# --- one-sample intervals ------------------------------------------------------------------

@functools.lru_cache(maxsize=8192)
def beta_ppf(p: float, a: float, b: float) -> float:
    """Quantile of the Beta(a, b) distribution (bisection on the regularised incomplete beta)."""
    return _bisect(lambda x: betainc(a, b, x) - p, 0.0, 1.0, 1e-13)


def clopper_pearson(k: int, n: int, conf: float = CONF) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval for a proportion k/n. Its coverage is at least 95%
    for every true proportion; Wilson's dips to 91% near a pass rate of 0.99 at n = 50-100
    (benchmarks/coverage.py), exactly where good models live."""
    if n == 0:
        return (0.0, 1.0)
    a = (1 - conf) / 2
    lo = 0.0 if k == 0 else beta_ppf(a, k, n - k + 1)
    hi = 1.0 if k == n else beta_ppf(1 - a, k + 1, n - k)
    return (lo, hi)


def clopper_pearson_units_for(rate: float, conf: float = CONF) -> int:
    """The fewest independent examples, all passing, whose exact upper bound on the failure rate is
    under `rate` (72 for 5%)."""
    return math.ceil(math.log((1 - conf) / 2) / math.log(1 - rate))


def cluster_index(clusters: Sequence[str] | np.ndarray) -> tuple[np.ndarray, int]:
    """(cluster number of each row, number of clusters)."""
    _, inv = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    return inv, (int(inv.max()) + 1 if len(inv) else 0)


def cluster_robust_se(x: np.ndarray, inv: np.ndarray, g: int) -> float:
    """Standard error of the mean of x when rows share clusters: the CR1 sandwich (sums of
    residuals per cluster, small-sample factor g / (g - 1)). Kept for the benchmarks' 'before'."""
    n = len(x)
    resid = np.bincount(inv, weights=x - x.mean(), minlength=g)
    return math.sqrt(float(np.sum(resid**2))) / n * math.sqrt(g / (g - 1))


@dataclass(frozen=True)
class ClusterVar:
    se: float  # CR2 standard error of the mean
    df: float  # Bell-McCaffrey degrees of freedom


def cr2(x: np.ndarray, inv: np.ndarray, g: int) -> ClusterVar:
    """The mean's standard error when rows share clusters of any sizes: CR2 (Bell and McCaffrey
    2002; for a mean, each cluster's residual sum scaled by 1 / sqrt(1 - n_g / n)), with their
    Satterthwaite degrees of freedom under a working model in which rows of a cluster correlate by
    rho (estimated, as Imbens and Kolesar 2016 advise). With equal clusters this is the usual
    cluster-robust t with g - 1 degrees of freedom; with one cluster of 30 and 30 single examples
    it is about 2 rather than 30, which is what kept the interval from covering (benchmarks/corners.py).
    The df come in closed form (the working covariance is diagonal plus rank 2 at the cluster level),
    so a design of 10,000 clusters costs O(g)."""
    n = len(x)
    e = x - x.mean()
    size = np.bincount(inv, minlength=g).astype(float)
    sums = np.bincount(inv, weights=e, minlength=g)
    lev = 1.0 - size / n
    se = math.sqrt(float(np.sum(sums**2 / lev))) / n
    within = float(np.sum(sums**2) - np.sum(e**2))
    pairs = float(np.sum(size * (size - 1)))
    var = float(np.mean(e**2))
    rho = min(0.99, max(0.0, within / pairs / var)) if pairs > 0 and var > 0 else 0.0
    c = 1.0 / lev
    a, b = size, size**2
    s2 = float(np.sum(b))
    kappa = -(1 - rho) / n + rho * s2 / n**2
    diag = (1 - rho) * a + rho * b
    low_diag = kappa * a**2 - 2 * rho / n * a * b  # the rank-2 part's diagonal
    tr1 = float(np.sum(c * (diag + low_diag)))
    P = np.stack([a, b], axis=1)
    Q = np.array([[kappa, -rho / n], [-rho / n, 0.0]])
    R = P.T @ (c[:, None] * P)
    QR = Q @ R
    tr2 = float(np.sum(c**2 * diag**2) + 2 * np.sum(c**2 * diag * low_diag) + np.trace(QR @ QR))
    df = tr1 * tr1 / tr2 if tr2 > 0 else float(g - 1)
    return ClusterVar(se, max(1.0, min(float(g - 1), df)))


def clustered_proportion(x: Sequence[float] | np.ndarray, clusters: Sequence[str],
                         conf: float = CONF) -> tuple[float, float, float]:
    """A pass rate over examples that share clusters (or repeats of one example): the exact
    binomial interval at the effective sample size, with Korn and Graubard's (1998) degrees-of-
    freedom adjustment. n_eff = n / design effect, the design effect from the cluster-robust (CR2)
    variance; then n_eff is shrunk by (t_{n-1} / t_df)^2, df the Bell-McCaffrey degrees of freedom
    (g - 1 for equal clusters), which widens the interval when the clusters carry little
    information. Without that adjustment the interval covered 85% with 4 clusters of 15; with g - 1
    it covered >= 94% down to 4 equal clusters but 87.5% with one cluster of 30 beside 30 single
    examples; with Bell-McCaffrey's df both hold (benchmarks/coverage.py, corners.py). Where every
    example passes (or fails) the design effect cannot be estimated: the exact interval over the
    clusters (Kish's effective n at a within-cluster correlation of 1)."""
    a = np.asarray(x, dtype=float)
    n = len(a)
    m = float(a.mean()) if n else math.nan
    if n < 2:
        return (m, math.nan, math.nan)
    inv, g = cluster_index(clusters)
    if g < 2:
        return (m, math.nan, math.nan)
    q = 1 - (1 - conf) / 2
    if m in (0.0, 1.0):
        # Every example passes (or fails): the spread inside clusters cannot be seen, so nothing says
        # the clusters' rows are more than one answer each. The interval is then the exact one over
        # the clusters, weighted by their sizes (Kish's n for a correlation of 1: g for equal
        # clusters). The row count gave 0.937-1.000 over 80 examples in 8 clusters (truth 0.930,
        # coverage 67%); over the 8 clusters it starts at 0.63.
        size = np.bincount(inv, minlength=g).astype(float)
        n_eff = float(n) * n / float(np.sum(size**2))
    else:
        cv = cr2(a, inv, g)
        var = cv.se * cv.se
        n_eff = float(n) if var <= 0 else min(float(n), m * (1 - m) / var)
        if g < n:
            n_eff *= (t_ppf(q, n - 1) / t_ppf(q, cv.df)) ** 2
    k = m * n_eff
    lo = 0.0 if k <= 0 else beta_ppf(1 - q, k, n_eff - k + 1)
    hi = 1.0 if k >= n_eff else beta_ppf(q, k + 1, n_eff - k)
    return (m, lo, hi)


def cluster_betting(x: Sequence[float] | np.ndarray, clusters: Sequence[str],
                    conf: float = CONF) -> tuple[float, float, float]:
    """The mean of graded scores in [0, 1] over examples that share clusters, with the betting
    interval (betting.py) over the clusters, each cluster one draw. Rows are weighted alike, so a
    cluster's draw is its size-weighted mean y_g = n_g * mean_g / (nbar * B), B = max n_g / nbar,
    which lies in [0, 1] and averages to the row mean / B: the interval for that average, times B,
    is the row mean's. Valid whatever the spread and however few the clusters (the CR2 t covered
    82-86% with 4 to 8 clusters); with very unequal clusters B is large and the interval honestly wide."""
    a = np.asarray(x, dtype=float)
    n = len(a)
    m = float(a.mean()) if n else math.nan
    inv, g = cluster_index(clusters)
    if n < 2 or g < 2:
        return (m, math.nan, math.nan)
    size = np.bincount(inv, minlength=g).astype(float)
    nbar = n / g
    b = float(size.max()) / nbar
    y = np.bincount(inv, weights=a, minlength=g) / (nbar * b)
    _, lo, hi = betting.interval(np.clip(y, 0.0, 1.0), conf)
    return (m, max(0.0, min(m, lo * b)), min(1.0, max(m, hi * b)))


BOOT_MAX_N = 2000  # above this the t interval's skewness error is negligible and the bootstrap costly


def mean_ci_boot_t(x: Sequence[float] | np.ndarray, n_boot: int = 1999, seed: int = 20240601) -> tuple[float, float, float]:
    """Mean of graded scores with a studentized (bootstrap-t) interval, seeded so the same run
    always prints the same interval. Scores piled near 1 are skewed, and the plain t interval
    then covers 93.8% at n = 80; the bootstrap-t keeps 95% (benchmarks/coverage.py)."""
    a = np.asarray(x, dtype=float)
    n = len(a)
    if n < 2:
        return (float(a.mean()) if n else math.nan, math.nan, math.nan)
    if n > BOOT_MAX_N:
        return mean_ci(a)
    m = float(a.mean())
    se = float(a.std(ddof=1)) / math.sqrt(n)
    if se == 0:
        return (m, m, m)
    rng = np.random.default_rng(seed)
    ts = []
    left = n_boot
    while left:
        k = min(left, max(1, 400_000 // n))
        xs = a[rng.integers(0, n, size=(k, n))]
        ses = xs.std(axis=1, ddof=1) / math.sqrt(n)
        ok = ses > 0
        ts.append((xs.mean(axis=1)[ok] - m) / ses[ok])
        left -= k
    t = np.concatenate(ts)
    q_lo, q_hi = np.percentile(t, [2.5, 97.5])
    return (m, m - float(q_hi) * se, m - float(q_lo) * se)


def _gpq_cost(rest: np.ndarray, out: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Draws of the mean cost from generalized pivotal quantities: the output part as a
    delta-lognormal (a share of calls with output, lognormal among them: Jeffreys' beta for the
    share, the chi-square and normal pivots for the log mean and variance), the rest by its t pivot."""
    n = len(rest)
    m_rest, s_rest = float(rest.mean()), float(rest.std(ddof=1))
    mean_rest = m_rest - rng.standard_t(n - 1, draws) * s_rest / math.sqrt(n)
    pos = out[out > 0]
    k = len(pos)
    if k < 2:
        return mean_rest + float(out.mean())
    y = np.log(pos)
    s2 = float(y.var(ddof=1))
    sig2 = (k - 1) * s2 / rng.chisquare(k - 1, draws)
    mu = float(y.mean()) - rng.standard_normal(draws) * np.sqrt(sig2 / k)
    share = rng.beta(k + 0.5, n - k + 0.5, draws)
    return mean_rest + share * np.exp(mu + sig2 / 2)


def cost_mean_ci(costs: Sequence[float] | np.ndarray, output_part: Sequence[float] | np.ndarray | None = None,
                 seed: int = 20240601, draws: int = 4000) -> tuple[float, float, float, str]:
    """Mean cost per request with a 95% interval that holds for heavy-tailed output lengths.

    A plain t interval covers 86-88% at n = 80 when output lengths are lognormal (sigma 1.2-1.6),
    and a bootstrap-t about 90%: both miss the long right tail. The cost is the output tokens' part
    (skewed) plus the rest; the interval is the union of the bootstrap-t and a generalized pivotal
    interval that models the output part as delta-lognormal. Each holds where the other fails (the
    bootstrap for any shape at large n, the pivot for lognormal tails at small n), so the union
    holds >= 95% in both (benchmarks/cost_interval.py). Returns (mean, lo, hi, method)."""
    a = np.asarray(costs, dtype=float)
    n = len(a)
    m, lo, hi = mean_ci_boot_t(a, seed=seed)
    if n < 3 or output_part is None:
        return m, lo, hi, "bootstrap_t"
    o = np.asarray(output_part, dtype=float)
    if len(o) != n or np.isnan(o).any() or (o < 0).any() or not (o > 0).any():
        return m, lo, hi, "bootstrap_t"
    rng = np.random.default_rng(seed)
    g = _gpq_cost(a - o, o, draws, rng)
    glo, ghi = (float(v) for v in np.percentile(g, [2.5, 97.5]))
    if math.isnan(lo):
        return m, glo, ghi, "lognormal_pivot"
    return m, min(lo, glo), max(hi, ghi), "bootstrap_t+lognormal_pivot"


def mean_ci(x: Sequence[float] | np.ndarray, clusters: Sequence[str] | None = None,
            conf: float = CONF) -> tuple[float, float, float]:
    """Mean with a t interval; cluster-robust (CR2 with Bell-McCaffrey degrees of freedom) when
    examples share a cluster."""
    a = np.asarray(x, dtype=float)
    n = len(a)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    m = float(a.mean())
    if n == 1:
        return (m, math.nan, math.nan)  # one example: no interval can be computed, and we say so
    if clusters is not None and len(set(clusters)) < n:
        inv, g = cluster_index(clusters)
        if g < 2:
            return (m, math.nan, math.nan)
        cv = cr2(a, inv, g)
        se, df = cv.se, cv.df
    else:
        se = float(a.std(ddof=1)) / math.sqrt(n)
        df = n - 1
    if se == 0:
        return (m, m, m)
    t = t_ppf(1 - (1 - conf) / 2, df)
    return (m, m - t * se, m + t * se)


@dataclass(frozen=True)
class QuantileCI:
    value: float | None
    lo: float | None  # None: the data cannot bound it from below at 95% (too few calls)
    hi: float | None  # None: no 95% upper bound (for p95 below n = 59)
    n: int
    ranks: tuple[int | None, int | None]  # the order statistics used, 1-based


@functools.lru_cache(maxsize=1024)
def quantile_ranks(n: int, q: float, conf: float = CONF) -> tuple[int | None, int | None]:
    """Ranks (l, u) of the distribution-free interval [x(l), x(u)] for the q-quantile:
    P(x(l) <= xi_q <= x(u)) = P(l <= B <= u - 1) >= conf with B ~ Binomial(n, q).
    Among pairs that reach `conf`, the narrowest in ranks with both ends finite; ties go to the
    most balanced tails. None where no rank can serve (the bound would be beyond the data)."""
    if n <= 0:
        return (None, None)
    cdf = binom_cdf_all(n, q)  # cdf[k] = P(B <= k)

    def F(k: int) -> float:
        return 0.0 if k < 0 else (1.0 if k >= n else float(cdf[k]))

    best: tuple[int, float, int, int] | None = None
    for lo_rank in range(1, n + 1):
        below = F(lo_rank - 1)
        # smallest u in [lo_rank+1, n] with F(u-1) - below >= conf
        need = below + conf
        if F(n - 1) < need - 1e-12:
            break  # a larger l only needs more: no finite upper bound from here on
        u = int(np.searchsorted(cdf[: n], need - 1e-12)) + 1
        u = max(u, lo_rank + 1)
        if u > n:
            continue
        tails = abs(below - (1.0 - F(u - 1)))
        key = (u - lo_rank, tails, lo_rank, u)
        if best is None or key[:2] < best[:2]:
            best = key
    if best is not None:
        return (best[2], best[3])
    # No two-sided interval inside the data: a one-sided bound where one exists.
    # Lower bound x(l) with P(B >= l) >= conf (the upper end is beyond the largest call).
    lo_rank = None
    for l_ in range(n, 0, -1):
        if 1.0 - F(l_ - 1) >= conf:
            lo_rank = l_
            break
    return (lo_rank, None)


def quantile_design_effect(x: np.ndarray, v: float, clusters: Sequence[str]) -> float:
    """How much less calls that share a cluster (the tries of one input) tell about a quantile v
    than independent calls: the cluster-robust (CR2) variance of the share of calls at or under v
    over its binomial variance (Woodruff's route from a proportion to a quantile), never under 1."""
    inv, g = cluster_index(clusters)
    n = len(x)
    y = (x <= v).astype(float)
    p = float(y.mean())
    if g < 2 or g >= n or p in (0.0, 1.0):
        return 1.0
    se = cr2(y, inv, g).se
    return max(1.0, se * se / (p * (1 - p) / n))


def quantile_ci(x: Sequence[float] | np.ndarray, q: float, clusters: Sequence[str] | None = None) -> QuantileCI:
    """A percentile (q in 0-100) with its distribution-free order-statistic interval. `clusters`:
    calls that are not independent draws (the K tries of one input take about its time): the ranks
    are those of the effective number of calls (n / design effect, `quantile_design_effect`),
    carried back to the n calls; a p95 then has an upper bound only from 59 effective calls."""
    raw = np.asarray(x, dtype=float)
    a = np.sort(raw)
    n = len(a)
    if n == 0:
        return QuantileCI(None, None, None, 0, (None, None))
    v = float(np.percentile(a, q))
    lr, ur = quantile_ranks(n, q / 100.0)
    if clusters is not None and len(set(clusters)) < n:
        m = max(1, math.floor(n / quantile_design_effect(raw, v, clusters)))
        if m < n:
            lm, um = quantile_ranks(m, q / 100.0)
            lr = None if lm is None else max(1, math.floor(lm * (n + 1) / (m + 1)))
            ur = None if um is None else min(n, math.ceil(um * (n + 1) / (m + 1)))
    lo = None if lr is None else min(float(a[lr - 1]), v)
    hi = None if ur is None else max(float(a[ur - 1]), v)
    return QuantileCI(v, lo, hi, n, (lr, ur))


def min_n_for_upper_bound(q: float, conf: float = CONF) -> int:
    """Smallest n for which the largest call is a 95% upper bound of the q-quantile."""
    return math.ceil(math.log(1 - conf) / math.log(q))


# --- paired comparisons --------------------------------------------------------------------

@dataclass(frozen=True)
class Paired:
    n: int
    diff: float
    lo: float | None
    hi: float | None
    p_value: float
    test: str  # tango_score (pass/fail) | paired_t (graded) | cluster_signflip (shared clusters) | bounded_betting (no spread) | none
    sd_diff: float | None
    discordant: int | None = None  # pass/fail only: examples where exactly one passed
    a_only: int | None = None  # a passed, b failed
    b_only: int | None = None
    clusters: int | None = None  # independent units when examples share clusters
    n_eff: float | None = None  # examples' worth of independent information: n / design effect
    se: float | None = None
    df: float | None = None
    p_b_noninferior: float | None = None  # one-sided p of 'a - b >= margin', the same test as the interval
    p_a_noninferior: float | None = None  # one-sided p of 'b - a >= margin'


CC = 0.5  # continuity correction of Tango's statistic (see `tango`)


def _tango_z(n12: int, n21: int, n: int, d: float, shift: float = 0.0) -> float:
    """Tango's score statistic for H0: p(a passes, b fails) - p(b passes, a fails) = d, with the
    numerator moved by `shift` (the continuity correction)."""
    if n12 == n21 == 0 and d == 0 and shift == 0:
        return 0.0
    A = 2.0 * n
    B = -n12 - n21 + (2.0 * n - n12 + n21) * d
    C = -n21 * d * (1.0 - d)
    disc = max(0.0, B * B - 4 * A * C)
    q21 = (-B + math.sqrt(disc)) / (2 * A)
    var = n * (2 * q21 + d * (1 - d))
    num = n12 - n21 - n * d - shift
    if var <= 0:
        return math.inf if num > 0 else (-math.inf if num < 0 else 0.0)
    return num / math.sqrt(var)


def tango(n12: int, n21: int, n: int, z: float = Z95, cc: float = CC) -> tuple[float, float, float]:
    """Tango's (1998) score interval for a paired difference of proportions, with a continuity
    correction of 1/2, and the p-value of the same test at 0 (McNemar's score test with the same
    correction). The interval is the set of differences the test does not reject, so interval and
    test never disagree. The correction lifts the exact worst-case coverage at n = 50-100 from
    93.3% to 95.1% (benchmarks/coverage.py) for about 8% more width."""
    eps = 1e-12
    x = n12 - n21
    p = 1.0 if abs(x) <= cc else 2 * (1 - norm_cdf((abs(x) - cc) / math.sqrt(n12 + n21)))
    lo_end, hi_end = -1 + eps, 1 - eps
    # lower bound: the largest d below x/n that the test rejects, i.e. Z(d) with the numerator moved down by cc = z
    flo = _tango_z(n12, n21, n, lo_end, cc) - z
    lo = -1.0 if flo <= 0 else _bisect(lambda d: z - _tango_z(n12, n21, n, d, cc), lo_end, hi_end, 1e-12)
    fhi = _tango_z(n12, n21, n, hi_end, -cc) + z
    hi = 1.0 if fhi >= 0 else _bisect(lambda d: -(_tango_z(n12, n21, n, d, -cc) + z), lo_end, hi_end, 1e-12)
    return min(lo, x / n), max(hi, x / n), p


def tango_pvalue(n12: int, n21: int, n: int, d0: float, cc: float = CC) -> float:
    """One-sided p-value of H0: difference <= d0 against difference > d0 (the same corrected score
    test: p < 0.025 exactly when the 95% interval's lower end is above d0)."""
    return 1 - norm_cdf(_tango_z(n12, n21, n, d0, cc))


def paired_difference(a: Sequence[float], b: Sequence[float], binary: bool,
                      clusters: Sequence[str] | None = None, margin: float | None = None) -> Paired:
    """See `_paired`; with a `margin`, the two one-sided non-inferiority p-values by the same test
    (Tango's score test, the paired t, the bounded test or the cluster sign-flip)."""
    r = _paired(a, b, binary, clusters)
    if margin is None or r.test == "none":
        return r
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return replace(r, p_b_noninferior=_p_shortfall(x - y, r, margin, binary, clusters),
                   p_a_noninferior=_p_shortfall(y - x, r, margin, binary, clusters))


def _p_shortfall(d: np.ndarray, r: Paired, margin: float, binary: bool, clusters: Sequence[str] | None) -> float:
    """One-sided p-value of 'mean d >= margin' against 'mean d < margin', by r's test."""
    n = len(d)
    if r.test in ("cluster_signflip", "bounded_betting") and clusters is not None and r.clusters:
        inv, g = cluster_index(clusters)
        if r.test == "cluster_signflip":
            return SignFlip.of(d, inv, g).p_below(margin)
        means = np.bincount(inv, weights=d, minlength=g) / np.bincount(inv, minlength=g)
        return betting.p_below(means, margin, lo=-1.0, hi=1.0)
    if r.test == "bounded_betting":
        return betting.p_below(d, margin, lo=-1.0, hi=1.0)
    if binary:
        worse, better = int(np.sum(d > 0)), int(np.sum(d < 0))
        return tango_pvalue(better, worse, n, -margin)
    # Graded differences: the betting test, valid for every distribution on [-1, 1]. The paired t's
    # one-sided level fails on rare total failures (B equal to A but for zeros on 6-8% of examples,
    # truly 5.4 points worse, was non-inferior within 5 in 4.0% of runs, promised 2.5%).
    return betting.p_below(d, margin, lo=-1.0, hi=1.0)


def _paired(a: Sequence[float], b: Sequence[float], binary: bool, clusters: Sequence[str] | None = None) -> Paired:
    """Difference a - b on the same examples: mean, 95% interval and the p-value of the test
    the interval inverts. Pass/fail pairs: Tango's score interval and score test; graded
    scores: the paired t interval and paired t test, or, where every difference is the same, the
    interval for bounded scores (betting.py), since a zero SD would make a point of it. Examples that
    share clusters are not independent: the comparison is made between clusters (see
    _paired_clustered; the per-example test said 'interval excludes 0' in 33% of runs with 6
    clusters of 10 and equal true quality, the cluster-level one in under 5%: benchmarks/messy.py)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = len(x)
    d = x - y
    diff = float(d.mean()) if n else math.nan
    if n < 2:
        return Paired(n, diff, None, None, 1.0, "none", None)
    sd = float(d.std(ddof=1))
    if clusters is not None:
        inv, g = cluster_index(clusters)
        if g < n:
            return _paired_clustered(d, inv, g, sd, binary)
    if binary:
        n12 = int(np.sum((x == 1) & (y == 0)))
        n21 = int(np.sum((x == 0) & (y == 1)))
        lo, hi, p = tango(n12, n21, n)
        return Paired(n, diff, lo, hi, p, "tango_score", sd, n12 + n21, n12, n21)
    if sd == 0:  # every difference the same: no spread observed is not no uncertainty

        _, lo, hi = betting.interval(d, lo=-1.0, hi=1.0)
        return Paired(n, diff, lo, hi, betting.p_value(d, 0.0, lo=-1.0, hi=1.0), "bounded_betting", 0.0)
    se = sd / math.sqrt(n)
    t = t_ppf(0.975, n - 1)
    return Paired(n, diff, diff - t * se, diff + t * se, t_sf2(diff / se, n - 1), "paired_t", sd)


_SIGNFLIP_ENUM_G = 12  # up to here every sign pattern is enumerated; above, a seeded sample of them
_SIGNFLIP_DRAWS = 8191
_CHUNK = 512


@functools.lru_cache(maxsize=64)
def _signs(g: int) -> np.ndarray:
    """Every sign pattern of g clusters (g up to _SIGNFLIP_ENUM_G; above, _flipped draws them)."""
    idx = np.arange(2**g)[:, None]
    return np.where((idx >> np.arange(g)) & 1, -1.0, 1.0)


def _flipped(v: np.ndarray) -> np.ndarray:
    """sum_g s_g v_g for every sign pattern s (all 2^g of them up to 12 clusters, else the observed
    one and 8,191 seeded draws), drawn in chunks so 10,000 clusters need no 600 MB matrix."""
    g = len(v)
    if g <= _SIGNFLIP_ENUM_G:
        return _signs(g) @ v
    rng = np.random.default_rng(20261202 + g)
    out = [np.array([float(v.sum())])]
    left = _SIGNFLIP_DRAWS
    while left:
        k = min(left, _CHUNK)
        out.append(rng.choice([-1.0, 1.0], size=(k, g)) @ v)
        left -= k
    return np.concatenate(out)


@dataclass(frozen=True)
class SignFlip:
    """The cluster sign-flip (randomization) test of 'the mean difference is delta': under the null
    each cluster's centred sum is as likely negative as positive (the two models are exchangeable
    within a cluster), so the test is exact whatever the distribution and the clusters' sizes. For
    every delta at once: with
    A = sum s_g S_g and B = sum s_g n_g over the sign patterns, the statistic at delta is
    |A - delta B|, so one pass over the patterns serves the test, the interval and the power."""

    A: np.ndarray
    B: np.ndarray
    total: float  # sum of the differences
    n: int
    g: int

    @classmethod
    def of(cls, d: np.ndarray, inv: np.ndarray, g: int) -> SignFlip:
        sums = np.bincount(inv, weights=d, minlength=g)
        sizes = np.bincount(inv, minlength=g).astype(float)
        return cls(_flipped(sums), _flipped(sizes), float(d.sum()), len(d), g)

    def p(self, delta: float) -> float:
        """Two-sided p-value of 'the mean difference is delta'."""
        obs = abs(self.total - delta * self.n)
        return float(np.mean(np.abs(self.A - delta * self.B) >= obs - 1e-9))

    def p_below(self, delta: float) -> float:
        """One-sided p-value of 'the mean difference is delta or more' against 'it is less'."""
        obs = self.total - delta * self.n
        return float(np.mean(self.A - delta * self.B <= obs + 1e-9))


def smallest_signflip_p(g: int) -> float:
    """The smallest two-sided p-value the sign-flip test can give with g clusters: 2 / 2^g when every
    pattern is counted, one in the sampled patterns above."""
    return 2.0 / 2**g if g <= _SIGNFLIP_ENUM_G else 1.0 / (_SIGNFLIP_DRAWS + 1)


def clusters_to_show(alpha: float) -> int:
    """The fewest clusters with which the sign-flip test can reach a p-value under alpha at all."""
    g = 2
    while smallest_signflip_p(g) >= alpha:
        g += 1
    return g


def cluster_signflip(d: np.ndarray, inv: np.ndarray, g: int, conf: float = CONF) -> tuple[float, float, float]:
    """(lo, hi, p at 0): the sign-flip test and the interval that inverts it. With 4 clusters the
    smallest possible p is 2/16 = 0.125: no difference can be shown, and the interval says so by
    spanning every value."""
    sf = SignFlip.of(d, inv, g)
    diff = float(d.mean())
    alpha = 1 - conf
    p0 = sf.p(0.0)

    def end(direction: float) -> float:
        far = diff + direction * 2.0
        if sf.p(far) > alpha:
            return max(-1.0, min(1.0, far))
        return _bisect(lambda x: (sf.p(diff + direction * x) <= alpha) - 0.5, 0.0, 2.0, 1e-6) * direction + diff

    lo, hi = end(-1.0), end(1.0)
    if p0 > alpha:  # p(delta) is a step function, not always monotone: keep interval and test in agreement
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    return max(-1.0, min(lo, diff)), min(1.0, max(hi, diff)), p0


def _paired_clustered(d: np.ndarray, inv: np.ndarray, g: int, sd: float, binary: bool) -> Paired:
    """Examples in g clusters of any sizes: the cluster-level sign-flip test and the interval that
    inverts it, whatever the number of clusters. Until this version the cluster-robust t took over
    from 30 clusters by the count alone, and with one cluster of 30 beside 30 single examples it
    called two equal models different in 26.5% of runs; the sign-flip test keeps its level for
    every design (benchmarks/corners.py). Where the clusters' differences show no spread at all,
    the interval is the one for bounded scores (modelsel/analysis/betting.py) over the clusters' mean
    differences: no spread observed is not no uncertainty."""
    n = len(d)
    diff = float(d.mean())
    counts = (int(np.sum(d > 0)), int(np.sum(d < 0))) if binary else (None, None)
    disc = counts[0] + counts[1] if binary else None  # type: ignore[operator]
    if g < 2:
        return Paired(n, diff, None, None, 1.0, "cluster_signflip", sd, disc, counts[0], counts[1], g, None)
    cv = cr2(d, inv, g)
    iid = sd / math.sqrt(n)
    n_eff = min(float(n), n * (iid / cv.se) ** 2) if cv.se > 0 and iid > 0 else float(n)
    means = np.bincount(inv, weights=d, minlength=g) / np.bincount(inv, minlength=g)
    if float(np.ptp(means)) == 0.0:
        _, lo, hi = betting.interval(means, lo=-1.0, hi=1.0)
        p = betting.p_value(means, 0.0, lo=-1.0, hi=1.0)
        return Paired(n, diff, lo, hi, p, "bounded_betting", sd, disc, counts[0], counts[1], g, n_eff, cv.se, cv.df)
    lo, hi, p = cluster_signflip(d, inv, g)
    return Paired(n, diff, lo, hi, p, "cluster_signflip", sd, disc, counts[0], counts[1], g, n_eff, cv.se, cv.df)


def mover_difference(a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[float, float]:
    """Interval for mean_a - mean_b from each one's own (mean, lo, hi) at the same level, by MOVER
    (Zou and Donner 2008; Newcombe's hybrid score interval when both are Wilson intervals). It
    keeps whatever each interval accounts for (clusters, exactness, skew); the groups are taken
    as independent (groups sharing examples are positively correlated, which only widens it)."""
    (ma, la, ha), (mb, lb, hb) = a, b
    d = ma - mb
    return (d - math.sqrt((ma - la) ** 2 + (hb - mb) ** 2), d + math.sqrt((ha - ma) ** 2 + (mb - lb) ** 2))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (family-wise error control, any dependence)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adj = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adj[i] = running
    return adj


# --- what an eval set can resolve ----------------------------------------------------------

def resolvable_difference(n: int, sd_diff: float = 0.5, alpha: float = 0.05) -> float:
    """Half-width of the (1 - alpha) interval of a paired difference: smaller gaps are not resolvable."""
    return norm_ppf(1 - alpha / 2) * sd_diff / math.sqrt(n) if n else math.inf


def minimum_detectable_difference(n: int, sd_diff: float = 0.5, power: float = 0.8, alpha: float = 0.05,
                                  df: float | None = None, deff: float = 1.0) -> float:
    """Smallest true difference a paired test at two-sided level alpha finds with the given power
    (t quantiles at df, n - 1 by default: with the normal ones the claim overstates the power at
    n = 50). `alpha` is the level the pair is actually tested at: 0.05 / m at Holm's strictest step
    over m comparisons; `deff` the design effect of clustered examples."""
    if n < 2:
        return math.inf
    df = df if df is not None else n - 1
    return (t_ppf(1 - alpha / 2, df) + t_ppf(power, df)) * sd_diff * math.sqrt(deff / n)


def n_to_detect(delta: float, sd_diff: float, power: float = 0.8, alpha: float = 0.05) -> int | None:
    """Examples a paired comparison at level alpha needs to tell a true gap of `delta` apart at 80% power."""
    if delta <= 0 or sd_diff <= 0:
        return None
    n = max(2, math.ceil(((norm_ppf(1 - alpha / 2) + norm_ppf(power)) * sd_diff / delta) ** 2))
    while minimum_detectable_difference(n, sd_diff, power, alpha) > delta:  # t quantiles need a few more
        n += 1
    return n


def ab_sample_size(p1: float, p2: float, power: float = 0.8) -> int | None:
    """Users per arm for a two-proportion A/B test (normal approximation, alpha 0.05 two-sided)."""
    delta = abs(p1 - p2)
    if delta == 0:
        return None
    pbar = (p1 + p2) / 2
    zb = norm_ppf(power)
    n = (Z95 * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / delta**2
    return math.ceil(n)


def monthly_projection(per_request: float, requests: int, growth_pct: float, months: int,
                       fixed: float = 0.0) -> dict[str, float]:
    """Cost at projected volume: month 1, the last month of the horizon, and the horizon total."""
    g = 1 + growth_pct / 100
    per_month = [per_request * requests * g**i + fixed for i in range(months)]
    return {"first_month_usd": per_month[0], "last_month_usd": per_month[-1], "horizon_total_usd": sum(per_month)}
