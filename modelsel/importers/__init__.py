"""Bring an eval written elsewhere into modelsel's files: promptfoo configs, production traces.

Everything an importer writes comes from outside text (span attributes, provider ids, prompts), so the
files are written by emitters only, never by string formatting: the YAML body by PyYAML with every string
that holds a line break or a control character double-quoted (where YAML escapes it), the comments with
such characters spelled out, and the result read back and compared with what was meant before anything
is written. A line break that became a live YAML line could point the judge at another host, and the
judge would be sent the API key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelsel.errors import InputError
from modelsel.inputs.textfile import LINE_BREAKS, atomic_write, jsonl_line, spelled, unsafe_char


def _dumper() -> type:
    import yaml

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
    import yaml

    head = [c if c.startswith("#") else f"# {c}" for c in map(spelled, comments)]
    body = yaml.dump(data, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=110)
    text = "".join(line + "\n" for line in head) + body
    if any(ch in LINE_BREAKS - {"\n"} for ch in text) or yaml.safe_load(text) != data:
        raise InputError("the imported text would not read back as it was written; nothing was written. "
                         "Report this with the file that caused it.", field="requirements")
    return text


def write_project(out: Path, slug: str, head: list[str], todos: list[str], requirements: dict[str, Any],
                  examples: list[dict[str, Any]], files: dict[str, str] | None = None) -> tuple[Path, Path]:
    """requirements/<slug>.yaml (`head` and the TODOs as comments), evalsets/<slug>.jsonl and any
    `files` beside the requirements, under `out`; nothing is written when any of them exists."""
    req_path, es_path = out / "requirements" / f"{slug}.yaml", out / "evalsets" / f"{slug}.jsonl"
    for p in (req_path, es_path, *(req_path.parent / name for name in files or {})):
        if p.exists():
            raise InputError("exists; choose another --out or --name, or remove it first.", path=p, field="--out")
    requirements["evalset"] = f"../evalsets/{slug}.jsonl"
    comments = list(head)
    if todos:
        comments += ["#", "# Not carried over (TODO):"] + [f"#   TODO {t}" for t in todos]
    text = yaml_text(requirements, comments)
    lines = "".join(jsonl_line(e) for e in examples)
    atomic_write(req_path, text)
    for name, body in (files or {}).items():
        atomic_write(req_path.parent / name, body)
    atomic_write(es_path, lines)
    return req_path, es_path
