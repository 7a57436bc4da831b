"""Anthropic's Message Batches: every request with its custom_id in one create call; results as
JSONL from the batch's results_url once it has ended."""

from __future__ import annotations

from typing import Any

from modelsel.batch import BatchApi, Results, Status
from modelsel.providers.anthropic_messages import from_message
from modelsel.providers.base import (
    CallRequest,
    CallResult,
    ProviderError,
    classify_exception,
    classify_status,
    shared_http_client,
)


class AnthropicBatch(BatchApi):
    name = "Anthropic Message Batches"

    async def submit(self, items: list[tuple[str, CallRequest]], tag: str) -> str:
        reqs = [{"custom_id": cid, "params": self.provider.batch_body(req)}  # type: ignore[attr-defined]
                for cid, req in items]
        try:
            b = await self.client().messages.batches.create(requests=reqs)
        except Exception as exc:
            raise classify_exception(exc, 0.0) from None
        return b.id

    async def find(self, tag: str, since: float | None = None, n: int = 0) -> str | None:
        """Message batches keep no metadata: the batch a stopped run made is the oldest one, not cancelled
        or expired, created after the intent to create it was saved (a minute of clock skew allowed),
        with as many requests as it sent. Its custom_ids carry the run's key, so another batch's lines
        would not be taken for this one's."""
        if since is None or n <= 0:
            return None
        page = await self.client().messages.batches.list(limit=100)  # the newest first
        found = None
        for b in page.data:
            c = b.request_counts
            total = c.processing + c.succeeded + c.errored + c.canceled + c.expired
            if (b.created_at.timestamp() >= since - 60 and total == n and b.cancel_initiated_at is None
                    and c.canceled + c.expired < total):
                found = b.id  # keep looking: the oldest match after the intent is the one it made
        return found

    async def status(self, batch_id: str) -> Status:
        b = await self.client().messages.batches.retrieve(batch_id)
        c = b.request_counts
        total = c.processing + c.succeeded + c.errored + c.canceled + c.expired
        finished = total - c.processing
        failed = c.errored + c.canceled + c.expired
        if b.processing_status == "ended":
            return Status("done", total, finished, failed)
        return Status("running", total, finished, failed)

    async def results(self, batch_id: str, out: Results) -> None:
        import httpx
        from anthropic.types.messages import MessageBatchIndividualResponse

        client = self.client()
        b = await client.messages.batches.retrieve(batch_id)
        url = b.results_url
        if not url:
            out.problems.append("the batch ended without a results_url")
            return
        if not same_origin(url, str(client.base_url)):
            # the SDK would send the API key wherever results_url points
            raise ProviderError("fatal", f"the batch's results_url is not on the API's own host ({origin(url)}); "
                                "not fetched, so the key is not sent there")

        # The SDK's own results() reads its JSONL decoder to the first bad line and stops there; this
        # reads raw lines over the same connection pool, with the SDK's headers (key, version).
        http = shared_http_client("anthropic", self.provider.candidate.base_url, 60.0,
                                  lambda **kw: httpx.AsyncClient(timeout=60.0, **kw))
        headers = {**client.default_headers, "Accept": "application/binary"}
        async with http.stream("GET", url, headers={k: v for k, v in headers.items() if isinstance(v, str)}) as resp:
            if resp.status_code != 200:
                raise ProviderError(classify_status(resp.status_code), f"results: HTTP {resp.status_code}",
                                    status=resp.status_code)
            async for n, raw in out.rows(resp.aiter_lines()):
                try:
                    row = MessageBatchIndividualResponse.model_validate(raw)
                except ValueError:  # pydantic's ValidationError: JSON, but not a batch result
                    cid = raw.get("custom_id")
                    if isinstance(cid, str) and cid:
                        out.add(cid, ProviderError("malformed", "batch entry: the result could not be read"), None, n)
                    else:
                        out.bad_line(n, "no custom_id")
                    continue
                res, seen = _entry(row)
                out.add(row.custom_id, res, seen, n)

    async def cancel(self, batch_id: str) -> None:
        await self.client().messages.batches.cancel(batch_id)


def _entry(row: Any) -> tuple[CallResult | ProviderError, str | None]:
    r = row.result
    if r.type == "succeeded":
        try:
            return from_message(r.message, 0.0), r.message.model
        except ProviderError as exc:
            return exc, None
    if r.type == "errored":
        inner = getattr(getattr(r, "error", None), "error", None)
        msg = getattr(inner, "message", None) or "errored"
        kind = getattr(inner, "type", "")
        return ProviderError("server" if kind in ("api_error", "overloaded_error") else "bad_request",
                             f"batch entry: {kind}: {msg}"), None
    return ProviderError("timeout", f"batch entry {r.type}"), None  # canceled, expired


def origin(url: str) -> str:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    port = u.port or {"https": 443, "http": 80}.get(u.scheme)
    return f"{u.scheme}://{(u.hostname or '').lower()}:{port}"


def same_origin(a: str, b: str) -> bool:
    return origin(a) == origin(b)
