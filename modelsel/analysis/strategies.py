"""Multi-model strategies simulated on the recorded answers of one run. Pure: no I/O, no calls.

Each strategy becomes one simulated call per example (which model answered, what it cost, how
long it took) and is measured by the same functions as a single model (metrics.figures) and
judged by the same table of limits (limits.check). A strategy is recommended only when
production could run it as simulated (a cascade escalates only on what is known at request
time), its figures are out of sample (a routing table is scored on examples it did not see),
and it meets every requirement a single model must meet.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from modelsel.analysis import limits, stats
from modelsel.analysis.decision import monthly_of
from modelsel.analysis.metrics import clusters_of, compare, figures
from modelsel.inputs.requirements import Requirements
from modelsel.run.calls import CallArrays, Calls
from modelsel.schema import ABTest, Decision, Figures, Strategies, StrategyResult

ROUTING_TAGS = ("simple", "complex", "edge", "adversarial")
FOLDS = 10

Key = tuple[str, int]  # (example id, repeat)


@dataclass
class Sim:
    """The calls of a run indexed by candidate and (example, repeat)."""

    arr: CallArrays
    rows: dict[str, dict[Key, int]]
    keys: list[Key]  # called for every pool member, in eval-set order
    by_example: dict[str, list[Key]]
    tags: dict[str, tuple[str, ...]]

    @classmethod
    def build(cls, arr: CallArrays, pool: list[str]) -> Sim:
        rows: dict[str, dict[Key, int]] = defaultdict(dict)
        for i, (c, e, r) in enumerate(zip(arr.candidate.tolist(), arr.example.tolist(), arr.repeat.tolist(), strict=True)):
            rows[c][(e, r)] = i
        shared = set.intersection(*(set(rows[c]) for c in pool)) if pool else set()
        order = {k: i for i, k in enumerate(rows[pool[0]])} if pool else {}
        keys = sorted(shared, key=lambda k: order[k])
        bx: dict[str, list[Key]] = defaultdict(list)
        for k in keys:
            bx[k[0]].append(k)
        tags = {k[0]: arr.tags[rows[pool[0]][k]] for k in keys}
        return cls(arr, rows, keys, dict(bx), tags)

    def examples(self) -> list[str]:
        return list(dict.fromkeys(e for e, _ in self.keys))

    def row(self, c: str, k: Key) -> int:
        return self.rows[c][k]

    def score(self, c: str, e: str) -> float:
        """Mean score of c on example e; a failed call counts 0 here, so a table never routes
        to a model for answers it could not give."""
        vals = [self.arr.score[self.rows[c][k]] for k in self.by_example[e]]
        return float(np.mean([0.0 if math.isnan(v) else float(v) for v in vals]))

    def cost(self, c: str, e: str) -> float:
        return float(np.mean([self.arr.cost_live_usd[self.rows[c][k]] for k in self.by_example[e]]))

    def tag(self, e: str) -> str:
        tags = self.tags[e]
        for t in ROUTING_TAGS:
            if t in tags:
                return t
        return tags[0] if tags else "untagged"


def _copy_row(out: Calls, arr: CallArrays, i: int, name: str, **over: object) -> None:
    """Append call i of the run to `out` under the strategy's name, with fields overridden. A row
    that ends in an error is a failed answer (score 0) whose time still counts (elapsed_ms)."""
    vals = arr.row(i)
    vals["candidate"] = name
    vals.update(over)
    if vals["error"]:
        vals.update(score=0.0, passed=0, latency_ms=math.nan, attempt_ms=math.nan, ttft_ms=math.nan)
    for k, v in vals.items():
        getattr(out, k).append(v)


COSTS = ("cost_usd", "cost_live_usd", "cost_batch_usd")  # as billed, at the live price, at the batch price


def _costs(arr: CallArrays, rows: list[int]) -> dict[str, float]:
    """Every call a strategy makes is paid: the sum over `rows`, in each of the cost columns."""
    return {k: float(sum(getattr(arr, k)[i] for i in rows)) for k in COSTS}


def _elapsed(arr: CallArrays, i: int) -> float:
    """How long call i kept its request waiting, answered or not (0 where an old record lacks it)."""
    v = float(arr.elapsed_ms[i])
    return 0.0 if math.isnan(v) else v


Measured = tuple[StrategyResult, dict[str, float]]  # the strategy and its per-example scores


def _measure(calls: Calls, req: Requirements, fixed: float) -> tuple[Figures, dict[str, float]]:
    a = calls.arrays()
    return figures(a, req, fixed), a.per_example_scores()


# --- routing by tag, estimated out of sample ---------------------------------------------------

def _table(sim: Sim, pool: list[str], single: str, exs: list[str], small: float) -> dict[str, str]:
    """Per tag, the cheapest model whose quality on that tag's examples is within small_difference
    of the single choice's."""
    groups: dict[str, list[str]] = defaultdict(list)
    for e in exs:
        groups[sim.tag(e)].append(e)
    table: dict[str, str] = {}
    for tag, es in groups.items():
        ref = np.mean([sim.score(single, e) for e in es])
        ok = [c for c in pool if np.mean([sim.score(c, e) for e in es]) >= ref - small]
        table[tag] = min(ok, key=lambda c: (np.mean([sim.cost(c, e) for e in es]), c != single)) if ok else single
    return table


def _folds(sim: Sim, exs: list[str], k: int) -> dict[str, int]:
    """Stratified by tag, deterministic: the same run always gets the same folds."""
    order = sorted(exs, key=lambda e: (sim.tag(e), hashlib.sha256(e.encode()).hexdigest()))
    return {e: i % k for i, e in enumerate(order)}


def _route(sim: Sim, name: str, assign: dict[str, str]) -> Calls:
    out = Calls()
    for k in sim.keys:
        _copy_row(out, sim.arr, sim.row(assign[k[0]], k), name)
    return out


def routing(sim: Sim, pool: list[str], single: str, req: Requirements, fixed: dict[str, float]) -> Measured | None:
    small = req.decision.small_difference
    exs = sim.examples()
    final = _table(sim, pool, single, exs, small)
    if len(set(final.values())) < 2:
        return None
    k = min(FOLDS, len(exs))
    fold = _folds(sim, exs, k)
    oos: dict[str, str] = {}
    same = 0
    for f in range(k):
        train = [e for e in exs if fold[e] != f]
        t = _table(sim, pool, single, train, small)
        same += t == final
        for e in exs:
            if fold[e] == f:
                oos[e] = t.get(sim.tag(e), single)
    name = "routing by tag"
    members = sorted(set(final.values()), key=pool.index)
    fx = sum(fixed.get(m, 0.0) for m in members)
    figs, per = _measure(_route(sim, name, oos), req, fx)
    ins, _ = _measure(_route(sim, name, {e: final[sim.tag(e)] for e in exs}), req, fx)
    groups = Counter(sim.tag(e) for e in exs)
    return StrategyResult(
        name=name, kind="routing", members=members, figures=figs, in_sample_quality=ins.quality,
        table=final, table_stability=round(same / k, 3), share={t: round(n / len(exs), 3) for t, n in groups.items()},
        detail=(f"table chosen on all {len(exs)} examples; quality estimated out of sample by {k}-fold cross-validation "
                f"(each fold's table chosen without its examples): {figs.quality.mean:.3f} out of sample vs "
                f"{ins.quality.mean:.3f} in sample; {same} of {k} folds chose the same table")), per


# --- cascades: escalate on what is known at request time ------------------------------------------

def _cascade_calls(sim: Sim, name: str, first: list[str], premium: str, accept) -> tuple[Calls, int]:  # type: ignore[no-untyped-def]
    """First model(s) answer (in parallel); when one fails or `accept` says no, the premium model
    answers after them. A failed first call counts with the time it took to fail (a 30 s timeout
    is 30 s the user waited); latency adds up; cost is every call made."""
    arr, out, escalated = sim.arr, Calls(), 0
    for k in sim.keys:
        rows = [sim.row(c, k) for c in first]
        ok = all(not arr.error[i] for i in rows) and accept(rows)
        lat1 = max(_elapsed(arr, i) for i in rows)
        cost1 = _costs(arr, rows)
        cold1 = any(bool(arr.cold[i]) for i in rows)
        if ok:
            _copy_row(out, arr, rows[0], name, latency_ms=lat1, elapsed_ms=lat1, cold=cold1, **cost1)
            continue
        escalated += 1
        j = sim.row(premium, k)
        total = lat1 + _elapsed(arr, j)
        _copy_row(out, arr, j, name, latency_ms=total, elapsed_ms=total, ttft_ms=lat1 + float(arr.ttft_ms[j]),
                  cold=cold1 or bool(arr.cold[j]), **_costs(arr, rows + [j]))
    return out, escalated


def _signals(sim: Sim, cheap: str) -> str | None:
    """The request-time check the cheap model's answers support: every answered call carries a
    format verdict (an error is escalated whatever the check says)."""
    rows = [sim.row(cheap, k) for k in sim.keys]
    answered = ~sim.arr.error[rows]
    v = sim.arr.valid[rows][answered]
    if len(v) and (v >= 0).all():
        return "valid"
    return None


def cascades(sim: Sim, pool: list[str], figs: dict[str, Figures], req: Requirements, fixed: dict[str, float]
             ) -> list[Measured]:
    by_cost = sorted(pool, key=lambda c: (figs[c].cost.per_request_usd or 0.0, -(figs[c].quality.mean or 0)))
    premium = max(pool, key=lambda c: (figs[c].quality.mean or 0, -(figs[c].cost.per_request_usd or 0)))
    cheap = by_cost[0]
    if cheap == premium:
        return []
    arr, out = sim.arr, []
    thr = req.pass_threshold

    def add(calls: Calls, f: float, **kw: object) -> None:
        fg, per = _measure(calls, req, f)
        out.append((StrategyResult(figures=fg, **kw), per))  # type: ignore[arg-type]

    fx = fixed.get(cheap, 0.0) + fixed.get(premium, 0.0)
    if _signals(sim, cheap) == "valid":
        name = f"cascade {cheap} -> {premium} (escalate on an invalid answer)"
        calls, esc = _cascade_calls(sim, name, [cheap], premium, lambda rows: arr.valid[rows[0]] == 1)
        add(calls, fx, name=name, kind="cascade", members=[cheap, premium],
            signal="the answer fails the format check (no label from the set, or JSON that does not parse)",
            escalation_rate=round(esc / len(sim.keys), 4))
    labelled = [c for c in by_cost if c != premium and (arr.label[[sim.row(c, k) for k in sim.keys]] != "").any()]
    if len(labelled) >= 2:
        a, b = labelled[:2]
        name = f"cascade {a} + {b} -> {premium} (escalate when the two disagree)"
        calls, esc = _cascade_calls(sim, name, [a, b], premium,
                                    lambda rows: arr.label[rows[0]] != "" and arr.label[rows[0]] == arr.label[rows[1]])
        add(calls, fx + fixed.get(b, 0.0), name=name, kind="cascade", members=[a, b, premium],
            signal=f"'{a}' and '{b}' give different labels (both are called, in parallel)",
            escalation_rate=round(esc / len(sim.keys), 4))
    name = f"oracle cascade {cheap} -> {premium} (upper bound)"
    calls, esc = _cascade_calls(sim, name, [cheap], premium, lambda rows: arr.passed[rows[0]] == 1)
    add(calls, fx, name=name, kind="oracle_cascade", members=[cheap, premium], upper_bound=True,
        signal=f"score >= {thr:g}, which needs the answer key: production cannot run this, so it is "
               "shown only as the ceiling a request-time signal could reach",
        escalation_rate=round(esc / len(sim.keys), 4))
    return out


# --- ensemble, fallback chain, A/B --------------------------------------------------------------------

def ensemble(sim: Sim, members: list[str], req: Requirements, fixed: dict[str, float]) -> Measured | None:
    arr = sim.arr
    if len(members) < 3 or not all((arr.label[[sim.row(m, k) for k in sim.keys]] != "").any() for m in members):
        return None
    name = "ensemble (majority vote)"
    out = Calls()
    for k in sim.keys:
        rows = [sim.row(m, k) for m in members]
        live = [i for i in rows if not arr.error[i] and arr.label[i] != ""]
        lat = max(_elapsed(arr, i) for i in rows)  # the vote waits for every member, a failing one too
        cost = _costs(arr, rows)
        cold = any(bool(arr.cold[i]) for i in rows)
        if not live:
            _copy_row(out, arr, rows[0], name, elapsed_ms=lat, cold=cold, error=True, **cost,
                      error_kind=arr.error_kind[rows[0]] or "no_label")
            continue
        winner = Counter(arr.label[i] for i in live).most_common(1)[0][0]
        pick = next(i for i in live if arr.label[i] == winner)  # the same label scores the same
        _copy_row(out, arr, pick, name, latency_ms=lat, elapsed_ms=lat, cold=cold, **cost)
    fg, per = _measure(out, req, sum(fixed.get(m, 0.0) for m in members))
    return StrategyResult(name=name, kind="ensemble", members=members, figures=fg,
                          detail="members called in parallel: the slowest decides latency, every call is paid"), per


def fallback_chain(figs: dict[str, Figures], primary: str, backup: str, timeout_s: float) -> StrategyResult:
    """Availability of the chain from the observed error rates, with the lower bounds the calls
    support (no failures in 64 calls is 'at least 94.4%', not '100%')."""
    r1, r2 = figs[primary].error_rate, figs[backup].error_rate
    e1, e2 = r1.value or 0.0, r2.value or 0.0
    h1, h2 = r1.hi if r1.hi is not None else 1.0, r2.hi if r2.hi is not None else 1.0
    p95_b = figs[backup].latency.p95.value or 0.0
    return StrategyResult(
        name=f"fallback {primary} -> {backup}", kind="fallback_chain", members=[primary, backup],
        availability_single=round(1 - e1, 6), availability_chain=round(1 - e1 * e2, 6),
        availability_single_lo=round(1 - h1, 6), availability_chain_lo=round(1 - h1 * h2, 6),
        assumes="failures of the two are independent (not true for a shared provider outage)",
        latency_when_falling_back_ms=round(timeout_s * 1000 + p95_b, 1),
        detail=f"observed error rates {e1:.1%} and {e2:.1%} (n={r1.n}, {r2.n}); 95% lower bounds on availability "
               f"{1 - h1:.2%} alone and {1 - h1 * h2:.2%} chained")


def ab_test(figs: dict[str, Figures], a: str, b: str) -> ABTest:
    pa = figs[a].quality.mean or 0.0
    pb = figs[b].quality.mean or 0.0
    n = stats.ab_sample_size(min(max(pa, 0.001), 0.999), min(max(pb, 0.001), 0.999))
    return ABTest(a=a, b=b, observed_difference=round(pa - pb, 4), samples_per_arm=n,
                  note="per arm, for 80% power at alpha 0.05 on a pass/fail outcome, to confirm the observed difference"
                  if n else "no observed difference to confirm")


# --- judging each strategy against the single-model choice ------------------------------------------

def _judge(s: StrategyResult, per_s: dict[str, float] | None, per_single: dict[str, float], single: str,
           figs: dict[str, Figures], req: Requirements, cluster_of: dict[str, str] | None = None) -> None:
    """A strategy replaces one model with several parts to build, run and watch, so the burden of
    proof is on it: recommended only when it meets every requirement, beats the single model on
    the PM's first priority (or scores higher), and is shown non-inferior to it within
    small_difference (the lower end of its paired interval above -small_difference, out of sample
    for routing), whatever equivalence policy the single models were chosen under. Cheaper but
    not shown non-inferior: worth a trial, with what the trial would have to show."""
    if s.figures is None or per_s is None:
        s.why_not = "an availability plan, not an answering strategy: it is compared on availability only"
        return
    s.checks = limits.check(s.figures, req)
    s.vs_single = compare(per_s, per_single, s.name, single, cluster_of)
    if s.upper_bound:
        s.why_not = "upper bound: needs the answer key, so production cannot run it"
        return
    failed = limits.failed(s.checks)
    if failed:
        s.why_not = "misses a requirement the single model must meet: " + "; ".join(f.text for f in failed)
        return
    c = s.vs_single
    small = req.decision.small_difference
    base, f = figs[single], s.figures
    cheaper = (f.cost.per_request_usd or 0) < (base.cost.per_request_usd or 0)
    faster = (f.latency.p95.value or 0) < (base.latency.p95.value or 0)
    if c is None or c.lo is None or c.hi is None:
        s.why_not = "cannot be compared with the single model on shared examples"
        return
    better = c.lo > 0
    non_inferior = c.lo > -small
    first = req.decision.priority[0]
    gains = better or (first == "cost" and cheaper) or (first == "latency" and faster)
    if not gains:
        s.why_not = f"not better than the single model on {first}, the PM's first priority"
    elif non_inferior:
        s.recommendable = True
    else:
        sd = c.sd_diff or 0.5
        need = stats.n_to_detect(small, sd)
        if need and c.n_eff:
            need = math.ceil(need * c.n / c.n_eff)
        s.worth_trial = True
        s.why_not = (f"worth a trial, not recommended: its quality is not shown within {small:g} of the single model "
                     f"(paired difference {c.diff * 100:+.1f} points, 95% CI {c.lo * 100:+.1f} to {c.hi * 100:+.1f}"
                     + (", out of sample" if s.kind == "routing" else "") + f"; a loss of up to {-c.lo * 100:.1f} points "
                     f"is not ruled out). A trial would have to show the loss under {small * 100:g} points: about "
                     + (f"{need:,} examples" if need else "more examples") + " in a paired eval, or an A/B test in "
                     "production, while it keeps its advantage on " + first)


def simulate(arr: CallArrays, figs: dict[str, Figures], decision: Decision, req: Requirements,
             eligible: list[str], fixed: dict[str, float], timeout_s: float = 60.0) -> Strategies:
    """Every strategy the run can support, judged against the single-model choice.
    `eligible`: candidates that passed compliance and were evaluated (strategy members)."""
    chosen = decision.chosen
    out = Strategies(single=chosen)
    pool = [c for c in eligible if c in figs and figs[c].quality.n > 0]
    if not chosen or len(pool) < 2 or chosen not in pool:
        out.why = "no single-model choice to compare against" if not chosen else "fewer than two evaluated candidates"
        return out
    sim = Sim.build(arr, pool)
    if not sim.keys:
        out.why = "the candidates share no answered examples"
        return out
    measured: list[tuple[StrategyResult, dict[str, float] | None]] = []
    r = routing(sim, pool, chosen, req, fixed)
    if r:
        measured.append(r)
    measured += cascades(sim, pool, figs, req, fixed)
    top = sorted(pool, key=lambda c: -(figs[c].quality.mean or 0))[:3]
    e = ensemble(sim, top, req, fixed)
    if e:
        measured.append(e)
    if decision.fallback:
        measured.append((fallback_chain(figs, chosen, decision.fallback, timeout_s), None))
    per_single = arr.of(chosen).per_example_scores()
    cl = clusters_of(arr)
    for s, per in measured:
        _judge(s, per, per_single, chosen, figs, req, cl)
    found = [s for s, _ in measured]
    out.strategies = found
    partner = [c for c in sorted(decision.survivors, key=lambda c: -(figs[c].quality.mean or 0)) if c != chosen]
    if partner:
        out.ab_test = ab_test(figs, chosen, partner[0])
    _recommend(out, found, figs[chosen], req)
    return out


def _recommend(out: Strategies, found: list[StrategyResult], single: Figures, req: Requirements) -> None:
    """The recommended strategy (the first on the PM's first priority among those that may be), or
    why none is."""
    rec = [s for s in found if s.recommendable]
    first = req.decision.priority[0]
    if not found:
        out.why = ("no multi-model strategy applies to these candidates: routing and cascades need a model cheaper than "
                   "the best that does as well on some examples, an ensemble needs three members that answer with a label")
    elif rec:
        def rank(s: StrategyResult) -> tuple[float, float]:
            f = s.figures
            assert f is not None
            if first == "latency":
                return (f.latency.p95.value or 0, monthly_of(f))
            if first == "quality":
                return (-(f.quality.mean or 0), monthly_of(f))
            return (monthly_of(f), -(f.quality.mean or 0))
        best = sorted(rec, key=rank)[0]
        out.recommended = best.name
        out.why = _why(best, single, req)
    elif trial := [s for s in found if s.worth_trial]:
        out.why = ("no strategy is shown non-inferior to the single-model choice within "
                   f"{req.decision.small_difference:g} while beating it on the PM's priorities; worth a trial: "
                   + ", ".join(s.name for s in trial) + " (see its row for what a trial would have to show)")
    else:
        # say what was compared: a fallback chain is judged on availability alone, the others on the figures
        kinds = {s.kind for s in found}
        only_avail = kinds <= {"fallback_chain"}
        out.why = ("the only strategy, a fallback chain, was judged on availability alone (it changes no answer); it "
                   "is not recommended: " + "; ".join(s.why_not or "it does not meet the bar" for s in found)
                   if only_avail else
                   "no strategy considered (" + ", ".join(sorted(kinds)) + ") beats the single-model choice on the "
                   "PM's priorities while meeting every requirement")


def _why(s: StrategyResult, base: Figures, req: Requirements) -> str:
    f, c = s.figures, s.vs_single
    assert f is not None and c is not None and c.lo is not None and c.hi is not None
    q0, q1 = base.quality.mean or 0, f.quality.mean or 0
    oos = ", out of sample" if s.kind == "routing" else ""
    change = f"paired difference {c.diff * 100:+.1f} points, 95% CI {c.lo * 100:+.1f} to {c.hi * 100:+.1f}, n={c.n}{oos}"
    per0, per1 = base.cost.per_request_usd or 0, f.cost.per_request_usd or 0
    cost = f"{(1 - per1 / per0) * 100:.1f}% lower cost per request" if per0 and per1 < per0 else \
        f"{((per1 / per0) - 1) * 100:.1f}% more cost per request" if per0 else "the same cost"
    small = req.decision.small_difference
    if c.lo > 0:
        claim = "scores higher than"
    else:
        claim = f"is shown at most {small * 100:g} points worse than (the lower end of its interval is {c.lo * 100:+.1f})"
    return (f"{s.name} {claim} the single model ({q1:.3f} vs {q0:.3f}; {change}) at {cost}, and meets every "
            "requirement the single model must meet.")
