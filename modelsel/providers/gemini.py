"""Google Gemini through the official `google-genai` SDK (generateContent, streamed)."""

from __future__ import annotations

from typing import Any

from modelsel.inputs.media import message_text, read_blob
from modelsel.providers.base import (
    CallRequest,
    CallResult,
    Collector,
    ProviderError,
    SdkProvider,
    classify_exception,
    from_status,
    no_finish,
    since,
)

INLINE_LIMIT = 20 * 2**20  # bytes of a generateContent request with inline data (https://ai.google.dev/gemini-api/docs/image-understanding)
_PARAM_MAP = {"max_tokens": "max_output_tokens", "stop": "stop_sequences"}


def wire_parts(content: Any) -> list[Any]:
    """A message's content as Gemini parts: text, and each image or PDF as `inline_data` (its bytes;
    the SDK sends them in base64)."""
    from google.genai import types

    if not isinstance(content, list):
        return [types.Part(text=content or "")]
    out = []
    for p in content:
        if p["type"] == "text":
            out.append(types.Part(text=p["text"]))
        else:
            b = p["blob"]
            out.append(types.Part(inline_data=types.Blob(mime_type=b.media_type, data=read_blob(b))))
    return out


class GeminiProvider(SdkProvider):
    key_env = "GEMINI_API_KEY"
    default_host = "generativelanguage.googleapis.com"

    @classmethod
    def media_problem(cls, blobs: list[Any]) -> str | None:
        if any(b.url for b in blobs):
            return ("the Gemini API takes an image inline or uploaded, not by an outside URL: give the image's path "
                    "or data in the eval set")
        total = sum(b.size or 0 for b in blobs)
        if total * 4 / 3 > INLINE_LIMIT:
            return (f"an example's images and files come to {total / 2**20:,.1f} MB, over the Gemini API's 20 MB "
                    "limit for a request with inline data (base64); modelsel does not upload files through the "
                    "Files API")
        return None

    def make_client(self, timeout_s: float) -> Any:
        from google import genai
        from google.genai import types

        from modelsel.providers.bounded import HOOKS

        # milliseconds; no SDK retries by default; every response read at most its answer's bytes (bounded.py)
        opts: dict[str, Any] = {"timeout": int(timeout_s * 1000), "async_client_args": {"event_hooks": HOOKS}}
        if self.candidate.base_url:
            opts["base_url"] = self.candidate.base_url
        return genai.Client(api_key=self.api_key(), http_options=types.HttpOptions(**opts))

    async def close_client(self, client: Any) -> None:
        await client.aio.aclose()

    def _request(self, req: CallRequest) -> tuple[list[Any], Any, bool]:
        """(contents, config, stream) as generateContent takes them."""
        from google.genai import types

        p = {_PARAM_MAP.get(k, k): v for k, v in req.params.items()}
        stream = bool(p.pop("stream", True))
        system = "\n".join(message_text(m["content"]) for m in req.messages if m["role"] == "system")
        if system:
            p["system_instruction"] = system
        contents = [types.Content(role="model" if m["role"] == "assistant" else "user", parts=wire_parts(m["content"]))
                    for m in req.messages if m["role"] != "system"]
        return contents, types.GenerateContentConfig(**p), stream

    def batch_body(self, req: CallRequest, key: str) -> Any:
        """The request as one inlined request of a batch job, keyed for mapping its answer back."""
        from google.genai import types

        contents, config, _ = self._request(req)
        return types.InlinedRequest(contents=contents, config=config, metadata={"key": key})

    def request_of(self, req: CallRequest) -> tuple[list[Any], Any, bool]:
        return self._request(req)

    async def call(self, client: Any, req: CallRequest, request: tuple[list[Any], Any, bool], t0: float) -> CallResult:
        contents, config, stream = request
        if not stream:
            r = await client.aio.models.generate_content(model=self.candidate.model, contents=contents, config=config)
            return from_response(r, since(t0))
        got = Collector(req.max_chars, t0)
        usage = finish = None
        it = await client.aio.models.generate_content_stream(model=self.candidate.model, contents=contents, config=config)
        async for chunk in it:
            if not await got.take(chunk.text):
                break
            usage = chunk.usage_metadata or usage
            finish = _finish(chunk) or finish
        latency = since(t0)
        if got.truncated:
            await it.aclose()
            return got.cut(req.prompt, latency, getattr(usage, "prompt_token_count", None))
        if finish is None:
            raise no_finish(any(got.parts), latency)
        return result(got.text, usage, finish, latency, got.ttft)

    def classify(self, exc: BaseException, t0: float) -> ProviderError:
        from google.genai import errors

        if isinstance(exc, errors.APIError) and isinstance(exc.code, int):
            return from_status(exc, exc.code, since(t0))
        return classify_exception(exc, t0)


def _finish(r: Any) -> str | None:
    """A response's (or a chunk's) finish reason, as text."""
    if not (r.candidates and r.candidates[0].finish_reason):
        return None
    f = r.candidates[0].finish_reason
    return str(getattr(f, "value", f))


def result(text: str, usage: Any, finish: str | None, latency: float, ttft: float | None = None) -> CallResult:
    """An answer and its usage as a CallResult. Thinking models report their thoughts beside the
    answer's tokens and bill them at the output rate: the output billed is both."""
    thoughts = getattr(usage, "thoughts_token_count", None)
    answer = getattr(usage, "candidates_token_count", None)
    out = None if answer is None and thoughts is None else (answer or 0) + (thoughts or 0)
    return CallResult(
        text=text, input_tokens=getattr(usage, "prompt_token_count", None),
        output_tokens=out, reasoning_tokens=None if thoughts is None else int(thoughts),
        cached_input_tokens=int(getattr(usage, "cached_content_token_count", 0) or 0), latency_ms=latency,
        ttft_ms=ttft, finish_reason=finish,
    )


def from_response(r: Any, latency: float = 0.0) -> CallResult:
    """A whole GenerateContentResponse (an unstreamed answer, a batch job's inlined one) as a CallResult."""
    finish = _finish(r)
    if finish is None:
        raise no_finish(bool(r.text), latency)
    return result(r.text or "", r.usage_metadata, finish, latency)
