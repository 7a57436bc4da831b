"""Eval sets: one example per line (JSONL), or YAML / CSV, validated with line numbers."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from modelsel.errors import InputError, did_you_mean
from modelsel.inputs.media import Part, TextPart, parts_text, resolve_parts, wire_content
from modelsel.inputs.names import check_name
from modelsel.inputs.starter import MARK
from modelsel.inputs.textfile import MAX_EVALSET_BYTES, jsonl_objects, read_text
from modelsel.inputs.yamlsrc import first_error, load_yaml, pydantic_error


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    arguments: str | dict[str, Any] = "{}"  # JSON text, as OpenAI sends it (an object is accepted and kept)


class ToolCall(BaseModel):
    """An earlier call of the assistant's, in OpenAI's chat shape."""

    model_config = ConfigDict(extra="forbid")
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[Part] | None = None  # text, or parts: text, images and files (modelsel/inputs/media.py)
    tool_calls: list[ToolCall] | None = None  # assistant only: the calls it made earlier in the conversation
    tool_call_id: str | None = None  # tool only: the call this message answers

    @model_validator(mode="after")
    def _shape(self) -> Message:
        if isinstance(self.content, list):
            if not self.content:
                raise ValueError("content has no parts")
            if self.role != "user" and any(not isinstance(p, TextPart) for p in self.content):
                raise ValueError(f"images and files go in a user message (this one is {self.role})")
        if self.tool_calls is not None and self.role != "assistant":
            raise ValueError("only an assistant message carries tool_calls")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id of the call it answers")
        if self.tool_call_id is not None and self.role != "tool":
            raise ValueError("only a tool message carries a tool_call_id")
        if self.content is None and not self.tool_calls:
            raise ValueError("a message needs content (or, from the assistant, tool_calls)")
        return self

    def wire(self) -> dict[str, Any]:
        """The message in OpenAI's chat shape, as sent (parts in the form providers convert, a call's
        arguments as JSON text)."""
        content = wire_content([], self.content) if isinstance(self.content, list) else self.content
        out: dict[str, Any] = {"role": self.role, "content": content}
        if self.tool_calls:
            out["tool_calls"] = [{"id": c.id, "type": "function",
                                  "function": {"name": c.function.name, "arguments": _args_text(c.function.arguments)}}
                                 for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        return out

    def text(self) -> str:
        base = parts_text(self.content) if isinstance(self.content, list) else (self.content or "")
        calls = " ".join(f"[call {c.function.name}({_args_text(c.function.arguments)})]" for c in self.tool_calls or [])
        return " ".join(x for x in (base, calls) if x)


def _args_text(a: str | dict[str, Any]) -> str:
    return a if isinstance(a, str) else json.dumps(a, ensure_ascii=False)


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    input: str | list[Message]
    expected: Any = None
    reference: Any = None  # what production answered (kept for reading and for judges; scored only as `expected`)
    tags: list[str] = []
    scorer: list[dict[str, Any]] | dict[str, Any] | None = None
    cluster: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    vars: dict[str, Any] = Field(default_factory=dict)  # more names for a candidate's prompt template (promptfoo's vars)
    tools: list[dict[str, Any]] | None = None  # replaces the requirements' tools for this example

    @field_validator("tools")
    @classmethod
    def _tools(cls, v: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if v is None:
            return v
        from modelsel.inputs.tools import normalize_tools

        tools, problem = normalize_tools(v)
        if problem is not None:
            i, msg, field = problem
            raise ValueError(f"tools[{i}]{'.' + field if field else ''}: {msg}")
        return tools

    @field_validator("id", mode="before")
    @classmethod
    def _id_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("id", "cluster", "tags")
    @classmethod
    def _printable(cls, v: Any) -> Any:
        for x in (v if isinstance(v, list) else [v]):
            if x is not None:
                check_name(x)
        return v

    @field_validator("input")
    @classmethod
    def _not_empty(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            raise ValueError("input is empty")
        if isinstance(v, list) and not v:
            raise ValueError("input has no messages")
        if isinstance(v, list):
            asked: set[str] = set()
            for m in v:
                asked |= {c.id for c in m.tool_calls or []}
                if m.role == "tool" and m.tool_call_id not in asked:
                    raise ValueError(f"a tool message answers '{m.tool_call_id}', which no earlier assistant message called")
        return v

    def text(self) -> str:
        """The input as plain text (for completion-style models and for scorers)."""
        if isinstance(self.input, str):
            return self.input
        return "\n".join(f"{m.role}: {m.text()}" for m in self.input)

    def expected_calls(self) -> list[dict[str, Any]] | None:
        """The calls this example expects (`expected: {"tool_calls": [...]}`), or None."""
        e = self.expected
        if isinstance(e, dict) and set(e) == {"tool_calls"} and isinstance(e["tool_calls"], list):
            return e["tool_calls"]
        return None


class EvalSet(BaseModel):
    path: str
    examples: list[Example]
    lines: dict[str, int | None] = {}  # example id -> its line in the file, for errors found later

    @property
    def tags(self) -> set[str]:
        return {t for e in self.examples for t in e.tags}

    def placeholders(self) -> list[str]:
        """Examples that still hold `modelsel init`'s placeholder text."""
        return [e.id for e in self.examples if MARK in e.text() or MARK in str(e.expected or "")]


def _clean(loc: tuple[Any, ...]) -> list[Any]:
    """A pydantic location as the file spells it: union branches (`list[Message]`, `str`, a part's
    type tag) left out."""
    out: list[Any] = []
    for i, p in enumerate(loc):
        if isinstance(p, str) and ("[" in p or p in ("str", "function-after")):
            continue
        if isinstance(p, str) and i and isinstance(loc[i - 1], int) and p in ("text", "image", "file") and \
                "content" in loc[:i]:
            continue
        out.append(p)
    return out


def _validate(row: Any, path: Path, line: int | None, lines: dict | None = None, prefix: tuple = ()) -> Example:
    if not isinstance(row, dict):
        raise InputError("each example must be an object with id, input, expected, tags.", path=path, line=line)
    try:
        return Example.model_validate(row)
    except ValidationError as exc:
        err = first_error(exc)
        if isinstance(row.get("input"), list):  # messages: the deepest error names the part (not "input.str")
            err = max(exc.errors(), key=lambda e: (e["type"] == "extra_forbidden", len(_clean(e["loc"]))))
        field = ".".join(str(p) for p in _clean(err["loc"])) or None
        hint = did_you_mean(str(err["loc"][-1]), set(Example.model_fields)) if err["type"] == "extra_forbidden" else None
        if lines is not None:
            e = pydantic_error(exc, path, lines, prefix, hide_prefix=True)
            e.hint = hint
            raise e from None
        msg = "unknown field." if err["type"] == "extra_forbidden" else err["msg"] + "."
        raise InputError(msg, path=path, line=line, field=field, hint=hint) from None


def load_evalset(path: str | Path, roots: list[Path] | None = None) -> EvalSet:
    """The eval set at `path`; the images and files its examples name are read, checked and hashed
    (paths relative to the eval set, inside `roots` when given)."""
    path = Path(path)
    if not path.exists():
        raise InputError("eval set file not found.", path=path)
    suffix = path.suffix.lower()
    examples: list[tuple[Example, int | None]] = []
    if suffix in (".jsonl", ".ndjson"):
        for n, row in jsonl_objects(path, read_text(path, MAX_EVALSET_BYTES, "eval set")):
            examples.append((_validate(row, path, n), n))
    elif suffix in (".yaml", ".yml"):
        data, lines = load_yaml(path, MAX_EVALSET_BYTES, "eval set")
        rows = data.get("examples") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise InputError("a YAML eval set is a list of examples (or a mapping with 'examples:').", path=path, line=1)
        prefix: tuple = ("examples",) if isinstance(data, dict) else ()
        for i, row in enumerate(rows):
            line = lines.get(prefix + (i,))
            examples.append((_validate(row, path, line, lines, prefix + (i,)), line))
    elif suffix == ".csv":
        import io

        reader = csv.DictReader(io.StringIO(read_text(path, MAX_EVALSET_BYTES, "eval set"), newline=""))
        header = reader.fieldnames or []
        missing = [c for c in ("id", "input") if c not in header]
        if missing:
            raise InputError(f"a CSV eval set starts with a header row naming its columns (id, input, expected, tags); "
                             f"this one has no {' or '.join(repr(m) for m in missing)} column (first row: "
                             f"{', '.join(repr(h) for h in header[:5])}).", path=path, line=1)
        for row in reader:
            n = reader.line_num
            clean: dict[str, Any] = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
            if "tags" in clean:
                clean["tags"] = [t.strip() for t in clean["tags"].replace(";", ",").split(",") if t.strip()]
            examples.append((_validate(clean, path, n), n))
    else:
        raise InputError(f"unsupported eval set format '{suffix}' (use .jsonl, .yaml or .csv).", path=path)
    if not examples:
        raise InputError("the eval set has no examples.", path=path)
    seen: dict[str, int | None] = {}
    for ex, line in examples:
        if ex.id in seen:
            raise InputError(f"duplicate example id '{ex.id}' (first on line {seen[ex.id]}).", path=path, line=line, field="id")
        seen[ex.id] = line
        resolve_parts(ex, path.parent, roots, path, line)
    return EvalSet(path=str(path), examples=[e for e, _ in examples], lines={e.id: line for e, line in examples})
