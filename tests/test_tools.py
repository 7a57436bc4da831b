"""Tool calls, structured output and conversations mid-way: written by the user, sent in each API's
own wire format through the real SDKs (streamed and not) to the fake server, scored with every miss's
reason, and kept in the records and reports."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    anthropic_cand,
    cli,
    compat_cand,
    flat,
    gemini_cand,
    openai_cand,
    run_dir,
    write_req,
)

MAKERS = {"openai": openai_cand, "anthropic": anthropic_cand, "gemini": gemini_cand, "openai-compatible": compat_cand}

TOOLS = [
    {"type": "function", "function": {
        "name": "get_order", "description": "Look an order up by its id.",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"],
                       "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "refund", "description": "Refund an order, in full or in part.",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
                       "required": ["order_id", "amount"], "additionalProperties": False}}},
    # the bare form is accepted too
    {"name": "search_faq", "description": "Search the help centre.",
     "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}},
]

# A conversation that starts mid-way: the assistant already looked the order up.
MIDWAY = [
    {"role": "user", "content": "Order B2 arrived broken, refund it please"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_7", "type": "function", "function": {"name": "get_order", "arguments": "{\"order_id\": \"B2\"}"}}]},
    {"role": "tool", "tool_call_id": "call_7", "content": "{\"status\": \"delivered\", \"total\": 40}"},
]

EXAMPLES = [
    {"id": "where", "input": "Where is my order A17?", "expected": {"tool_calls": [{"name": "get_order",
                                                                                    "arguments": {"order_id": "A17"}}]},
     "tags": ["lookup"]},
    {"id": "refund", "input": MIDWAY, "expected": {"tool_calls": [{"name": "refund",
                                                                    "arguments": {"order_id": "B2", "amount": 40}}]},
     "tags": ["midway"]},
    {"id": "faq", "input": "What is your returns policy?",
     "expected": {"tool_calls": [{"name": "search_faq", "arguments": {"query": "returns policy"}}]}, "tags": ["faq"]},
    {"id": "thanks", "input": "Thanks, that is all!", "expected": {"tool_calls": []}, "tags": ["no_tool"]},
    {"id": "hello", "input": "Hello there", "expected": {"tool_calls": []}, "tags": ["no_tool"]},
]


def agent(prompt: str) -> Any:
    """A scripted model: right on every example but 'faq' (wrong argument) and 'hello' (calls a tool)."""
    if "A17" in prompt:
        return {"tool_calls": [{"name": "get_order", "arguments": {"order_id": "A17"}}]}
    if "B2" in prompt:
        return {"tool_calls": [{"name": "refund", "arguments": {"order_id": "B2", "amount": 40}}]}
    if "returns" in prompt:
        return {"tool_calls": [{"name": "search_faq", "arguments": {"query": "refunds"}}]}
    if "Hello" in prompt:
        return {"tool_calls": [{"name": "search_faq", "arguments": {"query": "<script>alert(1)</script>"}}]}
    return "You are welcome!"


def answers(run: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's summary and its quality records (latency-only calls left out)."""
    summary, recs = run_dir(run)
    return summary, [r for r in recs if not r["latency_sample"]]


def project(tmp_path: Path, cands: list[dict[str, Any]], examples: list[dict[str, Any]] | None = None,
            tools: Any = None, **over: Any) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "tools.json").write_text(json.dumps(TOOLS if tools is None else tools, indent=2))
    (tmp_path / "agent.jsonl").write_text("".join(json.dumps(e) + "\n" for e in (examples or EXAMPLES)))
    doc: dict[str, Any] = {"evalset": "agent.jsonl", "tools": "tools.json", "tool_choice": "auto",
                           "scoring": [{"type": "tool_call"}], "quality": {"min_score": 0.5}}
    doc.update(over)
    return write_req(tmp_path, cands, **doc)


@pytest.mark.parametrize("api", list(MAKERS))
@pytest.mark.parametrize("stream", [True, False])
def test_tool_calls_in_each_api_s_wire_format(fake, keys, tmp_path: Path, api: str, stream: bool) -> None:
    fake.script("m", answer=agent, output_tokens=9)
    cand = MAKERS[api](fake, "m", params={"stream": stream})
    res = cli("eval", project(tmp_path, [cand]), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    summary, recs = answers(tmp_path / "run")
    by = {r["example_id"]: r for r in recs}
    # What the model did is kept: the calls with the raw arguments it sent, and the finish reason.
    assert [(c["name"], json.loads(c["arguments"])) for c in by["where"]["tool_calls"]] == [("get_order", {"order_id": "A17"})]
    assert by["where"]["finish_reason"] == {"gemini": "STOP", "anthropic": "tool_use"}.get(api, "tool_calls")
    assert by["thanks"]["tool_calls"] == [] and by["thanks"]["output"] == "You are welcome!"
    assert {k: r["score"] for k, r in by.items()} == {"where": 1.0, "refund": 1.0, "faq": 0.0, "thanks": 1.0, "hello": 0.0}
    assert by["faq"]["reason"] == "search_faq: argument query wrong (got 'refunds', expected 'returns policy')"
    assert by["hello"]["reason"].startswith("a call where none was asked: search_faq(")
    assert by["hello"]["tool_verdict"] == "unexpected_call" and by["where"]["tool_verdict"] == "right"
    tu = summary["candidates"][cand["id"]]["tool_use"]
    assert (tu["right"]["value"], tu["right"]["n"]) == (pytest.approx(2 / 3, abs=1e-6), 3)
    assert (tu["unexpected"]["value"], tu["unexpected"]["n"]) == (0.5, 2)
    md = (tmp_path / "run" / "decision.md").read_text()
    assert "the right tool with the right arguments in 2 of 3" in md and "a call where none was asked in 1 of 2" in md

    sent = {s.prompt: s.body for s in fake.requests_for("m")}
    first, midway = sent["Where is my order A17?"], sent["Order B2 arrived broken, refund it please"]
    if api in ("openai", "openai-compatible"):
        assert [t["function"]["name"] for t in first["tools"]] == ["get_order", "refund", "search_faq"]
        assert first["tools"][2] == {"type": "function", "function": {**{k: v for k, v in TOOLS[2].items()}}}
        assert first["tool_choice"] == "auto"
        assert midway["messages"][1]["tool_calls"][0]["function"] == {"name": "get_order", "arguments": "{\"order_id\": \"B2\"}"}
        assert midway["messages"][2] == {"role": "tool", "tool_call_id": "call_7",
                                         "content": "{\"status\": \"delivered\", \"total\": 40}"}
    elif api == "anthropic":
        assert first["tools"][0] == {"name": "get_order", "description": "Look an order up by its id.",
                                     "input_schema": TOOLS[0]["function"]["parameters"]}
        assert first["tool_choice"] == {"type": "auto"}
        assert midway["messages"][1] == {"role": "assistant", "content": [
            {"type": "tool_use", "id": "call_7", "name": "get_order", "input": {"order_id": "B2"}}]}
        assert midway["messages"][2] == {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_7", "content": "{\"status\": \"delivered\", \"total\": 40}"}]}
    else:
        decl = first["tools"][0]["functionDeclarations"]
        assert [d["name"] for d in decl] == ["get_order", "refund", "search_faq"]
        # google-genai sends the field by its proto name; the API reads either spelling
        assert decl[0]["parameters_json_schema"] == TOOLS[0]["function"]["parameters"]
        assert first["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
        assert midway["contents"][1] == {"role": "model", "parts": [{"functionCall": {"name": "get_order",
                                                                                      "args": {"order_id": "B2"}}}]}
        assert midway["contents"][2] == {"role": "user", "parts": [{"functionResponse": {
            "name": "get_order", "response": {"status": "delivered", "total": 40}}}]}


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "amount": {"type": "number"},
                                           "currency": {"type": "string", "enum": ["EUR", "USD"]}},
          "required": ["name", "amount", "currency"], "additionalProperties": False}
INVOICES = [
    {"id": "i1", "input": "Invoice from ACME for 120 EUR", "expected": {"name": "ACME", "amount": 120, "currency": "EUR"}},
    {"id": "i2", "input": "Bill: Globex, 99.5 dollars", "expected": {"name": "Globex", "amount": 99.5, "currency": "USD"}},
    {"id": "i3", "input": "Initech owes 10 EUR", "expected": {"name": "Initech", "amount": 10, "currency": "EUR"}},
]


def extractor(prompt: str) -> str:
    if "ACME" in prompt:
        return '{"name": "ACME", "amount": 120, "currency": "EUR"}'
    if "Globex" in prompt:
        return '{"name": "Globex", "amount": 99.5, "currency": "EUR"}'  # one field wrong of three
    return '{"name": "Initech", "amount": "ten"}'  # breaks the schema


@pytest.mark.parametrize("api", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("stream", [True, False])
def test_structured_output_in_each_api_s_wire_format(fake, keys, tmp_path: Path, api: str, stream: bool) -> None:
    fake.script("x", answer=extractor)
    (tmp_path / "invoice.schema.json").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "invoice.schema.json").write_text(json.dumps(SCHEMA))
    cand = MAKERS[api](fake, "x", params={"stream": stream})
    req = project(tmp_path, [cand], INVOICES, tools=[TOOLS[0]], scoring=[{"type": "json_fields"}],
                  output={"json_schema": "invoice.schema.json"}, tool_choice=None)
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    _, recs = answers(tmp_path / "run")
    by = {r["example_id"]: r for r in recs}
    assert by["i1"]["score"] == 1.0 and by["i1"]["reason"] == "all 3 fields right"
    assert by["i2"]["score"] == pytest.approx(2 / 3)
    assert by["i2"]["reason"] == "2 of 3 fields right; wrong: currency (got 'EUR', expected 'USD')"
    assert by["i3"]["score"] == 0.0 and by["i3"]["reason"] == "breaks the schema ('currency' is a required property)"
    assert [s["schema_valid"] for r in recs for s in r["scores"]] == [True, True, False]
    assert [r["valid"] for r in recs] == [True, True, False]  # known at request time: a cascade may use it
    body = fake.requests_for("x")[0].body
    if api == "openai":
        assert body["response_format"] == {"type": "json_schema",
                                           "json_schema": {"name": "output", "schema": SCHEMA, "strict": True}}
    elif api == "anthropic":
        assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    else:
        assert body["generationConfig"]["responseJsonSchema"] == SCHEMA
        assert body["generationConfig"]["responseMimeType"] == "application/json"


def test_anthropic_schema_through_a_forced_tool(fake, keys, tmp_path: Path) -> None:
    """A model without Anthropic's output_config: the schema goes as a tool it must call, and the
    tool's input is the answer."""
    fake.script("old", answer={"tool_calls": [{"name": "output", "arguments": {"name": "ACME", "amount": 120,
                                                                              "currency": "EUR"}}]})
    (tmp_path / "s.json").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "s.json").write_text(json.dumps(SCHEMA))
    cand = anthropic_cand(fake, "old", params={"schema_via": "tool"})
    req = project(tmp_path, [cand], INVOICES[:1], tools=[TOOLS[0]], scoring=[{"type": "json_fields"}],
                  output={"json_schema": "s.json"}, tool_choice=None)
    assert cli("eval", req, "--out", tmp_path / "run").exit_code == 0
    _, recs = answers(tmp_path / "run")
    assert recs[0]["score"] == 1.0 and recs[0]["tool_calls"] == []
    body = fake.requests_for("old")[0].body
    assert body["tool_choice"] == {"type": "tool", "name": "output"} and "output_config" not in body
    assert body["tools"][-1]["input_schema"] == SCHEMA and "schema_via" not in body
    typo = anthropic_cand(fake, "old", id="typo", params={"schema_via": "tol"})
    req = project(tmp_path, [typo], INVOICES[:1], tools=[TOOLS[0]], scoring=[{"type": "json_fields"}],
                  output={"json_schema": "s.json"}, tool_choice=None)
    res = cli("eval", req, "--out", tmp_path / "run2")  # the only candidate: nothing evaluated, no decision (issue 45)
    assert res.exit_code == 2 and "typo: params.schema_via is 'tol'" in " ".join(res.output.split())


def test_the_cache_keys_on_tools_and_schema(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=agent)
    cand = openai_cand(fake, "m")
    req = project(tmp_path, [cand])
    assert cli("eval", req, "--out", tmp_path / "a").exit_code == 0
    assert cli("eval", req, "--out", tmp_path / "b").exit_code == 0
    assert all(r["cached"] for r in answers(tmp_path / "b")[1])
    tools = json.loads(json.dumps(TOOLS))
    tools[0]["function"]["description"] = "Look an order up."
    (tmp_path / "tools.json").write_text(json.dumps(tools))
    assert cli("eval", req, "--out", tmp_path / "c").exit_code == 0
    assert not any(r["cached"] for r in answers(tmp_path / "c")[1])


def test_records_csv_and_html_keep_the_calls(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=agent)
    res = cli("eval", project(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    rows = {r["example_id"]: r for r in csv.DictReader((tmp_path / "run" / "records.csv").open())}
    assert rows["where"]["tool_calls"] == 'get_order({"order_id": "A17"})'
    assert rows["hello"]["tool_verdict"] == "unexpected_call"
    html = (tmp_path / "run" / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html  # what a model sent is escaped, arguments included
    assert "search_faq(" in html


def test_tool_definitions_are_input_tokens_and_dry_run_counts_them(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=agent, output_tokens=5)
    cand = openai_cand(fake, "m", pin=1.0, pout=2.0)
    req = project(tmp_path, [cand])
    dry = cli("eval", req, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "include the tool definitions" in flat(dry.output)
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 0
    _, recs = answers(tmp_path / "run")
    defs = len(json.dumps(fake.requests_for("m")[0].body["tools"])) // 4
    r = next(r for r in recs if r["example_id"] == "where")
    assert r["input_tokens"] == len("Where is my order A17?".split()) + defs  # as the API reported them
    assert r["cost_usd"] == pytest.approx((r["input_tokens"] * 1.0 + 5 * 2.0) / 1e6)


def test_python_baseline_may_return_calls(fake, tmp_path: Path) -> None:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "rules.py").write_text(
        "def route(text):\n"
        "    if 'A17' in text:\n"
        "        return {'tool_calls': [{'name': 'get_order', 'arguments': {'order_id': 'A17'}}]}\n"
        "    return 'hi'\n")
    req = project(tmp_path, [{"id": "rules", "provider": "python", "model": "rules:route"}], EXAMPLES[:1] + EXAMPLES[3:4])
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    _, recs = answers(tmp_path / "run")
    assert [r["score"] for r in recs] == [1.0, 1.0]
    assert recs[0]["tool_calls"][0]["arguments"] == '{"order_id": "A17"}'


def test_a_candidate_that_cannot_take_tools_is_not_evaluated(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=agent)
    local = {"id": "gemma", "provider": "local", "model": "gemma-3-270m"}
    res = cli("eval", project(tmp_path, [openai_cand(fake, "m"), local]), "--out", tmp_path / "run")
    summary, recs = answers(tmp_path / "run")
    assert summary["decision"]["not_evaluated"]["gemma"] == ("the local provider cannot offer tools to the model "
                                                             "(the eval set needs them)")
    assert {r["candidate"] for r in recs} == {"oa-m"}
    assert res.exit_code in (0, 1)


# --- check: before any call ------------------------------------------------------------------------

def _check(req: Path) -> Any:
    return cli("check", req)


def test_check_refuses_a_tools_file_that_is_not_json_schema(fake, tmp_path: Path) -> None:
    bad = json.loads(json.dumps(TOOLS))
    bad[1]["function"]["parameters"]["properties"]["amount"]["type"] = "money"
    res = _check(project(tmp_path, [openai_cand(fake, "m")], tools=bad))
    assert res.exit_code == 2
    out = flat(res.output)
    assert "tools.json:" in out and "[1].function.parameters" in out and "not a valid JSON Schema" in out
    line = int(out.split("tools.json:")[1].split(":")[0])
    assert json.dumps(bad, indent=2).splitlines()[line - 1].strip().startswith('"parameters"')


def test_check_refuses_an_expected_call_of_a_tool_not_offered(fake, tmp_path: Path) -> None:
    ex = [*EXAMPLES[:2], {"id": "x", "input": "cancel A1", "expected": {"tool_calls": [{"name": "get_ordr",
                                                                                       "arguments": {"order_id": "A1"}}]}}]
    res = _check(project(tmp_path, [openai_cand(fake, "m")], ex))
    assert res.exit_code == 2
    out = flat(res.output)
    assert "agent.jsonl:3" in out and "expected.tool_calls[0].name" in out and "Did you mean 'get_order'" in out


def test_check_refuses_expected_arguments_that_break_the_tool_s_parameters(fake, tmp_path: Path) -> None:
    ex = [{"id": "x", "input": "refund A1", "expected": {"tool_calls": [{"name": "refund",
                                                                        "arguments": {"order_id": "A1", "amount": "all"}}]}}]
    res = _check(project(tmp_path, [openai_cand(fake, "m")], ex))
    assert res.exit_code == 2
    assert "agent.jsonl:1" in flat(res.output) and "'all' is not of type 'number'" in flat(res.output)


def test_check_refuses_a_tool_call_scorer_without_tools(fake, tmp_path: Path) -> None:
    req = project(tmp_path, [openai_cand(fake, "m")], tool_choice=None)
    text = req.read_text().replace("tools: tools.json\n", "")
    req.write_text(text)
    res = _check(req)
    assert res.exit_code == 2 and "no tools are offered" in flat(res.output)


def test_check_refuses_a_tool_choice_that_names_no_tool(fake, tmp_path: Path) -> None:
    res = _check(project(tmp_path, [openai_cand(fake, "m")], tool_choice="refnd"))
    assert res.exit_code == 2
    assert "req.yaml:" in res.output and "tool_choice" in res.output and "Did you mean 'refund'" in flat(res.output)


def test_check_refuses_a_tool_message_answering_no_call(fake, tmp_path: Path) -> None:
    ex = [{"id": "x", "input": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "c9", "content": "{}"}],
           "expected": {"tool_calls": []}}]
    res = _check(project(tmp_path, [openai_cand(fake, "m")], ex))
    assert res.exit_code == 2 and "agent.jsonl:1" in res.output and "'c9'" in flat(res.output)


def test_an_example_s_own_tools_replace_the_requirements(fake, keys, tmp_path: Path) -> None:
    own = [{"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    ex = [{"id": "w", "input": "Weather in Paris?", "tools": own,
           "expected": {"tool_calls": [{"name": "weather", "arguments": {"city": "Paris"}}]}}]
    fake.script("m", answer={"tool_calls": [{"name": "weather", "arguments": {"city": "paris"}}]})
    req = project(tmp_path, [openai_cand(fake, "m")], ex, scoring=[{"type": "tool_call", "ignore_case": True}])
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    assert answers(tmp_path / "run")[1][0]["score"] == 1.0
    assert [t["function"]["name"] for t in fake.requests_for("m")[0].body["tools"]] == ["weather"]


# --- import promptfoo: the tools, tool_choice, response_format and tool assertions carry over ------------

def test_import_promptfoo_carries_tools_schema_and_tool_assertions(tmp_path: Path) -> None:
    pf = tmp_path / "pf"
    pf.mkdir(parents=True)
    (pf / "tools.yaml").write_text(json.dumps([TOOLS[0]["function"], TOOLS[1]["function"]]))
    (pf / "schema.json").write_text(json.dumps(SCHEMA))
    (pf / "promptfooconfig.yaml").write_text(
        "prompts: ['{{q}}']\n"
        "providers:\n"
        "  - id: openai:chat:gpt-6.1-terra\n"
        "    config:\n"
        "      tools: file://tools.yaml\n"
        "      tool_choice: {type: function, function: {name: get_order}}\n"
        "      response_format: {type: json_schema, json_schema: {name: invoice, strict: true, schema: 'file://schema.json'}}\n"
        "tests:\n"
        "  - vars: {q: 'Where is A17?'}\n"
        "    assert:\n"
        "      - type: is-valid-openai-tools-call\n"
        "      - type: tool-call-f1\n"
        "        value: [get_order]\n"
        "  - vars: {q: Invoice ACME 120 EUR}\n"
        "    assert:\n"
        "      - type: is-json\n"
        "        value: file://schema.json\n")
    res = cli("import", "promptfoo", pf / "promptfooconfig.yaml", "--out", tmp_path / "proj", "--name", "orders")
    assert res.exit_code == 0, res.output
    folder = tmp_path / "proj" / "requirements"
    req = (folder / "orders.yaml").read_text()
    assert "tools: orders.tools.json" in req and "tool_choice: get_order" in req and "json_schema: orders.schema.json" in req
    tools = json.loads((folder / "orders.tools.json").read_text())
    assert [t["function"]["name"] for t in tools] == ["get_order", "refund"]
    assert json.loads((folder / "orders.schema.json").read_text()) == SCHEMA
    ex = [json.loads(x) for x in (tmp_path / "proj" / "evalsets" / "orders.jsonl").read_text().splitlines()]
    assert ex[0]["scorer"] == [{"type": "valid_call"}, {"type": "tool_call", "any_order": True}]
    assert ex[0]["expected"] == {"tool_calls": [{"name": "get_order"}]}
    assert ex[1]["scorer"] == [{"type": "json", "schema": SCHEMA}]
    assert "tool_choice" not in json.dumps(yaml_params(req))  # not passed through as a raw parameter
    check = cli("check", folder / "orders.yaml")
    assert check.exit_code == 0, check.output


def yaml_params(req_text: str) -> list[Any]:
    import yaml

    return [c.get("params", {}) for c in yaml.safe_load(req_text)["candidates"]]


# shared/ beside the checkout (CI), or beside the folder of worktrees holding it
PROMPTFOO = next((p / "shared" / "promptfoo-examples" for p in Path(__file__).resolve().parents[1:4]
                  if (p / "shared" / "promptfoo-examples").is_dir()), Path("/nonexistent"))


@pytest.mark.skipif(not PROMPTFOO.is_dir(), reason="../shared/promptfoo-examples is not beside this checkout")
def test_promptfoos_function_call_and_structured_output_examples(tmp_path: Path) -> None:
    res = cli("import", "promptfoo", PROMPTFOO / "openai-function-call" / "promptfooconfig.yaml", "--out",
              tmp_path / "fc", "--name", "x")
    assert res.exit_code == 0, res.output
    tools = json.loads((tmp_path / "fc" / "requirements" / "x.tools.json").read_text())
    assert [t["function"]["name"] for t in tools] == ["get_current_weather"]  # both providers offer the same one
    assert "is-valid-openai-function-call' -> valid_call" in flat(res.output)
    assert cli("check", tmp_path / "fc" / "requirements" / "x.yaml").exit_code == 0
    res = cli("import", "promptfoo", PROMPTFOO / "structured-outputs-config" / "promptfooconfig.yaml", "--out",
              tmp_path / "so", "--name", "x")
    assert res.exit_code == 0, res.output
    schema = json.loads((tmp_path / "so" / "requirements" / "x.schema.json").read_text())
    assert schema["required"] == ["steps", "final_answer"]
    assert "prompt 'Without step-by-step' asks for another output schema" in flat(res.output)
    assert cli("check", tmp_path / "so" / "requirements" / "x.yaml").exit_code == 0


@pytest.mark.parametrize("api", ["openai", "anthropic", "gemini"])
def test_tools_through_the_batch_apis(fake, keys, tmp_path: Path, api: str) -> None:
    fake.script("m", answer=agent, batch_polls=1)
    cand = MAKERS[api](fake, "m")
    req = project(tmp_path, [cand], run={"latency_sample": 5})
    res = cli("eval", req, "--out", tmp_path / "run", "--batch")
    assert res.exit_code == 0, res.output
    summary, recs = answers(tmp_path / "run")
    batch = {r["example_id"]: r for r in recs if r["batch"]}
    assert len(batch) == len(EXAMPLES)
    assert [(c["name"], json.loads(c["arguments"])) for c in batch["refund"]["tool_calls"]] == [
        ("refund", {"order_id": "B2", "amount": 40})]
    assert {k: r["score"] for k, r in batch.items()} == {"where": 1.0, "refund": 1.0, "faq": 0.0, "thanks": 1.0,
                                                          "hello": 0.0}
    assert batch["thanks"]["tool_calls"] == []  # tools were offered and none was called
    assert summary["candidates"][cand["id"]]["tool_use"]["right"]["n"] == 3


def test_must_pass_min_by_tag_and_the_judge_read_what_the_model_did(fake, keys, tmp_path: Path) -> None:
    """A call where none was asked fails a must-pass tag; a judge grades the calls, not an empty text."""
    fake.script("m", answer=agent)
    fake.script("perfect", answer=lambda p: "Hi! How can I help?" if "Hello" in p else agent(p))
    fake.script("judge", answer=lambda p: "SCORE: 2\nNo." if "search_faq" in p.split("Answer to grade:")[1]
                else "SCORE: 9\nRight.", output_tokens=5)
    judge = {"provider": "openai", "model": "judge", "base_url": fake.url + "/v1",
             "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
             "facts": {"trains_on_data": False, "regions": ["us"], "retention_days": 0}}
    scoring = [{"type": "tool_call", "weight": 3}, {"type": "judge", "rubric": "Did it call the right tool?"}]
    req = project(tmp_path, [openai_cand(fake, "m"), openai_cand(fake, "perfect")], scoring=scoring, judge=judge,
                  pass_threshold=0.9, quality={"min_score": 0.1, "must_pass": ["no_tool"], "min_by_tag": {"lookup": 0.5}})
    res = cli("eval", req, "--out", tmp_path / "run")
    summary, recs = answers(tmp_path / "run")
    where = next(r for r in recs if r["candidate"] == "oa-m" and r["example_id"] == "where")
    judged = next(s for s in where["scores"] if s["type"] == "judge")
    assert "→ get_order({\"order_id\": \"A17\"})" in judged["judge_prompt"] and judged["score"] == 0.9
    assert where["score"] == pytest.approx((3 * 1.0 + 0.9) / 4)
    assert summary["candidates"]["oa-m"]["status"] == "eliminated"
    assert any("no_tool" in why for why in summary["candidates"]["oa-m"]["reasons"])
    assert summary["candidates"]["oa-perfect"]["by_tag"]["lookup"]["mean"] == pytest.approx(0.975)
    assert summary["decision"]["chosen"] == "oa-perfect" and res.exit_code == 0


def test_rescore_reads_the_run_s_own_copy_of_the_tools(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=agent)
    req = project(tmp_path, [openai_cand(fake, "m")])
    assert cli("eval", req, "--out", tmp_path / "run").exit_code == 0
    (tmp_path / "tools.json").unlink()  # the run keeps its own copy in inputs/
    res = cli("report", tmp_path / "run", "--rescore", "--out", tmp_path / "again")
    assert res.exit_code == 0, res.output
    summary, recs = answers(tmp_path / "again")
    assert summary["candidates"]["oa-m"]["tool_use"]["right"]["n"] == 3
    assert {r["example_id"]: r["score"] for r in recs}["faq"] == 0.0
