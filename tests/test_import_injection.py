"""What an importer writes from outside text never becomes a live line of the project it writes.

The attack (issue "Trust nothing, round three", item 1): a line break in a span's provider name became a
YAML line of the written requirements, a `judge:` pointing at another host, and `eval` sent the API key
there. Every field an importer copies from a trace or a promptfoo config is tried here with every kind of
line break a reader may honour; the written requirements must read back as data (no line break but LF,
no key the importer did not write), the eval set must load line for line, and `check` must accept or
refuse it cleanly, never call the outside host a judge."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelsel.inputs.evalset import load_evalset
from modelsel.inputs.textfile import LINE_BREAKS
from modelsel.inputs.yamlsrc import yaml_text
from tests.conftest import ROOT, cli

BREAKS = {"LF": "\n", "CR": "\r", "CRLF": "\r\n", "LS": "\u2028", "PS": "\u2029", "NEL": "\x85", "VT": "\x0b",
          "FF": "\x0c"}
EVIL = "http://127.0.0.1:9/v1"


def payload(lb: str) -> str:
    """A value that, pasted as a line, would add a judge at EVIL and drop the quality bar."""
    return (f"x{lb}judge:{lb}  provider: openai{lb}  model: gpt-4.1-mini{lb}  base_url: {EVIL}{lb}"
            f"quality: {{min_score: 0.0}}{lb}evalset: /etc/passwd{lb}# ")


def _keys(node: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    out = set()
    if isinstance(node, dict):
        for k, v in node.items():
            out.add((*path, str(k)))
            out |= _keys(v, (*path, str(k)))
    elif isinstance(node, list):
        for v in node:
            out |= _keys(v, path)
    return out


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    items = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    return [s for v in items for s in _strings(v)]


def _assert_inert(proj: Path, name: str, lb: str) -> dict[str, Any]:
    req_path = proj / "requirements" / f"{name}.yaml"
    text = req_path.read_text(encoding="utf-8")
    assert not (set(text) & (LINE_BREAKS - {"\n"})), "a line break other than LF in the written requirements"
    assert text.splitlines() == text.split("\n")[:-1]
    req = yaml.safe_load(text)
    assert ("judge", "base_url") not in _keys(req) and EVIL not in json.dumps(req.get("judge") or {})
    assert (req.get("quality") or {}).get("min_score") != 0.0
    assert req["evalset"] == f"../evalsets/{name}.jsonl"
    for line in text.split("\n"):  # outside text lives in quoted values or spelled out in comments
        assert not line.startswith(("quality:", "  base_url:", "evalset: /etc")), line
    es = proj / "evalsets" / f"{name}.jsonl"
    rows = es.read_text(encoding="utf-8").split("\n")[:-1]
    assert all(json.loads(r) for r in rows) and len(load_evalset(es).examples) == len(rows)
    res = cli("check", req_path)
    assert res.exit_code in (0, 1, 2) and "Traceback" not in res.output, res.output
    return req


# -- production traces: each field a span carries, in OTLP/JSON with the current GenAI conventions --

def _set_attr(span: dict[str, Any], key: str, fn: Any) -> None:
    for a in span.get("attributes", []):
        if a["key"] == key and "stringValue" in a["value"]:
            a["value"]["stringValue"] = fn(a["value"]["stringValue"])


def _in_messages(field: str, inject: str) -> Any:
    def fn(raw: str) -> str:
        msgs = json.loads(raw)
        for m in msgs:
            for p in m.get("parts", []):
                if p.get("type") == "text":
                    p["content"] = p["content"] + inject
        return json.dumps(msgs)
    return fn


TRACE_FIELDS = {
    # an unknown model makes the importer write a TODO comment naming the model and its provider
    "provider": lambda inj: {"gen_ai.provider.name": lambda v: "acme" + inj,
                             "gen_ai.request.model": lambda v: "acme-large", "gen_ai.response.model": lambda v: "acme-large"},
    "model": lambda inj: {"gen_ai.request.model": lambda v: "acme" + inj, "gen_ai.response.model": lambda v: "acme" + inj},
    "route": lambda inj: {"app.route": lambda v: v + inj},
    "system prompt": lambda inj: {"gen_ai.system_instructions": _in_messages("system", inj)},
    "user message": lambda inj: {"gen_ai.input.messages": _in_messages("input", inj)},
    "answer": lambda inj: {"gen_ai.output.messages": _in_messages("output", inj)},
}


@pytest.mark.parametrize("lb", BREAKS.values(), ids=BREAKS.keys())
@pytest.mark.parametrize("field", TRACE_FIELDS)
def test_import_traces_keeps_every_line_break_inside_its_value(tmp_path: Path, field: str, lb: str) -> None:
    inject = payload(lb)
    edits = TRACE_FIELDS[field](inject)
    out = []
    for line in (ROOT / "tests" / "data" / "traces" / "otel_genai.jsonl").read_text().splitlines():
        doc = json.loads(line)
        for rs in doc["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    for key, fn in edits.items():
                        _set_attr(span, key, fn)
        out.append(json.dumps(doc))
    src = tmp_path / "spans.jsonl"
    src.write_text("\n".join(out) + "\n")
    res = cli("import", "traces", src, "--out", tmp_path / "proj", "--name", "t", "--stratify-by", "app.route")
    assert res.exit_code in (0, 2) and "Traceback" not in res.output, res.output
    if res.exit_code == 2:  # refused whole: nothing written
        assert not (tmp_path / "proj" / "requirements" / "t.yaml").exists()
        return
    req = _assert_inert(tmp_path / "proj", "t", lb)
    if field in ("user message", "answer"):  # text is copied faithfully, the break included
        examples = load_evalset(tmp_path / "proj" / "evalsets" / "t.jsonl").examples
        assert any(lb in text for e in examples for text in _strings(e.model_dump()))
    if field == "provider":
        assert "acme-large" in (tmp_path / "proj" / "requirements" / "t.yaml").read_text()  # its TODO comment
    assert set(req) <= {"name", "task", "candidates", "judge", "scoring", "pass_threshold", "latency", "production", "evalset"}


def test_a_trace_file_name_with_a_line_break_is_spelled_out_in_the_comment(tmp_path: Path) -> None:
    src = tmp_path / f"spans{payload(chr(10))}.jsonl".replace("/", "_")
    shutil.copy(ROOT / "tests" / "data" / "traces" / "otel_genai.jsonl", src)
    res = cli("import", "traces", src, "--out", tmp_path / "proj", "--name", "t")
    assert res.exit_code == 0, res.output
    _assert_inert(tmp_path / "proj", "t", "\n")
    assert "spansx\\u000ajudge:" in (tmp_path / "proj" / "requirements" / "t.yaml").read_text()


# -- promptfoo configs: the provider id and label, prompts, vars, descriptions, assertion types --

def _config(tmp_path: Path, field: str, inject: str) -> Path:
    cfg = yaml.safe_load((ROOT / "tests" / "data" / "promptfoo" / "basic" / "promptfooconfig.yaml").read_text())
    if field == "provider id":
        cfg["providers"][0] = "openai:gpt-6.1-terra" + inject
    elif field == "provider label":
        cfg["providers"][0] = {"id": "openai:gpt-6.1-terra", "label": "terra" + inject}
    elif field == "unknown provider":
        cfg["providers"][0] = "acme:" + inject
    elif field == "prompt":
        cfg["prompts"][0] = cfg["prompts"][0] + inject
    elif field == "var":
        cfg["tests"][0]["vars"]["question"] += inject
    elif field == "description":
        cfg["description"] = "Refunds" + inject
        cfg["tests"][0]["description"] = "window" + inject
    elif field == "assertion type":
        cfg["tests"][0]["assert"].append({"type": "acme" + inject})
    elif field == "python provider":
        cfg["providers"][1] = f"python:prov{inject}.py".replace("/", "_")
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=False))
    return path


PROMPTFOO_FIELDS = ["provider id", "provider label", "unknown provider", "prompt", "var", "description",
                    "assertion type", "python provider"]


@pytest.mark.parametrize("lb", BREAKS.values(), ids=BREAKS.keys())
@pytest.mark.parametrize("field", PROMPTFOO_FIELDS)
def test_import_promptfoo_keeps_every_line_break_inside_its_value(tmp_path: Path, field: str, lb: str) -> None:
    cfg = _config(tmp_path, field, payload(lb))
    res = cli("import", "promptfoo", cfg, "--out", tmp_path / "proj", "--name", "p")
    assert res.exit_code in (0, 2) and "Traceback" not in res.output, res.output
    if res.exit_code == 2:
        assert not (tmp_path / "proj" / "requirements" / "p.yaml").exists()
        return
    _assert_inert(tmp_path / "proj", "p", lb)
    for mod in (tmp_path / "proj" / "requirements").glob("*.py"):  # generated adapters: one docstring, no live text
        src = mod.read_text()
        compile(src, str(mod), "exec")
        assert "judge:" not in src.split('"""')[1]


def test_the_writer_refuses_what_would_not_read_back() -> None:
    """The last guard: whatever the emitter did, text that does not load as the data is never written."""
    text = yaml_text({"task": "a\u2028b\x85c\rd", "x": ["\x1b[31m"]}, ["from a\nb.jsonl", "# TODO 'm\u2028judge: y'"])
    assert yaml.safe_load(text) == {"task": "a\u2028b\x85c\rd", "x": ["\x1b[31m"]}
    assert text.split("\n")[:2] == ["# from a\\u000ab.jsonl", "# TODO 'm\\u2028judge: y'"]
    assert not set(text) & (LINE_BREAKS - {"\n"}) and "\x1b" not in text


def test_init_takes_a_name_on_one_line_and_writes_it_as_a_yaml_string(tmp_path: Path) -> None:
    res = cli("init", "triage\njudge: {base_url: http://127.0.0.1:9/v1}", "--dir", tmp_path)
    assert res.exit_code == 2 and "on one line" in res.output and not (tmp_path / "requirements").exists()
    ok = cli("init", "triage: v2 # not a comment", "--dir", tmp_path)
    assert ok.exit_code == 0, ok.output
    req = yaml.safe_load((tmp_path / "requirements" / "triage-v2-not-a-comment.yaml").read_text())
    assert req["name"] == "triage: v2 # not a comment"
