"""Anthropic's Message Batches: every request with its custom_id in one create call; results as
JSONL from the batch's results_url once it has ended."""

from __future__ import annotations

from modelsel.batch import BatchApi, Status
from modelsel.providers.base import CallRequest, CallResult, ProviderError, classify_exception


class AnthropicBatch(BatchApi):
    name = "Anthropic Message Batches"

    async def submit(self, items: list[tuple[str, CallRequest]]) -> str:
        reqs = [{"custom_id": cid, "params": self.provider.batch_body(req)}  # type: ignore[attr-defined]
                for cid, req in items]
        try:
            b = await self.client().messages.batches.create(requests=reqs)
        except Exception as exc:
            raise classify_exception(exc, 0.0) from None
        return b.id

    async def status(self, batch_id: str) -> Status:
        b = await self.client().messages.batches.retrieve(batch_id)
        c = b.request_counts
        total = c.processing + c.succeeded + c.errored + c.canceled + c.expired
        finished = total - c.processing
        failed = c.errored + c.canceled + c.expired
        if b.processing_status == "ended":
            return Status("done", total, finished, failed)
        return Status("running", total, finished, failed)

    async def results(self, batch_id: str) -> dict[str, CallResult | ProviderError]:
        from modelsel.providers.anthropic_messages import from_message

        out: dict[str, CallResult | ProviderError] = {}
        async for row in await self.client().messages.batches.results(batch_id):
            r = row.result
            if r.type == "succeeded":
                try:
                    out[row.custom_id] = from_message(r.message, 0.0)
                except ProviderError as exc:
                    out[row.custom_id] = exc
            elif r.type == "errored":
                inner = getattr(getattr(r, "error", None), "error", None)
                msg = getattr(inner, "message", None) or "errored"
                kind = getattr(inner, "type", "")
                out[row.custom_id] = ProviderError("server" if kind in ("api_error", "overloaded_error") else "bad_request",
                                                   f"batch entry: {kind}: {msg}")
            else:  # canceled, expired
                out[row.custom_id] = ProviderError("timeout", f"batch entry {r.type}")
        return out

    async def cancel(self, batch_id: str) -> None:
        await self.client().messages.batches.cancel(batch_id)
