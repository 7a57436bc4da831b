"""One model per scorer type: what each scorer takes, validated once where it is written (the
requirements' `scoring:` or an example's `scorer:`), with the file, line and field of a mistake.
The scorers themselves receive the validated parameters as a plain dict."""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from modelsel.errors import InputError, did_you_mean


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weight: float = Field(1.0, ge=0)
    metric: str | None = None  # a name for what this check measures (promptfoo's `metric`), kept in the record

    def params(self) -> dict[str, Any]:
        """What the scorer was built with, recorded beside every score."""
        return {k: v for k, v in self.model_dump(exclude={"type", "weight", "metric"}, exclude_none=True).items()}


class Exact(_Spec):
    type: Literal["exact"]
    value: Any = None  # default: the example's expected answer; a list accepts any
    normalize: list[Literal["lower", "whitespace", "punctuation"]] | bool | None = None


class Contains(_Spec):
    type: Literal["contains"]
    value: Any = None
    case_sensitive: bool = False


class ContainsAny(_Spec):
    type: Literal["contains_any", "contains_all"]
    values: list[Any] | None = None
    case_sensitive: bool = False


def compile_error(pattern: str) -> str | None:
    """Why a regular expression does not compile, or None."""
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        return f"the regular expression /{pattern}/ does not compile ({exc})"
    return None


class Regex(_Spec):
    type: Literal["regex"]
    pattern: str | None = None  # default: the example's expected answer
    fullmatch: bool = False
    ignore_case: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None and (err := compile_error(v)):
            raise ValueError(err)
        return v


class Choice(_Spec):
    type: Literal["choice"]
    choices: list[str] = Field(min_length=1)  # the label set


def _valid_schema(v: dict[str, Any] | None) -> dict[str, Any] | None:
    if v is not None:
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(v)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema ({exc.message})") from None
    return v


class Json(_Spec):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)
    type: Literal["json"]
    schema_: dict[str, Any] | None = Field(None, alias="schema")  # a JSON Schema the answer must fit
    fields: list[str] | None = None

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _valid_schema(v)

    def params(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude={"type", "weight"}, exclude_none=True)


class ToolCallSpec(_Spec):
    """The calls made against `expected: {"tool_calls": [...]}`: tool names and arguments as parsed JSON."""

    type: Literal["tool_call"]
    arguments: Literal["exact", "subset"] = "exact"  # subset: calls may send arguments the expected call leaves out
    acceptable: dict[str, list[Any]] = {}  # other values accepted, per argument ("city" or "get_weather.city")
    tolerance: float = Field(0.0, ge=0)  # numbers within this of the expected value are right
    any_order: bool = False  # parallel calls may come in any order
    ignore_case: bool = False  # text arguments compared in any case


class ValidCall(_Spec):
    """At least one call, each naming an offered tool with JSON arguments that fit its parameters."""

    type: Literal["valid_call"]


class JsonFields(_Spec):
    """The share of the expected object's fields right; 0 when the answer is not JSON or breaks the schema."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)
    type: Literal["json_fields"]
    fields: list[str] | None = None  # default: every field of the expected object
    all: bool = False  # all fields right or nothing
    tolerance: float = Field(0.0, ge=0)
    ignore_case: bool = False
    schema_: dict[str, Any] | None = Field(None, alias="schema")  # default: the requirements' output.json_schema

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _valid_schema(v)

    def params(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude={"type", "weight"}, exclude_none=True)


class Numeric(_Spec):
    type: Literal["numeric"]
    value: float | None = None
    abs_tol: float = Field(0.0, ge=0)
    rel_tol: float = Field(0.0, ge=0)


class Python(_Spec):
    model_config = ConfigDict(extra="allow")  # the rest goes to your function as keyword arguments
    type: Literal["python"]
    function: str = Field(pattern=r"^[\w.]+:\w+$")
    time_limit_s: float | None = Field(None, gt=0, le=3600)  # per answer (60 s unless set); not passed on

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(exclude={"type", "weight"}).items() if v is not None}


class Judge(_Spec):
    type: Literal["judge"]
    rubric: str = "Is the answer correct and helpful?"
    scale: int = Field(10, ge=1)


class Similarity(_Spec):
    type: Literal["similarity"]
    value: Any = None
    threshold: float | None = Field(None, ge=0, le=1)


class Plugin(_Spec):
    """A scorer an installed package adds: `name` is its entry point in the `modelsel.scorers` group
    (`[project.entry-points."modelsel.scorers"] rouge = "my_pkg.scorers:rouge"`), called as a python
    scorer is, with `args` as keyword arguments."""
    type: Literal["plugin"]
    name: str
    args: dict[str, Any] = {}
    time_limit_s: float | None = Field(None, gt=0, le=3600)  # per answer (60 s unless set); past it, failed


@functools.cache  # scanning the installed packages' metadata takes milliseconds: once a process, not per answer
def plugin_scorers() -> dict[str, str]:
    """Installed scorers: entry-point name -> "module:function"."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group="modelsel.scorers")}


@functools.cache  # loaded once a process, not once an answer
def installed_scorer(name: str) -> Any:
    """An installed scorer's function; ValueError in one line when no package provides it, its module
    does not import, or what it names is not a function."""
    from modelsel.inputs.usercode import load_installed

    target = plugin_scorers().get(name)
    if target is None:
        raise ValueError(f"no installed scorer '{name}' (entry-point group modelsel.scorers)")
    fn = load_installed(target)
    if not callable(fn):
        raise ValueError(f"{target} is not a function")
    return fn


class Not(_Spec):
    type: Literal["not"]
    scorer: AnyScorer

    def params(self) -> dict[str, Any]:
        return {"scorer": spec_dict(self.scorer)}


AnyScorer = Annotated[Exact | Contains | ContainsAny | Regex | Choice | Json | Numeric | Python | Judge | Similarity | Plugin
                      | Not | ToolCallSpec | ValidCall | JsonFields,
                      Field(discriminator="type")]
Not.model_rebuild()
# The scorer names, read off the union itself: one list, no second copy to fall out of step.
TYPES = tuple(t for cls in typing.get_args(typing.get_args(AnyScorer)[0])
              for t in typing.get_args(cls.model_fields["type"].annotation))
_ADAPTER: TypeAdapter[Any] = TypeAdapter(list[AnyScorer])


def spec_dict(s: Any) -> dict[str, Any]:
    """The validated spec as the scorers take it: type, weight and parameters."""
    return {"type": s.type, "weight": s.weight, **s.params()}


def validate(raw: Any, where: str) -> list[dict[str, Any]]:
    """Scorer specs as written (one or a list) to validated dicts; bad input names the field."""
    items = raw if isinstance(raw, list) else [raw]
    for i, it in enumerate(items):
        t = it.get("type") if isinstance(it, dict) else None
        if t not in TYPES:
            raise InputError(f"unknown scorer '{t}'.", field=f"{where}[{i}].type",
                             hint=did_you_mean(str(t), set(TYPES)) or f"Known: {', '.join(TYPES)}.")
    try:
        return [spec_dict(s) for s in _ADAPTER.validate_python(items)]
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = [str(p) for p in e["loc"]]
        field = f"{where}[{loc[0]}]" + "".join(f".{p}" for p in loc[2:])  # loc[1] is the union tag
        raise InputError(f"{e['msg']}.", field=field) from None


# Scorers that compare with the example's expected answer unless their own parameter gives it.
NEEDS_EXPECTED = {"exact": "value", "contains": "value", "contains_any": "values", "contains_all": "values",
                  "regex": "pattern", "choice": None, "numeric": "value", "similarity": "value"}


def expected_problem(spec: dict[str, Any], expected: Any) -> str | None:
    """Why this scorer cannot score an example with this expected answer, known before any call:
    no expected answer where it needs one, a pattern from `expected` that does not compile, a
    numeric scorer's expected that is not a number."""
    t = spec["type"]
    if t == "not":
        return expected_problem(spec["scorer"], expected)
    if t not in NEEDS_EXPECTED:
        return None
    own = NEEDS_EXPECTED[t]
    if own is not None and spec.get(own) is not None:
        return None
    if expected is None:
        return f"the {t} scorer compares with 'expected', and this example has none"
    if t == "regex":
        return compile_error(str(expected))
    if t == "numeric":
        try:
            float(expected)
        except (TypeError, ValueError):
            return f"the numeric scorer needs a number in 'expected', not {str(expected)[:40]!r}"
    if t == "choice" and str(expected).lower() not in {c.lower() for c in spec.get("choices", [])}:
        return f"'expected' is {str(expected)[:40]!r}, not one of the choice scorer's labels"
    return None


def walk(specs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every scorer in these specs, in order, the ones nested in `not` (at any depth) after their parent:
    the one walk every reader of nested scorers uses."""
    for s in specs:
        yield s
        if s.get("type") == "not" and isinstance(s.get("scorer"), dict):
            yield from walk([s["scorer"]])


def python_refs(specs: list[dict[str, Any]]) -> list[str]:
    """The `module:function` of every python scorer in these specs."""
    return [s["function"] for s in walk(specs) if s["type"] == "python"]


def types_used(specs: list[dict[str, Any]]) -> set[str]:
    """Every scorer type in these specs, nested `not` scorers included."""
    return {s["type"] for s in walk(specs)}
