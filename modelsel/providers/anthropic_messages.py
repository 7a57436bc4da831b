"""Anthropic messages API through the official `anthropic` SDK, streamed.

Tools go as `tools` with `input_schema`, earlier calls as `tool_use` blocks and their results as
`tool_result` blocks in a user turn; a call comes back as a `tool_use` block, streamed as
`input_json_delta` fragments (kept as the raw text the model sent). An output schema goes as the
native `output_config.format`; a model without it can be asked through a forced tool instead
(`schema_via: tool` in the candidate's params), whose input becomes the answer."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from modelsel.inputs.media import b64, message_text
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

SCHEMA_VIA = ("output_config", "tool")  # how an output schema is enforced (candidate param `schema_via`)


def to_messages(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """(system, messages) from OpenAI's chat shape (contents already in blocks, `wire_messages`):
    assistant calls as tool_use blocks, tool results as tool_result blocks in one user turn
    (consecutive results, and the user's turn after them, join it)."""
    from modelsel.inputs.tools import parse_arguments

    system = "\n".join(message_text(m["content"]) for m in messages if m["role"] == "system" and m.get("content"))
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m["role"]
        if role == "system":
            continue
        if role == "tool":
            block = {"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": m.get("content") or ""}
            _user_blocks(out).append(block)
        elif role == "assistant" and m.get("tool_calls"):
            blocks: list[dict[str, Any]] = _blocks(m.get("content"))
            for c in m["tool_calls"]:
                args, _ = parse_arguments(c["function"]["arguments"])
                blocks.append({"type": "tool_use", "id": c["id"], "name": c["function"]["name"],
                               "input": args if isinstance(args, dict) else {}})
            out.append({"role": "assistant", "content": blocks})
        elif role == "user" and out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
            out[-1]["content"].extend(_blocks(m.get("content")))
        else:
            out.append({k: v for k, v in m.items() if k in ("role", "content")})
    return system, out


def _blocks(content: Any) -> list[dict[str, Any]]:
    """A content as blocks: text as one text block, a list of blocks as it is."""
    if isinstance(content, list):
        return list(content)
    return [{"type": "text", "text": content}] if content else []


def _user_blocks(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not (out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list)):
        out.append({"role": "user", "content": []})
    return out[-1]["content"]


def tool_params(t: Tooling | None, via: str = "output_config") -> dict[str, Any]:
    """Tools, tool_choice and the output schema as the Messages API takes them."""
    if t is None:
        return {}
    out: dict[str, Any] = {}
    tools = [{"name": x["function"]["name"], "input_schema": x["function"]["parameters"],
              **({"description": x["function"]["description"]} if x["function"].get("description") else {})}
             for x in t.tools]
    choice = t.tool_choice
    if t.schema is not None and via == "tool":  # the schema as a tool the model must call
        tools.append({"name": t.schema_name, "description": "Give the answer.", "input_schema": t.schema})
        choice = t.schema_name
    elif t.schema is not None:
        out["output_config"] = {"format": {"type": "json_schema", "schema": t.schema}}
    if tools:
        out["tools"] = tools
        if choice:
            out["tool_choice"] = ({"type": "auto"} if choice == "auto" else {"type": "any"} if choice == "required"
                                  else {"type": "none"} if choice == "none" else {"type": "tool", "name": choice})
    return out


def wire_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as the Messages API takes them: an image as an `image` block, a PDF as a `document`
    block, each with its bytes in base64 (or the URL given, as a url source)."""
    return [{**m, "content": [_block(p) for p in m["content"]]} if isinstance(m.get("content"), list) else m
            for m in messages]


def _block(p: dict[str, Any]) -> dict[str, Any]:
    if p["type"] == "text":
        return {"type": "text", "text": p["text"]}
    b = p["blob"]
    source = ({"type": "url", "url": b.url} if b.url else
              {"type": "base64", "media_type": b.media_type, "data": b64(b)})
    return {"type": "image" if b.kind == "image" else "document", "source": source}


IMAGE_LIMIT = 5 * 2**20  # bytes of one image (https://docs.anthropic.com/en/docs/build-with-claude/vision)


class AnthropicProvider(SdkProvider):
    key_env = "ANTHROPIC_API_KEY"
    default_host = "api.anthropic.com"
    defaults = {"stream": True, "max_tokens": 1024}  # the Messages API requires max_tokens
    takes_tools = takes_schema = True

    @classmethod
    def media_problem(cls, blobs: list[Any]) -> str | None:
        big = next((b for b in blobs if b.kind == "image" and (b.size or 0) > IMAGE_LIMIT), None)
        if big is not None:
            return (f"{big.name} is {big.size / 2**20:,.1f} MB; the Anthropic API takes images up to 5 MB")
        if len(blobs) > 100:
            return "the Anthropic API takes up to 100 images in a request"
        return None

    def cannot_take(self, tooling: Tooling | None) -> str | None:
        via = self.candidate.params.get("schema_via", "output_config")
        if via not in SCHEMA_VIA:
            return f"params.schema_via is {via!r}: output_config (the API's structured output) or tool (a forced tool)"
        return super().cannot_take(tooling)

    def make_client(self, timeout_s: float) -> Any:
        import anthropic

        http = shared_http_client("anthropic", self.candidate.base_url, timeout_s,
                                  lambda **kw: anthropic.DefaultAsyncHttpxClient(timeout=timeout_s, **kw),
                                  type(self).model_key(self.candidate))
        return anthropic.AsyncAnthropic(api_key=self.api_key(), base_url=self.candidate.base_url, max_retries=0,
                                        timeout=timeout_s, http_client=http)

    def _request(self, req: CallRequest) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
        """(messages, parameters, stream) as the Messages API takes them."""
        p = dict(req.params)
        stream = bool(p.pop("stream", True))
        if "stop" in p:
            p["stop_sequences"] = p.pop("stop")
        p.pop("seed", None)  # not an Anthropic parameter; recorded, not sent
        via = p.pop("schema_via", "output_config")  # how the schema is enforced: recorded, not sent
        system = "\n".join(message_text(m["content"]) for m in req.messages if m["role"] == "system")
        _, messages = to_messages(wire_messages([m for m in req.messages if m["role"] != "system"]))
        if system:
            p["system"] = system
        p.update(tool_params(req.tooling, via))
        if via == "tool" and req.tooling is not None and req.tooling.schema is not None:
            p["_answer_tool"] = req.tooling.schema_name
        cache = self.candidate.cache
        mark = None if not cache else {"type": "ephemeral", **({"ttl": "1h"} if cache.get("ttl") == "1h" else {})}
        # Caching the shared prefix is asked for with cache_control on its last block.
        if mark and cache and cache.get("prefix") == "system" and system:
            p["system"] = [{"type": "text", "text": system, "cache_control": mark}]
        if mark and cache and cache.get("prefix") == "tools" and p.get("tools"):
            p["tools"] = [*p["tools"][:-1], {**p["tools"][-1], "cache_control": mark}]
        elif mark and cache and cache.get("prefix") == "tools" and system:
            p["system"] = [{"type": "text", "text": system, "cache_control": mark}]  # no tools: the system prompt is the prefix
        return messages, p, stream

    @classmethod
    def cache_identity(cls, c: Any) -> dict[str, Any]:
        """Asking for caching changes the usage (reads and writes), so answers are kept apart."""
        ident = super().cache_identity(c)
        return {**ident, "cache": c.cache} if c.cache else ident

    def batch_body(self, req: CallRequest) -> dict[str, Any]:
        """The request as one entry of a message batch (`params`)."""
        messages, p, _ = self._request(req)
        p.pop("_answer_tool", None)
        return {"model": self.candidate.model, "messages": messages, **p}

    def request_of(self, req: CallRequest) -> tuple[list[dict[str, str]], dict[str, Any], bool]:
        return self._request(req)

    async def call(self, client: Any, req: CallRequest, request: tuple[list[dict[str, str]], dict[str, Any], bool],
                   t0: float) -> CallResult:
        messages, p, stream = request
        p = dict(p)
        answer_tool = p.pop("_answer_tool", None)
        if not stream:
            msg = await client.messages.create(model=self.candidate.model, messages=messages,
                                               **split_params(client.messages.create, p))
            return from_message(msg, since(t0), answer_tool=answer_tool)
        got = Collector(req.max_chars, t0)
        raw: dict[int, list[str]] = {}  # each tool_use block's input as streamed (input_json_delta)
        async with client.messages.stream(model=self.candidate.model, messages=messages,
                                          **split_params(client.messages.stream, p)) as s:
            async for ev in s:
                if ev.type == "text":
                    if not await got.take(ev.text):
                        break
                elif ev.type == "content_block_start" and getattr(ev.content_block, "type", "") == "tool_use":
                    raw[ev.index] = []
                    if got.ttft is None:
                        got.ttft = since(t0)  # a call's first piece is the answer's first token
                elif ev.type == "content_block_delta" and getattr(ev.delta, "type", "") == "input_json_delta":
                    raw.setdefault(ev.index, []).append(ev.delta.partial_json)
            if got.truncated:  # leaving the block closes the stream
                snap = s.current_message_snapshot
                return got.cut(req.prompt, since(t0), getattr(getattr(snap, "usage", None), "input_tokens", None))
            msg = await s.get_final_message()
        return from_message(msg, since(t0), got.ttft, {i: "".join(v) for i, v in raw.items()}, answer_tool)

    def classify(self, exc: BaseException, t0: float) -> ProviderError:
        import anthropic

        return stainless_error(exc, t0, anthropic)


def from_message(msg: Any, latency: float, ttft: float | None = None, raw: dict[int, str] | None = None,
                 answer_tool: str | None = None) -> CallResult:
    """A finished Message as a CallResult: a live answer or a batch entry's. `raw`: each tool_use
    block's input as it was streamed; `answer_tool`: the forced tool whose input is the answer."""
    if msg.stop_reason is None:
        raise no_finish(bool(msg.content), latency)
    text = "".join(getattr(b, "text", "") for b in msg.content)
    calls = []
    for i, b in enumerate(msg.content):
        if getattr(b, "type", "") == "tool_use":
            args = (raw or {}).get(i)
            calls.append({"id": b.id, "name": b.name,
                          "arguments": args if args is not None else json.dumps(b.input, ensure_ascii=False)})
    if answer_tool is not None:  # the schema was enforced through a forced tool: its input is the answer
        text = next((c["arguments"] for c in calls if c["name"] == answer_tool), text)
        calls = [c for c in calls if c["name"] != answer_tool]
    u = msg.usage
    read = int(getattr(u, "cache_read_input_tokens", 0) or 0)
    write = int(getattr(u, "cache_creation_input_tokens", 0) or 0)
    # Writes kept an hour are billed at twice the input rate, five-minute ones at 1.25x: the split is in cache_creation.
    write_1h = int(getattr(getattr(u, "cache_creation", None), "ephemeral_1h_input_tokens", 0) or 0)
    # The API's input_tokens leaves out cache reads and writes; every input token counts here.
    # output_tokens already includes thinking (billed as output); the details give its share.
    details = getattr(u, "output_tokens_details", None)
    thinking = getattr(details, "thinking_tokens", None)
    return CallResult(text=text, input_tokens=u.input_tokens + read + write, output_tokens=u.output_tokens,
                      reasoning_tokens=None if thinking is None else int(thinking),
                      cached_input_tokens=read, cache_write_tokens=write, cache_write_1h_tokens=min(write_1h, write),
                      usage=u.model_dump(mode="json", exclude_none=True),
                      service_tier=getattr(u, "speed", None) if getattr(u, "speed", None) == "fast"
                      else getattr(u, "service_tier", None),
                      latency_ms=latency, ttft_ms=ttft, finish_reason=msg.stop_reason, tool_calls=calls)
