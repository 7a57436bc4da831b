"""records.csv: every call, one row, for spreadsheet users (built as a pandas DataFrame)."""

from __future__ import annotations

from modelsel.records import Record

COLUMNS = ["candidate", "example_id", "repeat", "tags", "input", "expected", "output", "score", "passed", "reason",
           "latency_ms", "ttft_ms", "input_tokens", "output_tokens", "cost_usd", "judge_cost_usd", "error",
           "error_kind", "attempts", "retry_wait_s", "cached", "cold", "replayed", "finish_reason", "started_at"]


def _cell(v: object) -> object:
    # A leading = + - @ makes spreadsheets run the cell as a formula: quote it.
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@"):
        return "'" + v
    return v


def records_frame(records: list[Record]):  # type: ignore[no-untyped-def]
    import pandas as pd

    rows = []
    for r in records:
        d = r.model_dump(include=set(COLUMNS))
        d["tags"] = ";".join(r.tags)
        rows.append(d)
    return pd.DataFrame(rows, columns=COLUMNS)


def records_csv(records: list[Record]) -> str:
    df = records_frame(records)
    for col in ("input", "expected", "output", "reason", "error"):
        df[col] = df[col].map(lambda v: _cell(v if v is None or isinstance(v, str) else str(v)))
    return df.to_csv(index=False)
