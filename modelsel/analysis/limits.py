"""The hard requirements, declared once: what each measures, which interval applies and what
"at risk" means. `decide`, `simulate` and `review` all call `check` and so give the same
verdict on the same figures.

A requirement fails when the measured figure is on the wrong side of the limit. It passes
"at risk" when the figure is on the right side but its 95% interval reaches past the limit
(or the data cannot bound it at all, e.g. p95 from fewer than 59 calls). Otherwise it passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modelsel.analysis import stats
from modelsel.inputs.requirements import Requirements
from modelsel.numbers import ms as fmt_ms
from modelsel.numbers import usd as _usd
from modelsel.schema import Check, Figures, PassK, QualityFigures, Quantile


@dataclass(frozen=True)
class Measure:
    value: float
    lo: float | None
    hi: float | None
    n: int


@dataclass(frozen=True)
class Limit:
    requirement: str  # the field in the requirements file
    label: str
    how: str  # how the figure is measured
    interval: str  # which interval decides "at risk"
    higher_is_better: bool
    target: Callable[[Requirements], float | None]
    measure: Callable[[Figures], Measure | None]
    fmt: Callable[[float], str]


def _q(q: QualityFigures | None) -> Measure | None:
    if q is None or q.mean is None:
        return None
    return Measure(q.mean, q.lo, q.hi, q.n)


def _pk(p: PassK | None) -> Measure | None:
    return None if p is None or p.value is None else Measure(p.value, p.lo, p.hi, p.n)


def _lat(get: Callable[[Figures], Quantile | None]) -> Callable[[Figures], Measure | None]:
    def m(f: Figures) -> Measure | None:
        q = get(f)
        return None if q is None or q.value is None else Measure(q.value, q.lo, q.hi, q.n)
    return m


def _pct(v: float) -> str:
    return f"{v:.1%}"


def _score(v: float) -> str:
    return f"{v:.3f}"


LIMITS: tuple[Limit, ...] = (
    Limit("quality.min_score", "quality", "mean score over examples, repeats pooled; a request that ended in an error "
          "scores 0; with a judge_check and the judge scoring alone, the share of answers people would pass "
          "(Rogan-Gladen, the judge's error in its interval)",
          "exact binomial for pass/fail (at the effective n where examples share a cluster); for graded scores one "
          "that holds whatever the spread (betting, Waudby-Smith and Ramdas); CR2 with Bell-McCaffrey df when "
          "clustered. Examples never asked count as anything from 0 to 1: pass or fail only whatever they would "
          "score, else not judged", True,
          lambda r: r.quality.min_score, lambda f: _q(f.quality), _score),
    Limit("quality.min_pass_all", "right on every try", "share of examples right on all K independent tries "
          "(run.repeats, K >= 2; pass^k): an error is a wrong try",
          "exact binomial over examples (the K tries of one example are one unit; at the effective n where examples "
          "share a cluster). Examples asked fewer than K times count as anything from 0 to 1", True,
          lambda r: r.quality.min_pass_all, lambda f: _pk(f.quality.pass_all), _pct),
    Limit("latency.p50_ms", "p50 latency", "median of warm answered requests' time from the first attempt to the "
          "answer, failed attempts and back-off included",
          "order-statistic interval for the median", False,
          lambda r: r.latency.p50_ms, _lat(lambda f: f.latency.p50), fmt_ms),
    Limit("latency.p95_ms", "p95 latency", "95th percentile of the same request times",
          "order-statistic interval for the 95th percentile (no upper bound below 59 calls)", False,
          lambda r: r.latency.p95_ms, _lat(lambda f: f.latency.p95), fmt_ms),
    Limit("latency.ttft_p50_ms", "time to first token p50", "median time to the first streamed token",
          "order-statistic interval for the median", False,
          lambda r: r.latency.ttft_p50_ms, _lat(lambda f: f.latency.ttft_p50), fmt_ms),
    Limit("cost.max_per_request_usd", "cost per request", "mean cost of answered calls as production will be billed "
          "(every usage field priced; reasoning tokens as output; the shared prefix read at production's cache hit rate; "
          "the candidate's service tier; production's input lengths where stated) + fixed monthly cost / monthly "
          "requests; quality calls only", "bootstrap-t joined with a lognormal pivot for the output tokens' long tail, "
          "and with the betting interval under a call's cost at max_tokens where the requests send one; over "
          "examples, repeats averaged (at risk when fewer than 2 answered calls give none)", False,
          lambda r: r.cost.max_per_request_usd,
          lambda f: None if f.cost.per_request_usd is None else
          Measure(f.cost.per_request_usd, f.cost.per_request_lo, f.cost.per_request_hi, f.cost.n), _usd),
    Limit("cost.monthly_budget_usd", "projected monthly cost", "API cost per request x monthly requests + fixed cost "
          "(with instance_hour_usd: the instances the volume needs)",
          "the cost-per-request interval at the same volume; at risk too when growth breaks the budget", False,
          lambda r: r.cost.monthly_budget_usd if r.cost.monthly_requests is not None else None,
          lambda f: None if f.cost.monthly_usd is None else
          Measure(f.cost.monthly_usd, f.cost.monthly_lo, f.cost.monthly_hi, f.cost.n), _usd),
    Limit("decision.max_error_rate", "error rate", "calls that failed after retries / all calls",
          "exact binomial (Clopper-Pearson)", False,
          lambda r: r.decision.max_error_rate,
          lambda f: None if f.error_rate.value is None else Measure(f.error_rate.value, f.error_rate.lo, f.error_rate.hi, f.n_calls),
          _pct),
)


def _ci_text(lim: Limit, m: Measure) -> str:
    if m.lo is None and m.hi is None and not lim.requirement.startswith("latency"):
        return f"{lim.fmt(m.value)} (no interval: n={m.n} is too small)"
    lo = "—" if m.lo is None else lim.fmt(m.lo)
    if m.hi is None:
        return f"{lim.fmt(m.value)} (95% CI {lo} to unbounded: n={m.n} is too few to bound it from above)"
    if m.lo is None:
        return f"{lim.fmt(m.value)} (95% CI unbounded to {lim.fmt(m.hi)}, n={m.n})"
    return f"{lim.fmt(m.value)} (95% CI {lo}-{lim.fmt(m.hi)}, n={m.n})"


def _judge_partial(lim: Limit, m: Measure, target: float, what: str, missing: int) -> Check:
    """A figure with examples never asked: its interval counts them as anything from failures to
    passes. It fails only when it fails whatever they would score, passes only when it passes
    whatever they would score, and is otherwise not judged."""
    base = {"requirement": lim.requirement, "measured": m.value, "lo": m.lo, "hi": m.hi, "limit": target,
            "higher_is_better": lim.higher_is_better}
    ci = (f"{lim.fmt(m.value)} on the {m.n} examples asked; with the {missing} never asked counted as anything from "
          f"failures to passes, 95% CI {'—' if m.lo is None else lim.fmt(m.lo)}-{'—' if m.hi is None else lim.fmt(m.hi)}")
    good_end, bad_end = (m.lo, m.hi) if lim.higher_is_better else (m.hi, m.lo)
    sure_pass = good_end is not None and (good_end >= target if lim.higher_is_better else good_end <= target)
    sure_fail = bad_end is not None and (bad_end < target if lim.higher_is_better else bad_end > target)
    if sure_fail:
        return Check(**base, status="fail", text=f"{what} {ci}: below the limit {lim.fmt(target)} whatever the "
                     f"{missing} unasked would score" if lim.higher_is_better else
                     f"{what} {ci}: over the limit {lim.fmt(target)} whatever the {missing} unasked would score",
                     move_limit_to=m.value, by=round(m.value - target, 9))
    if sure_pass:
        return Check(**base, status="pass", text=f"{what} {ci} meets {lim.fmt(target)} whatever the {missing} unasked "
                                                  "would score")
    return Check(**base, status="unmeasured", text=f"{what} {ci}: not judged against {lim.fmt(target)} (partial run: "
                                                    f"it depends on the {missing} examples never asked)")


def _judge(lim: Limit, m: Measure, target: float, what: str | None = None, missing: int = 0) -> Check:
    what = what or lim.label
    if missing:
        return _judge_partial(lim, m, target, what, missing)
    ci = _ci_text(lim, m)
    wrong = m.value < target if lim.higher_is_better else m.value > target
    base = {"requirement": lim.requirement, "measured": m.value, "lo": m.lo, "hi": m.hi, "limit": target,
            "higher_is_better": lim.higher_is_better}
    if wrong:
        verb = "is below" if lim.higher_is_better else "exceeds"
        return Check(**base, status="fail", text=f"{what} {ci} {verb} the limit {lim.fmt(target)}",
                     move_limit_to=m.value, by=round(m.value - target, 9))
    bound = m.lo if lim.higher_is_better else m.hi
    crosses = bound is None or (bound < target if lim.higher_is_better else bound > target)
    if crosses and m.lo is None and m.hi is None:
        return Check(**base, status="at_risk", text=f"{what} {ci} meets {lim.fmt(target)}, but is at risk: n too small "
                                                    "for an interval")
    if crosses and lim.requirement == "decision.max_error_rate" and m.value == 0 and m.n and target > 0:
        # nothing went wrong at all: the only risk is that n calls cannot show a rate this low
        import math

        need = math.ceil(math.log(0.025) / math.log1p(-target)) if target < 1 else 1  # exact 95% upper end
        return Check(**base, status="at_risk", text=f"{what} {ci}: none in {m.n} calls, but {m.n} calls cannot show a "
                     f"rate under {lim.fmt(target)} (about {need} calls without one would)")
    if crosses:
        return Check(**base, status="at_risk", text=f"{what} {ci} meets {lim.fmt(target)}, but its interval crosses it")
    return Check(**base, status="pass", text=f"{what} {ci} meets {lim.fmt(target)}")


def _missing(lim: Limit, f: Figures) -> int:
    """Examples not shown for this figure (never asked, or asked fewer than K times)."""
    if lim.requirement == "quality.min_score":
        return f.quality.missing
    if lim.requirement == "quality.min_pass_all" and f.quality.pass_all is not None:
        return f.quality.pass_all.missing
    return 0


_BY_TAG = Limit("quality.min_by_tag", "quality", "mean score over the tag's examples", "as for quality", True,
                lambda r: None, lambda f: None, _score)


def check(f: Figures, req: Requirements) -> list[Check]:
    """Every hard requirement the requirements set, judged on these figures."""
    if f.n_calls - f.errors <= 0 or f.quality.n == 0:
        return [Check(requirement="answers", status="fail", measured=0, limit=1,
                      text="no successful answers" + (f" ({f.errors} of {f.n_calls} calls failed)" if f.n_calls else ""))]
    out: list[Check] = []
    for lim in LIMITS:
        target = lim.target(req)
        if target is None:
            continue
        m = lim.measure(f)
        if m is None:
            out.append(Check(requirement=lim.requirement, status="unmeasured", limit=target,
                             higher_is_better=lim.higher_is_better, text=f"{lim.label} was not measured"))
            continue
        if lim.requirement.startswith("latency.") and (f.latency.not_judged or f.latency.extra_stopped):
            # a provider that asked for waits past the cap: the calls' times hold the run's own waits, not the model's
            why = f.latency.not_judged or f"{f.latency.extra_stopped}; the calls' times include the waits it asked for"
            out.append(Check(requirement=lim.requirement, status="unmeasured", measured=m.value, lo=m.lo, limit=target,
                             higher_is_better=False, text=f"{lim.label} not judged: {why}"))
            continue
        if lim.requirement.startswith("latency.") and m.hi is None and m.value <= target and (
                f.latency.extra_declined or f.latency.extra_dropped):
            why = ("--no-extra-calls kept the latency-only calls that would" if f.latency.extra_declined else
                   f"{f.latency.extra_dropped} latency-only calls failed after one retry and were left out")
            out.append(Check(requirement=lim.requirement, status="unmeasured", measured=m.value, lo=m.lo, limit=target,
                             higher_is_better=False, text=f"{lim.label} not judged: {m.n} warm calls cannot bound it "
                             f"from above at 95%, and {why}"))
            continue
        what = f"right on all {f.quality.pass_all.k} tries" if lim.requirement == "quality.min_pass_all" and \
            f.quality.pass_all is not None else None
        c = _judge(lim, m, target, what, missing=_missing(lim, f))
        if c.status == "pass" and lim.requirement == "cost.monthly_budget_usd":
            at_h = f.cost.monthly_usd_at_horizon
            if at_h is not None and at_h > target:
                c = c.model_copy(update={"status": "at_risk", "text": (
                    f"within budget now ({_usd(m.value)}/month) but {_usd(at_h)}/month after {req.cost.horizon_months} "
                    f"months of {req.cost.monthly_growth_pct:g}% growth exceeds {_usd(target)}")})
        out.append(c)
    for tag, bar in req.quality.min_by_tag.items():
        tb = f.by_tag.get(tag)
        m = _q(tb)
        key = f"quality.min_by_tag.{tag}"
        if m is None:
            out.append(Check(requirement=key, status="unmeasured", limit=bar,
                             text=f"no '{tag}' examples answered, so quality on '{tag}' (bar {bar}) is unmeasured"))
            continue
        c = _judge(_BY_TAG, m, bar, what=f"quality on '{tag}'", missing=tb.missing if tb else 0)
        out.append(c.model_copy(update={"requirement": key}))
    out += [_gap_check(f, mg.key, mg.gap) for mg in req.quality.max_gap]
    if req.latency.load is not None and f.latency.load_problem and not f.latency.not_judged:
        out.append(Check(requirement="latency.load", status="fail", measured=f.latency.sustained_rps,
                         limit=req.latency.load.rps, higher_is_better=True,
                         text=f"under the stated load ({req.latency.load.text()}) it {f.latency.load_problem}"))
    for tag in req.quality.must_pass:
        tb = f.by_tag.get(tag)
        key = f"quality.must_pass.{tag}"
        if tb is None or tb.calls == 0:
            out.append(Check(requirement=key, status="unmeasured", limit=0, higher_is_better=False,
                             text=f"no '{tag}' examples, so 'must pass' on '{tag}' is unmeasured"))
        elif tb.failed:
            out.append(Check(requirement=key, status="fail", measured=tb.failed, limit=0, higher_is_better=False,
                             text=f"failed {tb.failed} of {tb.calls} '{tag}' calls, which must all pass "
                                  f"({', '.join(tb.failed_ids)}{', ...' if tb.failed > len(tb.failed_ids) else ''})",
                             move_limit_to=None, by=None))
        else:
            # Repeats of one example, and examples of one cluster, are not independent tries:
            # the bound rests on the independent units.
            out.append(_must_pass_clean(tb, tag, key, req.quality.must_pass_tolerance))
    return out


def _must_pass_clean(tb: QualityFigures, tag: str, key: str, tolerance: float) -> Check:
    """Every call on a must-pass tag passed. Repeats of one example, and examples of one cluster,
    are not independent tries: the exact bound on the failure rate rests on the independent units.
    A sure pass needs that bound under the tolerance; examples never asked leave it not judged."""
    units = tb.clusters or tb.n or tb.calls
    hi = stats.clopper_pearson(0, units)[1]
    of = f"{tb.calls} '{tag}' calls" + (f" ({units} {'clusters' if tb.clusters else 'examples'})" if units != tb.calls
                                          else "")
    base = {"requirement": key, "measured": 0, "limit": 0, "hi": hi, "higher_is_better": False}
    if tb.missing:
        return Check(**base, status="unmeasured", text=f"passed all {of}, but {tb.missing} '{tag}' examples were never "
                                                        "asked (partial run): not judged")
    if hi > tolerance:
        need = stats.clopper_pearson_units_for(tolerance)
        return Check(**base, status="at_risk", text=f"passed all {of}, but a failure rate up to {hi:.0%} is not ruled out "
                     f"(at risk: the tolerance is {tolerance:.0%}; {need} independent '{tag}' examples all passing "
                     "would rule out more)")
    return Check(**base, status="pass", text=f"passed all {of} (a failure rate up to {hi:.1%} is not ruled out, under "
                                             f"the tolerance {tolerance:.0%})")


_GAP = Limit("quality.max_gap", "largest quality gap", "highest group's quality - lowest group's (groups: tags)",
             "each pair's difference by MOVER from the two groups' intervals at 1 - 0.05/m (m pairs), so all pairs "
             "hold at once; fails only when the worst pair's lower end is over the limit (the largest observed gap "
             "runs high by chance)", False, lambda r: None, lambda f: None,
             lambda v: f"{v * 100:.1f} points")


def _gap_check(f: Figures, key: str, limit: float) -> Check:
    g = f.gaps.get(key)
    req = f"quality.max_gap[{key}]"
    if g is None or g.value is None:
        return Check(requirement=req, status="unmeasured", limit=limit, higher_is_better=False,
                     text=f"the quality gap between {key} is unmeasured (fewer than two groups answered)")
    n = sum(q.n for q in g.by_group.values())
    what = (f"largest quality gap between {key}: '{g.worst[0]}' over '{g.worst[1]}' (the lowest group) by "
            f"{g.value * 100:.1f} points")
    base = {"requirement": req, "measured": g.value, "lo": g.lo, "hi": g.hi, "limit": limit, "higher_is_better": False}
    if g.lo is None or g.hi is None:
        return Check(**base, status="at_risk", text=f"{what}, with no interval (a group has too few examples)")
    ci = f"(95% CI for every pair at once {g.lo * 100:.1f}-{g.hi * 100:.1f} points, n={n})"
    partial = " (partial run: the unasked examples counted as anything)" if g.partial else ""
    # The largest of several observed gaps runs high by chance alone (three equal groups of 60 show
    # more than 5 points in half the runs): a gap fails only when the interval for all pairs shows it.
    if g.lo > limit:
        return Check(**base, status="fail", text=f"{what} {ci}{partial}: over the limit {_GAP.fmt(limit)} for "
                     "every pair the interval allows", move_limit_to=g.lo, by=round(g.lo - limit, 9))
    if g.hi > limit:
        return Check(**base, status="at_risk", text=f"{what} {ci}{partial}: a gap over the limit {_GAP.fmt(limit)} "
                                                    "is not ruled out")
    return Check(**base, status="pass", text=f"{what} {ci}{partial}: within the limit {_GAP.fmt(limit)}")


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.status == "fail"]


def at_risk(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.status in ("at_risk", "unmeasured")]


def table_markdown() -> str:
    """The limits table for the README: one row per requirement."""
    rows = ["| requirement | how it is measured | interval that decides 'at risk' |", "|---|---|---|"]
    for lim in LIMITS:
        rows.append(f"| `{lim.requirement}` | {lim.how} | {lim.interval} |")
    rows.append("| `quality.min_by_tag.TAG` | mean score over the tag's examples | as for quality |")
    rows.append("| `quality.must_pass: [TAG]` | every call on the tag passes (errors count as failures) | one failure "
                "fails; all passed is at risk while the exact bound on the failure rate exceeds `must_pass_tolerance` |")
    rows.append(f"| `quality.max_gap` | {_GAP.how} | {_GAP.interval} |")
    rows.append("| `latency.load` | the latency pass at the stated concurrency or rate (open-loop arrivals) | none: a "
                "rate not sustained (under 90% answered per second, or rate-limited) fails |")
    return "\n".join(rows)


def needed_calls(req: Requirements) -> int:
    """Warm answered calls the latency limits need for a 95% upper bound of their percentile."""
    lat = req.latency
    need = 0
    if lat.p95_ms is not None:
        need = max(need, stats.min_n_for_upper_bound(0.95))
    if lat.p50_ms is not None or lat.ttft_p50_ms is not None:
        need = max(need, next(n for n in range(2, 100) if stats.quantile_ranks(n, 0.5)[1] is not None))
    return need
