"""OpenAI's Batch API (and OpenAI-compatible endpoints that serve it): the requests as a JSONL
file (files API, purpose=batch), a batch on /v1/chat/completions, results from its output and
error files, matched back by custom_id."""

from __future__ import annotations

import json
from typing import Any

from modelsel.batch import BatchApi, Results, Status
from modelsel.providers.base import CallRequest, CallResult, ProviderError, classify_status
from modelsel.providers.openai_chat import from_completion


class OpenAIBatch(BatchApi):
    name = "OpenAI Batch API"

    async def submit(self, items: list[tuple[str, CallRequest]], tag: str) -> str:
        body = "".join(json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                                   "body": self.provider.batch_body(req)}) + "\n"  # type: ignore[attr-defined]
                       for cid, req in items)
        client = self.client()
        f = await client.files.create(file=("modelsel-batch.jsonl", body.encode()), purpose="batch")
        b = await client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                                        metadata={"made_by": "modelsel", "modelsel_key": tag[:64]})
        return b.id

    async def find(self, tag: str, since: float | None = None, n: int = 0) -> str | None:
        page = await self.client().batches.list(limit=100)  # the newest first: a lost batch is a recent one
        for b in page.data:
            if (b.metadata or {}).get("modelsel_key") == tag[:64] and b.status not in ("failed", "cancelled",
                                                                                       "cancelling", "expired"):
                return b.id
        return None

    async def status(self, batch_id: str) -> Status:
        b = await self.client().batches.retrieve(batch_id)
        rc = b.request_counts
        total, done, failed = (rc.total, rc.completed, rc.failed) if rc else (0, 0, 0)
        if b.status == "failed":
            errs = (b.errors.data if b.errors and b.errors.data else [])
            msg = "; ".join(f"{e.message}" + (f" (line {e.line})" if getattr(e, "line", None) else "") for e in errs)
            return Status("failed", total, done + failed, failed, msg or "the batch failed")
        if b.status in ("completed", "expired", "cancelled"):
            return Status("cancelled" if b.status == "cancelled" else "done", total, done + failed, failed)
        return Status("running", total, done + failed, failed)

    async def results(self, batch_id: str, out: Results) -> None:
        from openai.types.chat import ChatCompletion

        client = self.client()
        b = await client.batches.retrieve(batch_id)
        for fid in (b.output_file_id, b.error_file_id):
            if not fid:
                continue
            # streamed, line by line: a results file can be far larger than memory should hold
            async with client.files.with_streaming_response.content(fid) as resp:
                what = "error file: " if fid == b.error_file_id else ""
                async for n, row in out.rows(resp.iter_lines(), what):
                    body = (row.get("response") or {}).get("body") if isinstance(row.get("response"), dict) else None
                    seen = body.get("model") if isinstance(body, dict) and isinstance(body.get("model"), str) else None
                    out.add(row.get("custom_id"), _line(row, ChatCompletion, from_completion), seen, n)
                if out.cut:
                    return

    async def cancel(self, batch_id: str) -> None:
        await self.client().batches.cancel(batch_id)


def _line(row: dict[str, Any], model: Any, parse: Any) -> CallResult | ProviderError:
    resp = row.get("response") if isinstance(row.get("response"), dict) else {}
    try:
        status = int(resp.get("status_code") or 0)
    except (TypeError, ValueError):
        status = 0
    if row.get("error") or status != 200:
        err = row.get("error") or (resp.get("body") or {}).get("error") or {}
        msg = err.get("message") if isinstance(err, dict) else str(err)
        return ProviderError(classify_status(status) if status else "bad_request", f"batch line: HTTP {status}: {msg}",
                             status=status or None)
    try:
        return parse(model.model_validate(resp["body"]), 0.0)
    except ProviderError as exc:
        return exc
    except (KeyError, TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        return ProviderError("malformed", f"batch line: the response could not be read ({type(exc).__name__})")
