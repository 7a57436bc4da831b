"""Google Gemini through the official `google-genai` SDK (generateContent, streamed).

Tools go as `functionDeclarations` (their parameters as `parametersJsonSchema`), earlier calls as
`functionCall` parts and their results as `functionResponse` parts; `tool_choice` as the function
calling mode; an output schema as `responseJsonSchema` with `responseMimeType: application/json`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from modelsel.inputs.tools import Tooling

_PARAM_MAP = {"max_tokens": "max_output_tokens", "stop": "stop_sequences"}
_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}


def to_contents(messages: list[dict[str, Any]]) -> list[Any]:
    """OpenAI's chat shape as Gemini contents: assistant calls as functionCall parts, tool results as
    functionResponse parts (named by the call they answer) in one user turn."""
    from google.genai import types

    from modelsel.inputs.tools import parse_arguments

    names = {c["id"]: c["function"]["name"] for m in messages for c in m.get("tool_calls") or []}
    out: list[Any] = []
    for m in messages:
        role = m["role"]
        if role == "system":
            continue
        if role == "tool":
            text = message_text(m.get("content"))
            got, _ = parse_arguments(text)
            response = got if isinstance(got, dict) and text else {"result": text}
            part = types.Part(function_response=types.FunctionResponse(name=names.get(m["tool_call_id"], ""),
                                                                        response=response))
            if out and out[-1].role == "user" and out[-1].parts and out[-1].parts[-1].function_response is not None:
                out[-1].parts.append(part)
            else:
                out.append(types.Content(role="user", parts=[part]))
            continue
        parts = wire_parts(m["content"]) if m.get("content") else []
        for c in m.get("tool_calls") or []:
            args, _ = parse_arguments(c["function"]["arguments"])
            parts.append(types.Part(function_call=types.FunctionCall(name=c["function"]["name"],
                                                                     args=args if isinstance(args, dict) else {})))
        out.append(types.Content(role="model" if role == "assistant" else "user", parts=parts))
    return out


def tool_config(t: Tooling | None) -> dict[str, Any]:
    """Tools, the calling mode and the output schema as GenerateContentConfig fields."""
    if t is None:
        return {}
    from google.genai import types

    out: dict[str, Any] = {}
    if t.tools:
        out["tools"] = [types.Tool(function_declarations=[
            types.FunctionDeclaration(name=x["function"]["name"], description=x["function"].get("description"),
                                      parameters_json_schema=x["function"]["parameters"]) for x in t.tools])]
        if t.tool_choice:
            forced = t.forced()
            out["tool_config"] = types.ToolConfig(function_calling_config=types.FunctionCallingConfig(
                mode=_MODES.get(t.tool_choice, "ANY"), allowed_function_names=[forced] if forced else None))
    if t.schema is not None:
        out["response_mime_type"] = "application/json"
        out["response_json_schema"] = t.schema
    return out


def _parts(r: Any) -> list[Any]:
    if not r.candidates or r.candidates[0].content is None:
        return []
    return r.candidates[0].content.parts or []


def text_of(r: Any) -> str:
    """A response's (or a chunk's) answer text: its text parts, thoughts left out (read part by part:
    the SDK's `.text` warns on stderr when a function call stands beside the text)."""
    return "".join(p.text for p in _parts(r) if p.text and not p.thought)


def calls_of(r: Any, start: int = 0) -> list[dict[str, Any]]:
    """A response's (or a chunk's) function calls, their arguments as JSON text."""
    out = []
    for p in _parts(r):
        fc = p.function_call
        if fc is not None:
            out.append({"id": fc.id or f"call_{start + len(out) + 1}", "name": fc.name or "",
                        "arguments": json.dumps(fc.args or {}, ensure_ascii=False)})
    return out


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
    takes_tools = takes_schema = True

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
        import logging

        from google import genai
        from google.genai import types

        from modelsel.providers.bounded import HOOKS

        # The SDK logs "non-text parts in the response" to stderr when it reads a function call's
        # response as text for a schema: what the model did is read part by part here instead.
        logging.getLogger("google_genai.types").addHandler(logging.NullHandler())

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
        p.update(tool_config(req.tooling))
        return to_contents(req.messages), types.GenerateContentConfig(**p), stream

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
        calls: list[dict[str, Any]] = []
        it = await client.aio.models.generate_content_stream(model=self.candidate.model, contents=contents, config=config)
        async for chunk in it:
            more = calls_of(chunk, len(calls))
            if more and got.ttft is None:
                got.ttft = since(t0)  # a call is the answer's first token
            calls += more
            if not await got.take(text_of(chunk)):
                break
            usage = chunk.usage_metadata or usage
            finish = _finish(chunk) or finish
        latency = since(t0)
        if got.truncated:
            await it.aclose()
            return got.cut(req.prompt, latency, getattr(usage, "prompt_token_count", None))
        if finish is None:
            raise no_finish(any(got.parts) or bool(calls), latency)
        return result(got.text, usage, finish, latency, got.ttft, calls)

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


def result(text: str, usage: Any, finish: str | None, latency: float, ttft: float | None = None,
           calls: list[dict[str, Any]] | None = None) -> CallResult:
    """An answer and its usage as a CallResult. Thinking models report their thoughts beside the
    answer's tokens and bill them at the output rate: the output billed is both."""
    thoughts = getattr(usage, "thoughts_token_count", None)
    answer = getattr(usage, "candidates_token_count", None)
    out = None if answer is None and thoughts is None else (answer or 0) + (thoughts or 0)
    # Tool results the model read (toolUsePromptTokenCount) are input billed beside the prompt's.
    prompt, tool_use = getattr(usage, "prompt_token_count", None), getattr(usage, "tool_use_prompt_token_count", None)
    tin = None if prompt is None and tool_use is None else (prompt or 0) + (tool_use or 0)
    return CallResult(
        text=text, input_tokens=tin,
        usage=None if usage is None else usage.model_dump(mode="json", by_alias=True, exclude_none=True),
        output_tokens=out, reasoning_tokens=None if thoughts is None else int(thoughts),
        cached_input_tokens=int(getattr(usage, "cached_content_token_count", 0) or 0), latency_ms=latency,
        ttft_ms=ttft, finish_reason=finish, tool_calls=calls or [],
    )


def from_response(r: Any, latency: float = 0.0) -> CallResult:
    """A whole GenerateContentResponse (an unstreamed answer, a batch job's inlined one) as a CallResult."""
    finish = _finish(r)
    text, calls = text_of(r), calls_of(r)
    if finish is None:
        raise no_finish(bool(text) or bool(calls), latency)
    return result(text, r.usage_metadata, finish, latency, calls=calls)
