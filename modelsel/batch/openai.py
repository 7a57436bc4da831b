"""OpenAI's Batch API (and OpenAI-compatible endpoints that serve it): the requests as a JSONL
file (files API, purpose=batch), a batch on /v1/chat/completions, results from its output and
error files, matched back by custom_id."""

from __future__ import annotations

import json
from typing import Any

from modelsel.batch import BatchApi, Status
from modelsel.providers.base import CallRequest, CallResult, ProviderError, classify_status


class OpenAIBatch(BatchApi):
    name = "OpenAI Batch API"

    async def submit(self, items: list[tuple[str, CallRequest]]) -> str:
        body = "".join(json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
                                   "body": self.provider.batch_body(req)}) + "\n"  # type: ignore[attr-defined]
                       for cid, req in items)
        client = self.client()
        f = await client.files.create(file=("modelsel-batch.jsonl", body.encode()), purpose="batch")
        b = await client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                                        metadata={"made_by": "modelsel"})
        return b.id

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

    async def results(self, batch_id: str) -> dict[str, CallResult | ProviderError]:
        from openai.types.chat import ChatCompletion

        from modelsel.providers.openai_chat import from_completion

        client = self.client()
        b = await client.batches.retrieve(batch_id)
        out: dict[str, CallResult | ProviderError] = {}
        for fid in (b.output_file_id, b.error_file_id):
            if not fid:
                continue
            content = await client.files.content(fid)
            for line in content.text.splitlines():
                if not line.strip():
                    continue
                row = json.loads(line)
                out[row["custom_id"]] = _line(row, ChatCompletion, from_completion)
        return out

    async def cancel(self, batch_id: str) -> None:
        await self.client().batches.cancel(batch_id)


def _line(row: dict[str, Any], model: Any, parse: Any) -> CallResult | ProviderError:
    resp = row.get("response") or {}
    status = int(resp.get("status_code") or 0)
    if row.get("error") or status != 200:
        err = row.get("error") or (resp.get("body") or {}).get("error") or {}
        msg = err.get("message") if isinstance(err, dict) else str(err)
        return ProviderError(classify_status(status) if status else "bad_request", f"batch line: HTTP {status}: {msg}",
                             status=status or None)
    try:
        return parse(model.model_validate(resp["body"]), 0.0)
    except ProviderError as exc:
        return exc
