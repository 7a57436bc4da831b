"""The batch APIs of the fake provider, in each provider's wire format:

- OpenAI: POST /v1/files (multipart, purpose=batch), POST /v1/batches, GET /v1/batches/{id},
  POST /v1/batches/{id}/cancel, GET /v1/files/{id}/content (JSONL), GET /v1/batches (list);
- Anthropic: POST /v1/messages/batches, GET /v1/messages/batches/{id}, POST .../{id}/cancel,
  GET .../{id}/results (JSONL), GET /v1/messages/batches (list, the newest first);
- Gemini: POST /v1beta/models/{model}:batchGenerateContent, GET /v1beta/batches/{id},
  POST /v1beta/batches/{id}:cancel (inlined requests and responses).

A model's script says how many status reads a batch stays in progress (`batch_polls`), which
requests fail inside it (`batch_fault_when(prompt)`), and whether the provider rejects the whole
batch (`batch_reject`: its message). Each answer is the script's answer, as for a live call."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeBatch:
    api: str
    id: str
    model: str
    requests: list[tuple[str, dict[str, Any]]]  # (custom id, request body)
    created: float = field(default_factory=time.time)
    reads: int = 0
    cancelled: bool = False
    results: list[dict[str, Any]] | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def _words(s: str) -> int:
    return max(1, len(s.split()))


def _calls(got: Any) -> list[dict[str, Any]]:
    """A scripted answer's calls ({"tool_calls": [...]}) as the live fake reads them."""
    from tests.fakes.server import _call

    return [_call(i, c) for i, c in enumerate(got.get("tool_calls") or [])] if isinstance(got, dict) else []


def _prompt_of(api: str, body: dict[str, Any]) -> str:
    if api == "openai":
        texts0 = [m["content"] if isinstance(m.get("content"), str) else
                  " ".join(p.get("text", "") for p in m.get("content") or [] if p.get("type") == "text")
                  for m in body.get("messages", []) if m.get("role") == "user"]
        return next((t for t in reversed(texts0) if t), "")
    # the last user turn that holds text (a conversation may end on tool results), as a live call's
    if api == "anthropic":
        texts = [c if isinstance(c, str) else " ".join(b.get("text", "") for b in c if b.get("type") == "text")
                 for c in (m.get("content", "") for m in body.get("messages") or [{}] if m.get("role", "user") == "user")]
    else:
        texts = [" ".join(p.get("text", "") for p in c.get("parts", []) if "text" in p)
                 for c in body.get("contents") or [{}] if c.get("role", "user") == "user"]
    return next((t for t in reversed(texts) if t), texts[-1] if texts else "")


class BatchRoutes:
    """Mixed into the fake's request handler; `self.provider` is the FakeProvider."""

    provider: Any
    batch_calls: list[dict[str, Any]] = []  # the calls of the answer being written

    # --- plumbing -------------------------------------------------------------------------------
    def _batch_store(self) -> dict[str, FakeBatch]:
        return self.provider.__dict__.setdefault("batches", {})

    def _files(self) -> dict[str, bytes]:
        return self.provider.__dict__.setdefault("files", {})

    def _raw(self, status: int, data: bytes, ctype: str = "application/octet-stream") -> None:
        self.send_response(status)  # type: ignore[attr-defined]
        self.send_header("content-type", ctype)  # type: ignore[attr-defined]
        self.send_header("content-length", str(len(data)))  # type: ignore[attr-defined]
        self.end_headers()  # type: ignore[attr-defined]
        self.wfile.write(data)  # type: ignore[attr-defined]

    def _new_id(self, prefix: str) -> str:
        with self.provider.lock:
            n = self.provider.__dict__.get("batch_seq", 0) + 1
            self.provider.batch_seq = n
        return f"{prefix}{n}"

    def _script(self, model: str) -> Any:
        from tests.fakes.server import ModelScript

        return self.provider.scripts.get(model) or ModelScript()

    def _answer(self, api: str, model: str, body: dict[str, Any]) -> tuple[str | None, str, int, int, int]:
        """(error message or None, text, input tokens, output tokens, reasoning tokens) for one request."""
        s = self._script(model)
        prompt = _prompt_of(api, body)
        with self.provider.lock:
            self.provider.batch_answered.append((model, prompt))
        if s.batch_fault_when is not None and (why := s.batch_fault_when(prompt)):
            return why, "", 0, 0, 0
        from tests.fakes.media import received_media

        try:
            media = received_media(api, body)
        except ValueError as exc:  # the API refuses this request inside the batch
            return str(exc), "", 0, 0, 0
        with self.provider.lock:
            self.provider.batch_media.append(media)
        if s.read is not None:
            got = s.read(prompt, [x["bytes"] for x in media if "bytes" in x])
        else:
            got = s.answer(prompt) if callable(s.answer) else s.answer
        self.batch_calls = _calls(got)  # an answer with calls: each API's builder writes them its own way
        text = (got.get("content") or "") if isinstance(got, dict) else got
        tin = (s.input_tokens if s.input_tokens is not None else _words(prompt)) + s.media_tokens * len(media)
        tout = s.output_tokens if s.output_tokens is not None else _words(text)
        return None, text, tin, tout, s.reasoning_tokens

    def _done(self, b: FakeBatch) -> bool:
        """Each status read moves a batch on; it ends after its script's `batch_polls` reads."""
        return b.cancelled or b.reads > self._script(b.model).batch_polls

    # --- routing ----------------------------------------------------------------------------------
    def batch_route(self, method: str, path: str) -> bool:
        """Serve a batch request; False when the path is not one."""
        p = path.split("?")[0]
        if method == "POST" and p.endswith("/v1/files"):
            self._openai_upload()
        elif method == "POST" and p.endswith("/v1/batches"):
            self._openai_create()
        elif method == "GET" and p.endswith(("/v1/batches", "/v1beta/batches")):
            # OpenAI and Gemini both list /v1/batches, the newest first: OpenAI's under `data`, Gemini's as
            # `operations` (each SDK reads its own key and ignores the other)
            newest = sorted(self._batch_store().values(), key=lambda b: -b.created)
            self._json(200, {"object": "list", "has_more": False,  # type: ignore[attr-defined]
                             "data": [self._openai_obj(b) for b in newest if b.api == "openai"],
                             "operations": [self._gemini_obj(b) for b in newest if b.api == "gemini"]})
        elif (m := re.search(r"/batches/([^/:]+)(/cancel|:cancel)?$", p)) and "/messages/" not in p:
            # OpenAI and Gemini both serve /v1/batches/{id}: the batch says whose it is
            b = self._batch_store().get(m.group(1))
            if b is None:
                self._json(404, {"error": {"message": f"no batch {m.group(1)}"}})  # type: ignore[attr-defined]
            elif not m.group(2) and self._script(b.model).batch_status_down:
                self._json(503, {"error": {"message": "status service unavailable"}})  # type: ignore[attr-defined]
            elif b.api == "openai":
                (self._openai_cancel if m.group(2) else self._openai_get)(b.id)
            else:
                (self._gemini_cancel if m.group(2) else self._gemini_get)(b.id)
        elif m := re.search(r"/v1/files/([^/]+)/content$", p):
            self._raw(200, self._files()[m.group(1)], "application/jsonl")
        elif method == "POST" and p.endswith("/v1/messages/batches"):
            self._anthropic_create()
        elif method == "GET" and p.endswith("/v1/messages/batches"):
            newest = [self._anthropic_obj(b) for b in sorted(self._batch_store().values(), key=lambda b: -b.created)
                      if b.api == "anthropic"]
            self._json(200, {"data": newest, "has_more": False,  # type: ignore[attr-defined]
                             "first_id": newest[0]["id"] if newest else None,
                             "last_id": newest[-1]["id"] if newest else None})
        elif m := re.search(r"/v1/messages/batches/([^/]+)/cancel$", p):
            self._anthropic_cancel(m.group(1))
        elif m := re.search(r"/v1/messages/batches/([^/]+)/results$", p):
            self._anthropic_results(m.group(1))
        elif m := re.search(r"/v1/messages/batches/([^/]+)$", p):
            self._anthropic_get(m.group(1))
        elif m := re.search(r"/models/([^:/]+):batchGenerateContent$", p):
            self._gemini_create(m.group(1))
        else:
            return False
        return True

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("content-length") or 0)  # type: ignore[attr-defined]
        raw = self.rfile.read(n) if n else b"{}"  # type: ignore[attr-defined]
        return json.loads(raw or b"{}")

    def _reject(self, api: str, model: str) -> str | None:
        msg = self._script(model).batch_reject
        if not msg:
            return None
        if api == "openai":
            return msg
        body = ({"type": "error", "error": {"type": "invalid_request_error", "message": msg}} if api == "anthropic"
                else {"error": {"code": 400, "message": msg, "status": "INVALID_ARGUMENT"}})
        self._json(400, body)  # type: ignore[attr-defined]
        return msg

    # --- OpenAI ---------------------------------------------------------------------------------------
    def _openai_upload(self) -> None:
        n = int(self.headers.get("content-length") or 0)  # type: ignore[attr-defined]
        raw = self.rfile.read(n)  # type: ignore[attr-defined]
        ctype = self.headers.get("content-type", "")  # type: ignore[attr-defined]
        msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
        content, purpose, name = b"", "", "batch.jsonl"
        for part in msg.iter_parts():
            field_name = part.get_param("name", header="content-disposition")
            if field_name == "file":
                content = part.get_payload(decode=True) or b""
                name = part.get_filename() or name
            elif field_name == "purpose":
                purpose = (part.get_payload(decode=True) or b"").decode()
        fid = self._new_id("file-")
        self._files()[fid] = content
        self._json(200, {"id": fid, "object": "file", "bytes": len(content), "created_at": int(time.time()),  # type: ignore[attr-defined]
                         "filename": name, "purpose": purpose, "status": "processed"})

    def _openai_obj(self, b: FakeBatch) -> dict[str, Any]:
        done = self._done(b)
        status = ("cancelled" if b.cancelled else "completed") if done else ("validating" if b.reads == 0 else "in_progress")
        out: dict[str, Any] = {
            "id": b.id, "object": "batch", "endpoint": "/v1/chat/completions", "errors": None,
            "input_file_id": f"file-in-{b.id}", "completion_window": "24h", "status": status,
            "output_file_id": None, "error_file_id": None, "created_at": int(b.created), "metadata": b.metadata,
            "request_counts": {"total": len(b.requests), "completed": 0, "failed": 0}}
        reject = self._script(b.model).batch_reject
        if reject:
            out.update(status="failed", errors={"object": "list", "data": [
                {"code": "invalid_request", "message": reject, "param": "body", "line": 1}]})
            return out
        if not done:
            out["request_counts"]["completed"] = min(len(b.requests), b.reads * len(b.requests) // max(
                1, self._script(b.model).batch_polls + 1))
            return out
        if b.results is None:
            b.results = []
            ok, bad = [], []
            for cid, body in b.requests:
                err, text, tin, tout, r = (("cancelled before it ran", "", 0, 0, 0) if b.cancelled
                                           else self._answer("openai", b.model, body))
                if err:
                    bad.append({"id": f"batch_req_{cid}", "custom_id": cid, "response": {
                        "status_code": 400, "request_id": "req", "body": {"error": {
                            "message": err, "type": "invalid_request_error", "param": None, "code": None}}},
                        "error": None})
                else:
                    usage: dict[str, Any] = {"prompt_tokens": tin, "completion_tokens": tout + r,
                                             "total_tokens": tin + tout + r}
                    if r:
                        usage["completion_tokens_details"] = {"reasoning_tokens": r}
                    ok.append({"id": f"batch_req_{cid}", "custom_id": cid, "response": {
                        "status_code": 200, "request_id": "req", "body": {
                            "id": "chatcmpl-batch", "object": "chat.completion", "created": int(time.time()),
                            "model": body.get("model"), "choices": [{"index": 0, "message": {
                                "role": "assistant", "content": text or None if self.batch_calls else text,
                                **({"tool_calls": [{"id": c["id"], "type": "function", "function": {
                                    "name": c["name"], "arguments": c["raw"]}} for c in self.batch_calls]}
                                   if self.batch_calls else {})},
                                "finish_reason": "tool_calls" if self.batch_calls else "stop", "logprobs": None}],
                            "usage": usage}}, "error": None})
            b.results = ok + bad
            files = self._files()
            hook = self._script(b.model).batch_lines or (lambda lines: lines)
            files[f"file-out-{b.id}"] = "".join(x + "\n" for x in hook([json.dumps(x) for x in ok])).encode()
            files[f"file-err-{b.id}"] = "".join(json.dumps(x) + "\n" for x in bad).encode()
        ok_n = sum(1 for x in b.results if x["response"]["status_code"] == 200)
        out["request_counts"] = {"total": len(b.requests), "completed": ok_n, "failed": len(b.results) - ok_n}
        out["output_file_id"] = f"file-out-{b.id}" if ok_n else None
        out["error_file_id"] = f"file-err-{b.id}" if len(b.results) > ok_n else None
        return out

    def _openai_create(self) -> None:
        body = self._body()
        lines = [json.loads(x) for x in self._files().get(body.get("input_file_id", ""), b"").decode().splitlines() if x]
        model = lines[0]["body"].get("model", "") if lines else ""
        b = FakeBatch("openai", self._new_id("batch_"), model, [(x["custom_id"], x["body"]) for x in lines],
                      metadata=body.get("metadata") or {})
        self._batch_store()[b.id] = b
        with self.provider.lock:
            self.provider.batch_created.append(("openai", b.id, model, len(lines)))
        self._json(200, self._openai_obj(b))  # type: ignore[attr-defined]

    def _openai_get(self, bid: str) -> None:
        b = self._batch_store()[bid]
        b.reads += 1
        self._json(200, self._openai_obj(b))  # type: ignore[attr-defined]

    def _openai_cancel(self, bid: str) -> None:
        b = self._batch_store()[bid]
        b.cancelled = True
        self.provider.batch_cancelled.append(bid)
        self._json(200, {**self._openai_obj(b), "status": "cancelling"})  # type: ignore[attr-defined]

    # --- Anthropic ------------------------------------------------------------------------------------
    def _anthropic_obj(self, b: FakeBatch) -> dict[str, Any]:
        done = self._done(b)
        n = len(b.requests)
        counts = {"processing": 0 if done else n, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if done:
            self._anthropic_compute(b)
            assert b.results is not None
            for r in b.results:
                counts[{"succeeded": "succeeded", "errored": "errored", "canceled": "canceled"}[r["result"]["type"]]] += 1
        base = (self._script(b.model).results_url_base
                or f"http://127.0.0.1:{self.server.server_address[1]}")  # type: ignore[attr-defined]
        return {"id": b.id, "type": "message_batch", "processing_status": "ended" if done else "in_progress",
                "request_counts": counts, "ended_at": _iso(time.time()) if done else None, "created_at": _iso(b.created),
                "expires_at": _iso(b.created + 86400), "archived_at": None,
                "cancel_initiated_at": _iso(time.time()) if b.cancelled else None,
                "results_url": f"{base}/v1/messages/batches/{b.id}/results" if done else None}

    def _anthropic_compute(self, b: FakeBatch) -> None:
        if b.results is not None:
            return
        b.results = []
        for cid, params in b.requests:
            if b.cancelled:
                b.results.append({"custom_id": cid, "result": {"type": "canceled"}})
                continue
            err, text, tin, tout, r = self._answer("anthropic", b.model, params)
            if err:
                b.results.append({"custom_id": cid, "result": {"type": "errored", "error": {
                    "type": "error", "error": {"type": "invalid_request_error", "message": err}}}})
                continue
            usage: dict[str, Any] = {"input_tokens": tin, "output_tokens": tout + r, "cache_read_input_tokens": 0,
                                     "cache_creation_input_tokens": 0}
            if r:
                usage["output_tokens_details"] = {"thinking_tokens": r}
            b.results.append({"custom_id": cid, "result": {"type": "succeeded", "message": {
                "id": "msg_batch", "type": "message", "role": "assistant", "model": params.get("model"),
                "content": ([{"type": "text", "text": text}] if text or not self.batch_calls else [])
                + [{"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["args"]} for c in self.batch_calls],
                "stop_reason": "tool_use" if self.batch_calls else "end_turn", "stop_sequence": None,
                "usage": usage}}})

    def _anthropic_create(self) -> None:
        body = self._body()
        reqs = [(r["custom_id"], r["params"]) for r in body.get("requests", [])]
        model = reqs[0][1].get("model", "") if reqs else ""
        if self._reject("anthropic", model):
            return
        b = FakeBatch("anthropic", self._new_id("msgbatch_"), model, reqs)
        self._batch_store()[b.id] = b
        with self.provider.lock:
            self.provider.batch_created.append(("anthropic", b.id, model, len(reqs)))
        time.sleep(self._script(model).batch_create_delay_s)  # made, not yet answered: a stop can land here
        self._json(200, self._anthropic_obj(b))  # type: ignore[attr-defined]

    def _anthropic_get(self, bid: str) -> None:
        b = self._batch_store()[bid]
        b.reads += 1
        self._json(200, self._anthropic_obj(b))  # type: ignore[attr-defined]

    def _anthropic_cancel(self, bid: str) -> None:
        b = self._batch_store()[bid]
        b.cancelled = True
        self.provider.batch_cancelled.append(bid)
        self._json(200, {**self._anthropic_obj(b), "processing_status": "canceling"})  # type: ignore[attr-defined]

    def _anthropic_results(self, bid: str) -> None:
        b = self._batch_store()[bid]
        self._anthropic_compute(b)
        assert b.results is not None
        hook = self._script(b.model).batch_lines or (lambda lines: lines)
        self._raw(200, "".join(x + "\n" for x in hook([json.dumps(x) for x in b.results])).encode(), "application/binary")

    # --- Gemini ----------------------------------------------------------------------------------------
    def _gemini_obj(self, b: FakeBatch) -> dict[str, Any]:
        done = self._done(b)
        state = ("BATCH_STATE_CANCELLED" if b.cancelled else "BATCH_STATE_SUCCEEDED") if done else (
            "BATCH_STATE_PENDING" if b.reads == 0 else "BATCH_STATE_RUNNING")
        meta: dict[str, Any] = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
                                "model": f"models/{b.model}", "displayName": b.metadata.get("displayName", ""), "state": state,
                                "createTime": _iso(b.created), "updateTime": _iso(time.time()),
                                "batchStats": {"requestCount": str(len(b.requests))}}
        if done and not b.cancelled:
            if b.results is None:
                b.results = []
                for cid, req in b.requests:
                    err, text, tin, tout, r = self._answer("gemini", b.model, req)
                    if err:
                        b.results.append({"error": {"code": 400, "message": err, "status": "INVALID_ARGUMENT"},
                                          "metadata": {"key": cid}})
                        continue
                    usage: dict[str, Any] = {"promptTokenCount": tin, "candidatesTokenCount": tout,
                                             "totalTokenCount": tin + tout + r}
                    if r:
                        usage["thoughtsTokenCount"] = r
                    parts = ([{"text": text}] if text or not self.batch_calls else []) + [
                        {"functionCall": {"name": c["name"], "args": c["args"]}} for c in self.batch_calls]
                    b.results.append({"response": {"candidates": [{"content": {"parts": parts, "role": "model"},
                                                                   "finishReason": "STOP", "index": 0}],
                                                   "usageMetadata": usage, "modelVersion": b.model},
                                      "metadata": {"key": cid}})
            meta["endTime"] = _iso(time.time())
            meta["output"] = {"inlinedResponses": {"inlinedResponses": b.results}}
        return {"name": f"batches/{b.id}", "metadata": meta, "done": done}

    def _gemini_create(self, model: str) -> None:
        body = self._body()
        if self._reject("gemini", model):
            return
        reqs = [(r.get("metadata", {}).get("key", str(i)), r["request"])
                for i, r in enumerate(body["batch"]["inputConfig"]["requests"]["requests"])]
        b = FakeBatch("gemini", self._new_id("gb"), model, reqs,
                      metadata={"displayName": str(body["batch"].get("displayName") or "")})
        self._batch_store()[b.id] = b
        with self.provider.lock:
            self.provider.batch_created.append(("gemini", b.id, model, len(reqs)))
        self._json(200, self._gemini_obj(b))  # type: ignore[attr-defined]

    def _gemini_get(self, bid: str) -> None:
        b = self._batch_store()[bid]
        b.reads += 1
        self._json(200, self._gemini_obj(b))  # type: ignore[attr-defined]

    def _gemini_cancel(self, bid: str) -> None:
        b = self._batch_store()[bid]
        b.cancelled = True
        self.provider.batch_cancelled.append(bid)
        self._json(200, {})  # type: ignore[attr-defined]


_ = timedelta


def mangle_results(lines: list[str]) -> list[str]:
    """A results file as a broken server writes one: line 1 not JSON, line 2 without its custom_id,
    line 3 answered twice (again at the end, with another answer), line 4 answered by another model."""
    out = list(lines)
    out[0] = "{this is not json"
    row = json.loads(out[1])
    row.pop("custom_id")
    out[1] = json.dumps(row)
    row = json.loads(out[2])
    body = row["response"]["body"]["choices"][0]["message"] if "response" in row else row["result"]["message"]["content"][0]
    body["content" if "response" in row else "text"] = "a second, different answer"
    out.append(json.dumps(row))
    row = json.loads(out[3])
    body = row["response"]["body"] if "response" in row else row["result"]["message"]
    body["model"] = "some-other-model"
    out[3] = json.dumps(row)
    return out
