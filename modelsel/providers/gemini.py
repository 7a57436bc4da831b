"""Google Gemini through the official `google-genai` SDK (generateContent, streamed)."""

from __future__ import annotations

import time
from typing import Any

from modelsel.providers.base import (
    CallRequest,
    CallResult,
    Collector,
    ProviderError,
    SdkProvider,
    classify_exception,
    cut_usage,
    no_finish,
)

_PARAM_MAP = {"max_tokens": "max_output_tokens", "stop": "stop_sequences"}


class GeminiProvider(SdkProvider):
    key_env = "GEMINI_API_KEY"
    default_host = "generativelanguage.googleapis.com"

    def make_client(self, timeout_s: float) -> Any:
        from google import genai
        from google.genai import types

        opts: dict[str, Any] = {"timeout": int(timeout_s * 1000)}  # milliseconds; no SDK retries by default
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
        system = "\n".join(m["content"] for m in req.messages if m["role"] == "system")
        if system:
            p["system_instruction"] = system
        contents = [
            types.Content(role="model" if m["role"] == "assistant" else "user", parts=[types.Part(text=m["content"])])
            for m in req.messages if m["role"] != "system"
        ]
        return contents, types.GenerateContentConfig(**p), stream

    def batch_body(self, req: CallRequest, key: str) -> Any:
        """The request as one inlined request of a batch job, keyed for mapping its answer back."""
        from google.genai import types

        contents, config, _ = self._request(req)
        return types.InlinedRequest(contents=contents, config=config, metadata={"key": key})

    async def complete(self, req: CallRequest) -> CallResult:
        client = self.client(req.timeout_s)
        contents, config, stream = self._request(req)
        t0 = time.perf_counter()
        ttft = None
        got = Collector(req.max_chars)
        parts = got.parts
        usage = None
        finish = None
        try:
            if stream:
                it = await client.aio.models.generate_content_stream(model=self.candidate.model, contents=contents, config=config)
                async for chunk in it:
                    if chunk.text:
                        if ttft is None:
                            ttft = (time.perf_counter() - t0) * 1000
                        if not got.add(chunk.text):
                            break
                        await got.pace()
                    if chunk.usage_metadata:
                        usage = chunk.usage_metadata
                    if chunk.candidates and chunk.candidates[0].finish_reason:
                        finish = str(chunk.candidates[0].finish_reason.value if hasattr(chunk.candidates[0].finish_reason, "value") else chunk.candidates[0].finish_reason)
            else:
                r = await client.aio.models.generate_content(model=self.candidate.model, contents=contents, config=config)
                parts.append(r.text or "")
                usage = r.usage_metadata
                if r.candidates and r.candidates[0].finish_reason:
                    finish = str(getattr(r.candidates[0].finish_reason, "value", r.candidates[0].finish_reason))
            latency = (time.perf_counter() - t0) * 1000
            if got.truncated:
                await it.aclose()
        except ProviderError:
            raise
        except Exception as exc:
            raise classify_exception(exc, t0) from None
        if got.truncated:
            tin, tout = cut_usage(got, req.prompt)
            return CallResult(text=got.text, input_tokens=getattr(usage, "prompt_token_count", None) or tin,
                              output_tokens=tout, latency_ms=latency, ttft_ms=ttft, finish_reason="cut_at_max_answer_chars",
                              truncated=True, extra={"chars_read": got.chars})
        if finish is None:
            raise no_finish(any(parts), latency)
        return result(got.text, usage, finish, latency, ttft)


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
    """A whole GenerateContentResponse (a batch job's inlined answer) as a CallResult."""
    finish = None
    if r.candidates and r.candidates[0].finish_reason:
        finish = str(getattr(r.candidates[0].finish_reason, "value", r.candidates[0].finish_reason))
    if finish is None:
        raise no_finish(bool(r.text), latency)
    return result(r.text or "", r.usage_metadata, finish, latency)
