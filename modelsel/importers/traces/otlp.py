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
import binascii
import math
import re
from typing import Any

from modelsel.importers.traces.calls import (
    ROUTE_KEYS,
    NotAChat,
    Read,
    TracedCall,
    answer,
    chat,
    feedback_label,
    is_feedback_name,
    kind_name,
    loads,
    text_of,
    tools_of,
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
    if "doubleValue" in v:  # protobuf's JSON writes "Infinity" and "NaN": no figure, kept as its text
        try:
            f = float(v["doubleValue"])
        except (TypeError, ValueError):
            return str(v["doubleValue"])
        return f if math.isfinite(f) else str(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in v:
        return {kv.get("key"): any_value(kv.get("value")) for kv in (v["kvlistValue"] or {}).get("values") or []}
    if "bytesValue" in v:
        try:
            return base64.b64decode(str(v["bytesValue"]), validate=True).hex()
        except (binascii.Error, ValueError):
            return None
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
    lf = a.get("langfuse.observation.type")  # the Langfuse SDK's own spans
    if lf is not None:
        return None if str(lf).lower() == "generation" else kind_name(str(lf))
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
        if rest.startswith("tool_calls."):
            # gen_ai.completion.0.tool_calls.0.name / .arguments / .id (OpenLLMetry);
            # llm.output_messages.0.message.tool_calls.0.tool_call.function.name (OpenInference)
            parts = rest.split(".")
            if len(parts) >= 3 and parts[1].isdigit():
                field = parts[-1] if parts[-1] in ("name", "arguments", "id") else None
                if field:
                    row.setdefault("_calls", {}).setdefault(int(parts[1]), {})[field] = v
            continue
        if rest.startswith("function_call."):
            row.setdefault("_calls", {}).setdefault(0, {})[rest.split(".")[-1]] = v
            continue
        row[rest] = v
    out = []
    for i in sorted(rows):
        r = rows[i]
        if "_parts" in r:
            parts = r.pop("_parts")
            r["content"] = [parts[j] for j in sorted(parts)]
        if "_calls" in r:
            calls = r.pop("_calls")
            r["tool_calls"] = [{"id": calls[j].get("id", ""), "type": "function",
                                "function": {"name": calls[j].get("name"), "arguments": calls[j].get("arguments", "{}")}}
                               for j in sorted(calls)]
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
            m = {"role": role, "content": b.get("content")}
            if b.get("tool_calls"):
                m["tool_calls"] = b["tool_calls"]
            if role == "tool":
                m["tool_call_id"] = b.get("id") or b.get("tool_call_id")
            msgs.append(m)
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
    if "langfuse.observation.input" in a:  # the Langfuse SDK's own OTLP
        return a["langfuse.observation.input"], None, a.get("langfuse.observation.output")
    found = _from_events(events)
    if found is not None:
        return found
    raise NotAChat(NO_CONTENT)


NO_CONTENT = "model spans without their messages (content capture off)"


def _system_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        v = loads(v)
        if isinstance(v, str):
            return v
    return text_of(v) or None


def _tools(a: dict[str, Any], raw_in: Any) -> list[Any]:
    """The tool definitions a span recorded: gen_ai.tool.definitions, OpenInference's
    llm.tools.N.tool.json_schema or its request's `tools`, OpenLLMetry's llm.request.functions.N.*."""
    if a.get("gen_ai.tool.definitions"):
        return tools_of(a["gen_ai.tool.definitions"])
    oi: dict[int, Any] = {}
    fns: dict[int, dict[str, Any]] = {}
    for k, v in a.items():
        if not k.startswith(("llm.tools.", "llm.request.functions.")):
            continue
        m = _OI_TOOL.fullmatch(k)
        if m and tools_of(v):
            oi[int(m.group(1))] = tools_of(v)[0]
        m = _FUNCTION.fullmatch(k)
        if m:
            fns.setdefault(int(m.group(1)), {})[m.group(2)] = loads(v) if m.group(2) == "parameters" else v
    if oi or fns:
        return [oi[i] for i in sorted(oi)] or [fns[i] for i in sorted(fns)]
    for raw in (a.get("input.value"), raw_in):  # the request itself (OpenInference's input.value, a JSON request)
        if isinstance(raw, str) and '"tools"' in raw:
            raw = loads(raw)
        if isinstance(raw, dict) and isinstance(raw.get("tools"), list):
            return raw["tools"]
    return []


_OI_TOOL = re.compile(r"llm\.tools\.(\d+)\.tool\.json_schema")
_FUNCTION = re.compile(r"llm\.request\.functions\.(\d+)\.(name|description|parameters)")


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
    except (TypeError, ValueError, OverflowError):
        return None


def span_call(span: dict[str, Any], resource: dict[str, Any], where: str, out: Read,
              logged: list[Event] | None = None, attrs: dict[str, Any] | None = None) -> None:
    """A span as a model call; one whose messages are not on it waits for the log records of its
    events (`logged`, joined once every file is read)."""
    a = attrs if attrs is not None else attributes(span.get("attributes"))
    events = span_events(span) + (logged or [])
    kind = _kind(a)
    if kind is not None:
        out.skipped[kind] += 1
        return
    raw_sys: Any = None
    try:
        raw_in, raw_sys, raw_out = _messages(a, events)
        system, turns = chat(raw_in)
        output, tool_calls = answer(raw_out)
        if not any((m.get("content") or "").strip() or m.get("tool_calls") for m in turns) and not system:
            raise NotAChat(NO_CONTENT)  # messages recorded without their text: content capture off
    except NotAChat as exc:
        if exc.kind == NO_CONTENT and logged is None:
            out.pending.append((span, resource, where))
            return
        if not out.bare:
            out.skipped[exc.kind] += 1
            if exc.kind == NO_CONTENT:
                out.no_content_events += bool(logged)
            return
        system, turns, output, tool_calls, raw_in = None, [], None, [], None
    extra_system = _system_text(raw_sys) if not out.bare else None
    if extra_system:
        system = extra_system + ("\n" + system if system else "")
    if not turns and not out.bare:
        out.skipped["model spans without a user message"] += 1
        return
    start, end = _int(span.get("startTimeUnixNano")), _int(span.get("endTimeUnixNano"))
    flat = {k: str(v) for k, v in {**resource, **a}.items() if isinstance(v, str | int | float | bool)
            and not k.startswith(("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.",
                                  "gen_ai.input.", "gen_ai.output.", "gen_ai.system_instructions", "input.value",
                                  "output.value", "langfuse.observation.input", "langfuse.observation.output",
                                  "gen_ai.tool.definitions", "llm.tools."))}
    flat.update(_metadata(a))
    usage = loads(a["langfuse.observation.usage_details"]) if isinstance(a.get("langfuse.observation.usage_details"), str) else {}
    usage = usage if isinstance(usage, dict) else {}
    out.add(TracedCall(
        where=where, trace_id=span_id(span.get("traceId")), span_id=span_id(span.get("spanId")),
        parent_id=span_id(span.get("parentSpanId")) or None,
        model=a.get("gen_ai.request.model") or a.get("gen_ai.response.model") or a.get("llm.model_name")
        or a.get("langfuse.observation.model.name"),
        vendor=a.get("gen_ai.provider.name") or a.get("gen_ai.system") or a.get("llm.provider") or a.get("llm.system"),
        system=system, messages=turns, output=output, tool_calls=tool_calls, tools=_tools(a, raw_in),
        start=start / 1e9 if start else None, end=end / 1e9 if end else None,
        input_tokens=_int(a.get("gen_ai.usage.input_tokens", a.get("gen_ai.usage.prompt_tokens", a.get("llm.token_count.prompt",
                                                                                                      usage.get("input", usage.get("prompt_tokens")))))),
        output_tokens=_int(a.get("gen_ai.usage.output_tokens", a.get("gen_ai.usage.completion_tokens",
                                                                   a.get("llm.token_count.completion", usage.get("output", usage.get("completion_tokens")))))),
        attrs=flat, feedback=_feedback(a, events), error=_error(span, a, events), cost_usd=_cost(a)))


def _error(span: dict[str, Any], a: dict[str, Any], events: list[Event]) -> str | None:
    """The call failed: span status ERROR (code 2), or an `error.type` attribute (GenAI conventions);
    its error type, else the status message, else the exception event's type."""
    status = span.get("status") if isinstance(span.get("status"), dict) else {}
    failed = str(status.get("code", "")).upper() in ("2", "STATUS_CODE_ERROR", "ERROR")
    if not failed and a.get("error.type") in (None, ""):
        return None
    exc = next((ea.get("exception.type") for name, ea, _, _ in events if name == "exception"), None)
    return str(a.get("error.type") or exc or status.get("message") or "error")[:200]


def _cost(a: dict[str, Any]) -> float | None:
    """The cost the instrumentation recorded with the call (OpenInference's llm.cost.total, Langfuse's
    cost details), where it did; the trial prices tokens itself and uses this for what it cannot price."""
    for k in ("llm.cost.total", "gen_ai.usage.cost", "langfuse.observation.cost_details"):
        v = a.get(k)
        v = loads(v) if isinstance(v, str) else v
        if isinstance(v, dict):
            v = v.get("total")
        try:
            f = float(v) if v is not None and not isinstance(v, bool) else None
        except (TypeError, ValueError):
            f = None
        if f is not None and math.isfinite(f) and f >= 0:
            return f
    return None


def _metadata(a: dict[str, Any]) -> dict[str, str]:
    """OpenInference's `metadata` and Langfuse's trace/observation metadata (JSON objects) and
    Langfuse's trace tags, flattened so that a route or a filter can name their keys."""
    out: dict[str, str] = {}
    for key in ("metadata", "langfuse.trace.metadata", "langfuse.observation.metadata"):
        v = loads(a[key]) if isinstance(a.get(key), str) else a.get(key)
        if isinstance(v, dict):
            out.update({str(k): str(x) for k, x in v.items() if isinstance(x, str | int | float | bool)})
    for key in ("langfuse.trace.tags", "tag.tags"):
        v = a.get(key)
        v = loads(v) if isinstance(v, str) else v
        if isinstance(v, list) and v:
            out["tags"] = ",".join(str(t) for t in v)
    return out


def span_id(v: Any) -> str:
    """A trace or span id as hex, whichever JSON mapping wrote it: OTLP/JSON's hex, or protobuf's own
    JSON mapping's base64 (what `MessageToJson` gives)."""
    s = str(v or "")
    if not s or re.fullmatch(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}", s):
        return s.lower()
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return s
    return raw.hex() if len(raw) in (8, 16) else s


def read_logs(req: dict[str, Any], out: Read) -> None:
    """One ExportLogsServiceRequest: the GenAI events instrumentations emit as log records, kept by
    the span they belong to until the spans are read."""
    for rl in req.get("resourceLogs") or []:
        for sl in (rl or {}).get("scopeLogs") or []:
            for lr in (sl or {}).get("logRecords") or []:
                if not isinstance(lr, dict) or not lr.get("spanId"):
                    continue
                out.log_records += 1
                la = attributes(lr.get("attributes"))
                name = str(lr.get("eventName") or la.get("event.name") or "")
                if name.startswith("gen_ai."):
                    t = _int(lr.get("timeUnixNano")) or _int(lr.get("observedTimeUnixNano")) or 0
                    out.logs.setdefault((span_id(lr.get("traceId")), span_id(lr["spanId"])), []).append(
                        (name, la, any_value(lr.get("body")), t))


def join_logs(out: Read) -> None:
    """The spans that waited for their messages, with the log records of their events; feedback
    recorded as an evaluation event goes to its span; a call's route attributes missing on its own
    span are taken from the spans it ran under (the request span a web framework opens)."""
    pending, out.pending = out.pending, []
    for span, resource, where in pending:
        span_call(span, resource, where, out, out.logs.get((span_id(span.get("traceId")), span_id(span.get("spanId"))), []))
    for (trace, span), events in out.logs.items():
        if span not in out.span_ids:
            out.orphan_logs += 1
        label = _feedback({}, events)
        if label:
            out.feedback.append((trace, span, label))
    out.logs.clear()
    for c in out.calls:
        parent, seen = c.parent_id, 0
        while parent and parent in out.parents and seen < 64:
            parent, inherited = out.parents[parent]
            for k, v in inherited.items():
                c.attrs.setdefault(k, v)
            seen += 1


def read_request(req: dict[str, Any], where: str, out: Read) -> None:
    """One ExportTraceServiceRequest."""
    for rs in req.get("resourceSpans") or []:
        if not isinstance(rs, dict):
            continue
        resource = attributes((rs.get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for span in (ss or {}).get("spans") or []:
                if isinstance(span, dict):
                    out.span_ids.add(span_id(span.get("spanId")))
                    a = attributes(span.get("attributes"))
                    if _kind(a) is not None:  # a request, chain or agent span: a model call under it may take its route
                        keys = out.slim if out.slim is not None else set(ROUTE_KEYS)
                        parent = span_id(span.get("parentSpanId")) or None
                        routes = {k: str(v) for k, v in {**a, **_metadata(a)}.items() if k in keys and isinstance(v, str | int)}
                        if parent or routes:
                            out.parents[span_id(span.get("spanId"))] = (parent, routes)
                    span_call(span, resource, where, out, attrs=a)
