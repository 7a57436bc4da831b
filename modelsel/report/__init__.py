"""Reports: terminal, Markdown decision record, self-contained HTML, JSON summary, CSV export.
Rendering reads only the summary, the call columns and the run folder's records, so any run
re-renders without calling a model; records are streamed from disk, never all held. Each format's
module is imported when that format is written (`--format json` loads no template engine)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from modelsel.run.calls import CallArrays
from modelsel.run.rundir import RunDir
from modelsel.run.timing import mark
from modelsel.schema import Summary

if TYPE_CHECKING:
    from modelsel.report.worker import ChartWorker

FORMATS = ("json", "md", "html", "csv")


def write_reports(folder: RunDir, summary: Summary, arr: CallArrays, formats: tuple[str, ...] = FORMATS,
                  worker: ChartWorker | None = None, meanwhile: Callable[[], None] | None = None) -> list[Path]:
    """records.jsonl is already in the folder (sorted from the trace, or rewritten by a rescore).
    With a chart `worker`, the charts are drawn in its process while the other reports are written
    and `meanwhile` runs (the terminal summary): the charts are the longest part of the end of a
    run, so nothing else waits for them."""
    written = []
    samples = None
    if "html" in formats and worker is not None:
        from modelsel.report.html import latency_samples

        samples = latency_samples(summary, arr)
        worker.send(summary, samples)
    mark("  worker sent")
    if "json" in formats:
        folder.write_summary(summary)
        written.append(folder.path / "summary.json")
    mark("  json")
    if "md" in formats:
        from modelsel.report.markdown import render_markdown

        focus = summary.decision.chosen or next(iter(summary.candidates), None)
        wrong = []
        if focus:
            for r in folder.records(candidates={focus}):
                if r.error or r.passed is False:
                    wrong.append(r)
                    if len(wrong) == 10:
                        break
        total = len(arr.of(focus)) if focus and len(arr) else 0
        written.append(folder.write_text("decision.md", render_markdown(summary, wrong, total)))
    mark("  md")
    if "csv" in formats:
        from modelsel.report.exports import write_csv

        written.append(write_csv(folder))
    mark("  csv")
    if "html" in formats:
        from modelsel.report.html import PLACEHOLDERS, fill_charts, render_html
        from modelsel.report.thumbs import Thumbs

        if worker is not None:
            page = render_html(summary, arr, lambda ex: folder.records(examples=ex), dict(PLACEHOLDERS),
                               Thumbs(folder.path))  # while the charts are drawn
            mark("  html rendered")
            if meanwhile is not None:
                meanwhile()
                meanwhile = None
            page = fill_charts(page, worker.result(summary, samples or {}))
            mark("  charts back")
        else:
            page = render_html(summary, arr, lambda ex: folder.records(examples=ex), thumbs=Thumbs(folder.path))
        written.append(folder.write_text("report.html", page))
    elif worker is not None:
        worker.close()
    if meanwhile is not None:
        meanwhile()
    return written
