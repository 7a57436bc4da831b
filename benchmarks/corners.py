"""Decisions in every corner, with known truth: the rates behind issue 28, before and after, in one run.

Each line is a rate over --reps simulated runs in which the truth is known (python-like candidates
whose chance of passing each example is set). The scenarios go through the public stages the
record uses (metrics.compute, limits.check, decision.decide, and for partial runs the choice rule),
so `--baseline PATH` runs the very same scenarios on an earlier checkout in a child process and
prints both columns side by side. The promise the record makes: 95% intervals cover >= 94%, a false
'worse' <= 5%, a false 'non-inferior' <= 2.5%, power as stated.

    python benchmarks/corners.py [--reps 200] [--baseline PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


def _setup(tree: Path) -> None:
    sys.path.insert(0, str(tree))


# --- building runs -----------------------------------------------------------------------------

def arrays(rows: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    from modelsel.run.calls import Calls
    from modelsel.run.records import Record

    return Calls.from_records(Record(**r) for r in rows).arrays()


def row(cand: str, ex: str, score: float, cluster: str | None = None, tags: list[str] | None = None,
        cost: float = 0.001, latency: float = 100.0) -> dict[str, Any]:
    return {"candidate": cand, "example_id": ex, "tags": tags or ["t"], "cluster": cluster, "score": float(score),
            "passed": bool(score >= 0.5), "latency_ms": latency, "cost_usd": cost, "attempts": 1}


def req(**over: Any):  # type: ignore[no-untyped-def]
    from modelsel.inputs.requirements import Requirements

    doc: dict[str, Any] = {"task": "t", "evalset": "x", "candidates": [{"catalog": "x"}],
                           "quality": {"min_score": 0.1}, "decision": {"max_error_rate": 0.5}}
    for k, v in over.items():
        doc[k] = {**doc.get(k, {}), **v}
    return Requirements.model_validate(doc)


def cands(ids: list[str]):  # type: ignore[no-untyped-def]
    from modelsel.catalog.models import Candidate

    return [Candidate(id=c, provider="x", vendor=f"v{i}", model="m") for i, c in enumerate(ids)]


def decide_run(arr, r, ids: list[str], examples: dict[str, tuple[str, tuple[str, ...]]] | None = None):  # type: ignore[no-untyped-def]
    """The decision as the record makes it: with the partial-run rule where this tree has one."""
    from modelsel.analysis.decision import decide
    from modelsel.analysis.metrics import compute
    from modelsel.catalog.compliance import Screening

    try:
        from modelsel.analysis.metrics import Unasked
        from modelsel.analysis.partial import Run, robust_decide
    except ImportError:
        figs, comps, res = compute(arr, r)
        d, checks = decide(cands(ids), figs, comps, r, Screening(), date(2026, 12, 1))
        return d, figs, comps, res, checks
    ex = {k: Unasked(c, t) for k, (c, t) in (examples or {}).items()}
    figs, comps, res = compute(arr, r, None, ex)
    d, checks, _ = robust_decide(Run(arr, r, cands(ids), ex, {}, date(2026, 12, 1)), figs, comps, Screening())
    return d, figs, comps, res, checks


def significant(c) -> bool:  # type: ignore[no-untyped-def]
    return c is not None and c.lo is not None and c.hi is not None and (c.lo > 0 or c.hi < 0)


# --- 1. unequal clusters -------------------------------------------------------------------------

DESIGNS = {"one cluster of 30 + 30 singles": [30] + [1] * 30, "two of 20 + 60 singles": [20, 20] + [1] * 60,
           "sizes 1..20 (210 examples)": list(range(1, 21))}


def _clustered_pair(sizes: list[int], rng: np.random.Generator, graded: bool) -> tuple[list[dict[str, Any]], float]:
    """Two candidates of equal true quality whose advantage moves together within a cluster."""
    rows, i = [], 0
    for g, s in enumerate(sizes):
        shift = rng.normal(0, 0.25)
        for _ in range(s):
            pa, pb = np.clip(0.7 + shift, 0.02, 0.98), np.clip(0.7 - shift, 0.02, 0.98)
            if graded:
                a, b = np.clip(pa + rng.normal(0, 0.1), 0, 1), np.clip(pb + rng.normal(0, 0.1), 0, 1)
            else:
                a, b = float(rng.random() < pa), float(rng.random() < pb)
            cl = f"c{g}" if s > 1 else None
            rows += [row("a", f"x{i}", a, cl), row("b", f"x{i}", b, cl)]
            i += 1
    return rows, 0.0


def _quality_truth(graded: bool) -> float:
    r = np.random.default_rng(7).normal(0, 0.2, 1_000_000)
    p = np.clip(0.75 + r, 0.02, 0.98)
    return float(np.clip(p, 0, 1).mean()) if graded else float(p.mean())


def unequal_clusters(reps: int, rng: np.random.Generator) -> dict[str, float]:
    from modelsel.analysis.metrics import compare, quality

    out: dict[str, float] = {}
    for name, sizes in DESIGNS.items():
        for graded in (False, True):
            worse = cover = 0
            truth = _quality_truth(graded)
            for _ in range(reps):
                rows, _ = _clustered_pair(sizes, rng, graded)
                arr = arrays(rows)
                per = {c: arr.of(c).per_example_scores() for c in ("a", "b")}
                cl = dict(zip(arr.example.tolist(), arr.cluster.tolist(), strict=True))
                worse += significant(compare(per["a"], per["b"], "a", "b", cl))
                # one candidate's quality: example pass chance 0.75 + a cluster effect (SD 0.2)
                qrows, i = [], 0
                for g, s in enumerate(sizes):
                    p = np.clip(0.75 + rng.normal(0, 0.2), 0.02, 0.98)
                    for _ in range(s):
                        v = float(np.clip(p + rng.normal(0, 0.1), 0, 1)) if graded else float(rng.random() < p)
                        qrows.append(row("a", f"x{i}", v, f"c{g}" if s > 1 else None))
                        i += 1
                q = quality(arrays(qrows))
                cover += q.lo is not None and q.lo <= truth <= q.hi
            kind = "graded" if graded else "pass/fail"
            out[f"1 {name}, {kind}: two equal models called different (<= 5%)"] = worse / reps
            out[f"1 {name}, {kind}: quality interval covers (>= 94%)"] = cover / reps
    return out


# --- 2. no observed spread -----------------------------------------------------------------------

def no_spread(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """A graded candidate whose answers score 0.9, except a ninth that score 0 (truth 0.8, ten
    points under what it shows when no 0 is drawn), against a 0.88 bar; and a pair where B is
    truly 10 points worse than A that scores 0.9 on every example."""
    from modelsel.analysis.limits import check
    from modelsel.analysis.metrics import compute

    r = req(quality={"min_score": 0.88}, decision={"small_difference": 0.05})
    plain = equiv = 0
    for _ in range(reps):
        rows = [row("b", f"x{i}", 0.0 if rng.random() < 1 / 9 else 0.9) for i in range(10)]
        rows += [row("a", f"x{i}", 0.9) for i in range(10)]
        figs, comps, _ = compute(arrays(rows), r)
        c = next(x for x in check(figs["b"], r) if x.requirement == "quality.min_score")
        plain += c.status == "pass"
        cmp_ = comps[0]
        equiv += cmp_.lo is not None and cmp_.hi is not None and cmp_.lo >= -0.05 and cmp_.hi <= 0.05 and \
            abs(cmp_.diff) < 1e-9
    return {"2 truth 0.80 shown 0.90 x10, bar 0.88: plain pass (<= 2.5%)": plain / reps,
            "2 same 10 scores: interval inside +/-5 points, 'equivalent' on no spread (0%)": equiv / reps}


# --- 3. partial runs -----------------------------------------------------------------------------

def partial(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """60 examples, the last 22 hard. A (cheap) passes the first 38 with 0.92 and the hard ones with
    0.2 (truth 0.67, under the 0.75 bar); a deadline cut it after 38. B (dear) is complete, truth 0.83."""
    r = req(quality={"min_score": 0.75})
    chosen_a = 0
    examples = {f"x{i}": (f"x{i}", ("t",)) for i in range(60)}
    for _ in range(reps):
        rows = []
        for i in range(60):
            hard = i >= 38
            if not hard:
                rows.append(row("A", f"x{i}", float(rng.random() < 0.92), cost=0.0001))
            rows.append(row("B", f"x{i}", float(rng.random() < (0.65 if hard else 0.94)), cost=0.01))
        d, *_ = decide_run(arrays(rows), r, ["A", "B"], examples)
        chosen_a += d.chosen == "A"
    return {"3 A cut after 38 of 60 (truth 0.67 < bar 0.75): A chosen (0%)": chosen_a / reps}


# --- 4. power as stated, and designs that cannot separate ------------------------------------------

def power(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """Five candidates, 80 examples of known difficulty (pass chance from Beta(4, 1.5), shared by
    all): the record states the gap found with 80% power; one candidate truly that far under the
    others is declared worse how often? And four clusters of 15: a model 40 points worse in every
    cluster and cheaper, chosen how often?"""
    r = req()
    ids = [f"m{j}" for j in range(5)]

    def draw(shift: dict[str, float]) -> list[dict[str, Any]]:
        p = rng.beta(4, 1.5, 80)
        return [row(c, f"x{i}", float(rng.random() < p[i] - shift.get(c, 0.0))) for c in ids for i in range(80)]

    stated = []  # the record's stated gap, from runs where all are equal (the SD it observes is what it uses)
    for _ in range(20):
        *_, res, _ = decide_run(arrays(draw({})), r, ids)
        stated.append(res.minimum_detectable_difference_80pct_power)
    gap = float(np.median(stated))
    found = 0
    for _ in range(reps):
        d, *_ = decide_run(arrays(draw({"m4": gap})), r, ids)
        found += any(v.candidate == "m4" and v.verdict == "worse" for v in d.verdicts)
    chosen_bad = 0
    for _ in range(reps):
        rows = []
        for g in range(4):
            for k in range(15):
                i = g * 15 + k
                p = np.clip(0.8 + rng.normal(0, 0.05), 0, 1)
                rows += [row("good", f"x{i}", float(rng.random() < p), f"c{g}", cost=0.01),
                         row("bad", f"x{i}", float(rng.random() < p - 0.4), f"c{g}", cost=0.0001)]
        d, *_ = decide_run(arrays(rows), r, ["good", "bad"])
        chosen_bad += d.chosen == "bad"
    return {"4 five candidates x 80: the stated 80%-power gap (points, shown as a rate)": gap,
            "4 five candidates, one truly the stated gap under the rest: found worse (>= 80%)": found / reps,
            "4 four clusters of 15, cheaper model 40 points worse everywhere: chosen (0%)": chosen_bad / reps}


# --- 5. non-inferiority by clusters --------------------------------------------------------------

def non_inferior(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """B truly 5 points under A (the margin itself) with a cluster effect on the gap: how often is
    B declared non-inferior within 0.05?"""
    r = req(decision={"equivalence": "non_inferior", "small_difference": 0.05})
    out = {}
    for g, m in ((10, 200), (40, 50)):
        ni = 0
        for _ in range(reps):
            rows = []
            for c in range(g):
                u = rng.normal(0, 0.08)
                for k in range(m):
                    i = c * m + k
                    pa = np.clip(0.8 + u, 0, 1)
                    pb = np.clip(0.75 - u, 0, 1)
                    rows += [row("A", f"x{i}", float(rng.random() < pa), f"c{c}", cost=0.01),
                             row("B", f"x{i}", float(rng.random() < pb), f"c{c}", cost=0.001)]
            d, *_ = decide_run(arrays(rows), r, ["A", "B"])
            ni += any(v.candidate == "B" and v.verdict == "non_inferior" for v in d.verdicts)
        out[f"5 {g} clusters of {m}, B truly 5 points under: 'non-inferior within 0.05' (<= 2.5%)"] = ni / reps
    return out


# --- 6. small tags -------------------------------------------------------------------------------

def small_tags(reps: int, rng: np.random.Generator) -> dict[str, float]:
    from modelsel.analysis.limits import check
    from modelsel.analysis.metrics import compute

    r = req(quality={"must_pass": ["safety"]})
    plain = 0
    for _ in range(reps):
        rows = [row("a", f"s{i}", float(rng.random() < 0.8), tags=["safety"]) for i in range(5)]
        rows += [row("a", f"x{i}", 1.0) for i in range(50)]
        figs, _, _ = compute(arrays(rows), r)
        c = next(x for x in check(figs["a"], r) if x.requirement == "quality.must_pass.safety")
        plain += c.status == "pass"
    return {"6 must-pass tag of 5, true failure rate 20%: plain pass (<= 5%)": plain / reps}


# --- 7. sure before at risk ----------------------------------------------------------------------

def sure_first(reps: int, rng: np.random.Generator) -> dict[str, float]:
    """Two survivors of equal quality, 100 calls each, p95 limit 1,000 ms: X (cheaper) has a true p95
    10% over it, Y a true p95 20% (then 40%) under. How often is X chosen? With Y 20% under, Y's own
    upper bound (about its 99th call) often crosses the limit too, and the two are not separated."""
    r = req(latency={"p95_ms": 1000.0})
    sigma = 0.4
    z95 = 1.6448536269514722
    out = {}
    for y95 in (800.0, 600.0):
        x_chosen = 0
        for _ in range(reps):
            rows = []
            for i in range(100):
                ok = float(rng.random() < 0.8)
                rows.append(row("X", f"x{i}", ok, cost=0.001, latency=float(1100 * np.exp(sigma * (rng.normal() - z95)))))
                rows.append(row("Y", f"x{i}", ok, cost=0.002, latency=float(y95 * np.exp(sigma * (rng.normal() - z95)))))
            d, *_ = decide_run(arrays(rows), r, ["X", "Y"])
            x_chosen += d.chosen == "X"
        out[f"7 100 calls each, cheaper X's true p95 10% over the limit, Y's {1 - y95 / 1000:.0%} under: X chosen"] = \
            x_chosen / reps
    return out


# --- 9. fair across groups -----------------------------------------------------------------------

def max_gap(reps: int, rng: np.random.Generator) -> dict[str, float]:
    from modelsel.analysis.limits import check
    from modelsel.analysis.metrics import compute

    wide = "9 en/de/es x 60, true 0.90/0.90/0.75 (gap 15 points), max_gap 0.05: plain pass (0%)"
    equal = "9 en/de/es x 60, all 0.85 (gap 0), max_gap 0.05: failed (<= 5%)"
    try:
        r = req(quality={"max_gap": {"between": "lang:*", "gap": 0.05}})
    except Exception:  # noqa: BLE001 - the earlier tree has no such requirement
        return {wide: float("nan"), equal: float("nan")}
    res = {}
    for truth, label, bad in (((0.9, 0.9, 0.75), wide, "pass"), ((0.85, 0.85, 0.85), equal, "fail")):
        hits = 0
        for _ in range(reps):
            rows = [row("a", f"{lang}{i}", float(rng.random() < p), tags=[f"lang:{lang}"])
                    for lang, p in zip(("en", "de", "es"), truth, strict=True) for i in range(60)]
            figs, _, _ = compute(arrays(rows), r)
            c = next(x for x in check(figs["a"], r) if x.requirement.startswith("quality.max_gap"))
            hits += c.status == bad
        res[label] = hits / reps
    return res


SCENARIOS = (unequal_clusters, no_spread, partial, power, non_inferior, small_tags, sure_first, max_gap)


def measure(reps: int, scenarios: tuple = SCENARIOS, seed: int = 20261205) -> dict[str, float]:  # type: ignore[type-arg]
    out: dict[str, float] = {}
    for i, f in enumerate(scenarios):
        out.update(f(reps, np.random.default_rng(seed + i)))
    return out


def main(script: str = __file__, scenarios: tuple = SCENARIOS, seed: int = 20261205, reps: int = 200) -> int:  # type: ignore[type-arg]
    """The scenarios' rates here and, with --baseline, on an earlier checkout (the same script run
    there in a child process), side by side. benchmarks/corners3.py runs its own scenarios through it."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=reps)
    ap.add_argument("--baseline", type=Path, help="an earlier checkout: the same scenarios run there, side by side")
    ap.add_argument("--tree", type=Path, default=HERE.parent, help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    _setup(args.tree)
    t0 = time.perf_counter()
    if args.json:
        print(json.dumps(measure(args.reps, scenarios, seed)))
        return 0
    before: dict[str, float] = {}
    if args.baseline:
        env = dict(os.environ, PYTHONPATH=str(args.baseline))
        got = subprocess.run([sys.executable, script, "--json", "--reps", str(args.reps), "--tree", str(args.baseline)],
                             capture_output=True, text=True, env=env, check=True)
        before = json.loads(got.stdout.strip().splitlines()[-1])
    after = measure(args.reps, scenarios, seed)
    width = max(104, *(len(k) for k in after))
    print(f"Rates over {args.reps} simulated runs each, known truth (before: {args.baseline or '-'}).\n")
    print(f"{'scenario (promise)':<{width}} {'before':>7} {'after':>7}")
    for k, v in after.items():
        b = before.get(k, float("nan"))
        print(f"{k:<{width}} {b * 100:6.1f}% {v * 100:6.1f}%")
    for k, b in before.items():
        if k not in after:
            print(f"{k:<{width}} {b * 100:6.1f}%       -")
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
