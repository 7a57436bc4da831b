"""The record as a PM meets it: a plain opening in the PM's units (what was chosen and what kind
of thing it is, how often it is right, what it costs a month all in, what was not tested, when to
look again), the status in one word, the chosen model against its baseline example by example,
and differences as "chosen - other" in points. The statistics behind them go to the appendix.
Pure text from the summary: markdown and HTML render the same sentences."""

from __future__ import annotations

from modelsel.inputs.requirements import Cost
from modelsel.report.fmt import comparison_of, pct
from modelsel.report.production import today_line
from modelsel.schema import CandidateEntry, Summary


def kind_of(c: CandidateEntry) -> str:
    """What kind of thing a candidate is, in words a PM uses."""
    if c.provider == "python":
        return "your own code (rules, no model)"
    if c.provider == "local":
        return "a small open model running on this machine"
    facts = {k: f.value for k, f in c.facts.items()}
    if facts.get("self_hosted"):
        return "a self-hosted model (your servers)"
    if c.provider == "replay":
        return "recorded answers replayed"
    return f"an API model from {c.vendor}"


def _right(c: CandidateEntry) -> str:
    q = c.quality
    rate, lo, hi = q.pass_rate, q.pass_lo, q.pass_hi
    if rate is None:
        return "not measured"
    ci = f" (95% CI {pct(lo, 0)}–{pct(hi, 0)})" if lo is not None and hi is not None else ""
    return f"right {pct(rate, 0)} of the time{ci}"


FLIP_SHARE = 0.10  # the opening speaks of consistency when the chosen model flips on more than this share


def consistency_line(s: Summary, cid: str, always: bool = False) -> str | None:
    """Right every time, in words a PM can repeat: said when a requirement names it
    (quality.min_pass_all), when the chosen model flips on more than a tenth of examples, or `always`."""
    q = s.candidates[cid].quality
    pa, fl = q.pass_all, q.flips
    if pa is None or pa.value is None or fl is None:
        return None
    named = (s.requirements.get("quality") or {}).get("min_pass_all") is not None
    if not (always or named or (fl.n and fl.count / fl.n > FLIP_SHARE)):
        return None
    ci = f" (95% CI {pct(pa.lo, 0)}–{pct(pa.hi, 0)})" if pa.lo is not None and pa.hi is not None else ""
    return (f"Right on all {pa.k} tries for {pct(pa.value, 0)} of requests{ci}; {fl.count} of {fl.n} examples gave "
            "different answers on different tries.")


def rough_usd(x: float | None) -> str:
    """A monthly figure that rests on assumptions, to the precision it has: three significant
    digits ($72,587 is $72,600), cents below $10."""
    if x is None:
        return "—"
    if abs(x) < 10:
        return f"${x:,.2f}"
    from math import floor, log10

    digits = floor(log10(abs(x))) - 2
    return f"${round(x, -digits):,.0f}"


def cost_line(s: Summary, cid: str) -> str:
    c, req = s.candidates[cid].cost, s.requirements["cost"]
    vol = req.get("monthly_requests")
    if c.total_monthly_usd is not None:
        per_fail = Cost.model_validate(req).per_failure_usd or 0.0  # the requirements' one formula
        ci = (f" (95% CI {rough_usd(c.total_monthly_lo)}–{rough_usd(c.total_monthly_hi)})"
              if c.total_monthly_lo is not None and c.total_monthly_hi is not None else "")
        bill = c.monthly_usd or c.fixed_monthly_usd or 0.0
        failures = c.failure_cost_monthly_usd or 0.0
        share = failures / c.total_monthly_usd if c.total_monthly_usd > 0 else 0.0
        what = (f"about {c.failures_monthly or 0:,.0f} failed answers a month at ${per_fail:,.2f} each "
                f"({rough_usd(failures)})")
        if share >= 0.5:  # the figure is mostly an assumption: said first, before the bill
            return (f"{pct(share, 0)} of the all-in figure is the assumed cost of failed answers, not a bill: "
                    f"{what}, from the requirements' cost of a failure. The bill itself, API and hosting: "
                    f"${bill:,.2f} a month. About {rough_usd(c.total_monthly_usd)} a month all in at {vol:,} "
                    f"requests{ci}.")
        return (f"About {rough_usd(c.total_monthly_usd)} a month all in at {vol:,} requests{ci}: API and hosting "
                f"${bill:,.2f}, plus {what}.")
    if c.monthly_usd is not None:
        ci = (f" (95% CI ${c.monthly_lo:,.2f}–${c.monthly_hi:,.2f})" if c.monthly_lo is not None
              and c.monthly_hi is not None and round(c.monthly_lo, 2) != round(c.monthly_hi, 2) else "")
        return (f"About ${c.monthly_usd:,.2f} a month for API and hosting at {vol:,} requests{ci}; what a failed "
                "answer costs the business is not stated (cost.failure_cost_usd, or failure_minutes with hourly_rate_usd).")
    if c.per_request_usd is not None:
        return f"About ${c.per_request_usd:.6f} a request; the monthly volume is not stated (cost.monthly_requests)."
    return "Cost not measured."


def higher_scoring(s: Summary) -> str | None:
    """When another candidate that met every requirement scored more than `small_difference`
    higher than the chosen one, the opening says so: with many candidates the data cannot tell
    such gaps apart and the choice goes to the priority (12 candidates: a model truly 10 points
    worse than the best was chosen in 99.8% of runs), which a PM must see first, not in the appendix."""
    d = s.decision
    chosen = s.candidates[d.chosen] if d.chosen else None
    if chosen is None or chosen.quality.mean is None:
        return None
    small = float((s.requirements.get("decision") or {}).get("small_difference") or 0.0)
    others = [(cid, c) for cid, c in s.candidates.items() if cid != d.chosen and c.status == "evaluated"
              and c.quality.mean is not None]
    if not others:
        return None
    best, b = max(others, key=lambda kv: kv[1].quality.mean or 0.0)
    gap = (b.quality.mean or 0.0) - chosen.quality.mean
    if gap <= small:
        return None
    got = comparison_of(s, best, d.chosen)
    ci = (f" (95% CI {got[1]:+.1f} to {got[2]:+.1f} points)" if got is not None and got[1] is not None
          and got[2] is not None else "")
    prio = " then ".join((s.requirements.get("decision") or {}).get("priority") or ["cost"])
    return (f"**{best} scored {gap * 100:.1f} points higher** than {d.chosen}{ci}, more than the "
            f"{small * 100:g} points that count as small; the data could not show the gap once every comparison "
            f"was counted, so the choice went by {prio}. A gap of that size is not ruled out.")


def opening(s: Summary) -> list[str]:
    """Three to five lines, before anything else."""
    d = s.decision
    out = []
    if d.chosen:
        c = s.candidates[d.chosen]
        fb = (f"; fallback **{d.fallback}**, {kind_of(s.candidates[d.fallback])}, {_right(s.candidates[d.fallback])}"
              if d.fallback else "; no fallback qualifies")
        out.append(f"**Chosen: {d.chosen}**, {kind_of(c)}: {_right(c)} on {c.quality.n} test examples{fb}.")
        if (higher := higher_scoring(s)) is not None:
            out.append(higher)
        if (line := consistency_line(s, d.chosen)) is not None:
            out.append(line)
        out.append(cost_line(s, d.chosen))
    else:
        out.append("**No candidate meets the requirements**: nothing is chosen; the nearest misses and what would "
                   "have to move are below.")
    if (today := today_line(s)) is not None:
        out.append(today)
    gone = [f"{cid} ({why})" for cid, why in d.not_evaluated.items()]
    if gone:
        out.append("Not tested: " + "; ".join(gone) + (". The decision is **provisional** until they are." if d.chosen
                                                       else ". Nothing can be decided before they are."))
    elif d.partial_data:
        out.append("Tested on partial data (see Status): the decision is **provisional**.")
    else:
        out.append("Every shortlisted candidate that passed compliance was tested.")
    if d.evidence_missing:
        out.append(d.evidence_missing)
    if d.review:
        trig = d.review.triggers[:3]
        out.append(f"Look again by **{d.review.next_review_date}**" + (", or sooner if: " + "; ".join(trig) if trig else "")
                   + ".")
    return out


def differences(s: Summary) -> list[str]:
    """The chosen candidate against each other evaluated one, in points, with what was shown."""
    d = s.decision
    if not d.chosen:
        return []
    out = []
    for other, c in s.candidates.items():
        if other == d.chosen or c.status == "not_evaluated" or not c.quality.n:
            continue
        got = comparison_of(s, d.chosen, other)
        if got is None:
            continue
        diff, lo, hi, cmp = got
        if lo is None or hi is None:
            shown = "no interval could be computed"
        elif (bias := _judge_bias(s, d.chosen, other, diff, lo, hi)) is not None:
            shown = bias
        elif lo > 0:
            shown = f"shown better: the whole interval is above 0 (n={cmp.n})"
        elif hi < 0:
            shown = f"shown worse: the whole interval is below 0 (n={cmp.n})"
        else:
            shown = f"not told apart at n={cmp.n}: gaps up to {max(abs(lo), abs(hi)):.0f} points are not ruled out"
        ci = f" (95% CI {lo:+.1f} to {hi:+.1f})" if lo is not None and hi is not None else ""
        out.append(f"{d.chosen} − {other} = {diff:+.1f} points right{ci}: {shown}.")
    return out


def _judge_bias(s: Summary, a: str, b: str, diff: float, lo: float, hi: float) -> str | None:
    """What to say instead of 'shown better' or 'shown worse' (points) when the judge's bias between the two,
    measured on the judge_check set, could explain the gap (the rule decision.py applies to 'worse')."""
    from modelsel.analysis.judge_error import net_gap_lo

    if not (lo > 0 or hi < 0):
        return None
    win, lose, gap, end = (a, b, diff, lo) if lo > 0 else (b, a, -diff, -hi)
    net = net_gap_lo(s.candidates[win], s.candidates[lose], gap / 100, end / 100)
    if net is None or net[0] > 0:
        return None
    return (f"not shown apart: the judge's bias between them, measured on the judge_check set, could lift '{win}' by "
            f"up to {net[1] * 100:.0f} points and explain the gap")


def versus(s: Summary) -> list[str]:
    v = s.evidence.versus
    if v is None:
        return []

    def ids(x: list[str]) -> str:
        return ", ".join(x[:12]) + (f" and {len(x) - 12} more" if len(x) > 12 else "") if x else "none"

    return [f"Against {v.baseline} ({v.why}): {s.decision.chosen} gets {len(v.chosen_only)} example(s) right that "
            f"{v.baseline} gets wrong, and {len(v.baseline_only)} the other way round; both right on {v.both_right}, "
            f"both wrong on {v.both_wrong}.",
            f"Right only with {s.decision.chosen}: {ids(v.chosen_only)}.",
            f"Right only with {v.baseline}: {ids(v.baseline_only)}."]
