"""A live trial's record in words: the sentence a PM repeats ("challenger not worse by more than 2
points on thumbs-down rate, shown at day 6; cost -38%"), the terminal summary and trial.md."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from modelsel.inputs.textfile import printable

NAMES = {"thumbs_down": "thumbs-down rate", "errors": "error rate", "latency": "latency", "cost": "cost per request"}


def _amount(signal: str, v: float | None, signed: bool = True) -> str:
    if v is None:
        return "—"
    sign = "+" if signed else ""
    if signal in ("thumbs_down", "errors") and round(v * 100, 1) == 0 or signal == "latency" and round(v) == 0:
        v = 0.0  # never "-0.0 points"
    if signal in ("thumbs_down", "errors"):
        return f"{v * 100:{sign}.1f} points" if signed else f"{v:.1%}"
    if signal == "latency":
        return f"{v:{sign},.0f} ms"
    return f"{'-' if v < 0 else ('+' if signed else '')}${abs(v):.5f}"


def _margin(signal: str, m: float) -> str:
    if signal in ("thumbs_down", "errors"):
        return f"{m * 100:g} points"
    return f"{m:g} ms" if signal == "latency" else f"${m:g} a request"


def _interval(r: Any) -> str:
    return _bounds(r.signal, r.lo, r.hi)


def _bounds(signal: str, lo_v: float | None, hi_v: float | None) -> str:
    """[lo, hi] in the unit of the figure before it (said once, there)."""
    lo, hi = _amount(signal, lo_v), _amount(signal, hi_v)
    return f"[{lo.removesuffix(' points').removesuffix(' ms')}, {hi.removesuffix(' points').removesuffix(' ms')}]"


def _rel(r: Any) -> str:
    if r.relative is None:
        return ""
    return f"{r.relative * 100:+.0f}%".replace("-", "−")


def finding(r: Any, days: int, primary: bool) -> str:
    """One signal's finding: what the confidence sequence has shown, and on which trial day."""
    name = NAMES[r.signal]
    if r.shown == "not_measured":
        return f"{name}: not measured ({r.why_not_measured})"
    est = f"{_amount(r.signal, r.diff)} {_interval(r)}"
    if r.signal in ("latency", "cost"):
        est = f"{_rel(r)} ({est} a request)" if r.signal == "cost" else f"{_rel(r)} ({est} on the median)"
    if r.shown == "worse_beyond_margin":
        return (f"challenger worse by more than {_margin(r.signal, r.margin)} on {name}, shown at day {r.shown_day}: "
                f"{est}")
    if r.shown == "better":
        also = (f"; not worse by more than {_margin(r.signal, r.margin)} from day {r.not_worse_day}"
                if primary and r.not_worse_day and r.not_worse_day < (r.shown_day or 0) else "")
        return f"challenger better on {name}, shown at day {r.shown_day}: {est}{also}"
    if r.shown == "not_worse":
        return (f"challenger not worse by more than {_margin(r.signal, r.margin)} on {name}, shown at day "
                f"{r.shown_day}: {est}")
    if r.shown == "worse":
        more = (f"; worse by more than {_margin(r.signal, r.margin)} not shown yet" if r.margin is not None else "")
        return f"challenger worse on {name}, shown at day {r.shown_day}: {est}{more}"
    gap = ""
    if r.margin is not None:
        gap = f"; within {_margin(r.signal, r.margin)} not shown yet"
    return f"{name}: no difference shown by day {days} ({est}){gap}"


def statements(rec: Any) -> tuple[str, list[str]]:
    """(the headline, one line per signal and the sample size) of a trial record."""
    prim = rec.signals[rec.primary]
    head = finding(prim, rec.days, True)
    if rec.primary != "cost" and rec.signals["cost"].relative is not None:
        head = head.split(":")[0] if prim.shown in ("not_worse", "better", "worse_beyond_margin", "worse") else head
        head += f"; cost {_rel(rec.signals['cost'])}"
    lines = [finding(rec.signals[s], rec.days, s == rec.primary) for s in ("thumbs_down", "errors", "latency", "cost")
             if s != rec.primary]
    return head, [finding(prim, rec.days, True)] + lines


def sample_lines(rec: Any) -> list[str]:
    p = rec.planning
    out = []
    have = min(p.have_challenger, p.have_incumbent)
    if p.eval_ab_per_arm:
        a, b = (p.eval_ab_between + ["?", "?"])[:2]
        out.append(f"The eval's A/B estimate asked for {p.eval_ab_per_arm:,} requests per arm ({printable(a)} against "
                   f"{printable(b)} on quality: {printable(p.eval_ab_note or '')}); this trial has {p.have_challenger:,} on the "
                   f"challenger and {p.have_incumbent:,} on the incumbent ("
                   + (f"{have / p.eval_ab_per_arm:.0%} of it on the smaller arm)." if have < p.eval_ab_per_arm else
                      "both arms past it; that estimate confirms a quality difference the eval saw, the figures here "
                      "are production's own)."))
    elif p.eval_ab_note:
        out.append(f"The eval's A/B estimate: {printable(p.eval_ab_note)}.")
    if p.trial_needs_per_arm:
        left = max(p.trial_needs_per_arm - p.have_challenger, 0)
        togo = (f"; about {p.days_to_go:.0f} more day(s) at the current rate" if p.days_to_go is not None
                and left else "")
        out.append(f"The {NAMES[rec.primary]} needs about {p.trial_needs_per_arm:,} {p.how}; it has "
                   f"{p.have_challenger:,}" + (f", {left:,} to go{togo}." if left else ": enough."))
    elif p.how:
        out.append(f"Trial sample size: {p.how}.")
    return out


def _verdict_word(rec: Any) -> str:
    return {"not_worse": "the challenger holds up", "worse": "the challenger is worse: stop",
            "not_yet": "not decided yet: keep the trial running",
            "cannot_judge": "cannot judge the primary signal"}[rec.verdict]


def print_trial(console: Console, rec: Any, folder: Any) -> None:
    console.print(f"Trial of [bold]{escape(printable(rec.challenger))}[/bold] against {escape(printable(rec.incumbent))} "
                  f"({rec.mode}, arms by {escape(printable(rec.arm_by))}): day {rec.days}, "
                  f"{rec.calls['challenger']:,} challenger and {rec.calls['incumbent']:,} incumbent calls since "
                  f"{rec.started_at}.", highlight=False, soft_wrap=True)
    console.print(f"[bold]{escape(rec.headline)}[/bold] — {_verdict_word(rec)}.", highlight=False, soft_wrap=True)
    for line in rec.lines:
        console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    for line in sample_lines(rec):
        console.print(escape(line), highlight=False, soft_wrap=True)
    if rec.calls["neither"] or rec.calls["before_start"]:
        console.print(f"Left out: {rec.calls['neither']:,} calls on neither arm, {rec.calls['before_start']:,} incumbent "
                      "calls before the challenger's first (another period).", highlight=False, soft_wrap=True)
    console.print(f"Intervals are {rec.confidence:.0%} confidence sequences: they hold at every look, so the trial may "
                  "be read daily and stopped as soon as one settles.", highlight=False, soft_wrap=True)
    console.print(f"wrote {folder}/trial.md and trial.json", highlight=False, soft_wrap=True)


def markdown(rec: Any) -> str:
    from modelsel.report.markdown import esc

    L = [f"# Trial: {esc(rec.challenger)} against {esc(rec.incumbent)}", "",
         f"**{esc(rec.headline)}** — {_verdict_word(rec)}.", "",
         f"- Requirements: {esc(rec.requirements)}; the decision it follows: {esc(rec.decision_run)} "
         f"(chose {esc(rec.decided or 'nothing')})",
         f"- Traffic: {rec.mode}, arms told apart by {esc(rec.arm_by)}; from {rec.started_at} to {rec.last_at} "
         f"(day {rec.days}); {rec.calls['challenger']:,} challenger and {rec.calls['incumbent']:,} incumbent calls",
         f"- Primary signal: {NAMES[rec.primary]}, non-inferiority margin {_margin(rec.primary, rec.margin)}",
         f"- Looked at: {rec.looked_at}", "", "## What the trial has shown", ""]
    L += [f"- {esc(x)}" for x in rec.lines]
    L += ["", "| signal | incumbent | challenger | n (inc / ch) | challenger − incumbent [CS] | shown |",
          "|---|---|---|---|---|---|"]
    for s in ("thumbs_down", "errors", "latency", "cost"):
        r = rec.signals[s]
        shown = (r.shown.replace("_", " ") + (f" (day {r.shown_day})" if r.shown_day else ""))
        L.append(f"| {NAMES[s]} | {_amount(s, r.incumbent_mean, False)} | {_amount(s, r.challenger_mean, False)} | "
                 f"{r.n_incumbent:,} / {r.n_challenger:,} | {_amount(s, r.diff)} {_interval(r) if r.lo is not None else ''}"
                 f" | {esc(shown)} |")
    L += ["", "## Sample size", ""] + [f"- {esc(x)}" for x in sample_lines(rec)]
    if rec.daily:
        L += ["", f"## Day by day ({NAMES[rec.primary]})", "", "| day | looked at (end of the day) | n (inc / ch) | difference [CS] |",
              "|---|---|---|---|"]
        for d in rec.daily:
            cs = _bounds(rec.primary, d.lo, d.hi) if d.lo is not None else "—"
            L.append(f"| {d.day} | {d.date[:16].replace('T', ' ')} | {d.n_incumbent:,} / {d.n_challenger:,} | "
                     f"{_amount(rec.primary, d.diff)} {cs} |")
    r = rec.signals[rec.primary].ratio or rec.signals["errors"].ratio
    L += ["", "## Method", "", f"Every interval is a {rec.confidence:.0%} confidence sequence: it holds at every look at "
          "once, so the trial may be read daily and stopped on the first day one settles. Rates (thumbs-down, errors): "
          f"each challenger request is paired with the mean of the next {r or 1} incumbent request(s) in arrival order "
          "(the first day's split), and one sequence covers the paired differences. Latency and cost: a sequence for "
          "each arm at half the error budget, subtracted (the union bound). Methods: "
          + "; ".join(esc(m) for m in rec.methods) + ". Only traffic from the challenger's first call on compares; "
          "latency is of answered calls; cost is priced from each call's tokens as the provider bills them (the "
          "trace's own cost where no candidate runs the model). Thumbs-down rate is over the answers users rated; "
          "latency compares medians.", ""]
    return "\n".join(L)
