"""MLflow 3 traces as `Trace.to_json()` writes them: {"info": {trace_id, tags, trace_metadata,
assessments}, "data": {"spans": [...]}}, each span {trace_id, span_id, parent_span_id, name,
start_time_unix_nano, end_time_unix_nano, status, attributes}, every attribute value itself
JSON-encoded (mlflow.spanType '"CHAT_MODEL"', mlflow.spanInputs, mlflow.spanOutputs,
mlflow.chat.tokenUsage). CHAT_MODEL and LLM spans are model calls; the rest are counted and
skipped. Assessments of a human source or a feedback-like name carry user feedback."""

from __future__ import annotations

import json
from typing import Any

from modelsel.importers.traces.calls import (
    NotAChat,
    Read,
    TracedCall,
    answer,
    chat,
    feedback_label,
    is_feedback_name,
    kind_name,
)

CALL_TYPES = {"CHAT_MODEL", "LLM"}


def is_trace(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("data"), dict) and "spans" in obj["data"] and "info" in obj


def _decoded(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return v
    return v


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


def read_trace(trace: dict[str, Any], where: str, out: Read) -> None:
    info = trace.get("info") or {}
    flat = {str(k): str(v) for src in (info.get("tags"), info.get("trace_metadata"), info.get("request_metadata"))
            if isinstance(src, dict) for k, v in src.items() if isinstance(v, str | int | float | bool)}
    trace_id = str(info.get("trace_id") or info.get("request_id") or "")
    for span in trace["data"].get("spans") or []:
        if not isinstance(span, dict):
            continue
        a = {k: _decoded(v) for k, v in (span.get("attributes") or {}).items()}
        kind = str(a.get("mlflow.spanType") or "UNKNOWN").upper()
        if kind not in CALL_TYPES:
            out.skipped[kind_name(kind)] += 1
            continue
        inputs, outputs = a.get("mlflow.spanInputs"), a.get("mlflow.spanOutputs")
        try:
            raw = inputs.get("messages", inputs.get("prompt", inputs.get("input"))) if isinstance(inputs, dict) else inputs
            system, turns = chat(raw)
            output = answer(outputs)
        except NotAChat as exc:
            out.skipped[exc.kind] += 1
            continue
        if not turns:
            out.skipped["model calls without a user message"] += 1
            continue
        tin, tout = _usage(a, outputs)
        start, end = span.get("start_time_unix_nano"), span.get("end_time_unix_nano")
        out.add(TracedCall(
            where=where, trace_id=trace_id or str(span.get("trace_id") or ""), span_id=str(span.get("span_id") or ""),
            model=_model(a, inputs, outputs), vendor=a.get("mlflow.message.format") or a.get("gen_ai.system"),
            system=system, messages=turns, output=output,
            start=int(start) / 1e9 if start else None, end=int(end) / 1e9 if end else None,
            input_tokens=tin, output_tokens=tout, attrs={**flat, "name": str(span.get("name") or "")}))
    for x in info.get("assessments") or []:
        if not isinstance(x, dict) or not isinstance(x.get("feedback"), dict):
            continue
        name = str(x.get("assessment_name") or x.get("name") or "")
        human = str((x.get("source") or {}).get("source_type", "")).upper() == "HUMAN"
        if is_feedback_name(name) or human:
            label = feedback_label(x["feedback"].get("value"))
            if label:
                out.feedback.append((trace_id, x.get("span_id") or None, label))
