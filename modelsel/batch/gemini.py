"""Gemini's batch mode through google-genai: the requests inlined in one batch job, each keyed in
its metadata; answers inlined in the finished job, matched back by that key."""

from __future__ import annotations

from modelsel.batch import BatchApi, Results, Status
from modelsel.providers.base import CallRequest, CallResult, ProviderError, classify_exception
from modelsel.providers.gemini import from_response

_DONE = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}


def _state(job: object) -> str:
    s = getattr(job, "state", None)
    return str(getattr(s, "value", s) or "")


class GeminiBatch(BatchApi):
    name = "Gemini batch mode"

    async def submit(self, items: list[tuple[str, CallRequest]], tag: str) -> str:
        src = [self.provider.batch_body(req, cid) for cid, req in items]  # type: ignore[attr-defined]
        try:
            job = await self.client().aio.batches.create(model=self.provider.candidate.model, src=src,
                                                         config={"display_name": _display_name(tag)})
        except Exception as exc:
            raise classify_exception(exc, 0.0) from None
        return str(job.name)

    async def find(self, tag: str, since: float | None = None, n: int = 0) -> str | None:
        seen = 0
        async for job in await self.client().aio.batches.list(config={"page_size": 50}):
            seen += 1
            if getattr(job, "display_name", None) == _display_name(tag) and _state(job) not in (
                    "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"):
                return str(job.name)
            if seen >= 100:  # the newest first: a batch a stopped run left is a recent one
                break
        return None

    async def status(self, batch_id: str) -> Status:
        job = await self.client().aio.batches.get(name=batch_id)
        state = _state(job)
        if state == "JOB_STATE_FAILED":
            err = getattr(job, "error", None)
            return Status("failed", message=str(getattr(err, "message", None) or err or "the batch job failed"))
        if state == "JOB_STATE_CANCELLED":
            return Status("cancelled")
        return Status("done" if state in _DONE else "running")

    async def results(self, batch_id: str, out: Results) -> None:
        job = await self.client().aio.batches.get(name=batch_id)
        dest = getattr(job, "dest", None)
        for n, item in enumerate(getattr(dest, "inlined_responses", None) or [], 1):
            key = (item.metadata or {}).get("key")
            if item.error is not None:
                code = getattr(item.error, "code", None)
                res: CallResult | ProviderError = ProviderError(
                    "server" if (code or 0) >= 500 else "bad_request",
                    f"batch entry: {getattr(item.error, 'message', None) or item.error}")
                out.add(key, res, None, n)
                continue
            try:
                res = from_response(item.response, 0.0)
            except ProviderError as exc:
                res = exc
            except Exception as exc:  # a response the SDK's types accept but that holds no answer
                res = ProviderError("malformed", f"batch entry: the response could not be read ({type(exc).__name__})")
            out.add(key, res, getattr(item.response, "model_version", None), n)

    async def cancel(self, batch_id: str) -> None:
        await self.client().aio.batches.cancel(name=batch_id)


def _display_name(tag: str) -> str:
    """The batch's name at Google, carrying the run's key: how a stopped run's batch is found again."""
    return f"modelsel-{tag[:48]}"
