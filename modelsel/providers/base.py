"""The one small interface every provider implements."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from modelsel.catalog import Candidate
    from modelsel.evalset import Example

ErrorKind = Literal["rate_limit", "transient", "timeout", "fatal"]


@dataclass
class CallRequest:
    messages: list[dict[str, str]]  # chat form: [{"role": "user", "content": ...}]
    prompt: str  # completion form, for base models
    params: dict[str, Any]
    timeout_s: float
    example: Example | None = None
    repeat: int = 0


@dataclass
class CallResult:
    text: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: float  # around the request only: measured by the provider, after any queueing
    ttft_ms: float | None = None
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


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
        return self.kind != "fatal"


def retry_after(headers: Any) -> float | None:
    """Seconds from a Retry-After (or retry-after-ms) header, if the server sent one."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    val = headers.get("retry-after")
    if not val:
        return None
    try:
        return max(0.0, float(val))
    except ValueError:
        from datetime import datetime
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, (parsedate_to_datetime(val) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def split_params(fn: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments the SDK method knows go as they are; the rest go in `extra_body`,
    so a parameter this SDK version has no keyword for still reaches the API."""
    import inspect

    known = set(inspect.signature(fn).parameters)
    out = {k: v for k, v in params.items() if k in known}
    extra = {k: v for k, v in params.items() if k not in known}
    if extra:
        out["extra_body"] = {**out.get("extra_body", {}), **extra}
    return out


def classify_status(status: int) -> ErrorKind:
    if status == 429:
        return "rate_limit"
    if status in (408, 409, 425) or status >= 500:
        return "transient"
    return "fatal"


class Provider:
    """Base class. Subclasses set `needs_key` and implement `complete`."""

    needs_key = False
    default_concurrency = 8
    # Parameters this provider applies when the candidate does not set them. The runner records
    # them with every call, so a comparison states exactly what each model was asked with.
    defaults: dict[str, Any] = {}

    def __init__(self, candidate: Candidate) -> None:
        self.candidate = candidate

    def unavailable(self) -> str | None:
        """Why this candidate cannot be evaluated here (missing key or extra), or None."""
        env = self.candidate.api_key_env
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
        env = self.candidate.api_key_env
        return os.environ.get(env) if env else None

    async def complete(self, req: CallRequest) -> CallResult:  # pragma: no cover - interface
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class SdkProvider(Provider):
    """A cloud API reached through its official SDK: one client per candidate, built before
    timing starts, SDK retries off (the runner retries), closed at the end of the run."""

    needs_key = True
    default_concurrency = 8
    defaults: dict[str, Any] = {"stream": True}

    def __init__(self, candidate: Candidate) -> None:
        super().__init__(candidate)
        self._client: Any = None

    def client(self, timeout_s: float) -> Any:
        if self._client is None:
            self._client = self.make_client(timeout_s)
        return self._client

    def make_client(self, timeout_s: float) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    async def close_client(self, client: Any) -> None:
        await client.close()

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                await self.close_client(client)
            except Exception:  # closing must never turn a finished run into a failure
                pass
