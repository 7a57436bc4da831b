"""records.csv: every call, one row, for spreadsheet users. Streamed from records.jsonl, so a
run of any size converts without holding its records."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any

from modelsel.inputs.textfile import printable
from modelsel.run.records import Record
from modelsel.run.rundir import RunDir

COLUMNS = ["candidate", "example_id", "repeat", "tags", "input", "expected", "output", "score", "passed", "reason",
           "latency_ms", "attempt_latency_ms", "ttft_ms", "input_tokens", "output_tokens", "reasoning_tokens",
           "cached_input_tokens", "cost_usd", "judge_cost_usd", "error", "error_kind", "status", "attempts", "retry_kinds",
           "retry_wait_s", "retry_after_asked_s", "cached", "cold", "replayed",
           "finish_reason", "tool_calls", "tool_verdict", "valid", "label", "started_at"]
TEXT = ("input", "expected", "output", "reason", "error", "label")


FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(v: object) -> object:
    # Control characters (ESC, C1, bidirectional overrides) spelled out, as in every other file; then a
    # leading = + - @ (or a tab before one) makes spreadsheets run the cell as a formula: quote it,
    # whichever column it is in (a candidate id or a tag is text a user wrote too).
    if isinstance(v, str):
        v = "\r".join(printable(part) for part in v.split("\r"))  # line ends are CSV's to quote
        if v[:1] in FORMULA:
            return "'" + v
    return v


def row(r: Record | dict[str, Any]) -> list[object]:
    d = dict(r.model_dump(include=set(COLUMNS)) if isinstance(r, Record) else r)
    d["tags"] = ";".join(d.get("tags") or [])
    d["retry_kinds"] = ";".join(d.get("retry_kinds") or [])
    if d.get("tool_calls") is not None:  # each call as name(raw arguments), one per line
        d["tool_calls"] = "\n".join(f"{c.get('name')}({c.get('arguments')})" for c in d["tool_calls"])
    out = []
    for k in COLUMNS:
        v = d.get(k)
        if k in TEXT and v is not None and not isinstance(v, str):
            v = str(v)
        out.append("" if v is None else _cell(v))
    return out


def write_csv(folder: RunDir) -> Path:
    path = folder.path / "records.csv"
    fd, tmp = tempfile.mkstemp(dir=folder.path, prefix=".records.csv.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(COLUMNS)
            for d in folder.record_dicts():
                w.writerow(row(d))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
