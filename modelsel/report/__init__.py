"""Reports: terminal, Markdown decision record, self-contained HTML, JSON summary, CSV export.
Rendering reads only the summary, the call columns and the run folder's records, so any run
re-renders without calling a model; records are streamed from disk, never all held."""

from __future__ import annotations

from pathlib import Path

from modelsel.calls import CallArrays
from modelsel.rundir import RunDir
from modelsel.schema import Summary

FORMATS = ("json", "md", "html", "csv")


def write_reports(folder: RunDir, summary: Summary, arr: CallArrays, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """records.jsonl is already in the folder (streamed as calls finished, or rewritten by a rescore)."""
    written = []
    if "json" in formats:
        folder.write_summary(summary)
        written.append(folder.path / "summary.json")
    if "md" in formats:
        from modelsel.report.markdown import render_markdown

        focus = summary.decision.chosen or next(iter(summary.candidates), None)
        wrong = []
        for r in folder.records():
            if r.candidate == focus and (r.error or r.passed is False) and len(wrong) < 10:
                wrong.append(r)
        total = len(arr.of(focus)) if focus and len(arr) else 0
        written.append(folder.write_text("decision.md", render_markdown(summary, wrong, total)))
    if "csv" in formats:
        from modelsel.report.exports import write_csv

        written.append(write_csv(folder))
    if "html" in formats:
        from modelsel.report.html import render_html

        written.append(folder.write_text("report.html", render_html(summary, arr, folder.records())))
    return written
