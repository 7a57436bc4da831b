"""Load YAML and remember the line of every key, so errors can point at it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from modelsel.errors import InputError

Lines = dict[tuple[Any, ...], int]


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: Lines) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = path + (key.value,)
            lines[sub] = key.start_mark.line + 1
            _walk(value, sub, lines)
            lines[sub] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines)


def parse_yaml(text: str, path: str | Path) -> tuple[Any, Lines]:
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc)
        # An unclosed bracket or quote is found at the end of the file; its opening line helps more.
        if exc.context_mark is not None and ("<stream end>" in problem or "end of stream" in problem):
            mark = exc.context_mark
            problem += f", {exc.context} opened here"
        line = mark.line + 1 if mark else None
        raise InputError(f"this is not valid YAML ({problem}).", path=path, line=line) from None
    lines: Lines = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def load_yaml(path: Path) -> tuple[Any, Lines]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found.", path=path) from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read this file ({exc.__class__.__name__}).", path=path) from None
    return parse_yaml(text, path)


def line_of(lines: Lines, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest prefix of `loc` that the YAML has."""
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def first_error(exc: Any) -> dict[str, Any]:
    """The error to report: a misspelt field first, since it usually causes the 'missing' one."""
    errs = exc.errors()
    return next((e for e in errs if e["type"] == "extra_forbidden"), errs[0])


def pydantic_error(exc: Any, path: Path | str, lines: Lines, prefix: tuple[Any, ...] = (),
                   hide_prefix: bool = False) -> InputError:
    """Turn a pydantic validation error into one clear InputError."""
    err = first_error(exc)
    loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    # pydantic puts union branch names into loc; drop the ones the YAML does not have.
    clean: list[Any] = []
    for part in loc:
        if tuple(clean) + (part,) in lines or isinstance(part, int) or not clean or part in ("value",):
            clean.append(part)
        elif isinstance(part, str) and part.islower() and "[" not in part and "-" not in part:
            clean.append(part)
    shown = clean[len(prefix):] if hide_prefix else clean
    field = ".".join(str(p) for p in shown) or None
    msg = err["msg"]
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = "unknown field."
    elif kind == "missing":
        msg = "this field is required but missing."
    else:
        got = err.get("input")
        if not isinstance(got, dict | list):
            msg = f"{msg} (got {got!r})."
        else:
            msg += "."
    return InputError(msg, path=path, line=line_of(lines, tuple(clean)), field=field)
