"""One evaluation session on disk: run folder, cache, progress, trace, reports.
Shared by `modelsel eval` and `modelsel review`."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from modelsel import pipeline
from modelsel.records import Record, dumps
from modelsel.report import write_reports
from modelsel.report.terminal import print_summary
from modelsel.runner import NOT_JUDGED, RunConfig
from modelsel.store import Cache, RunFolder, cache_path

INTERRUPTED = 130


def _prompt_files(inp: pipeline.Inputs) -> list[Path]:
    files = []
    for spec in inp.lr.req.candidates:
        if spec.prompt and "{{" not in spec.prompt and "\n" not in spec.prompt:
            p = inp.lr.resolve(spec.prompt)
            if p.exists():
                files.append(p)
    return files


def _progress(scr: pipeline.Screened, per_candidate: int, folder: RunFolder, err: Console) -> tuple[Any, Any]:
    """A bar per candidate with calls done, errors and spend; every call goes to the trace as it finishes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    prog = Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("errors {task.fields[errors]}  ${task.fields[spend]:.4f}"), TimeElapsedColumn(),
                    console=err) if err.is_terminal else None
    tasks = {}
    state = {c.id: [0, 0.0] for c in scr.runnable}
    if prog is not None:
        for c in scr.runnable:
            tasks[c.id] = prog.add_task(c.id[:28], total=per_candidate, errors=0, spend=0.0)

    def on_record(rec: Record) -> None:
        folder.trace(dumps(rec))
        st = state[rec.candidate]
        st[0] += 1 if rec.error else 0
        st[1] += 0.0 if rec.cached else rec.cost_usd
        if prog is not None:
            prog.update(tasks[rec.candidate], advance=1, errors=st[0], spend=st[1])

    return (prog if prog is not None else nullcontext()), on_record


def run_session(inp: pipeline.Inputs, scr: pipeline.Screened, cfg: RunConfig, out: Path | None, reports_root: Path,
                no_cache: bool, console: Console, err: Console, quiet: bool = False) -> tuple[Path, dict[str, Any] | None, int]:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    folder = RunFolder.create(out, reports_root, inp.lr.path.stem)
    folder.copy_inputs([inp.lr.path, Path(inp.evalset.path)] + _prompt_files(inp))
    cache = Cache(cache_path(reports_root), read=not no_cache)
    progress, on_record = _progress(scr, len(inp.evalset.examples) * cfg.repeat, folder, err)
    try:
        with progress:
            outcome = pipeline.execute(inp, scr, cfg, cache, on_record)
    except KeyboardInterrupt:
        err.print(f"[yellow]Interrupted.[/yellow] Finished calls are saved in {cache_path(reports_root)} and "
                  f"{folder.path}/trace.jsonl; run the same command again to resume without paying for them.")
        return folder.path, None, INTERRUPTED
    finally:
        cache.close()
        folder.close()
    for c in scr.runnable:
        got = [r for r in outcome.records if r.candidate == c.id]
        errs = sum(1 for r in got if r.error)
        if errs:
            kinds = sorted({r.error_kind or "?" for r in got if r.error})
            err.print(f"[yellow]{c.id}: {errs} of {len(got)} calls failed after retries ({', '.join(kinds)}).[/yellow]")
    if outcome.budget_stopped:
        err.print(f"[yellow]Budget guard: stopped at ${outcome.spent_usd:.4f} of ${cfg.max_cost_usd}; "
                  f"{outcome.skipped_budget} calls not made.[/yellow]")
    records = pipeline.score(inp, outcome.records, cfg, outcome.budget)
    not_judged = sum(1 for r in records if r.reason == NOT_JUDGED)
    if not_judged:
        err.print(f"[yellow]Budget guard: {not_judged} answers were not judged; they are left out of quality.[/yellow]")
    summary = pipeline.analyse(inp, scr, records, outcome, cfg, started)
    write_reports(folder.path, summary, records)
    if not quiet:
        print_summary(console, summary, str(folder.path))
    return folder.path, summary, 0 if summary["decision"]["chosen"] else 1
