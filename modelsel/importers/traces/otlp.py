"""OTLP/JSON as the OpenTelemetry Collector's file exporter writes it (one ExportTraceServiceRequest
a line: resourceSpans -> scopeSpans -> spans, attributes as {key, value: AnyValue}, ids in hex,
64-bit integers as strings). A span is a model call by its attributes:

- GenAI semantic conventions, current: gen_ai.operation.name (chat, text_completion,
  generate_content), gen_ai.input.messages / gen_ai.output.messages (JSON: [{role, parts: [{type:
  text, content}]}]), gen_ai.system_instructions, gen_ai.request.model, gen_ai.provider.name,
  gen_ai.usage.input_tokens / output_tokens;
- the older ones still common: gen_ai.system, gen_ai.prompt.N.role/content and
  gen_ai.completion.N.role/content (OpenLLMetry), gen_ai.usage.prompt_tokens / completion_tokens,
  the gen_ai.content.prompt / gen_ai.content.completion events;
- OpenInference: openinference.span.kind = LLM, llm.input_messages.N.message.role/content (or
  .contents.M.message_content.text), llm.output_messages.N..., llm.model_name, llm.provider,
  llm.token_count.prompt / completion.
Other spans (embeddings, retrieval, tools, agents, HTTP) are counted by kind and skipped."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from modelsel.importers.traces.calls import (
    NotAChat,
    Read,
    TracedCall,
    answer,
    chat,
    feedback_label,
    is_feedback_name,
    text_of,
)

CHAT_OPS = {"chat", "text_completion", "generate_content", "completion"}
OP_KINDS = {"embeddings": "embeddings", "execute_tool": "tool", "invoke_agent": "agent", "create_agent": "agent",
            "invoke_workflow": "agent", "retrieval": "retrieval"}
OI_KINDS = {"LLM": None, "EMBEDDING": "embeddings", "RETRIEVER": "retrieval", "TOOL": "tool", "AGENT": "agent",
            "CHAIN": "chain", "RERANKER": "reranker", "GUARDRAIL": "guardrail", "EVALUATOR": "evaluator"}
_INDEXED = re.compile(r"^(gen_ai\.(?:prompt|completion)|llm\.(?:input|output)_messages)\.(\d+)\.(.+)$")


def any_value(v: Any) -> Any:
    """An OTLP AnyValue as a Python value."""
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in v:
        return {kv.get("key"): any_value(kv.get("value")) for kv in (v["kvlistValue"] or {}).get("values") or []}
    if "bytesValue" in v:
        return base64.b64decode(v["bytesValue"]).hex()
    return None


def attributes(items: Any) -> dict[str, Any]:
    return {a["key"]: any_value(a.get("value")) for a in items or [] if isinstance(a, dict) and "key" in a}


def _kind(a: dict[str, Any]) -> str | None:
    """None for a model call, else the kind of span it is."""
    op = a.get("gen_ai.operation.name")
    if op is not None:
        return None if op in CHAT_OPS else OP_KINDS.get(str(op), str(op))
    oi = a.get("openinference.span.kind")
    if oi is not None:
        return OI_KINDS.get(str(oi).upper(), str(oi).lower())
    req = a.get("llm.request.type")  # OpenLLMetry
    if req is not None:
        return None if req in ("chat", "completion") else "embeddings" if req == "embedding" else str(req)
    if any(k.startswith(("gen_ai.prompt.", "gen_ai.input.messages")) for k in a):
        return None
    return "other"


def _indexed(a: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """gen_ai.prompt.0.role / llm.input_messages.0.message.content ... as a list of messages."""
    rows: dict[int, dict[str, Any]] = {}
    for k, v in a.items():
        m = _INDEXED.match(k)
        if not m or m.group(1) != prefix:
            continue
        rest = m.group(3).removeprefix("message.")
        row = rows.setdefault(int(m.group(2)), {})
        if rest.startswith("contents."):  # llm.input_messages.0.message.contents.1.message_content.text
            parts = rest.split(".")
            if len(parts) >= 4 and parts[-1] in ("text", "type"):
                row.setdefault("_parts", {}).setdefault(int(parts[1]), {})[parts[-1]] = v
            continue
        if rest.startswith("tool_calls"):
            row["tool_calls"] = True
            continue
        row[rest] = v
    out = []
    for i in sorted(rows):
        r = rows[i]
        if "_parts" in r:
            parts = r.pop("_parts")
            r["content"] = [parts[j] for j in sorted(parts)]
        out.append(r)
    return out


Event = tuple[str, dict[str, Any], Any, int]  # name, attributes, body, time: a span event or a log record


def span_events(span: dict[str, Any]) -> list[Event]:
    return [(str(e.get("name") or ""), attributes(e.get("attributes")), None, _int(e.get("timeUnixNano")) or 0)
            for e in span.get("events") or [] if isinstance(e, dict)]


def _from_events(events: list[Event]) -> tuple[Any, Any, Any] | None:
    """Messages the instrumentation emitted as events (log records of the span): the
    `gen_ai.client.inference.operation.details` event with the message attributes, or one event a
    message (`gen_ai.system.message`, `gen_ai.user.message`, `gen_ai.assistant.message`,
    `gen_ai.tool.message`; the answer in `gen_ai.choice`), each with its body."""
    for name, ea, _, _ in events:
        if name == "gen_ai.client.inference.operation.details" and "gen_ai.input.messages" in ea:
            return ea["gen_ai.input.messages"], ea.get("gen_ai.system_instructions"), ea.get("gen_ai.output.messages")
    msgs, output = [], None
    for name, _ea, body, _ in sorted(events, key=lambda e: e[3]):
        b = body if isinstance(body, dict) else {"content": body}
        if name.startswith("gen_ai.") and name.endswith(".message"):
            role = b.get("role") or name.split(".")[1]
            if b.get("tool_calls"):
                raise NotAChat("tool calls")
            msgs.append({"role": role, "content": b.get("content")})
        elif name == "gen_ai.choice" and output is None:
            output = b.get("message", b)
    return (msgs, None, output) if msgs else None


def _messages(a: dict[str, Any], events: list[Event]) -> tuple[Any, Any, Any]:
    """(input messages, system instructions, output) in whichever convention the span uses."""
    if "gen_ai.input.messages" in a:
        return a["gen_ai.input.messages"], a.get("gen_ai.system_instructions"), a.get("gen_ai.output.messages")
    prompt = _indexed(a, "gen_ai.prompt")
    if prompt:
        return prompt, None, _indexed(a, "gen_ai.completion")
    oi = _indexed(a, "llm.input_messages")
    if oi:
        return oi, None, _indexed(a, "llm.output_messages") or a.get("output.value")
    for name, ea, _, _ in events:  # the first GenAI conventions: prompt and completion as events
        if name == "gen_ai.content.prompt" and "gen_ai.prompt" in ea:
            out = next((xa.get("gen_ai.completion") for xn, xa, _, _ in events if xn == "gen_ai.content.completion"), None)
            return ea["gen_ai.prompt"], None, out
    if "input.value" in a:  # OpenInference without the message list
        return a["input.value"], None, a.get("output.value")
    found = _from_events(events)
    if found is not None:
        return found
    raise NotAChat(NO_CONTENT)


NO_CONTENT = "model spans without their messages (content capture off)"


def _system_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except json.JSONDecodeError:
            return v
    return text_of(v) or None


def _feedback(a: dict[str, Any], events: list[Event]) -> str | None:
    for k, v in a.items():
        if is_feedback_name(k) and not k.endswith((".comment", ".text", ".id")):
            return feedback_label(v)
    for name, ea, _, _ in events:
        if name == "gen_ai.evaluation.result" and is_feedback_name(str(ea.get("gen_ai.evaluation.name", ""))):
            return feedback_label(ea.get("gen_ai.evaluation.score.label", ea.get("gen_ai.evaluation.score.value")))
        if is_feedback_name(name):
            return feedback_label(next((v for k, v in ea.items() if k.split(".")[-1] in ("value", "score", "label",
                                                                                         "rating", "feedback")), None))
    return None


def _int(v: Any) -> int | None:
    try:
        return int(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def span_call(span: dict[str, Any], resource: dict[str, Any], where: str, out: Read,
              logged: list[Event] | None = None) -> None:
    """A span as a model call; one whose messages are not on it waits for the log records of its
    events (`logged`, joined once every file is read)."""
    a = attributes(span.get("attributes"))
    events = span_events(span) + (logged or [])
    kind = _kind(a)
    if kind is not None:
        out.skipped[kind] += 1
        return
    try:
        raw_in, raw_sys, raw_out = _messages(a, events)
        system, turns = chat(raw_in)
        output = answer(raw_out)
    except NotAChat as exc:
        if exc.kind == NO_CONTENT and logged is None:
            out.pending.append((span, resource, where))
            return
        out.skipped[exc.kind] += 1
        return
    extra_system = _system_text(raw_sys)
    if extra_system:
        system = extra_system + ("\n" + system if system else "")
    if not turns:
        out.skipped["model spans without a user message"] += 1
        return
    start, end = _int(span.get("startTimeUnixNano")), _int(span.get("endTimeUnixNano"))
    flat = {k: str(v) for k, v in {**resource, **a}.items() if isinstance(v, str | int | float | bool)
            and not k.startswith(("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.",
                                  "gen_ai.input.", "gen_ai.output.", "gen_ai.system_instructions", "input.value",
                                  "output.value"))}
    out.add(TracedCall(
        where=where, trace_id=str(span.get("traceId") or ""), span_id=str(span.get("spanId") or ""),
        model=a.get("gen_ai.request.model") or a.get("gen_ai.response.model") or a.get("llm.model_name"),
        vendor=a.get("gen_ai.provider.name") or a.get("gen_ai.system") or a.get("llm.provider") or a.get("llm.system"),
        system=system, messages=turns, output=output,
        start=start / 1e9 if start else None, end=end / 1e9 if end else None,
        input_tokens=_int(a.get("gen_ai.usage.input_tokens", a.get("gen_ai.usage.prompt_tokens", a.get("llm.token_count.prompt")))),
        output_tokens=_int(a.get("gen_ai.usage.output_tokens", a.get("gen_ai.usage.completion_tokens",
                                                                   a.get("llm.token_count.completion")))),
        attrs=flat, feedback=_feedback(a, events)))


def read_logs(req: dict[str, Any], out: Read) -> None:
    """One ExportLogsServiceRequest: the GenAI events instrumentations emit as log records, kept by
    the span they belong to until the spans are read."""
    for rl in req.get("resourceLogs") or []:
        for sl in (rl or {}).get("scopeLogs") or []:
            for lr in (sl or {}).get("logRecords") or []:
                if not isinstance(lr, dict) or not lr.get("spanId"):
                    continue
                la = attributes(lr.get("attributes"))
                name = str(lr.get("eventName") or la.get("event.name") or "")
                if name.startswith("gen_ai."):
                    t = _int(lr.get("timeUnixNano")) or _int(lr.get("observedTimeUnixNano")) or 0
                    out.logs.setdefault((str(lr.get("traceId") or ""), str(lr["spanId"])), []).append(
                        (name, la, any_value(lr.get("body")), t))


def join_logs(out: Read) -> None:
    """The spans that waited for their messages, with the log records of their events; feedback
    recorded as an evaluation event goes to its span."""
    pending, out.pending = out.pending, []
    for span, resource, where in pending:
        span_call(span, resource, where, out, out.logs.get((str(span.get("traceId") or ""), str(span.get("spanId") or "")), []))
    for (trace_id, span_id), events in out.logs.items():
        label = _feedback({}, events)
        if label:
            out.feedback.append((trace_id, span_id, label))
    out.logs.clear()


def read_request(req: dict[str, Any], where: str, out: Read) -> None:
    """One ExportTraceServiceRequest."""
    for rs in req.get("resourceSpans") or []:
        if not isinstance(rs, dict):
            continue
        resource = attributes((rs.get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for span in (ss or {}).get("spans") or []:
                if isinstance(span, dict):
                    span_call(span, resource, where, out)
