"""MLflow 3 traces as `Trace.to_json()` writes them: {"info": {trace_id, tags, trace_metadata,
assessments}, "data": {"spans": [...]}}, each span {trace_id, span_id, parent_span_id, name,
start_time_unix_nano, end_time_unix_nano, status, attributes}, every attribute value itself
JSON-encoded (mlflow.spanType '"CHAT_MODEL"', mlflow.spanInputs, mlflow.spanOutputs,
mlflow.chat.tokenUsage). CHAT_MODEL and LLM spans are model calls; the rest are counted and
skipped. Assessments of a human source or a feedback-like name carry user feedback."""

from __future__ import annotations

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
    tools_of,
)

CALL_TYPES = {"CHAT_MODEL", "LLM"}


def is_trace(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("data"), dict) and "spans" in obj["data"] and "info" in obj


def _decoded(v: Any) -> Any:
    return loads(v) if isinstance(v, str) else v


def _usage(a: dict[str, Any], outputs: Any) -> tuple[int | None, int | None]:
    u = a.get("mlflow.chat.tokenUsage")
    if not isinstance(u, dict) and isinstance(outputs, dict):
        u = outputs.get("usage")
    if not isinstance(u, dict):
        return None, None
    tin, tout = u.get("input_tokens", u.get("prompt_tokens")), u.get("output_tokens", u.get("completion_tokens"))
    return (int(tin) if isinstance(tin, int | float) else None), (int(tout) if isinstance(tout, int | float) else None)


def _model(a: dict[str, Any], inputs: Any, outputs: Any) -> str | None:
    for v in (a.get("mlflow.llm.model"), a.get("gen_ai.request.model"), a.get("model"),
              inputs.get("model") if isinstance(inputs, dict) else None,
              (inputs.get("invocation_params") or {}).get("model_name") if isinstance(inputs, dict)
              and isinstance(inputs.get("invocation_params"), dict) else None,
              outputs.get("model") if isinstance(outputs, dict) else None):
        if isinstance(v, str) and v:
            return v
    return None


def _inherited(span: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Route attributes of the spans a call ran under (the request span), nearest first."""
    out: dict[str, str] = {}
    parent, seen = span.get("parent_span_id"), 0
    while parent and str(parent) in by_id and seen < 64:
        up = by_id[str(parent)]
        for k, v in (up.get("attributes") or {}).items():
            v = _decoded(v)
            if k in ROUTE_KEYS and isinstance(v, str | int) and k not in out:
                out[k] = str(v)
        parent, seen = up.get("parent_span_id"), seen + 1
    return out


DATAFRAME_COLUMNS = {"trace_id", "request", "response", "spans", "trace", "request_time", "execution_duration",
                     "assessments", "trace_metadata", "state"}
DATAFRAME_HINT = ("this is the DataFrame of `mlflow.search_traces()` saved with to_json/to_csv, where the traces' spans "
                  "are not JSON; export the traces themselves: `for t in mlflow.search_traces(return_type=\"list\"): "
                  "f.write(t.to_json() + \"\\n\")` (or save the DataFrame with to_json(orient=\"records\"), whose `spans` "
                  "column modelsel reads)")


def is_dataframe_row(obj: Any) -> bool:
    """A row of search_traces()'s DataFrame saved with to_json(orient="records"|"columns"|...)."""
    return isinstance(obj, dict) and "info" not in obj and len(DATAFRAME_COLUMNS & set(obj)) >= 3 and "trace_id" in obj


def dataframe_hint(obj: Any) -> str | None:
    return DATAFRAME_HINT if isinstance(obj, dict) and len(DATAFRAME_COLUMNS & set(obj)) >= 3 else None


def read_dataframe_row(row: dict[str, Any], where: str, out: Read, path: Any, line: int) -> None:
    """A DataFrame row with its `spans` (a list of span dicts, or their JSON): read as the trace it
    came from; to_json's default orient (a mapping a column) is first turned into rows."""
    from modelsel.errors import InputError

    if isinstance(row.get("trace_id"), dict):  # orient="columns": {column: {row index: value}}
        for i in row["trace_id"]:
            read_dataframe_row({k: (v.get(i) if isinstance(v, dict) else None) for k, v in row.items()}, where, out,
                               path, line)
        return
    trace = loads(row["trace"]) if isinstance(row.get("trace"), str) else row.get("trace")
    if is_trace(trace):  # the `trace` column: the trace's own JSON (str(Trace) is its to_json())
        read_trace(trace, where, out)
        return
    spans = loads(row["spans"]) if isinstance(row.get("spans"), str) else row.get("spans")
    if not isinstance(spans, list) or not all(isinstance(s, dict) for s in spans):
        raise InputError(DATAFRAME_HINT + ".", path=path, line=line)
    assessments = loads(row["assessments"]) if isinstance(row.get("assessments"), str) else row.get("assessments")
    info = {"trace_id": row.get("trace_id"), "assessments": assessments if isinstance(assessments, list) else [],
            "tags": row.get("tags") if isinstance(row.get("tags"), dict) else {},
            "trace_metadata": row.get("trace_metadata") if isinstance(row.get("trace_metadata"), dict) else {}}
    read_trace({"info": info, "data": {"spans": spans}}, where, out)


def read_trace(trace: dict[str, Any], where: str, out: Read) -> None:
    info = trace.get("info") or {}
    flat = {str(k): str(v) for src in (info.get("tags"), info.get("trace_metadata"), info.get("request_metadata"))
            if isinstance(src, dict) for k, v in src.items() if isinstance(v, str | int | float | bool)}
    trace_id = str(info.get("trace_id") or info.get("request_id") or "")
    spans = [s for s in trace["data"].get("spans") or [] if isinstance(s, dict)]
    by_id = {str(s.get("span_id") or ""): s for s in spans}
    for span in spans:
        a = {k: _decoded(v) for k, v in (span.get("attributes") or {}).items()}
        kind = str(a.get("mlflow.spanType") or "UNKNOWN").upper()
        if kind not in CALL_TYPES:
            out.skipped[kind_name(kind)] += 1
            continue
        inputs, outputs = a.get("mlflow.spanInputs"), a.get("mlflow.spanOutputs")
        try:
            raw = inputs.get("messages", inputs.get("prompt", inputs.get("input"))) if isinstance(inputs, dict) else inputs
            system, turns = chat(raw)
            output, tool_calls = answer(outputs)
        except NotAChat as exc:
            if not out.bare:
                out.skipped[exc.kind] += 1
                continue
            system, turns, output, tool_calls = None, [], None, []
        if not turns and not out.bare:
            out.skipped["model calls without a user message"] += 1
            continue
        tin, tout = _usage(a, outputs)
        start, end = span.get("start_time_unix_nano"), span.get("end_time_unix_nano")
        out.add(TracedCall(
            where=where, trace_id=trace_id or str(span.get("trace_id") or ""), span_id=str(span.get("span_id") or ""),
            model=_model(a, inputs, outputs), vendor=a.get("mlflow.message.format") or a.get("gen_ai.system"),
            system=system, messages=turns, output=output, tool_calls=tool_calls,
            tools=tools_of(a.get("mlflow.chat.tools") or (inputs.get("tools") if isinstance(inputs, dict) else None)),
            parent_id=str(span.get("parent_span_id") or "") or None,
            start=int(start) / 1e9 if start else None, end=int(end) / 1e9 if end else None,
            input_tokens=tin, output_tokens=tout, attrs={**_inherited(span, by_id), **flat, "name": str(span.get("name") or "")},
            error=_error(span)))
    for x in info.get("assessments") or []:
        if not isinstance(x, dict) or not isinstance(x.get("feedback"), dict):
            continue
        name = str(x.get("assessment_name") or x.get("name") or "")
        human = str((x.get("source") or {}).get("source_type", "")).upper() == "HUMAN"
        if is_feedback_name(name) or human:
            label = feedback_label(x["feedback"].get("value"))
            if label:
                out.feedback.append((trace_id, x.get("span_id") or None, label))


def _error(span: dict[str, Any]) -> str | None:
    """MLflow's span status: {status_code: ERROR, description}, or the code alone."""
    st = span.get("status")
    code = st.get("status_code", st.get("code")) if isinstance(st, dict) else st
    if str(code or "").upper() not in ("ERROR", "STATUS_CODE_ERROR", "2"):
        return None
    desc = st.get("description") or st.get("message") if isinstance(st, dict) else None
    return str(desc or "error")[:200]
