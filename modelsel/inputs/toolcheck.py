"""`check` before any call, for tools and schemas: the requirements' tools file and output schema
load as valid JSON Schema, `tool_choice` names a tool, every expected call names a tool the example
offers and its arguments fit that tool's parameters, every expected object fits the output schema,
and the scorers that need tools or an object have them. Bad input names the file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelsel.errors import InputError, did_you_mean
from modelsel.inputs.evalset import EvalSet, Example
from modelsel.inputs.requirements import LoadedRequirements
from modelsel.inputs.tools import (
    CHOICES,
    Tooling,
    argument_problem,
    for_example,
    load_schema,
    load_tools,
)


def load_tooling(lr: LoadedRequirements) -> Tooling | None:
    """The requirements' tools, tool_choice and output schema, loaded and validated (None: none)."""
    r = lr.req
    tools: list[dict[str, Any]] = []
    if r.tools is not None:
        tools = load_tools(lr.confined(r.tools, "tools"))
    schema = None
    if r.output is not None:
        schema = load_schema(lr.confined(r.output.json_schema, "output", "json_schema"))
    if r.tool_choice is not None:
        if r.tool_choice not in CHOICES and r.tool_choice not in {t["function"]["name"] for t in tools}:
            names = [t["function"]["name"] for t in tools]
            raise InputError(f"tool_choice '{r.tool_choice}' is neither auto, required, none nor a tool in the tools "
                             "file.", path=lr.path, line=lr.line("tool_choice"), field="tool_choice",
                             hint=did_you_mean(r.tool_choice, set(names) | set(CHOICES))
                             or (f"Tools: {', '.join(names)}." if names else "No tools file is named (tools:)."))
    if not tools and r.tool_choice is None and schema is None:
        return None
    return Tooling(tuple(tools), r.tool_choice, schema, r.output.name if r.output else "output",
                   r.output.strict if r.output else True)


def tool_files(lr: LoadedRequirements) -> list[Path]:
    """The tools file and the output schema, for the run folder's copy of its inputs."""
    r = lr.req
    out = [lr.resolve(r.tools)] if r.tools else []
    if r.output is not None:
        out.append(lr.resolve(r.output.json_schema))
    return [p for p in out if p.exists()]


def _walk_types(specs: list[dict[str, Any]]) -> set[str]:
    from modelsel.inputs.scorers import types_used

    return types_used(specs)


def check_examples(lr: LoadedRequirements, es: EvalSet, tooling: Tooling | None, specs: list[dict[str, Any]]) -> None:
    """Every example's expected calls and objects, against what it is offered and its scorers."""
    from modelsel.scoring import example_specs

    for ex in es.examples:
        line = es.lines.get(ex.id)
        mine = for_example(tooling, ex.tools)
        types = _walk_types(example_specs(ex, specs))
        if types & {"tool_call", "valid_call"} and (mine is None or not mine.tools):
            raise InputError(f"example '{ex.id}' is scored with {sorted(types & {'tool_call', 'valid_call'})[0]}, but no "
                             "tools are offered: name a tools file in the requirements (tools:) or give the example its "
                             "own tools.", path=lr.path if ex.scorer is None else es.path,
                             line=lr.line("scoring") if ex.scorer is None else line, field="tools")
        if "tool_call" in types:
            if ex.expected_calls() is None:
                raise InputError(f"example '{ex.id}' is scored with tool_call, so its expected answer is "
                                 "{\"tool_calls\": [{\"name\": ..., \"arguments\": {...}}]} ([] when no tool should "
                                 "be called).", path=es.path, line=line, field="expected")
        _check_calls(ex, mine, es.path, line)
        if "json_fields" in types and not isinstance(ex.expected, dict):
            raise InputError(f"example '{ex.id}' is scored with json_fields, so its expected answer is the JSON object "
                             "the model should return.", path=es.path, line=line, field="expected")
        if tooling is not None and tooling.schema is not None and "json_fields" in types:
            _fits_schema(ex, tooling.schema, es.path, line)


def _check_calls(ex: Example, mine: Tooling | None, path: str, line: int | None) -> None:
    calls = ex.expected_calls()
    if calls is None:
        return
    for i, call in enumerate(calls):
        field = f"expected.tool_calls[{i}]"
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise InputError(f"example '{ex.id}': an expected call is {{\"name\": ..., \"arguments\": {{...}}}}.",
                             path=path, line=line, field=field)
        unknown = set(call) - {"name", "arguments"}
        if unknown:
            raise InputError(f"example '{ex.id}': unknown field '{sorted(unknown)[0]}' in an expected call.",
                             path=path, line=line, field=f"{field}.{sorted(unknown)[0]}")
        args = call.get("arguments")
        if args is None:  # no arguments given: the call is checked for its tool only
            args = {}
        elif not isinstance(args, dict):
            raise InputError(f"example '{ex.id}': an expected call's arguments are a JSON object.", path=path,
                             line=line, field=f"{field}.arguments")
        names = mine.names if mine is not None else []
        if call["name"] not in names:
            raise InputError(f"example '{ex.id}' expects a call of '{call['name']}', which is not among the tools "
                             "offered.", path=path, line=line, field=f"{field}.name",
                             hint=did_you_mean(call["name"], set(names))
                             or (f"Tools: {', '.join(names)}." if names else "No tools are offered."))
        why = argument_problem(mine, call["name"], args) if "arguments" in call else None
        if why is not None:
            raise InputError(f"example '{ex.id}': the expected {why}.", path=path, line=line,
                             field=f"{field}.arguments")


def _fits_schema(ex: Example, schema: dict[str, Any], path: str, line: int | None) -> None:
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(ex.expected), key=lambda e: list(e.path))
    if errors:
        at = "/".join(str(p) for p in errors[0].path)
        raise InputError(f"example '{ex.id}': the expected object breaks the output schema ({errors[0].message[:160]}"
                         f"{f' at {at}' if at else ''}).", path=path, line=line, field="expected")
