"""Deterministic scorers. Each takes (output, example, **params) and returns (score in [0, 1], reason)."""

from __future__ import annotations

import json
import re
import string
from typing import Any

from modelsel.inputs import usercode
from modelsel.inputs.evalset import Example
from modelsel.inputs.scorers import installed_scorer

Result = tuple[float, str]


def normalize(text: str, how: list[str] | bool | None) -> str:
    if how is True:
        how = ["lower", "whitespace", "punctuation"]
    how = how or []
    text = text.strip()
    if "lower" in how:
        text = text.lower()
    if "punctuation" in how:
        text = text.translate(str.maketrans("", "", string.punctuation)).strip()
    if "whitespace" in how:
        text = " ".join(text.split())
    return text


def _target(example: Example, value: Any) -> Any:
    return example.expected if value is None else value


def exact(output: str, example: Example, value: Any = None, normalize_: Any = None, **kw: Any) -> Result:
    how = kw.get("normalize", normalize_)
    want = _target(example, value)
    wants = want if isinstance(want, list) else [want]
    got = normalize(output, how)
    for w in wants:
        if got == normalize(str(w), how):
            return 1.0, f"matches '{w}'"
    return 0.0, f"expected '{wants[0]}', got '{got[:80]}'"


def contains(output: str, example: Example, value: Any = None, case_sensitive: bool = False, **_: Any) -> Result:
    want = str(_target(example, value))
    hay, needle = (output, want) if case_sensitive else (output.lower(), want.lower())
    return (1.0, f"contains '{want}'") if needle in hay else (0.0, f"does not contain '{want}'")


def _many(example: Example, values: Any) -> list[str]:
    v = _target(example, values)
    return [str(x) for x in (v if isinstance(v, list) else [v])]


def contains_any(output: str, example: Example, values: Any = None, case_sensitive: bool = False, **_: Any) -> Result:
    hay = output if case_sensitive else output.lower()
    for v in _many(example, values):
        if (v if case_sensitive else v.lower()) in hay:
            return 1.0, f"contains '{v}'"
    return 0.0, "contains none of " + ", ".join(f"'{v}'" for v in _many(example, values))


def contains_all(output: str, example: Example, values: Any = None, case_sensitive: bool = False, **_: Any) -> Result:
    hay = output if case_sensitive else output.lower()
    vals = _many(example, values)
    missing = [v for v in vals if (v if case_sensitive else v.lower()) not in hay]
    score = 1 - len(missing) / len(vals) if vals else 1.0
    return score, ("contains all" if not missing else "missing " + ", ".join(f"'{m}'" for m in missing))


def regex(output: str, example: Example, pattern: str | None = None, fullmatch: bool = False,
          ignore_case: bool = True, **_: Any) -> Result:
    pat = str(_target(example, pattern))
    flags = re.I if ignore_case else 0
    m = (re.fullmatch if fullmatch else re.search)(pat, output.strip(), flags)
    return (1.0, f"matches /{pat}/") if m else (0.0, f"does not match /{pat}/")


def extract_choice(output: str, choices: list[str]) -> str | None:
    """The label that appears first in the answer (whole words, any case)."""
    best: tuple[int, str] | None = None
    for c in choices:
        m = re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", output, re.I)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), c)
    return best[1] if best else None


def choice(output: str, example: Example, choices: list[str] | None = None, **_: Any) -> Result:
    if not choices:
        raise ValueError("the choice scorer needs 'choices': the label set")
    got = extract_choice(output, choices)
    want = str(example.expected)
    if got is None:
        return 0.0, f"no label found (expected '{want}')"
    return (1.0, f"label '{got}'") if got.lower() == want.lower() else (0.0, f"label '{got}', expected '{want}'")


def _json_blob(output: str) -> str:
    m = re.search(r"```(?:json)?\s*(.*?)```", output, re.S)
    if m:
        return m.group(1)
    start = min((i for i in (output.find("{"), output.find("[")) if i >= 0), default=-1)
    return output[start:] if start >= 0 else output


def json_valid(output: str, schema: dict | None = None) -> bool:
    """Parses as JSON (fences and prose around it tolerated) and fits the schema if one is given."""
    try:
        data, _end = json.JSONDecoder().raw_decode(_json_blob(output).strip())
    except json.JSONDecodeError:
        return False
    if schema is None:
        return True
    import jsonschema

    return not any(True for _ in jsonschema.Draft202012Validator(schema).iter_errors(data))


def json_scorer(output: str, example: Example, schema: dict | None = None, fields: list[str] | None = None, **_: Any) -> Result:
    blob = _json_blob(output).strip()
    try:
        data, _end = json.JSONDecoder().raw_decode(blob)
    except json.JSONDecodeError as exc:
        return 0.0, f"not valid JSON ({exc.msg})"
    if schema is not None:
        import jsonschema

        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: e.path)
        if errors:
            return 0.0, f"schema: {errors[0].message[:120]}"
    want = example.expected
    kind = None if isinstance(want, str) else _json_kind(want)  # an expected text is no JSON type to compare
    if kind is not None and _json_kind(data) != kind:  # [1, 2], "hello" or 42 where an object is expected
        return 0.0, f"expected a JSON {kind}, got a JSON {_json_kind(data)}"
    if isinstance(want, dict) and isinstance(data, dict):
        keys = fields or list(want)
        if not keys:
            return 1.0, "valid JSON"
        bad = [k for k in keys if data.get(k) != want.get(k)]
        score = 1 - len(bad) / len(keys)
        return score, ("all fields match" if not bad else "fields differ: " + ", ".join(bad))
    return 1.0, "valid JSON" + (" matching the schema" if schema else "")


def _json_kind(value: Any) -> str | None:
    """The JSON type of a value (None for no value)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


_NUM = re.compile(r"[-+]?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|[-+]?\.\d+")


def numeric(output: str, example: Example, value: float | None = None, abs_tol: float = 0.0,
            rel_tol: float = 0.0, **_: Any) -> Result:
    want = float(_target(example, value))
    m = _NUM.search(output.replace("\u2212", "-"))
    if not m:
        return 0.0, f"no number found (expected {want:g})"
    got = float(m.group(0).replace(",", ""))
    ok = abs(got - want) <= max(abs_tol, rel_tol * abs(want))
    return (1.0 if ok else 0.0), f"{got:g} vs expected {want:g}" + ("" if ok else " (outside tolerance)")


def python_scorer(output: str, example: Example, function: str | None = None, time_limit_s: float | None = None,
                  **params: Any) -> Result:
    if not function or ":" not in function:
        raise ValueError("the python scorer needs 'function: module:func'")
    return _called(usercode.load(function), function, output, example, params)


def plugin_scorer(output: str, example: Example, name: str = "", args: dict[str, Any] | None = None, **_: Any) -> Result:
    """An installed package's scorer (entry-point group modelsel.scorers), called as a python scorer is."""
    return _called(_plugin(name), name, output, example, args or {})


def _plugin(name: str) -> Any:
    """An installed scorer's function, loaded once a process, not once an answer."""
    return installed_scorer(name)


def _called(fn: Any, function: str, output: str, example: Example, params: dict[str, Any]) -> Result:
    from modelsel.scoring import checked_score  # the package imports this module

    got = fn(output, example, **params) if params else fn(output, example)
    if isinstance(got, tuple) and len(got) == 2:
        score, reason = checked_score(got[0]), str(got[1])
    elif isinstance(got, tuple):
        raise ValueError(f"returned a tuple of {len(got)}; a scorer returns a score or (score, reason)")
    else:
        score = checked_score(got)
        reason = f"{function} returned {score:g}"
    return score, reason


DETERMINISTIC = {
    "exact": exact, "contains": contains, "contains_any": contains_any, "contains_all": contains_all,
    "regex": regex, "choice": choice, "json": json_scorer, "numeric": numeric, "python": python_scorer,
    "plugin": plugin_scorer,
}
