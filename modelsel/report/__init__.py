"""Reports: terminal, Markdown decision record, self-contained HTML, JSON summary, CSV export.
Rendering reads only the summary and records, so any run re-renders without calling a model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelsel.records import Record, dumps
from modelsel.store import atomic_write, write_json

FORMATS = ("json", "md", "html", "csv")


def write_reports(folder: Path, summary: dict[str, Any], records: list[Record], formats: tuple[str, ...] = FORMATS) -> list[Path]:
    written = []
    if "json" in formats:
        write_json(folder / "summary.json", summary)
        atomic_write(folder / "records.jsonl", "".join(dumps(r) + "\n" for r in records))
        written += [folder / "summary.json", folder / "records.jsonl"]
    if "md" in formats:
        from modelsel.report.markdown import render_markdown

        atomic_write(folder / "decision.md", render_markdown(summary, records))
        written.append(folder / "decision.md")
    if "csv" in formats:
        from modelsel.report.exports import records_csv

        atomic_write(folder / "records.csv", records_csv(records))
        written.append(folder / "records.csv")
    if "html" in formats:
        from modelsel.report.html import render_html

        atomic_write(folder / "report.html", render_html(summary, records))
        written.append(folder / "report.html")
    return written
