"""Bring an eval written elsewhere into modelsel's files: promptfoo configs, production traces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelsel.errors import InputError
from modelsel.inputs.textfile import atomic_write


def write_project(out: Path, slug: str, head: list[str], todos: list[str], requirements: dict[str, Any],
                  examples: list[dict[str, Any]], files: dict[str, str] | None = None) -> tuple[Path, Path]:
    """requirements/<slug>.yaml (`head` and the TODOs as comments), evalsets/<slug>.jsonl and any
    `files` beside the requirements, under `out`; nothing is written when any of them exists."""
    import yaml

    req_path, es_path = out / "requirements" / f"{slug}.yaml", out / "evalsets" / f"{slug}.jsonl"
    for p in (req_path, es_path, *(req_path.parent / name for name in files or {})):
        if p.exists():
            raise InputError("exists; choose another --out or --name, or remove it first.", path=p, field="--out")
    requirements["evalset"] = f"../evalsets/{slug}.jsonl"
    if todos:
        head = head + ["#", "# Not carried over (TODO):"] + [f"#   TODO {t}" for t in todos]
    body = yaml.safe_dump(requirements, sort_keys=False, allow_unicode=True, width=110)
    atomic_write(req_path, "\n".join(head) + "\n" + body)
    for name, text in (files or {}).items():
        atomic_write(req_path.parent / name, text)
    atomic_write(es_path, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples))
    return req_path, es_path
