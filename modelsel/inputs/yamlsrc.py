"""Load YAML and remember the line of every key, so errors can point at it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from modelsel.errors import InputError
from modelsel.inputs.textfile import (
    LINE_BREAKS,
    MAX_DEPTH,
    MAX_REQUIREMENTS_BYTES,
    MAX_YAML_VALUES,
    check_strings,
    read_text,
    spelled,
    unsafe_char,
)

Lines = dict[tuple[Any, ...], int]


def _check(node: yaml.Node, path: str | Path) -> None:
    """Refuse what would eat the machine or lose data silently, before anything is built from the
    YAML: aliases that expand past MAX_YAML_VALUES (a 'billion laughs' file composes to a few nodes
    and expands to billions), nesting past MAX_DEPTH, integers too long to read, duplicate keys (YAML
    keeps the last one without a word)."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node, depth: int) -> int:
        if id(n) in sizes:
            return sizes[id(n)]
        if depth > MAX_DEPTH:
            raise InputError(f"nested more than {MAX_DEPTH} levels deep.", path=path, line=n.start_mark.line + 1)
        total = 1
        if isinstance(n, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for k, v in n.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    if k.value in seen:
                        raise InputError(f"the key '{k.value}' appears twice in one mapping (first on line {seen[k.value]}); "
                                         "YAML would keep only the last.", path=path, line=k.start_mark.line + 1,
                                         field=str(k.value))
                    seen[k.value] = k.start_mark.line + 1
                total += size(k, depth + 1) + size(v, depth + 1)
        elif isinstance(n, yaml.SequenceNode):
            for v in n.value:
                total += size(v, depth + 1)
        elif n.tag == "tag:yaml.org,2002:int" and len(n.value) > 1000:
            raise InputError(f"an integer of {len(n.value):,} digits is not a value this file can hold.", path=path,
                             line=n.start_mark.line + 1)
        if total > MAX_YAML_VALUES:
            raise InputError(f"this YAML expands to more than {MAX_YAML_VALUES:,} values through its aliases (&/*); "
                             "refused before it is built.", path=path, line=n.start_mark.line + 1)
        sizes[id(n)] = total
        return total

    size(node, 0)


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: Lines, seen: set[int] | None = None) -> None:
    """The line of every key, each node visited once (an alias's target already has its lines)."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = path + (key.value,)
            lines[sub] = key.start_mark.line + 1
            _walk(value, sub, lines, seen)
            lines[sub] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines, seen)


def _yaml12_bools(node: yaml.Node, seen: set[int]) -> None:
    """YAML 1.2's booleans (what promptfoo's js-yaml reads): `yes`, `no`, `on`, `off` stay strings."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
            node.tag = "tag:yaml.org,2002:str"
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            _yaml12_bools(k, seen)
            _yaml12_bools(v, seen)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            _yaml12_bools(v, seen)


def parse_yaml(text: str, path: str | Path, yaml12: bool = False) -> tuple[Any, Lines]:
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or str(exc)
            # An unclosed bracket or quote is found at the end of the file; its opening line helps more.
            if exc.context_mark is not None and ("<stream end>" in problem or "end of stream" in problem):
                mark = exc.context_mark
                problem += f", {exc.context} opened here"
            line = mark.line + 1 if mark else None
            raise InputError(f"this is not valid YAML ({problem}).", path=path, line=line) from None
        except yaml.YAMLError as exc:
            raise InputError(f"this is not valid YAML ({exc}).", path=path) from None
        except RecursionError:
            raise InputError(f"nested more than {MAX_DEPTH} levels deep.", path=path) from None
        if node is None:
            return None, {}
        _check(node, path)
        if yaml12:
            _yaml12_bools(node, set())
        try:
            data = loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise InputError(f"a value cannot be read ({exc.problem}).", path=path,
                             line=mark.line + 1 if mark else None) from None
        except (ValueError, OverflowError, RecursionError) as exc:
            raise InputError(f"a value cannot be read ({str(exc)[:120]}).", path=path) from None
    finally:
        loader.dispose()
    lines: Lines = {}
    _walk(node, (), lines)
    check_strings(data, path)
    return data, lines


def load_yaml(path: Path, limit: int = MAX_REQUIREMENTS_BYTES, what: str = "file") -> tuple[Any, Lines]:
    return parse_yaml(read_text(path, limit, what), path)


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


# --- writing: outside text through the emitter only (see modelsel/importers) ---

def _dumper() -> type:
    class Dumper(yaml.SafeDumper):
        """Double-quotes a string that holds a character YAML could read as a line break or that a
        terminal would act on: in double quotes the emitter writes it as an escape (\\L, \\N, \\x1b)."""

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = '"' if any(map(unsafe_char, value)) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper


def yaml_text(data: dict[str, Any], comments: list[str]) -> str:
    """The requirements file: `comments` as `# ` lines (outside text spelled out), then `data` as YAML.
    Refused (InputError) unless the text has no line break but LF and reads back as exactly `data`."""
    head = [c if c.startswith("#") else f"# {c}" for c in map(spelled, comments)]
    body = yaml.dump(data, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=110)
    text = "".join(line + "\n" for line in head) + body
    if any(ch in LINE_BREAKS - {"\n"} for ch in text) or yaml.safe_load(text) != data:
        raise InputError("the imported text would not read back as it was written; nothing was written. "
                         "Report this with the file that caused it.", field="requirements")
    return text
