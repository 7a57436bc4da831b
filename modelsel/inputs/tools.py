"""What an app offers the model and the shape its answer must take: the tools file (OpenAI's
function-tool list, the bare `{name, description, parameters}` form accepted), `tool_choice`, and an
output JSON Schema. Loaded once, validated as JSON Schema with the file and line of a mistake, and
carried with every request as one `Tooling` that each provider writes in its own wire format."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelsel.errors import InputError
from modelsel.inputs.textfile import MAX_REQUIREMENTS_BYTES, read_text
from modelsel.inputs.yamlsrc import Lines, line_of, parse_yaml

TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI, Anthropic and Gemini all accept
CHOICES = ("auto", "required", "none")
EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class Tooling:
    """Tools offered (OpenAI function-tool form), how the model may use them, and the output schema."""

    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | None = None  # auto | required | none | a tool's name
    schema: dict[str, Any] | None = None  # the answer's JSON Schema (structured output)
    schema_name: str = "output"
    strict: bool = True

    @property
    def names(self) -> list[str]:
        return [t["function"]["name"] for t in self.tools]

    def parameters(self, name: str) -> dict[str, Any] | None:
        for t in self.tools:
            if t["function"]["name"] == name:
                return t["function"].get("parameters") or EMPTY_PARAMETERS
        return None

    def forced(self) -> str | None:
        """The one tool `tool_choice` names, or None for auto / required / none."""
        return self.tool_choice if self.tool_choice not in (None, *CHOICES) else None

    def key(self) -> dict[str, Any]:
        """What the response cache keys on: an answer to other tools or another schema is another answer."""
        return {"tools": list(self.tools), "tool_choice": self.tool_choice, "schema": self.schema,
                "strict": self.strict}

    def text(self) -> str:
        """The definitions as sent (for --dry-run's estimate: tool definitions are input tokens)."""
        return json.dumps(self.key(), ensure_ascii=False) if (self.tools or self.schema) else ""

    def with_tools(self, tools: list[dict[str, Any]]) -> Tooling:
        return Tooling(tuple(tools), self.tool_choice, self.schema, self.schema_name, self.strict)


def schema_problem(schema: Any) -> str | None:
    """Why `schema` is not a JSON Schema, or None."""
    import jsonschema

    if not isinstance(schema, dict | bool):
        return f"a JSON Schema is an object, not {type(schema).__name__}"
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        at = "/".join(str(p) for p in exc.path)
        return f"not a valid JSON Schema ({exc.message[:200]}{f' at {at}' if at else ''})"
    return None


def normalize_tool(raw: Any) -> tuple[dict[str, Any] | None, str | None, str]:
    """(the tool in OpenAI's form, or None; what is wrong; the field it is in). Accepts
    `{"type": "function", "function": {...}}`, the bare `{name, description, parameters}` and
    Anthropic's `{name, description, input_schema}`."""
    if not isinstance(raw, dict):
        return None, "a tool is an object ({\"type\": \"function\", \"function\": {name, description, parameters}})", ""
    fn, at = raw, ""
    if "function" in raw:
        if raw.get("type", "function") != "function":
            return None, f"only function tools can be offered, not type '{raw.get('type')}'", "type"
        fn, at = raw["function"], "function."
        if not isinstance(fn, dict):
            return None, "'function' is an object {name, description, parameters}", "function"
    unknown = set(fn) - {"name", "description", "parameters", "input_schema", "strict", "type"}
    if unknown:
        return None, f"unknown field '{sorted(unknown)[0]}' in a tool definition", at + sorted(unknown)[0]
    name = fn.get("name")
    if not isinstance(name, str) or not TOOL_NAME.match(name):
        return None, (f"a tool's name is 1-64 letters, digits, _ or - (got {name!r})" if name is not None
                      else "a tool needs a name"), at + "name"
    params = fn.get("parameters", fn.get("input_schema", EMPTY_PARAMETERS))
    field = at + ("parameters" if "parameters" in fn or "input_schema" not in fn else "input_schema")
    if (why := schema_problem(params)) is not None:
        return None, f"tool '{name}': {why}", field
    if not isinstance(params, dict) or params.get("type", "object") != "object":
        return None, f"tool '{name}': its parameters are an object schema (\"type\": \"object\")", field
    desc = fn.get("description")
    if desc is not None and not isinstance(desc, str):
        return None, f"tool '{name}': its description is text", at + "description"
    out: dict[str, Any] = {"name": name, "parameters": params}
    if desc:
        out["description"] = desc
    return {"type": "function", "function": out}, None, ""


def normalize_tools(raw: Any) -> tuple[list[dict[str, Any]], tuple[int | None, str, str] | None]:
    """(tools in OpenAI's form, first problem as (index, message, field) or None)."""
    if isinstance(raw, dict) and isinstance(raw.get("tools"), list):
        raw = raw["tools"]
    if not isinstance(raw, list):
        return [], (None, "a tools file is a list of tool definitions (OpenAI's function-tool format)", "")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, t in enumerate(raw):
        tool, why, field = normalize_tool(t)
        if tool is None:
            return out, (i, why or "", field)
        name = tool["function"]["name"]
        if name in seen:
            return out, (i, f"two tools are named '{name}'", "name")
        seen.add(name)
        out.append(tool)
    return out, None


def _read(path: Path, what: str) -> tuple[Any, Lines]:
    if not path.exists():
        raise InputError(f"{what} not found.", path=path)
    text = read_text(path, MAX_REQUIREMENTS_BYTES, what)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno}).", path=path, line=exc.lineno) from None
        try:  # JSON is YAML too: read once more for the line of every key
            return data, parse_yaml(text, path)[1]
        except InputError:
            return data, {}
    return parse_yaml(text, path)


def load_tools(path: Path) -> list[dict[str, Any]]:
    """A tools file (JSON or YAML): OpenAI's function-tool list, validated."""
    data, lines = _read(path, "tools file")
    tools, problem = normalize_tools(data)
    if problem is not None:
        i, msg, field = problem
        prefix: tuple[Any, ...] = ("tools",) if isinstance(data, dict) else ()
        loc = prefix + ((i,) if i is not None else ())
        sub = tuple(field.split(".")) if field else ()
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc + sub).lstrip(".") or None
        raise InputError(f"{msg}.", path=path, line=line_of(lines, loc + sub), field=where)
    if not tools:
        raise InputError("the tools file lists no tools.", path=path, line=1)
    return tools


def load_schema(path: Path) -> dict[str, Any]:
    """An output JSON Schema file (JSON or YAML), validated."""
    data, _lines = _read(path, "JSON Schema file")
    if (why := schema_problem(data)) is not None:
        raise InputError(f"{why}.", path=path, line=1)
    if not isinstance(data, dict):
        raise InputError("an output schema is an object schema.", path=path, line=1)
    return data


def for_example(base: Tooling | None, example_tools: list[dict[str, Any]] | None) -> Tooling | None:
    """The tooling one example is asked with: its own `tools` replace the requirements' list."""
    if example_tools is None:
        return base
    return (base or Tooling()).with_tools(example_tools)


def parse_arguments(raw: Any) -> tuple[Any, str | None]:
    """A call's arguments as parsed JSON, or (None, why not). Arguments are sent as JSON text by
    OpenAI and as objects by Anthropic and Gemini (kept as their JSON text)."""
    if isinstance(raw, dict):
        return raw, None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, None
    try:
        got = json.loads(raw)
    except (json.JSONDecodeError, TypeError, RecursionError) as exc:
        return None, f"arguments are not JSON ({getattr(exc, 'msg', type(exc).__name__)})"
    if not isinstance(got, dict):
        return None, f"arguments are JSON but not an object ({type(got).__name__})"
    return got, None


def argument_problem(tooling: Tooling | None, name: str, arguments: Any) -> str | None:
    """Why a call cannot be one of the offered tools with valid arguments, or None."""
    import jsonschema

    if tooling is None or tooling.parameters(name) is None:
        return f"'{name}' is not a tool that was offered"
    errors = sorted(jsonschema.Draft202012Validator(tooling.parameters(name)).iter_errors(arguments),
                    key=lambda e: list(e.path))
    if errors:
        at = "/".join(str(p) for p in errors[0].path)
        return f"arguments of '{name}' break its parameters ({errors[0].message[:120]}{f' at {at}' if at else ''})"
    return None
