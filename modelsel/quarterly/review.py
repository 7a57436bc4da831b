"""Does a recorded decision still hold? And what changed between two runs? Pure comparisons over
two loaded runs: no I/O, no rendering (report/review.py renders; session.run_review runs)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel

from modelsel.analysis import stats
from modelsel.analysis.consistency import per_example_pass_all
from modelsel.analysis.metrics import clusters_of, compare
from modelsel.importers.traces.sample import comparable, moved
from modelsel.numbers import ms, p_eq
from modelsel.run.calls import CallArrays
from modelsel.schema import Comparison, Summary


class Finding(BaseModel):
    kind: str
    holds: bool
    text: str
    candidate: str | None = None
    before: Any = None
    after: Any = None


class ReviewResult(BaseModel):
    holds: bool
    against: str
    run: str
    chosen_before: str | None
    chosen_now: str | None
    findings: list[Finding]


def _choice(old: Summary, new: Summary, chosen: str, prices_moved: bool = False, look: int = 1,
            planned: int = 8) -> list[Finding]:
    """The incumbent keeps its place unless it fails a requirement, a challenger is shown better, or a
    price change moved the choice. Two candidates the data cannot separate trade first place from run
    to run by chance (a sure pass before an at-risk one, cost within noise): over eight quarters that
    flip made 35% of unchanged histories 'not hold' at least once. 'Shown better' is a claim made at
    every review too, so it spends the plan's budget as the drift test does (quarterly/drift.py):
    a run's own 'worse' verdict (two-sided 5%) at each of eight reviews called an equal challenger
    better in 10% of histories."""
    nd = new.decision
    if nd.chosen == chosen:
        return [Finding(kind="same_choice", holds=True, text=f"the same rules still choose '{chosen}'")]
    f: list[Finding] = []
    if chosen in nd.eliminated:
        f.append(Finding(kind="incumbent_eliminated", holds=False,
                         text=f"'{chosen}' no longer meets the requirements: " + "; ".join(nd.eliminated[chosen])))
    elif chosen in nd.not_evaluated:
        f.append(Finding(kind="incumbent_not_evaluated", holds=False,
                         text=f"'{chosen}' could not be re-evaluated: {nd.not_evaluated[chosen]}"))
    elif nd.chosen:
        v = next((v for v in nd.verdicts if v.candidate == chosen), None)
        shown, share = _shown_over_plan(v, look, planned)
        if shown or prices_moved:
            why = f"{v.text} ({share})" if shown and v is not None else "a price changed (see the price findings)"
            f.append(Finding(kind="new_choice", holds=False, candidate=nd.chosen,
                             text=f"under the same rules '{nd.chosen}' is now chosen over '{chosen}': {why}"))
        else:
            why = v.text if v is not None else "no comparison shows it better"
            if v is not None and v.verdict == "worse":
                why += f"; not beyond this review's share of the plan ({share})"
            return [Finding(kind="incumbent_keeps_place", holds=True, candidate=nd.chosen,
                            text=f"'{nd.chosen}' ranks first in this run, but is not shown better than '{chosen}' "
                                 f"({why}): the incumbent keeps its place")]
    if not nd.chosen:
        f.append(Finding(kind="nobody_qualifies", holds=False, text="no candidate meets the requirements any more"))
    return f


def _shown_over_plan(v: Any, look: int, planned: int) -> tuple[bool, str]:
    """Whether a challenger's 'better' verdict is beyond this review's share of the plan's one-sided
    2.5% (its Holm-adjusted two-sided p halved, against the share the drift test also gets), and the
    words. Past the plan the run's own verdict stands (the review asks for a new decision anyway)."""
    from modelsel.quarterly.drift import budget

    if v is None or v.verdict != "worse":
        return False, ""
    b = budget(look, planned)
    c = v.comparison
    p1 = (c.p_holm if c is not None and c.p_holm is not None else c.p_value if c is not None else 1.0) / 2
    if b.exhausted:
        return True, f"one-sided p={p1:.4g}; the plan's budget is spent, the run's own verdict stands"
    return p1 < b.per_look, f"one-sided p={p1:.4g} against {b.per_look:.4g} at review {look} of {planned} planned"


def _drift_plan(old: Summary, new: Summary, chosen: str, earlier: list[dict[str, float]], now: dict[str, float],
                look: int, planned: int) -> list[Finding] | None:
    """The drift test over every run of this decision (quarterly/drift.py), within the plan's
    false-alarm budget; None when the runs share too few examples (then the two-run test below)."""
    from modelsel.quarterly.drift import budget, drift_test

    oq, nq = old.candidates[chosen].quality, new.candidates[chosen].quality
    b = budget(look, planned)
    if b.exhausted:
        return [Finding(kind="quality_drift", holds=True, before=oq.mean, after=nq.mean,
                        text=f"quality of '{chosen}' {nq.mean:.3f} vs {oq.mean:.3f} at the decision; {b.text()}")]
    d = drift_test(earlier, now)
    if d is None:
        return None
    sig = d.p < b.per_look and d.diff < 0
    runs = "the decision's run" if d.runs == 1 else f"the {d.runs} earlier runs of this decision (its run and reviews)"
    broke = (f"; {len(d.broke)} example(s) the same in every earlier run are lower now: " + ", ".join(d.broke[:8])
             + (" ..." if len(d.broke) > 8 else "")) if d.broke else ""
    txt = (f"quality of '{chosen}' {nq.mean:.3f} vs {oq.mean:.3f} at the decision; against {runs}, "
           f"{d.diff * 100:+.1f} points on {d.n} examples (permutation test over the runs, one-sided p={d.p:.4g}){broke}; "
           f"{b.text()}")
    word = ("quality drifted down: " if sig else "quality lower, not shown to have drifted within this review's share "
            "of the budget: " if d.diff < 0 and d.p < 0.05 else "quality stable: ")
    return [Finding(kind="quality_drift", holds=not sig, before=oq.mean, after=nq.mean, text=word + txt)]


def _fallback(old: Summary, new: Summary, chosen: str) -> list[Finding]:
    """The recorded fallback, when the same model is still chosen: still the fallback, outranked by
    another survivor (it holds: survivors the data cannot separate trade places by chance), or gone,
    eliminated or not evaluated (the decision no longer holds as recorded)."""
    fb, nd = old.decision.fallback, new.decision
    if fb is None or nd.chosen != chosen:
        return []
    if nd.fallback == fb:
        return [Finding(kind="same_fallback", holds=True, candidate=fb, text=f"'{fb}' is still the fallback")]
    now = f"the fallback is now '{nd.fallback}'" if nd.fallback else "there is no fallback now"
    gone = fb in nd.eliminated or fb in nd.not_evaluated
    if not gone:  # still meets every requirement; two survivors trade second place by chance: noted, it holds
        return [Finding(kind="fallback_changed", holds=True, candidate=fb, before=fb, after=nd.fallback,
                        text=f"'{fb}' still meets the requirements, but another survivor ranks first after the chosen "
                             f"one in this run: {now}")]
    why = "; ".join(nd.eliminated[fb]) if fb in nd.eliminated else f"not evaluated: {nd.not_evaluated[fb]}"
    return [Finding(kind="fallback_changed" if nd.fallback else "fallback_lost", holds=False, candidate=fb,
                    before=fb, after=nd.fallback, text=f"the recorded fallback '{fb}' is no longer it ({why}): {now}")]


def _drift(old: Summary, new: Summary, chosen: str, old_per: dict[str, float], new_per: dict[str, float],
           cluster_of: dict[str, str] | None = None) -> list[Finding]:
    """'Quality drifted down' only when the two runs differ by a test of both: the paired
    comparison on the examples both runs asked (clusters respected), else Welch's two-sample t.
    Comparing the new run's mean with the old run's interval ignored the new run's own noise and
    raised false alarms in 6.2% of unchanged reviews where 2.5% (one-sided) is promised."""
    oc, nc = old.candidates.get(chosen), new.candidates.get(chosen)
    if oc is None or nc is None or oc.quality.mean is None or nc.quality.mean is None:
        return []
    oq, nq = oc.quality, nc.quality
    d: Comparison | None = compare(new_per, old_per, "now", "before", cluster_of)
    how = "paired"
    if d is None:
        d, how = _two_sample(new_per, old_per), "two-sample Welch t"
    sig = d is not None and d.hi is not None and d.hi < 0
    txt = (f"quality of '{chosen}' {nq.mean:.3f} vs {oq.mean:.3f} before (interval then {oq.lo or 0:.3f}-{oq.hi or 0:.3f})"
           + (f"; {how} change {d.diff:+.3f} (95% CI {d.lo:+.3f} to {d.hi:+.3f}, {p_eq(d.p_value)}, n={d.n})"
              if d is not None and d.lo is not None and d.hi is not None else "; the two runs share too few examples to compare"))
    return [Finding(kind="quality_drift", holds=not sig, before=oq.mean, after=nq.mean,
                    text=("quality drifted down: " if sig else "quality stable: ") + txt)]


def _consistency(old: Summary, new: Summary, chosen: str, old_calls: CallArrays, new_calls: CallArrays,
                 cluster_of: dict[str, str]) -> list[Finding]:
    """When the decision had repeats: right on all K tries now against then, by the same paired test
    as quality (per example, right on all K or not; clusters respected), else Welch's two-sample t.
    'Drifted down' only when the interval of the change lies below 0."""
    oc, nc = old.candidates.get(chosen), new.candidates.get(chosen)
    if oc is None or nc is None or oc.quality.pass_all is None or oc.quality.pass_all.value is None:
        return []
    op, k = oc.quality.pass_all, oc.quality.pass_all.k
    np_ = nc.quality.pass_all
    if np_ is None or np_.value is None or np_.k != k:
        return [Finding(kind="consistency_unmeasured", holds=True, before=op.value,
                        text=f"right on all {k} tries was {op.value:.0%} in the decision; this review did not make "
                             f"{k} tries per example, so consistency is not compared")]
    new_per = per_example_pass_all(new_calls.of(chosen), k)
    old_per = per_example_pass_all(old_calls.of(chosen), k)
    d: Comparison | None = compare(new_per, old_per, "now", "before", cluster_of)
    how = "paired"
    if d is None:
        d, how = _two_sample(new_per, old_per), "two-sample Welch t"
    sig = d is not None and d.hi is not None and d.hi < 0
    then = f" (interval then {op.lo:.0%}-{op.hi:.0%})" if op.lo is not None and op.hi is not None else ""
    txt = (f"'{chosen}' right on all {k} tries for {np_.value:.0%} of examples vs {op.value:.0%} in the decision{then}"
           + (f"; {how} change {d.diff * 100:+.1f} points (95% CI {d.lo * 100:+.1f} to {d.hi * 100:+.1f}, "
              f"{p_eq(d.p_value)}, n={d.n})" if d is not None and d.lo is not None and d.hi is not None
              else "; the two runs share too few examples to compare"))
    return [Finding(kind="consistency_drift", holds=not sig, before=op.value, after=np_.value,
                    text=("consistency drifted down: " if sig else "consistency stable: ") + txt)]


def _two_sample(new_per: dict[str, float], old_per: dict[str, float]) -> Comparison | None:
    """Welch's t for two runs on different examples (an eval set that changed)."""
    import math

    import numpy as np

    a, b = np.array(list(new_per.values())), np.array(list(old_per.values()))
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(a.mean() - b.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return Comparison(a="now", b="before", n=len(a) + len(b), diff=diff, lo=diff, hi=diff, test="welch_t",
                          p_value=1.0 if diff == 0 else 0.0)
    df = (va + vb) ** 2 / ((va**2 / (len(a) - 1) if va else 0) + (vb**2 / (len(b) - 1) if vb else 0) or 1e-300)
    t = stats.t_ppf(0.975, df)
    return Comparison(a="now", b="before", n=len(a) + len(b), diff=diff, lo=diff - t * se, hi=diff + t * se,
                      p_value=stats.t_sf2(diff / se, df), test="welch_t", significant=abs(diff / se) > t)


def _latency(old: Summary, new: Summary, chosen: str) -> list[Finding]:
    """The same verdict the decision gives (limits.check, stored with the candidate)."""
    nc, oc = new.candidates.get(chosen), old.candidates.get(chosen)
    if nc is None:
        return []
    out = []
    for key in ("p50", "p95"):
        chk = next((c for c in nc.checks if c.requirement == f"latency.{key}_ms"), None)
        if chk is None or chk.status == "unmeasured":
            continue
        before = getattr(oc.latency, key).value if oc is not None else None
        word = {"pass": "meets the target", "at_risk": "meets the target, at risk", "fail": "regression past the target"}[chk.status]
        out.append(Finding(kind=f"latency_{key}", holds=chk.status != "fail", before=before, after=chk.measured,
                           text=f"{chk.text} (before {'unmeasured' if before is None else ms(before)}): {word}"))
    return out


def _prices(old: Summary, current: dict[str, tuple[float, float]]) -> list[Finding]:
    out = []
    for cid, c in old.candidates.items():
        if cid not in current:
            continue
        pin, pout = c.price.input_per_mtok, c.price.output_per_mtok
        nin, nout = current[cid]
        if (pin, pout) != (nin, nout):
            pct_in = (nin - pin) / pin * 100 if pin else 0.0
            # Reported with figures; whether it changes the decision is the re-run's verdict.
            out.append(Finding(kind="price_change", holds=True, candidate=cid, before=[pin, pout], after=[nin, nout],
                               text=f"price of '{cid}' changed: input ${pin:g} -> ${nin:g}/Mtok ({pct_in:+.0f}%), "
                                    f"output ${pout:g} -> ${nout:g}/Mtok"))
    return out


def _new_models(old: Summary, proposed: list[str]) -> list[Finding]:
    known = set(old.run.catalog_ids or []) if old.run.catalog_ids is not None else None
    shortlisted = set(old.candidates)
    fresh = [m for m in proposed if m not in shortlisted and (known is None or m not in known)]
    if not fresh:
        return []
    since = "new since the decision" if known is not None else "not shortlisted (the recorded run kept no catalog list, so " \
                                                                 "which are new cannot be told)"
    return [Finding(kind="new_catalog_models", holds=True, after=fresh,
                    text=f"{since}: {len(fresh)} catalog model(s) could meet these requirements — "
                         + ", ".join(fresh[:8]) + (" ..." if len(fresh) > 8 else "") + "; re-run the eval with them shortlisted")]


def _lifecycle(old: Summary, cands: dict[str, Any], today: date, review_every_days: int) -> list[Finding]:
    """The recorded choice and fallback against their vendors' deprecations: shut down, or shutting
    down before the next review, fails the review; deprecated with no date (or after it) warns."""
    from datetime import timedelta

    out = []
    next_review = (today + timedelta(days=review_every_days)).isoformat()
    for role, cid in (("chosen model", old.decision.chosen), ("fallback", old.decision.fallback)):
        c = cands.get(cid) if cid else None
        if c is None or not c.deprecation:
            continue
        succ = f"; the vendor names {c.successor} as its replacement" if c.successor else ""
        if c.shut_down_by(today):
            out.append(Finding(kind="retired", holds=False, candidate=cid,
                               text=f"the {role} '{cid}' was shut down on {c.shutdown_on} ({c.deprecation}){succ}"))
        elif c.shutdown_on and c.shutdown_on <= next_review:
            days = (date.fromisoformat(c.shutdown_on) - today).days
            out.append(Finding(kind="shuts_down_before_next_review", holds=False, candidate=cid,
                               text=f"the {role} '{cid}' shuts down in {days} days, on {c.shutdown_on}, before the next "
                                    f"review on {next_review} ({c.deprecation}){succ}"))
        else:
            out.append(Finding(kind="deprecated", holds=True, candidate=cid,
                               text=f"warning: the {role} '{cid}' is deprecated ({c.deprecation}){succ}"))
    return out


def compare_decisions(old: Summary, new: Summary, old_calls: CallArrays, new_calls: CallArrays,
                      current_prices: dict[str, tuple[float, float]], proposed: list[str], today: date,
                      cands: dict[str, Any] | None = None, review_every_days: int = 90,
                      earlier_reviews: list[CallArrays] | None = None, planned: int = 8) -> list[Finding]:
    """Findings, each saying whether the decision holds on that count. `old` is the decision's own
    run (never only the newest review); `earlier_reviews` the reviews of it since, oldest first."""
    chosen = old.decision.chosen
    if chosen is None:
        return [Finding(kind="no_decision", holds=False, text="the recorded run chose no candidate, so there is no decision to hold")]
    f = _lifecycle(old, cands or {}, today, review_every_days)
    price = _prices(old, current_prices)
    look = 1 + len(earlier_reviews or [])
    f += _choice(old, new, chosen, any(x.candidate in (chosen, new.decision.chosen) for x in price), look, planned)
    f += _fallback(old, new, chosen)
    now = new_calls.of(chosen).per_example_scores()
    earlier = [old_calls.of(chosen).per_example_scores()] + [r.of(chosen).per_example_scores()
                                                              for r in earlier_reviews or []]
    plan = None
    if chosen in new.candidates and new.candidates[chosen].quality.mean is not None \
            and old.candidates.get(chosen) is not None and old.candidates[chosen].quality.mean is not None:
        plan = _drift_plan(old, new, chosen, [e for e in earlier if e], now, len(earlier), planned)
    f += plan if plan is not None else _drift(old, new, chosen, earlier[0], now, clusters_of(new_calls))
    f += _consistency(old, new, chosen, old_calls, new_calls, clusters_of(new_calls))
    f += _latency(old, new, chosen)
    f += price
    f += _new_models(old, proposed)
    be = new.decision.self_hosting_break_even
    vol = new.requirements.get("cost", {}).get("monthly_requests")
    if be and vol and vol >= be.monthly_requests:
        f.append(Finding(kind="self_hosting_break_even", holds=False,
                         text=f"volume {vol:,}/month is past the break-even {be.monthly_requests:,} at which self-hosting "
                              f"'{be.candidate}' is cheaper"))
    due = old.decision.review.next_review_date if old.decision.review else None
    if due and date.fromisoformat(due) < today:
        f.append(Finding(kind="review_overdue", holds=True,
                         text=f"the review was due on {due}; this review is {(today - date.fromisoformat(due)).days} days late"))
    return f


def inputs_moved(before: dict[str, Any], now: dict[str, Any], against: str) -> list[Finding]:
    """Production's inputs in new traces against those the decision was made on (`import traces`'
    profile of the traffic, or the eval set's own lengths): a review trigger when they moved."""
    how = moved(before, now)
    span = f"{now.get('calls', 0):,} calls traced {now.get('from') or '?'} to {now.get('to') or '?'}"
    if not comparable(before, now):
        return [Finding(kind="production_inputs_unknown", holds=True,
                        text=f"too few calls to tell whether production's inputs moved ({span}, "
                             f"{before.get('calls', 0):,} in {against})")]
    if how:
        return [Finding(kind="production_inputs_moved", holds=False, before=before.get("input_tokens_p50"),
                        after=now.get("input_tokens_p50"),
                        text=f"production's inputs moved since the decision ({span}, against {against}): " + "; ".join(how)
                             + "; re-run the eval on the fresh sample written beside this review")]
    return [Finding(kind="production_inputs_same", holds=True,
                    text=f"production's inputs have not moved ({span}, against {against}): median input "
                         f"{now.get('input_tokens_p50') or 0:,.0f} tokens vs {before.get('input_tokens_p50') or 0:,.0f}")]


def review_result(old: Summary, new: Summary, findings: list[Finding], against: str, run: str) -> ReviewResult:
    return ReviewResult(holds=all(x.holds for x in findings), against=against, run=run,
                        chosen_before=old.decision.chosen, chosen_now=new.decision.chosen,
                        findings=sorted(findings, key=lambda x: x.holds))


# --- diff ------------------------------------------------------------------------------------------

class DiffRow(BaseModel):
    candidate: str
    status: list[str]
    quality: list[float | None]
    comparison: Comparison | None
    p50_ms: list[float | None]
    p95_ms: list[float | None]
    monthly_usd: list[float | None]


class Flip(BaseModel):
    candidate: str
    example_id: str
    before: bool
    after: bool


class Diff(BaseModel):
    a: str
    b: str
    chosen: list[str | None]
    candidates: list[DiffRow]
    flipped: list[Flip]
    only_in_a: list[str]
    only_in_b: list[str]


def _passes(arr: CallArrays) -> dict[str, bool]:
    first = arr.repeat == 0
    return {e: bool(p == 1) for e, p, ok in zip(arr.example.tolist(), arr.passed.tolist(), first.tolist(), strict=True)
            if ok and p >= 0}


def status_changes(sa: Summary, sb: Summary) -> list[str]:
    """Each candidate whose status changed between two runs, with the reasons the later run gives
    ("evaluated → eliminated" alone does not say why)."""
    out = []
    for cid in [c for c in sa.candidates if c in sb.candidates]:
        x, y = sa.candidates[cid], sb.candidates[cid]
        if x.status != y.status or (sa.decision.chosen == cid) != (sb.decision.chosen == cid):
            why = "; ".join(y.reasons) or ("chosen" if sb.decision.chosen == cid else "no reason recorded")
            out.append(f"{cid}: {x.status} → {y.status}: {why}")
    return out


def diff_runs(sa: Summary, ca: CallArrays, sb: Summary, cb: CallArrays, a: str, b: str) -> Diff:
    rows, flips = [], []
    for cid in [c for c in sa.candidates if c in sb.candidates]:
        x, y = sa.candidates[cid], sb.candidates[cid]
        xa, yb = ca.of(cid), cb.of(cid)
        rows.append(DiffRow(candidate=cid, status=[x.status, y.status], quality=[x.quality.mean, y.quality.mean],
                            comparison=compare(yb.per_example_scores(), xa.per_example_scores(), "B", "A"),
                            p50_ms=[x.latency.p50.value, y.latency.p50.value], p95_ms=[x.latency.p95.value, y.latency.p95.value],
                            monthly_usd=[x.cost.monthly_usd, y.cost.monthly_usd]))
        pa, pb = _passes(xa), _passes(yb)
        for ex in sorted(set(pa) & set(pb)):
            if pa[ex] != pb[ex]:
                flips.append(Flip(candidate=cid, example_id=ex, before=pa[ex], after=pb[ex]))
    return Diff(a=a, b=b, chosen=[sa.decision.chosen, sb.decision.chosen], candidates=rows, flipped=flips,
                only_in_a=[c for c in sa.candidates if c not in sb.candidates],
                only_in_b=[c for c in sb.candidates if c not in sa.candidates])
