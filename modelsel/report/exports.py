"""records.csv: every call, one row, for spreadsheet users."""

from __future__ import annotations

import csv
import io

from modelsel.records import Record

COLUMNS = ["candidate", "example_id", "repeat", "tags", "input", "expected", "output", "score", "passed", "reason",
           "latency_ms", "ttft_ms", "input_tokens", "output_tokens", "cost_usd", "judge_cost_usd", "error",
           "error_kind", "attempts", "retry_wait_s", "cached", "replayed", "finish_reason", "started_at"]


def _cell(v: object) -> object:
    # A leading = + - @ makes spreadsheets run the cell as a formula: quote it.
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@"):
        return "'" + v
    return v


def records_csv(records: list[Record]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    for r in records:
        d = r.model_dump()
        d["tags"] = ";".join(r.tags)
        w.writerow([_cell(d.get(c)) for c in COLUMNS])
    return buf.getvalue()
