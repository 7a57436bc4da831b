"""OpenAI chat completions, and any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp
server, Together, Groq, Mistral, OpenRouter) through the official `openai` SDK."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from modelsel.inputs.media import b64
from modelsel.providers.base import (
    CallRequest,
    CallResult,
    Collector,
    ProviderError,
    SdkProvider,
    no_finish,
    shared_http_client,
    since,
    split_params,
    stainless_error,
)

if TYPE_CHECKING:
    from modelsel.inputs.tools import Tooling


def _reasoning(usage: Any) -> int | None:
    """Reasoning tokens: part of completion_tokens (billed as output), reported in its details."""
    details = getattr(usage, "completion_tokens_details", None) if usage is not None else None
    v = getattr(details, "reasoning_tokens", None)
    return None if v is None else int(v)


def _cached(usage: Any) -> int:
    """Input tokens the API served from its prompt cache (billed at the cached rate)."""
    details = getattr(usage, "prompt_tokens_details", None) if usage is not None else None
    return int(getattr(details, "cached_tokens", 0) or 0)


def tool_params(t: Tooling | None) -> dict[str, Any]:
    """Tools, tool_choice and the output schema as chat completions takes them."""
    out: dict[str, Any] = {}
    if t is None:
        return out
    if t.tools:
        out["tools"] = list(t.tools)
        if t.tool_choice:
            out["tool_choice"] = ({"type": "function", "function": {"name": t.tool_choice}} if t.forced()
                                  else t.tool_choice)
    if t.schema is not None:
        out["response_format"] = {"type": "json_schema",
                                  "json_schema": {"name": t.schema_name, "schema": t.schema, "strict": t.strict}}
    return out


def _calls(message: Any) -> list[dict[str, Any]]:
    """A whole message's function calls, their arguments as the raw text the model sent."""
    out = []
    for tc in getattr(message, "tool_calls", None) or []:
        fn = getattr(tc, "function", None)
        if fn is not None:
            out.append({"id": tc.id, "name": fn.name, "arguments": fn.arguments or ""})
    return out


class _CallDeltas:
    """Tool calls streamed in pieces: each delta names its call's index; the id and name come
    once, the arguments in fragments to join."""

    def __init__(self) -> None:
        self.calls: dict[int, dict[str, Any]] = {}

    def add(self, deltas: Any) -> bool:
        for d in deltas or []:
            c = self.calls.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
            if d.id:
                c["id"] = d.id
            fn = d.function
            if fn is not None:
                c["name"] = fn.name or c["name"]
                c["arguments"] += fn.arguments or ""
        return bool(deltas)

    def done(self) -> list[dict[str, Any]]:
        return [self.calls[i] for i in sorted(self.calls)]


def _cache_write(usage: Any) -> int:
    """Input tokens written to the prompt cache (prompt_tokens_details.cache_write_tokens), billed at the write rate."""
    details = getattr(usage, "prompt_tokens_details", None) if usage is not None else None
    return int(getattr(details, "cache_write_tokens", 0) or 0)


def _raw(usage: Any) -> dict[str, Any] | None:
    return None if usage is None else usage.model_dump(mode="json", exclude_none=True)


def _tier(r: Any) -> str | None:
    t = getattr(r, "service_tier", None)
    return None if t is None else str(t)


def from_completion(r: Any, latency_ms: float) -> CallResult:
    """A whole (non-streamed) chat completion as a CallResult: a live answer or a batch line's."""
    if not r.choices:
        raise no_finish(False, latency_ms)
    choice = r.choices[0]
    u = r.usage
    return CallResult(
        text=choice.message.content or "", input_tokens=u.prompt_tokens if u else None,
        output_tokens=u.completion_tokens if u else None, cached_input_tokens=_cached(u),
        cache_write_tokens=_cache_write(u), usage=_raw(u), service_tier=_tier(r), latency_ms=latency_ms,
        finish_reason=choice.finish_reason, reasoning_tokens=_reasoning(u), tool_calls=_calls(choice.message))


def wire_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as chat completions takes them: an image as an `image_url` part (a data URL, or the
    URL given), a PDF as a `file` part with its bytes as a data URL."""
    return [{**m, "content": [_part(p) for p in m["content"]]} if isinstance(m.get("content"), list) else m
            for m in messages]


def _part(p: dict[str, Any]) -> dict[str, Any]:
    if p["type"] == "text":
        return {"type": "text", "text": p["text"]}
    b = p["blob"]
    if b.kind == "image":
        image: dict[str, Any] = {"url": b.url or f"data:{b.media_type};base64,{b64(b)}"}
        if b.detail:
            image["detail"] = b.detail
        return {"type": "image_url", "image_url": image}
    name = PurePosixPath(b.name).name if b.name != "inline" else "document.pdf"
    return {"type": "file", "file": {"filename": name, "file_data": f"data:{b.media_type};base64,{b64(b)}"}}


class OpenAIProvider(SdkProvider):
    key_env = "OPENAI_API_KEY"
    default_host = "api.openai.com"
    standard_api = True  # chat completions: served by vLLM, Ollama, llama.cpp, Groq, Together, ...
    takes_tools = takes_schema = True  # tools, tool_choice, response_format json_schema

    def __init__(self, candidate: Any, search_path: str | None = None) -> None:
        super().__init__(candidate, search_path)
        self.compatible = candidate.provider == "openai-compatible"
        # Local servers (Ollama, vLLM) often need no key; a placeholder keeps the SDK happy.
        if self.compatible and not candidate.api_key_env:
            self.needs_key = False

    def make_client(self, timeout_s: float) -> Any:
        import openai

        http = shared_http_client("openai", self.candidate.base_url, timeout_s,
                                  lambda **kw: openai.DefaultAsyncHttpxClient(timeout=timeout_s, **kw),
                                  type(self).model_key(self.candidate))
        return openai.AsyncOpenAI(api_key=self.api_key() or "no-key", base_url=self.candidate.base_url,
                                  max_retries=0, timeout=timeout_s, http_client=http)

    def batch_body(self, req: CallRequest) -> dict[str, Any]:
        """The request as one line of a batch: what `complete` sends, unstreamed."""
        params, _ = self._params(req.params, req.tooling)
        return {"model": self.candidate.model, "messages": wire_messages(req.messages), **params}

    def _params(self, params: dict[str, Any], tooling: Tooling | None = None) -> tuple[dict[str, Any], bool]:
        p = {**dict(params), **tool_params(tooling)}
        stream = bool(p.pop("stream", True))
        if not self.compatible and "max_tokens" in p:
            p["max_completion_tokens"] = p.pop("max_tokens")  # newer OpenAI models reject max_tokens
        return p, stream

    def request_of(self, req: CallRequest) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
        return (wire_messages(req.messages), *self._params(req.params, req.tooling))

    async def call(self, client: Any, req: CallRequest, request: tuple[list[dict[str, Any]], dict[str, Any], bool],
                   t0: float) -> CallResult:
        messages, params, stream = request
        if not stream:
            r = await client.chat.completions.create(model=self.candidate.model, messages=messages,
                                                     **split_params(client.chat.completions.create, params))
            return from_completion(r, since(t0))
        got = Collector(req.max_chars, t0)
        calls = _CallDeltas()
        finish = None
        usage = tier = None
        s = await client.chat.completions.create(
            model=self.candidate.model, messages=messages, stream=True,
            stream_options={"include_usage": True}, **split_params(client.chat.completions.create, params),
        )
        async for chunk in s:
            if chunk.choices:
                c = chunk.choices[0]
                if c.delta and not await got.take(c.delta.content):
                    break
                if c.delta and calls.add(c.delta.tool_calls) and got.ttft is None:
                    got.ttft = since(t0)  # a call's first fragment is the answer's first token
                finish = c.finish_reason or finish
            if getattr(chunk, "usage", None):
                usage = chunk.usage
            tier = _tier(chunk) or tier
        latency = since(t0)
        if got.truncated:
            await s.close()
            return got.cut(req.prompt, latency)
        if finish is None:
            raise no_finish(bool(got.parts) or bool(calls.calls), latency)
        return CallResult(
            text=got.text, input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None, cached_input_tokens=_cached(usage),
            cache_write_tokens=_cache_write(usage), usage=_raw(usage), service_tier=tier, latency_ms=latency,
            ttft_ms=got.ttft, finish_reason=finish, reasoning_tokens=_reasoning(usage), tool_calls=calls.done(),
        )

    def classify(self, exc: BaseException, t0: float) -> ProviderError:
        import openai

        return stainless_error(exc, t0, openai)


class OpenAICompatibleProvider(OpenAIProvider):
    """Any server speaking OpenAI chat completions: data (base_url, key variable), no code."""

    key_env = None

    @classmethod
    def spec_problem(cls, spec: Any) -> tuple[str, str] | None:
        if not spec.base_url:
            return ("an openai-compatible candidate needs a base_url (e.g. http://localhost:8000/v1).", "base_url")
        return None
