"""Right every time, with known truth: coverage of pass^k, pass@k and the flip share, and the
verdicts of quality.min_pass_all (issue 42); the pass rate and p95 with repeats (issue 49).

A simulated model answers example i right with chance p_i on each of K independent tries, so the
truth is known: pass^K = E[p^K], pass@K = E[1 - (1 - p)^K], flips = E[1 - p^K - (1 - p)^K]. Each
run draws its examples from the population (or, "fixed set", keeps one eval set and draws only the
tries; the truth is then the mean over that set), goes through modelsel's own metrics.compute and
limits.check, and each line prints a rate over --reps runs. `--baseline PATH` runs the scenarios
an earlier checkout can run in a child process and prints both columns.

    python benchmarks/consistency.py [--reps 400] [--baseline /work/main]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


def arrays(cand: str, p: np.ndarray, k: int, rng: np.random.Generator, clusters: list[str] | None = None,
           latency: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    from modelsel.run.calls import Calls
    from modelsel.run.records import Record

    ok = rng.random((len(p), k)) < p[:, None]
    lat = latency if latency is not None else np.full((len(p), k), 100.0)
    return Calls.from_records(
        Record(candidate=cand, example_id=f"x{i}", repeat=r, tags=["t"], cluster=clusters[i] if clusters else None,
               score=float(ok[i, r]), passed=bool(ok[i, r]), output="a", latency_ms=float(lat[i, r]), attempts=1,
               cost_usd=0.001) for i in range(len(p)) for r in range(k)).arrays()


def req(**quality: Any):  # type: ignore[no-untyped-def]
    from modelsel.inputs.requirements import Requirements

    return Requirements.model_validate({"task": "t", "evalset": "e.jsonl", "quality": quality,
                                        "run": {"repeats": 3} if "min_pass_all" in quality else {}})


def population(rng: np.random.Generator, n: int, steady: float = 0.5) -> np.ndarray:
    """A share `steady` of examples always right, the rest right with chance Uniform(0.3, 0.95)."""
    return np.where(rng.random(n) < steady, 1.0, rng.uniform(0.3, 0.95, n))


def truths(k: int, steady: float = 0.5) -> dict[str, float]:
    grid = np.linspace(0.3, 0.95, 200_001)
    def mean(f):  # type: ignore[no-untyped-def]
        return steady * f(1.0) + (1 - steady) * float(np.mean(f(grid)))
    return {"all": mean(lambda p: p**k), "any": mean(lambda p: 1 - (1 - p) ** k),
            "flip": mean(lambda p: 1 - p**k - (1 - p) ** k)}


# --- scenarios ---------------------------------------------------------------------------------

def cover_pass_k(reps: int, n: int, k: int, fixed: bool, clustered: bool) -> dict[str, float]:
    from modelsel.analysis.metrics import compute

    rng = np.random.default_rng(20261206 + n * 10 + k + 100 * fixed + 1000 * clustered)
    t = truths(k)
    p_fixed = population(rng, n)
    hits = {"all": 0, "any": 0, "flip": 0}
    for _ in range(reps):
        if clustered:  # 10 clusters: a cluster shifts the chance of all its examples together
            shift = np.repeat(rng.normal(0, 0.15, 10), n // 10)
            base = population(rng, n)
            p = np.clip(np.where(base == 1.0, 1.0, base + shift), 0.0, 1.0)
            cl = [f"c{i // (n // 10)}" for i in range(n)]
        else:
            p, cl = (p_fixed if fixed else population(rng, n)), None
        truth = ({"all": float(np.mean(p**k)), "any": float(np.mean(1 - (1 - p) ** k)),
                  "flip": float(np.mean(1 - p**k - (1 - p) ** k))} if fixed else t)
        if clustered:  # the truth over the population of clusters: simulated once, large
            truth = _clustered_truth(k)
        figs, _, _ = compute(arrays("m", p, k, rng, cl), req(min_score=0.1), k=k)
        q = figs["m"].quality
        for key, fig in (("all", q.pass_all), ("any", q.pass_at_k), ("flip", q.flips)):
            assert fig is not None and fig.lo is not None and fig.hi is not None
            hits[key] += fig.lo <= truth[key] <= fig.hi
    return {key: v / reps for key, v in hits.items()}


_CT: dict[int, dict[str, float]] = {}


def _clustered_truth(k: int) -> dict[str, float]:
    if k not in _CT:
        rng = np.random.default_rng(7)
        base = population(rng, 2_000_000)
        p = np.clip(np.where(base == 1.0, 1.0, base + rng.normal(0, 0.15, len(base))), 0.0, 1.0)
        _CT[k] = {"all": float(np.mean(p**k)), "any": float(np.mean(1 - (1 - p) ** k)),
                  "flip": float(np.mean(1 - p**k - (1 - p) ** k))}
    return _CT[k]


def verdicts(reps: int, n: int, k: int, offset: float) -> dict[str, float]:
    """quality.min_pass_all set `offset` from the truth: share of runs failed, at risk and passed surely."""
    from modelsel.analysis import limits
    from modelsel.analysis.metrics import compute

    rng = np.random.default_rng(99 + n + k)
    bar = truths(k)["all"] - offset
    r = req(min_score=0.1, min_pass_all=round(bar, 4))
    out = {"fail": 0, "at_risk": 0, "pass": 0}
    for _ in range(reps):
        figs, _, _ = compute(arrays("m", population(rng, n), k, rng), r, k=k)
        c = next(c for c in limits.check(figs["m"], r) if c.requirement == "quality.min_pass_all")
        out[c.status] += 1
    return {key: v / reps for key, v in out.items()}


def ceiling_pass_rate(reps: int, n: int, k: int) -> float:
    """Issue 49 item 1 (repeats): 97.5% of examples always right, 2.5% always wrong (tries of one
    example move together); coverage of the pass rate's interval (truth 0.975)."""
    from modelsel.analysis.metrics import compute

    rng = np.random.default_rng(4900 + n + k)
    hits = 0
    for _ in range(reps):
        p = np.where(rng.random(n) < 0.975, 1.0, 0.0)
        figs, _, _ = compute(arrays("m", p, k, rng), req(min_score=0.1))
        q = figs["m"].quality
        hits += q.pass_lo <= 0.975 <= q.pass_hi
    return hits / reps


def ceiling_clusters(reps: int) -> float:
    """Issue 49 item 1: 80 examples in 8 clusters of 10, a cluster's examples right or wrong together
    (wrong with chance 0.07: truth 0.93); every example passes in 56% of runs. Coverage of the pass
    rate's interval."""
    from modelsel.analysis.metrics import compute

    rng = np.random.default_rng(4910)
    cl = [f"c{i // 10}" for i in range(80)]
    hits = 0
    for _ in range(reps):
        p = np.where(np.repeat(rng.random(8) < 0.07, 10), 0.0, 1.0)
        figs, _, _ = compute(arrays("m", p, 1, rng, cl), req(min_score=0.1))
        q = figs["m"].quality
        hits += q.pass_lo <= 0.93 <= q.pass_hi
    return hits / reps


def p95_with_repeats(reps: int, n: int, k: int) -> float:
    """Issue 49 item 3: each input has its own typical time (lognormal around a per-input median), the
    K calls of one input vary little around it; coverage of the p95 interval of the mixture."""
    from modelsel.analysis.metrics import compute

    rng = np.random.default_rng(4930 + n + k)
    big = np.exp(rng.normal(np.log(500), 0.5, 2_000_000) + rng.normal(0, 0.1, 2_000_000))
    truth = float(np.percentile(big, 95))
    hits = 0
    for _ in range(reps):
        med = np.exp(rng.normal(np.log(500), 0.5, n))
        lat = med[:, None] * np.exp(rng.normal(0, 0.1, (n, k)))
        figs, _, _ = compute(arrays("m", np.ones(n), k, rng, latency=lat), req(min_score=0.1))
        q = figs["m"].latency.p95
        hits += (q.lo if q.lo is not None else 0.0) <= truth <= (q.hi if q.hi is not None else np.inf)
    return hits / reps


def run(reps: int, has_new: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if has_new:
        for n, k, fixed, cl in ((60, 3, False, False), (80, 3, False, False), (60, 5, False, False),
                                (60, 3, True, False), (80, 3, False, True)):
            name = f"n={n} K={k}" + (" fixed set" if fixed else "") + (" 10 clusters" if cl else "")
            out[f"coverage {name}"] = cover_pass_k(reps, n, k, fixed, cl)
        out["min_pass_all truth 5 points over the bar (n=80, K=3)"] = verdicts(reps, 80, 3, 0.05)
        out["min_pass_all truth 5 points under the bar (n=80, K=3)"] = verdicts(reps, 80, 3, -0.05)
    for n, k in ((50, 3), (50, 5)):
        out[f"pass rate at the ceiling, coverage (n={n} K={k})"] = ceiling_pass_rate(reps, n, k)
    out["pass rate, 8 clusters of 10 moving together, coverage (truth 0.93)"] = ceiling_clusters(reps)
    for n, k in ((60, 3), (60, 5)):
        out[f"p95 with repeats, coverage (n={n} K={k})"] = p95_with_repeats(reps, n, k)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--baseline", type=Path, default=None, help="an earlier checkout to run the same scenarios on")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tree", type=Path, default=HERE.parent, help=argparse.SUPPRESS)
    a = ap.parse_args()
    sys.path.insert(0, str(a.tree))
    try:
        import modelsel.analysis.consistency  # noqa: F401
        has_new = True
    except ImportError:
        has_new = False
    t0 = time.time()
    res = run(a.reps, has_new)
    if a.json:
        print(json.dumps(res))
        return 0
    before: dict[str, Any] = {}
    if a.baseline is not None:
        got = subprocess.run([sys.executable, __file__, "--reps", str(a.reps), "--json", "--tree", str(a.baseline)],
                             capture_output=True, text=True, cwd=a.baseline, env={"PYTHONPATH": str(a.baseline),
                                                                                  "PATH": "/usr/bin:/bin"})
        before = json.loads(got.stdout) if got.returncode == 0 else {}
        if got.returncode:
            print(f"baseline failed: {got.stderr[-500:]}")
    print(f"{a.reps} runs per line; promise: 95% intervals cover >= 94%, a sure pass of a missed bar <= 2.5%")
    for key, v in res.items():
        b = before.get(key)
        fmt = (lambda x: "  ".join(f"{kk} {vv:.1%}" for kk, vv in x.items())) if isinstance(v, dict) else \
            (lambda x: f"{x:.1%}")
        print(f"{key}: {fmt(v)}" + (f"   (before: {fmt(b)})" if b is not None else ""))
    print(f"({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
