"""Do the live trial's confidence sequences hold at every look? Simulated trials with a known
difference between the arms, read at every request and at the end of every day: how often the
difference's 95% sequence ever misses the truth (it must be at most 5% over the whole trial),
against a fixed-n 95% interval peeked at daily (Wald; for medians, order-statistic standard
errors): right once, wrong when read every day.

Also: a challenger truly as bad as the margin, and how often a daily look "shows" it non-inferior
(the decision's error: at most 2.5% for the sequence), and with truly equal arms how often and how
soon the sequence shows non-inferiority (its power by the last day).

    python benchmarks/trial.py [--reps 1000] [--days 14]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modelsel.analysis import sequential as sq  # noqa: E402

ALPHA = 0.05


def _path(rng: np.random.Generator, days: int, per_day: tuple[int, int], draw: tuple) -> tuple:  # type: ignore[type-arg]
    """One trial: each arm's observations with their arrival times (uniform within each day)."""
    out = []
    for arm, n in enumerate(per_day):
        t = np.sort(np.concatenate([d + rng.random(n) for d in range(days)]))
        out += [t, draw[arm](rng, n * days)]
    return tuple(out)


def scenario(name: str, reps: int, days: int, per_day: tuple[int, int], draw: tuple, truth: float,  # type: ignore[type-arg]
             method: str, margin: float | None = None, seed: int = 1) -> dict[str, float]:
    """`method`: eb (rates: the paired sequence, beside two arms' sequences subtracted), quantile (median
    latency; truth: the difference of medians) or asymptotic (mean cost)."""
    rng = np.random.default_rng(seed)
    miss_any = miss_daily = naive_daily = naive_last = 0
    ni_false = ni_naive_false = 0  # truth == margin: a non-inferiority claim is wrong
    union_miss = union_shown = 0  # rates: two arms' sequences subtracted (the first construction), for comparison
    shown_days: list[int] = []
    ends = np.arange(1, days + 1, dtype=float) - 1e-9
    for _ in range(reps):
        ta, xa, tb, xb = _path(rng, days, per_day, draw)
        every = np.union1d(ta, tb)
        looks = every[::25] if method == "quantile" else every  # the quantile sequence: every 25th request
        looks = np.union1d(looks, ends)
        union = sq.difference(sq.arm_at(xa, ALPHA / 2, method, np.searchsorted(ta, looks, side="right"), 500),
                              sq.arm_at(xb, ALPHA / 2, method, np.searchsorted(tb, looks, side="right"), 500))
        d = union
        if method == "eb":  # rates: the paired sequence the trial uses (r from the design's split)
            z, tz = sq.paired(xa, ta, xb, tb, max(per_day[0] // per_day[1], 1))
            d = sq.paired_cs_at(z, tz, ALPHA, looks)
            union_miss += bool(((union.lo > truth) | (union.hi < truth)).any())
            if margin is not None and truth < margin:
                union_shown += bool((union.hi < margin).any())
        miss = (d.lo > truth) | (d.hi < truth)
        miss_any += bool(miss.any())
        miss_daily += bool(miss[np.isin(looks, ends)].any())
        wald = []
        for e in ends:
            ka, kb = np.searchsorted(ta, e, side="right"), np.searchsorted(tb, e, side="right")
            if method == "quantile":  # each median's fixed-n interval
                wald.append(_median_interval(xa[:ka], xb[:kb]))
            else:
                wald.append(sq.naive_interval(xa[:ka], xb[:kb]))
        naive_daily += any(lo > truth or hi < truth for lo, hi in wald)
        naive_last += wald[-1][0] > truth or wald[-1][1] < truth
        if margin is not None:
            hit = np.flatnonzero(d.hi < margin)
            if truth >= margin:
                ni_false += len(hit) > 0
                ni_naive_false += any(hi < margin for _, hi in wald)
            elif len(hit):
                shown_days.append(int(looks[hit[0]]) + 1)
    r = {"cs_any": miss_any / reps, "cs_daily": miss_daily / reps, "naive_daily": naive_daily / reps,
         "naive_last": naive_last / reps}
    line = (f"{name:<62} CS misses at any look {r['cs_any']:6.1%}, at a daily look {r['cs_daily']:6.1%} | "
            f"fixed-n interval peeked daily {r['naive_daily']:6.1%} (read once, at the end: {r['naive_last']:5.1%})")
    if method == "eb":
        line += f"\n{'':<62} (two arms' sequences subtracted instead: misses {union_miss / reps:.1%}"
        line += (f", non-inferiority shown by day {days} in {union_shown / reps:.0%})" if margin is not None
                 and truth < margin else ")")
    if margin is not None and truth >= margin:
        r["ni_false"], r["ni_naive_false"] = ni_false / reps, ni_naive_false / reps
        line += (f"\n{'':<62} truly {margin * 100:g} points worse, 'not worse' claimed: CS {r['ni_false']:.1%}, "
                 f"fixed-n peeked daily {r['ni_naive_false']:.1%}")
    elif margin is not None:
        r["power"] = len(shown_days) / reps
        med = float(np.median(shown_days)) if shown_days else math.nan
        line += (f"\n{'':<62} non-inferiority within {margin * 100:g} points shown by day {days}: {r['power']:.0%} "
                 f"of trials (median day {med:.0f})")
    print(line, flush=True)
    return r


def _median_interval(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The fixed-n 95% interval for a difference of medians: each median's standard error from its
    order-statistic interval (ranks n/2 -+ 1.96 sqrt(n)/2), combined as a Wald interval."""
    d, var = float(np.median(b) - np.median(a)), 0.0
    for x in (a, b):
        n = len(x)
        h = 1.96 * math.sqrt(n) / 2
        lo_r, hi_r = max(int(n / 2 - h), 1), min(int(math.ceil(n / 2 + h)) + 1, n)
        part = np.partition(x, [lo_r - 1, hi_r - 1])
        var += ((float(part[hi_r - 1]) - float(part[lo_r - 1])) / (2 * 1.96)) ** 2
    return d - 1.96 * math.sqrt(var), d + 1.96 * math.sqrt(var)


def bern(p: float):  # type: ignore[no-untyped-def]
    return lambda rng, n: (rng.random(n) < p).astype(float)


def lognorm(median_ms: float, sigma: float):  # type: ignore[no-untyped-def]
    return lambda rng, n: rng.lognormal(math.log(median_ms), sigma, n)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--days", type=int, default=14)
    args = ap.parse_args()
    t0 = time.perf_counter()
    R, D = args.reps, args.days
    print(f"{R} simulated trials of {D} days each; 95% level; a miss is any look at which the interval excludes the "
          "true difference")
    worst = []
    worst.append(scenario("thumbs-down 10% vs 10%, 50/50, 300+300 rated a day", R, D, (300, 300),
                          (bern(0.10), bern(0.10)), 0.0, "eb", margin=0.03)["cs_any"])
    worst.append(scenario("thumbs-down 10% vs 12%, 10% canary, 900+100 rated a day", R, D, (900, 100),
                          (bern(0.10), bern(0.12)), 0.02, "eb")["cs_any"])
    worst.append(scenario("thumbs-down 10% vs 13% (truly at the 3-point margin), 50/50", R, D, (300, 300),
                          (bern(0.10), bern(0.13)), 0.03, "eb", margin=0.03, seed=3)["cs_any"])
    worst.append(scenario("errors 2% vs 2%, 10% canary, 1800+200 calls a day", R, D, (1800, 200),
                          (bern(0.02), bern(0.02)), 0.0, "eb")["cs_any"])
    worst.append(scenario("median latency 900 vs 600 ms, lognormal sigma 1.0, 50/50", R, D, (300, 300),
                          (lognorm(900, 1.0), lognorm(600, 1.0)), -300.0, "quantile")["cs_any"])
    worst.append(scenario("median latency equal, lognormal sigma 1.5 (heavy), 10% canary", R, D, (450, 50),
                          (lognorm(900, 1.5), lognorm(900, 1.5)), 0.0, "quantile")["cs_any"])
    mean = math.exp(math.log(0.002) + 0.5**2 / 2)  # cost per request: tokens vary, lognormal sigma 0.5
    worst.append(scenario("mean cost $0.0023 vs 62% of it, lognormal sigma 0.5, 10% canary", R, D, (900, 100),
                          (lognorm(0.002, 0.5), lognorm(0.002 * 0.62, 0.5)), mean * 0.62 - mean, "asymptotic")["cs_any"])
    worst.append(scenario("mean cost equal, lognormal sigma 1.0 (heavy tail), 10% canary", R, D, (900, 100),
                          (lognorm(0.002, 1.0), lognorm(0.002, 1.0)), 0.0, "asymptotic")["cs_any"])
    print(f"worst miss rate of the confidence sequences over the scenarios: {max(worst):.1%} (must be <= 5%); "
          f"{time.perf_counter() - t0:.0f} s")
    return 0 if max(worst) <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / R) else 1


if __name__ == "__main__":
    raise SystemExit(main())
