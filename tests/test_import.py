"""`modelsel import promptfoo`: a team's promptfoo config becomes a requirements file and an eval
set that `modelsel check` accepts, with what did not carry over named by file and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, cli, flat, oracle, run_dir

DATA = ROOT / "tests" / "data" / "promptfoo"


def _import(tmp_path: Path, case: str) -> tuple[Any, dict[str, Any], list[dict[str, Any]], Path]:
    src = tmp_path / "pf" / case
    shutil.copytree(DATA / case, src)
    res = cli("import", "promptfoo", src / "promptfooconfig.yaml", "--dir", tmp_path / "proj", "--name", case)
    req = tmp_path / "proj" / "requirements" / f"{case}.yaml"
    es = tmp_path / "proj" / "evalsets" / f"{case}.jsonl"
    examples = [json.loads(line) for line in es.read_text().splitlines()] if es.exists() else []
    return res, yaml.safe_load(req.read_text()) if req.exists() else {}, examples, req


def test_inline_config_maps_prompts_providers_vars_and_assertions(tmp_path: Path, keys: dict[str, str]) -> None:
    res, req, ex, path = _import(tmp_path, "basic")
    assert res.exit_code == 0, res.output
    # every prompt x provider is a candidate, each with its prompt template
    assert [c["id"] for c in req["candidates"]] == [
        "openai/gpt-6.1-terra-p1", "anthropic/claude-haiku-5-5-p1", "openai/gpt-6.1-terra-p2", "anthropic/claude-haiku-5-5-p2"]
    assert req["candidates"][0]["prompt"].endswith("{{question}}")
    assert req["latency"] == {"p95_ms": 3000.0} and req["cost"] == {"max_per_request_usd": 0.002}
    assert req["judge"] == {"catalog": "openai/gpt-6.1-terra"}
    assert ex[0]["vars"] == {"question": "How many days do I have to ask for a refund?"}
    assert ex[0]["scorer"] == [{"type": "contains", "case_sensitive": False, "value": "30 days"}]
    # YAML 1.2, as promptfoo reads it: `no` is the word, not false
    assert ex[1]["scorer"][0] == {"type": "contains_any", "case_sensitive": False, "values": ["no", "not", "cannot"]}
    assert ex[1]["scorer"][1] == {"type": "judge", "rubric": "Says gift cards are not refundable, politely"}
    assert ex[2]["scorer"] == [{"type": "not", "scorer": {"type": "contains", "case_sensitive": True, "value": "I don't know"}}]
    # what did not carry over: named with the file and line, in the terminal and in the file
    cfg = tmp_path / "pf" / "basic" / "promptfooconfig.yaml"
    js_line = next(n for n, line in enumerate(cfg.read_text().splitlines(), 1) if "type: javascript" in line)
    assert f"TODO {cfg}:{js_line}: assertion 'javascript' has no modelsel scorer" in flat(res.output)
    assert f"#   TODO {cfg}:{js_line}: assertion 'javascript'" in path.read_text()
    check = cli("check", path)
    assert check.exit_code == 0, check.output
    assert "valid; 4 candidates, 3 examples" in check.output
    assert "✗ Quality bar defined" in check.output and "✗ Privacy and compliance" in check.output


def test_files_csv_tests_and_custom_endpoints(tmp_path: Path, keys: dict[str, str]) -> None:
    res, req, ex, path = _import(tmp_path, "files")
    assert res.exit_code == 0, res.output
    terra, ollama = req["candidates"]
    assert terra["catalog"] == "openai/gpt-6.1-terra" and terra["params"] == {"temperature": 0, "max_tokens": 20}
    assert terra["prompt"].startswith("Classify this support ticket") and "{{ticket}}" in terra["prompt"]
    assert ollama["provider"] == "openai-compatible" and ollama["base_url"] == "http://localhost:11434/v1"
    assert ollama["model"] == "llama3.3"
    assert [e["expected"] for e in ex[:2]] == ["billing", "technical"]
    assert ex[2]["scorer"] == [{"type": "contains", "case_sensitive": False, "value": "shipping"}]
    assert ex[4]["scorer"] == [{"type": "regex", "ignore_case": False, "pattern": "^(account|technical)$"}]
    out = flat(res.output)
    cfg, csv = tmp_path / "pf" / "files" / "promptfooconfig.yaml", tmp_path / "pf" / "files" / "tests.csv"
    assert f"{cfg}:14: provider 'bedrock:anthropic.claude-3-haiku' has no modelsel equivalent" in out
    assert f"{csv}:5: assertion 'javascript' has no modelsel scorer" in out  # the CSV row's own line
    # the test whose only assertion did not carry over is a placeholder check lists, never a free pass
    assert ex[3]["expected"].startswith("TODO replace:")
    check = cli("check", path)
    assert check.exit_code == 0, check.output
    assert "still the template's placeholder: candidates[1].price.source" in check.output
    assert "1 example(s) still hold the template's placeholder text (t4)" in check.output


def test_imported_eval_runs_with_the_tests_vars(tmp_path: Path, keys: dict[str, str], fake: Any) -> None:
    """The vars reach each candidate's template: the model sees promptfoo's prompt, filled in."""
    res, req, ex, path = _import(tmp_path, "files")
    assert res.exit_code == 0, res.output
    req["candidates"] = [dict(req["candidates"][0], base_url=fake.url + "/v1")]
    ex = [e for e in ex if not str(e.get("expected", "")).startswith("TODO")]
    (path.parent.parent / "evalsets" / "files.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ex))
    path.write_text(yaml.safe_dump(req, sort_keys=False))
    fake.script("gpt-6.1-terra", answer=lambda p: {"charged twice": "billing", "crashes": "technical",
                                                   "parcel": "shipping"}.get(next((k for k in ("charged twice", "crashes", "parcel") if k in p), ""), oracle(p)))
    res = cli("eval", path, "--out", tmp_path / "run")
    assert res.exit_code in (0, 1), res.output
    seen = fake.requests_for("gpt-6.1-terra")
    assert any("Ticket: I was charged twice this month" in s.prompt and s.prompt.startswith("Classify this support ticket")
               for s in seen)
    summary, records = run_dir(tmp_path / "run")
    by = {r["example_id"]: r for r in records}
    assert by["t1"]["passed"] and by["t2"]["passed"] and by["t3"]["passed"]
    assert by["t5"]["passed"] is False  # promptfoo's regex is case-sensitive and anchored; "other" fails it


def test_json_checks_custom_base_url_and_grader(tmp_path: Path, keys: dict[str, str]) -> None:
    res, req, ex, path = _import(tmp_path, "json")
    assert res.exit_code == 0, res.output
    assert req["scoring"] == [{"type": "json", "schema": {"type": "object", "required": ["vendor", "total", "currency"]}}]
    qwen = req["candidates"][1]
    assert qwen["provider"] == "openai-compatible" and qwen["base_url"] == "http://127.0.0.1:8000/v1"
    assert qwen["api_key_env"] == "VLLM_API_KEY" and qwen["id"] == "vllm-qwen"
    assert req["judge"] == {"catalog": "openai/gpt-6.1-terra"}  # defaultTest.options.provider
    assert ex[0]["scorer"][:2] == [{"type": "json"}, {"type": "regex", "ignore_case": False,
                                                      "pattern": '"currency"\\s*:\\s*"EUR"'}]
    assert ex[0]["scorer"][2]["type"] == "json"  # defaultTest's is-json, applied to every test
    # `similar` against a var: the var is the expected answer
    assert ex[1]["expected"] == "Globex billed 99.50 USD"
    assert {"type": "similarity", "threshold": 0.8} in ex[1]["scorer"]
    assert "assertion 'python' has no modelsel scorer" in flat(res.output)


def test_openai_evals_export(tmp_path: Path, keys: dict[str, str]) -> None:
    res, req, ex, path = _import(tmp_path, "openai-evals")
    assert res.exit_code == 0, res.output
    (cand,) = req["candidates"]
    assert cand["system"] == "Answer with the city name only." and cand["prompt"] == "{{input}}"
    assert ex[0]["expected"] == "Canberra" and ex[0]["vars"] == {"input": "What is the capital of Australia?",
                                                                 "ideal": "Canberra"}
    assert ex[0]["scorer"] == [{"type": "exact"}, {"type": "judge", "rubric": "The answer names Canberra as the capital"}]
    assert cli("check", path).exit_code == 0


def test_bad_config_is_exit_2_with_file_and_line_and_nothing_written(tmp_path: Path) -> None:
    bad = tmp_path / "promptfooconfig.yaml"
    bad.write_text("prompts:\n  - hi {{x}}\ntests:\n  - 7\n")
    res = cli("import", "promptfoo", bad, "--dir", tmp_path / "proj")
    assert res.exit_code == 2
    assert f"{bad}:4" in flat(res.output) and "a test is a mapping" in flat(res.output)
    assert not (tmp_path / "proj").exists()
    missing = tmp_path / "b" / "promptfooconfig.yaml"
    missing.parent.mkdir()
    missing.write_text("prompts: [file://nowhere.txt]\n")
    res = cli("import", "promptfoo", missing, "--dir", tmp_path / "proj")
    assert res.exit_code == 2 and "prompt file 'file://nowhere.txt' not found" in res.output


def test_existing_files_are_not_overwritten(tmp_path: Path) -> None:
    res, *_ = _import(tmp_path, "openai-evals")
    assert res.exit_code == 0
    again = cli("import", "promptfoo", tmp_path / "pf" / "openai-evals" / "promptfooconfig.yaml", "--dir",
                tmp_path / "proj", "--name", "openai-evals")
    assert again.exit_code == 2 and "exists" in again.output


def test_a_config_split_into_files_with_a_retired_model_and_nunjucks_filters(tmp_path: Path, keys: dict[str, str]) -> None:
    """prompts, providers and defaultTest from their own files, a folder of tests (CSV and YAML), a
    retired model the vendor names a replacement for, promptfoo's `load` filter, an assertion on a
    transformed answer."""
    res, req, ex, path = _import(tmp_path, "modular")
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    src = tmp_path / "pf" / "modular"
    # gemini-2.5-flash was shut down on 2026-06-17; Google names gemini-3-flash-preview
    assert [c["catalog"] for c in req["candidates"]] == ["google/gemini-3-flash-preview", "anthropic/claude-haiku-5-5"] * 2
    assert f"{src}/configs/providers.yaml:1: google/gemini-2.5-flash was shut down on 2026-06-17" in out
    assert "imported as google/gemini-3-flash-preview, the replacement its vendor names" in out
    assert req["candidates"][0]["params"] == {"temperature": 0.2} and "&id" not in path.read_text()
    assert req["candidates"][0]["prompt"] == "Translate the following text to {{language}}, formally: {{body}}"
    # tests from a folder: the CSV's rows, then the YAML's; defaultTest's vars under each test's own
    assert [e["vars"]["language"] for e in ex] == ["French", "French", "Pirate"]
    assert ex[2]["vars"]["style"] == '{"tone": "salty"}' and ex[0]["vars"]["style"] == '{"tone": "neutral"}'
    assert ex[0]["scorer"] == [{"type": "contains", "case_sensitive": False, "value": "bonjour"}]
    # a check on a transformed answer is not the same check on the raw one: a TODO, at its own line
    assert ex[2]["scorer"] == [{"type": "contains_any", "case_sensitive": False, "values": ["ahoy", "matey"]}]
    assert f"{src}/tests/pirate.yaml:8: assertion 'contains-any' checks a transformed answer" in out
    assert f"{src}/configs/default-test.yaml:4: assertion 'javascript' has no modelsel scorer" in out
    # the `load` filter renders in modelsel's templates, so no TODO for the styled prompt
    assert "does not render" not in out
    from modelsel.inputs.candidate import Candidate
    from modelsel.inputs.evalset import Example
    from modelsel.inputs.prompting import render

    styled = Candidate(id="x", provider="openai", vendor="openai", model="m", prompt=req["candidates"][2]["prompt"])
    msgs, _ = render(styled, Example(**ex[2]))
    assert msgs[0]["content"] == "Translate to Pirate in a salty tone: Hello world"
    check = cli("check", path)
    assert check.exit_code == 0 and "✓ No retired model" in check.output


def test_a_template_jinja_cannot_render_is_a_todo_not_a_failed_run(tmp_path: Path) -> None:
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts:\n  - 'Say {{ name | upper | shout }}'\nproviders: [openai:gpt-6.1-terra]\n"
                   "tests:\n  - vars: {name: bob}\n    assert:\n      - type: contains\n        value: BOB\n")
    res = cli("import", "promptfoo", cfg, "--out", tmp_path / "proj", "--name", "x")
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    assert f"{cfg}:2: prompt 'p1' does not render for test t1" in out and "modelsel templates are Jinja" in out


# --- promptfoo's own examples: every one either imports into a project check accepts, or is refused ---

EXAMPLES = ROOT.parent / "shared" / "promptfoo-examples"
CONFIGS = sorted(EXAMPLES.glob("*/promptfooconfig.y*ml")) if EXAMPLES.is_dir() else []


@pytest.mark.skipif(not CONFIGS, reason="../shared/promptfoo-examples is not beside this checkout")
@pytest.mark.parametrize("cfg", CONFIGS, ids=[c.parent.name for c in CONFIGS])
def test_promptfoos_own_examples_import_into_a_project_check_accepts_or_are_refused(tmp_path: Path, cfg: Path) -> None:
    res = cli("import", "promptfoo", cfg, "--out", tmp_path / "proj", "--name", "x")
    assert "Traceback" not in res.output
    if res.exit_code != 0:
        assert res.exit_code == 2 and "error:" in res.output and not (tmp_path / "proj").exists(), res.output
        return
    check = cli("check", tmp_path / "proj" / "requirements" / "x.yaml")
    assert check.exit_code == 0, check.output
    assert "provider ''" not in res.output and "assertion ''" not in res.output  # every TODO names its subject


def test_var_arrays_and_scenarios_expand_as_promptfoo_runs_them(tmp_path: Path) -> None:
    d = tmp_path / "pf"
    d.mkdir()
    (d / "articles").mkdir()
    for i in range(3):
        (d / "articles" / f"a{i}.txt").write_text(f"article {i}")
    (d / "promptfooconfig.yaml").write_text(
        "prompts: ['Translate {{input}} to {{language}}']\n"
        "providers:\n  - id: openai:gpt-6.1-terra\n    label: terra-hot\n    config: {temperature: 0.9, reasoning_effort: low}\n"
        "  - id: openai:gpt-6.1-terra\n    config: {temperature: 0}\n"
        "tests:\n  - vars:\n      language: [French, German, Spanish, Italian, Dutch]\n"
        "      input: [one, two, three, four, five]\n    assert: [{type: icontains, value: x}]\n"
        "  - vars: {article: 'file://articles/*', language: en, input: z}\n    assert: [{type: contains, value: article}]\n"
        "scenarios:\n  - config: [{vars: {language: fr}}, {vars: {language: de}}]\n"
        "    tests:\n      - vars: {input: hello}\n        assert: [{type: equals, value: bonjour}]\n")
    res = cli("import", "promptfoo", d / "promptfooconfig.yaml", "--out", tmp_path / "proj", "--name", "x")
    assert res.exit_code == 0, res.output
    ex = [json.loads(x) for x in (tmp_path / "proj" / "evalsets" / "x.jsonl").read_text().splitlines()]
    assert len(ex) == 25 + 3 + 2  # 5 x 5 combinations, one per article file, one per scenario var set
    assert {e["vars"]["article"] for e in ex if "article" in e["vars"]} == {"article 0", "article 1", "article 2"}
    req = yaml.safe_load((tmp_path / "proj" / "requirements" / "x.yaml").read_text())
    assert [c.get("id") for c in req["candidates"]] == ["terra-hot", None]  # the label names it; the other keeps its id
    assert req["candidates"][0]["params"] == {"temperature": 0.9, "reasoning_effort": "low"}
    assert cli("check", tmp_path / "proj" / "requirements" / "x.yaml").exit_code == 0


def test_a_project_with_no_candidates_is_a_normal_start(tmp_path: Path) -> None:
    d = tmp_path / "pf"
    d.mkdir()
    (d / "promptfooconfig.yaml").write_text("prompts: ['{{q}}']\nproviders: ['bedrock:anthropic.claude-3-haiku']\n"
                                            "tests:\n  - vars: {q: x}\n    assert: [{type: equals, value: y}]\n")
    assert cli("import", "promptfoo", d / "promptfooconfig.yaml", "--out", tmp_path / "proj", "--name", "x").exit_code == 0
    req = tmp_path / "proj" / "requirements" / "x.yaml"
    check = cli("check", req)
    assert check.exit_code == 0 and "no candidates yet" in flat(check.output) and "shortlist" in flat(check.output)
    ev = cli("eval", req, "--out", tmp_path / "run")
    assert ev.exit_code == 2 and "no candidates to compare yet" in flat(ev.output)
    sl = cli("shortlist", req, "--write")
    assert "pydantic" not in sl.output and "List should have" not in sl.output
    assert yaml.safe_load(req.read_text())["candidates"], sl.output  # proposals written into the empty list


def test_csv_metadata_columns_become_tags_and_threshold_applies(tmp_path: Path) -> None:
    d = tmp_path / "pf"
    d.mkdir()
    (d / "tests.csv").write_text('topic,__expected,__threshold,__metadata:category,__metadata:tags[]\n'
                                 '"ml","similar: learning","0.7","technology","ai,data\\, science"\n')
    (d / "promptfooconfig.yaml").write_text("prompts: ['About {{topic}}']\nproviders: [openai:gpt-6.1-terra]\n"
                                            "tests: file://tests.csv\n")
    assert cli("import", "promptfoo", d / "promptfooconfig.yaml", "--out", tmp_path / "p", "--name", "x").exit_code == 0
    ex = json.loads((tmp_path / "p" / "evalsets" / "x.jsonl").read_text().splitlines()[0])
    assert ex["tags"] == ["ai", "data, science", "category:technology"]
    assert ex["scorer"] == [{"type": "similarity", "value": "learning", "threshold": 0.7}]
