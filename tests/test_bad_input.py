"""Bad input gets one clear paragraph naming file, line and field, exit code 2, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import cli, write_evalset, write_req


def _assert_clean_failure(res, tmp_path: Path, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2, res.output
    for w in words:
        assert w in res.output, (w, res.output)
    assert not (tmp_path / "reports").exists(), "nothing may be written on bad input"


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "req.yaml"
    p.write_text("task: triage\nevalset: x.jsonl\ncandidates:\n  - id: a\n    provider: [python\n")
    res = cli("eval", p)
    _assert_clean_failure(res, tmp_path, "req.yaml:5", "not valid YAML")


def test_wrong_type_names_field_and_line(tmp_path: Path) -> None:
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "m:f"}], latency={"p50_ms": "fast", "p95_ms": 100})
    res = cli("eval", p)
    _assert_clean_failure(res, tmp_path, "req.yaml:", "latency.p50_ms", "'fast'")
    line = int(res.output.split("req.yaml:")[1].split(":")[0])
    assert "p50_ms" in p.read_text().splitlines()[line - 1]


def test_unknown_field_suggests_the_right_one(tmp_path: Path) -> None:
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "m:f"}], latency={"p50": 100})
    res = cli("check", p)
    _assert_clean_failure(res, tmp_path, "latency.p50", "unknown field", "Did you mean 'p50_ms'")


def test_unknown_top_level_field(tmp_path: Path) -> None:
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "m:f"}], qualty={"min_score": 1})
    res = cli("eval", p)
    _assert_clean_failure(res, tmp_path, "field 'qualty'", "Did you mean 'quality'")


def test_missing_evalset_points_at_the_evalset_line(tmp_path: Path) -> None:
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "m:f"}], evalset="nowhere.jsonl")
    res = cli("eval", p)
    _assert_clean_failure(res, tmp_path, "req.yaml:3", "field 'evalset'", "nowhere.jsonl", "not found")


def test_unknown_catalog_id_suggests_and_points_to_models(tmp_path: Path) -> None:
    p = write_req(tmp_path, ["openai/gpt-5-mni"])
    res = cli("eval", p)
    _assert_clean_failure(res, tmp_path, "unknown catalog id 'openai/gpt-5-mni'", "openai/gpt-5-mini", "modelsel models", "candidates[0]")


@pytest.mark.parametrize(("line", "words"), [
    ('{"id": "a", "input": "x", "expected": "billing"}\n{"id": "a", "input": "y"}\n', ["tickets.jsonl:2", "duplicate example id 'a'", "line 1"]),
    ('{"id": "a", "input": "   "}\n', ["tickets.jsonl:1", "field 'input'", "empty"]),
    ('{"id": "a", "input": "x", "expeted": "billing"}\n', ["tickets.jsonl:1", "field 'expeted'", "unknown field", "Did you mean 'expected'"]),
    ('{"id": "a", "input": "x"}\n{"id": "b", "input": \n', ["tickets.jsonl:2", "not valid JSON"]),
])
def test_bad_evalset_lines(tmp_path: Path, line: str, words: list[str]) -> None:
    write_evalset(tmp_path)
    (tmp_path / "tickets.jsonl").write_text(line)
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "m:f"}], evalset="tickets.jsonl")
    res = cli("eval", p)
    _assert_clean_failure(res, tmp_path, *words)


def test_evalset_yaml_and_csv_errors_have_lines(tmp_path: Path) -> None:
    (tmp_path / "set.yaml").write_text("- id: a\n  input: hello\n- id: b\n  inptu: x\n")
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "m:f"}], evalset="set.yaml")
    _assert_clean_failure(cli("eval", p), tmp_path, "set.yaml:4", "inptu")
    (tmp_path / "set.csv").write_text("id,input,expected,tags\na,hello,billing,simple\na,again,billing,edge\n")
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "m:f"}], evalset="set.csv")
    _assert_clean_failure(cli("eval", p), tmp_path, "set.csv:3", "duplicate example id 'a'")


def test_unknown_scorer_and_missing_file(tmp_path: Path) -> None:
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "m:f"}], scoring=[{"type": "exactt"}])
    _assert_clean_failure(cli("eval", p), tmp_path, "unknown scorer 'exactt'", "Did you mean 'exact'", "req.yaml:")
    _assert_clean_failure(cli("eval", tmp_path / "none.yaml"), tmp_path, "none.yaml", "file not found")


def test_duplicate_candidate_ids(tmp_path: Path) -> None:
    p = write_req(tmp_path, ["openai/gpt-5-mini", "openai/gpt-5-mini"])
    _assert_clean_failure(cli("eval", p), tmp_path, "candidates[1]", "appears twice")


def test_prompt_template_error_is_found_before_any_call(tmp_path: Path) -> None:
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "m:f", "prompt": "Ticket: {{ inptu }}"}])
    (tmp_path / "m.py").write_text("def f(text):\n    return 'billing'\n")
    _assert_clean_failure(cli("eval", p), tmp_path, "the prompt template of candidate 'kw' fails on example 'e1'",
                          "'inptu' is undefined")


def test_the_judge_check_file_reads_its_lines_as_the_eval_set_does(tmp_path: Path) -> None:
    """One JSONL reader (textfile.jsonl_objects) for both files: the same messages, file and line."""
    import json

    import pytest

    from modelsel.errors import InputError
    from modelsel.inputs.judge_check import load_judge_check

    good = json.dumps({"input": "q", "answer": "a", "verdict": "pass"})
    for bad, said in [("{not json", "not valid JSON"), ("[" * 100_000 + "]" * 100_000, "nested too deeply to read"),
                      ('{"input": 1' + "0" * 5000 + "}", "a value cannot be read")]:
        f = tmp_path / "check.jsonl"
        f.write_text(f"// marked by a person\n{good}\n\n{bad}\n")
        with pytest.raises(InputError) as got:
            load_judge_check(f, set())
        assert said in str(got.value) and got.value.line == 4 and "check.jsonl" in str(got.value.path)
