"""Answers too big for memory: every response is read at most so many bytes, after decompression.

An answer is cut at `run.max_answer_chars` once it is text, but the bytes come first: a non-streamed
1 GB body, a 1 MB gzip bomb or a streamed event line without its newline were read whole (2.7 GB,
then MemoryError) before any of that text existed. The SDKs (openai, anthropic, google-genai) all
read through an httpx-style client (`httpx2`), so the cap sits there, once for all of them: a
request hook asks for the encodings decoded here (gzip, deflate), and a response hook replaces the
response's byte stream by one that decompresses in 64 kB steps and raises ResponseTooLarge as soon as
the bytes pass the cap. The SDK then never holds more than the cap, whatever it buffers.

The cap is the call's answer limit in bytes: `max_chars` times BYTES_PER_CHAR (a streamed answer
comes in events of a token or two, each wrapped in a few hundred bytes of JSON) plus 8 MB (an
unstreamed answer a little past the limit is still read and cut as text); 200,000 characters (the
default) make 28 MB. A call sets it for its own task (a context variable);
elsewhere (a batch's status, its results files, which may be far larger) the cap is 1 GB. A normal response costs
two hook calls and one generator step per chunk (benchmarks/overhead.py measures it).
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

BYTES_PER_CHAR = 100
STEP = 64 * 1024


def cap_for(max_chars: int) -> int:
    """The bytes a response may take for an answer of at most `max_chars` characters (and 8 MB more, so an
    unstreamed answer somewhat past the cap is still read, and cut as text, not refused)."""
    return max_chars * BYTES_PER_CHAR + (8 << 20)


# Outside a call (a batch's status, its results file) the cap is the results files' (batch.MAX_RESULT_BYTES).
RESPONSE_BYTES: ContextVar[int] = ContextVar("modelsel_response_bytes", default=(1 << 30) + (1 << 20))


class ResponseTooLarge(Exception):
    """The response passed the bytes its answer may take; what was read is dropped."""


async def _on_request(request: Any) -> None:
    request.headers["Accept-Encoding"] = "gzip, deflate"  # the encodings decoded, within the cap, below


async def _on_response(response: Any) -> None:
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("identity",):
        encoding = ""
    base = next((c for c in type(response.stream).__mro__ if c.__name__ == "AsyncByteStream"), None)
    if base is None:  # a synchronous client: not one modelsel makes
        return
    response.stream = _stream_class(base)(response.stream, RESPONSE_BYTES.get(), encoding)
    if encoding:
        del response.headers["content-encoding"]  # decoded here, so the client does not decode it again


_CLASSES: dict[type, type] = {}


def _stream_class(base: type) -> type:
    """A byte stream of the client's own kind (httpx or httpx2) that counts, decodes and stops."""
    cls = _CLASSES.get(base)
    if cls is None:
        class Capped(base):  # type: ignore[misc, valid-type]
            def __init__(self, inner: Any, limit: int, encoding: str) -> None:
                self.inner, self.limit, self.encoding = inner, limit, encoding

            async def __aiter__(self) -> AsyncIterator[bytes]:
                if self.encoding and self.encoding not in ("gzip", "x-gzip", "deflate"):
                    raise ResponseTooLarge(f"the response came in an encoding that was not asked for "
                                           f"({self.encoding[:40]!r}); not read")
                d = zlib.decompressobj(zlib.MAX_WBITS | 32) if self.encoding else None  # gzip or zlib, by header
                n = 0
                async for chunk in self.inner:
                    if d is None:
                        n += len(chunk)
                        if n > self.limit:
                            raise ResponseTooLarge(_said(self.limit))
                        yield chunk
                        continue
                    data = chunk
                    while data:
                        try:
                            out = d.decompress(data, STEP)
                        except zlib.error as exc:
                            raise ResponseTooLarge(f"the response's {self.encoding} body could not be decoded ({exc})") from None
                        data = d.unconsumed_tail
                        n += len(out)
                        if n > self.limit:
                            raise ResponseTooLarge(_said(self.limit))
                        if out:
                            yield out

            async def aclose(self) -> None:
                await self.inner.aclose()

        cls = _CLASSES[base] = Capped
    return cls


def _said(limit: int) -> str:
    return (f"the response passed {limit / 1e6:,.0f} MB (run.max_answer_chars x {BYTES_PER_CHAR} bytes): it was read no "
            "further (an answer that size cannot be read into memory)")


HOOKS: dict[str, list[Any]] = {"request": [_on_request], "response": [_on_response]}


def bound(client: Any) -> Any:
    """The client, every response it reads capped (its own hooks kept)."""
    hooks = client.event_hooks
    if _on_response not in hooks.get("response", []):
        client.event_hooks = {"request": [*hooks.get("request", []), _on_request],
                              "response": [*hooks.get("response", []), _on_response]}
    return client


def too_large(exc: BaseException) -> ResponseTooLarge | None:
    """The ResponseTooLarge behind an SDK's error (it wraps what the transport raised), or None."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, ResponseTooLarge):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None
