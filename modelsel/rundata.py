"""Read a finished run folder back: summary.json and records.jsonl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelsel.errors import InputError
from modelsel.records import Record, read_records


def load_run(folder: Path) -> tuple[dict[str, Any], list[Record]]:
    s, r = folder / "summary.json", folder / "records.jsonl"
    if not folder.is_dir():
        raise InputError("not a folder: expected a run folder written by `modelsel eval`.", path=folder)
    if not s.exists() or not r.exists():
        raise InputError("not a finished run folder (summary.json or records.jsonl missing).", path=folder)
    try:
        summary = json.loads(s.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"summary.json is not valid JSON ({exc.msg}).", path=s, line=exc.lineno) from None
    if summary.get("schema_version") != 1:
        raise InputError(f"unsupported summary schema_version {summary.get('schema_version')!r} (this modelsel reads 1).",
                         path=s, field="schema_version")
    return summary, read_records(r)


def newest_run_for(requirements: Path, reports_root: Path) -> Path | None:
    want = requirements.resolve()
    best: tuple[str, Path] | None = None
    if not reports_root.is_dir():
        return None
    for s in reports_root.glob("*/summary.json"):
        try:
            data = json.loads(s.read_text(encoding="utf-8"))
            req = Path(data["run"]["requirements"])
        except (OSError, ValueError, KeyError):
            continue
        if req.resolve() == want or (not req.is_absolute() and (Path.cwd() / req).resolve() == want):
            stamp = data["run"].get("finished_at", "")
            if best is None or stamp > best[0]:
                best = (stamp, s.parent)
    return best[1] if best else None
