"""Anthropic messages API through the official `anthropic` SDK, streamed."""

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
    shared_http_client,
    split_params,
)


class AnthropicProvider(SdkProvider):
    key_env = "ANTHROPIC_API_KEY"
    default_host = "api.anthropic.com"
    defaults = {"stream": True, "max_tokens": 1024}  # the Messages API requires max_tokens

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
        system = "\n".join(m["content"] for m in req.messages if m["role"] == "system")
        messages = [m for m in req.messages if m["role"] != "system"]
        if system:
            p["system"] = system
        return messages, p, stream

    def batch_body(self, req: CallRequest) -> dict[str, Any]:
        """The request as one entry of a message batch (`params`)."""
        messages, p, _ = self._request(req)
        return {"model": self.candidate.model, "messages": messages, **p}

    async def complete(self, req: CallRequest) -> CallResult:
        client = self.client(req.timeout_s)
        messages, p, stream = self._request(req)
        t0 = time.perf_counter()
        try:
            if not stream:
                msg = await client.messages.create(model=self.candidate.model, messages=messages,
                                                   **split_params(client.messages.create, p))
                latency = (time.perf_counter() - t0) * 1000
                ttft = None
            else:
                ttft = None
                got = Collector(req.max_chars)
                async with client.messages.stream(model=self.candidate.model, messages=messages,
                                                  **split_params(client.messages.stream, p)) as s:
                    async for text in s.text_stream:
                        if ttft is None:
                            ttft = (time.perf_counter() - t0) * 1000
                        if not got.add(text):
                            break
                        await got.pace()
                    if got.truncated:  # leaving the block closes the stream
                        latency = (time.perf_counter() - t0) * 1000
                        snap = s.current_message_snapshot
                        tin, tout = cut_usage(got, req.prompt)
                        tin = getattr(getattr(snap, "usage", None), "input_tokens", None) or tin
                    else:
                        msg = await s.get_final_message()
                latency = (time.perf_counter() - t0) * 1000
                if got.truncated:
                    return CallResult(text=got.text, input_tokens=tin, output_tokens=tout, latency_ms=latency,
                                      ttft_ms=ttft, finish_reason="cut_at_max_answer_chars", truncated=True,
                                      extra={"chars_read": got.chars})
        except ProviderError:
            raise
        except Exception as exc:
            raise classify_exception(exc, t0) from None
        return from_message(msg, latency, ttft)


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
