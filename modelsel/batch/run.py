"""Running a candidate's quality calls through its provider's batch API, beside the live calls.

For each batched candidate: answers a batch already gave (in the cache) are reused; a batch this
run (or a killed earlier run) submitted for the same calls is collected rather than submitted
again; otherwise one batch is submitted and its id saved before any waiting. The status is read
with back-off (first read after about a second, then growing to a minute), the provider's
request counts drive the progress bar, and the run's deadline stops the wait (the batch id is
kept for a later run to collect). A request the batch reports as errored, expired or cancelled is
made live, with the usual retries. Latency comes from a separate live sample (`sample_examples`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelsel.batch import COMPLETION_WINDOW_S, BatchApi, Results, Status, api_for, unsupported
from modelsel.catalog.models import call_cost
from modelsel.errors import InputError
from modelsel.inputs.candidate import Candidate
from modelsel.inputs.evalset import Example
from modelsel.inputs.media import blobs, estimate_media_tokens, media_record
from modelsel.inputs.prompting import estimate_tokens, expected_output_tokens, render
from modelsel.inputs.tools import for_example
from modelsel.providers.base import CallRequest, CallResult, Provider, ProviderError, usage_problem
from modelsel.redaction import redact
from modelsel.run.records import Record
from modelsel.run.runner import (
    call_one,
    capped_output,
    context_window,
    reprice,
    result_costs,
    usage_fields,
)
from modelsel.run.store import Cache, cache_key, cache_path

FIRST_POLL_S, MAX_POLL_S = 1.0, 60.0
WINDOW_GRACE_S = 600.0  # past the 24 h window, the provider gets ten minutes to say it is done


def sample_examples(examples: list[Example], n: int) -> list[Example]:
    """n examples drawn across tags (round robin over each example's first tag, in a fixed order
    that does not depend on the file's order), for the live latency sample."""
    if n >= len(examples):
        return list(examples)
    groups: dict[str, list[Example]] = {}
    for ex in sorted(examples, key=lambda e: hashlib.sha256(e.id.encode()).hexdigest()):
        groups.setdefault(ex.tags[0] if ex.tags else "", []).append(ex)
    out: list[Example] = []
    while len(out) < n:
        for tag in sorted(groups):
            if groups[tag] and len(out) < n:
                out.append(groups[tag].pop(0))
    order = {e.id: i for i, e in enumerate(examples)}
    return sorted(out, key=lambda e: order[e.id])


def _batch_answer(c: Candidate, res: CallResult, max_chars: int, tooled: bool = False) -> dict[str, Any]:
    """A batch line's answer as record fields: no latency (a batch has none), billed at the batch price.
    `tooled`: tools were offered, so the record keeps the calls made, none included."""
    live, batch = result_costs(c, res)
    return dict(**capped_output(res, max_chars), latency_ms=None,
                input_tokens=res.input_tokens, output_tokens=res.output_tokens, reasoning_tokens=res.reasoning_tokens,
                **usage_fields(res), cost_usd=batch, cost_live_usd=live, cost_batch_usd=batch,
                finish_reason=res.finish_reason, batch=True, attempts=1,
                **({"tool_calls": res.tool_calls} if res.tool_calls or tooled else {}))


class CandidateBatch:
    """One batched candidate's quality calls: built, submitted or resumed, waited for, collected."""

    def __init__(self, c: Candidate, p: Provider, api: BatchApi, examples: list[Example], ctx: Any, outcome: Any,
                 slot: Any, requirements: str, on_status: Callable[[str, Status], None] | None) -> None:
        self.c, self.p, self.api, self.ctx, self.outcome, self.slot = c, p, api, ctx, outcome, slot
        self.requirements, self.on_status = requirements, on_status
        cfg = ctx.cfg
        identity = {**type(p).cache_identity(c), "batch": True}
        self.items: list[tuple[str, Example, int, CallRequest, str]] = []
        for rep in range(cfg.repeat):
            for i, ex in enumerate(examples):
                messages, prompt = render(c, ex)
                params = {**p.defaults, **c.params}
                tooling = for_example(cfg.tooling, ex.tools)
                req = CallRequest(messages=messages, prompt=prompt, params=params, timeout_s=c.timeout_s or cfg.timeout_s,
                                  example=ex, repeat=rep, max_chars=cfg.max_answer_chars, tooling=tooling)
                self.items.append((f"q{rep}_{i}", ex, rep, req, cache_key(identity, messages, prompt, params, rep,
                                                                         tooling.key() if tooling else None)))
        blob = json.dumps([identity, sorted(k for *_, k in self.items)], sort_keys=True, default=str)
        self.key = hashlib.sha256(blob.encode()).hexdigest()
        # each custom_id carries the run's key: a batch found by time and size (Anthropic's, which keep no
        # metadata) whose lines are another run's has ids this one never sent, and none is taken for its own
        self.items = [(f"{self.key[:12]}-{cid}", *rest) for cid, *rest in self.items]  # type: ignore[misc]
        self.info: dict[str, Any] = {"api": api.name, "items": len(self.items), "batch_id": None, "resumed": False,
                                     "from_cache": 0, "from_batch": 0, "retried_live": 0, "waited_s": 0.0,
                                     "billed_usd": 0.0, "at_live_usd": 0.0, "state": "not started"}
        outcome.batches[c.id] = self.info

    def _record(self, ex: Example, rep: int, **fields: Any) -> Record:
        return Record(candidate=self.c.id, example_id=ex.id, repeat=rep, tags=ex.tags, cluster=ex.cluster,
                      input=ex.text(), expected=ex.expected, params={**self.p.defaults, **self.c.params},
                      media=media_record(ex), **fields)

    async def run(self) -> None:
        cache, deliver = self.ctx.cache, self.ctx.deliver
        todo = []
        for cid, ex, rep, req, key in self.items:
            hit = cache.get(key) if cache is not None else None
            if hit is not None:
                self.info["from_cache"] += 1
                await deliver(self.c, self._record(ex, rep, **reprice(self.c, hit), cached=True))
            else:
                todo.append((cid, ex, rep, req, key))
        if not todo:
            self.info["state"] = "answered from the cache"
            return
        batch_id = await self._submit_or_resume(todo)
        if batch_id is None:
            return
        status = await self._wait(batch_id, len(todo))
        if status is None:
            return
        await self._collect(batch_id, todo)

    async def _submit_or_resume(self, todo: list[Any]) -> str | None:
        cache = self.ctx.cache
        saved = cache.batch_get(self.key) if cache is not None else None
        if saved is not None and saved["state"] == "submitted" and saved["batch_id"]:
            self.info.update(batch_id=saved["batch_id"], resumed=True, state="collecting a batch submitted earlier",
                             created=saved.get("created") or time.time())
            return str(saved["batch_id"])
        lost = None
        if cache is not None and cache.read:  # --no-cache asks for fresh answers, not a found batch's
            try:  # a run stopped between the provider creating its batch and the id being saved left it unsaved
                intent = saved["created"] if saved is not None and saved["state"] == "submitting" else None
                lost = await self.api.find(self.key, intent, len(todo))
            except Exception:  # listing is a courtesy: a server that cannot list still takes a new batch
                lost = None
        if lost is not None:
            if cache is not None:
                cache.batch_save(self.key, self.c.id, self.api.name, lost, len(self.items), self.requirements)
            self.info.update(batch_id=lost, resumed=True, state="collecting a batch submitted earlier",
                             created=time.time())
            return lost
        guess = sum(call_cost(self.c, estimate_tokens(req.prompt) + estimate_media_tokens(self.c.provider, blobs(ex)),
                              expected_output_tokens(req.params), processing="batch")
                    for _, ex, _, req, _ in todo)
        if not self.ctx.budget.reserve(guess):
            self.info["state"] = "not submitted: the budget guard"
            self.outcome.skipped_budget += len(todo)
            self.outcome.skipped_by[self.c.id] = self.outcome.skipped_by.get(self.c.id, 0) + len(todo)
            return None
        self.info["reserved"] = guess
        if cache is not None:  # the intent first: a stop while the batch is made leaves it to be looked up
            cache.batch_intent(self.key, self.c.id, self.api.name, len(self.items), self.requirements)
        try:
            batch_id = await self.api.submit([(cid, req) for cid, _, _, req, _ in todo], self.key)
        except ProviderError as exc:
            self.ctx.budget.settle(guess, 0.0)
            return self._rejected(str(exc))
        except Exception as exc:  # the SDK or the endpoint refused it: the batch's own error, not the run's end
            self.ctx.budget.settle(guess, 0.0)
            return self._rejected(f"{type(exc).__name__}: {exc}")
        if cache is not None:  # before any waiting: a kill from here on collects this batch next time
            cache.batch_save(self.key, self.c.id, self.api.name, batch_id, len(self.items), self.requirements)
        self.info.update(batch_id=batch_id, state="submitted", created=time.time())
        return batch_id

    def _rejected(self, message: str) -> None:
        self.info.update(state="rejected", rejected=redact(message))
        return None

    async def _wait(self, batch_id: str, n: int) -> Status | None:
        scale = max(0.01, self.ctx.cfg.retry.scale)
        delay, t0, unreadable = FIRST_POLL_S, time.monotonic(), 0
        while True:
            wait = min(delay, MAX_POLL_S) * scale
            if self.ctx.deadline is not None and time.monotonic() + wait > self.ctx.deadline:
                self.info.update(state="still running at the deadline", waited_s=round(time.monotonic() - t0, 2))
                self.outcome.not_run[self.c.id] = self.outcome.not_run.get(self.c.id, 0) + n
                self.outcome.deadline_hit = True
                return None
            if time.time() > self.info.get("created", time.time()) + COMPLETION_WINDOW_S + WINDOW_GRACE_S:
                # the provider promised an answer within its window: a batch still running past it will not
                # finish; its requests are not run, the data is partial, the batch stays saved
                self.info.update(state="still running past the provider's 24 h completion window",
                                 waited_s=round(time.monotonic() - t0, 2))
                self.outcome.not_run[self.c.id] = self.outcome.not_run.get(self.c.id, 0) + n
                self.outcome.deadline_hit = True
                return None
            await asyncio.sleep(wait)
            delay *= 1.6
            try:
                st = await self.api.status(batch_id)
                unreadable = 0
            except Exception as exc:  # a status read that failed is read again at the next step, a few times
                unreadable += 1
                if unreadable >= 8:  # not a deadline: the batch is kept (still "submitted") for the next run

                    self.info.update(state=f"status unreadable ({type(exc).__name__}: {redact(str(exc))[:200]})",
                                     waited_s=round(time.monotonic() - t0, 2))
                    return None
                continue
            if self.on_status is not None:
                self.on_status(self.c.id, st)
            if st.state == "failed":
                if self.ctx.cache is not None:
                    self.ctx.cache.batch_state(self.key, "failed")
                self.ctx.budget.settle(self.info.get("reserved", 0.0), 0.0)
                return self._rejected(st.message or "the provider failed the batch")
            if st.state in ("done", "cancelled"):
                self.info["waited_s"] = round(time.monotonic() - t0, 2)
                return st

    async def _collect(self, batch_id: str, todo: list[Any]) -> None:
        results = Results(self.c.model, {cid for cid, *_ in todo})
        unread = False
        try:
            await self.api.results(batch_id, results)
        except Exception as exc:  # what was read before the failure is kept; the rest waits for the next run
            unread = True
            self.info["results_error"] = redact(f"{type(exc).__name__}: {exc}")[:300]
            results.problems.append(f"reading the results stopped: {self.info['results_error']}; the requests "
                                    "without a result are left out, not made live (the batch billed them): run the "
                                    "same command again to collect them")
        got = results.got
        cache, deliver, budget = self.ctx.cache, self.ctx.deliver, self.ctx.budget
        billed = 0.0
        live_again = []
        left_out = 0
        for cid, ex, rep, req, key in todo:
            res = got.get(cid)
            if cid in results.conflicting:  # the file's fault: no answer, no error of the model's, billed once
                left_out += 1
                billed += max((result_costs(self.c, r)[1] for r in results.conflicting[cid]
                               if usage_problem(r, req.params, context_window(self.p)) is None), default=0.0)
                continue
            if res is None and unread:  # not a fault of the requests: collected by the next run, never paid twice
                left_out += 1
                continue
            bad = usage_problem(res, req.params, context_window(self.p)) if isinstance(res, CallResult) else None
            if bad is not None:  # a line whose usage cannot be true: that line's error, not money
                self.info["bad_usage"] = self.info.get("bad_usage", 0) + 1
                await deliver(self.c, self._record(
                    ex, rep, error=f"the batch line reported impossible token usage ({bad}); not billed as reported",
                    error_kind="bad_usage", batch=True, attempts=1, latency_ms=None))
            elif isinstance(res, CallResult):
                answer = _batch_answer(self.c, res, self.ctx.cfg.max_answer_chars,
                                       bool(req.tooling and req.tooling.tools))
                billed += answer["cost_usd"]
                self.info["at_live_usd"] += answer["cost_live_usd"]
                if cache is not None:
                    cache.put(key, answer)
                self.info["from_batch"] += 1
                await deliver(self.c, self._record(ex, rep, **answer))
            elif cid in results.final or (res is None and results.missing_is_final()):
                err = res if res is not None else ProviderError("malformed", "no result was read for this request")
                await deliver(self.c, self._record(ex, rep, error=str(err), error_kind=err.kind, batch=True, attempts=1,
                                                   latency_ms=None))
            else:  # errored, expired, cancelled or missing inside the batch: made live, with retries
                live_again.append((ex, rep))
        if results.problems:
            self.info["problems"] = results.problems[:20] + (
                [f"... and {len(results.problems) - 20} more"] if len(results.problems) > 20 else [])
        budget.settle(self.info.get("reserved", 0.0), billed)
        self.info["billed_usd"] = round(billed, 9)
        self.info["at_live_usd"] = round(self.info["at_live_usd"], 9)
        if left_out:
            self.info["left_out"] = left_out
        if cache is not None and not unread:  # a batch whose results could not be read stays for the next run
            cache.batch_state(self.key, "collected")
        self.info["state"] = "collected" if not unread else "results unreadable"
        self.info["retried_live"] = len(live_again)

        async def again(ex: Example, rep: int) -> None:
            await deliver(self.c, await call_one(self.c, self.p, ex, rep, self.slot, self.ctx))

        await asyncio.gather(*(again(ex, rep) for ex, rep in live_again))


async def run_batches(batched: list[tuple[Candidate, Provider]], examples: list[Example], ctx: Any, outcome: Any,
                      slots: dict[str, Any], requirements: str,
                      on_status: Callable[[str, Status], None] | None = None) -> None:
    jobs = []
    for c, p in batched:
        api = api_for(p)
        assert api is not None
        jobs.append(CandidateBatch(c, p, api, examples, ctx, outcome, slots[c.id], requirements, on_status).run())
    await asyncio.gather(*jobs)


async def cancel_open(cache: Any, requirements: str, providers: dict[str, Provider]) -> list[tuple[str, str, str]]:
    """Cancel every batch this requirements file left running: (candidate, batch id, outcome)."""
    done = []
    for b in cache.batches_open(requirements):
        p = providers.get(b["candidate"])
        api = api_for(p) if p is not None else None
        if api is None:
            done.append((b["candidate"], b["batch_id"], "skipped: the candidate is no longer in the requirements"))
            continue
        try:
            await api.cancel(b["batch_id"])
            cache.batch_state(b["key"], "cancelled")
            done.append((b["candidate"], b["batch_id"], "cancelled"))
        except Exception as exc:
            done.append((b["candidate"], b["batch_id"], f"not cancelled: {type(exc).__name__}: {exc}"))
    return done


def plan(runnable: list[Candidate], providers: dict[str, Provider]) -> dict[str, str | None]:
    """Which candidates run through a batch (None) and why the others run live; bad input when none can."""
    async def probe() -> dict[str, str | None]:
        out = {}
        for c in runnable:
            p = providers[c.id]
            out[c.id] = await unsupported(p)
            await p.aclose()  # its client was made in this loop; the run makes its own
        return out

    got = asyncio.run(probe())
    if runnable and all(why is not None for why in got.values()):
        raise InputError("--batch: no candidate can run through a batch API: "
                         + "; ".join(f"{cid}: {why}" for cid, why in got.items()) + ".", field="--batch")
    return got


def cancel_left(requirements: str, providers: dict[str, Provider], reports_root: Path) -> list[tuple[str, str, str]]:
    """Cancel the batches an earlier run of these requirements left running: (candidate, batch, what happened)."""
    cache = Cache(cache_path(reports_root))
    try:
        async def go() -> list[tuple[str, str, str]]:
            try:
                return await cancel_open(cache, requirements, providers)
            finally:
                for p in providers.values():
                    await p.aclose()

        return asyncio.run(go())
    finally:
        cache.close()
