"""Decision rules (README, "How modelsel decides"), made executable. Pure: no I/O.

Every sentence written here names the figure and the test behind it, and says plainly what
the data cannot tell apart: "not distinguishable at n=80" is never written as "equivalent".
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from modelsel.analysis import judge_error, limits, stats
from modelsel.analysis.methods import TESTS, short
from modelsel.analysis.metrics import find
from modelsel.catalog.compliance import Screening
from modelsel.inputs.candidate import Candidate
from modelsel.inputs.requirements import Requirements
from modelsel.numbers import ms as fmt_ms
from modelsel.numbers import p_eq, shown_ends
from modelsel.schema import (
    BreakEven,
    Check,
    Comparison,
    Decision,
    FallbackCost,
    Figures,
    NearMiss,
    QualityFigures,
    ReviewPlan,
    Verdict,
)

# --- rule 2: hard requirements after the run -------------------------------------------------

def _nearest_misses(failures: dict[str, list[Check]]) -> list[NearMiss]:
    """The three candidates closest to qualifying. A must-pass failure has no limit to move (the
    record names the examples that failed instead); it ranks behind any gap a limit could close."""
    misses = []
    for cid, fails in failures.items():
        if any(f.requirement == "answers" for f in fails):
            continue  # no answers at all: nothing to move
        fixed = [f for f in fails if f.by is not None and f.limit is not None]
        rel = sum(abs(f.by or 0) / (abs(f.limit or 0) or 1) for f in fixed) + (len(fails) - len(fixed))
        misses.append(NearMiss(candidate=cid, failed=fails, n_failed=len(fails), relative_gap=round(rel, 4)))
    misses.sort(key=lambda x: (x.n_failed, x.relative_gap))
    return misses[:3]


# --- rule 3: among survivors ------------------------------------------------------------------

def on_pass_all(req: Requirements, figs: dict[str, Figures]) -> int:
    """K when the choice rests on right-on-all-K-tries (quality.min_pass_all is set and the run made
    K >= 2 tries), else 0: the paired comparisons were then made on it (metrics.compute)."""
    if req.quality.min_pass_all is None:
        return 0
    return max((f.quality.pass_all.k for f in figs.values() if f.quality.pass_all is not None), default=0)


def _pass_all_value(f: Figures) -> float:
    return f.quality.pass_all.value or 0.0 if f.quality.pass_all is not None else 0.0


def pct_of(f: Figures) -> str:
    p = f.quality.pass_all
    return "n/a" if p is None or p.value is None else f"{p.value:.0%}"


def monthly_of(f: Figures, total: bool = False) -> float:
    """The cost a PM compares: projected monthly cost, or cost per request without a volume;
    `total`: with what failed answers cost (requirements' cost.rank_on)."""
    if total and f.cost.total_monthly_usd is not None:
        return f.cost.total_monthly_usd
    return f.cost.monthly_usd if f.cost.monthly_usd is not None else (f.cost.per_request_usd or 0.0)


def retry_text(f: Figures) -> str:
    """The retried share and why, for the sentences that quote a latency; '' when nothing was retried."""
    if not f.retried_requests:
        return ""
    n = f.n_calls or 1
    kinds = ", ".join(f"{k} {v}" for k, v in f.retry_kinds.items())
    out = (f"{f.retried_requests} of {n} requests ({f.retried_requests / n:.0%}) were retried ({kinds}); their back-off "
           "is in the latency")
    if "rate_limit" in f.retry_kinds:
        out += ("; rate limits may come from this run's own concurrency: measure again with a lower `concurrency` "
                "(or a raised account limit) to see the latency without them")
    return out


def volume_stated(req: Requirements) -> bool:
    return req.cost.monthly_requests is not None


def cost_text(f: Figures) -> str:
    """The cost a PM compares, with the interval it carries from the sample of calls."""
    c = f.cost
    monthly = c.monthly_usd is not None
    v, lo, hi = (c.monthly_usd, c.monthly_lo, c.monthly_hi) if monthly else (c.per_request_usd, c.per_request_lo,
                                                                             c.per_request_hi)
    fmt = "{:,.2f}" if monthly else "{:.6f}"
    text = "$" + fmt.format(v or 0.0) + ("/month" if monthly else " per request")
    if ends := shown_ends(lo, hi, fmt):
        text += f" (95% CI ${ends[0]}-${ends[1]}, n={f.n_calls - f.errors})"
    if c.total_monthly_usd is not None:
        tot = shown_ends(c.total_monthly_lo, c.total_monthly_hi, "{:,.0f}")
        text += (f"; with what its failed answers cost, ${c.total_monthly_usd:,.0f}/month in all"
                 + (f" (95% CI ${tot[0]}-${tot[1]})" if tot else ""))
    return text


def q_text(q: QualityFigures) -> str:
    if q.mean is None:
        return "n/a"
    if q.lo is None or q.hi is None:
        return f"{q.mean:.3f} (no interval: n={q.n})"
    return f"{q.mean:.3f}, 95% CI {q.lo:.3f}-{q.hi:.3f}, n={q.n}"


def _pts(x: float) -> str:
    return f"{x * 100:+.1f}"


def _n_text(c: Comparison) -> str:
    return f"n={c.n} examples in {c.clusters} clusters" if c.clusters else f"n={c.n}"


def _cmp_text(c: Comparison) -> str:
    test = f"{short(TESTS, c.test)} test"
    ci = f"95% CI {_pts(c.lo)} to {_pts(c.hi)} points" if c.lo is not None and c.hi is not None else "no interval"
    return f"{_pts(c.diff)} points ({ci}, {test} {p_eq(c.p_value)}, {_n_text(c)})"


def _ni_pvalue(c: Comparison, small: float) -> float:
    """One-sided p-value of 'the candidate is worse than the best by `small` or more', on
    c = best - candidate, by the test the comparison's interval comes from (Tango's score test,
    the paired t, the bounded test or the cluster sign-flip: metrics.compare computes it on the
    data). A comparison made without the margin (a review, a test) falls back to the closed forms."""
    if c.p_b_noninferior is not None and c.margin == small:
        return c.p_b_noninferior
    if c.test == "tango_score" and c.a_only is not None and c.b_only is not None:
        return stats.tango_pvalue(c.b_only, c.a_only, c.n, -small)
    if c.sd_diff is None or c.n < 2 or c.sd_diff == 0 or c.clusters:
        return 1.0  # no spread, or clusters without their data: nothing shown
    t = (-c.diff + small) / (c.sd_diff / math.sqrt(c.n))
    return 1.0 - stats.t_cdf(t, c.n - 1)


def separable(c: Comparison, family: int, alpha: float = 0.05) -> bool:
    """Whether this pair's test could show a difference at all once the family is counted: the
    cluster sign-flip test cannot go under 2 / 2^g, and Holm's strictest step asks for alpha / m."""
    if c.test != "cluster_signflip" or not c.clusters:
        return True
    return stats.smallest_signflip_p(c.clusters) < alpha / max(1, family)


def _inseparable_text(best: str, o: str, c: Comparison, family: int, one_sided: bool) -> str:
    alpha = 0.025 if one_sided else 0.05
    need = stats.clusters_to_show(alpha / max(1, family))
    fam = f" over the {family} comparisons (Holm asks for p < {alpha / family:.4g} at its strictest step)" \
        if family > 1 else f" (it asks for p < {alpha:g})"
    return (f"'{best}' and '{o}' cannot be separated by this design: '{best}' − '{o}' = {_cmp_text(c)}; with "
            f"{c.clusters} clusters the sign-flip test's smallest possible p-value is "
            f"{stats.smallest_signflip_p(c.clusters or 0):.3g}, so no difference could be shown{fam}. "
            f"About {need} clusters would do. The evidence to choose between them is missing")


def _family(best: str, others: list[str], comps: list[Comparison]) -> tuple[dict[str, Comparison | None], int]:
    """Each survivor's comparison with the best (best - survivor), with the Holm-adjusted p of the
    family it was adjusted in; and that family's size."""
    found: dict[str, Comparison | None] = {}
    for o in others:
        c = find(comps, best, o)
        found[o] = None if c is None else c.model_copy()
    family = [c for c in found.values() if c is not None]
    if any(c.p_holm is None for c in family):  # comparisons made outside compare_all: adjust over these
        for c, p in zip(family, stats.holm([c.p_value for c in family]) if family else [], strict=True):
            c.p_holm = round(p, 6)
        return found, len(family)
    return found, len(comps)


def _need_text(c: Comparison, small: float, sd_default: float) -> str:
    n_need = stats.n_to_detect(small, c.sd_diff or sd_default) if small else None
    if n_need and c.n_eff:
        n_need = math.ceil(n_need * c.n / c.n_eff)  # clustered: each example is worth less than one
    return f"; telling a {small * 100:g}-point gap apart needs about {n_need:,} examples" if n_need else ""


def _non_inferior_verdict(best: str, o: str, c: Comparison, p: float, small: float, need: str) -> Verdict:
    """Non-inferior when the one-sided test rejects a gap of `small` (Holm over the survivors) and
    the interval printed beside it lies under `small` too: the sentence's interval supports its claim."""
    if p < 0.025 and c.hi is not None and c.hi < small:
        return Verdict(candidate=o, versus=best, comparison=c, verdict="non_inferior",
                       text=f"'{o}' is non-inferior to '{best}' within {small:g}: '{best}' − '{o}' = {_cmp_text(c)}, "
                            f"upper bound under {small * 100:g} points (one-sided test at 2.5%, Holm-adjusted {p_eq(p)})")
    # 'Worse' is a claim of its own: like every verdict the choice rests on, it needs the two-sided
    # Holm-adjusted p over the table below 0.05, not only an interval that excludes 0 (with 12 equal
    # candidates one was called worse in 57% of runs).
    p_worse = c.p_holm if c.p_holm is not None else c.p_value
    if c.lo is not None and c.lo > 0 and p_worse < 0.05:
        return Verdict(candidate=o, versus=best, comparison=c, verdict="worse",
                       text=f"'{o}' is worse than '{best}': '{best}' − '{o}' = {_cmp_text(c)}, Holm-adjusted "
                            f"{p_eq(p_worse)} over the table; not non-inferior within {small:g} (Holm-adjusted "
                            f"{p_eq(p)}){need}")
    return Verdict(candidate=o, versus=best, comparison=c, verdict="not_shown_non_inferior",
                   text=f"'{o}' is not shown non-inferior to '{best}' within {small:g}: '{best}' − '{o}' = "
                        f"{_cmp_text(c)}; the interval allows a gap up to {(c.hi or 0) * 100:.1f} points "
                        f"(Holm-adjusted {p_eq(p)}){need}")


def _two_sided_verdict(best: str, o: str, c: Comparison, small: float, n_table: int, need: str) -> Verdict:
    assert c.lo is not None and c.hi is not None
    p_holm = c.p_holm if c.p_holm is not None else c.p_value
    if c.lo > 0 and p_holm < 0.05:
        return Verdict(candidate=o, versus=best, comparison=c, verdict="worse",
                       text=f"'{best}' scores higher than '{o}' by {_cmp_text(c)}, Holm-adjusted {p_eq(p_holm)} "
                            f"over the {n_table} comparisons")
    if c.lo >= -small and c.hi <= small:
        return Verdict(candidate=o, versus=best, comparison=c, verdict="equivalent",
                       text=f"'{o}' is equivalent to '{best}' within {small:g}: '{best}' − '{o}' = {_cmp_text(c)}, "
                            f"inside ±{small * 100:g} points (two one-sided tests at 2.5%)")
    if c.lo > 0:
        return Verdict(candidate=o, versus=best, comparison=c, verdict="not_distinguishable",
                       text=f"'{o}' and '{best}' are not distinguishable once {n_table} comparisons are counted: "
                            f"'{best}' − '{o}' = {_cmp_text(c)}; its own interval excludes 0, but the "
                            f"Holm-adjusted {p_eq(p_holm)} is not below 0.05{need}")
    reach = max(abs(c.lo), abs(c.hi)) * 100
    return Verdict(candidate=o, versus=best, comparison=c, verdict="not_distinguishable",
                   text=f"'{o}' and '{best}' are not distinguishable at {_n_text(c)}: '{best}' − '{o}' = "
                        f"{_cmp_text(c)}; the interval still allows up to {reach:.1f} points either way{need}")


def _judge_bias(v: Verdict, figs: dict[str, Figures]) -> Verdict:
    """'Worse' (the best shown better) stands only where the judge's bias between the two, measured on the
    judge_check set, cannot explain the gap: a judge lenient on one of two equal models made them differ in
    23-29% of runs (benchmarks/judge_error.py)."""
    c = v.comparison
    if v.verdict != "worse" or c is None or c.lo is None or v.versus not in figs or v.candidate not in figs:
        return v
    net = judge_error.net_gap_lo(figs[v.versus], figs[v.candidate], c.diff, c.lo)
    if net is None or net[0] > 0:
        return v
    return v.model_copy(update={"verdict": "not_distinguishable", "text": judge_error.refusal(
        v.versus, v.candidate, net[1], figs[v.versus], figs[v.candidate])})


def _multiplicity(policy: str, n_table: int, k: int) -> str:
    if policy != "non_inferior" and n_table > 1:  # the verdicts' Holm ran over the whole table, whatever k
        return (f"a survivor is 'worse than the best' only when its Holm-adjusted p-value is below 0.05, Holm's step-down "
                f"taken over all {n_table} pairwise comparisons in the table (the best is chosen from the data, so every "
                "pair is in the family): the chance of declaring any candidate worse when all are equal stays at 5%")
    if k <= 1:
        return "one comparison against the best: no family of tests to control"
    return (f"non-inferiority of {k} survivors against the best tested as one family with Holm's step-down "
            "(one-sided, 2.5%)")


def _verdicts(best: str, others: list[str], comps: list[Comparison], req: Requirements, sd_default: float
              ) -> tuple[list[Verdict], list[Comparison], str]:
    small = req.decision.small_difference
    policy = req.decision.equivalence
    found, n_table = _family(best, others, comps)
    family = [c for c in found.values() if c is not None]
    ni_adj: dict[str, float] = {}
    if policy == "non_inferior" and family:
        raw = [_ni_pvalue(c, small) for c in family]
        ni_adj = dict(zip([c.b for c in family], stats.holm(raw), strict=True))
    tested = len(family) if policy == "non_inferior" else n_table
    out: list[Verdict] = []
    for o in others:
        c = found[o]
        if c is None or c.lo is None or c.hi is None:
            out.append(Verdict(candidate=o, versus=best, comparison=c, verdict="not_comparable",
                               text=f"'{o}' shares too few answered examples with '{best}' to compare them"))
        elif not separable(c, tested, 0.025 if policy == "non_inferior" else 0.05):
            out.append(Verdict(candidate=o, versus=best, comparison=c, verdict="not_comparable",
                               text=_inseparable_text(best, o, c, tested, policy == "non_inferior")))
        elif policy == "non_inferior":
            out.append(_non_inferior_verdict(best, o, c, ni_adj.get(o, 1.0), small, _need_text(c, small, sd_default)))
        else:
            out.append(_two_sided_verdict(best, o, c, small, n_table, _need_text(c, small, sd_default)))
    return out, family, _multiplicity(policy, n_table, len(family))


def _key(priority: list[str], f: Figures, prefer_open: bool, c: Candidate | None, total: bool = False,
         unsure: int = 0) -> tuple:
    """Lock-in preference, then sure passes before at-risk ones (`unsure`: the requirements this
    candidate meets only at risk), then the PM's priorities."""
    parts: list[float] = []
    if prefer_open:
        parts.append(0 if c is not None and c.fact("open_weights") else (1 if c is not None and c.fact("standard_api") else 2))
    parts.append(unsure)
    for p in priority:
        if p == "cost":
            parts.append(monthly_of(f, total))
        elif p == "latency":
            parts.append(f.latency.p95.value or 0.0)
        elif p == "quality":
            parts.append(-(f.quality.mean or 0.0))
    parts.append(-(f.quality.mean or 0.0))
    return tuple(parts)


def _unsure(checks: list[Check]) -> set[str]:
    return {c.requirement for c in checks if c.status in ("at_risk", "unmeasured")}


def _sure_first(pool: list[str], chosen: str, figs: dict[str, Figures], checks: dict[str, list[Check]],
                key_without) -> str | None:  # type: ignore[no-untyped-def]
    """The sentence when ranking sure passes first changed the choice: who would have ranked first
    on the priorities alone, and which of its requirements pass only at risk."""
    first = min(pool, key=key_without)
    if first == chosen:
        return None
    theirs = sorted(_unsure(checks.get(first, [])) - _unsure(checks.get(chosen, [])))
    return (f"'{chosen}' ranks before '{first}', which would come first on the priorities alone: '{first}' meets "
            f"{', '.join(theirs)} only at risk (its interval crosses the limit) where '{chosen}' meets "
            f"{'them' if len(theirs) > 1 else 'it'} surely, and the data do not otherwise separate them. A sure pass "
            "ranks before an at-risk pass of the same requirement.")


def _choose(d: Decision, best: str, pool: list[str], figs: dict[str, Figures], by: dict[str, Candidate],
            req: Requirements, checks: dict[str, list[Check]] | None = None) -> None:
    prefer_open = req.strategy.prefer_open_weights or req.strategy.lock_in_tolerance == "low"
    pri = req.decision.priority
    checks = checks or {}

    def key(c: str, sure_first: bool = True) -> tuple:
        return _key(pri, figs[c], prefer_open, by.get(c), req.cost.ranks_on_total,
                    len(_unsure(checks.get(c, []))) if sure_first else 0)

    order = sorted(pool, key=key)
    chosen = order[0]
    if len(pool) > 1 and (why := _sure_first(pool, chosen, figs, checks, lambda c: key(c, False))):
        d.reasons.append(why)
    d.chosen, d.pool = chosen, pool
    others = [v for v in d.verdicts]
    q = figs[chosen].quality
    if len(d.survivors) == 1:
        d.rule = "3: the only survivor"
        f = figs[chosen]
        rt = retry_text(f)
        d.reasons.append(f"'{chosen}' is the only candidate that meets every requirement (quality {q_text(q)}; p95 "
                         f"{fmt_ms(f.latency.p95.value or 0)}" + (f"; {rt}" if rt else "") + "); no comparison between "
                         "survivors was needed or made.")
        return
    if len(pool) == 1:
        _best_alone(d, chosen, figs, req)
        return
    policy = "not shown to differ from the best" if req.decision.equivalence == "not_distinguishable" else \
        f"shown non-inferior to the best within {req.decision.small_difference:g}"
    d.rule = f"3: chosen on {' then '.join(pri)} among survivors {policy}" + (" (lock-in preference first)" if prefer_open else "")
    d.reasons += [v.text for v in others if v.candidate in pool]
    f = figs[chosen]
    rt = retry_text(f)
    ranked = [("total cost (API, hosting and failed answers)" if p == "cost" and req.cost.ranks_on_total else p)
              for p in pri]
    d.reasons.append(f"Among {', '.join(repr(c) for c in pool)}, '{chosen}' ranks first on {', '.join(ranked)}: "
                     f"{cost_text(f)}, p95 {fmt_ms(f.latency.p95.value or 0)}" + (f" ({rt})" if rt else "") + ".")
    if chosen != best and (k := on_pass_all(req, figs)):
        d.reasons.append(f"'{chosen}' is chosen over '{best}', right on all {k} tries more often "
                         f"({pct_of(figs[best])} vs {pct_of(figs[chosen])}): the data cannot rule out that '{best}' is "
                         "more consistent; it is not shown to be.")
    elif chosen != best:
        d.reasons.append(f"'{chosen}' is chosen over the highest-scoring '{best}' ({figs[best].quality.mean:.3f} vs "
                         f"{q.mean:.3f}): the data cannot rule out that '{best}' is better; it is not shown to be.")
    if prefer_open:
        d.reasons.append("The requirements ask to limit lock-in, so open weights and standard APIs rank first among them.")
    out = [v.text for v in others if v.candidate not in pool]
    d.reasons += out


def _best_alone(d: Decision, chosen: str, figs: dict[str, Figures], req: Requirements) -> None:
    """The best is the only one in the pool: why, and what its extra quality costs a month."""
    others, q = d.verdicts, figs[chosen].quality
    if all(v.verdict == "worse" for v in others):
        d.rule = "3: better than every other survivor"
        d.reasons.append(f"'{chosen}' scores higher than every other survivor: each paired 95% interval lies above 0.")
    else:
        d.rule = "3: no other survivor shown non-inferior"
        d.reasons.append(f"No other survivor was shown non-inferior to '{chosen}' within {req.decision.small_difference:g}, "
                         "so the highest-scoring survivor is chosen.")
    d.reasons += [v.text for v in others]
    cheapest = min(d.survivors, key=lambda c: monthly_of(figs[c]))
    extra = monthly_of(figs[chosen]) - monthly_of(figs[cheapest])
    if cheapest == chosen or extra <= 0:  # what the extra quality costs: here, nothing
        nxt = max((c for c in d.survivors if c != chosen), key=lambda c: figs[c].quality.mean or 0, default=None)
        if nxt is not None:
            dq = (q.mean or 0) - (figs[nxt].quality.mean or 0)
            d.extra_quality_monthly_usd = 0.0
            d.trade_offs.append(f"'{chosen}' is also the cheapest survivor: its extra {dq * 100:.1f} points of "
                                f"quality over '{nxt}' cost nothing more a month.")
    if cheapest != chosen and extra > 0:
        dq = (q.mean or 0) - (figs[cheapest].quality.mean or 0)
        if volume_stated(req):
            d.extra_quality_monthly_usd = round(extra, 2)
            d.trade_offs.append(f"The extra {dq * 100:.1f} points of quality over '{cheapest}' cost ${extra:,.2f} more "
                                "per month.")
        else:
            d.trade_offs.append(f"The extra {dq * 100:.1f} points of quality over '{cheapest}' cost ${extra:.6f} more "
                                "per request; the monthly volume is not stated (cost.monthly_requests), so no monthly "
                                "figure is given.")
    rt = retry_text(figs[chosen])
    if rt:
        d.reasons.append(f"'{chosen}': {rt}.")


# --- rule 5: fallback ------------------------------------------------------------------------

def _fallback(d: Decision, figs: dict[str, Figures], by: dict[str, Candidate], req: Requirements) -> None:
    chosen = d.chosen
    assert chosen is not None
    others = [c for c in d.survivors if c != chosen]
    if not others:
        d.fallback_note = "No other candidate meets the requirements, so there is no fallback: a retirement or outage of " \
                          f"'{chosen}' has no tested replacement."
        d.trade_offs.append(d.fallback_note)
        return
    # A provider, for outage purposes, is the host its requests go to (two vendors behind one gateway
    # go down together; a custom endpoint at api.openai.com is OpenAI).
    vendor = by[chosen].outage_host if chosen in by else None
    elsewhere = [c for c in others if c not in by or by[c].outage_host != vendor]

    def rank(c: str) -> tuple[float, float]:
        return (-(figs[c].quality.mean or 0), monthly_of(figs[c]))

    fb = sorted(elsewhere or others, key=rank)[0]
    d.fallback = fb
    q = figs[chosen].quality.mean or 0
    d.fallback_cost = FallbackCost(
        quality_diff=round((figs[fb].quality.mean or 0) - q, 4),
        p95_ms_diff=round((figs[fb].latency.p95.value or 0) - (figs[chosen].latency.p95.value or 0), 1),
        monthly_usd_diff=round(monthly_of(figs[fb]) - monthly_of(figs[chosen]), 2) if volume_stated(req) else None,
        per_request_usd_diff=round((figs[fb].cost.per_request_usd or 0) - (figs[chosen].cost.per_request_usd or 0), 9))
    if elsewhere:
        d.fallback_note = f"'{fb}' runs elsewhere ({by[fb].outage_host if fb in by else 'custom'}), so it also covers " \
                          f"an outage of {vendor}."
    else:
        d.fallback_same_vendor = True
        if vendor == "this machine":  # no provider, account or terms to lose: say what this host's failure means
            d.fallback_note = (f"'{fb}' runs on this machine, like '{chosen}': it covers a failure of '{chosen}' itself, "
                               "not a failure of the machine both run on. No survivor runs elsewhere.")
        else:
            d.fallback_note = (f"'{fb}' goes to the same host ({vendor}) as '{chosen}': it covers a retirement of "
                               f"'{chosen}', an outage of that model alone and per-model rate limits, but not a "
                               "provider-wide outage, an account suspension or a change in that provider's terms. No "
                               "survivor runs elsewhere.")
        d.trade_offs.append(d.fallback_note)


# --- rule 6: trade-offs and when to reconsider --------------------------------------------------

OWN_CODE_OR_MACHINE = ("python", "local")  # your own code, or a model on this machine: nothing to migrate off a vendor
SELF_HOSTING_TRIGGER = "volume: requests per month reach the self-hosting break-even"


def review_plan(req: Requirements, today: date) -> ReviewPlan:
    triggers = [
        "a price change of any shortlisted model (catalog or genai-prices update)",
        "a new model from a shortlisted provider, or a new open-weight model in the catalog",
        "quality drift: the chosen model's score on this eval set falls below its interval",
        SELF_HOSTING_TRIGGER,
        "provider incidents: error rate above the limit in production",
    ] + list(req.decision.triggers)
    return ReviewPlan(next_review_date=(today + timedelta(days=req.decision.review_every_days)).isoformat(),
                      every_days=req.decision.review_every_days, triggers=triggers)


def self_hosting_break_even(cands: list[Candidate], figs: dict[str, Figures], chosen: str | None) -> BreakEven | None:
    """Monthly volume at which the cheapest self-hosted candidate with a fixed cost beats the chosen API model."""
    by = {c.id: c for c in cands}
    if not chosen or chosen not in figs or by.get(chosen) is None or by[chosen].fact("self_hosted"):
        return None
    def variable(cid: str) -> float:  # the bill per request without the fixed cost's share
        cf = figs[cid].cost
        return (cf.api_per_request_usd if cf.api_per_request_usd is not None else cf.per_request_usd) or 0

    api_per = variable(chosen)
    best: BreakEven | None = None
    for c in cands:
        fixed = figs[c.id].cost.fixed_monthly_usd if c.id in figs else 0.0
        if c.fact("self_hosted") and fixed > 0:
            per = variable(c.id)
            if api_per > per:
                vol = int(fixed / (api_per - per))
                if best is None or vol < best.monthly_requests:
                    best = BreakEven(candidate=c.id, monthly_requests=vol, fixed_monthly_usd=fixed)
    return best


# --- all rules ---------------------------------------------------------------------------------

def decide(cands: list[Candidate], figs: dict[str, Figures], comps: list[Comparison], req: Requirements,
           screening: Screening, today: date | None = None) -> tuple[Decision, dict[str, list[Check]]]:
    """The decision, and every candidate's checks (rule 2) for the record."""
    today = today or date.today()
    by = {c.id: c for c in cands}
    d = Decision(policy=req.decision.equivalence, not_evaluated=dict(screening.not_evaluated))
    d.eliminated = {cid: [f"compliance: {r}" for r in rs] for cid, rs in screening.compliance_out.items() if rs}
    d.at_risk = {cid: [f"compliance: {r}" for r in rs] for cid, rs in screening.compliance_risks.items() if rs}
    checks = {cid: limits.check(f, req) for cid, f in figs.items()}
    for cid, cs in checks.items():
        if fails := limits.failed(cs):
            d.failures[cid] = fails
            d.eliminated.setdefault(cid, []).extend(f.text for f in fails)
        if risks := limits.at_risk(cs):
            d.at_risk.setdefault(cid, []).extend(r.text for r in risks)
    d.survivors = [cid for cid in figs if cid not in d.eliminated]
    d.review = review_plan(req, today)
    if not d.survivors:
        d.rule = "7: nobody qualifies"
        if not figs:
            d.reasons.append("No candidate could be evaluated: see 'not evaluated' and the compliance eliminations.")
            return d, checks
        d.reasons.append("No candidate meets every requirement. The nearest misses, and what would have to move for each:")
        d.nearest_misses = _nearest_misses(d.failures)
        return d, checks
    k = on_pass_all(req, figs)
    best = max(d.survivors, key=lambda c: (_pass_all_value(figs[c]) if k else 0.0, figs[c].quality.mean or 0,
                                           -monthly_of(figs[c])))
    d.best = best
    others = [c for c in d.survivors if c != best]
    if k and others:
        d.reasons.append(f"The requirements set quality.min_pass_all, so the survivors are compared on what it "
                         f"measures: per example, right on all {k} tries or not (paired, on the same examples); "
                         f"the best is the survivor right on all {k} tries most often.")
    sds = [c.sd_diff for c in comps if c.sd_diff]
    d.verdicts, family, d.multiplicity = _verdicts(best, others, comps, req,
                                                   float(sorted(sds)[len(sds) // 2]) if sds else 0.5)
    d.verdicts = [_judge_bias(v, figs) for v in d.verdicts]
    in_pool = {"not_distinguishable", "equivalent", "non_inferior"}
    pool = [best] + [v.candidate for v in d.verdicts if v.verdict in in_pool]
    tested = len(family) if req.decision.equivalence == "non_inferior" else len(comps) or len(family)
    apart = [v.candidate for v in d.verdicts if v.comparison is not None and v.comparison.lo is not None
             and not separable(v.comparison, tested, 0.025 if req.decision.equivalence == "non_inferior" else 0.05)]
    if apart:
        d.evidence_missing = (f"The design cannot separate '{best}' from {', '.join(repr(c) for c in apart)}: too few "
                              f"clusters for any difference to be shown, so nothing is chosen on price among them; "
                              f"'{best}', the highest-scoring survivor, is kept until more clusters are measured.")
    _choose(d, best, pool, figs, by, req, checks)
    _fallback(d, figs, by, req)
    chosen = d.chosen
    assert chosen is not None
    if chosen in d.at_risk:
        d.trade_offs.append(f"'{chosen}' is at risk: " + "; ".join(d.at_risk[chosen]))
    ch = by.get(chosen)
    own = ch is not None and (ch.provider in OWN_CODE_OR_MACHINE or bool(ch.fact("self_hosted")))
    if ch is not None and not own and not ch.fact("open_weights"):
        d.trade_offs.append(f"'{chosen}' is a closed model: moving away means re-testing prompts and output formats on "
                            "another provider.")
    d.self_hosting_break_even = self_hosting_break_even(cands, figs, chosen)
    if own and d.review is not None:  # already runs on your own machines: no break-even to watch for
        d.review.triggers = [t for t in d.review.triggers if not t.startswith(SELF_HOSTING_TRIGGER)]
    for role, cid in (("chosen model", chosen), ("fallback", d.fallback)):
        note = lifecycle_note(by.get(cid) if cid else None, role, d.review, today)
        if note:
            d.lifecycle.append(note)
            d.trade_offs.append(note)
    return d, checks


def lifecycle_note(c: Candidate | None, role: str, plan: ReviewPlan | None, today: date) -> str | None:
    """What the vendor's deprecation of this model means for the decision: the shutdown day, set
    against the next review, and the replacement the vendor names."""
    if c is None or not c.deprecation:
        return None
    succ = f" The vendor names {c.successor} as its replacement: evaluate it now." if c.successor else ""
    if c.shutdown_on is None:
        return f"The {role} '{c.id}' is deprecated ({c.deprecation}).{succ}"
    days = (date.fromisoformat(c.shutdown_on) - today).days
    before = plan is not None and c.shutdown_on <= plan.next_review_date
    when = (f"before the next review on {plan.next_review_date}" if before else
            f"after the next review on {plan.next_review_date}") if plan is not None else ""
    return (f"The {role} '{c.id}' shuts down in {days} days, on {c.shutdown_on}, {when} ({c.deprecation}).{succ}").replace(
        " , ", ", ").replace(", (", " (")


def holm_table(comps: list[Comparison], d: Decision) -> list[Comparison]:
    """The comparison table with its Holm-adjusted p-values: the family the verdicts used, every pair
    in the table (a pair no verdict quotes keeps its value in that family, never a blank)."""
    holm = {frozenset((v.versus, v.candidate)): v.comparison.p_holm for v in d.verdicts if v.comparison is not None}
    return [c.model_copy(update={"p_holm": holm.get(frozenset((c.a, c.b)), c.p_holm)}) for c in comps]
