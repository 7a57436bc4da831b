"""Writes the trace files in this folder from the formats' own definitions, not by hand:

- otel_events_spans.jsonl + otel_events_logs.jsonl: spans without their messages and the GenAI
  events as log records (ExportLogsServiceRequest: gen_ai.system/user.message, gen_ai.choice),
  as the OpenTelemetry openai-v2 instrumentation emits them with message content in events;
- otel_genai.jsonl, openinference.jsonl: ExportTraceServiceRequest messages built with the
  OpenTelemetry protobuf classes (opentelemetry-proto) and serialised with protobuf's JSON mapping,
  ids then hex-encoded as the OTLP/JSON spec requires (what the Collector's file exporter writes);
- mlflow_traces.jsonl: traces recorded with MLflow's own tracing API (mlflow-skinny) into a
  throw-away sqlite store and written with Trace.to_json();
- langfuse_*.json/jsonl/csv: observations and scores in the shapes of Langfuse's public API
  (ObservationsView, camelCase) and its blob-storage export (snake_case); the Langfuse SDK is a
  client of a server we cannot run here, so these follow the documented field reference.

Run: .venv/bin/python tests/data/traces/make.py   (the files are committed; tests only read them)
"""

from __future__ import annotations

import base64
import csv
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
T0 = 1_788_000_000  # 2026-08-29 UTC: every call below starts at T0 + its index minutes
SYSTEM = "You are the support assistant of Acme. Answer in one short paragraph."
ASKS = [
    ("billing", "Why was I charged twice for my March invoice?", "You were charged twice because ..."),
    ("billing", "Can I get a refund for the annual plan?", "Yes, within 30 days of purchase ..."),
    ("shipping", "My parcel never arrived, order 88123.", "I'm sorry; I have reopened the delivery ..."),
    ("shipping", "Where is my order? It says delivered.", "Please check with neighbours; if not found ..."),
    ("billing", "Please update my card, contact me at jane.doe@example.com or +44 20 7946 0958.",
     "I have sent a secure link to update your card."),
    ("billing", "My card 4111 1111 1111 1111 was declined; IBAN DE89 3704 0044 0532 0130 00 instead?",
     "We can take a bank transfer to that account."),
    ("shipping", "Our integration key sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345 leaks in logs, help",
     "Rotate the key now in the dashboard."),
]


def _otlp_request(spans: list, resource: dict) -> dict:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    def kv(k: str, v: object) -> KeyValue:
        if isinstance(v, bool):
            return KeyValue(key=k, value=AnyValue(bool_value=v))
        if isinstance(v, int):
            return KeyValue(key=k, value=AnyValue(int_value=v))
        if isinstance(v, float):
            return KeyValue(key=k, value=AnyValue(double_value=v))
        return KeyValue(key=k, value=AnyValue(string_value=str(v)))

    out = []
    for s in spans:
        ev = [Span.Event(time_unix_nano=e["t"], name=e["name"], attributes=[kv(k, v) for k, v in e["attrs"].items()])
              for e in s.get("events", [])]
        out.append(Span(trace_id=s["trace_id"], span_id=s["span_id"], name=s["name"], kind=Span.SPAN_KIND_CLIENT,
                        start_time_unix_nano=s["start"], end_time_unix_nano=s["end"],
                        attributes=[kv(k, v) for k, v in s["attrs"].items()], events=ev))
    req = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=Resource(attributes=[kv(k, v) for k, v in resource.items()]),
        scope_spans=[ScopeSpans(scope=InstrumentationScope(name="opentelemetry.instrumentation.openai_v2"), spans=out)])])
    d = MessageToDict(req)
    for rs in d["resourceSpans"]:  # OTLP/JSON: trace and span ids are hex, not proto3 JSON's base64
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in sp:
                        sp[k] = base64.b64decode(sp[k]).hex()
    return d


def _ids(i: int) -> tuple[bytes, bytes]:
    return (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")


def otel_genai() -> None:
    lines = []
    spans = []
    n = 0
    for rep in range(3):  # three rounds: the second repeats the first exactly, the third near-exactly
        for j, (route, ask, ans) in enumerate(ASKS):
            text = ask if rep < 2 else ask.upper().replace("?", " ?")
            tid, sid = _ids(n)
            start = (T0 + n * 60) * 10**9
            long = j == 0
            lat = 0.4 + 0.1 * j + (1.5 if long else 0)
            attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                     "gen_ai.request.model": "gpt-4.1-mini", "gen_ai.response.model": "gpt-4.1-mini-2025-04-14",
                     "gen_ai.usage.input_tokens": 1500 if long else 40 + j,
                     "gen_ai.usage.output_tokens": 20 + j, "app.route": route,
                     "gen_ai.system_instructions": json.dumps([{"type": "text", "content": SYSTEM}]),
                     "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": text}]}]),
                     "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": ans}],
                                                            "finish_reason": "stop"}])}
            events = []
            if rep == 0 and j == 3:  # a thumbs-down recorded as a GenAI evaluation event
                events.append({"t": start + int(lat * 1e9), "name": "gen_ai.evaluation.result",
                               "attrs": {"gen_ai.evaluation.name": "user_feedback", "gen_ai.evaluation.score.label": "thumbs_down"}})
            spans.append({"trace_id": tid, "span_id": sid, "name": "chat gpt-4.1-mini", "start": start,
                          "end": start + int(lat * 1e9), "attrs": attrs, "events": events})
            n += 1
    # older conventions (OpenLLMetry): gen_ai.system, gen_ai.prompt.N.*, gen_ai.completion.N.*, a multi-turn call
    tid, sid = _ids(n)
    start = (T0 + n * 60) * 10**9
    spans.append({"trace_id": tid, "span_id": sid, "name": "anthropic.chat", "start": start, "end": start + 900_000_000,
                  "attrs": {"gen_ai.system": "anthropic", "llm.request.type": "chat", "gen_ai.request.model": "claude-haiku-4-5",
                            "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": SYSTEM,
                            "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": "Do you ship to Norway?",
                            "gen_ai.prompt.2.role": "assistant", "gen_ai.prompt.2.content": "Yes, we do.",
                            "gen_ai.prompt.3.role": "user", "gen_ai.prompt.3.content": "How long does it take?",
                            "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "Five to seven days.",
                            "gen_ai.usage.prompt_tokens": 60, "gen_ai.usage.completion_tokens": 8, "app.route": "shipping"}})
    n += 1
    for kind, attrs in (("embeddings", {"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small"}),
                        ("tool", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order"}),
                        ("agent", {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"}),
                        ("http", {"http.request.method": "POST", "url.full": "https://api.example.com/chat"})):
        tid, sid = _ids(n)
        start = (T0 + n * 60) * 10**9
        spans.append({"trace_id": tid, "span_id": sid, "name": kind, "start": start, "end": start + 10**8, "attrs": attrs})
        n += 1
    resource = {"service.name": "support-bot", "deployment.environment": "production"}
    for k in range(0, len(spans), 5):  # the exporter batches: a few spans an export request, one request a line
        lines.append(json.dumps(_otlp_request(spans[k:k + 5], resource), separators=(",", ":")))
    (HERE / "otel_genai.jsonl").write_text("\n".join(lines) + "\n")


def openinference() -> None:
    spans = []
    for i, (_route, ask, ans) in enumerate(ASKS[:4]):
        tid, sid = _ids(100 + i)
        start = (T0 + i * 60) * 10**9
        spans.append({"trace_id": tid, "span_id": sid, "name": "ChatCompletion", "start": start, "end": start + 700_000_000,
                      "attrs": {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4.1-mini", "llm.provider": "openai",
                                "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": SYSTEM,
                                "llm.input_messages.1.message.role": "user",
                                "llm.input_messages.1.message.contents.0.message_content.type": "text",
                                "llm.input_messages.1.message.contents.0.message_content.text": ask,
                                "llm.output_messages.0.message.role": "assistant",
                                "llm.output_messages.0.message.content": ans,
                                "llm.token_count.prompt": 50, "llm.token_count.completion": 12}})
    for i, kind in enumerate(("RETRIEVER", "TOOL", "CHAIN")):
        tid, sid = _ids(200 + i)
        spans.append({"trace_id": tid, "span_id": sid, "name": kind.lower(), "start": T0 * 10**9, "end": T0 * 10**9 + 1000,
                      "attrs": {"openinference.span.kind": kind, "input.value": "x"}})
    (HERE / "openinference.jsonl").write_text(json.dumps(_otlp_request(spans, {"service.name": "rag"}),
                                                         separators=(",", ":")) + "\n")


def otel_events() -> None:
    """Spans with no content, their messages in log records of the same trace and span."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

    def kv(k: str, v: str) -> KeyValue:
        return KeyValue(key=k, value=AnyValue(string_value=v))

    def body(d: dict) -> AnyValue:
        vals = []
        for k, v in d.items():
            vals.append(KeyValue(key=k, value=body(v) if isinstance(v, dict) else AnyValue(string_value=str(v))))
        return AnyValue(kvlist_value=KeyValueList(values=vals))

    spans, records = [], []
    for i, (route, ask, ans) in enumerate(ASKS[:3]):
        tid, sid = _ids(300 + i)
        start = (T0 + i * 60) * 10**9
        spans.append({"trace_id": tid, "span_id": sid, "name": "chat gpt-4.1-mini", "start": start, "end": start + 600_000_000,
                      "attrs": {"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
                                "gen_ai.request.model": "gpt-4.1-mini", "gen_ai.usage.input_tokens": 30 + i,
                                "gen_ai.usage.output_tokens": 9, "app.route": route}})
        for k, (name, b) in enumerate((("gen_ai.system.message", {"content": SYSTEM}),
                                       ("gen_ai.user.message", {"content": ask}),
                                       ("gen_ai.choice", {"index": "0", "finish_reason": "stop",
                                                          "message": {"role": "assistant", "content": ans}}))):
            records.append(LogRecord(time_unix_nano=start + k, trace_id=tid, span_id=sid, event_name=name,
                                     attributes=[kv("gen_ai.system", "openai")], body=body(b)))
    lines = [json.dumps(_otlp_request(spans, {"service.name": "support-bot"}), separators=(",", ":"))]
    req = MessageToDict(ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=records)])]))
    for rl in req["resourceLogs"]:  # hex ids, as OTLP/JSON requires
        for sl in rl["scopeLogs"]:
            for lr in sl["logRecords"]:
                for k in ("traceId", "spanId"):
                    lr[k] = base64.b64decode(lr[k]).hex()
    (HERE / "otel_events_spans.jsonl").write_text("\n".join(lines) + "\n")
    (HERE / "otel_events_logs.jsonl").write_text(json.dumps(req, separators=(",", ":")) + "\n")


def mlflow_traces() -> None:
    import os

    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"  # written before the throw-away store goes
    import mlflow
    from mlflow.entities import AssessmentSource, SpanType

    with tempfile.TemporaryDirectory() as d:
        mlflow.set_tracking_uri(f"sqlite:///{d}/mlflow.db")
        mlflow.set_experiment("support")
        ids = []
        for i, (route, ask, ans) in enumerate(ASKS[:4]):
            with mlflow.start_span(name="answer", span_type=SpanType.CHAIN) as root:
                root.set_inputs({"question": ask})
                with mlflow.start_span(name="retrieve", span_type=SpanType.RETRIEVER) as r:
                    r.set_inputs({"query": ask})
                    r.set_outputs([{"page_content": "policy"}])
                with mlflow.start_span(name="ChatOpenAI", span_type=SpanType.CHAT_MODEL) as s:
                    s.set_inputs({"model": "gpt-4.1-mini", "messages": [{"role": "system", "content": SYSTEM},
                                                                         {"role": "user", "content": ask}]})
                    s.set_outputs({"id": f"chatcmpl-{i}", "object": "chat.completion", "model": "gpt-4.1-mini-2025-04-14",
                                   "choices": [{"index": 0, "message": {"role": "assistant", "content": ans},
                                                "finish_reason": "stop"}],
                                   "usage": {"prompt_tokens": 45, "completion_tokens": 15, "total_tokens": 60}})
                root.set_outputs(ans)
                mlflow.update_current_trace(tags={"route": route})
            ids.append(mlflow.get_last_active_trace_id())
        mlflow.log_feedback(trace_id=ids[1], name="user_feedback", value=False,
                            source=AssessmentSource(source_type="HUMAN", source_id="user-17"))
        lines = [mlflow.get_trace(t).to_json() for t in ids]
    (HERE / "mlflow_traces.jsonl").write_text("\n".join(json.dumps(json.loads(x), separators=(",", ":")) for x in lines) + "\n")


def langfuse() -> None:
    obs_camel, obs_snake = [], []
    for i, (route, ask, ans) in enumerate(ASKS[:5]):
        start = T0 + i * 60
        iso = lambda t: f"2026-08-29T{(t - 1788000000) // 3600 + 10:02d}:{((t - 1788000000) // 60) % 60:02d}:{t % 60:02d}.000Z"  # noqa: E731
        gen = {"id": f"gen-{i}", "traceId": f"trace-{i}", "type": "GENERATION", "name": f"answer-{route}",
               "startTime": iso(start), "endTime": iso(start + 1 + i % 2), "completionStartTime": iso(start),
               "model": "claude-haiku-4-5", "modelParameters": {"temperature": 0.2},
               "input": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ask}],
               "output": {"role": "assistant", "content": ans},
               "usageDetails": {"input": 52, "output": 14, "total": 66}, "metadata": {"route": route},
               "level": "DEFAULT", "parentObservationId": None}
        span = {"id": f"span-{i}", "traceId": f"trace-{i}", "type": "SPAN", "name": "handler", "startTime": iso(start),
                "endTime": iso(start + 2), "input": {"q": ask}, "output": None, "level": "DEFAULT"}
        obs_camel += [gen, span]
        obs_snake.append({"id": f"gen-{i}", "trace_id": f"trace-{i}", "type": "GENERATION", "name": f"answer-{route}",
                          "start_time": f"2026-08-29 10:{i:02d}:00.000000", "end_time": f"2026-08-29 10:{i:02d}:01.250000",
                          "completion_start_time": f"2026-08-29 10:{i:02d}:00.400000",
                          "provided_model_name": "claude-haiku-4-5", "input": gen["input"], "output": gen["output"],
                          "usage_details": {"input": 52, "output": 14}, "metadata": {"route": route}})
    obs_snake.append({"id": "emb-1", "trace_id": "trace-9", "type": "EMBEDDING", "name": "embed",
                      "start_time": "2026-08-29 10:09:00.000000", "end_time": "2026-08-29 10:09:00.100000"})
    (HERE / "langfuse_observations.json").write_text(json.dumps(obs_camel, indent=2) + "\n")
    (HERE / "langfuse_observations.jsonl").write_text("".join(json.dumps(o) + "\n" for o in obs_snake))
    scores = [{"id": "s1", "timestamp": "2026-08-29 10:05:00.000000", "trace_id": "trace-2", "observation_id": None,
               "name": "user-feedback", "value": 0, "string_value": None, "source": "API", "data_type": "NUMERIC",
               "comment": "wrong"},
              {"id": "s2", "timestamp": "2026-08-29 10:06:00.000000", "trace_id": "trace-1", "observation_id": "gen-1",
               "name": "user-feedback", "value": 1, "string_value": None, "source": "API", "data_type": "NUMERIC",
               "comment": None}]
    (HERE / "langfuse_scores.jsonl").write_text("".join(json.dumps(s) + "\n" for s in scores))
    with open(HERE / "langfuse_observations.csv", "w", newline="") as fh:
        cols = ["id", "traceId", "type", "name", "startTime", "endTime", "completionStartTime", "model", "input", "output",
                "usageDetails", "metadata"]
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for o in obs_camel:
            w.writerow({k: (json.dumps(o[k]) if isinstance(o.get(k), dict | list) else o.get(k)) for k in cols})


if __name__ == "__main__":
    otel_genai()
    openinference()
    otel_events()
    langfuse()
    if "--mlflow" in sys.argv:  # MLflow records the git commit and the time: rewrite its file only on purpose
        mlflow_traces()
    print("written:", ", ".join(sorted(p.name for p in HERE.iterdir() if p.suffix in (".jsonl", ".json", ".csv"))))
