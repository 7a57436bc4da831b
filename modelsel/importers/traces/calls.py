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
              "trace_name", "tags", "name")


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
    messages: list[dict[str, Any]]  # user/assistant/tool turns in order, OpenAI chat shape (tool_calls, tool_call_id)
    output: str | None  # production's answer (its text; None when it had none)
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
    tool_calls: list[dict[str, str]] = field(default_factory=list)  # the answer's: {id, name, arguments (JSON text)}
    tools: list[Any] = field(default_factory=list)  # the tool definitions the request carried, where recorded
    tooled: bool = False  # tools in the request, the conversation or the answer (kept by `slim`)
    answered: bool = False  # production's answer has text (kept by `slim`)
    parent_id: str | None = None  # the span this call ran under (its route may be there)
    error: str | None = None  # the call failed: its error type or status message (span status ERROR, level ERROR)
    cost_usd: float | None = None  # what the trace itself says the call cost (Langfuse, OpenInference), if it does

    def slim(self, attrs: set[str]) -> None:
        """Keep what the sample is drawn on (and the `attrs` a filter or a stratum names) and drop
        the text: the first pass over a large export holds every call, so each must be small; the
        sampled ones are read again whole."""
        self.keys = repeat_keys(self)
        self.system_key = _digest(self.system or "")
        self.n_tokens = self.tokens_in()
        self.tooled = self.tooled or uses_tools(self)
        self.messages, self.system, self.output, self.tool_calls, self.tools = [], None, None, [], []
        self.attrs = {k: v for k, v in self.attrs.items() if k in attrs}

    @property
    def key(self) -> tuple[str, str]:
        """Where the call is found again: its file and line, and its span or observation id."""
        return self.where, self.span_id

    @property
    def seconds(self) -> float | None:
        return self.end - self.start if self.start is not None and self.end is not None and self.end >= self.start else None

    def text(self) -> str:
        return "\n".join(m.get("content") or "" for m in ([{"content": self.system}] if self.system else []) + self.messages)

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
    near = _NEAR.sub(" ", (c.system or "") + " " + " ".join(m.get("content") or "" for m in c.messages)).strip().lower()
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
    parents: dict[str, tuple[str | None, dict[str, str]]] = field(default_factory=dict)  # span -> parent, route attrs
    span_ids: set[str] = field(default_factory=set)  # every OTLP span read (log records are matched against them)
    log_records: int = 0  # OTLP log records read
    orphan_logs: int = 0  # spans named by log records that no file read holds
    no_content_events: int = 0  # model spans whose events were read, without their messages' text
    # Keep model calls whose text cannot be read (content capture off, images, tool turns): a trial
    # reads production's signals (model, time, tokens, errors, feedback), never the text.
    bare: bool = False

    def add(self, call: TracedCall) -> None:
        if self.wanted is not None:
            if call.key in self.wanted:
                self.calls.append(call)
            return
        call.tooled = call.tooled or uses_tools(call)
        call.answered = call.answered or bool(call.output and call.output.strip())
        if self.slim is not None:
            call.slim(self.slim)
        self.calls.append(call)


def uses_tools(c: TracedCall) -> bool:
    """Tools in the request, a tool call or result in the conversation, or a tool call as the answer."""
    return bool(c.tool_calls or c.tools or any(m.get("tool_calls") or m.get("role") == "tool" for m in c.messages))


MAX_NESTING = 64  # as for every file modelsel reads


def _depth(v: Any) -> int:
    """How deeply lists and mappings nest in `v` (without recursion)."""
    deepest, todo = 0, [(v, 1)]
    while todo:
        x, d = todo.pop()
        if isinstance(x, dict | list):
            deepest = max(deepest, d)
            if d > MAX_NESTING:
                return d
            todo += [(y, d + 1) for y in (x.values() if isinstance(x, dict) else x)]
    return deepest


def loads(text: str) -> Any:
    """JSON inside an attribute or a column: its value, or `text` itself when it is not JSON (or is
    nested past what can be read: such text is kept as text, never a traceback)."""
    if not text or text.lstrip()[:1] not in '[{"':
        return text
    try:
        v = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError):
        return text
    if text.count("[") + text.count("{") <= MAX_NESTING:  # cannot nest deeper than it has brackets
        return v
    return text if _depth(v) > MAX_NESTING else v


def _args(v: Any) -> str:
    """A tool call's arguments as JSON text (the OpenAI shape), however the trace spelled them."""
    if isinstance(v, str):
        return v
    return json.dumps(v if v is not None else {}, ensure_ascii=False)


def tool_call(d: Any) -> dict[str, str] | None:
    """One tool call as {id, name, arguments}: OpenAI's {id, type: function, function: {name,
    arguments}}, the GenAI part {type: tool_call, id, name, arguments}, Anthropic's {type: tool_use,
    id, name, input}, Gemini's {functionCall: {name, args}}, LangChain's {id, name, args}."""
    if not isinstance(d, dict):
        return None
    f = d.get("function") or d.get("functionCall") or d.get("function_call")
    if isinstance(f, dict):
        name, args = f.get("name"), f.get("arguments", f.get("args"))
    else:
        name, args = d.get("name"), d.get("arguments", d.get("input", d.get("args")))
    if not name:
        return None
    return {"id": str(d.get("id") or d.get("tool_call_id") or ""), "name": str(name), "arguments": _args(args)}


TOOL_CALL_PARTS = ("tool_call", "tool_use", "function_call")
TOOL_RESULT_PARTS = ("tool_call_response", "tool_result", "function_response", "function_call_output")


def parts(content: Any) -> tuple[str, list[dict[str, str]], list[tuple[str, str]]]:
    """(text, tool calls, tool results as (call id, text)) of a message's content: a string, or parts
    ({type: text, text|content}, tool calls, tool results); any other part (an image, audio) makes
    the call one the eval set cannot hold."""
    if content is None:
        return "", [], []
    if isinstance(content, str):
        return content, [], []
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return str(content), [], []
    text: list[str] = []
    calls: list[dict[str, str]] = []
    results: list[tuple[str, str]] = []
    for p in content:
        if isinstance(p, str):
            text.append(p)
            continue
        if not isinstance(p, dict):
            raise NotAChat("a message part that is not text")
        kind = str(p.get("type") or ("tool_call" if "functionCall" in p else "tool_call_response"
                                     if "functionResponse" in p else "text"))
        if kind in ("text", "input_text", "output_text"):
            text.append(str(p.get("text") if p.get("text") is not None else p.get("content") or ""))
        elif kind in ("reasoning", "thinking"):
            continue  # the model's own reasoning: not part of what was asked or answered
        elif kind in TOOL_CALL_PARTS:
            tc = tool_call(p)
            if tc is None:
                raise NotAChat("tool calls without a name")
            calls.append(tc)
        elif kind in TOOL_RESULT_PARTS:
            r = p.get("response", p.get("result", p.get("content", p.get("output", p.get("functionResponse")))))
            body, _, _ = parts(r) if isinstance(r, list) else ((r if isinstance(r, str) else _args(r)), [], [])
            results.append((str(p.get("id") or p.get("tool_use_id") or p.get("call_id") or ""), body))
        else:
            raise NotAChat(f"{kind} input")
    return "".join(text), calls, results


def text_of(content: Any) -> str:
    """A message's content as text (tool calls and results are not text: see `parts`)."""
    return parts(content)[0]


def _message_tool_calls(m: dict[str, Any]) -> list[dict[str, str]]:
    raw = m.get("tool_calls") or ([m["function_call"]] if isinstance(m.get("function_call"), dict) else [])
    if isinstance(raw, dict):
        raw = [raw[k] for k in sorted(raw, key=lambda k: int(k) if str(k).isdigit() else 0)]
    out = [tool_call(t) for t in raw if isinstance(raw, list)]
    return [t for t in out if t]


def chat(messages: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """(system prompt, user/assistant/tool turns in the OpenAI chat shape) from a list of
    {role, content|parts} messages; tool calls and results are kept as `tool_calls` and `tool`
    messages."""
    if isinstance(messages, str):
        messages = loads(messages)
        if isinstance(messages, str):
            return None, [{"role": "user", "content": messages}]
    if isinstance(messages, dict):
        messages = messages.get("messages", [messages])
    if not isinstance(messages, list):
        raise NotAChat("input that is not a list of messages")
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, str):
            turns.append({"role": "user", "content": m})
            continue
        if not isinstance(m, dict):
            raise NotAChat("input that is not a list of messages")
        role = str(m.get("role") or "user").lower()
        role = ROLE_ALIASES.get(role, role)
        if role in ("function", "ipython"):
            role = "tool"
        if role not in ROLES | {"tool"}:
            raise NotAChat(f"{role} messages")
        body = m.get("parts") if "parts" in m else m.get("content")
        text, calls, results = parts(body)
        calls += _message_tool_calls(m)
        if role == "system":
            system.append(text)
        elif role == "tool" or (results and not text and not calls):
            for cid, rtext in results or [(str(m.get("tool_call_id") or m.get("id") or ""), text)]:
                turns.append({"role": "tool", "tool_call_id": cid, "content": rtext})
        elif calls:
            turns.append({"role": "assistant", "content": text or None, "tool_calls": [
                {"id": t["id"], "type": "function", "function": {"name": t["name"], "arguments": t["arguments"]}}
                for t in calls]})
        else:
            turns.append({"role": role, "content": text})
    return ("\n".join(system) if system else None), turns


def answer(output: Any) -> tuple[str | None, list[dict[str, str]]]:
    """(production's answer text, its tool calls) from an output message list, a chat completion,
    an Anthropic or Gemini response, or text; the text is None when the answer had none."""
    if output is None:
        return None, []
    if isinstance(output, str):
        parsed = loads(output)
        if not isinstance(parsed, dict | list):
            return output or None, []
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
    texts, calls = [], []
    for m in output if isinstance(output, list) else [output]:
        if isinstance(m, dict):
            body = m.get("parts") if "parts" in m else m.get("content", m.get("text", m.get("message")))
            if isinstance(body, dict) and ("content" in body or "tool_calls" in body):
                calls += _message_tool_calls(body)
                body = body.get("content")
            text, tcs, _ = parts(body)
            texts.append(text)
            calls += tcs + _message_tool_calls(m)
        else:
            texts.append(str(m))
    text = "".join(texts)
    return (text if text.strip() else None), calls


def tools_of(v: Any) -> list[Any]:
    """Tool definitions as a trace records them (a JSON list, or one a JSON string each)."""
    if isinstance(v, str):
        v = loads(v)
    if isinstance(v, dict):
        v = [v]
    if not isinstance(v, list):
        return []
    return [loads(t) if isinstance(t, str) else t for t in v if t]


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
