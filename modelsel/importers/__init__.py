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
from modelsel.inputs.textfile import atomic_write, atomic_write_bytes, jsonl_line
from modelsel.inputs.yamlsrc import yaml_text


def write_project(out: Path, slug: str, head: list[str], todos: list[str], requirements: dict[str, Any],
                  examples: list[dict[str, Any]], files: dict[str, str] | None = None,
                  media: dict[str, Path] | None = None) -> tuple[Path, Path]:
    """requirements/<slug>.yaml (`head` and the TODOs as comments), evalsets/<slug>.jsonl, any
    `files` beside the requirements and `media` (images and documents, by their path relative to the
    eval set) beside the eval set, under `out`; nothing is written when any of them exists."""
    req_path, es_path = out / "requirements" / f"{slug}.yaml", out / "evalsets" / f"{slug}.jsonl"
    for p in (req_path, es_path, *(req_path.parent / name for name in files or {}),
              *(es_path.parent / rel for rel in media or {})):
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
    for rel, src in (media or {}).items():
        atomic_write_bytes(es_path.parent / rel, src.read_bytes())
    atomic_write(es_path, lines)
    return req_path, es_path
