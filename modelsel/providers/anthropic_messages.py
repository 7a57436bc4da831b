"""Anthropic messages API through the official `anthropic` SDK, streamed."""

from __future__ import annotations

from typing import Any

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

    @classmethod
    def media_problem(cls, blobs: list[Any]) -> str | None:
        big = next((b for b in blobs if b.kind == "image" and (b.size or 0) > IMAGE_LIMIT), None)
        if big is not None:
            return (f"{big.name} is {big.size / 2**20:,.1f} MB; the Anthropic API takes images up to 5 MB")
        if len(blobs) > 100:
            return "the Anthropic API takes up to 100 images in a request"
        return None

    def make_client(self, timeout_s: float) -> Any:
        import anthropic

        http = shared_http_client("anthropic", self.candidate.base_url, timeout_s,
                                  lambda: anthropic.DefaultAsyncHttpxClient(timeout=timeout_s))
        return anthropic.AsyncAnthropic(api_key=self.api_key(), base_url=self.candidate.base_url, max_retries=0,
                                        timeout=timeout_s, http_client=http)

    def _request(self, req: CallRequest) -> tuple[list[dict[str, str]], dict[str, Any], bool]:
        """(messages, parameters, stream) as the Messages API takes them."""
        p = dict(req.params)
        stream = bool(p.pop("stream", True))
        if "stop" in p:
            p["stop_sequences"] = p.pop("stop")
        p.pop("seed", None)  # not an Anthropic parameter; recorded, not sent
        system = "\n".join(message_text(m["content"]) for m in req.messages if m["role"] == "system")
        messages = wire_messages([m for m in req.messages if m["role"] != "system"])
        if system:
            p["system"] = system
        return messages, p, stream

    def batch_body(self, req: CallRequest) -> dict[str, Any]:
        """The request as one entry of a message batch (`params`)."""
        messages, p, _ = self._request(req)
        return {"model": self.candidate.model, "messages": messages, **p}

    def request_of(self, req: CallRequest) -> tuple[list[dict[str, str]], dict[str, Any], bool]:
        return self._request(req)

    async def call(self, client: Any, req: CallRequest, request: tuple[list[dict[str, str]], dict[str, Any], bool],
                   t0: float) -> CallResult:
        messages, p, stream = request
        if not stream:
            msg = await client.messages.create(model=self.candidate.model, messages=messages,
                                               **split_params(client.messages.create, p))
            return from_message(msg, since(t0))
        got = Collector(req.max_chars, t0)
        async with client.messages.stream(model=self.candidate.model, messages=messages,
                                          **split_params(client.messages.stream, p)) as s:
            async for text in s.text_stream:
                if not await got.take(text):
                    break
            if got.truncated:  # leaving the block closes the stream
                snap = s.current_message_snapshot
                return got.cut(req.prompt, since(t0), getattr(getattr(snap, "usage", None), "input_tokens", None))
            msg = await s.get_final_message()
        return from_message(msg, since(t0), got.ttft)

    def classify(self, exc: BaseException, t0: float) -> ProviderError:
        import anthropic

        return stainless_error(exc, t0, anthropic)


def from_message(msg: Any, latency: float, ttft: float | None = None) -> CallResult:
    """A finished Message as a CallResult: a live answer or a batch entry's."""
    if msg.stop_reason is None:
        raise no_finish(bool(msg.content), latency)
    text = "".join(getattr(b, "text", "") for b in msg.content)
    u = msg.usage
    read = int(getattr(u, "cache_read_input_tokens", 0) or 0)
    write = int(getattr(u, "cache_creation_input_tokens", 0) or 0)
    # The API's input_tokens leaves out cache reads and writes; every input token counts here.
    # output_tokens already includes thinking (billed as output); the details give its share.
    details = getattr(u, "output_tokens_details", None)
    thinking = getattr(details, "thinking_tokens", None)
    return CallResult(text=text, input_tokens=u.input_tokens + read + write, output_tokens=u.output_tokens,
                      reasoning_tokens=None if thinking is None else int(thinking),
                      cached_input_tokens=read, cache_write_tokens=write, latency_ms=latency, ttft_ms=ttft,
                      finish_reason=msg.stop_reason)
