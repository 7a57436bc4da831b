"""Langfuse exports: observations as the UI writes them (JSON, JSONL, CSV; camelCase fields as the
public API's ObservationsView: id, traceId, type, name, startTime, endTime, completionStartTime,
model / providedModelName, input, output, usageDetails, metadata) and as the blob-storage export
writes them (snake_case: trace_id, start_time 'YYYY-MM-DD HH:MM:SS.ffffff' UTC, provided_model_name,
usage_details). GENERATION observations are model calls; SPAN, EVENT, TOOL, RETRIEVER, AGENT,
EMBEDDING ... are counted and skipped. Score rows (name, value, traceId, observationId) in the same
files carry user feedback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
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
    loads,
    tools_of,
)

TYPES = {"GENERATION", "SPAN", "EVENT", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EVALUATOR", "EMBEDDING", "GUARDRAIL"}
_JSONISH = ("input", "output", "metadata", "usageDetails", "usage_details", "usage", "tags", "modelParameters",
            "model_parameters")


def get(row: dict[str, Any], *names: str) -> Any:
    for n in names:
        if row.get(n) not in (None, ""):
            return row[n]
    return None


def is_observation(row: dict[str, Any]) -> bool:
    return str(row.get("type", "")).upper() in TYPES and get(row, "traceId", "trace_id") is not None


def is_score(row: dict[str, Any]) -> bool:
    return ("name" in row and get(row, "traceId", "trace_id") is not None and "type" not in row
            and any(k in row for k in ("value", "stringValue", "string_value", "dataType", "data_type")))


def when(v: Any) -> float | None:
    """ISO 8601 (the API, the UI's JSON) or 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (blob storage, CSV)."""
    if v in (None, ""):
        return None
    if isinstance(v, int | float):
        return float(v) / (1000 if v > 1e11 else 1)
    try:
        t = datetime.fromisoformat(str(v).strip().replace(" ", "T", 1).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def unstring(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV row's JSON columns parsed (input, output, metadata, usage ...)."""
    out = dict(row)
    for k in _JSONISH:
        v = out.get(k)
        if isinstance(v, str) and v[:1] in "[{\"":
            try:
                out[k] = json.loads(v)
            except json.JSONDecodeError:
                pass
    return out


def _usage(row: dict[str, Any]) -> tuple[int | None, int | None]:
    u = get(row, "usageDetails", "usage_details", "usage") or {}
    if not isinstance(u, dict):
        return None, None

    def n(*keys: str) -> int | None:
        for k in keys:
            try:
                if u.get(k) is not None:
                    return int(u[k])
            except (TypeError, ValueError):
                return None
        return None
    return n("input", "promptTokens", "prompt_tokens", "input_tokens"), n("output", "completionTokens",
                                                                          "completion_tokens", "output_tokens")


def _attrs(row: dict[str, Any]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for k in ("name", "environment", "traceName", "trace_name", "version", "release", "promptName", "prompt_name", "level"):
        if row.get(k) not in (None, ""):
            flat[k] = str(row[k])
    meta = row.get("metadata")
    if isinstance(meta, dict):
        for k, v in meta.items():
            if isinstance(v, str | int | float | bool):
                flat[str(k)] = str(v)
    tags = row.get("tags")
    if isinstance(tags, list):
        flat["tags"] = ",".join(str(t) for t in tags)
    return flat


def observation(row: dict[str, Any], where: str, out: Read) -> None:
    row = unstring(row)
    kind = str(row.get("type")).upper()
    if kind != "GENERATION":
        out.skipped[kind_name(kind)] += 1
        return
    try:
        system, turns = chat(row.get("input"))
        output, tool_calls = answer(row.get("output"))
    except NotAChat as exc:
        if not out.bare:
            out.skipped[exc.kind] += 1
            return
        system, turns, output, tool_calls = None, [], None, []
    if not turns and not out.bare:
        out.skipped["model calls without a user message"] += 1
        return
    start, end = when(get(row, "startTime", "start_time")), when(get(row, "endTime", "end_time"))
    if end is None and start is not None and get(row, "latency") is not None:
        try:
            end = start + float(row["latency"])
        except (TypeError, ValueError):
            pass
    tin, tout = _usage(row)
    meta = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
    vendor = meta.get("ls_provider") or meta.get("provider") or meta.get("gen_ai.system")
    out.add(TracedCall(
        where=where, trace_id=str(get(row, "traceId", "trace_id")), span_id=str(row.get("id") or ""),
        model=get(row, "model", "providedModelName", "provided_model_name"), vendor=str(vendor) if vendor else None,
        system=system, messages=turns, output=output, start=start, end=end, tool_calls=tool_calls,
        tools=tools_of(row["input"].get("tools")) if isinstance(row.get("input"), dict) else [],
        first_token=when(get(row, "completionStartTime", "completion_start_time")),
        input_tokens=tin, output_tokens=tout, attrs=_attrs(row), error=_error(row), cost_usd=_cost(row)))


def _error(row: dict[str, Any]) -> str | None:
    """Langfuse marks a failed call with level ERROR and its status message."""
    if str(row.get("level") or "").upper() != "ERROR":
        return None
    return str(get(row, "statusMessage", "status_message") or "error")[:200]


def _cost(row: dict[str, Any]) -> float | None:
    """The cost Langfuse computed for the call (calculatedTotalCost, costDetails.total)."""
    v = get(row, "calculatedTotalCost", "calculated_total_cost", "totalCost", "total_cost")
    if v is None:
        d = get(row, "costDetails", "cost_details")
        d = loads(d) if isinstance(d, str) else d
        v = d.get("total") if isinstance(d, dict) else None
    try:
        f = float(v) if v is not None and not isinstance(v, bool) else None
    except (TypeError, ValueError):
        return None
    return f if f is not None and 0 <= f < float("inf") else None


def score(row: dict[str, Any], out: Read) -> None:
    name = str(row.get("name") or "")
    if not is_feedback_name(name) and str(row.get("source", "")).upper() != "ANNOTATION":
        return
    value = get(row, "stringValue", "string_value", "value")
    label = feedback_label(value)
    if label:
        obs = get(row, "observationId", "observation_id")
        out.feedback.append((str(get(row, "traceId", "trace_id")), str(obs) if obs else None, label))
