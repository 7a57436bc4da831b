"""A fake LLM provider on 127.0.0.1 that speaks the wire formats of OpenAI chat completions,
Anthropic messages and Gemini generateContent, plain and streamed (SSE), closely enough
that the official SDKs accept it. Tests script it per model: answers, token usage,
latency, and faults. Only ever binds the loopback address.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.batches import BatchRoutes
from tests.fakes.media import received_media

# Faults a script can ask for, one per request:
#   429 500 502 503 529 401 400 413  an HTTP error in the provider's own error format (429 with Retry-After)
#   hang        no answer at all until hang_s passes
#   malformed   200 with a body that is not JSON
#   cut         the connection is shut down mid-answer (mid-stream when streaming)
#   reset       the connection is reset (TCP RST) mid-stream
#   truncated   the stream ends cleanly but without its final chunk (no finish reason, no [DONE])
#   empty       200 with no choices / no content / no candidates
#   oversize    200 whose headers are larger than the HTTP client accepts
FAULTS = ("429", "500", "502", "503", "529", "401", "400", "413", "hang", "malformed", "cut", "reset", "truncated",
          "empty", "oversize")
BODY_FAULTS = ("cut", "malformed", "reset", "truncated", "empty", "oversize")


@dataclass
class ModelScript:
    # The answer: text, or {"tool_calls": [{"name": ..., "arguments": {...} or raw text}], "content": "..."}
    # for calls, sent in the API's own format (OpenAI tool_calls, Anthropic tool_use blocks, Gemini
    # functionCall parts), streamed as each API streams them.
    answer: Callable[[str], str | dict[str, Any]] | str | dict[str, Any] = "ok"
    answer_times: int = 1  # the answer repeated this many times (a flood, without passing it on a command line)
    latency_ms: float = 0.0  # fixed server-side delay before the first byte
    lognormal: tuple[float, float] | None = None  # (median ms, sigma): a known latency distribution
    input_tokens: int | Callable[[str], int] | None = None  # default: words in the prompt; a function of the prompt
    cached_tokens: int = 0  # of the input tokens, how many the provider reports served from its prompt cache
    output_tokens: int | None = None  # default: words in the answer
    # A thinking model: tokens spent thinking before the answer, reported the way each API does
    # (OpenAI: inside completion_tokens, in completion_tokens_details.reasoning_tokens; Anthropic: a
    # thinking block, inside output_tokens, in output_tokens_details.thinking_tokens; Gemini: a
    # thought part, thoughtsTokenCount beside candidatesTokenCount).
    reasoning_tokens: int = 0
    faults: list[str] = field(default_factory=list)  # consumed in order, one per request
    always: str | None = None  # a fault for every request
    every: tuple[int, str] | None = None  # (n, fault): the fault on every n-th request to this model (3rd, 6th, ...)
    fault_when: Callable[[str], str | None] | None = None  # a fault chosen by the prompt
    retry_after: str = "1"
    retry_after_ms: str | None = None  # also send retry-after-ms (OpenAI and Anthropic read it first)
    hang_s: float = 3.0
    chunk_delay_ms: float = 0.0
    # Batch APIs (tests/fakes/batches.py): status reads a batch stays in progress, requests that
    # fail inside it, and a message when the provider rejects the whole batch.
    batch_polls: int = 2
    batch_fault_when: Callable[[str], str | None] | None = None
    batch_reject: str | None = None
    batch_status_down: bool = False  # every status read of its batches answers 503
    # Hostile modes: the message of every fault replaced (control characters, markup, ...), and a
    # 401 that echoes the key it was sent in the forms servers use (as sent, upper-cased,
    # URL-encoded, inside base64 Basic credentials, spelled out with separators).
    error_message: str | None = None
    echo_key_forms: bool = False
    # A batch results file rewritten line by line (bad JSON, a line without custom_id, duplicates,
    # another model's answers), and an Anthropic results_url on another host.
    batch_lines: Callable[[list[str]], list[str]] | None = None
    results_url_base: str | None = None
    # Images and documents (tests/fakes/media.py): input tokens each one adds (the way every API
    # counts them inside its input tokens; Gemini also reports them by modality), and an answer
    # that reads the files' bytes: read(prompt, [bytes, ...]) -> answer.
    media_tokens: int = 0
    read: Callable[[str, list[bytes]], str] | None = None
    batch_create_delay_s: float = 0.0  # a batch is made at once but answered this late (a stop lands between)
    # Answers too big for memory (OpenAI's format): "body" an unstreamed body of flood_mb MB, "gzip" the
    # same as a gzip bomb (a few hundred kB on the wire), "sseline" one stream event of flood_mb MB with
    # no newline. Each is valid to its end, so a client that reads it all gets an answer.
    flood: str | None = None
    flood_mb: int = 64
    # Usage fields merged into each API's usage object as the API names them (e.g. Gemini's
    # toolUsePromptTokenCount, OpenAI's prompt_tokens_details.cache_write_tokens), and each
    # vendor's documented prompt caching simulated on a shared prefix of `prompt_cache` tokens (the
    # system prompt): a request reads it when an earlier one with the same system prompt finished
    # within `cache_ttl_s` before it arrived (a read refreshes it), else writes it. Anthropic caches
    # only a request that marks cache_control (5m or 1h, reported in usage.cache_creation); OpenAI
    # reports cached_tokens and cache_write_tokens; Gemini (implicit caching) reports reads only.
    usage: dict[str, Any] = field(default_factory=dict)
    prompt_cache: int = 0
    cache_ttl_s: float = 300.0
    requests: int = 0  # requests this model has received (for `every`)


@dataclass
class Seen:
    api: str
    model: str
    path: str
    body: dict[str, Any]
    prompt: str
    stream: bool
    fault: str | None
    server_ms: float = 0.0
    auth: str = ""
    t_start: float = 0.0  # wall clock (time.time()) when the request arrived and when its answer was sent
    t_end: float = 0.0
    media: list[dict[str, Any]] = field(default_factory=list)  # images and documents received (no bytes)


class FakeProvider:
    def __init__(self, seed: int = 7) -> None:
        self.scripts: dict[str, ModelScript] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.batch_created: list[tuple[str, str, str, int]] = []  # (api, batch id, model, requests)
        self.batch_cancelled: list[str] = []
        self.batch_answered: list[tuple[str, str]] = []  # (model, prompt) answered inside a batch
        self.batch_media: list[list[dict[str, Any]]] = []  # the images and documents of each batched request
        self.prompt_caches: dict[tuple[str, str], float] = {}  # (model, system prompt) -> when it was last used

    # --- scripting -----------------------------------------------------------------------
    def script(self, model: str, **kw: Any) -> ModelScript:
        s = ModelScript(**kw)
        self.scripts[model] = s
        return s

    def _next(self, model: str, prompt: str) -> tuple[ModelScript, str | None, float]:
        with self.lock:
            s = self.scripts.get(model) or self.scripts.setdefault(model, ModelScript())
            fault = s.faults.pop(0) if s.faults else s.always
            s.requests += 1
            if fault is None and s.every is not None and s.requests % s.every[0] == 0:
                fault = s.every[1]
            if fault is None and s.fault_when is not None:
                fault = s.fault_when(prompt)
            if s.lognormal:
                med, sigma = s.lognormal
                delay = med * math.exp(sigma * self.rng.gauss(0, 1))
            else:
                delay = s.latency_ms
        return s, fault, delay

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> FakeProvider:
        fake = self

        class Handler(_Handler):
            provider = fake

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def requests_for(self, model: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.model == model]


class _Server(ThreadingHTTPServer):
    # The listen backlog must be set on the class: __init__ calls listen() with it. The default of 5
    # overflows when many SDK connections open at once on a busy machine, and the kernel resets them.
    request_queue_size = 256
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops its end (after an oversize header, a timeout) is part of the tests."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError | OSError):
            super().handle_error(request, client_address)


_BOMBS: dict[tuple[str, int], bytes] = {}


def _words(s: str) -> int:
    return max(1, len(s.split()))


class _Handler(BatchRoutes, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    provider: FakeProvider
    cached = 0
    reasoning = 0
    media_tokens = 0
    calls: list[dict[str, Any]] = []  # the calls of the answer being sent
    cache_write = 0
    cache_ttl = "5m"
    usage_extra: dict[str, Any] = {}
    tier: str | None = None

    def setup(self) -> None:
        super().setup()
        # Streams are many small writes: without TCP_NODELAY, Nagle's algorithm meets the
        # client's delayed ACK and adds ~40 ms that no real provider would.
        import socket

        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args: Any) -> None:  # keep test output clean
        return

    # --- plumbing -----------------------------------------------------------------------
    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: str) -> None:
        b = data.encode()
        self.wfile.write(f"{len(b):x}\r\n".encode() + b + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    stream_fault: str | None = None

    def _cut(self) -> None:
        """Drop the connection mid-response: a shutdown, or a reset (RST) for the 'reset' fault."""
        import socket
        import struct

        self.wfile.flush()
        self.close_connection = True
        try:
            if self.stream_fault == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _truncated(self) -> bool:
        """A stream that ends cleanly without its final chunk."""
        if self.stream_fault == "truncated":
            self._end_stream()
            return True
        return False

    def _oversize(self) -> None:
        body = b"{}"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("x-padding", "x" * 200_000)  # beyond any HTTP client's header limit
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _openai_empty(self, model: str, stream: bool) -> None:
        base = {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model}
        if stream:
            self._start_stream()
            self._chunk("data: " + json.dumps({**base, "object": "chat.completion.chunk", "choices": []}) + "\n\n")
            self._chunk("data: [DONE]\n\n")
            self._end_stream()
        else:
            self._json(200, {**base, "choices": [], "usage": self._usage_openai(5, 0)})

    def _anthropic_empty(self, model: str, stream: bool) -> None:
        msg = {"id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": self._usage_anthropic(5, 0)}
        if stream:
            self._start_stream()
            self._chunk(f"event: message_start\ndata: {json.dumps({'type': 'message_start', 'message': msg})}\n\n")
            self._chunk(f"event: message_stop\ndata: {json.dumps({'type': 'message_stop'})}\n\n")
            self._end_stream()
        else:
            self._json(200, msg)

    def _gemini_empty(self, model: str, stream: bool) -> None:
        body = {"candidates": [], "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}, "modelVersion": model}
        if stream:
            self._start_stream()
            self._chunk("data: " + json.dumps(body) + "\r\n\r\n")
            self._end_stream()
        else:
            self._json(200, body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        """GET /__seen: the requests served so far, with the server's own time for each."""
        if self.batch_route("GET", self.path):
            return
        if self.path == "/__batches":  # what the batch endpoints did, for benchmarks in another process
            with self.provider.lock:
                self._json(200, {"created": self.provider.batch_created, "cancelled": self.provider.batch_cancelled,
                                 "answered": len(self.provider.batch_answered)})
            return
        if self.path != "/__seen":
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        with self.provider.lock:
            rows = [{"model": s.model, "prompt": s.prompt, "server_ms": s.server_ms, "fault": s.fault,
                     "t_start": s.t_start, "t_end": s.t_end, "media": s.media} for s in self.provider.seen]
        self._json(200, rows)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.batch_route("POST", self.path):
            return
        t0 = time.perf_counter()
        wall0 = time.time()
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.path
        # The prompt a script sees: the last user turn that holds text (a conversation may end on tool results).
        if path.endswith("/chat/completions"):
            api, model, stream = "openai", body.get("model", ""), bool(body.get("stream"))
            msgs = body.get("messages", [])
            texts = [m["content"] if isinstance(m.get("content"), str) else
                     " ".join(p.get("text", "") for p in m.get("content") or [] if p.get("type") == "text")
                     for m in msgs if m.get("role") == "user"]
            prompt = next((t for t in reversed(texts) if t), "")
            tooling = [body.get("tools"), body.get("response_format")]
        elif path.endswith("/v1/messages"):
            api, model, stream = "anthropic", body.get("model", ""), bool(body.get("stream"))
            texts = [c if isinstance(c, str) else " ".join(b.get("text", "") for b in c if b.get("type") == "text")
                     for c in (m.get("content", "") for m in body.get("messages", [{}]) if m.get("role", "user") == "user")]
            prompt = next((t for t in reversed(texts) if t), texts[-1] if texts else "")
            tooling = [body.get("tools"), body.get("output_config")]
        else:
            m = re.search(r"/models/([^:/]+):(generateContent|streamGenerateContent)", path)
            if not m:
                self._json(404, {"error": {"message": f"no route {path}"}})
                return
            api, model, stream = "gemini", m.group(1), m.group(2) == "streamGenerateContent"
            texts = [" ".join(p.get("text", "") for p in c.get("parts", []) if "text" in p)
                     for c in body.get("contents", [{}]) if c.get("role", "user") == "user"]
            prompt = next((t for t in reversed(texts) if t), texts[-1] if texts else "")
            tooling = [body.get("tools"), (body.get("generationConfig") or {}).get("responseJsonSchema")]
        try:
            media = received_media(api, body)
        except ValueError as exc:  # refused as the real API refuses it: a 400 in its own format
            self._bad_request(api, str(exc))
            return
        script, fault, delay = self.provider._next(model, prompt)
        self.calls = []
        self.cached = script.cached_tokens
        self.reasoning = script.reasoning_tokens
        self.cache_write, self.usage_extra = 0, script.usage
        self.tier = body.get("service_tier") or body.get("serviceTier") or (
            body.get("speed") if api == "anthropic" else None)
        cache_key = self._prompt_cache(api, model, body, script, wall0)
        self.stream_fault = fault  # per request: a keep-alive connection serves several
        auth = self.headers.get("authorization") or self.headers.get("x-api-key") or self.headers.get("x-goog-api-key") or ""
        seen = Seen(api=api, model=model, path=path, body=body, prompt=prompt, stream=stream, fault=fault, auth=auth,
                    t_start=wall0, media=[{k: v for k, v in x.items() if k != "bytes"} for x in media])
        with self.provider.lock:
            self.provider.seen.append(seen)
        if delay:
            time.sleep(delay / 1000)
        try:
            if script.flood:
                self._flood(model, script.flood, script.flood_mb)
            elif fault and fault not in BODY_FAULTS:
                self._fault(api, fault, script)
            else:
                if script.read is not None:
                    got = script.read(prompt, [x["bytes"] for x in media if "bytes" in x])
                else:
                    got = script.answer(prompt) if callable(script.answer) else script.answer
                self.calls = [_call(i, c) for i, c in enumerate(got.get("tool_calls") or [])] if isinstance(got, dict) else []
                text = (got.get("content") or "") if isinstance(got, dict) else got
                text *= script.answer_times
                # Tool definitions and the output schema are input tokens, as the APIs count them
                # (about 4 characters of JSON a token).
                defs = sum(len(json.dumps(t)) // 4 for t in tooling if t)
                tin = (script.input_tokens(prompt) if callable(script.input_tokens) else script.input_tokens
                       if script.input_tokens is not None else _words(prompt) + defs)
                self.media_tokens = script.media_tokens * len(media)
                tin += self.media_tokens
                tout = script.output_tokens if script.output_tokens is not None else _words(text)
                if fault == "malformed":
                    self._malformed()
                elif fault == "oversize":
                    self._oversize()
                elif fault == "empty":
                    getattr(self, f"_{api}_empty")(model, stream)
                elif stream:
                    getattr(self, f"_{api}_stream")(model, text, tin, tout, fault in ("cut", "reset"), script.chunk_delay_ms)
                else:
                    if fault in ("cut", "reset", "truncated"):
                        self.send_response(200)
                        self.send_header("content-type", "application/json")
                        self.send_header("content-length", "500")
                        self.end_headers()
                        self.wfile.write(b'{"id": "x", "choi')
                        self._cut()
                    else:
                        getattr(self, f"_{api}_plain")(model, text, tin, tout)
        except (BrokenPipeError, ConnectionResetError):
            pass
        seen.server_ms = (time.perf_counter() - t0) * 1000
        seen.t_end = time.time()
        if cache_key is not None and not fault:
            with self.provider.lock:  # the prefix is cached once the answer is done
                self.provider.prompt_caches[cache_key] = max(self.provider.prompt_caches.get(cache_key, 0.0), seen.t_end)

    def _prompt_cache(self, api: str, model: str, body: dict[str, Any], script: ModelScript, arrived: float
                      ) -> tuple[str, str] | None:
        """Whether this request reads the shared prefix from the simulated cache or writes it."""
        if not script.prompt_cache:
            return None
        system = body.get("system") if api == "anthropic" else body.get("systemInstruction") if api == "gemini" else \
            next((m.get("content") for m in body.get("messages", []) if m.get("role") == "system"), None)
        marks = [b.get("cache_control") for b in (system if isinstance(system, list) else [])
                 + list(body.get("tools") or []) if isinstance(b, dict) and b.get("cache_control")]
        if api == "anthropic" and not marks:
            return None  # Anthropic caches only what the request marks
        self.cache_ttl = (marks[0] or {}).get("ttl", "5m") if marks else "5m"
        ttl = 3600.0 if self.cache_ttl == "1h" else script.cache_ttl_s
        key = (model, json.dumps(system, sort_keys=True))
        with self.provider.lock:
            last = self.provider.prompt_caches.get(key)
            if last is not None and last <= arrived and arrived - last <= ttl:
                self.cached = script.prompt_cache
                self.provider.prompt_caches[key] = arrived
            elif api != "gemini":
                self.cache_write = script.prompt_cache
        return key

    def _bad_request(self, api: str, msg: str) -> None:
        if api == "openai":
            body: Any = {"error": {"message": msg, "type": "invalid_request_error", "param": "messages", "code": None}}
        elif api == "anthropic":
            body = {"type": "error", "error": {"type": "invalid_request_error", "message": msg}}
        else:
            body = {"error": {"code": 400, "message": msg, "status": "INVALID_ARGUMENT"}}
        self._json(400, body)

    def _flood(self, model: str, kind: str, mb: int) -> None:
        """A valid answer far too big for memory: 'a' repeated flood_mb MB (see ModelScript.flood)."""
        mega = b"a" * (1 << 20)
        if kind == "sseline":
            self._start_stream()
            head = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [{"index": 0, "delta": {"content": "<>"}, "finish_reason": None}]}
            pre, post = (b"data: " + json.dumps(head).encode()).split(b"<>")
            self._chunk(pre.decode())
            for _ in range(mb):
                self.wfile.write(f"{len(mega):x}\r\n".encode() + mega + b"\r\n")
            self._chunk(post.decode() + "\n\ndata: [DONE]\n\n")
            self._end_stream()
            return
        head = {"id": "c", "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "<>"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}}
        pre, post = json.dumps(head).encode().split(b"<>")
        self.send_response(200)
        self.send_header("content-type", "application/json")
        if kind == "gzip":
            key = (model, mb)
            if key not in _BOMBS:  # made once: compressing the flood for every request would be the test's time
                z = zlib.compressobj(9, zlib.DEFLATED, 31)
                _BOMBS[key] = z.compress(pre) + b"".join(z.compress(mega) for _ in range(mb)) + z.compress(post) + z.flush()
            body = _BOMBS[key]
            self.send_header("content-encoding", "gzip")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("content-length", str(len(pre) + mb * len(mega) + len(post)))
        self.end_headers()
        self.wfile.write(pre)
        for _ in range(mb):
            self.wfile.write(mega)
        self.wfile.write(post)

    def _malformed(self) -> None:
        body = b"{this is not json"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _fault(self, api: str, fault: str, s: ModelScript) -> None:
        if fault == "hang":
            time.sleep(s.hang_s)
            self.close_connection = True
            return
        status = int(fault)
        msg = {"429": "rate limited", "500": "internal error", "502": "bad gateway", "503": "service unavailable",
               "529": "overloaded", "401": "invalid api key",
               "400": "Unsupported parameter: 'temperature' is not supported with this model.",
               "413": "request too large: the body exceeds the 32 MB limit"}[fault]
        if fault == "401":  # like real providers, echo the key back: modelsel must redact it
            sent = self.headers.get("authorization") or self.headers.get("x-api-key") or self.headers.get("x-goog-api-key") or ""
            msg += ": " + sent
            if s.echo_key_forms:
                import base64
                from urllib.parse import quote

                key = sent.removeprefix("Bearer ")
                msg += (f" | {key.upper()} | {quote(key, safe='')} | Basic {base64.b64encode(('user:' + key).encode()).decode()}"
                        f" | {' '.join(key)}")
        if s.error_message is not None:
            msg = s.error_message
        headers = {}
        if fault == "429":
            headers["retry-after"] = s.retry_after
            if s.retry_after_ms is not None:
                headers["retry-after-ms"] = s.retry_after_ms
        if api == "openai":
            kind = {429: "rate_limit_error", 401: "invalid_request_error", 400: "invalid_request_error",
                    413: "invalid_request_error"}.get(status, "server_error")
            body: Any = {"error": {"message": msg, "type": kind, "param": "temperature" if status == 400 else None, "code": None}}
        elif api == "anthropic":
            kind = {429: "rate_limit_error", 529: "overloaded_error", 401: "authentication_error", 400: "invalid_request_error",
                    413: "request_too_large"}.get(status, "api_error")
            body = {"type": "error", "error": {"type": kind, "message": msg}}
        else:
            st = {429: "RESOURCE_EXHAUSTED", 529: "UNAVAILABLE", 503: "UNAVAILABLE", 401: "UNAUTHENTICATED",
                  400: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT"}.get(status, "INTERNAL")
            body = {"error": {"code": status, "message": msg, "status": st}}
        self._json(status, body, headers)

    # --- OpenAI chat completions ----------------------------------------------------------
    def _usage_openai(self, tin: int, tout: int) -> dict[str, Any]:
        r = self.reasoning
        u: dict[str, Any] = {"prompt_tokens": tin, "completion_tokens": tout + r, "total_tokens": tin + tout + r}
        if self.cached or self.cache_write:
            u["prompt_tokens_details"] = {"cached_tokens": self.cached, "cache_write_tokens": self.cache_write}
        if r:
            u["completion_tokens_details"] = {"reasoning_tokens": r, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        return _merged(u, self.usage_extra)

    def _openai_plain(self, model: str, text: str, tin: int, tout: int) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": text if text or not self.calls else None}
        if self.calls:
            message["tool_calls"] = [{"id": c["id"], "type": "function",
                                      "function": {"name": c["name"], "arguments": c["raw"]}} for c in self.calls]
        self._json(200, {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if self.calls else "stop",
                         "logprobs": None}],
            "usage": self._usage_openai(tin, tout), **({"service_tier": self.tier} if self.tier else {}),
        })

    def _openai_stream(self, model: str, text: str, tin: int, tout: int, cut: bool, delay: float) -> None:
        self._start_stream()
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        pieces = _pieces(text) if text or not self.calls else []
        for i, p in enumerate(pieces):
            delta = {"role": "assistant", "content": p} if i == 0 else {"content": p}
            self._chunk("data: " + json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}) + "\n\n")
            if cut:
                self._cut()
                return
            if delay:
                time.sleep(delay / 1000)
        for i, c in enumerate(self.calls):  # the id and name once, then the arguments in fragments
            head = {"index": i, "id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": ""}}
            self._chunk("data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {"tool_calls": [head]},
                                                                    "finish_reason": None}]}) + "\n\n")
            for frag in _fragments(c["raw"]):
                d = {"tool_calls": [{"index": i, "function": {"arguments": frag}}]}
                self._chunk("data: " + json.dumps({**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]})
                            + "\n\n")
        if self._truncated():
            return
        finish = "tool_calls" if self.calls else "stop"
        self._chunk("data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}) + "\n\n")
        self._chunk("data: " + json.dumps({**base, "choices": [], "usage": self._usage_openai(tin, tout),
                                           **({"service_tier": self.tier} if self.tier else {})}) + "\n\n")
        self._chunk("data: [DONE]\n\n")
        self._end_stream()

    # --- Anthropic messages ---------------------------------------------------------------
    THINKING = "Let me think about which queue this belongs to."

    def _anthropic_plain(self, model: str, text: str, tin: int, tout: int) -> None:
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text or not self.calls else []
        if self.reasoning:
            content.insert(0, {"type": "thinking", "thinking": self.THINKING, "signature": "sig-fake"})
        content += [{"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["args"]} for c in self.calls]
        self._json(200, {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": "tool_use" if self.calls else "end_turn", "stop_sequence": None,
            "usage": self._usage_anthropic(tin, tout),
        })

    def _usage_anthropic(self, tin: int, tout: int) -> dict[str, Any]:
        # Anthropic reports cache reads apart from input_tokens, and thinking inside output_tokens.
        w = self.cache_write
        u: dict[str, Any] = {"input_tokens": tin - self.cached - w, "output_tokens": tout + self.reasoning,
                             "cache_read_input_tokens": self.cached, "cache_creation_input_tokens": w,
                             "cache_creation": {"ephemeral_5m_input_tokens": 0 if self.cache_ttl == "1h" else w,
                                                "ephemeral_1h_input_tokens": w if self.cache_ttl == "1h" else 0}}
        if self.tier == "fast":
            u["speed"] = "fast"
        if self.reasoning:
            u["output_tokens_details"] = {"thinking_tokens": self.reasoning}
        return _merged(u, self.usage_extra)

    def _anthropic_stream(self, model: str, text: str, tin: int, tout: int, cut: bool, delay: float) -> None:
        self._start_stream()

        def ev(name: str, data: dict[str, Any]) -> None:
            self._chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n")

        ev("message_start", {"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {**self._usage_anthropic(tin, 1)}}})
        idx = 0
        if self.reasoning:
            ev("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
            ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "thinking_delta", "thinking": self.THINKING}})
            ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "signature_delta", "signature": "sig-fake"}})
            ev("content_block_stop", {"type": "content_block_stop", "index": 0})
            idx = 1
        if text or not self.calls:
            ev("content_block_start", {"type": "content_block_start", "index": idx,
                                       "content_block": {"type": "text", "text": ""}})
            for p in _pieces(text):
                ev("content_block_delta", {"type": "content_block_delta", "index": idx,
                                           "delta": {"type": "text_delta", "text": p}})
                if cut:
                    self._cut()
                    return
                if delay:
                    time.sleep(delay / 1000)
            if self._truncated():
                return
            ev("content_block_stop", {"type": "content_block_stop", "index": idx})
            idx += 1
        for c in self.calls:  # a tool_use block, its input streamed as input_json_delta fragments
            ev("content_block_start", {"type": "content_block_start", "index": idx,
                                       "content_block": {"type": "tool_use", "id": c["id"], "name": c["name"], "input": {}}})
            for frag in _fragments(c["raw"]):
                ev("content_block_delta", {"type": "content_block_delta", "index": idx,
                                           "delta": {"type": "input_json_delta", "partial_json": frag}})
            ev("content_block_stop", {"type": "content_block_stop", "index": idx})
            idx += 1
        if self.calls and self._truncated():
            return
        final = {k: v for k, v in self._usage_anthropic(tin, tout).items() if k in ("output_tokens", "output_tokens_details")}
        ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use" if self.calls else "end_turn",
                                                                "stop_sequence": None}, "usage": final})
        ev("message_stop", {"type": "message_stop"})
        self._end_stream()

    # --- Gemini generateContent -----------------------------------------------------------
    def _gemini_body(self, model: str, text: str, tin: int, tout: int, finish: bool, thought: bool = False
                     ) -> dict[str, Any]:
        parts: list[dict[str, Any]] = [{"text": text}] if text or not (finish and self.calls) else []
        if thought:
            parts.insert(0, {"text": self.THINKING, "thought": True})
        if finish:  # calls come whole, with the last chunk
            parts += [{"functionCall": {"name": c["name"], "args": c["args"]}} for c in self.calls]
        cand: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish:
            cand["finishReason"] = "STOP"
        r = self.reasoning
        usage: dict[str, Any] = {"promptTokenCount": tin, "candidatesTokenCount": tout, "totalTokenCount": tin + tout + r}
        if r:
            usage["thoughtsTokenCount"] = r
        if self.cached:
            usage["cachedContentTokenCount"] = self.cached
        if self.media_tokens:
            usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": tin - self.media_tokens},
                                            {"modality": "IMAGE", "tokenCount": self.media_tokens}]
        usage = _merged(usage, self.usage_extra)
        return {"candidates": [cand], "usageMetadata": usage, "modelVersion": model}

    def _gemini_plain(self, model: str, text: str, tin: int, tout: int) -> None:
        self._json(200, self._gemini_body(model, text, tin, tout, True, thought=bool(self.reasoning)))

    def _gemini_stream(self, model: str, text: str, tin: int, tout: int, cut: bool, delay: float) -> None:
        self._start_stream()
        pieces = _pieces(text) if text or not self.calls else [""]
        for i, p in enumerate(pieces):
            last = i == len(pieces) - 1
            if last and self.stream_fault == "truncated":
                self._end_stream()
                return
            body = self._gemini_body(model, p, tin, tout if last else 0, last and not cut, thought=i == 0 and bool(self.reasoning))
            self._chunk("data: " + json.dumps(body) + "\r\n\r\n")
            if cut:
                self._cut()
                return
            if delay:
                time.sleep(delay / 1000)
        self._end_stream()


def _call(i: int, c: dict[str, Any]) -> dict[str, Any]:
    """A scripted call: its arguments as the raw text sent (OpenAI, streamed Anthropic) and as an
    object (Anthropic's tool_use input, Gemini's args; {} when the raw text is not a JSON object)."""
    raw = c.get("arguments", {})
    if not isinstance(raw, str):
        raw = json.dumps(raw)
    try:
        args = json.loads(raw)
    except ValueError:
        args = {}
    return {"id": c.get("id") or f"call_{i + 1}", "name": c["name"], "raw": raw,
            "args": args if isinstance(args, dict) else {}}


def _fragments(raw: str, n: int = 3) -> list[str]:
    """JSON text cut in n pieces, as the APIs stream arguments (mid-token, mid-string)."""
    size = max(1, -(-len(raw) // n))
    return [raw[i:i + size] for i in range(0, len(raw), size)] or [""]


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with `extra`'s fields set, nested objects merged."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _pieces(text: str) -> list[str]:
    """Split an answer into stream deltas (words with their spaces)."""
    parts = re.findall(r"\S+\s*|\s+", text)
    return parts or [""]


def main() -> None:
    """Run the fake in its own process (benchmarks): `python -m tests.fakes.server '{"model": {...}}'`.
    Prints the URL, then serves until killed. Only loopback."""
    import sys

    fake = FakeProvider(seed=int(json.loads(sys.argv[2]) if len(sys.argv) > 2 else 7)).start()
    for model, kw in json.loads(sys.argv[1]).items():
        if "lognormal" in kw:
            kw["lognormal"] = tuple(kw["lognormal"])
        if kw.get("read") == "receipt":  # a fake vision model (tests/fakes/media.py), named here
            from tests.fakes.media import receipt_reader

            kw["read"] = receipt_reader(int(kw.pop("misread_every", 0)))
        if kw.get("batch_lines") == "mangle":  # a hook cannot travel as JSON: named here
            from tests.fakes.batches import mangle_results

            kw["batch_lines"] = mangle_results
        fake.script(model, **kw)
    print(fake.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
