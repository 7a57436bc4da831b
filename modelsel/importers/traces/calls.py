"""One model call as every trace format is read into: the messages sent, the answer, the model,
its times and token counts, the attributes a filter or a stratum may name, and user feedback."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ROLES = {"system", "user", "assistant"}
ROLE_ALIASES = {"human": "user", "ai": "assistant", "model": "assistant", "developer": "system"}
# Attributes that name the route or feature a call served, tried in this order (--stratify-by names another).
ROUTE_KEYS = ("route", "app.route", "http.route", "feature", "use_case", "gen_ai.agent.name", "langfuse.trace.name",
              "trace_name", "name")


def kind_name(kind: str) -> str:
    """A span kind as the counts name it (EMBEDDING and embeddings alike)."""
    k = kind.lower()
    return {"embedding": "embeddings", "retriever": "retrieval"}.get(k, k)


class NotAChat(Exception):
    """A model call modelsel's eval set cannot hold (a tool message, an image): skipped and counted."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(slots=True)  # a first pass holds every call of an export: no per-instance dict
class TracedCall:
    where: str  # "file:line", for errors and for the example's meta
    trace_id: str
    span_id: str
    model: str | None
    vendor: str | None  # openai, anthropic, google, ... as the trace names the provider
    system: str | None  # the system prompt
    messages: list[dict[str, str]]  # user/assistant turns, in order
    output: str | None  # production's answer
    start: float | None = None  # unix seconds
    end: float | None = None
    first_token: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    feedback: str | None = None  # "negative" / "positive"
    tags: list[str] = field(default_factory=list)
    # Set by `slim()`: what sampling needs once the text is dropped (repeats, length, system prompt).
    keys: tuple[str, str] | None = None
    system_key: str | None = None
    n_tokens: int | None = None

    def slim(self, attrs: set[str]) -> None:
        """Keep what the sample is drawn on (and the `attrs` a filter or a stratum names) and drop
        the text: the first pass over a large export holds every call, so each must be small; the
        sampled ones are read again whole."""
        self.keys = repeat_keys(self)
        self.system_key = _digest(self.system or "")
        self.n_tokens = self.tokens_in()
        self.messages, self.system, self.output = [], None, None
        self.attrs = {k: v for k, v in self.attrs.items() if k in attrs}

    @property
    def key(self) -> tuple[str, str]:
        """Where the call is found again: its file and line, and its span or observation id."""
        return self.where, self.span_id

    @property
    def seconds(self) -> float | None:
        return self.end - self.start if self.start is not None and self.end is not None and self.end >= self.start else None

    def text(self) -> str:
        return "\n".join(m["content"] for m in ([{"content": self.system}] if self.system else []) + self.messages)

    def tokens_in(self) -> int:
        """The usage the trace reports; else the usual 4 characters a token."""
        if self.n_tokens is not None:
            return self.n_tokens
        return self.input_tokens if self.input_tokens is not None and self.input_tokens >= 0 else max(1, len(self.text()) // 4)


_NEAR = re.compile(r"[\W_]+", re.UNICODE)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def repeat_keys(c: TracedCall) -> tuple[str, str]:
    """(exact, near-exact) keys of what was asked: the same words ignoring case, spacing and
    punctuation make a near-exact repeat."""
    if c.keys is not None:
        return c.keys
    exact = json.dumps([c.system, c.messages], ensure_ascii=False)
    near = _NEAR.sub(" ", (c.system or "") + " " + " ".join(m["content"] for m in c.messages)).strip().lower()
    return _digest(exact), _digest(near)


@dataclass
class Read:
    calls: list[TracedCall] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # "embeddings", "tool", "retrieval", "agent", ...
    formats: list[str] = field(default_factory=list)
    feedback: list[tuple[str, str | None, str]] = field(default_factory=list)  # (trace id, span id or None, label)
    slim: set[str] | None = None  # drop each call's text and all attributes but these (the first pass)
    logs: dict[tuple[str, str], list[Any]] = field(default_factory=dict)  # OTLP log records by (trace, span)
    pending: list[Any] = field(default_factory=list)  # spans whose messages may be in those log records
    wanted: set[tuple[str, str]] | None = None  # keep only these calls, whole (the second pass)

    def add(self, call: TracedCall) -> None:
        if self.wanted is not None:
            if call.key in self.wanted:
                self.calls.append(call)
            return
        if self.slim is not None:
            call.slim(self.slim)
        self.calls.append(call)


def text_of(content: Any) -> str:
    """A message's content as text: a string, or text parts ({type: text, text|content}); any other
    part (an image, audio, a tool call) makes the call one the eval set cannot hold."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, list):
        out = []
        for p in content:
            if isinstance(p, str):
                out.append(p)
                continue
            if not isinstance(p, dict):
                raise NotAChat("a message part that is not text")
            kind = str(p.get("type") or "text")
            if kind in ("text", "input_text", "output_text"):
                out.append(str(p.get("text") if p.get("text") is not None else p.get("content") or ""))
            elif kind in ("reasoning", "thinking"):
                continue  # the model's own reasoning: not part of what was asked or answered
            elif kind in ("tool_call", "tool_use", "function_call", "tool_call_response", "tool_result"):
                raise NotAChat("tool calls")
            else:
                raise NotAChat(f"{kind} input")
        return "".join(out)
    return str(content)


def chat(messages: Any) -> tuple[str | None, list[dict[str, str]]]:
    """(system prompt, user/assistant turns) from a list of {role, content|parts} messages."""
    if isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except json.JSONDecodeError:
            return None, [{"role": "user", "content": messages}]
    if isinstance(messages, dict):
        messages = messages.get("messages", [messages])
    if not isinstance(messages, list):
        raise NotAChat("input that is not a list of messages")
    system: list[str] = []
    turns: list[dict[str, str]] = []
    for m in messages:
        if isinstance(m, str):
            turns.append({"role": "user", "content": m})
            continue
        if not isinstance(m, dict):
            raise NotAChat("input that is not a list of messages")
        role = str(m.get("role") or "user").lower()
        role = ROLE_ALIASES.get(role, role)
        if role not in ROLES:
            raise NotAChat("tool calls" if role in ("tool", "function", "ipython") else f"{role} messages")
        if m.get("tool_calls") or m.get("function_call"):
            raise NotAChat("tool calls")
        body = m.get("parts") if "parts" in m else m.get("content")
        text = text_of(body)
        if role == "system":
            system.append(text)
        else:
            turns.append({"role": role, "content": text})
    return ("\n".join(system) if system else None), turns


def answer(output: Any) -> str | None:
    """Production's answer from an output message list, a chat completion, or text."""
    if output is None:
        return None
    if isinstance(output, str):
        try:
            parsed = json.loads(output)
        except json.JSONDecodeError:
            return output
        if not isinstance(parsed, dict | list):
            return output
        output = parsed
    if isinstance(output, dict):
        if "choices" in output:  # an OpenAI chat completion
            output = [c.get("message", c) for c in output.get("choices") or [] if isinstance(c, dict)][:1]
        elif "content" in output and isinstance(output.get("content"), list) and output.get("type") == "message":
            output = [{"role": "assistant", "content": output["content"]}]  # an Anthropic message
        elif "candidates" in output:  # a Gemini response
            output = [{"role": "assistant", "parts": (c.get("content") or {}).get("parts")} for c in output["candidates"][:1]]
        else:
            output = [output]
    texts = []
    for m in output if isinstance(output, list) else [output]:
        if isinstance(m, dict):
            body = m.get("parts") if "parts" in m else m.get("content", m.get("text", m.get("message")))
            if isinstance(body, dict) and "content" in body:
                body = body["content"]
            try:
                texts.append(text_of(body))
            except NotAChat:
                raise NotAChat("tool calls") from None
        else:
            texts.append(str(m))
    return "".join(texts)


FEEDBACK_NEGATIVE = {"negative", "thumbs_down", "thumbsdown", "down", "bad", "no", "false", "dislike", "-1", "0", "👎"}


def feedback_label(value: Any) -> str | None:
    """'negative' or 'positive' from a feedback value: a boolean, 0/1 or -1/+1, a 1-5 rating, a word."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "positive" if value else "negative"
    if isinstance(value, int | float):
        if value > 1:  # a 1-5 (or 1-10) rating: 1 and 2 are complaints
            return "negative" if value <= 2 else "positive"
        return "positive" if value > 0 else "negative"
    s = str(value).strip().lower()
    try:
        return feedback_label(float(s))
    except ValueError:
        pass
    return "negative" if s in FEEDBACK_NEGATIVE else "positive" if s else None


def is_feedback_name(name: str) -> bool:
    n = name.lower()
    return any(w in n for w in ("feedback", "thumb", "rating", "user_score", "user-score", "helpful", "satisf"))
