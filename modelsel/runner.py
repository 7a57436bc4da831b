"""Scheduling, per-provider concurrency, retries with backoff, timeouts, cache and budget guard.

Latency is measured by the provider around the request itself, after a concurrency slot
is held; queueing, backoff and cache lookups never count. Retries are recorded separately.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelsel.catalog import Candidate
from modelsel.evalset import Example
from modelsel.prompting import estimate_tokens, expected_output_tokens, render
from modelsel.providers import CallRequest, Provider, ProviderError
from modelsel.records import Record
from modelsel.secrets import redact
from modelsel.store import Cache, cache_key


@dataclass
class RetryPolicy:
    max_attempts: int = 4
    base_s: float = 0.5
    max_s: float = 30.0
    scale: float = 1.0  # multiplies every wait, Retry-After included (tests against a fake use 0)

    def wait(self, attempt: int, retry_after_s: float | None) -> float:
        backoff = random.uniform(0, min(self.max_s, self.base_s * 2 ** (attempt - 1)))  # full jitter
        if retry_after_s is not None:
            backoff = max(backoff, retry_after_s)
        return backoff * self.scale


@dataclass
class RunConfig:
    repeat: int = 1
    concurrency: int | None = None  # overrides every provider's default
    timeout_s: float = 60.0
    max_cost_usd: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class RunOutcome:
    records: list[Record]
    spent_usd: float = 0.0
    skipped_budget: int = 0
    budget_stopped: bool = False
    budget: Budget | None = None  # the same guard caps the judge's spend when scoring


def call_cost(c: Candidate, tin: int | None, tout: int | None) -> float:
    return ((tin or 0) * c.input_per_mtok + (tout or 0) * c.output_per_mtok) / 1_000_000


class Budget:
    """Stops spending before it passes the cap, counting calls still in flight."""

    def __init__(self, cap: float | None) -> None:
        self.cap = cap
        self.spent = 0.0
        self.reserved = 0.0
        self.stopped = False
        self.observed: dict[str, tuple[float, int]] = {}

    def estimate(self, cid: str, guess: float) -> float:
        """The larger of the rough guess and what this candidate's calls have really cost so far."""
        total, n = self.observed.get(cid, (0.0, 0))
        return max(guess, total / n) if n else guess

    def observe(self, cid: str, cost: float) -> None:
        total, n = self.observed.get(cid, (0.0, 0))
        self.observed[cid] = (total + cost, n + 1)

    def reserve(self, est: float) -> bool:
        if self.cap is None:
            return True
        if self.spent + self.reserved + est > self.cap:
            self.stopped = True
            return False
        self.reserved += est
        return True

    def settle(self, est: float, actual: float) -> None:
        if self.cap is not None:
            self.reserved -= est
        self.spent += actual


class Slot:
    """A concurrency limit for one provider endpoint, and whether it has answered yet."""

    def __init__(self, n: int) -> None:
        self.sem = asyncio.Semaphore(n)
        self.warm = False


def _slots(cands: list[Candidate], providers: dict[str, Provider], cfg: RunConfig) -> dict[str, Slot]:
    """One limit per provider endpoint, so a slow provider does not hold back a fast one;
    a candidate that sets its own concurrency gets its own limit."""
    sems: dict[str, Slot] = {}
    out: dict[str, Slot] = {}
    for c in cands:
        p = providers[c.id]
        if c.concurrency:
            out[c.id] = Slot(c.concurrency)
            continue
        key = f"{c.provider}|{c.base_url}"
        if c.provider == "local":
            key = f"local|{c.model}"
        if key not in sems:
            n = cfg.concurrency or p.default_concurrency
            sems[key] = Slot(1 if c.provider == "local" else n)
        out[c.id] = sems[key]
    return out


async def call_with_retries(p: Provider, req: CallRequest, sem: asyncio.Semaphore, retry: RetryPolicy,
                            timeout: float, admit: Callable[[], bool] | None = None,
                            ) -> tuple[Any, ProviderError | None, int, float, str | None]:
    """One call, retried on rate limits, 5xx, timeouts and dropped connections.
    The concurrency slot is held only while the request is in flight, never while backing off.
    `admit` is asked once a slot is held, just before the first request (the budget guard);
    if it says no, nothing is sent and (None, None, 0, 0.0, None) comes back."""
    attempts, waited = 0, 0.0
    err: ProviderError | None = None
    result = None
    started: str | None = None
    while True:
        attempts += 1
        async with sem:
            if started is None:
                if admit is not None and not admit():
                    return None, None, 0, 0.0, None
                started = datetime.now(UTC).isoformat(timespec="milliseconds")
            try:
                result = await asyncio.wait_for(p.complete(req), timeout)
                err = None
            except ProviderError as e:
                err = e
            except TimeoutError:
                err = ProviderError("timeout", f"no answer within {timeout:g} s")
            except Exception as e:  # a provider bug is an error against that candidate, never the run's end
                err = ProviderError("fatal", f"{type(e).__name__}: {e}")
        if err is None or not err.retryable or attempts >= retry.max_attempts:
            return result, err, attempts, waited, started
        w = retry.wait(attempts, err.retry_after_s)
        waited += w
        await asyncio.sleep(w)


NOT_JUDGED = "not judged: the budget guard stopped spending"
JUDGE_BUDGET_KEY = "(judge)"


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

        res, err, attempts, _, _ = await call_with_retries(self.provider, req, self.sem, self.cfg.retry, req.timeout_s, admit)
        if attempts == 0:
            return None, NOT_JUDGED
        cost = self.cost(res) if res is not None else 0.0
        self.budget.settle(est, cost)
        if res is not None:
            self.budget.observe(JUDGE_BUDGET_KEY, cost)
        return res, (redact(str(err)) if err else None)

    def cost(self, res: Any) -> float:
        return call_cost(self.candidate, res.input_tokens, res.output_tokens)

    async def aclose(self) -> None:
        await self.provider.aclose()


async def _one(c: Candidate, p: Provider, ex: Example, rep: int, slot: Slot, cfg: RunConfig,
               cache: Cache | None, budget: Budget) -> Record | None:
    messages, prompt = render(c, ex)
    params = {**p.defaults, **c.params}
    key = cache_key(c, messages, prompt, params, rep)
    base = dict(candidate=c.id, example_id=ex.id, repeat=rep, tags=ex.tags, cluster=ex.cluster, input=ex.text(),
                expected=ex.expected, params=params)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return Record(**base, **hit, cached=True)
    guess = call_cost(c, estimate_tokens(prompt), expected_output_tokens(params))
    est = 0.0
    cold = False

    def admit() -> bool:
        nonlocal est, cold
        cold = not slot.warm
        est = budget.estimate(c.id, guess)  # decided with the slot held, so spend so far is known
        return budget.reserve(est)

    timeout = c.timeout_s or cfg.timeout_s
    req = CallRequest(messages=messages, prompt=prompt, params=params, timeout_s=timeout, example=ex, repeat=rep)
    result, err, attempts, waited, started = await call_with_retries(p, req, slot.sem, cfg.retry, timeout, admit)
    if attempts == 0:
        return None  # the budget guard said no
    if result is not None:
        slot.warm = True
        cost = call_cost(c, result.input_tokens, result.output_tokens)
        budget.settle(est, cost)
        budget.observe(c.id, cost)
        got = dict(output=result.text, latency_ms=round(result.latency_ms, 3),
                   ttft_ms=None if result.ttft_ms is None else round(result.ttft_ms, 3),
                   input_tokens=result.input_tokens, output_tokens=result.output_tokens, cost_usd=cost,
                   finish_reason=result.finish_reason, replayed=bool(result.extra.get("replayed_from")), cold=cold)
        if cache is not None and c.provider != "replay":
            cache.put(key, got)
        return Record(**base, **got, attempts=attempts, retry_wait_s=round(waited, 4), started_at=started)
    budget.settle(est, 0.0)
    assert err is not None
    return Record(**base, error=redact(str(err)), error_kind=err.kind, attempts=attempts,
                  retry_wait_s=round(waited, 4), started_at=started, latency_ms=None)


async def run_eval(
    candidates: list[Candidate], providers: dict[str, Provider], examples: list[Example], cfg: RunConfig,
    cache: Cache | None, on_record: Callable[[Record], Any] | None = None,
) -> RunOutcome:
    slots = _slots(candidates, providers, cfg)
    for c in candidates:
        providers[c.id].prepare(c.timeout_s or cfg.timeout_s)
    budget = Budget(cfg.max_cost_usd)
    records: list[Record] = []
    skipped = 0

    async def task(c: Candidate, ex: Example, rep: int) -> None:
        nonlocal skipped
        rec = await _one(c, providers[c.id], ex, rep, slots[c.id], cfg, cache, budget)
        if rec is None:
            skipped += 1
            return
        records.append(rec)
        if on_record is not None:
            on_record(rec)

    # Interleave candidates so each provider's queue starts filling at once.
    jobs = [task(c, ex, rep) for rep in range(cfg.repeat) for ex in examples for c in candidates]
    try:
        await asyncio.gather(*jobs)
    finally:
        for p in providers.values():
            try:
                await p.aclose()
            except Exception:
                pass
    order = {c.id: i for i, c in enumerate(candidates)}
    pos = {e.id: i for i, e in enumerate(examples)}
    records.sort(key=lambda r: (order[r.candidate], pos[r.example_id], r.repeat))
    return RunOutcome(records=records, spent_usd=budget.spent, skipped_budget=skipped, budget_stopped=budget.stopped,
                      budget=budget)


def dry_run_estimate(candidates: list[Candidate], examples: list[Example], repeat: int,
                     defaults: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    defaults = defaults or {}
    rows = []
    for c in candidates:
        tin = sum(estimate_tokens(render(c, ex)[1]) for ex in examples) * repeat
        tout = expected_output_tokens({**defaults.get(c.id, {}), **c.params}) * len(examples) * repeat
        rows.append({"candidate": c.id, "calls": len(examples) * repeat, "input_tokens": tin,
                     "output_tokens_max": tout, "cost_usd_max": call_cost(c, tin, tout)})
    return rows
