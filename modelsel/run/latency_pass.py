"""Latency as production will see it: enough calls for the percentiles the requirements judge, at
the load production will send, on a machine that does not distort them.

The quality pass asks every example once, at whatever concurrency the run uses, on whatever machine
runs it. After it, for each candidate reached over the network:

- *extra* calls: when its warm calls are fewer than a p95 (or p50) limit needs for a 95% upper
  bound (59 for a p95), latency-only calls are added (examples repeated in eval-set order, so the
  input sizes keep the eval set's mix), flagged and never counted for quality;
- a *quiet* pass: when the control endpoint (control.py) shows this machine added more than
  DISTORTION_MS to its calls during the quality pass, or the event loop woke more than twice that late
  at p95, the judged latency comes from a pass with one
  call in flight, one candidate at a time, and the record says which figures came from where;
- a *load* pass: when the requirements state `latency.load`, the judged latency comes from a pass at
  that load (calls in flight, or open-loop arrivals at a rate), and a candidate that cannot sustain
  the rate is flagged with the rate it sustained.

The control keeps sampling during each pass, so the record says, measured, how far off the judged
figures may be.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import time
from dataclasses import dataclass
from typing import Any

from modelsel.inputs.candidate import Candidate
from modelsel.inputs.evalset import Example
from modelsel.inputs.requirements import Requirements
from modelsel.providers import Provider
from modelsel.run.control import Control, Distortion, window
from modelsel.run.records import Record
from modelsel.run.runner import Slot, call_one

DISTORTION_MS = 5.0  # above this (control p50 during the quality pass), the judged latency comes from a quiet pass


def distortion_ms() -> float:
    """The threshold; MODELSEL_QUIET_PASS_MS overrides it (the tests pin it, so a busy test machine
    does not change how many calls a test sees; 0 forces the quiet pass)."""
    import os

    try:
        return float(os.environ.get("MODELSEL_QUIET_PASS_MS", DISTORTION_MS))
    except ValueError:
        return DISTORTION_MS
MIN_PASS_CALLS = 30
MIN_CONTROL = 5  # control samples needed before a busy machine is called busy
MIN_PASS_CONTROL = 3  # the same during a quiet or load pass, whose control calls a busy machine slows
SUSTAINED_SHARE = 0.9  # a rate is sustained when at least this share of it was answered


@dataclass
class Plan:
    cid: str
    mode: str  # extra | quiet | load
    calls: int
    concurrency: int | None = None  # None: the candidate's own slot (extra calls)
    rps: float | None = None


@dataclass
class PassInfo:
    """What one candidate's latency pass did (summary.run.latency_passes)."""

    mode: str
    calls: int
    load: str
    seconds: float = 0.0
    answered: int = 0
    errors: int = 0
    rate_limited: int = 0
    sustained_rps: float | None = None
    problem: str | None = None  # the stated rate was not sustained
    machine: Distortion | None = None
    not_started: int = 0  # calls the run's deadline kept from starting
    not_judged: str | None = None  # why the pass judges nothing: the machine could not offer the load, or the deadline
    dropped: int = 0  # latency-only calls that failed after their one retry: optional, so left out (extra, quiet)
    refused: str | None = None  # the provider asked for a wait over the cap: no more latency-only calls were sent


def margin(need: int) -> int:
    return math.ceil(need * 0.1) + 2  # for calls that fail or start cold


def floor_needed(machine: Distortion) -> bool:
    """Whether the control alone must be measured before deciding on a quiet pass: its median over
    the threshold during the quality pass is the only reason to make one (the loop's lag, or a
    threshold of 0, decide without it)."""
    t = distortion_ms()
    return (t > 0 and machine.floor_ms is None and machine.n >= MIN_CONTROL and (machine.p50_ms or 0.0) > t
            and not machine.loop_busy(t, MIN_CONTROL))


def plan(req: Requirements, need: int, cands: list[Candidate], providers: dict[str, Provider], warm: dict[str, int],
         machine: Distortion, extra_calls: bool = True) -> list[Plan]:
    """Which candidates get which latency pass (in the order they run: one at a time); `need`: the
    warm calls the latency limits need (analysis.limits.needed_calls)."""
    load = req.latency.load
    busy = machine.busy(distortion_ms(), MIN_CONTROL)
    out: list[Plan] = []
    for c in cands if extra_calls else []:
        if not providers[c.id].over_http:
            continue  # a local model's latency is this machine's by nature; a python function has none to judge
        if c.id not in warm:
            continue  # it answered nothing: more calls would only fail again, and there is no latency to judge
        if load is not None:
            out.append(Plan(c.id, "load", pass_calls(req, need), load.concurrency, load.rps))
        elif need and busy:
            out.append(Plan(c.id, "quiet", pass_calls(req, need), 1))
        elif need and warm[c.id] < need:
            out.append(Plan(c.id, "extra", need - warm[c.id] + margin(need)))
    return out


def pass_calls(req: Requirements, need: int) -> int:
    """Calls in a quiet or load pass: what the load states, else what the percentiles need, at least MIN_PASS_CALLS."""
    load = req.latency.load
    return (load.calls if load is not None and load.calls else 0) or max(need + margin(need), MIN_PASS_CALLS)


def estimate(req: Requirements, need: int, cands: list[Candidate], providers: dict[str, Provider], n_examples: int,
             repeat: int, extra_calls: bool = True) -> dict[str, int]:
    """For --dry-run: the latency-only calls each candidate gets (the load pass, or the extra calls
    its percentiles need once the first wave's cold calls are left out). A quiet pass, which only a
    busy machine triggers, would make MIN_PASS_CALLS or the percentiles' need instead."""
    load = req.latency.load
    out: dict[str, int] = {}
    for c in cands:
        p = providers.get(c.id)
        if p is None or not p.over_http or not extra_calls:
            continue
        if load is not None:
            out[c.id] = pass_calls(req, need)
        elif need:
            cold = c.concurrency or p.default_concurrency
            out[c.id] = max(0, need + margin(need) - max(0, n_examples * repeat - cold))
    return {k: v for k, v in out.items() if v}


async def _one(c: Candidate, p: Provider, ex: Example, k: int, slot: Any, ctx: Any, mode: str,
               gate: Any = None) -> Record | None:
    rec = await call_one(c, p, ex, k, slot, ctx, sample=True, optional=True, gate=gate)
    if not isinstance(rec, Record):
        return None
    rec.latency_pass = mode
    return rec


async def run_one(pl: Plan, c: Candidate, p: Provider, examples: list[Example], ctx: Any, slot: Any,
                  deliver: Any, control: Control | None, seed: int = 20261205) -> PassInfo:
    """One candidate's pass: `calls` requests over the eval set's examples in order (cycled), at the
    plan's load. Open-loop arrivals for a rate: a request is sent at its time whether or not the
    earlier ones have answered, as production's users would send them."""
    info = PassInfo(pl.mode, pl.calls, _load_text(pl))
    if pl.mode != "extra":
        slot = Slot(asyncio.Semaphore(pl.concurrency or 10_000), None)
    quiet = dataclasses.replace(ctx, cache=None)  # a timing must be a call, never a cached answer
    t0 = time.monotonic()

    cap = c.retry_after_cap_s if c.retry_after_cap_s is not None else ctx.cfg.retry.retry_after_cap_s
    asked: list[float] = []  # waits past the cap the provider asked of these calls

    async def go(i: int) -> None:
        # Latency-only calls are optional: a provider that asks for a wait over the cap gets no more of them.
        rec = await _one(c, p, examples[i % len(examples)], 1000 + i, slot, quiet, pl.mode, lambda: not asked)
        if rec is None:
            return
        if rec.retry_after_asked_s is not None:
            asked.append(rec.retry_after_asked_s)
        if rec.error:
            info.errors += 1
            info.rate_limited += rec.error_kind == "rate_limit"
            if pl.mode != "load":  # at a stated load a refusal is a finding; otherwise the call was only optional
                info.dropped += 1
                return
        else:
            info.answered += 1
        await deliver(c, rec)

    deadline = getattr(ctx, "deadline", None)
    if pl.rps:
        rng = random.Random(seed)
        tasks, at = [], 0.0
        for i in range(pl.calls):
            if deadline is not None and t0 + at > deadline:  # an arrival after the deadline is not waited for
                info.not_started = pl.calls - i
                break
            delay = t0 + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(go(i)))
            at += rng.expovariate(pl.rps)
        await asyncio.gather(*tasks)
    else:
        await asyncio.gather(*(go(i) for i in range(pl.calls)))
    t1 = time.monotonic()
    info.seconds = round(t1 - t0, 3)
    if asked:
        info.refused = (f"the provider asked a latency-only call to wait {max(asked):g} s (Retry-After), over the "
                        f"{cap:g} s cap, so no more were sent ({info.answered} of the {pl.calls} planned answered)")
    if deadline is not None and t1 > deadline:  # calls that made no record because the deadline passed first
        info.not_started += pl.calls - info.not_started - info.answered - info.errors
    if control is not None:
        info.machine = window(control, t0, t1)
    info.not_judged = _not_judged(pl, info)
    if info.not_judged is not None:
        return info  # the model is not blamed for what the machine or the deadline did
    if pl.rps and info.seconds > 0:
        info.sustained_rps = round(info.answered / info.seconds, 3)
        if info.sustained_rps < SUSTAINED_SHARE * pl.rps or info.rate_limited:
            info.problem = (f"did not sustain {pl.rps:g} requests/s: {info.sustained_rps:g} answered per second over "
                            f"{info.seconds:.1f} s ({info.errors} of {pl.calls} calls failed"
                            + (f", {info.rate_limited} rate-limited" if info.rate_limited else "") + ")")
    elif pl.mode == "load" and info.errors and info.rate_limited:
        info.problem = (f"rate-limited at {pl.concurrency} calls in flight: {info.rate_limited} of {pl.calls} calls "
                        "were refused")
    return info


def _not_judged(pl: Plan, info: PassInfo) -> str | None:
    """Why a quiet or load pass's latency cannot be judged, or None: the provider asked for waits past
    the cap, the run's deadline stopped it before its calls were made, or the control shows this
    machine could not offer the load (Distortion.busy over the pass)."""
    if info.refused is not None and pl.mode != "extra":
        return info.refused
    if pl.mode == "extra":
        return None
    if info.not_started:
        return (f"the run's deadline stopped the {pl.mode} pass after {pl.calls - info.not_started} of {pl.calls} "
                f"calls ({_load_text(pl)})")
    m = info.machine
    # fewer samples than the quality pass asks for: on a machine this busy each control call takes long
    if m is not None and m.busy(distortion_ms(), MIN_PASS_CONTROL):
        return (f"this machine could not offer the load ({_load_text(pl)}): it added {m.p50_ms or 0:g} ms at the median "
                f"to the control endpoint's calls during the pass (n={m.n}) and its event loop woke "
                f"{m.lag_p95_ms or 0:g} ms late at p95, so the figures measure the machine")
    return None


def _load_text(pl: Plan) -> str:
    if pl.mode == "quiet":
        return "1 call in flight, one candidate at a time (the quiet pass)"
    if pl.rps:
        return f"{pl.rps:g} requests/s, open-loop arrivals"
    if pl.concurrency:
        return f"{pl.concurrency} calls in flight"
    return "the quality pass's concurrency"


async def run_all(plans: list[Plan], cands: dict[str, Candidate], providers: dict[str, Provider],
                  examples: list[Example], ctx: Any, slots: dict[str, Any], deliver: Any,
                  control: Control | None) -> dict[str, PassInfo]:
    """Every plan, one candidate at a time: two candidates' passes never load the machine together."""
    out: dict[str, PassInfo] = {}
    for pl in plans:
        out[pl.cid] = await run_one(pl, cands[pl.cid], providers[pl.cid], examples, ctx, slots[pl.cid], deliver, control)
    return out
