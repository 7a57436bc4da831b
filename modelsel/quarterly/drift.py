"""Reviews that stay honest over years: the drift test of one decision across all its reviews.

Each review compares the incumbent's answers now with every earlier run of the same decision (its
baseline run and the reviews since), example by example: under no drift the runs of one example are
exchangeable, so the test permutes, within each example, which run is "now" (with one earlier run this
is the paired sign-flip test). Pooling the earlier runs takes their noise out of the comparison, so a
drop that each run shows on a few examples is seen; comparing with the newest run only compared a
dropped model with itself ("0.825 vs 0.825"). The evidence is counted per example against its own
history: an example right in every earlier run and wrong now is a 1-in-(runs) event on its own, and
four of them are beyond chance; averaging the change over all examples drowned them in the coins.

The false-alarm chance is controlled over the whole plan, not per review: the one-sided 2.5% is split
evenly over the planned reviews (Bonferroni, valid however the reviews depend on each other, and they
do: they share the baseline), and each review states what it may spend and what is left. Past the
planned reviews the budget is spent and the test is not run: record a new decision (a new baseline).
A test martingale over the reviews (conformal p-values, valid at any number of looks) was measured
and left out: it saw the benchmark's 5-point drop within two reviews in 3% of histories against 87%
(benchmarks/review_history.py), since evidence that must also pay for every quiet review before it
arrives late; spending the whole 2.5% on the one review that matters would reach 92%."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHA = 0.025  # one-sided, over every planned review of one decision
PERMUTATIONS = 5_000
_SEED = 20261206


@dataclass(frozen=True)
class Budget:
    look: int  # this review's number (1 = the first review after the decision)
    planned: int
    per_look: float  # the p-value a drop must be under at this review
    spent: float  # spent by the reviews so far, this one included
    left: float

    @property
    def exhausted(self) -> bool:
        return self.look > self.planned

    def text(self) -> str:
        if self.exhausted:
            return (f"review {self.look} of {self.planned} planned: the plan's false-alarm budget ({ALPHA:.1%}) is spent, "
                    "so no drift verdict is given; record a new decision (`modelsel eval`) to start a new plan")
        return (f"review {self.look} of {self.planned} planned: a drop is called at p < {self.per_look:.4g} (a result "
                f"chance alone gives less than 1 time in {1 / self.per_look:,.0f}); false-alarm budget {ALPHA:.1%} over "
                f"the plan, {self.spent:.2%} spent, {self.left:.2%} left for {self.planned - self.look} more review(s)")


def budget(look: int, planned: int, alpha: float = ALPHA) -> Budget:
    per = alpha / planned
    spent = min(look, planned) * per
    return Budget(look=look, planned=planned, per_look=per if look <= planned else 0.0, spent=spent, left=alpha - spent)


@dataclass(frozen=True)
class Drift:
    diff: float  # now - the earlier runs' mean, over the shared examples
    p: float  # one-sided: the chance of a drop at least this strong with no drift
    n: int  # shared examples
    runs: int  # earlier runs pooled
    broke: tuple[str, ...] = ()  # examples the same in every earlier run and lower now (the evidence a PM can open)


# The drop the statistic is tuned for: about one example in twenty breaks (a 5-point drop on a steady
# eval set). The test's level does not depend on it; its power barely does (0.02 to 0.1 within 3 points).
BREAK_SHARE = 0.05


def _after_sets(runs: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair (a, b) of distinct runs: under no drift, which run is 'now' (b) and which
    the one before it (a) is such a pair drawn uniformly, independently for each example."""
    a, b = np.nonzero(~np.eye(runs, dtype=bool))
    return a, b


def _evidence(x: np.ndarray, window: int) -> np.ndarray:
    """For each example and each possible (before-now, now) pair: how much a drop that broke this
    example would explain the runs, log(1 - s + s / q), where q is the example's own chance, with
    no drift, of an 'after' (the last `window` runs) this low or lower among all it could have been,
    and s the share of examples a drop breaks (BREAK_SHARE). An example right in every earlier run
    and wrong now has q = 1 / runs (wrong on the last two of seven: 1 / 21) and weighs much; one
    that always came and went has q near 1/2 and adds little; one that never changed adds nothing."""
    a, b = _after_sets(x.shape[1])
    s = x[:, b] if window == 1 else (x[:, a] + x[:, b]) / 2  # examples x pairs
    # q = the share of pairs whose 'after' is at most this one, by one sorted search over all rows
    # (rows offset by 2 apart: scores lie in [0, 1]).
    off = 2.0 * np.arange(s.shape[0])[:, None]
    flat = np.sort((s + off).ravel())
    q = (np.searchsorted(flat, (s + off).ravel(), side="right").reshape(s.shape) - np.arange(s.shape[0])[:, None]
         * s.shape[1]) / s.shape[1]
    return np.log(1 - BREAK_SHARE + BREAK_SHARE / q)


def _tail(t: np.ndarray) -> np.ndarray:
    """For each of these values, the share of them at least as large (ties count)."""
    srt = np.sort(t)
    return (len(t) - np.searchsorted(srt, t, side="left")) / len(t)


def drift_test(earlier: list[dict[str, float]], now: dict[str, float], permutations: int = PERMUTATIONS,
               windows: tuple[int, ...] = (1, 2)) -> Drift | None:
    """The within-example permutation test of 'the incumbent is lower now than it was'. Under no
    drift the runs of an example are exchangeable, so which run is 'now' (and which the review
    before it) is a uniform draw, independent across examples; the test compares the runs as they
    came with `permutations` such draws. The statistic sums, over examples, how surprising each
    example's latest runs are against its own history (_evidence): a few steady examples that
    broke outweigh the coins among the rest. Two windows, this review alone and this review with
    the one before (so a drop that began last quarter counts twice), the stronger one taken with
    its own price paid: the p-value is of the smaller of the two windows' p-values, over the same
    draws, the observed runs counted among them (exact at any size; any statistic keeps the level).
    `windows=(1,)` makes the statistic symmetric in the earlier runs (a conformal p-value: independent
    from review to review with no drift; benchmarks/review_history.py bets on those). None when the
    runs share fewer than two examples."""
    shared = sorted(set(now).intersection(*earlier)) if earlier else []
    if len(shared) < 2:
        return None
    x = np.array([[r[e] for r in earlier] + [now[e]] for e in shared], dtype=float)  # examples x runs, now last
    n, runs = x.shape
    diff = float(np.mean(x[:, -1] - x[:, :-1].mean(axis=1)))
    steady = np.all(x[:, :-1] == x[:, :1], axis=1)
    broke = tuple(e for e, s, a, b in zip(shared, steady, x[:, 0], x[:, -1], strict=True) if s and b < a)
    if np.all(x == x[:, :1]):
        return Drift(0.0, 1.0, n, runs - 1)
    windows = [w for w in windows if w == 1 or runs >= 4] or [1]
    ev = [_evidence(x, w) for w in windows]  # examples x pairs, one per window
    a, b = _after_sets(runs)
    pairs = len(a)
    observed = int(np.flatnonzero((a == runs - 2) & (b == runs - 1))[0])  # the last two runs as they came
    rng = np.random.default_rng(_SEED + n * 100 + runs)
    rows = np.arange(n)
    # In chunks of about 2M draws: the draws grow with the eval set (2,000 examples x 5,000).
    step = max(1, 2_000_000 // n)
    parts = []
    for start in range(0, permutations, step):
        k = min(step, permutations - start)
        draw = rng.integers(0, pairs, size=(k, n))
        parts.append(np.stack([e[rows, draw].sum(axis=1) for e in ev], axis=1))
    t = np.concatenate([np.array([[e[:, observed].sum() for e in ev]])] + parts)  # row 0: as observed
    t = np.round(t, 9)  # sums in another order must tie
    least = np.min(np.stack([_tail(t[:, j]) for j in range(len(windows))], axis=1), axis=1)
    p = float(np.mean(least <= least[0]))
    return Drift(diff, p, n, runs - 1, broke)
