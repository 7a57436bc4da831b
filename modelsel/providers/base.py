"""The one small interface every provider implements."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any, Literal

from modelsel.redaction import register

if TYPE_CHECKING:
    from modelsel.inputs.candidate import Candidate
    from modelsel.inputs.evalset import Example
    from modelsel.inputs.tools import Tooling

# What went wrong with a call. The first seven are worth another attempt; the rest are not.
ErrorKind = Literal["rate_limit", "server", "timeout", "connection", "malformed", "stream_cut", "empty",
                    "auth", "bad_request", "bad_usage", "fatal"]
RETRYABLE = frozenset({"rate_limit", "server", "timeout", "connection", "malformed", "stream_cut", "empty"})


@dataclass
class CallRequest:
    messages: list[dict[str, Any]]  # chat form: [{"role": "user", "content": text or parts (inputs/media.py)}]
    prompt: str  # completion form, for base models
    params: dict[str, Any]
    timeout_s: float
    example: Example | None = None
    repeat: int = 0
    max_chars: int = 200_000  # an answer past this is cut: reading on would stall every other call's clock
    tooling: Tooling | None = None  # tools offered, tool_choice, output schema: each provider sends them its own way


@dataclass
class CallResult:
    text: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: float  # around the request only: measured by the provider, after any queueing
    ttft_ms: float | None = None
    finish_reason: str | None = None
    cached_input_tokens: int = 0  # input tokens billed at the cached rate (counted in input_tokens too)
    cache_write_tokens: int = 0  # input tokens written to the prompt cache (counted in input_tokens too)
    cache_write_1h_tokens: int = 0  # of those, kept an hour (Anthropic bills them at their own rate)
    # The usage object as the API sent it (its own field names): genai-prices' extractor prices
    # every field it knows from it, and the response cache keeps it so a re-run reprices the same.
    usage: dict[str, Any] | None = None
    service_tier: str | None = None  # the tier the API says served the call (flex, priority, ...), where it says
    reasoning_tokens: int | None = None  # of output_tokens, those spent thinking (None: the API does not say)
    truncated: bool = False  # the answer passed max_chars and the stream was left there
    extra: dict[str, Any] = field(default_factory=dict)
    # The calls the model made: {"id", "name", "arguments": the raw JSON text it sent}.
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


class ProviderError(Exception):
    """A failed call, classified so the runner can decide whether to retry."""

    def __init__(self, kind: ErrorKind, message: str, *, status: int | None = None,
                 retry_after_s: float | None = None, latency_ms: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after_s = retry_after_s
        self.latency_ms = latency_ms

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


def retry_after(headers: Any) -> float | None:
    """Seconds the server asks us to wait (retry-after-ms, or Retry-After in seconds or as an
    HTTP date). Negative, non-finite or garbage values are treated as absent; the runner caps
    what it honours."""
    import math

    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            v = float(ms) / 1000
            if math.isfinite(v) and v >= 0:
                return v
        except ValueError:
            pass
    val = headers.get("retry-after")
    if not val:
        return None
    try:
        v = float(val)
        return v if math.isfinite(v) and v >= 0 else None
    except ValueError:
        from datetime import datetime
        from email.utils import parsedate_to_datetime

        try:
            v = (parsedate_to_datetime(val) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return v if v >= 0 else None


_KNOWN: dict[Any, frozenset[str]] = {}


def split_params(fn: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments the SDK method knows go as they are; the rest go in `extra_body`,
    so a parameter this SDK version has no keyword for still reaches the API. The method's
    signature is read once per method, not per call (it runs inside the call's clock)."""
    key = getattr(fn, "__func__", fn)
    known = _KNOWN.get(key)
    if known is None:
        import inspect

        known = _KNOWN[key] = frozenset(inspect.signature(fn).parameters)
    out = {k: v for k, v in params.items() if k in known}
    extra = {k: v for k, v in params.items() if k not in known}
    if extra:
        out["extra_body"] = {**out.get("extra_body", {}), **extra}
    return out


def classify_status(status: int) -> ErrorKind:
    if status == 429:
        return "rate_limit"
    if status in (401, 403):
        return "auth"
    if status in (408, 409, 425) or status >= 500:
        return "server"
    return "bad_request"


_MALFORMED = ("JSONDecodeError", "ValidationError", "UnknownApiResponseError", "AssertionError", "KeyError",
              "TypeError", "ValueError", "IndexError")
_CONNECTION = ("APIConnectionError", "ConnectError", "ReadError", "WriteError", "RemoteProtocolError",
               "LocalProtocolError", "ConnectionResetError", "ConnectionError", "ClientConnectionError",
               "ServerDisconnectedError", "ClientPayloadError", "IncompleteRead")


def _api_message(exc: Exception) -> str:
    """The provider's own error message where its body carries one (kept for a 400 that names the
    unsupported parameter), else the SDK's."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
    msg = getattr(exc, "message", None)
    return msg if isinstance(msg, str) and msg else str(exc)


def since(t0: float) -> float:
    """Milliseconds since `t0` (perf_counter)."""
    return (time.perf_counter() - t0) * 1000


def from_status(exc: BaseException, status: int, latency: float) -> ProviderError:
    """An HTTP error answer: its kind by status, the provider's own message, the Retry-After it asked for."""
    resp = getattr(exc, "response", None)
    return ProviderError(classify_status(status), f"HTTP {status}: {_api_message(exc)}", status=status,  # type: ignore[arg-type]
                         retry_after_s=retry_after(getattr(resp, "headers", None)), latency_ms=latency)


def stainless_error(exc: BaseException, t0: float, sdk: Any) -> ProviderError:
    """The errors of the `openai` and `anthropic` SDKs, which share one layout (APITimeoutError, a
    subclass of APIConnectionError, first; APIStatusError with its status), by their own classes."""
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderError("timeout", "request timed out", latency_ms=since(t0))
    if isinstance(exc, sdk.APIStatusError):
        return from_status(exc, exc.status_code, since(t0))  # type: ignore[attr-defined]
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderError("connection", f"{type(exc).__name__}: {exc}", latency_ms=since(t0))
    return classify_exception(exc, t0)


def classify_exception(exc: BaseException, t0: float) -> ProviderError:
    """What is left once a provider has classified its own SDK's errors (`Provider.classify`): the
    transport beneath (httpx, aiohttp), timeouts, answers that cannot be read, anything with a status."""
    latency = since(t0)
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return ProviderError("timeout", "request timed out", latency_ms=latency)
    if isinstance(status, int):
        return from_status(exc, status, latency)
    chain = [type(e).__name__ for e in (exc, exc.__cause__, exc.__context__) if e is not None]
    if any(n in _CONNECTION for n in chain):
        return ProviderError("connection", f"{name}: {exc}", latency_ms=latency)
    if any(n in _MALFORMED for n in chain):
        return ProviderError("malformed", f"the response could not be read ({name}: {str(exc)[:200]})", latency_ms=latency)
    return ProviderError("fatal", f"{name}: {exc}", latency_ms=latency)


class Collector:
    """The one skeleton every streaming provider reads an answer with: the streamed text up to
    `max_chars` (past it the provider stops reading: a 10 MB answer parsed chunk by chunk on the
    event loop delays every other call in flight), the time to its first token, and the result of
    an answer cut at the cap.

    `pace()` gives the event loop back every PACE chunks. An SDK's stream decodes every event
    already in its read buffer (64 kB: thousands of small chunks) without awaiting anything, so one
    long answer would hold the loop for hundreds of milliseconds while other calls' answers wait to
    have their clocks stopped."""

    PACE = 32

    def __init__(self, max_chars: int, t0: float | None = None) -> None:
        self.max_chars = max_chars
        self.parts: list[str] = []
        self.chars = 0
        self.truncated = False
        self.t0 = t0
        self.ttft: float | None = None

    async def take(self, piece: str | None) -> bool:
        """A streamed piece of the answer: the first one stops the first-token clock; False once the
        answer is past the cap (stop reading)."""
        if not piece:
            return True
        if self.ttft is None and self.t0 is not None:
            self.ttft = since(self.t0)
        if not self.add(piece):
            return False
        await self.pace()
        return True

    def cut(self, prompt: str, latency: float, input_tokens: int | None = None) -> CallResult:
        """The answer cut at the cap, its usage estimated where the provider's never came."""
        tin, tout = cut_usage(self, prompt)
        return CallResult(text=self.text, input_tokens=input_tokens or tin, output_tokens=tout, latency_ms=latency,
                          ttft_ms=self.ttft, finish_reason="cut_at_max_answer_chars", truncated=True,
                          extra={"chars_read": self.chars})

    def add(self, text: str) -> bool:
        """Keep `text`; False once the answer is past the cap (stop reading)."""
        self.parts.append(text)
        self.chars += len(text)
        if self.chars > self.max_chars:
            self.truncated = True
            return False
        return True

    async def pace(self) -> None:
        if len(self.parts) % self.PACE == 0:
            import asyncio

            await asyncio.sleep(0)

    @property
    def text(self) -> str:
        t = "".join(self.parts)
        return t[: self.max_chars] if self.truncated else t


def cut_usage(c: Collector, prompt: str) -> tuple[int, int]:
    """(input, output) tokens of an answer cut at the cap, whose usage never arrived: estimated
    from the text seen (4 characters a token), so its cost is a lower bound."""
    return max(1, len(prompt) // 4), max(1, c.chars // 4)


# Output a provider may report past `max_tokens`: some count the stop token, some round.
_OUTPUT_SLACK = 16
WINDOW_MARGIN = 4
# Without a stated context window or max_tokens, one call's usage is still bounded: the largest window
# any model offers today is 10 million tokens (Llama 4 Scout), so past 4 times that a count is impossible.
ABSOLUTE_WINDOW = 10_000_000


def usage_problem(res: CallResult, params: dict[str, Any], context_window: int | None) -> str | None:
    """Why the token usage a provider reported cannot be true, or None. Usage becomes money, so an
    impossible count (negative, not a whole number, more than the model's context window or the
    request's max_tokens, more cached or thinking tokens than there are tokens) is a fault of that
    call, never a figure."""
    counts = {"input_tokens": res.input_tokens, "output_tokens": res.output_tokens,
              "cached_input_tokens": res.cached_input_tokens, "cache_write_tokens": res.cache_write_tokens,
              "cache_write_1h_tokens": res.cache_write_1h_tokens,
              "reasoning_tokens": res.reasoning_tokens}
    for name, v in counts.items():
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int):
            return f"{name}={v!r} is not a whole number"
        if v < 0:
            return f"{name}={v} is negative"
    inp, out = res.input_tokens or 0, res.output_tokens or 0
    if res.cached_input_tokens > inp:
        return f"cached_input_tokens={res.cached_input_tokens} exceeds input_tokens={inp}"
    if res.cached_input_tokens + res.cache_write_tokens > inp:
        return (f"cached_input_tokens={res.cached_input_tokens} + cache_write_tokens={res.cache_write_tokens} exceeds "
                f"input_tokens={inp}")
    if res.cache_write_1h_tokens > res.cache_write_tokens:
        return f"cache_write_1h_tokens={res.cache_write_1h_tokens} exceeds cache_write_tokens={res.cache_write_tokens}"
    if (res.reasoning_tokens or 0) > out:
        return f"reasoning_tokens={res.reasoning_tokens} exceeds output_tokens={out}"
    # Listed windows lag behind long-context options (a model priced for a tier above its listed
    # window serves it), so only a count far past the window is impossible rather than surprising.
    if context_window and inp + out > WINDOW_MARGIN * context_window:
        return (f"input_tokens={inp} + output_tokens={out} is more than {WINDOW_MARGIN} times the model's listed "
                f"context window of {context_window:,}")
    total = inp + out + (res.cache_write_tokens or 0)
    if not context_window and total > WINDOW_MARGIN * ABSOLUTE_WINDOW:  # no stated window: the absolute bound
        return (f"{total:,} tokens in one call is more than {WINDOW_MARGIN} times the largest context window any "
                f"model offers ({ABSOLUTE_WINDOW:,})")
    cap = output_cap(params)
    if cap is not None and out > cap + _OUTPUT_SLACK:
        return f"output_tokens={out} exceeds the request's max_tokens={cap}"
    return None


def output_cap(params: dict[str, Any]) -> int | None:
    """The output tokens a request allows (max_tokens, or its other names), when it states them."""
    return next((params[k] for k in ("max_tokens", "max_completion_tokens", "max_output_tokens")
                 if isinstance(params.get(k), int) and not isinstance(params.get(k), bool)), None)


def no_finish(got_text: bool, latency_ms: float) -> ProviderError:
    """A response that never said it was finished: empty (no choices or content) or cut mid-way."""
    if not got_text:
        return ProviderError("empty", "the response had no choices or content", latency_ms=latency_ms)
    return ProviderError("stream_cut", "the stream ended without a finish reason (cut mid-way)", latency_ms=latency_ms)


class Provider:
    """Base class. A provider declares what it knows (its key variable, what shares a
    concurrency slot and a cache entry, the facts of a model it runs itself) and implements
    `complete`. Built-in providers register exactly as an outside one would."""

    needs_key = False
    key_env: str | None = None  # the environment variable holding the API key, unless the candidate names one
    default_concurrency = 8  # calls in flight per model
    max_concurrency: int | None = None  # a hard limit --concurrency cannot raise (llama.cpp: 1)
    cacheable = True  # answers are stored in the response cache (a replay is not: it is the record itself)
    takes_tools = False  # can offer tools to the model and read its calls back
    takes_schema = False  # can hold the answer to a JSON Schema (structured output)
    standard_api = False  # speaks an API many hosts speak (the lock-in rule prefers it among equals)
    over_http = False  # calls go over the network: this machine's load can distort their measured latency
    # Parameters this provider applies when the candidate does not set them. The runner records
    # them with every call, so a comparison states exactly what each model was asked with.
    defaults: dict[str, Any] = {}

    def __init__(self, candidate: Candidate, search_path: str | None = None) -> None:
        self.candidate = candidate
        self.search_path = search_path

    # --- what the provider knows about its candidates -------------------------------------------
    @classmethod
    def endpoint_key(cls, c: Candidate) -> str:
        """Calls with the same key share an endpoint (and an optional endpoint-wide cap)."""
        return f"{c.provider}|{c.base_url or ''}"

    @classmethod
    def model_key(cls, c: Candidate) -> str:
        """Calls with the same key share one model's concurrency slots (providers limit per model)."""
        return f"{cls.endpoint_key(c)}|{c.model}"

    @classmethod
    def cache_identity(cls, c: Candidate) -> dict[str, Any]:
        """What makes two candidates' answers interchangeable in the response cache."""
        return {"provider": c.provider, "model": c.model, "base_url": c.base_url}

    @classmethod
    def vendor_of(cls, spec: Any) -> str:
        """Who runs a custom (non-catalog) candidate, for the fallback rule: a different vendor
        fails independently. An endpoint is known by its host: two paths or ports of one host go
        down together, so they are not two vendors."""
        if spec.base_url:
            from urllib.parse import urlsplit

            return urlsplit(spec.base_url).hostname or spec.base_url
        return spec.provider or "custom"

    default_host = "this machine"  # where a request goes when the candidate names no base_url

    @classmethod
    def outage_host(cls, c: Any) -> str:
        """Where a request goes, for outage purposes: the host of its base_url (a gateway such as
        OpenRouter or a LiteLLM proxy is one host whichever vendors sit behind it), else the API's
        own host. Every loopback name is this machine."""
        if c.base_url:
            from urllib.parse import urlsplit

            host = (urlsplit(c.base_url).hostname or c.base_url).lower().rstrip(".")
            if host in ("localhost", "::1", "0.0.0.0", "ip6-localhost") or host.startswith("127."):
                return "this machine"
            return host
        return cls.default_host

    @classmethod
    def own_facts(cls, spec: Any) -> tuple[dict[str, Any], str] | None:
        """Facts this provider knows for a custom candidate (it runs on this machine), and their source."""
        return None

    @classmethod
    def spec_problem(cls, spec: Any) -> tuple[str, str] | None:
        """(message, field) when a custom candidate lacks what this provider needs."""
        return None

    @classmethod
    def media_problem(cls, blobs: list[Any]) -> str | None:
        """Why this provider cannot send one example's images and files (inputs/media.py Blobs) in
        one request, or None. Decided before any call: such a candidate is not evaluated."""
        return None

    def cannot_take(self, tooling: Tooling | None) -> str | None:
        """Why this candidate cannot be asked with these tools or this schema (it is then not evaluated,
        before any call), or None."""
        if tooling is None:
            return None
        if (tooling.tools or tooling.tool_choice) and not self.takes_tools:
            return f"the {self.candidate.provider} provider cannot offer tools to the model (the eval set needs them)"
        if tooling.schema is not None and not self.takes_schema:
            return f"the {self.candidate.provider} provider cannot hold an answer to a JSON Schema (output.json_schema)"
        return None

    def unavailable(self, load_code: bool = True) -> str | None:
        """Why this candidate cannot be evaluated here (missing key or extra), or None. `check`
        passes load_code=False: nothing of the user's code runs to answer it."""
        env = self.candidate.api_key_env or self.key_env
        if self.needs_key and env and not os.environ.get(env):
            return f"no API key (set {env})"
        return None

    def prepare(self, timeout_s: float) -> None:
        """Import the SDK and build the client before any call is timed: importing an SDK can take
        a second and would block the event loop while other candidates' requests are in flight."""
        client = getattr(self, "client", None)
        if callable(client):
            client(timeout_s)

    def api_key(self) -> str | None:
        env = self.candidate.api_key_env or self.key_env
        key = os.environ.get(env) if env else None
        if key:  # whatever its variable is called, a key this run sends is redacted by value everywhere

            register(key)
        return key

    async def complete(self, req: CallRequest) -> CallResult:  # pragma: no cover - interface
        raise NotImplementedError

    def classify(self, exc: BaseException, t0: float) -> ProviderError:
        """A failed call as a retryable or final error. A provider over an SDK names its own SDK's
        error classes here (a Bedrock provider its botocore ThrottlingException); what it does not
        know falls to the transport-level classification."""
        return classify_exception(exc, t0)

    async def aclose(self) -> None:
        return None


def key_exposure(base_url: str | None, sends_key: bool, allowed: bool) -> str | None:
    """Why a request with an API key must not go to `base_url`, or None. A link-local address or a
    cloud metadata service, however spelled (providers/addresses.py), is never a model endpoint (an
    imported config pointing there is after the key, or the instance's own credentials); plain http
    to another host shows the key to the path."""
    if not base_url or not sends_key:
        return None
    from urllib.parse import urlsplit

    from modelsel.providers.addresses import is_loopback, metadata_reason

    u = urlsplit(base_url)
    try:
        host = u.hostname or ""
    except ValueError:  # an unbalanced [ ... ]
        host = u.netloc
    what = metadata_reason(host)
    if what is not None:
        return (f"{base_url} is a link-local or cloud metadata address, not a model endpoint ({what}): no key is "
                "sent there")
    if u.scheme == "http" and not is_loopback(host) and not allowed:
        return (f"{base_url} is plain http on another host: the API key would cross the network unencrypted. Use "
                "https, or set allow_plain_http: true on this candidate if the network is yours")
    return None


def on_this_machine(source: str, **more: Any) -> tuple[dict[str, Any], str]:
    """The compliance facts of a model that runs on this machine: no third party sees the data."""
    return ({"trains_on_data": False, "retention_days": 0, "baa_available": True, "regions": ["any"],
             "self_hosted": True, "open_weights": True, "standard_api": True, "modalities": ["text"], **more}, source)


_SHARED_HTTP: dict[tuple[str, str, float, str], Any] = {}


def shared_http_client(sdk: str, base_url: str | None, timeout_s: float, factory: Any, pool: str = "") -> Any:
    """One HTTP client per SDK, endpoint and `pool` (the model: candidates on one model share it).
    A pool per model, not per endpoint: a pool's bookkeeping walks all its connections on every
    request and answer, and one pool of 128 connections for four models cost each call ~0.4 ms of the
    event loop, inside the other calls' clocks. The TLS context (20-40 ms to build) is built once and
    shared, so a client costs well under a millisecond."""
    key = (sdk, base_url or "", timeout_s, pool)
    client = _SHARED_HTTP.get(key)
    if client is None or client.is_closed:
        from modelsel.providers.bounded import bound

        client = _SHARED_HTTP[key] = bound(factory(verify=_tls_context()))  # every response read at most its bytes
    return client


_TLS: list[Any] = []
_TLS_BUILDER: list[Any] = []


def build_tls_early() -> None:
    """Start building the TLS context in a thread. Loading the CA bundle takes 50-100 ms; started
    beside the imports still to come, it is ready when the first client asks for it (the run's
    timing marks showed no wait at the join) instead of lying on the path to the first request."""
    if _TLS or _TLS_BUILDER:
        return
    import threading

    def build() -> None:
        try:
            _build_tls()
        except Exception:  # said where the context is asked for: _tls_context builds it again there
            pass

    t = threading.Thread(target=build, name="modelsel-tls", daemon=True)
    _TLS_BUILDER.append(t)
    t.start()


def _build_tls() -> None:
    if not _TLS:
        import httpx2

        _TLS.append(httpx2.create_ssl_context())


def _tls_context() -> Any:
    """The TLS context the SDKs' HTTP client would build for itself (certifi, or SSL_CERT_FILE /
    SSL_CERT_DIR from the environment), built once. If the early build failed, it is built here,
    where its error reaches the caller."""
    if _TLS_BUILDER:
        _TLS_BUILDER[0].join()
    if not _TLS:
        _build_tls()
    return _TLS[0]


class SdkProvider(Provider):
    """A cloud API reached through its official SDK: one SDK client per candidate over a shared
    HTTP client per endpoint, built before timing starts, SDK retries off (the runner retries),
    closed at the end of the run."""

    needs_key = True
    over_http = True
    default_concurrency = 8
    defaults: dict[str, Any] = {"stream": True}

    def __init__(self, candidate: Candidate, search_path: str | None = None) -> None:
        super().__init__(candidate, search_path)
        self._client: Any = None

    def client(self, timeout_s: float) -> Any:
        if self._client is None:
            self._client = self.make_client(timeout_s)
        return self._client

    def make_client(self, timeout_s: float) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def request_of(self, req: CallRequest) -> Any:  # pragma: no cover - interface
        """The request in the API's own terms, built before the clock starts."""
        raise NotImplementedError

    async def call(self, client: Any, req: CallRequest, request: Any, t0: float) -> CallResult:  # pragma: no cover
        """One call, timed from `t0`; a streamed answer read through a Collector."""
        raise NotImplementedError

    async def complete(self, req: CallRequest) -> CallResult:
        """The skeleton every SDK provider shares: client and request built outside the clock, the
        call timed, any failure classified by the provider's own `classify`."""
        from modelsel.providers.bounded import RESPONSE_BYTES, cap_for, too_large

        client = self.client(req.timeout_s)
        if any(isinstance(m.get("content"), list) for m in req.messages):
            import asyncio

            # Images and files are read and encoded off the event loop: other calls' clocks are running.
            request = await asyncio.to_thread(self.request_of, req)
        else:
            request = self.request_of(req)
        RESPONSE_BYTES.set(cap_for(req.max_chars))  # this call's task only: its response is read at most this far
        t0 = time.perf_counter()
        try:
            return await self.call(client, req, request, t0)
        except ProviderError:
            raise
        except Exception as exc:
            if (big := too_large(exc)) is not None:  # the SDK may wrap it as a connection error: it is not one
                raise ProviderError("malformed", str(big), latency_ms=since(t0)) from None
            raise self.classify(exc, t0) from None

    async def close_client(self, client: Any) -> None:
        await client.close()

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                await self.close_client(client)
            except Exception:  # closing must never turn a finished run into a failure
                pass
