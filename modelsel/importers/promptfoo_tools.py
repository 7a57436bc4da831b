"""What a promptfoo config offers the model and asks of its answer: a provider's (or a prompt's)
`tools` / legacy `functions`, `tool_choice` / `function_call` and `response_format` json_schema
become the requirements' tools file, tool_choice and output schema; `is-valid-openai-tools-call`,
`tool-call-f1` and `is-json` with a schema become scorers. One tool list and one schema per
requirements file: a provider or prompt that differs is a TODO, never silently merged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from modelsel.inputs.tools import CHOICES, normalize_tools

TOOL_KEYS = ("tools", "functions", "tool_choice", "function_call", "response_format")


@dataclass
class Found:
    """The tooling read so far from the config."""

    tools: list[dict[str, Any]] | None = None
    tool_choice: str | None = None
    schema: dict[str, Any] | None = None
    schema_name: str = "output"
    strict: bool = True
    where: str = ""  # which provider or prompt the tools came from (for the TODO of one that differs)


def _resolved(v: Any, key: str, ctx: Any, load: Any) -> Any:
    if isinstance(v, str) and v.startswith("file://"):
        return load(ctx.path.parent, v, f"{key} file")[0]
    return v


def _as_tools(key: str, v: Any) -> Any:
    """promptfoo's forms as an OpenAI function-tool list: legacy `functions`, Gemini's
    `[{functionDeclarations: [...]}]`; Anthropic's `{name, input_schema}` is read as it is."""
    if key == "functions" and isinstance(v, list):
        return [{"type": "function", "function": f} for f in v]
    if isinstance(v, list) and v and all(isinstance(t, dict) and "functionDeclarations" in t for t in v):
        return [d for t in v for d in t["functionDeclarations"] or []]
    return v


def _choice(v: Any) -> str | None:
    if isinstance(v, str):
        return {"any": "required"}.get(v, v)
    if isinstance(v, dict):
        if v.get("type") in ("auto", "none"):
            return str(v["type"])
        if v.get("type") == "any":
            return "required"
        name = (v.get("function") or {}).get("name") if isinstance(v.get("function"), dict) else v.get("name")
        return str(name) if name else None
    return None


def take(found: Found, key: str, v: Any, loc: tuple[Any, ...], who: str, ctx: Any, load: Any) -> None:
    """One tools / tool_choice / response_format setting of `who` (a provider or a prompt)."""
    v = _resolved(v, key, ctx, load)
    if key in ("tools", "functions"):
        tools, problem = normalize_tools(_as_tools(key, v))
        if problem is not None:
            ctx.todo(loc, f"{who}'s {key} cannot be read as tool definitions ({problem[1]}): write the tools file by hand")
        elif found.tools is None:
            found.tools, found.where = tools, who
            ctx.note(f"{who}: {len(tools)} tool(s) -> the tools file ({', '.join(t['function']['name'] for t in tools)})")
        elif tools != found.tools:
            ctx.todo(loc, f"{who} offers other tools than {found.where}: a requirements file offers one tool list (an "
                          "example may carry its own `tools`); import it apart or give the examples their tools")
    elif key in ("tool_choice", "function_call"):
        choice = _choice(v)
        if choice is None:
            ctx.todo(loc, f"{who}'s {key} {json.dumps(v)[:60]} has no modelsel equivalent")
        elif found.tool_choice not in (None, choice):
            ctx.todo(loc, f"{who} sets tool_choice {choice}, another than {found.tool_choice}: one is kept")
        else:
            found.tool_choice = choice
    elif key == "response_format":
        _response_format(found, v, loc, who, ctx, load)


def _response_format(found: Found, v: Any, loc: tuple[Any, ...], who: str, ctx: Any, load: Any) -> None:
    if not isinstance(v, dict) or v.get("type") != "json_schema" or not isinstance(v.get("json_schema"), dict):
        kind = v.get("type") if isinstance(v, dict) else v
        ctx.todo(loc, f"{who}'s response_format {kind!r}: modelsel asks for structured output by a JSON Schema "
                      "(output.json_schema); a json scorer checks that the answer parses")
        return
    js = v["json_schema"]
    schema = _resolved(js.get("schema"), "schema", ctx, load)
    if not isinstance(schema, dict):
        ctx.todo(loc, f"{who}'s response_format has no schema modelsel can read")
        return
    if found.schema is None:
        found.schema, found.strict = schema, bool(js.get("strict", True))
        found.schema_name = str(js.get("name") or "output")
        ctx.note(f"{who}: response_format json_schema '{found.schema_name}' -> output.json_schema")
    elif schema != found.schema:
        ctx.todo(loc, f"{who} asks for another output schema than the first: a requirements file holds one "
                      "(output.json_schema); import it apart")


def assertion(base: str, v: Any, a: dict[str, Any], found: Found, m: Any, ctx: Any, loc: tuple[Any, ...],
              load: Any) -> dict[str, Any] | None:
    """A tool or schema assertion as a scorer (None: not one of these)."""
    if base in ("is-valid-openai-tools-call", "is-valid-openai-function-call"):
        return {"type": "valid_call"}
    if base == "tool-call-f1":
        names = v if isinstance(v, list) else [x.strip() for x in str(v or "").split(",") if x.strip()]
        names = [n if isinstance(n, str) else (n.get("function") or n).get("name") for n in names
                 if isinstance(n, str | dict)]
        if not names:
            ctx.todo(loc, "tool-call-f1 without the expected tool names")
            return None
        if m.expected is None:
            m.expected = {"tool_calls": [{"name": n} for n in names]}
        if a.get("threshold") is not None and float(a["threshold"]) < 1:
            ctx.todo(loc, f"tool-call-f1 threshold {a['threshold']}: modelsel scores the calls all or nothing "
                          "(the tools named, in any order)")
        return {"type": "tool_call", "any_order": True}
    if base == "is-json":
        schema = _resolved(v, "schema", ctx, load)
        if isinstance(schema, dict):
            return {"type": "json", "schema": schema}
        if found.tools and found.schema is None:  # promptfoo's output is the call object: is-json checks the call
            return {"type": "valid_call"}
    return None


def into_project(found: Found, slug: str, requirements: dict[str, Any], files: dict[str, str]) -> None:
    """The tools file and the output schema beside the requirements, and the fields naming them."""
    if found.tools:
        files[f"{slug}.tools.json"] = json.dumps(found.tools, indent=2, ensure_ascii=False) + "\n"
        requirements["tools"] = f"{slug}.tools.json"
        if found.tool_choice in CHOICES or (found.tool_choice and found.tool_choice in
                                            {t["function"]["name"] for t in found.tools}):
            requirements["tool_choice"] = found.tool_choice
    if found.schema is not None:
        files[f"{slug}.schema.json"] = json.dumps(found.schema, indent=2, ensure_ascii=False) + "\n"
        requirements["output"] = {"json_schema": f"{slug}.schema.json", "strict": found.strict,
                                  **({"name": found.schema_name} if found.schema_name != "output" else {})}
