"""Right every time: how each example fared over its independent tries (`--repeat K`). Pure: no I/O.

A model right on 80% of tries may be right on every try for 80% of examples, or for half of them
while the other half flip. Per example, n tries of which c were right give:

- pass^k, right on all k tries: the unbiased estimate of p^k is C(c, k) / C(n, k) (with n = k, 1 when
  all were right, else 0);
- pass@k, right on at least one of k tries: 1 - C(n - c, k) / C(n, k) (Chen et al. 2021), unbiased
  when n > k;
- a flip: right on some tries and wrong on others.

The figures are means of these per-example values over examples; metrics.py puts the interval on
them (over examples, clustered where examples share a cluster). An example asked fewer than k times
(a partial run) has no value and is counted as not shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb

from modelsel.run.calls import CallArrays


def pass_all_estimate(n: int, c: int, k: int) -> float:
    """Unbiased estimate of p^k, the chance of k right answers in k tries, from c right of n tries."""
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"need 1 <= k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    return comb(c, k) / comb(n, k)


def pass_at_k_estimate(n: int, c: int, k: int) -> float:
    """Unbiased estimate of 1 - (1 - p)^k, the chance of at least one right answer in k tries."""
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"need 1 <= k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    return 1.0 - comb(n - c, k) / comb(n, k)


@dataclass
class Tally:
    """Per example (eval-set order of first appearance): scored tries, right tries and its cluster."""

    ids: list[str] = field(default_factory=list)
    tries: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    cluster: list[str] = field(default_factory=list)

    def complete(self, k: int) -> list[int]:
        """Positions of the examples with at least k scored tries."""
        return [i for i, n in enumerate(self.tries) if n >= k]

    def short(self, k: int) -> list[int]:
        """Positions of the examples asked fewer than k times (a partial run): not shown."""
        return [i for i, n in enumerate(self.tries) if n < k]

    def flipped(self, k: int) -> list[str]:
        """Ids of the examples right on some of their tries and wrong on others."""
        return [self.ids[i] for i in self.complete(k) if 0 < self.right[i] < self.tries[i]]


def tally(arr: CallArrays) -> Tally:
    """Scored tries per example: an error is a wrong try, an answer left unscored is no try."""
    out = Tally()
    pos: dict[str, int] = {}
    for ex, cl, passed in zip(arr.example.tolist(), arr.cluster.tolist(), arr.passed.tolist(), strict=True):
        i = pos.get(ex)
        if i is None:
            i = pos[ex] = len(out.ids)
            out.ids.append(ex)
            out.tries.append(0)
            out.right.append(0)
            out.cluster.append(cl)
        if passed >= 0:
            out.tries[i] += 1
            out.right[i] += int(passed == 1)
    return out


def per_example_pass_all(arr: CallArrays, k: int) -> dict[str, float]:
    """Each fully asked example's pass^k estimate: what paired comparisons use when the choice rests
    on quality.min_pass_all."""
    t = tally(arr)
    return {t.ids[i]: pass_all_estimate(t.tries[i], t.right[i], k) for i in t.complete(k)}
