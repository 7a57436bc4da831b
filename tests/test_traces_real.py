"""`modelsel import traces` on the files the real instrumentations wrote (tests/data/traces/real/:
record.py ran the real `openai` SDK against a local fake server with opentelemetry-instrumentation-
openai-v2, OpenInference, OpenLLMetry, MLflow autolog and the Langfuse SDK; PROVENANCE.txt has the
versions). The application made 10 calls: two routes each with its own system prompt and model
(billing on gpt-4.1-mini, summary on gpt-4o), a multi-turn call, streamed calls, personal data, and
a tool flow (a call answered with a tool call, then the call carrying the tool's result)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, cli, flat

REAL = ROOT / "tests" / "data" / "traces" / "real"
DATA = ROOT / "tests" / "data" / "traces"
BILLING = "You are the billing assistant of Acme. Answer in one short paragraph."
SUMMARY = "Summarize the customer's message in one sentence."
TOOLS_SAID = "2 calls with tool calls left out: tools cannot be carried yet"
# Every format that records the messages, as its exporter wrote it: (files, what it is).
FORMATS = {
    "otel-v2 latest, on the span": ("v2_latest_span.spans.jsonl",),
    "otel-v2 latest, base64 ids": ("v2_latest_span.spans.b64.jsonl",),
    "otel-v2 latest, events as logs": ("v2_latest_event.spans.jsonl", "v2_latest_event.logs.jsonl"),
    "otel-v2 latest, events, base64 spans": ("v2_latest_event.spans.b64.jsonl", "v2_latest_event.logs.jsonl"),
    "OpenInference": ("openinference.spans.jsonl",),
    "OpenLLMetry": ("openllmetry.spans.jsonl",),
    "OpenLLMetry 0.44": ("openllmetry_044.spans.jsonl",),
    "MLflow JSONL": ("mlflow.jsonl",),
    "MLflow list": ("mlflow_list.json",),
    "MLflow DataFrame to_json": ("mlflow_dataframe.json",),
    "MLflow DataFrame to_csv": ("mlflow_dataframe.csv",),
    "Langfuse SDK OTLP": ("langfuse_sdk_otlp.spans.jsonl",),
}


def _import(tmp_path: Path, *files: str | Path, name: str = "t", extra: tuple[str, ...] = ()) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    paths = []
    for f in files:
        p = Path(f)
        if not p.is_absolute():
            shutil.copy(REAL / f, tmp_path / f)
            p = tmp_path / f
        paths.append(p)
    res = cli("import", "traces", *paths, "--out", tmp_path / "proj", "--name", name, *extra)
    req = tmp_path / "proj" / "requirements" / f"{name}.yaml"
    es = tmp_path / "proj" / "evalsets" / f"{name}.jsonl"
    examples = [json.loads(x) for x in es.read_text().split("\n") if x] if es.exists() else []
    return res, (yaml.safe_load(req.read_text()) if req.exists() else {}), examples


def _messages(e: dict[str, Any]) -> list[dict[str, Any]]:
    return e["input"] if isinstance(e["input"], list) else [{"role": "user", "content": e["input"]}]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_as_its_exporter_wrote_it(tmp_path: Path, fmt: str) -> None:
    """Items 1, 3 and 8 of issue 46 on each real file: the tool flow is left out, counted and said
    (never an empty answer); each example keeps its own route's system prompt whichever model
    served it; the route is found (the request span's http.route, MLflow's and Langfuse's tags)."""
    res, req, ex = _import(tmp_path, *FORMATS[fmt])
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    assert TOOLS_SAID in out
    assert len(ex) == 8
    assert all(e.get("reference") for e in ex), [e for e in ex if not e.get("reference")]
    assert not any("A-1042" in json.dumps(e) for e in ex)
    assert all("system" not in c for c in req["candidates"])
    for e in ex:
        msgs = _messages(e)
        assert msgs[0]["role"] == "system", e
        route = "summary" if msgs[0]["content"] == SUMMARY else "billing"
        assert msgs[0]["content"] == (SUMMARY if route == "summary" else BILLING)
        assert any(t.startswith("route:") and route in t for t in e["tags"]), e["tags"]
    refs = {e["reference"] for e in ex}
    assert "Porque el reintento se ejecutó dos veces." in refs
    assert "Yes, within 30 days of purchase." in refs  # a streamed answer, whole
    multi = next(e for e in ex if any(m["content"] == "Change my plan to yearly." for m in _messages(e)))
    assert [m["role"] for m in _messages(multi)] == ["system", "user", "assistant", "user"]
    assert req["production"]["left_out"] == {"calls with tool calls left out: tools cannot be carried yet": 2}


@pytest.mark.parametrize("fmt", ["otel-v2 latest, on the span", "otel-v2 latest, events as logs", "OpenInference",
                                 "OpenLLMetry", "OpenLLMetry 0.44", "MLflow JSONL", "Langfuse SDK OTLP"])
def test_tool_calls_are_read_faithfully(fmt: str) -> None:
    """The tool call the model answered with, the tool's result in the next call, and the tool
    definitions where the format records them, in the OpenAI chat shape."""
    from modelsel.importers.traces.read import read_traces

    calls = read_traces([REAL / f for f in FORMATS[fmt]]).calls
    assert len(calls) == 10
    asked = next(c for c in calls if c.tool_calls)
    assert asked.output is None
    assert [(t["name"], json.loads(t["arguments"])) for t in asked.tool_calls] == [("get_order", {"order": "A-1042"})]
    assert asked.tool_calls[0]["id"] in ("call_A1042", "")
    follow = next(c for c in calls if any(m["role"] == "tool" for m in c.messages))
    tool_msg = next(m for m in follow.messages if m["role"] == "tool")
    assert json.loads(tool_msg["content"]) == {"status": "shipped", "eta": "Friday"}
    called = next(m for m in follow.messages if m.get("tool_calls"))
    assert called["tool_calls"][0]["function"]["name"] == "get_order"
    assert follow.output == "Order A-1042 left our warehouse yesterday and arrives Friday."
    if fmt in ("OpenInference", "OpenLLMetry", "OpenLLMetry 0.44", "MLflow JSONL"):  # these record the request's tools
        names = [(t.get("function") or t).get("name") for t in asked.tools]
        assert names == ["get_order"]
    assert asked.tooled and follow.tooled and sum(c.tooled for c in calls) == 2


def test_content_off_is_refused_with_what_to_set(tmp_path: Path) -> None:
    """Item 2 and 7: openai-v2 with content off (its default), and with `true`, which the latest
    utilities ignore: exit 2, nothing written, and the settings that do record content."""
    for files in (("v2_legacy_nocontent.spans.jsonl",), ("v2_legacy_content.spans.jsonl",)):
        res, req, ex = _import(tmp_path, *files)
        assert res.exit_code == 2, res.output
        out = flat(res.output)
        assert "no model calls with their messages in" in out
        assert "SPAN_ONLY, EVENT_ONLY or SPAN_AND_EVENT" in out and "pass the logs file beside the spans file" in out
        assert not req and not ex


def test_events_without_their_text_are_not_calls(tmp_path: Path) -> None:
    """Item 2: the older utilities with content off still emit the message events, with empty
    bodies: no example with input "" is written; exit 2 says content capture was off."""
    logs = [json.loads(x) for x in (DATA / "otel_events_logs.jsonl").read_text().splitlines()]
    for req in logs:
        for rl in req["resourceLogs"]:
            for sl in rl["scopeLogs"]:
                for lr in sl["logRecords"]:
                    lr["body"] = {"kvlistValue": {"values": []}}
    (tmp_path / "empty_logs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in logs))
    shutil.copy(DATA / "otel_events_spans.jsonl", tmp_path / "spans.jsonl")
    res, _, ex = _import(tmp_path, tmp_path / "spans.jsonl", tmp_path / "empty_logs.jsonl")
    assert res.exit_code == 2 and not ex
    assert "events were read but hold no message text: content capture was off" in flat(res.output)


def test_spans_and_logs_apart_say_which_file_is_missing(tmp_path: Path) -> None:
    """Item 7: a logs file alone, and a spans file whose messages are in a logs file not passed."""
    res, _, _ = _import(tmp_path, "v2_latest_event.logs.jsonl")
    assert res.exit_code == 2
    assert "OTLP log records only" in flat(res.output) and "pass both files" in flat(res.output)
    res, _, _ = _import(tmp_path, "v2_latest_event.spans.jsonl")
    assert res.exit_code == 2 and "pass the logs file beside the spans file" in flat(res.output)


def test_snapshot_and_alias_are_one_candidate_check_accepts(tmp_path: Path, keys: dict[str, str]) -> None:
    """Item 4: the request model (gpt-4.1-mini) in one file, the dated snapshot the answer named
    (gpt-4.1-mini-2025-04-14) in another: one candidate each model, and `check` accepts the project."""
    res, req, ex = _import(tmp_path, "v2_latest_span.spans.jsonl", "langfuse_sdk_otlp.spans.jsonl")
    assert res.exit_code == 0, res.output
    ids = [c["id"] for c in req["candidates"]]
    assert sorted(ids) == ["today-gpt-4.1-mini", "today-gpt-4o"]
    assert set(req["production"]["models"]) == {"gpt-4.1-mini", "gpt-4o"}
    check = cli("check", tmp_path / "proj" / "requirements" / "t.yaml")
    assert "Duplicate" not in check.output and "twice" not in check.output, check.output
    assert check.exit_code in (0, 1), check.output  # 1: open TODOs (quality bar, budget); never a refusal
    assert "not valid" not in flat(check.output)


def test_gzip_protobuf_and_dataframe_files(tmp_path: Path) -> None:
    """Item 7: a .gz export is read; raw protobuf says how to turn it into JSON; the DataFrame
    from search_traces() is read from its `trace` column."""
    (tmp_path / "spans.jsonl.gz").write_bytes(gzip.compress((REAL / "v2_latest_span.spans.jsonl").read_bytes()))
    res, _, ex = _import(tmp_path, tmp_path / "spans.jsonl.gz")
    assert res.exit_code == 0 and len(ex) == 8, res.output
    res, _, _ = _import(tmp_path, "langfuse_sdk_otlp.pb", name="pb")
    assert res.exit_code == 2 and "looks like OTLP protobuf" in flat(res.output) and "MessageToJson" in flat(res.output)
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress((REAL / "v2_latest_span.spans.jsonl").read_bytes())[:-40])
    res, _, _ = _import(tmp_path, tmp_path / "cut.jsonl.gz", name="cut")
    assert res.exit_code == 2 and "gzip file is damaged or cut short" in flat(res.output)


def test_dataframe_without_its_trace_column_says_how_to_export(tmp_path: Path) -> None:
    rows = [{"trace_id": "tr-1", "request": "hi", "response": "hello", "spans": "[Span(name='x')]",
             "state": "OK"}]
    (tmp_path / "df.json").write_text(json.dumps(rows))
    res, _, _ = _import(tmp_path, tmp_path / "df.json")
    assert res.exit_code == 2 and 'search_traces(return_type="list")' in flat(res.output)


def test_a_cut_csv_row_is_an_error(tmp_path: Path) -> None:
    """Item 6: a Langfuse CSV cut mid-row (inside a quoted field, or short of fields)."""
    text = (DATA / "langfuse_observations.csv").read_text()
    lines = text.splitlines(keepends=True)
    (tmp_path / "cut.csv").write_text(text[: len(text) - len(lines[-1]) // 2])
    res, _, ex = _import(tmp_path, tmp_path / "cut.csv")
    assert res.exit_code == 2 and not ex
    assert f"cut.csv:{len(lines)}" in flat(res.output) or f"line {len(lines)}" in flat(res.output), res.output
    header = lines[0]
    (tmp_path / "short.csv").write_text(header + "x,y\n")
    res, _, _ = _import(tmp_path, tmp_path / "short.csv", name="s")
    assert res.exit_code == 2 and "fields where the header has" in flat(res.output)


def test_routes_from_openinference_metadata(tmp_path: Path) -> None:
    """Item 8: OpenInference's `metadata` (JSON) names the route."""
    lines = []
    for i, (route, q) in enumerate([("billing", "Why charged twice?"), ("shipping", "Where is it?")] * 3):
        a = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4.1-mini", "llm.provider": "openai",
             "metadata": json.dumps({"feature": route, "user": "u1"}),
             "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": f"{q} {i}",
             "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": "ok"}
        span = {"traceId": f"{i:032x}", "spanId": f"{i:016x}", "name": "ChatCompletion",
                "startTimeUnixNano": str((1_788_000_000 + i) * 10**9), "endTimeUnixNano": str((1_788_000_001 + i) * 10**9),
                "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in a.items()]}
        lines.append(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}))
    (tmp_path / "oi.jsonl").write_text("\n".join(lines) + "\n")
    res, req, ex = _import(tmp_path, tmp_path / "oi.jsonl")
    assert res.exit_code == 0, res.output
    assert req["production"]["sample"]["route_key"] == "feature"
    assert {t for e in ex for t in e["tags"] if t.startswith("route:")} == {"route:billing", "route:shipping"}


def test_personal_data_in_real_traces_and_what_check_says(tmp_path: Path, keys: dict[str, str]) -> None:
    """Item 9: the SSN and the IPv4 address in a real call are redacted; `check` says which kinds
    were looked for; --keep-pii keeps them but still masks secrets, and says so."""
    res, req, ex = _import(tmp_path, "openinference.spans.jsonl")
    assert res.exit_code == 0
    text = json.dumps(ex)
    assert "536-22-8461" not in text and "203.0.113.54" not in text and "4111 1111" not in text
    assert "[SSN]" in text and "[IP]" in text and "[CARD]" in text
    assert req["production"]["pii_redacted"]["ssn"] == 1 and req["production"]["pii_redacted"]["ip"] == 1
    check = flat(cli("check", tmp_path / "proj" / "requirements" / "t.yaml").output)
    assert "US social security numbers" in check and "IPv4 addresses" in check
    res, req, ex = _import(tmp_path, "openinference.spans.jsonl", name="k", extra=("--keep-pii",))
    assert "536-22-8461" in json.dumps(ex)
    assert "secrets (API keys, tokens, private keys) are masked all the same" in flat(res.output)


def test_latency_bar_has_room(tmp_path: Path) -> None:
    """Item 10: the written bar is above today's p95, and the TODO says why."""
    res, req, _ = _import(tmp_path, "v2_latest_span.spans.jsonl")
    today = max(req["production"]["models"].values(), key=lambda m: m["calls"])
    assert req["latency"]["p95_ms"] >= today["latency"]["p95_ms"] * 1.2
    text = (tmp_path / "proj" / "requirements" / "t.yaml").read_text()
    assert "with 20% room" in text and "set the bar your users need" in text


def test_feedback_file_beside_openinference(tmp_path: Path) -> None:
    """Item 11: OpenInference cannot carry feedback in OTLP; a file of ratings by trace id can."""
    from modelsel.importers.traces.read import read_traces

    calls = read_traces([REAL / "openinference.spans.jsonl"]).calls
    thanks = next(c for c in calls if any("Thanks, all sorted" in (m.get("content") or "") for m in c.messages))
    (tmp_path / "ratings.csv").write_text(f"trace_id,rating\n{thanks.trace_id},thumbs_down\n")
    res, req, ex = _import(tmp_path, "openinference.spans.jsonl",
                           extra=("--feedback", str(tmp_path / "ratings.csv"), "--include", "feedback:negative",
                                  "--sample", "3"))
    assert res.exit_code == 0, res.output
    neg = [e for e in ex if "feedback:negative" in e["tags"]]
    assert len(neg) == 1 and "Thanks, all sorted now!" in json.dumps(neg[0])
    (tmp_path / "bad.csv").write_text("trace,who\nabc,me\n")
    bad = cli("import", "traces", REAL / "openinference.spans.jsonl", "--out", tmp_path / "p2", "--feedback",
              tmp_path / "bad.csv")
    assert bad.exit_code == 2 and "a feedback row needs a trace id" in flat(bad.output)


# Issue 48 item 7: what import writes, check accepts; nothing hangs or crashes.

def _span(text: str, extra: list[dict[str, Any]] | None = None) -> str:
    attrs = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
             {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4.1-mini"}},
             {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
             {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps(
                 [{"role": "user", "parts": [{"type": "text", "content": text}]}])}},
             {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps(
                 [{"role": "assistant", "parts": [{"type": "text", "content": "ok " + text}]}])}}] + (extra or [])
    span = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "chat", "startTimeUnixNano": "1788000000000000000",
            "endTimeUnixNano": "1788000001000000000", "attributes": attrs}
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}, ensure_ascii=False)


def test_line_separators_in_trace_text_survive_check(tmp_path: Path, keys: dict[str, str]) -> None:
    (tmp_path / "t.jsonl").write_text(_span("first\u2028second\u0085third\u2029") + "\n")
    res, _, ex = _import(tmp_path, tmp_path / "t.jsonl")
    assert res.exit_code == 0, res.output
    assert ex[0]["input"] == "first\u2028second\u0085third\u2029"
    check = cli("check", tmp_path / "proj" / "requirements" / "t.yaml")
    assert "not valid JSON" not in flat(check.output), check.output


def test_nested_json_and_infinity_are_no_traceback(tmp_path: Path) -> None:
    deep = "[" * 5000 + "]" * 5000
    inf = [{"key": "gen_ai.usage.input_tokens", "value": {"doubleValue": "Infinity"}},
           {"key": "gen_ai.request.temperature", "value": {"doubleValue": "NaN"}},
           {"key": "gen_ai.output.messages.extra", "value": {"stringValue": deep}}]
    lines = [_span("hello", inf), _span(deep).replace('"spanId": "cdcdcdcdcdcdcdcd"', '"spanId": "efefefefefefefef"')]
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n")
    res, req, ex = _import(tmp_path, tmp_path / "t.jsonl")
    assert res.exit_code in (0, 2), res.output
    assert "Traceback" not in res.output
    if res.exit_code == 0:
        json.dumps(req, allow_nan=False)


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "traces.jsonl"
    os.mkfifo(fifo)
    res = cli("import", "traces", fifo, "--out", tmp_path / "proj")
    assert res.exit_code == 2 and "not a regular file" in flat(res.output)


def test_one_long_line_document_up_to_the_document_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-line JSON document longer than the line limit is read as a document (the README's
    256 MB), here with the limits scaled down."""
    from modelsel.importers.traces import read

    monkeypatch.setattr(read, "MAX_LINE_BYTES", 20_000)
    monkeypatch.setattr(read, "MAX_JSON_DOCUMENT_BYTES", 200_000)
    doc = [json.loads(x) for x in (REAL / "mlflow.jsonl").read_text().splitlines()]
    (tmp_path / "one.json").write_text(json.dumps(doc))
    assert 20_000 < (tmp_path / "one.json").stat().st_size < 200_000
    res, _, ex = _import(tmp_path, tmp_path / "one.json")
    assert res.exit_code == 0 and len(ex) == 8, res.output
    monkeypatch.setattr(read, "MAX_JSON_DOCUMENT_BYTES", 30_000)
    res, _, _ = _import(tmp_path, tmp_path / "one.json", name="big")
    assert res.exit_code == 2 and "one JSON document over" in flat(res.output)


def test_list_elements_keep_their_lines(tmp_path: Path) -> None:
    """Item 5: a JSON list is decoded an element at a time (linear); a broken element names its line."""
    doc = (REAL / "mlflow_list.json").read_text()
    n = doc.count("\n")
    (tmp_path / "bad.json").write_text(doc.rstrip()[:-1].rstrip() + ",\n{\"info\": 1,}\n]")
    res, _, _ = _import(tmp_path, tmp_path / "bad.json")
    assert res.exit_code == 2 and f"bad.json:{n + 1}" in flat(res.output), res.output


# Issue 48 item 6: personal data the redaction missed.

@pytest.mark.parametrize(("text", "kind"), [
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret"),
    ("token hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "secret"),
    ("auth ya29.a0AfH6SMBx3Kq-7rTzYwXvUu_9pLmNoPqRsTuV", "secret"),
    ("post to https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX now", "secret"),
    ("card 4111.1111.1111.1111", "card"),
    ("card 4111\u00a01111\u00a01111\u00a01111", "card"),
    ("card 4111  1111  1111  1111", "card"),
    ("card \uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11", "card"),
    ("mail jane.doe\uff20example.com", "email"),
    ("mail jane.doe%40example.com", "email"),
    ("mail jane.doe&#64;example.com", "email"),
    ("iban de89 3704 0044 0532 0130 00 please", "iban"),
    ("iban DE89-3704-0044-0532-0130-00", "iban"),
    ("ssn 536-22-8461", "ssn"),
    ("my social security number is 536228461", "ssn"),
    ("from 203.0.113.54.", "ip"),
])
def test_redactor_finds_what_hides_in_other_spellings(text: str, kind: str) -> None:
    from modelsel.importers.traces.pii import Redactor

    r = Redactor("US")
    out = r(text) or ""
    assert f"[{kind.upper()}]" in out and r.counts[kind] == 1, (out, dict(r.counts))
    digits = [c for c in text if c.isdigit()]
    assert len([c for c in out if c.isdigit()]) < max(1, len(digits) - 3) or kind == "secret"


@pytest.mark.parametrize("text", ["version 3.11.7 of 2026-08-29", "order 078-05-112 shipped", "ssn 000-12-3456",
                                  "sha 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "id 4111.1111.1111.1112",
                                  "iban de00 3704 0044 0532 0130 00", "100% sure, 50%off"])
def test_redactor_leaves_lookalikes(text: str) -> None:
    from modelsel.importers.traces.pii import Redactor

    assert Redactor("US")(text) == text


def test_route_values_and_ids_are_redacted_everywhere(tmp_path: Path, keys: dict[str, str]) -> None:
    """Route values and observation ids holding an e-mail or a card number never reach
    `production:`, the examples, or what `check` prints."""
    lines = []
    for i in range(6):
        route = "jane.doe@example.com" if i % 2 else "card-4111111111111111"
        attrs = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                 {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4.1-mini"}},
                 {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                 {"key": "route", "value": {"stringValue": route}},
                 {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps(
                     [{"role": "user", "parts": [{"type": "text", "content": f"question {i}"}]}])}},
                 {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps(
                     [{"role": "assistant", "parts": [{"type": "text", "content": "ok"}]}])}}]
        span = {"traceId": f"{i:032x}", "spanId": "bob@example.com" if i == 0 else f"{i:016x}", "name": "chat",
                "startTimeUnixNano": str((1_788_000_000 + i) * 10**9),
                "endTimeUnixNano": str((1_788_000_001 + i) * 10**9), "attributes": attrs}
        lines.append(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}))
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n")
    res, req, ex = _import(tmp_path, tmp_path / "t.jsonl")
    assert res.exit_code == 0, res.output
    written = (tmp_path / "proj" / "requirements" / "t.yaml").read_text() + json.dumps(ex)
    check = cli("check", tmp_path / "proj" / "requirements" / "t.yaml").output
    for shown in (written, res.output, check):
        assert "example.com" not in shown and "4111111111111111" not in shown
    assert "route:[EMAIL]" in json.dumps(ex) and "[CARD]" in json.dumps(req["production"]["whole"]["routes"])


def test_langfuse_export_rows_keep_tool_calls(tmp_path: Path) -> None:
    """Item 1 for Langfuse's export shapes (the API's camelCase and the CSV): a generation answered
    with a tool call (content null) is a tool call, not an empty answer, and is left out and said."""
    from modelsel.importers.traces.read import read_traces

    rows = json.loads((DATA / "langfuse_observations.json").read_text())
    gen = next(r for r in rows if r["type"] == "GENERATION")
    tool = dict(gen, id="obs-tool", traceId="trace-tool",
                input={"messages": [{"role": "user", "content": "Where is my order #A-1042?"}], "tools": [
                    {"type": "function", "function": {"name": "get_order", "parameters": {"type": "object"}}}]},
                output={"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_order", "arguments": '{"order": "A-1042"}'}}]})
    (tmp_path / "lf.json").write_text(json.dumps(rows + [tool]))
    calls = read_traces([tmp_path / "lf.json"]).calls
    c = next(x for x in calls if x.span_id == "obs-tool")
    assert c.output is None and c.tool_calls == [{"id": "call_1", "name": "get_order", "arguments": '{"order": "A-1042"}'}]
    assert c.tools[0]["function"]["name"] == "get_order"
    res, _, ex = _import(tmp_path, tmp_path / "lf.json")
    assert res.exit_code == 0 and "1 call with tool calls left out: tools cannot be carried yet" in flat(res.output)
    assert all(e.get("reference") for e in ex) and "A-1042" not in json.dumps(ex)
