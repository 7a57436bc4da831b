"""Records what the real instrumentations write: the real `openai` SDK calls a local fake chat
server (127.0.0.1, canned answers) with one instrumentation enabled at a time, and the exporters'
own encoders write the files in this folder. Nothing here is written by hand; the suite only reads
the files and needs none of these packages. The versions used are in PROVENANCE.txt.

Run in a throw-away virtualenv (never the project's):
    python -m venv /tmp/gen && /tmp/gen/bin/pip install openai opentelemetry-sdk \
        opentelemetry-instrumentation-openai-v2 opentelemetry-util-genai openinference-instrumentation-openai \
        opentelemetry-instrumentation-openai opentelemetry-exporter-otlp-proto-common mlflow-skinny sqlalchemy alembic
    /tmp/gen/bin/python tests/data/traces/real/record.py

Each configuration runs in its own process (an instrumentor patches the SDK for good):

| file | instrumentation, configuration |
|---|---|
| v2_legacy_content.{spans,logs}.jsonl | opentelemetry-instrumentation-openai-v2, default conventions, CAPTURE_MESSAGE_CONTENT=true (messages as log events) |
| v2_legacy_nocontent.{spans,logs}.jsonl | the same with content off (its default) |
| v2_latest_span.spans.jsonl | OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental, CAPTURE_MESSAGE_CONTENT=SPAN_ONLY |
| v2_latest_event.{spans,logs}.jsonl | the latest conventions, EVENT_ONLY |
| openinference.spans.jsonl | openinference-instrumentation-openai |
| openllmetry.spans.jsonl | opentelemetry-instrumentation-openai (OpenLLMetry / Traceloop), current |
| openllmetry_044.spans.jsonl | the same at 0.44 (older attribute style), from its own virtualenv |
| mlflow.jsonl, mlflow_list.json | mlflow.openai.autolog(), Trace.to_json() one a line and as one JSON list |
| mlflow_dataframe.json/.csv | the DataFrame of mlflow.search_traces() saved with to_json / to_csv |
| langfuse_sdk_otlp.spans.jsonl | langfuse.openai: the OTLP/HTTP protobuf the Langfuse SDK sent to its server, as JSON (hex ids); langfuse_sdk_otlp.pb: the first 4 KB of one body as sent |

Spans files are OTLP/JSON ExportTraceServiceRequest, one a line, as the Collector's file exporter
writes them (ids in hex); `*.b64.jsonl` are the same requests through protobuf's own JSON mapping
(ids in base64, as `MessageToJson` gives), which teams also ship.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
SNAPSHOT = {"gpt-4.1-mini": "gpt-4.1-mini-2025-04-14", "gpt-4o": "gpt-4o-2024-08-06"}
BILLING = "You are the billing assistant of Acme. Answer in one short paragraph."
SUMMARY = "Summarize the customer's message in one sentence."
TOOLS = [{"type": "function", "function": {"name": "get_order", "description": "Look an order up by its number.",
                                           "parameters": {"type": "object", "properties": {"order": {"type": "string"}},
                                                          "required": ["order"]}}}]
# (route, model, system, turns, answer or a tool call, streamed, tools)
CALLS = [
    ("billing", "gpt-4.1-mini", BILLING, ["Why was I charged twice for my March invoice?"],
     "You were charged twice because the retry ran after the first payment cleared.", False, False),
    ("billing", "gpt-4.1-mini", BILLING, ["Can I get a refund for the annual plan?"],
     "Yes, within 30 days of purchase.", True, False),
    ("billing", "gpt-4.1-mini", BILLING, ["My SSN is 536-22-8461 and my card 4111 1111 1111 1111; server 203.0.113.54."],
     "Please never share those here; I have masked them.", False, False),
    ("billing", "gpt-4.1-mini", BILLING, ["¿Por qué me cobraron dos veces?"], "Porque el reintento se ejecutó dos veces.",
     False, False),
    ("billing", "gpt-4.1-mini", BILLING, ["Hi", "Hello! How can I help?", "Change my plan to yearly."],
     "Done: your plan is yearly from the next invoice.", False, False),
    ("billing", "gpt-4.1-mini", BILLING, ["Where is my order #A-1042?"],
     {"name": "get_order", "arguments": '{"order": "A-1042"}'}, False, True),
    ("summary", "gpt-4o", SUMMARY, ["The parcel came late and the box was crushed, I want a refund."],
     "The customer received a late, damaged parcel and wants a refund.", False, False),
    ("summary", "gpt-4o", SUMMARY, ["Ich habe mein Passwort vergessen und komme nicht mehr rein."],
     "The customer forgot their password and is locked out.", True, False),
    ("summary", "gpt-4o", SUMMARY, ["Thanks, all sorted now!"], "The customer confirms the issue is solved.", False, False),
]


def _answer_for(body: dict) -> tuple[str | dict, bool]:
    last = [m for m in body["messages"] if m["role"] in ("user", "tool")][-1]
    if last["role"] == "tool":
        return "Order A-1042 left our warehouse yesterday and arrives Friday.", False
    for _, _, _, turns, ans, _, _ in CALLS:
        if turns[-1] == last["content"]:
            return ans, True
    return "ok", True


RECEIVED: list[bytes] = []  # OTLP/HTTP bodies the Langfuse SDK sent to its server (this one)


class Fake(BaseHTTPRequestHandler):
    def log_message(self, *a: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        if "/otel/" in self.path or not self.path.endswith("/chat/completions"):
            if "/otel/" in self.path:
                RECEIVED.append(raw if self.headers.get("content-encoding") != "gzip" else __import__("gzip").decompress(raw))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")
            return
        body = json.loads(raw)
        ans, _ = _answer_for(body)
        model = SNAPSHOT.get(body["model"], body["model"])
        usage = {"prompt_tokens": 12 + 3 * len(body["messages"]), "completion_tokens": 9, "total_tokens": 21 + 3 * len(body["messages"])}
        msg: dict = {"role": "assistant", "content": ans if isinstance(ans, str) else None}
        if not isinstance(ans, str):
            msg["tool_calls"] = [{"id": "call_A1042", "type": "function", "function": ans}]
        finish = "stop" if isinstance(ans, str) else "tool_calls"
        time.sleep(0.02)
        if body.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            words = (ans if isinstance(ans, str) else "").split(" ")
            for i, w in enumerate(words):
                ch = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
                      "choices": [{"index": 0, "delta": {"role": "assistant", "content": (" " if i else "") + w},
                                   "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(ch)}\n\n".encode())
            end = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
                   "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": usage}
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            return
        out = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
                          "choices": [{"index": 0, "message": msg, "finish_reason": finish}], "usage": usage}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def _otel_route(route: str) -> object:
    from opentelemetry import trace

    return trace.get_tracer("app").start_as_current_span(f"POST /{route}", attributes={"http.route": f"/{route}"})


def _mlflow_route(route: str) -> object:
    import contextlib

    import mlflow

    @contextlib.contextmanager
    def cm() -> object:
        with mlflow.start_span(name=f"POST /{route}", span_type="CHAIN") as s:
            s.set_attribute("http.route", f"/{route}")
            mlflow.update_current_trace(tags={"route": route})
            yield s
    return cm()


def _calls(client: object, span: object = _otel_route) -> None:
    """The application: each call under a request span carrying its route, as a web framework's
    server span would (http.route)."""
    for route, model, system, turns, _ans, stream, tools in CALLS:
        msgs = [{"role": "system", "content": system}] + [
            {"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]
        with span(route):  # type: ignore[operator]
            kw: dict = {"model": model, "messages": msgs}
            if tools:
                kw["tools"] = TOOLS
            if stream:
                kw["stream"] = True
                kw["stream_options"] = {"include_usage": True}
                for _ in client.chat.completions.create(**kw):  # type: ignore[attr-defined]
                    pass
                continue
            r = client.chat.completions.create(**kw)  # type: ignore[attr-defined]
            if tools and r.choices[0].message.tool_calls:
                tc = r.choices[0].message.tool_calls[0]
                msgs += [{"role": "assistant", "content": None, "tool_calls": [tc.model_dump()]},
                         {"role": "tool", "tool_call_id": tc.id, "content": '{"status": "shipped", "eta": "Friday"}'}]
                client.chat.completions.create(model=model, messages=msgs, tools=TOOLS)  # type: ignore[attr-defined]


def _hex(d: dict, keys: tuple[str, ...]) -> None:
    for k in keys:
        if d.get(k):
            d[k] = base64.b64decode(d[k]).hex()


def _write_spans(spans: list, name: str) -> None:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    b64, hexed = [], []
    for s in spans:  # one export request a span, as a batch of one
        d = MessageToDict(encode_spans([s]))
        b64.append(json.dumps(d, ensure_ascii=False))
        for rs in d["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for sp in ss["spans"]:
                    _hex(sp, ("traceId", "spanId", "parentSpanId"))
        hexed.append(json.dumps(d, ensure_ascii=False))
    (HERE / f"{name}.spans.jsonl").write_text("\n".join(hexed) + "\n")
    (HERE / f"{name}.spans.b64.jsonl").write_text("\n".join(b64) + "\n")


def _write_logs(logs: list, name: str) -> None:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

    lines = []
    for rec in logs:
        d = MessageToDict(encode_logs([rec]))
        for rl in d["resourceLogs"]:
            for sl in rl["scopeLogs"]:
                for lr in sl["logRecords"]:
                    _hex(lr, ("traceId", "spanId"))
        lines.append(json.dumps(d, ensure_ascii=False))
    (HERE / f"{name}.logs.jsonl").write_text("\n".join(lines) + "\n" if lines else "")


def run_otel(name: str, port: int) -> None:
    from openai import OpenAI
    from opentelemetry import _logs, trace
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans, logs = InMemorySpanExporter(), InMemoryLogExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": "acme-support"}))
    tp.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(tp)
    lp = LoggerProvider(resource=Resource.create({"service.name": "acme-support"}))
    lp.add_log_record_processor(SimpleLogRecordProcessor(logs))
    _logs.set_logger_provider(lp)
    if name.startswith("v2_"):
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as V2

        V2().instrument()
    elif name == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor as OI

        OI().instrument(tracer_provider=tp)
    elif name.startswith("openllmetry"):
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as TL

        TL().instrument(tracer_provider=tp)
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test-not-a-key", max_retries=0)
    _calls(client)
    tp.force_flush()
    _write_spans(list(spans.get_finished_spans()), name)
    recs = list(logs.get_finished_logs())
    if recs:
        _write_logs(recs, name)


def run_langfuse(port: int) -> None:
    """The Langfuse SDK's OpenAI integration: what it sends to its server is OTLP/HTTP protobuf."""
    from langfuse import get_client
    from langfuse.openai import OpenAI

    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test-not-a-key", max_retries=0)
    lf = get_client()

    def route(r: str) -> object:
        import contextlib

        @contextlib.contextmanager
        def cm() -> object:
            from langfuse import propagate_attributes

            with lf.start_as_current_observation(name=f"POST /{r}", as_type="span") as s, \
                    propagate_attributes(tags=[r], trace_name=f"support-{r}"):
                yield s
        return cm()
    _calls(client, route)
    lf.flush()


def _write_received() -> None:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    lines = []
    for raw in RECEIVED:
        d = MessageToDict(ExportTraceServiceRequest.FromString(raw))
        for rs in d.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    _hex(sp, ("traceId", "spanId", "parentSpanId"))
        lines.append(json.dumps(d, ensure_ascii=False))
    (HERE / "langfuse_sdk_otlp.spans.jsonl").write_text("\n".join(lines) + "\n")
    (HERE / "langfuse_sdk_otlp.pb").write_bytes(RECEIVED[0][:4096] if RECEIVED else b"")


def run_mlflow(port: int) -> None:
    import tempfile

    import mlflow
    from openai import OpenAI

    tmp = tempfile.mkdtemp()
    os.chdir(tmp)
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    mlflow.openai.autolog()
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test-not-a-key", max_retries=0)
    _calls(client, _mlflow_route)
    mlflow.flush_trace_async_logging()
    traces = mlflow.search_traces(return_type="list", max_results=1000)
    traces = sorted(traces, key=lambda t: t.info.request_time)
    (HERE / "mlflow.jsonl").write_text("".join(json.dumps(json.loads(t.to_json()), ensure_ascii=False) + "\n" for t in traces))
    (HERE / "mlflow_list.json").write_text(json.dumps([json.loads(t.to_json()) for t in traces], ensure_ascii=False, indent=1))
    try:
        df = mlflow.search_traces(max_results=1000, return_type="pandas")
    except Exception as exc:  # noqa: BLE001 - pandas is optional in mlflow-skinny
        print("no DataFrame:", exc)
        return
    df.to_json(HERE / "mlflow_dataframe.json", default_handler=str)
    df.to_csv(HERE / "mlflow_dataframe.csv")


CONFIGS = {
    "v2_legacy_content": {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"},
    "v2_legacy_nocontent": {},
    "v2_latest_span": {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
                       "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"},
    "v2_latest_event": {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
                        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "EVENT_ONLY"},
    "openinference": {},
    "openllmetry": {"TRACELOOP_TRACE_CONTENT": "true"},
    # OpenLLMetry 0.44 (the older attribute style: gen_ai.prompt.N.*, gen_ai.completion.N.tool_calls.M.*), run
    # from a virtualenv with opentelemetry-instrumentation-openai==0.44.*
    "openllmetry_044": {"TRACELOOP_TRACE_CONTENT": "true"},
    "mlflow": {},
    "langfuse": {"LANGFUSE_PUBLIC_KEY": "pk-lf-test", "LANGFUSE_SECRET_KEY": "sk-lf-test", "LANGFUSE_TRACING_ENVIRONMENT": "test"},
}


def main() -> None:
    if len(sys.argv) == 3:  # one configuration, in its own process
        name, port = sys.argv[1], int(sys.argv[2])
        {"mlflow": run_mlflow, "langfuse": run_langfuse}.get(name, lambda p: run_otel(name, p))(port)
        return
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    only = sys.argv[1:] or list(CONFIGS)
    for name in only:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACELOOP_", "LANGFUSE_"))} | CONFIGS[name]
        if name == "langfuse":
            env["LANGFUSE_HOST"] = env["LANGFUSE_BASE_URL"] = f"http://127.0.0.1:{port}"
        subprocess.run([sys.executable, __file__, name, str(port)], env=env, check=True)
        if name == "langfuse":
            _write_received()
        print("recorded", name)
    _provenance(only)


USES = {"v2_": ["opentelemetry-instrumentation-openai-v2", "opentelemetry-util-genai"],
        "openinference": ["openinference-instrumentation-openai"],
        "openllmetry": ["opentelemetry-instrumentation-openai"], "mlflow": ["mlflow-skinny"], "langfuse": ["langfuse"]}


def _provenance(recorded: list[str]) -> None:
    """PROVENANCE.txt: a line a configuration, with the versions of what wrote its files."""
    from importlib.metadata import version

    path = HERE / "PROVENANCE.txt"
    lines = {ln.split(":", 1)[0]: ln for ln in path.read_text().splitlines()[1:] if ":" in ln} if path.exists() else {}
    for name in recorded:
        pkgs = ["openai", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-common", "protobuf"]
        pkgs += next(v for k, v in USES.items() if name.startswith(k))
        lines[name] = f"{name}: Python {sys.version.split()[0]}, " + ", ".join(f"{x}=={version(x)}" for x in pkgs)
    path.write_text("Recorded by record.py (one line a configuration):\n" + "\n".join(lines[k] for k in sorted(lines)) + "\n")


if __name__ == "__main__":
    main()
