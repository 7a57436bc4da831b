"""Turn an example into the request a candidate gets (each candidate may have its own template)."""

from __future__ import annotations

import functools
from typing import Any

from modelsel.errors import InputError
from modelsel.inputs.candidate import Candidate
from modelsel.inputs.evalset import Example
from modelsel.inputs.media import media_parts, wire_content


@functools.lru_cache(maxsize=256)
def compile_template(text: str) -> Any:
    import jinja2  # only candidates with a prompt template need it
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # Sandboxed: a template can format the example, never reach Python objects' internals
    # ({{ ''.__class__.__mro__ }}) or change what it is given.
    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
    env.filters["load"] = _load_json  # promptfoo's filter for a var holding JSON: imported templates keep working
    return env.from_string(text)  # compiling is most of a render's cost: once per template


def _load_json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


def render(candidate: Candidate, example: Example) -> tuple[list[dict[str, Any]], str]:
    """(chat messages, completion prompt) for this candidate and example. A message's content is
    text, or a list of parts ({"type": "text", "text"} and {"type": "image" | "file", "blob": Blob})
    that each provider puts in its own API's format; a template's text is followed by the
    example's images and files in the same user message."""
    if candidate.prompt:
        try:
            # An example's vars come last: an imported promptfoo test's own `input` is what its template means.
            text = compile_template(candidate.prompt).render({"input": example.text(), "expected": example.expected,
                                                       "tags": example.tags, "example": example, **example.vars})
        except Exception as exc:
            import jinja2

            if not isinstance(exc, jinja2.TemplateError):
                raise
            raise InputError(f"the prompt template of candidate '{candidate.id}' fails on example '{example.id}': {exc}.",
                             field="prompt") from None
        media = media_parts(example)
        msgs = [{"role": "user", "content": wire_content([{"type": "text", "text": text}], media) if media else text}]
    elif isinstance(example.input, str):
        text = example.input
        msgs = [{"role": "user", "content": text}]
    else:
        msgs = [m.wire() for m in example.input]
        text = example.text()
    if candidate.system:
        msgs = [{"role": "system", "content": candidate.system}] + [m for m in msgs if m["role"] != "system"]
    return msgs, text


def estimate_tokens(text: str) -> int:
    """A rough count (4 characters a token) for --dry-run and the budget guard, never for cost."""
    return max(1, len(text) // 4)


def expected_output_tokens(params: dict[str, Any]) -> int:
    return int(params.get("max_tokens") or params.get("max_output_tokens") or 256)


def request_tokens(candidate: Candidate, example: Example) -> tuple[int, int]:
    """(tokens of one request, of which the system prompt), about 4 characters a token: the larger
    of the chat messages (system prompt included) and the completion prompt, and the tools the
    candidate's params send with every request. Images and documents are counted apart
    (inputs/media.estimate_media_tokens): only a content part's text is counted here."""
    messages, prompt = render(candidate, example)
    chat = "".join(_text_of(m.get("content")) for m in messages)
    system = estimate_tokens(candidate.system) if candidate.system else 0
    return max(estimate_tokens(chat), estimate_tokens(prompt)) + tool_tokens(candidate.params), system


def _text_of(content: Any) -> str:
    """The text of a message's content: itself, or its text parts (never an image's base64)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or "" if isinstance(p, dict) else str(getattr(p, "text", "") or "")
                       for p in content)
    return ""


def tool_tokens(params: dict[str, Any]) -> int:
    """What the tool definitions in `params` add to every request (0 without any)."""
    import json

    tools = [params[k] for k in ("tools", "functions") if params.get(k)]
    return estimate_tokens(json.dumps(tools)) if tools else 0


def reasoning_budget(params: dict[str, Any]) -> int:
    """Thinking tokens the params allow beside the answer (Anthropic's thinking.budget_tokens,
    Gemini's thinking budget), 0 when none is stated."""
    for outer, inner in (("thinking", "budget_tokens"), ("thinking_config", "thinking_budget"),
                         ("thinkingConfig", "thinkingBudget")):
        v = params.get(outer)
        if isinstance(v, dict) and isinstance(v.get(inner), int) and not isinstance(v.get(inner), bool):
            return max(0, v[inner])
    return 0
