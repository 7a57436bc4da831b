"""Scorers of what a model did rather than what it wrote: `tool_call` compares the calls made with
the expected ones (tool name, arguments as parsed JSON), `json_fields` the fields of a structured
answer with the expected object. Every miss keeps its reason, and a verdict word the reports count
("the right tool with the right arguments in 46 of 50; a call where none was asked in 1 of 10")."""

from __future__ import annotations

import json
import math
from itertools import permutations
from typing import Any

from modelsel.inputs.evalset import Example
from modelsel.inputs.tools import Tooling, parse_arguments

# The verdict of one answer to a tool-call example, in the words the reports use.
VERDICTS = {
    "right": "the right tool with the right arguments",
    "none_ok": "answered without a tool, as asked",
    "unexpected_call": "a call where none was asked",
    "no_call": "no call made",
    "unknown_tool": "a tool that does not exist",
    "not_json": "arguments not JSON",
    "wrong_tool": "the wrong tool",
    "wrong_arguments": "the right tool with wrong arguments",
    "wrong_count": "another number of calls",
}

Scored = tuple[float, str, dict[str, Any]]


def answer_text(r: Any) -> str:
    """An answer as a reader (or a judge) should see it: its text, then each call with the raw
    arguments the model sent, and the finish reason when it called."""
    calls = getattr(r, "tool_calls", None) or []
    lines = [r.output] if r.output else []
    lines += [f"→ {c.get('name')}({c.get('arguments')})" for c in calls]
    if calls and getattr(r, "finish_reason", None):
        lines.append(f"(finish: {r.finish_reason})")
    return "\n".join(lines)


def _show(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _equal(want: Any, got: Any, tol: float, ignore_case: bool) -> bool:
    """Values equal as JSON: numbers within `tol`, strings (optionally) in any case, bools never equal
    to numbers, objects and lists element by element."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(want) is type(got) and want == got
    if isinstance(want, int | float) and isinstance(got, int | float):
        return math.isclose(want, got, rel_tol=0.0, abs_tol=tol) if tol else want == got
    if isinstance(want, str) and isinstance(got, str):
        return want.casefold() == got.casefold() if ignore_case else want == got
    if isinstance(want, dict) and isinstance(got, dict):
        return set(want) == set(got) and all(_equal(want[k], got[k], tol, ignore_case) for k in want)
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(_equal(a, b, tol, ignore_case) for a, b in zip(want, got, strict=True))
    return bool(want == got)


def _accepts(name: str, arg: str, acceptable: dict[str, list[Any]]) -> list[Any] | None:
    return acceptable.get(f"{name}.{arg}", acceptable.get(arg))


def argument_misses(name: str, want: dict[str, Any], got: dict[str, Any], arguments: str = "exact",
                    acceptable: dict[str, list[Any]] | None = None, tolerance: float = 0.0,
                    ignore_case: bool = False) -> list[str]:
    """What is wrong with the arguments of one call of `name` (empty: right). `arguments: subset`
    lets a call send arguments the expected call does not name; `acceptable` lists other values
    accepted per argument (`arg` or `tool.arg`)."""
    acceptable = acceptable or {}
    misses = []
    for k, w in want.items():
        if k not in got:
            misses.append(f"argument {k} missing (expected {_show(w)})")
            continue
        ok = [w, *(_accepts(name, k, acceptable) or [])]
        if not any(_equal(x, got[k], tolerance, ignore_case) for x in ok):
            misses.append(f"argument {k} wrong (got {_show(got[k])}, expected {_show(w)})")
    if arguments == "exact":
        misses += [f"argument {k} not expected (got {_show(got[k])})" for k in got if k not in want]
    return misses


def _made(calls: list[dict[str, Any]]) -> list[tuple[str, Any, str | None]]:
    out = []
    for c in calls:
        args, why = parse_arguments(c.get("arguments"))
        out.append((str(c.get("name")), args, why))
    return out


def tool_call(calls: list[dict[str, Any]] | None, example: Example, tooling: Tooling | None,
              arguments: str = "exact", acceptable: dict[str, list[Any]] | None = None, tolerance: float = 0.0,
              any_order: bool = False, ignore_case: bool = False, **_: Any) -> Scored:
    """1 when the calls made are the expected ones, else 0 with the reason and a verdict."""
    want = example.expected_calls()
    if want is None:
        raise ValueError("the tool_call scorer needs expected: {\"tool_calls\": [...]}")
    made = _made(calls or [])
    shown = ", ".join(f"{n}({c.get('arguments') if isinstance(c.get('arguments'), str) else _show(a)})"
                      for (n, a, _w), c in zip(made, calls or [], strict=True))
    if not want:
        if not made:
            return 1.0, VERDICTS["none_ok"], {"verdict": "none_ok"}
        return 0.0, f"{VERDICTS['unexpected_call']}: {shown}", {"verdict": "unexpected_call"}
    if not made:
        return 0.0, f"no call made (expected {', '.join(w['name'] for w in want)})", {"verdict": "no_call"}
    offered = set(tooling.names) if tooling is not None else set()
    for name, _a, _w in made:
        if name not in offered:
            return 0.0, f"{VERDICTS['unknown_tool']}: '{name}'", {"verdict": "unknown_tool"}
    for name, _a, why in made:
        if why is not None:
            return 0.0, f"{name}: {why}", {"verdict": "not_json"}
    opts = dict(arguments=arguments, acceptable=acceptable, tolerance=tolerance, ignore_case=ignore_case)
    if len(made) != len(want):
        return (0.0, f"{len(made)} call(s) made, {len(want)} expected: {shown}", {"verdict": "wrong_count"})
    orders = permutations(range(len(made))) if any_order and len(made) <= 6 else [tuple(range(len(made)))]
    best: list[str] | None = None
    best_kind = "wrong_arguments"
    for order in orders:
        misses: list[str] = []
        kind = "right"
        for w, j in zip(want, order, strict=True):
            name, args, _ = made[j]
            if name != w["name"]:
                misses.append(f"wrong tool: called {name}, expected {w['name']}")
                kind = "wrong_tool" if kind == "right" else kind
                continue
            if "arguments" not in w:  # an expected call without arguments checks the tool only
                continue
            got = argument_misses(name, w["arguments"] or {}, args, **opts)  # type: ignore[arg-type]
            if got:
                misses += [f"{name}: {m}" for m in got]
                kind = "wrong_arguments" if kind == "right" else kind
        if not misses:
            return 1.0, VERDICTS["right"], {"verdict": "right"}
        if best is None or len(misses) < len(best):
            best, best_kind = misses, kind
    assert best is not None
    return 0.0, "; ".join(best), {"verdict": best_kind}


def valid_call(calls: list[dict[str, Any]] | None, example: Example, tooling: Tooling | None, **_: Any) -> Scored:
    """1 when the model called at least one tool and every call names an offered tool with JSON
    arguments that fit its parameters (promptfoo's is-valid-openai-tools-call): no answer key needed,
    so production can check it too."""
    from modelsel.inputs.tools import argument_problem

    made = _made(calls or [])
    if not made:
        return 0.0, "no call made", {"verdict": "no_call"}
    for name, args, why in made:
        if why is not None:
            return 0.0, f"{name}: {why}", {"verdict": "not_json"}
        if tooling is None or name not in tooling.names:
            return 0.0, f"{VERDICTS['unknown_tool']}: '{name}'", {"verdict": "unknown_tool"}
        if (bad := argument_problem(tooling, name, args)) is not None:
            return 0.0, bad, {"verdict": "wrong_arguments"}
    return 1.0, f"{len(made)} valid call(s)", {}


def parse_json_answer(output: str) -> tuple[Any, str | None]:
    """A structured answer as parsed JSON (code fences and prose around it tolerated), or why not."""
    from modelsel.scoring.basic import _json_blob

    try:
        data, _end = json.JSONDecoder().raw_decode(_json_blob(output).strip())
    except (json.JSONDecodeError, RecursionError) as exc:
        return None, f"not JSON ({getattr(exc, 'msg', type(exc).__name__)})"
    return data, None


def schema_error(data: Any, schema: dict[str, Any] | None) -> str | None:
    if schema is None:
        return None
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if not errors:
        return None
    at = "/".join(str(p) for p in errors[0].path)
    return f"breaks the schema ({errors[0].message[:120]}{f' at {at}' if at else ''})"


def json_fields(output: str, example: Example, tooling: Tooling | None, fields: list[str] | None = None,
                all: bool = False, tolerance: float = 0.0, ignore_case: bool = False,  # noqa: A002 - the file's word
                schema: dict[str, Any] | None = None, **_: Any) -> Scored:
    """The share of the expected object's fields the answer has right (all or nothing with
    `all: true`); 0 when it is not JSON or breaks the schema. Schema validity is reported beside."""
    want = example.expected
    if not isinstance(want, dict):
        raise ValueError("the json_fields scorer needs the expected JSON object in 'expected'")
    schema = schema if schema is not None else (tooling.schema if tooling is not None else None)
    data, why = parse_json_answer(output)
    if why is not None:
        return 0.0, why, {"schema_valid": False} if schema is not None else {}
    broken = schema_error(data, schema)
    extra = {"schema_valid": broken is None} if schema is not None else {}
    if broken is not None:
        return 0.0, broken, extra
    if not isinstance(data, dict):
        return 0.0, f"a JSON {type(data).__name__}, not an object", extra
    keys = fields or list(want)
    if not keys:
        return 1.0, "an object, as expected", extra
    wrong = [k for k in keys if k not in data or not _equal(want.get(k), data[k], tolerance, ignore_case)]
    share = 1 - len(wrong) / len(keys)
    score = (1.0 if not wrong else 0.0) if all else share
    if not wrong:
        return score, f"all {len(keys)} fields right", extra
    detail = ", ".join(f"{k} (got {_show(data[k])}, expected {_show(want.get(k))})" if k in data else f"{k} missing"
                       for k in wrong[:5])
    return score, f"{len(keys) - len(wrong)} of {len(keys)} fields right; wrong: {detail}", extra
