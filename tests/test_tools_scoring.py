"""The tool_call and json_fields scorers: every option, every miss with its reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsel.inputs.evalset import Example
from modelsel.inputs.tools import Tooling, normalize_tools
from modelsel.scoring.tools import json_fields, tool_call

TOOLS, _ = normalize_tools([
    {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                                           "days": {"type": "integer"}}}},
    {"name": "convert", "parameters": {"type": "object", "properties": {"amount": {"type": "number"}}}},
])
T = Tooling(tuple(TOOLS))


def ex(*calls: tuple[str, dict[str, Any]]) -> Example:
    return Example(id="e", input="q", expected={"tool_calls": [{"name": n, "arguments": a} for n, a in calls]})


def made(*calls: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"id": f"c{i}", "name": n, "arguments": a if isinstance(a, str) else json.dumps(a)}
            for i, (n, a) in enumerate(calls)]


def test_exact_by_default() -> None:
    e = ex(("get_weather", {"city": "Paris"}))
    assert tool_call(made(("get_weather", {"city": "Paris"})), e, T)[:2] == (1.0, "the right tool with the right arguments")
    v, why, d = tool_call(made(("get_weather", {"city": "Paris", "days": 3})), e, T)
    assert (v, why, d["verdict"]) == (0.0, "get_weather: argument days not expected (got 3)", "wrong_arguments")


def test_arguments_as_a_subset() -> None:
    e = ex(("get_weather", {"city": "Paris"}))
    assert tool_call(made(("get_weather", {"city": "Paris", "days": 3})), e, T, arguments="subset")[0] == 1.0
    v, why, _ = tool_call(made(("get_weather", {"days": 3})), e, T, arguments="subset")
    assert why == "get_weather: argument city missing (expected 'Paris')"


def test_acceptable_values_per_argument() -> None:
    e = ex(("get_weather", {"city": "Paris"}))
    ok = {"city": ["Paris, France", "paris"]}
    assert tool_call(made(("get_weather", {"city": "Paris, France"})), e, T, acceptable=ok)[0] == 1.0
    assert tool_call(made(("get_weather", {"city": "paris"})), e, T, acceptable={"get_weather.city": ["paris"]})[0] == 1.0
    assert tool_call(made(("get_weather", {"city": "Lyon"})), e, T, acceptable=ok)[0] == 0.0


def test_numbers_within_a_tolerance() -> None:
    e = ex(("convert", {"amount": 10.0}))
    assert tool_call(made(("convert", {"amount": 10.04})), e, T, tolerance=0.05)[0] == 1.0
    assert tool_call(made(("convert", {"amount": 10.04})), e, T)[0] == 0.0
    assert tool_call(made(("convert", {"amount": 10})), e, T)[0] == 1.0  # 10 and 10.0 are one number
    assert tool_call(made(("convert", {"amount": True})), ex(("convert", {"amount": 1})), T)[0] == 0.0


def test_parallel_calls_in_any_order() -> None:
    e = ex(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"}))
    swapped = made(("get_weather", {"city": "Rome"}), ("get_weather", {"city": "Paris"}))
    assert tool_call(swapped, e, T)[0] == 0.0
    assert tool_call(swapped, e, T, any_order=True)[0] == 1.0
    v, why, d = tool_call(made(("get_weather", {"city": "Rome"})), e, T, any_order=True)
    assert d["verdict"] == "wrong_count" and why.startswith("1 call(s) made, 2 expected")


@pytest.mark.parametrize(("calls", "verdict", "reason"), [
    ([], "no_call", "no call made (expected get_weather)"),
    ([("convert", {"amount": 1})], "wrong_tool", "wrong tool: called convert, expected get_weather"),
    ([("book_flight", {"to": "Paris"})], "unknown_tool", "a tool that does not exist: 'book_flight'"),
    ([("get_weather", '{"city": "Par')], "not_json", "get_weather: arguments are not JSON (Unterminated string starting at)"),
    ([("get_weather", '["Paris"]')], "not_json", "get_weather: arguments are JSON but not an object (list)"),
])
def test_every_miss_keeps_its_reason(calls: list[tuple[str, Any]], verdict: str, reason: str) -> None:
    v, why, d = tool_call(made(*calls), ex(("get_weather", {"city": "Paris"})), T)
    assert (v, d["verdict"]) == (0.0, verdict)
    assert why == reason


def test_no_tool_wanted() -> None:
    none = Example(id="e", input="thanks", expected={"tool_calls": []})
    assert tool_call([], none, T)[1:] == ("answered without a tool, as asked", {"verdict": "none_ok"})
    v, why, _ = tool_call(made(("get_weather", {"city": "Paris"})), none, T)
    assert (v, why) == (0.0, 'a call where none was asked: get_weather({"city": "Paris"})')


def test_json_fields_share_all_and_schema() -> None:
    e = Example(id="e", input="x", expected={"a": 1, "b": "x", "c": [1, 2]})
    assert json_fields('{"a": 1, "b": "x", "c": [1, 2]}', e, None)[:2] == (1.0, "all 3 fields right")
    v, why, _ = json_fields('```json\n{"a": 1, "b": "y", "c": [1, 2]}\n```', e, None)
    assert v == pytest.approx(2 / 3) and why == "2 of 3 fields right; wrong: b (got 'y', expected 'x')"
    assert json_fields('{"a": 1, "b": "y", "c": [1, 2]}', e, None, all=True)[0] == 0.0
    assert json_fields('not json', e, None)[:2] == (0.0, "not JSON (Expecting value)")
    schema = {"type": "object", "required": ["a", "b", "c", "d"]}
    v, why, d = json_fields('{"a": 1, "b": "x", "c": [1, 2]}', e, Tooling(schema=schema))
    assert (v, d) == (0.0, {"schema_valid": False}) and why == "breaks the schema ('d' is a required property)"


@given(st.lists(st.booleans(), min_size=1, max_size=12))
def test_json_fields_scores_the_share_of_fields_right(right: list[bool]) -> None:
    want = {f"f{i}": i for i in range(len(right))}
    got = {k: (v if ok else v + 1) for (k, v), ok in zip(want.items(), right, strict=True)}
    v, _, _ = json_fields(json.dumps(got), Example(id="e", input="x", expected=want), None)
    assert v == pytest.approx(sum(right) / len(right))
    assert json_fields(json.dumps(got), Example(id="e", input="x", expected=want), None, all=True)[0] == float(all(right))
