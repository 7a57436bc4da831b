"""Scheduling, concurrency per model (with an optional cap per endpoint), retries with backoff,
timeouts, a deadline for the whole run, the response cache with leases, and the budget guard.

A request's latency is what its user would wait: each attempt as the provider measured it
around the request itself (after a concurrency slot is held), plus the back-off between
attempts. Our own queue (waiting for a slot) and cache lookups never count.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelsel.catalog.models import call_cost, live_and_batch_cost
from modelsel.errors import pending_stop
from modelsel.inputs.candidate import Candidate
from modelsel.inputs.evalset import Example
from modelsel.inputs.media import RULES, blobs, estimate_media_tokens, media_record, rule_family
from modelsel.inputs.prompting import estimate_tokens, expected_output_tokens, render, tool_tokens
from modelsel.inputs.tools import Tooling, for_example
from modelsel.inputs.usercode import describe, user_exit
from modelsel.providers import CallRequest, CallResult, Provider, ProviderError
from modelsel.providers.base import usage_problem
from modelsel.redaction import redact
from modelsel.run.records import Record
from modelsel.run.store import Cache, cache_key
from modelsel.run.timing import mark

NOT_JUDGED = "not judged: the budget guard stopped spending"


class RunStopped(Exception):
    """The run cannot go on (a write failed: the disk is full, a file cannot be written): every
    call still waiting is cancelled; what finished is in the response cache already."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause
JUDGE_BUDGET_KEY = "(judge)"
DEFAULT_RETRY_AFTER_CAP_S = 60.0


@dataclass
class RetryPolicy:
    max_attempts: int = 4
    base_s: float = 0.5
    max_s: float = 30.0
    scale: float = 1.0  # multiplies every wait, Retry-After included (tests against a fake use 0)
    retry_after_cap_s: float = DEFAULT_RETRY_AFTER_CAP_S  # the longest Retry-After honoured

    def wait(self, attempt: int, retry_after_s: float | None, cap: float | None = None) -> tuple[float, float | None]:
        """(seconds to wait, what the server asked for when it asked for more than the cap)."""
        cap = self.retry_after_cap_s if cap is None else cap
        backoff = random.uniform(0, min(self.max_s, self.base_s * 2 ** (attempt - 1)))  # full jitter
        asked_over = None
        if retry_after_s is not None:
            if retry_after_s > cap:
                asked_over = retry_after_s
            backoff = max(backoff, min(retry_after_s, cap))
        return backoff * self.scale, asked_over


@dataclass
class RunConfig:
    repeat: int = 1
    concurrency: int | None = None  # overrides every model's default calls in flight
    timeout_s: float = 60.0
    max_cost_usd: float | None = None
    max_minutes: float | None = None  # deadline for the whole run
    max_answer_chars: int = 200_000  # longer answers are cut (see RunPolicy.max_answer_chars)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Quality through the providers' batch APIs: candidate id -> None (batched) or why it runs live.
    batch: dict[str, str | None] | None = None
    latency_sample: int = 30  # live calls per batched candidate, to measure its latency
    extra_calls: bool = True  # latency-only calls where a percentile needs them (--no-extra-calls: not judged)
    tooling: Tooling | None = None  # the requirements' tools, tool_choice and output schema (an example may override tools)


@dataclass
class RunOutcome:
    """What the run did; the records themselves went to `on_record` as they finished."""

    calls_made: int = 0
    skipped_budget: int = 0
    skipped_by: dict[str, int] = field(default_factory=dict)  # per candidate: calls the budget guard did not make
    not_run: dict[str, int] = field(default_factory=dict)  # per candidate: calls not started before the deadline
    deadline_hit: bool = False
    budget: Budget | None = None  # the same guard caps the judge's spend when scoring
    stopped: RunStopped | None = None  # a write failed: the run stopped, finished answers are cached
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)  # per batched candidate: what its batch did
    latency_passes: dict[str, Any] = field(default_factory=dict)  # per candidate: latency_pass.PassInfo
    machine: Any = None  # control.Distortion: what this machine added to calls during the quality pass

    @property
    def spent_usd(self) -> float:
        return self.budget.spent if self.budget else 0.0

    @property
    def budget_stopped(self) -> bool:
        return bool(self.budget and self.budget.stopped)


class Budget:
    """Stops spending before it passes the cap, counting calls still in flight. Each call is
    reserved at the most a call of its candidate has cost so far; before its first answer, at
    max_tokens (or 256 output tokens when none is set). Reserving 256 output tokens for every call
    whatever the answers cost stopped a $0.01 run at $0.0016."""

    def __init__(self, cap: float | None) -> None:
        self.cap = cap
        self.spent = 0.0
        self.reserved = 0.0
        self.stopped = False
        self.reserved_at_stop = 0.0  # held for calls in flight when the first call was refused
        self.refused_estimate = 0.0
        self.observed: dict[str, float] = {}  # the dearest call of each candidate so far
        self._settled: asyncio.Event | None = None  # set when a call settles: a waiting reservation looks again

    def estimate(self, cid: str, guess: float) -> float:
        """What this call may cost: the dearest answer of this candidate so far, else the guess."""
        return self.observed.get(cid, guess)

    def observe(self, cid: str, cost: float) -> None:
        self.observed[cid] = max(cost, self.observed.get(cid, 0.0))

    def reserve(self, est: float) -> bool:
        if self.cap is None:
            return True
        if self.stopped or self.spent + self.reserved + est > self.cap:
            if not self.stopped:
                self.reserved_at_stop, self.refused_estimate = self.reserved, est
            self.stopped = True
            return False
        self.reserved += est
        return True

    async def reserve_when_known(self, estimate: Callable[[], float]) -> float | None:
        """Reserve `estimate()`, waiting while calls in flight may still settle below what they
        hold (the first wave is reserved at a guess; its answers usually cost far less). Refused
        (None) only when nothing is in flight and the call still does not fit."""
        if self.cap is None:
            return estimate()
        while True:
            est = estimate()
            if self.stopped:
                return None
            if self.spent + self.reserved + est <= self.cap:
                self.reserved += est
                return est
            # Nothing in flight: what is left of `reserved` is the rounding of the sums and differences
            # of its reservations (1.1e-15 after four calls of about $2: an absolute 1e-15 waited for
            # ever), so "nothing" is relative to the cap.
            if self.reserved <= 1e-9 * self.cap:
                self.reserve(est)  # records why it stopped
                return None
            self._settled = self._settled or asyncio.Event()
            self._settled.clear()
            await self._settled.wait()

    def settle(self, est: float, actual: float) -> None:
        if self.cap is not None:
            self.reserved -= est
            if self._settled is not None:
                self._settled.set()
        self.spent += actual


class Slot:
    """Calls in flight for one model, under an optional cap shared by its endpoint. Acquired in
    that order by every call, so two slots can never wait on each other."""

    def __init__(self, model: asyncio.Semaphore, endpoint: asyncio.Semaphore | None, size: int = 1) -> None:
        self.model, self.endpoint = model, endpoint
        self.size = size  # calls it lets in flight at once (the model's slots, or the endpoint's cap if fewer)

    async def __aenter__(self) -> None:
        await self.model.acquire()
        if self.endpoint is not None:
            try:
                await self.endpoint.acquire()
            except BaseException:
                self.model.release()
                raise

    async def __aexit__(self, *exc: object) -> None:
        if self.endpoint is not None:
            self.endpoint.release()
        self.model.release()


def make_slots(cands: list[Candidate], providers: dict[str, Provider], cfg: RunConfig) -> dict[str, Slot]:
    """Providers limit requests per model, so each model gets its own slots (default: the
    provider's, or --concurrency); candidates on one model share them. An endpoint-wide cap
    applies only where a candidate sets `endpoint_concurrency`."""
    models: dict[str, asyncio.Semaphore] = {}
    sizes: dict[str, int] = {}
    caps: dict[str, int] = {}
    for c in cands:
        if c.endpoint_concurrency:
            key = type(providers[c.id]).endpoint_key(c)
            caps[key] = max(caps.get(key, 0), c.endpoint_concurrency)
    endpoints = {k: asyncio.Semaphore(n) for k, n in caps.items()}
    out: dict[str, Slot] = {}
    for c in cands:
        cls = type(providers[c.id])
        mk = cls.model_key(c)
        if mk not in models:
            n = c.concurrency or cfg.concurrency or cls.default_concurrency
            sizes[mk] = min(n, cls.max_concurrency) if cls.max_concurrency else n
            models[mk] = asyncio.Semaphore(sizes[mk])
        ek = cls.endpoint_key(c)
        out[c.id] = Slot(models[mk], endpoints.get(ek), min(sizes[mk], caps.get(ek, sizes[mk])))
    return out


@dataclass
class Attempted:
    result: Any = None
    error: ProviderError | None = None
    attempts: int = 0
    waited_s: float = 0.0
    started_at: str | None = None
    retry_after_asked_s: float | None = None  # the longest Retry-After beyond the cap
    stopped_by_deadline: bool = False
    attempt_ms: list[float] = field(default_factory=list)  # each attempt's own time, as the provider measured it
    kinds: list[str] = field(default_factory=list)  # each failed attempt's kind

    @property
    def request_ms(self) -> float:
        """What the request waited from its first attempt to its end: every attempt and the back-off
        between them."""
        return sum(self.attempt_ms) + self.waited_s * 1000


def context_window(p: Provider) -> int | None:
    cw = p.candidate.fact("context_window")
    return cw if isinstance(cw, int) and cw > 0 else None


async def _guarded(call: Awaitable[CallResult]) -> CallResult:
    """The call, a plugin's `sys.exit` or `KeyboardInterrupt` turned into that call's error inside its own
    task: asyncio re-raises those two out of the event loop, which would end the run (exit 0, no summary)."""
    try:
        return await call
    except BaseException as e:
        if (stop := pending_stop()) is not None and stop is not e:  # the signal's stop, swallowed on the way
            raise stop from None
        if not user_exit(e):
            raise
        raise ProviderError("fatal", describe(e)) from None


async def call_with_retries(p: Provider, req: CallRequest, slot: Slot | asyncio.Semaphore, retry: RetryPolicy,
                            timeout: float, admit: Callable[[], Any] | None = None,
                            retry_after_cap: float | None = None, deadline: float | None = None,
                            optional_wait_s: float | None = None) -> Attempted:
    """One call, retried on rate limits, 5xx, timeouts, dropped connections and malformed bodies.
    The concurrency slot is held only while the request is in flight, never while backing off.
    `admit` is asked once a slot is held, just before the first request (the budget guard; it
    may be a coroutine that waits for calls in flight to settle); if it says no, nothing is sent
    and `attempts` stays 0. No retry starts after `deadline`. `optional_wait_s`: the call is
    optional (latency-only): it is retried once at most, never after a wait longer than this, and
    not at all when the provider asks for a longer one."""
    out = Attempted()
    if (stop := pending_stop()) is not None:
        raise stop
    if optional_wait_s is not None:
        retry = dataclasses.replace(retry, max_attempts=min(retry.max_attempts, 2))
    while True:
        out.attempts += 1
        async with slot:
            if out.started_at is None:
                ok = admit() if admit is not None else True
                if asyncio.iscoroutine(ok):
                    ok = await ok
                if not ok:
                    out.attempts = 0
                    return out
                out.started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
            t0 = time.perf_counter()
            try:
                out.result = await asyncio.wait_for(_guarded(p.complete(req)), timeout)
                out.error = None
                bad = usage_problem(out.result, req.params, context_window(p))
                if bad is not None:  # the answer is kept out of every figure; its usage is not money
                    out.error = ProviderError("bad_usage", f"the provider reported impossible token usage ({bad}); "
                                              "the call counts as failed and is not billed as reported",
                                              latency_ms=out.result.latency_ms)
                    out.result = None
                else:
                    out.attempt_ms.append(out.result.latency_ms)
            except ProviderError as e:
                out.error = e
            except TimeoutError:
                out.error = ProviderError("timeout", f"no answer within {timeout:g} s")
            except Exception as e:  # a provider bug is an error against that candidate, never the run's end
                out.error = ProviderError("fatal", f"{type(e).__name__}: {e}")
            if out.error is not None:
                lat = out.error.latency_ms
                out.attempt_ms.append(lat if lat is not None else (time.perf_counter() - t0) * 1000)
                out.kinds.append(out.error.kind)
        err = out.error
        if err is None or not err.retryable or out.attempts >= retry.max_attempts:
            return out
        w, asked = retry.wait(out.attempts, err.retry_after_s, retry_after_cap)
        if asked is not None:
            if out.retry_after_asked_s is not None:
                return out  # asked twice to wait past the cap (a day's quota spent): a third try would be refused too
            out.retry_after_asked_s = asked
        if optional_wait_s is not None:
            if err.retry_after_s is not None and err.retry_after_s > optional_wait_s:
                return out  # an optional call does not wait out a provider's long ask
            w = min(w, optional_wait_s * retry.scale)
        if deadline is not None and time.monotonic() + w > deadline:
            out.stopped_by_deadline = True
            return out
        out.waited_s += w
        await asyncio.sleep(w)


class Judge:
    """The judge model for rubric scoring, called with the same retry policy as candidates and
    under the same budget guard."""

    def __init__(self, candidate: Candidate, provider: Provider, cfg: RunConfig, budget: Budget | None = None) -> None:
        self.candidate, self.provider, self.cfg = candidate, provider, cfg
        self.budget = budget or Budget(None)
        self.model_id = candidate.id
        self.sem = asyncio.Semaphore(cfg.concurrency or provider.default_concurrency)
        provider.prepare(candidate.timeout_s or cfg.timeout_s)

    async def ask(self, prompt: str) -> tuple[Any, str | None]:
        # Exactly what the PM set for the judge (plus the provider's defaults): some models reject
        # a temperature other than their default, so none is forced here.
        params = {**self.provider.defaults, **self.candidate.params}
        req = CallRequest(messages=[{"role": "user", "content": prompt}], prompt=prompt, params=params,
                          timeout_s=self.candidate.timeout_s or self.cfg.timeout_s)
        guess = call_cost(self.candidate, estimate_tokens(prompt), expected_output_tokens(params))
        est = 0.0

        def admit() -> bool:
            nonlocal est
            est = self.budget.estimate(JUDGE_BUDGET_KEY, guess)
            return self.budget.reserve(est)

        got = await call_with_retries(self.provider, req, self.sem, self.cfg.retry, req.timeout_s, admit,
                                      self.candidate.retry_after_cap_s)
        if got.attempts == 0:
            return None, NOT_JUDGED
        cost = self.cost(got.result) if got.result is not None else 0.0
        self.budget.settle(est, cost)
        if got.result is not None:
            self.budget.observe(JUDGE_BUDGET_KEY, cost)
        return got.result, (redact(str(got.error)) if got.error else None)

    def cost(self, res: Any) -> float:
        return call_cost(self.candidate, res.input_tokens, res.output_tokens, res.cached_input_tokens, res.cache_write_tokens,
                         usage=res.usage, cache_write_1h_tokens=res.cache_write_1h_tokens)

    async def aclose(self) -> None:
        await self.provider.aclose()


NOT_RUN = "not run"


@dataclass
class _Ctx:
    cfg: RunConfig
    cache: Cache | None
    budget: Budget
    deadline: float | None
    warm: set[str] = field(default_factory=set)  # candidates whose client has answered once
    deliver: Any = None  # hands a finished Record (or NOT_RUN / None) to the run, for work beside the live calls


def reprice(c: Candidate, hit: dict[str, Any]) -> dict[str, Any]:
    """A cached answer priced at today's prices: what it would be billed now, live and in a batch.
    The cache keeps every usage field the API sent (cache writes with their TTL split, tool-use and
    media tokens), so a re-run reprices a call as the first run priced it."""
    usage = hit.get("usage") if isinstance(hit.get("usage"), dict) else None
    live, batch = live_and_batch_cost(c, hit.get("input_tokens"), hit.get("output_tokens"),
                                      hit.get("cached_input_tokens") or 0, hit.get("cache_write_tokens") or 0,
                                      usage=usage, cache_write_1h_tokens=hit.get("cache_write_1h_tokens") or 0)
    hit = {k: v for k, v in hit.items() if k != "latency_sample"}  # how it is used now is the caller's to say
    return {**hit, "cost_usd": batch if hit.get("batch") else live, "cost_live_usd": live, "cost_batch_usd": batch}


def result_costs(c: Candidate, res: Any) -> tuple[float, float]:
    """A provider's answer priced now, live and through a batch."""
    return live_and_batch_cost(c, res.input_tokens, res.output_tokens, res.cached_input_tokens, res.cache_write_tokens,
                               datetime.now(UTC), usage=res.usage, cache_write_1h_tokens=res.cache_write_1h_tokens)


def usage_fields(res: Any) -> dict[str, Any]:
    """The usage a record and the response cache keep beside the cost: every cache field, the API's
    own usage object, the tier that served the call."""
    return dict(cached_input_tokens=res.cached_input_tokens, cache_write_tokens=res.cache_write_tokens,
                cache_write_1h_tokens=res.cache_write_1h_tokens, usage=res.usage, service_tier=res.service_tier)


def capped_output(res: Any, max_chars: int) -> dict[str, Any]:
    """The answer kept at most `max_chars` long (a stream is cut as it arrives; a whole body here),
    with whether it was cut and how long it was."""
    text, cut = res.text, bool(res.truncated)
    if len(text) > max_chars:
        text, cut = text[:max_chars], True
    return dict(output=text, output_truncated=cut,
                output_chars=(res.extra.get("chars_read") or len(res.text)) if cut else None)


def _answer(c: Candidate, res: Any, cold: bool, before_ms: float = 0.0, max_chars: int = 200_000,
            tooled: bool = False) -> dict[str, Any]:
    """A successful call as record fields, its cost priced as the provider bills it. `before_ms`:
    what the request waited before this attempt (failed attempts and back-off). `tooled`: tools
    were offered, so the record keeps the calls made, none included."""
    cost, batch_cost = result_costs(c, res)
    return dict(**capped_output(res, max_chars),
                latency_ms=round(before_ms + res.latency_ms, 3),
                attempt_latency_ms=round(res.latency_ms, 3),
                ttft_ms=None if res.ttft_ms is None else round(before_ms + res.ttft_ms, 3), input_tokens=res.input_tokens,
                output_tokens=res.output_tokens, reasoning_tokens=res.reasoning_tokens, **usage_fields(res),
                cost_usd=cost, cost_live_usd=cost, cost_batch_usd=batch_cost,
                finish_reason=res.finish_reason, replayed=bool(res.extra.get("replayed_from")), cold=cold,
                **({"tool_calls": res.tool_calls} if res.tool_calls or tooled else {}))


def _settle_answer(c: Candidate, got: Attempted, cold: bool, est: float, ctx: _Ctx, cache: Cache | None,
                   key: str, tooled: bool = False) -> dict[str, Any]:
    """A successful call as record fields: priced, settled with the budget guard, and cached with how
    it was got (a resumed run reports the same retries)."""
    ctx.warm.add(c.id)
    answer = _answer(c, got.result, cold, got.request_ms - got.result.latency_ms, ctx.cfg.max_answer_chars, tooled)
    ctx.budget.settle(est, answer["cost_usd"])
    ctx.budget.observe(c.id, answer["cost_usd"])
    if cache is not None:
        try:
            cache.put(key, {**answer, "attempts": got.attempts, "retry_wait_s": round(got.waited_s, 4),
                            "retry_kinds": got.kinds})
        except Exception as exc:  # sqlite3.OperationalError "database or disk is full", OSError
            raise RunStopped(f"the response cache could not be written ({exc})", exc) from None
    return answer


OPTIONAL_WAIT_S = 2.0  # the longest a latency-only call waits before its one retry


async def call_one(c: Candidate, p: Provider, ex: Example, rep: int, slot: Slot, ctx: _Ctx, sample: bool = False,
                   optional: bool = False, gate: Callable[[], bool] | None = None) -> Record | str | None:
    """One example for one candidate: a Record, NOT_RUN (deadline) or None (budget guard, or `gate`
    said no once a slot was held). `sample`: a live call that measures a batched candidate's
    latency (kept out of quality). `optional`: a latency-only call, retried once at most after a
    short wait (OPTIONAL_WAIT_S)."""
    messages, prompt = render(c, ex)
    params = {**p.defaults, **c.params}
    base = dict(candidate=c.id, example_id=ex.id, repeat=rep, tags=ex.tags, cluster=ex.cluster, input=ex.text(),
                expected=ex.expected, params=params, media=media_record(ex))
    cache = ctx.cache if p.cacheable else None
    tooling = for_example(ctx.cfg.tooling, ex.tools)
    tooled = bool(tooling and tooling.tools)
    key = (cache_key(type(p).cache_identity(c), messages, prompt, params, rep, tooling.key() if tooling else None)
           if cache is not None else "")
    if cache is not None and not sample:  # a latency sample must be a call: its answer is stored, never reused
        hit = await cache.get_or_lease(key, ctx.cfg.timeout_s)
        if hit is not None:
            # The answer is reused, its price is today's: what this call would be billed now.
            return Record(**base, **reprice(c, hit), cached=True, latency_sample=sample)
    try:
        if ctx.deadline is not None and time.monotonic() > ctx.deadline:
            return NOT_RUN
        guess = call_cost(c, estimate_tokens(prompt + (tooling.text() if tooling else ""))
                          + estimate_media_tokens(c.provider, blobs(ex)), expected_output_tokens(params))
        est, cold = 0.0, False

        async def admit() -> bool:
            nonlocal est, cold
            if ctx.deadline is not None and time.monotonic() > ctx.deadline:
                return False  # waited for a slot past the deadline: not started
            if gate is not None and not gate():
                return False
            # decided with the slot held, so spend so far is known
            got = await ctx.budget.reserve_when_known(lambda: ctx.budget.estimate(c.id, guess))
            if got is None:
                return False
            est = got
            cold = c.id not in ctx.warm
            return True

        timeout = c.timeout_s or ctx.cfg.timeout_s
        req = CallRequest(messages=messages, prompt=prompt, params=params, timeout_s=timeout, example=ex, repeat=rep,
                          max_chars=ctx.cfg.max_answer_chars, tooling=tooling)
        got = await call_with_retries(p, req, slot, ctx.cfg.retry, timeout, admit, c.retry_after_cap_s, ctx.deadline,
                                      OPTIONAL_WAIT_S if optional else None)
        if got.attempts == 0:
            return NOT_RUN if ctx.deadline is not None and time.monotonic() > ctx.deadline else None
        # The slot is free: let the call waiting for it go out before this answer is priced, scored and
        # written (32 answers landing together otherwise held the next wave back by all their work).
        await asyncio.sleep(0)
        meta = dict(attempts=got.attempts, retry_wait_s=round(got.waited_s, 4), started_at=got.started_at,
                    retry_after_asked_s=got.retry_after_asked_s, retry_kinds=got.kinds)
        if got.result is not None:
            answer = _settle_answer(c, got, cold, est, ctx, cache, key, tooled)
            return Record(**base, **answer, **meta, latency_sample=sample)
        # an impossible usage came from a call that was made: the guard keeps what it reserved for it
        ctx.budget.settle(est, est if got.error is not None and got.error.kind == "bad_usage" else 0.0)
        err = got.error
        assert err is not None
        msg = redact(str(err)) + (" (not retried: the run's deadline passed)" if got.stopped_by_deadline else "")
        meta["retry_kinds"] = got.kinds[:-1]  # the last kind is the error itself
        return Record(**base, error=msg, error_kind=err.kind, status=err.status, latency_ms=round(got.request_ms, 3),
                      latency_sample=sample, **meta)
    finally:
        if cache is not None:
            cache.release(key)


async def run_eval(
    candidates: list[Candidate], providers: dict[str, Provider], examples: list[Example], cfg: RunConfig,
    cache: Cache | None, on_record: Callable[[Record], Awaitable[None] | None] | None = None,
    budget: Budget | None = None, plan: dict[str, list[Example]] | None = None, sample: set[str] | None = None,
    extra: Callable[[_Ctx, RunOutcome, dict[str, Slot]], Awaitable[None]] | None = None,
    after: Callable[[_Ctx, RunOutcome, dict[str, Slot], Any], Awaitable[None]] | None = None,
) -> RunOutcome:
    """Every example for every candidate (or, with `plan`, the examples it lists per candidate;
    `sample`: candidates whose live calls are latency samples of a batch). Each finished Record goes
    to `on_record` (awaited if it is a coroutine) and is not kept here, so a run of any size holds
    only what is in flight. `extra` runs beside the live calls on the same context (the batches);
    `after` once they are done, with the clients still open (the latency pass)."""
    slots = make_slots(candidates, providers, cfg)
    for c in candidates:
        providers[c.id].prepare(c.timeout_s or cfg.timeout_s)
    # What is loaded now (the SDKs, their pydantic models: over a million objects) stays loaded; out
    # of the collector's reach, its full passes take ms, not the 50-60 ms that stalled the event
    # loop as the first wave went out.
    gc.freeze()
    mark("clients ready")
    deadline = time.monotonic() + cfg.max_minutes * 60 if cfg.max_minutes else None
    ctx = _Ctx(cfg=cfg, cache=cache, budget=budget or Budget(cfg.max_cost_usd), deadline=deadline)
    outcome = RunOutcome(budget=ctx.budget)
    sample = sample or set()

    async def task(c: Candidate, ex: Example, rep: int) -> None:
        rec = await call_one(c, providers[c.id], ex, rep, slots[c.id], ctx, c.id in sample)
        await deliver(c, rec)

    async def deliver(c: Candidate, rec: Record | str | None) -> None:
        await _deliver(outcome, c, rec, on_record)

    # A feeder per candidate, so each model's queue starts filling at once; each keeps at most
    # FEED_AHEAD of its calls created, not all of them: 50,000 waiting tasks held 240 MB.
    wanted = {cid: {e.id for e in exs} for cid, exs in (plan or {}).items()}
    jobs = [asyncio.ensure_future(_feed(task, c, [(ex, rep) for rep in range(cfg.repeat) for ex in examples
                                                   if c.id not in wanted or ex.id in wanted[c.id]],
                                         1 if ctx.budget.cap is not None else slots[c.id].size))
            for c in candidates]
    if extra is not None:
        ctx.deliver = deliver
        jobs.append(asyncio.ensure_future(extra(ctx, outcome, slots)))
    try:
        await _all_or_stopped(jobs, outcome)
        if after is not None and outcome.stopped is None and not outcome.deadline_hit and not outcome.budget_stopped:
            try:
                await after(ctx, outcome, slots, deliver)
            except RunStopped as exc:
                outcome.stopped = exc
    finally:
        for p in providers.values():
            try:
                await p.aclose()
            except Exception:
                pass
    return outcome


FEED_AHEAD = 256  # calls created ahead per candidate: far above any slot's concurrency, far below a big run


async def _feed(task: Callable[[Candidate, Example, int], Awaitable[None]], c: Candidate,
                items: list[tuple[Example, int]], first_wave: int = 1) -> None:
    """One candidate's calls, at most FEED_AHEAD of them created at a time; a call that raises (a
    failed write stops the run, a scorer fails) stops this feeder, and its calls not yet finished
    are cancelled. The first wave (as many calls as its slots let in flight) goes out at once; no
    call after it starts before one answer of the wave has been scored, so a scorer that fails
    stops the run after the calls already in flight, and a run waits no call's length for it. Under a
    cost cap the first wave is one call: the guard learns what a call costs before it reserves more
    (a token count guessed from the prompt can be far below what the provider bills)."""
    room = asyncio.Semaphore(FEED_AHEAD)
    pending: set[asyncio.Future[None]] = set()
    failed: list[BaseException] = []

    def finished(t: asyncio.Future[None]) -> None:
        pending.discard(t)
        room.release()
        if not t.cancelled() and t.exception() is not None and not failed:
            failed.append(t.exception())  # type: ignore[arg-type]
            for other in list(pending):  # stop now: no call waiting for a slot goes out after a failure
                other.cancel()

    started = False
    try:
        for ex, rep in items:
            await room.acquire()
            if failed:
                raise failed[0]
            t = asyncio.ensure_future(task(c, ex, rep))
            pending.add(t)
            t.add_done_callback(finished)
            if not started and len(pending) >= max(1, first_wave):
                started = True
                await asyncio.wait(set(pending), return_when=asyncio.FIRST_COMPLETED)
                if failed:
                    raise failed[0]
        if pending:
            await asyncio.wait(set(pending))
        if failed:
            raise failed[0]
    finally:
        for t in list(pending):
            t.cancel()


async def _deliver(outcome: RunOutcome, c: Candidate, rec: Record | str | None,
                   on_record: Callable[[Record], Awaitable[None] | None] | None) -> None:
    """A finished call counted in the outcome (refused by the budget guard, not run by the deadline,
    or made) and handed on."""
    if rec is None:
        outcome.skipped_budget += 1
        outcome.skipped_by[c.id] = outcome.skipped_by.get(c.id, 0) + 1
        return
    if rec == NOT_RUN:
        outcome.not_run[c.id] = outcome.not_run.get(c.id, 0) + 1
        outcome.deadline_hit = True
        return
    assert isinstance(rec, Record)
    outcome.calls_made += 0 if rec.cached else 1
    if on_record is not None:
        got = on_record(rec)
        if asyncio.iscoroutine(got):
            await got


async def _all_or_stopped(jobs: list[asyncio.Future[Any]], outcome: RunOutcome) -> None:
    """Every job, unless one stops the run (a write failed): then the rest are cancelled and the
    outcome says why; any other exception is raised."""
    def stop_all(fut: asyncio.Future[Any]) -> None:
        if not fut.cancelled() and isinstance(fut.exception(), RunStopped) and outcome.stopped is None:
            outcome.stopped = fut.exception()  # type: ignore[assignment]
            for j in jobs:
                j.cancel()

    for j in jobs:
        j.add_done_callback(stop_all)
    results = await asyncio.gather(*jobs, return_exceptions=True)
    if outcome.stopped is None:
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                raise r


async def collect(candidates: list[Candidate], providers: dict[str, Provider], examples: list[Example],
                  cfg: RunConfig, cache: Cache | None = None) -> tuple[list[Record], RunOutcome]:
    """run_eval with the records gathered into a list, in candidate and eval-set order (for
    small runs, tests and benchmarks)."""
    got: list[Record] = []
    out = await run_eval(candidates, providers, examples, cfg, cache, got.append)
    order = {c.id: i for i, c in enumerate(candidates)}
    pos = {e.id: i for i, e in enumerate(examples)}
    got.sort(key=lambda r: (order[r.candidate], pos[r.example_id], r.repeat))
    return got, out


def dry_run_estimate(candidates: list[Candidate], examples: list[Example], repeat: int,
                     defaults: dict[str, dict[str, Any]] | None = None, latency_sample: int = 30,
                     tooling: Tooling | None = None) -> list[dict[str, Any]]:
    """Per candidate: calls, tokens (the system prompt and tools in every request: the requirements'
    tools and output schema, and tools in params; thinking the params allow beside max_tokens), and
    the most they can cost live and through a batch (and what the live latency sample of a batched
    run adds). Priced call by call with the catalog's prices."""
    from modelsel.inputs.prompting import reasoning_budget, request_tokens

    defaults = defaults or {}
    rows = []
    defs = [estimate_tokens(t.text()) if (t := for_example(tooling, ex.tools)) and t.text() else 0 for ex in examples]
    for c in candidates:
        params = {**defaults.get(c.id, {}), **c.params}
        thinking = reasoning_budget(params)
        explicit = any(params.get(k) for k in ("max_tokens", "max_output_tokens", "max_completion_tokens"))
        # max_tokens caps thinking and answer together (Anthropic, OpenAI); without it, the budget comes on top
        out_each = int(params.get("max_completion_tokens") or 0) or expected_output_tokens(params)
        out_each += 0 if explicit else thinking
        counted = [request_tokens(c, ex) for ex in examples]
        media = [estimate_media_tokens(c.provider, blobs(ex)) for ex in examples]
        tins = [t + m + d for (t, _), m, d in zip(counted, media, defs, strict=True)]
        cost = sum(call_cost(c, t, out_each) for t in tins) * repeat  # priced call by call: tiers apply per call
        batch = sum(call_cost(c, t, out_each, processing="batch") for t in tins) * repeat
        n_sample = min(latency_sample, len(examples)) * repeat
        n = len(examples) * repeat
        rows.append({"candidate": c.id, "calls": n, "input_tokens": sum(tins) * repeat,
                     "system_tokens": sum(s for _, s in counted) * repeat,
                     "tool_tokens": sum(defs) * repeat + tool_tokens(params) * n,
                     "reasoning_tokens_max": min(thinking, out_each) * n,
                     "output_tokens_max": out_each * n, "cost_usd_max": cost,
                     "cost_usd_max_batch": batch, "sample_calls": n_sample,
                     "sample_cost_usd_max": cost / max(1, n) * n_sample,
                     "media_tokens": sum(media) * repeat, "media_rule": RULES[rule_family(c.provider)] if any(media) else None,
                     "priced": bool(c.price_ref or c.input_per_mtok is not None or c.output_per_mtok is not None)})
    return rows
