"""A live trial, read like the eval: production traces where a share of the traffic ran the
challenger (a canary by model, tag or metadata, or shadow calls) compared arm by arm on
production's own signals (thumbs-down rate, error rate, latency and cost per request), each with
a confidence sequence, so the team may look every day and stop as soon as the evidence is in."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from modelsel.analysis import sequential as sq
from modelsel.analysis.methods import TRIAL
from modelsel.errors import InputError
from modelsel.importers.traces.calls import TracedCall
from modelsel.inputs.requirements import RATE_SIGNALS, LoadedRequirements, TrialPolicy

DAY = 86400.0
SIGNALS = ("thumbs_down", "errors", "latency", "cost")
_DATED = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2})$")


class SignalResult(BaseModel):
    signal: str
    method: str  # a key of analysis.methods.TRIAL
    n_incumbent: int
    n_challenger: int
    incumbent_mean: float | None  # latency: the median (ms) of answered calls; the others: the mean
    challenger_mean: float | None
    diff: float | None  # challenger - incumbent
    lo: float | None  # the confidence sequence of the difference, at the last look
    hi: float | None
    relative: float | None = None  # diff / incumbent mean
    margin: float | None = None  # the primary signal's non-inferiority margin
    shown: str  # not_worse | better | worse | worse_beyond_margin | not_yet | not_measured
    shown_day: int | None = None  # the trial day whose look first showed it (day 1 starts at the challenger's first call)
    not_worse_day: int | None = None  # the day non-inferiority was shown (a "better" finding may come later)
    pairs: int | None = None  # rates: challenger observations paired with `ratio` incumbent ones each
    ratio: int | None = None
    why_not_measured: str | None = None


class DayLook(BaseModel):
    day: int
    date: str
    n_incumbent: int
    n_challenger: int
    diff: float | None
    lo: float | None
    hi: float | None


class Planning(BaseModel):
    eval_ab_per_arm: int | None = None  # the eval's A/B estimate (strategies.ab_test.samples_per_arm)
    eval_ab_between: list[str] = []
    eval_ab_note: str | None = None
    trial_needs_per_arm: int | None = None  # challenger observations for the CS to show non-inferiority (80%)
    trial_needs_unit: str = "requests"
    have_challenger: int = 0
    have_incumbent: int = 0
    days_to_go: float | None = None
    how: str = ""


class TrialRecord(BaseModel):
    schema_version: int = 1
    name: str
    requirements: str
    decision_run: str
    decided: str | None
    incumbent: str
    challenger: str
    arm_by: str
    mode: str  # canary | shadow
    traces: list[str]
    confidence: float
    primary: str
    margin: float
    started_at: str | None
    last_at: str | None
    days: int
    calls: dict[str, int]  # incumbent, challenger, neither, before_start, no_time
    signals: dict[str, SignalResult]
    latency_ms: dict[str, dict[str, float | None]] = {}  # each arm's p50 and p95 of answered calls (descriptive)
    daily: list[DayLook]
    planning: Planning
    verdict: str  # not_worse | worse | not_yet | cannot_judge
    headline: str
    lines: list[str]
    methods: list[str]
    looked_at: str


@dataclass
class Arms:
    incumbent: list[TracedCall] = field(default_factory=list)
    challenger: list[TracedCall] = field(default_factory=list)
    neither: int = 0


def _norm(m: str | None) -> str:
    s = (m or "").strip().lower().removeprefix("models/")
    s = s.split("/", 1)[1] if "/" in s else s  # openai/gpt-4o as gpt-4o
    return _DATED.sub("", s)


def _tags(c: TracedCall) -> set[str]:
    return set(c.tags) | {t.strip() for t in (c.attrs.get("tags") or "").split(",") if t.strip()}


def policy(lr: LoadedRequirements, over: dict[str, Any]) -> TrialPolicy:
    """The requirements' `trial:` section with the command line's options over it (checked alike)."""
    base = lr.req.trial.model_dump(exclude_unset=True) if lr.req.trial else {}
    base.update({k: v for k, v in over.items() if v is not None})
    try:
        return TrialPolicy.model_validate(base)
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(x) for x in e["loc"]) or "margin"
        flag = next((f"--{k.replace('_', '-')}" for k in over if over[k] is not None and k in loc), None)
        raise InputError(f"{e['msg'].removeprefix('Value error, ')}.", path=None if flag else lr.path,
                         line=None if flag else lr.line("trial", *e["loc"]), field=flag or f"trial.{loc}") from None


def _who(summary: Any, lr: LoadedRequirements, pol: TrialPolicy) -> tuple[str, str]:
    """(incumbent, challenger) as named: by default the challenger is the eval's choice, the incumbent
    what production runs today (the requirements' production block), else the eval's A/B partner."""
    ch = pol.challenger or (summary.decision.chosen if pol.arm_by == "model" else None)
    inc = pol.incumbent
    if inc is None and pol.arm_by == "model":
        prod = lr.req.production.today() if lr.req.production else None
        if prod is not None:
            inc = prod[1].candidate or prod[0]
        elif summary.strategies.ab_test is not None:
            ab = summary.strategies.ab_test
            inc = ab.b if ab.a == ch else ab.a
        else:
            inc = summary.decision.fallback
    if not ch:
        raise InputError("name the challenger: trial.challenger in the requirements, or --challenger"
                         + (" (the tag or value its requests carry)." if pol.arm_by != "model" else "."),
                         path=lr.path, field="trial.challenger")
    if pol.arm_by == "model" and not inc:
        raise InputError("name the incumbent (the model production ran before): trial.incumbent or --incumbent.",
                         path=lr.path, field="trial.incumbent")
    if inc is not None and inc == ch:
        raise InputError(f"the challenger and the incumbent are both '{ch}'; name the model (or tag) each arm ran.",
                         path=lr.path, field="trial.incumbent")
    return inc or f"not {ch}", ch


def _models(summary: Any, name: str) -> set[str]:
    """The model names an arm's calls carry: a candidate's provider model, or the name itself."""
    c = summary.candidates.get(name)
    return {_norm(name)} | ({_norm(c.model)} if c is not None else set())


def split_arms(calls: list[TracedCall], summary: Any, pol: TrialPolicy, inc: str, ch: str,
               traced: dict[str, set[str]] | None = None) -> Arms:
    """The calls of each arm; `traced`: the model names `production:` recorded for a candidate."""
    out = Arms()
    if pol.arm_by == "model":
        traced = traced or {}
        mi, mc = _models(summary, inc) | traced.get(inc, set()), _models(summary, ch) | traced.get(ch, set())
        for c in calls:
            m = _norm(c.model)
            if m in mc:
                out.challenger.append(c)
            elif m in mi:
                out.incumbent.append(c)
            else:
                out.neither += 1
        return out
    for c in calls:
        if pol.arm_by == "tag":
            tags = _tags(c)
            is_ch, is_inc = ch in tags, (pol.incumbent in tags) if pol.incumbent else ch not in tags
        else:
            v = c.attrs.get(pol.arm_by)
            is_ch = v == ch
            is_inc = (v == pol.incumbent) if pol.incumbent else v is not None and v != ch
        if is_ch:
            out.challenger.append(c)
        elif is_inc:
            out.incumbent.append(c)
        else:
            out.neither += 1
    return out


def _when(c: TracedCall) -> float | None:
    return c.start if c.start is not None else c.end


def _pricer(lr: LoadedRequirements, summary: Any) -> Any:
    """A call's cost as its provider bills it: the candidate whose model it ran, priced by
    genai-prices with the call's own tokens and date (tiers apply); the trace's own cost for a model
    no candidate runs; None without either."""
    from modelsel.catalog.models import call_cost, resolve_candidates

    try:
        cands = resolve_candidates(lr)
    except InputError:
        cands = []
    by_model: dict[str, Any] = {}
    for c in cands:
        by_model.setdefault(_norm(c.model), c)
        by_model.setdefault(_norm(c.id), c)

    def price(call: TracedCall) -> float | None:
        cand = by_model.get(_norm(call.model))
        if cand is not None and (call.input_tokens is not None or call.output_tokens is not None):
            when = datetime.fromtimestamp(_when(call), UTC) if _when(call) is not None else None
            return call_cost(cand, max(call.input_tokens or 0, 0), max(call.output_tokens or 0, 0), when=when)
        return call.cost_usd
    return price


def _values(calls: list[TracedCall], signal: str, price: Any) -> tuple[np.ndarray, np.ndarray]:
    """(times, values) of one signal on one arm, in time order; calls without it are left out."""
    ts, xs = [], []
    for c in calls:
        t = _when(c)
        if t is None:
            continue
        if signal == "thumbs_down":
            v = None if c.feedback is None else float(c.feedback == "negative")
        elif signal == "errors":
            v = float(c.error is not None)
        elif signal == "latency":
            v = c.seconds * 1000 if c.error is None and c.seconds is not None else None
        else:
            v = price(c)
        if v is not None and math.isfinite(v):
            ts.append(t)
            xs.append(v)
    order = np.argsort(np.asarray(ts, dtype=float), kind="stable")
    return np.asarray(ts, dtype=float)[order], np.asarray(xs, dtype=float)[order]


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


METHOD = {"thumbs_down": "eb", "errors": "eb", "latency": "quantile", "cost": "asymptotic"}


def _missing(signal: str, margin: float | None, why: str, na: int = 0, nb: int = 0) -> SignalResult:
    return SignalResult(signal=signal, method=METHOD[signal], n_incumbent=na, n_challenger=nb, incumbent_mean=None,
                        challenger_mean=None, diff=None, lo=None, hi=None, margin=margin, shown="not_measured",
                        why_not_measured=why)


def _fin(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def analyse(inc: list[TracedCall], ch: list[TracedCall], signal: str, margin: float | None, alpha: float,
            look_times: np.ndarray, price: Any, t_star: float, shadow: bool, r: int = 1
            ) -> tuple[SignalResult, list[DayLook]]:
    """One signal, challenger - incumbent, read at the end of each trial day (the last look: the last
    call). The sequence holds at every look at once, so the first day it shows something is a day
    the team could have stopped on. Rates: each challenger observation paired with r incumbent ones."""
    method = METHOD[signal]
    if signal == "thumbs_down" and shadow:
        return _missing(signal, margin, "shadow calls: users saw only the incumbent's answers, so their feedback "
                        "cannot compare the two"), []
    ta, xa = _values(inc, signal, price)
    tb, xb = _values(ch, signal, price)
    if len(xa) < 2 or len(xb) < 2:
        why = {"thumbs_down": "fewer than 2 rated answers on an arm (no feedback in the traces?)",
               "cost": "fewer than 2 calls on an arm with token usage or a cost in the trace"}.get(
            signal, "fewer than 2 calls on an arm")
        return _missing(signal, margin, why, len(xa), len(xb)), []
    ka = np.searchsorted(ta, look_times, side="right")
    kb = np.searchsorted(tb, look_times, side="right")
    pairs = None
    if method == "eb":
        z, tz = sq.paired(xa, ta, xb, tb, r)
        pairs = len(z)
        d = sq.paired_cs_at(z, tz, alpha, look_times)
    else:
        d = sq.difference(sq.arm_at(xa, alpha / 2, method, ka, t_star), sq.arm_at(xb, alpha / 2, method, kb, t_star))

    def first(hit: np.ndarray) -> int | None:
        idx = np.flatnonzero(hit)
        return int(idx[0]) + 1 if len(idx) else None

    days = {
        "worse_beyond_margin": first(d.lo > margin) if margin is not None else None,
        "better": first(d.hi < 0),
        "not_worse": first(d.hi < margin) if margin is not None else None,
        "worse": first(d.lo > 0),
    }
    shown = next((k for k in ("worse_beyond_margin", "better", "not_worse", "worse") if days[k] is not None), "not_yet")
    ref = float(np.median(xa)) if method == "quantile" else float(xa.mean())
    est = float(np.median(xb)) if method == "quantile" else float(xb.mean())
    diff = float(d.mean[-1]) if pairs else est - ref  # the paired estimate, inside its own sequence
    res = SignalResult(pairs=pairs, ratio=r if pairs else None, signal=signal, method=method, n_incumbent=len(xa), n_challenger=len(xb), incumbent_mean=ref,
                       challenger_mean=est, diff=diff, lo=_fin(d.lo[-1]), hi=_fin(d.hi[-1]),
                       relative=diff / ref if ref else None, margin=margin, shown=shown, shown_day=days.get(shown),
                       not_worse_day=days["not_worse"])
    daily = [DayLook(day=i + 1, date=_iso(float(t)) or "", n_incumbent=int(ka[i]), n_challenger=int(kb[i]),
                     diff=_fin(float(d.mean[i])), lo=_fin(float(d.lo[i])), hi=_fin(float(d.hi[i])))
             for i, t in enumerate(look_times)]
    return res, daily


def run_trial(lr: LoadedRequirements, summary: Any, decision_run: Path, trace_paths: list[Path],
              feedback: list[Path], over: dict[str, Any], now: datetime | None = None) -> TrialRecord:
    from modelsel.importers.traces.read import read_traces
    from modelsel.report.trial_text import statements

    pol = policy(lr, over)
    inc_name, ch_name = _who(summary, lr, pol)
    read = read_traces(trace_paths, feedback=feedback, bare=True)
    traced: dict[str, set[str]] = {}
    for model, tm in (lr.req.production.models.items() if lr.req.production else []):
        traced.setdefault(tm.candidate or model, set()).add(_norm(model))
    arms = split_arms(read.calls, summary, pol, inc_name, ch_name, traced)
    if not arms.challenger:
        seen = sorted({c.model or "?" for c in read.calls})[:8] if pol.arm_by == "model" else sorted(
            {c.attrs.get(pol.arm_by, "") for c in read.calls} - {""})[:8] if pol.arm_by != "tag" else sorted(
            {t for c in read.calls for t in _tags(c)})[:8]
        raise InputError(f"no call in these traces ran the challenger '{ch_name}' (by {pol.arm_by}); the traces hold "
                         f"{len(read.calls):,} model calls" + (f" ({', '.join(map(str, seen))})" if seen else "")
                         + ". Name the challenger as the traces do: trial.challenger, trial.arm_by, or --challenger / "
                         "--arm-by.", path=trace_paths[0], field="--traces")
    if not arms.incumbent:
        raise InputError(f"no call in these traces ran the incumbent '{inc_name}' (by {pol.arm_by}): a trial compares "
                         "two arms of the same traffic.", path=trace_paths[0], field="--traces")
    t_ch = [t for c in arms.challenger if (t := _when(c)) is not None]
    if not t_ch:
        raise InputError("the challenger's calls carry no times, so the trial cannot be followed day by day.",
                         path=trace_paths[0], field="--traces")
    t0 = min(t_ch)
    no_time = sum(_when(c) is None for c in arms.incumbent + arms.challenger)
    before = [c for c in arms.incumbent if (t := _when(c)) is not None and t < t0]
    # Only concurrent traffic compares: incumbent calls before the challenger's first are another period.
    inc_calls = [c for c in arms.incumbent if (t := _when(c)) is not None and t >= t0]
    ch_calls = [c for c in arms.challenger if _when(c) is not None]
    t_end = max(_when(c) or t0 for c in inc_calls + ch_calls)
    ch_traces = {c.trace_id for c in ch_calls}
    shared = len(ch_traces & {c.trace_id for c in inc_calls})
    shadow = bool(ch_traces) and shared >= 0.5 * len(ch_traces)
    alpha = 1 - pol.confidence
    small = lr.req.decision.small_difference
    margin = pol.margin if pol.margin is not None else small
    ab = summary.strategies.ab_test
    t_star = float(max(ab.samples_per_arm or 0, 500)) if ab is not None else 500.0
    price = _pricer(lr, summary)
    days = int((t_end - t0) // DAY) + 1
    look_times = np.array([t0 + d * DAY - 1e-6 for d in range(1, days)] + [t_end])
    signals: dict[str, SignalResult] = {}
    per_day: dict[str, list[DayLook]] = {}
    # Incumbent requests per challenger request, from the first day's calls (never from outcomes): the pairing's r.
    first_day = [sum(1 for c in arm if (_when(c) or 0) < t0 + DAY) for arm in (inc_calls, ch_calls)]
    r = int(min(max(first_day[0] // max(first_day[1], 1), 1), 50))
    for s in SIGNALS:
        signals[s], per_day[s] = analyse(inc_calls, ch_calls, s, margin if s == pol.primary else None, alpha,
                                         look_times, price, t_star, shadow, r)
    prim = signals[pol.primary]
    plan = _planning(ab, prim, pol, margin, alpha, days)
    verdict = {"not_worse": "not_worse", "better": "not_worse", "worse_beyond_margin": "worse",
               "not_measured": "cannot_judge"}.get(prim.shown, "not_yet")
    rec = TrialRecord(
        name=lr.req.name or lr.path.stem, requirements=str(lr.path), decision_run=str(decision_run),
        decided=summary.decision.chosen, incumbent=inc_name, challenger=ch_name, arm_by=pol.arm_by,
        mode="shadow" if shadow else "canary", traces=[str(p) for p in trace_paths], confidence=pol.confidence,
        primary=pol.primary, margin=margin, started_at=_iso(t0), last_at=_iso(t_end), days=days,
        calls={"incumbent": len(inc_calls), "challenger": len(ch_calls), "neither": arms.neither,
               "before_start": len(before), "no_time": no_time},
        signals=signals, daily=per_day[pol.primary], planning=plan, verdict=verdict, headline="",
        lines=[], methods=[TRIAL[k][1] for k in TRIAL
                           if any(r.method == k and r.shown != "not_measured" for r in signals.values())],
        looked_at=_iso((now or datetime.now(UTC)).timestamp()) or "")
    rec.latency_ms = {arm: _percentiles(calls) for arm, calls in (("incumbent", inc_calls), ("challenger", ch_calls))}
    rec.headline, rec.lines = statements(rec)
    return rec


def _percentiles(calls: list[TracedCall]) -> dict[str, float | None]:
    ms = [c.seconds * 1000 for c in calls if c.error is None and c.seconds is not None]
    if not ms:
        return {"p50": None, "p95": None}
    return {"p50": round(float(np.percentile(ms, 50)), 1), "p95": round(float(np.percentile(ms, 95)), 1)}


def _planning(ab: Any, prim: SignalResult, pol: TrialPolicy, margin: float, alpha: float, days: int) -> Planning:
    """How many requests the eval's A/B estimate asked for, and how many this trial's primary signal
    needs for its confidence sequence to show non-inferiority (80% of the time if the arms are equal)."""
    p = Planning(have_challenger=prim.n_challenger, have_incumbent=prim.n_incumbent)
    if ab is not None:
        p.eval_ab_per_arm, p.eval_ab_between, p.eval_ab_note = ab.samples_per_arm, [ab.a, ab.b], ab.note
    if pol.primary in RATE_SIGNALS and prim.shown != "not_measured" and prim.incumbent_mean is not None:
        ratio = prim.ratio or 1
        need = sq.needed_per_arm(prim.incumbent_mean, margin, ratio, alpha)
        p.trial_needs_per_arm = need
        p.trial_needs_unit = "rated requests" if pol.primary == "thumbs_down" else "requests"
        p.how = (f"{p.trial_needs_unit} on the challenger's arm (each paired with {ratio} on the incumbent's, as the "
                 f"first day's split) for the confidence sequence to show the challenger within {margin * 100:g} points 80% of the time if the arms "
                 f"are truly equal, at the incumbent's rate of {prim.incumbent_mean:.1%}")
        per_day = prim.n_challenger / max(days, 1)
        if need is not None and per_day > 0 and prim.n_challenger < need:
            p.days_to_go = (need - prim.n_challenger) / per_day
    elif pol.primary not in RATE_SIGNALS:
        p.how = "the trial's own figure is computed for rates (thumbs-down, errors) only"
    return p


def folder_for(reports_root: Path, rec: TrialRecord) -> Path:
    """One folder per trial (requirements, challenger, first day): each look rewrites it, and the
    history keeps the trial's latest look as one row."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{rec.name}-trial-{rec.challenger}").strip("-.")[:80]
    return reports_root / f"{slug}-{(rec.started_at or '')[:10].replace('-', '')}"
