"""`modelsel import traces`: production's own calls become the eval set. One file per format,
written from the format's own definitions (tests/data/traces/make.py: the OpenTelemetry protobuf
classes, MLflow's tracing API, Langfuse's documented export fields), each with spans that are not
model calls, repeats, personal data and user feedback; then the sample's proportions, the filters,
bad input, and import -> eval -> record -> review against the fake provider."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, cli, flat

DATA = ROOT / "tests" / "data" / "traces"
SYSTEM = "You are the support assistant of Acme. Answer in one short paragraph."


def _import(tmp_path: Path, *files: str, name: str = "t", extra: tuple[str, ...] = ()) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    paths = []
    for f in files:
        p = Path(f)
        if not p.is_absolute():
            shutil.copy(DATA / f, tmp_path / f)
            p = tmp_path / f
        paths.append(p)
    res = cli("import", "traces", *paths, "--out", tmp_path / "proj", "--name", name, *extra)
    req = tmp_path / "proj" / "requirements" / f"{name}.yaml"
    es = tmp_path / "proj" / "evalsets" / f"{name}.jsonl"
    examples = [json.loads(x) for x in es.read_text().splitlines()] if es.exists() else []
    return res, (yaml.safe_load(req.read_text()) if req.exists() else {}), examples


def _user(e: dict[str, Any]) -> str:
    """The last user message of an example (its input, when there is no system prompt or history)."""
    if isinstance(e["input"], str):
        return e["input"]
    return [m["content"] for m in e["input"] if m["role"] == "user"][-1]


def _system(e: dict[str, Any]) -> str | None:
    return e["input"][0]["content"] if isinstance(e["input"], list) and e["input"][0]["role"] == "system" else None


def test_otlp_genai_current_and_older_conventions(tmp_path: Path) -> None:
    res, req, ex = _import(tmp_path, "otel_genai.jsonl")
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    # 21 chat spans (current conventions) + 1 older-convention span; embeddings, tool, agent and HTTP spans skipped
    assert "22 model calls read (otel_genai.jsonl: OTLP/JSON), 4 other spans skipped (embeddings 1, tool 1, agent 1, other 1)" in out
    assert "7 exact and 7 near-exact repeats removed; 8 distinct calls" in out
    prod = req["production"]
    assert prod["model_calls"] == 22 and prod["skipped"] == {"embeddings": 1, "tool": 1, "agent": 1, "other": 1}
    # the traced models are candidates; the system prompt belongs to each example, not to a model
    assert req["candidates"] == [{"id": "today-gpt-4.1-mini", "catalog": "openai/gpt-4.1-mini"},
                                 {"id": "today-claude-haiku-4-5", "catalog": "anthropic/claude-haiku-4-5"}]
    assert all(_system(e) == SYSTEM for e in ex)
    # the multi-turn call (gen_ai.prompt.N.*) keeps its turns, after its system prompt
    multi = next(e for e in ex if len(e["input"]) > 2)
    assert multi["input"] == [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Do you ship to Norway?"},
                              {"role": "assistant", "content": "Yes, we do."},
                              {"role": "user", "content": "How long does it take?"}]
    assert multi["reference"] == "Five to seven days." and "expected" not in multi
    # production's latency from span times, by input size: the long (1,500-token) calls took 1.9 s
    today = prod["models"]["gpt-4.1-mini"]
    assert today["calls"] == 21 and today["latency"]["p50_ms"] == 800.0 and today["latency"]["p95_ms"] == 1900.0
    assert today["by_input"]["1k-10k tokens"]["p50_ms"] == 1900.0 and today["by_input"]["< 1k tokens"]["n"] == 18
    assert req["latency"] == {"p95_ms": 2280}  # today's p95 with 20% room
    # the thumbs-down (a gen_ai.evaluation.result event) is a tag on its example
    neg = [e for e in ex if "feedback:negative" in e["tags"]]
    assert [_user(e) for e in neg] == ["Where is my order? It says delivered."]
    assert all(any(t.startswith("route:") for t in e["tags"]) for e in ex)


def test_personal_data_is_redacted_and_counted(tmp_path: Path) -> None:
    res, req, ex = _import(tmp_path, "otel_genai.jsonl")
    text = (tmp_path / "proj" / "evalsets" / "t.jsonl").read_text() + (tmp_path / "proj" / "requirements" / "t.yaml").read_text()
    for secret in ("jane.doe@example.com", "7946 0958", "4111 1111 1111 1111", "DE89 3704", "sk-proj-ABCDEF"):
        assert secret not in text
    assert req["production"]["pii_redacted"] == {"secret": 1, "email": 1, "iban": 1, "card": 1, "ssn": 0, "ip": 0,
                                                 "phone": 1}
    assert "Please update my card, contact me at [EMAIL] or [PHONE]." in [_user(e) for e in ex]
    assert any("My card [CARD] was declined; IBAN [IBAN] instead?" == _user(e) for e in ex)
    # the order number is neither a phone nor a card
    assert any("order 88123" in _user(e) for e in ex)
    res2, req2, ex2 = _import(tmp_path, "otel_genai.jsonl", name="kept", extra=("--keep-pii",))
    assert req2["production"]["pii_kept"] is True
    assert "jane.doe@example.com" in (tmp_path / "proj" / "evalsets" / "kept.jsonl").read_text()
    check = cli("check", tmp_path / "proj" / "requirements" / "kept.yaml")
    assert "Personal data was kept (--keep-pii)" in flat(check.output)


def test_redactor_leaves_what_fails_its_checksum() -> None:
    from modelsel.importers.traces.pii import Redactor

    r = Redactor("US")
    assert r("card 4111 1111 1111 1112, iban DE00 3704 0044 0532 0130 00, order 1234567, on 2026-08-29") == \
        "card 4111 1111 1111 1112, iban DE00 3704 0044 0532 0130 00, order 1234567, on 2026-08-29"
    assert r("key AKIAABCDEFGHIJKLMNOP and Bearer abcdefghijklmnopqrstuvwxyz") == "key [SECRET] and Bearer [SECRET]"
    assert r("call (415) 555-2671") == "call [PHONE]" and dict(r.counts) == {"secret": 2, "phone": 1}


def test_openinference_spans(tmp_path: Path) -> None:
    res, req, ex = _import(tmp_path, "openinference.jsonl")
    assert res.exit_code == 0, res.output
    assert "4 model calls read" in flat(res.output) and req["production"]["skipped"] == {"retrieval": 1, "tool": 1, "chain": 1}
    assert req["candidates"] == [{"id": "today-gpt-4.1-mini", "catalog": "openai/gpt-4.1-mini"}]
    assert _user(ex[0]) == "Why was I charged twice for my March invoice?" and _system(ex[0]) == SYSTEM
    assert ex[0]["reference"] == "You were charged twice because ..."


def test_mlflow_traces_with_a_human_assessment(tmp_path: Path) -> None:
    res, req, ex = _import(tmp_path, "mlflow_traces.jsonl")
    assert res.exit_code == 0, res.output
    assert req["production"]["skipped"] == {"chain": 4, "retrieval": 4}
    assert req["candidates"][0]["catalog"] == "openai/gpt-4.1-mini" and "system" not in req["candidates"][0]
    assert all(_system(e) == SYSTEM for e in ex)
    by_input = {_user(e): e for e in ex}
    assert "feedback:negative" in by_input["Can I get a refund for the annual plan?"]["tags"]
    assert by_input["Why was I charged twice for my March invoice?"]["reference"] == "You were charged twice because ..."
    assert req["production"]["models"]["gpt-4.1-mini"]["input_tokens_mean"] == 45.0


@pytest.mark.parametrize("files", [("langfuse_observations.json",), ("langfuse_observations.csv",),
                                   ("langfuse_observations.jsonl", "langfuse_scores.jsonl")])
def test_langfuse_exports(tmp_path: Path, files: tuple[str, ...]) -> None:
    res, req, ex = _import(tmp_path, *files, extra=("--include", "feedback:negative"))
    assert res.exit_code == 0, res.output
    assert len(ex) == 5 and req["candidates"][0]["catalog"] == "anthropic/claude-haiku-4-5"
    assert all(e["meta"]["model"] == "claude-haiku-4-5" for e in ex)
    skipped = req["production"]["skipped"]
    assert skipped == ({"embeddings": 1} if "langfuse_scores.jsonl" in files else {"span": 5})
    if "langfuse_scores.jsonl" in files:
        # a score on the trace (no observation named) goes to its generation; feedback:negative taken first
        assert "feedback:negative" in ex[0]["tags"] and _user(ex[0]).startswith("My parcel never arrived")
        assert req["production"]["sample"]["included"] == 1
        assert req["production"]["models"]["claude-haiku-4-5"]["latency"]["ttft_p50_ms"] == 400.0
        assert req["production"]["models"]["claude-haiku-4-5"]["latency"]["p50_ms"] == 1250.0


def _otlp_line(i: int, model: str, route: str, text: str, t0: int = 1_788_000_000, seconds: float = 0.5,
               tokens: int = 50, feedback: str | None = None) -> str:
    attrs = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
             {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
             {"key": "gen_ai.request.model", "value": {"stringValue": model}},
             {"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(tokens)}},
             {"key": "route", "value": {"stringValue": route}},
             {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps(
                 [{"role": "user", "parts": [{"type": "text", "content": text}]}])}},
             {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps(
                 [{"role": "assistant", "parts": [{"type": "text", "content": f"answer {i}"}]}])}}]
    if feedback:
        attrs.append({"key": "user.feedback", "value": {"stringValue": feedback}})
    start = (t0 + i * 60) * 10**9
    span = {"traceId": f"{i:032x}", "spanId": f"{i:016x}", "name": f"chat {model}", "kind": 3,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + int(seconds * 1e9)), "attributes": attrs}
    return json.dumps({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {}, "spans": [span]}]}]})


def _traffic(path: Path, n: int = 1000, long_share: float = 0.1, t0: int = 1_788_000_000) -> None:
    """n distinct calls: model a 70% / b 30%, routes x 50% / y 30% / z 20%, long inputs `long_share`, every 50th complained about."""
    lines = []
    for i in range(n):
        model = "gpt-4.1-mini" if i % 10 < 7 else "gpt-4.1"
        route = "x" if i % 10 < 5 else "y" if i % 10 < 8 else "z"
        long = (i * 7919) % 1000 < long_share * 1000
        lines.append(_otlp_line(i, model, route, f"question number {i} about {route}", t0=t0,
                                tokens=5000 if long else 60, seconds=2.0 if long else 0.5,
                                feedback="thumbs_down" if i % 50 == 0 else None))
    path.write_text("\n".join(lines) + "\n")


def test_sample_is_proportional_seeded_and_takes_complaints_apart(tmp_path: Path) -> None:
    _traffic(tmp_path / "big.jsonl")
    res, req, ex = _import(tmp_path, str(tmp_path / "big.jsonl"), name="s1", extra=("--sample", "100", "--seed", "7"))
    assert res.exit_code == 0, res.output
    s = req["production"]["sample"]
    assert s["size"] == 100 and s["route_key"] == "route"
    # proportional within strata (Hamilton's largest remainders): every share within a point of the traffic's
    for key in ("models", "routes", "input_lengths"):
        for k, share in req["production"]["whole"][key].items():
            assert abs(s[key].get(k, 0) - share) <= 0.011, (key, k, s[key], share)
    # the same seed draws the same sample; another seed another one
    _, _, ex_again = _import(tmp_path, str(tmp_path / "big.jsonl"), name="s2", extra=("--sample", "100", "--seed", "7"))
    _, _, ex_other = _import(tmp_path, str(tmp_path / "big.jsonl"), name="s3", extra=("--sample", "100", "--seed", "8"))
    assert [e["meta"]["span_id"] for e in ex] == [e["meta"]["span_id"] for e in ex_again]
    assert [e["meta"]["span_id"] for e in ex] != [e["meta"]["span_id"] for e in ex_other]
    # --include: every complaint (20 of 1000) is in, the other 80 drawn in proportion
    res4, req4, ex4 = _import(tmp_path, str(tmp_path / "big.jsonl"), name="s4", extra=("--sample", "100", "--include",
                                                                                         "feedback:negative"))
    assert sum("feedback:negative" in e["tags"] for e in ex4) == 20 and len(ex4) == 100
    assert req4["production"]["sample"]["included"] == 20 and req4["production"]["sample"]["proportional"] == 80
    assert "20 taken whole by --include (feedback:negative), 80 drawn proportionally" in flat(res4.output)
    check = cli("check", tmp_path / "proj" / "requirements" / "s4.yaml")
    assert "20 taken whole because they carry feedback:negative (counted apart), 80 drawn in proportion" in flat(check.output)
    # equal allocation covers the rare route as much as the common one (x has 500 calls, z 200: both get their 1/12 share)
    _, req5, _ = _import(tmp_path, str(tmp_path / "big.jsonl"), name="s5", extra=("--sample", "60", "--allocation", "equal"))
    assert req5["production"]["sample"]["routes"]["z"] > req5["production"]["whole"]["routes"]["z"]


def test_filters_by_time_and_attribute(tmp_path: Path) -> None:
    _traffic(tmp_path / "big.jsonl", n=200)
    # calls start a minute apart from 2026-08-29T10:40:00Z (1_788_000_000): from 12:00 on is call 80 on
    res, req, ex = _import(tmp_path, str(tmp_path / "big.jsonl"), extra=("--where", "route=z", "--where", "model=gpt-4.1",
                                                                          "--since", "2026-08-29T12:00:00Z"))
    assert res.exit_code == 0, res.output
    assert req["production"]["whole"]["calls"] == len(ex) == sum(1 for i in range(80, 200) if i % 10 in (8, 9))
    assert all("route:z" in e["tags"] and "model:gpt-4.1" in e["tags"] for e in ex)
    assert req["production"]["filters"] == {"since": "2026-08-29T12:00:00Z", "where": ["route=z", "model=gpt-4.1"]}
    none = cli("import", "traces", tmp_path / "big.jsonl", "--out", tmp_path / "p2", "--where", "route=nowhere")
    assert none.exit_code == 2 and "none of the 200 model calls passes --since/--until/--where" in flat(none.output)
    assert not (tmp_path / "p2").exists()


@pytest.mark.parametrize("content, says", [
    ('{"resourceSpans": []}\n{"resourceSpans": [\n', ":2: not valid JSON"),
    ('{"hello": 1}\n', "not a trace record modelsel knows (fields: hello); it reads OTLP/JSON"),
    ("name,value\na,1\n", "not a trace export modelsel knows (first row: name, value); it reads OTLP/JSON"),
    ("", "this trace file is empty"),
    ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "GET /", "attributes": []}]}]}]}\n',
     "no model calls with their messages in 1 span(s) read (other 1)"),
])
def test_bad_trace_files_name_the_file_and_line_and_write_nothing(tmp_path: Path, content: str, says: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    res = cli("import", "traces", bad, "--out", tmp_path / "proj")
    assert res.exit_code == 2, res.output
    assert says in flat(res.output) and str(bad) in flat(res.output)
    assert "Traceback" not in res.output and not (tmp_path / "proj").exists()


def test_bad_options(tmp_path: Path) -> None:
    shutil.copy(DATA / "otel_genai.jsonl", tmp_path / "t.jsonl")
    for args, says in ((("--where", "route"), "'route' is not ATTR=VALUE"), (("--since", "last week"), "not a date or time"),
                       (("--allocation", "optimal"), "'optimal' is not an allocation")):
        res = cli("import", "traces", tmp_path / "t.jsonl", "--out", tmp_path / "proj", *args)
        assert res.exit_code == 2 and says in flat(res.output), res.output
    assert cli("import", "traces", tmp_path, "--out", tmp_path / "proj").exit_code == 2


def test_import_eval_record_and_review(tmp_path: Path, keys: dict[str, str], fake: Any) -> None:
    """import traces -> eval on the fake provider -> the record compares with production -> review --traces."""
    _traffic(tmp_path / "prod.jsonl", n=300)
    res, req, ex = _import(tmp_path, str(tmp_path / "prod.jsonl"), name="prod",
                           extra=("--sample", "60", "--expected-from-output"))
    assert res.exit_code == 0, res.output
    assert [c["id"] for c in req["candidates"]] == ["today-gpt-4.1-mini", "today-gpt-4.1"]
    assert "judge" not in req and ex[0]["expected"] == ex[0]["reference"]
    # the PM's part, and the candidates pointed at the fake provider
    req["task"] = "Answer support questions."
    req["quality"] = {"min_score": 0.5}
    req["cost"] = {"max_per_request_usd": 0.05}
    req["compliance"] = {"data_sensitivity": "internal"}
    for c in req["candidates"]:
        c["base_url"] = fake.url + "/v1"
    path = tmp_path / "proj" / "requirements" / "prod.yaml"
    path.write_text(yaml.safe_dump(req, sort_keys=False))
    answers = {e["input"]: e["expected"] for e in ex}
    fake.script("gpt-4.1-mini", answer=lambda p: next((a for q, a in answers.items() if q in p), "?"))
    fake.script("gpt-4.1", answer=lambda p: next((a for q, a in answers.items() if q in p and "x" not in q[-2:]), "?"))
    out = tmp_path / "run"
    run = cli("eval", path, "--out", out, "--no-extra-calls")
    assert run.exit_code in (0, 1), run.output
    md = (out / "decision.md").read_text()
    assert ("**Today** production runs gpt-4.1-mini (70% of 300 traced calls): p95 2,000 ms as the application saw it; "
            "the rules keep today's model") in md
    assert "gpt-4.1-mini on inputs of 1k-10k tokens: p50 2,000 ms" in md
    assert "agreement with production's answers, not correctness" in md
    assert "## Production today (from traces)" in md and "Sample of 60 from 300 model calls" in md
    html = (out / "report.html").read_text()
    assert 'id="production"' in html and "agreement with production" in html
    # quarter after quarter: the same traffic has not moved; longer inputs have
    same = cli("review", path, "--against", out, "--traces", tmp_path / "prod.jsonl", "--out", tmp_path / "r1")
    assert "production's inputs have not moved" in flat(same.output), same.output
    _traffic(tmp_path / "later.jsonl", n=300, long_share=0.6, t0=1_796_000_000)
    later = cli("review", path, "--against", out, "--traces", tmp_path / "later.jsonl", "--out", tmp_path / "r2")
    assert later.exit_code == 1, later.output
    text = flat(later.output)
    assert "production's inputs moved since the decision" in text and "of the traffic moved between input lengths" in text
    fresh = (tmp_path / "r2" / "traces-sample.jsonl").read_text().splitlines()
    assert len(fresh) == 60


def test_review_traces_against_a_hand_written_eval_set(tmp_path: Path) -> None:
    """Requirements not drawn from traces: new traffic is held against the eval set's own input lengths."""
    from tests.conftest import write_req

    (tmp_path / "rules.py").write_text("def first(text):\n    return 'billing'\n")
    req = write_req(tmp_path, [{"id": "rules", "provider": "python", "model": "rules:first"}])
    out = tmp_path / "run"
    assert cli("eval", req, "--out", out).exit_code in (0, 1)
    lines = [_otlp_line(i, "gpt-4.1-mini", "x", "a long question " * 400, tokens=2000) for i in range(40)]
    (tmp_path / "new.jsonl").write_text("\n".join(lines) + "\n")
    res = cli("review", req, "--against", out, "--traces", tmp_path / "new.jsonl", "--out", tmp_path / "r")
    text = flat(res.output)
    assert res.exit_code == 1 and "production's inputs moved since the decision" in text
    assert "against the eval set's own lengths, 4 characters a token" in text
    assert "the median input went from" in text
    # a file that is not traces stops the review before any call
    (tmp_path / "bad.jsonl").write_text('{"hello": 1}\n')
    bad = cli("review", req, "--against", out, "--traces", tmp_path / "bad.jsonl", "--out", tmp_path / "r2")
    assert bad.exit_code == 2 and "not a trace record modelsel knows" in flat(bad.output)
    assert not (tmp_path / "r2").exists()


@pytest.mark.parametrize("order", [("otel_events_spans.jsonl", "otel_events_logs.jsonl"),
                                   ("otel_events_logs.jsonl", "otel_events_spans.jsonl")])
def test_messages_emitted_as_log_records_join_their_spans(tmp_path: Path, order: tuple[str, str]) -> None:
    """The openai-v2 instrumentation with content in events: spans carry no messages, the log
    records of the same span do (gen_ai.system.message, gen_ai.user.message, gen_ai.choice)."""
    res, req, ex = _import(tmp_path, *order)
    assert res.exit_code == 0, res.output
    assert "OTLP/JSON logs" in flat(res.output) and len(ex) == 3
    assert req["candidates"] == [{"id": "today-gpt-4.1-mini", "catalog": "openai/gpt-4.1-mini"}]
    by_input = {_user(e): e for e in ex}
    assert by_input["Why was I charged twice for my March invoice?"]["reference"] == "You were charged twice because ..."


def test_spans_without_their_messages_say_so(tmp_path: Path) -> None:
    res, _, _ = _import(tmp_path, "otel_events_spans.jsonl")
    assert res.exit_code == 2
    assert "no model calls with their messages in 3 span(s) read (model spans without their messages (content capture off) 3)" \
        in flat(res.output)
