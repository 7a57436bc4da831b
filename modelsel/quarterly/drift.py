"""Reviews that stay honest over years: the drift test of one decision across all its reviews.

Each review compares the incumbent's answers now with every earlier run of the same decision (its
baseline run and the reviews since), example by example: under no drift the runs of one example are
exchangeable, so the test permutes, within each example, which run is "now" (with one earlier run this
is the paired sign-flip test). Pooling the earlier runs takes their noise out of the comparison, so a
drop that each run shows on a few examples is seen; comparing with the newest run only compared a
dropped model with itself ("0.825 vs 0.825").

The false-alarm chance is controlled over the whole plan, not per review: the one-sided 2.5% is split
evenly over the planned reviews (Bonferroni, valid however the reviews depend on each other, and they
do: they share the baseline), and each review states what it may spend and what is left. Past the
planned reviews the budget is spent and the test is not run: record a new decision (a new baseline)."""

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
        return (f"review {self.look} of {self.planned} planned: a drop is called at p < {self.per_look:.4g}; false-alarm "
                f"budget {ALPHA:.1%} over the plan, {self.spent:.2%} spent, {self.left:.2%} left")


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


VAR_FLOOR = 0.05  # an example's weight is 1 / sqrt(its variance over the earlier runs + this)


def _windows(x: np.ndarray, windows: list[int]) -> np.ndarray:
    """For each window j (the last j runs as 'after'), the weighted change: the sum over examples of
    (mean after - mean before) / sqrt(variance before + VAR_FLOOR). An example that never changed
    before and fails now is stronger evidence than one that always came and went."""
    out = []
    for j in windows:
        before, after = x[..., :-j], x[..., -j:]
        w = 1.0 / np.sqrt(before.var(axis=-1) + VAR_FLOOR)
        out.append(((after.mean(axis=-1) - before.mean(axis=-1)) * w).sum(axis=-1))
    return np.stack(out, axis=-1)


def drift_test(earlier: list[dict[str, float]], now: dict[str, float], permutations: int = PERMUTATIONS) -> Drift | None:
    """The within-example permutation test of 'the incumbent is lower now than it was'. The statistic
    is the stronger of two windows (this review alone, and this review with the one before, so a drop
    that began last quarter counts twice), each standardised by its permutation distribution, the
    examples weighted by how steady they were. Any statistic keeps the test's level: under no drift
    the runs of an example are exchangeable, and the permutations are of those. None when the runs
    share fewer than two examples."""
    shared = sorted(set(now).intersection(*earlier)) if earlier else []
    if len(shared) < 2:
        return None
    x = np.array([[r[e] for r in earlier] + [now[e]] for e in shared], dtype=float)  # examples x runs, now last
    n, runs = x.shape
    diff = float(np.mean(x[:, -1] - x[:, :-1].mean(axis=1)))
    if np.all(x == x[:, :1]):
        return Drift(0.0, 1.0, n, runs - 1)
    windows = [1] if runs < 4 else [1, 2]
    rng = np.random.default_rng(_SEED + n * 100 + runs)
    # In chunks of about 2M draws: one array of every permutation grows with the eval set (2,000
    # examples x 9 runs x 5,000 permutations held 1.4 GB). Consecutive draws are the same stream.
    step = max(1, 2_000_000 // (n * runs))
    parts = []
    for start in range(0, permutations, step):
        k = min(step, permutations - start)
        order = np.argsort(rng.random((k, n, runs)), axis=2)
        parts.append(_windows(np.take_along_axis(np.broadcast_to(x, (k, n, runs)), order, axis=2), windows))
    perm = np.concatenate(parts)
    mu, sd = perm.mean(axis=0), perm.std(axis=0)
    sd[sd == 0] = 1.0
    observed = float(np.min((_windows(x, windows) - mu) / sd))
    null = np.min((perm - mu) / sd, axis=1)
    p = (1 + int(np.sum(null <= observed + 1e-12))) / (permutations + 1)
    return Drift(diff, p, n, runs - 1)
