"""One evaluation on disk: run folder, cache, progress, streamed records, reports.
Shared by `modelsel eval` and `modelsel review`."""

from __future__ import annotations

import asyncio
import importlib
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from modelsel import pipeline
from modelsel.calls import CallArrays, Calls
from modelsel.records import Record
from modelsel.report.worker import ChartWorker
from modelsel.rundir import RunDir
from modelsel.runner import RunConfig, RunOutcome, run_eval
from modelsel.schema import Summary
from modelsel.store import Cache, cache_path
from modelsel.timing import mark

INTERRUPTED = 130

# What the statistics and reports import after the last answer (numpy alone takes 80 ms): loaded
# in a thread while the first calls are in flight, so the record is written sooner after it.
AFTER_CALLS = ("numpy", "numpy.ma", "jinja2", "modelsel.metrics", "modelsel.decision", "modelsel.strategies",
               "modelsel.history", "modelsel.report.markdown", "modelsel.report.html", "modelsel.report.exports")


def _preload() -> None:
    for name in AFTER_CALLS:
        try:
            importlib.import_module(name)
        except Exception:  # the main thread will import it when needed, and report any problem then
            pass


async def _preload_when_idle() -> None:
    """Start the preload once the event loop has nothing to run for a moment: the first wave of
    calls has been sent and is waiting for its answers (a thread importing beside a busy loop would
    slow the sending of the next wave). After 2 s it starts anyway."""
    loop = asyncio.get_running_loop()
    ready = getattr(loop, "_ready", None)  # CPython's queue of runnable callbacks
    idle = 0
    for _ in range(400):
        await asyncio.sleep(0.005)
        idle = idle + 1 if ready is not None and len(ready) == 0 else 0
        if idle >= 3:
            break
    threading.Thread(target=_preload, name="modelsel-preload", daemon=True).start()


@dataclass
class SessionResult:
    """What a session ran: its folder, summary and call columns (so `review` need not read
    them back from disk), and the exit code."""

    folder: Path
    summary: Summary | None
    calls: CallArrays | None
    code: int


def _prompt_files(inp: pipeline.Inputs) -> list[Path]:
    files = []
    for spec in inp.lr.req.candidates:
        if spec.prompt and "{{" not in spec.prompt and "\n" not in spec.prompt:
            p = inp.lr.resolve(spec.prompt)
            if p.exists():
                files.append(p)
    return files


class _Progress:
    """A bar per candidate with calls done, errors and spend (only on a terminal)."""

    def __init__(self, scr: pipeline.Screened, per_candidate: int, err: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.prog = Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("errors {task.fields[errors]}  ${task.fields[spend]:.4f}"), TimeElapsedColumn(),
                             console=err) if err.is_terminal else None
        self.tasks: dict[str, Any] = {}
        self.state = {c.id: [0, 0.0] for c in scr.runnable}
        if self.prog is not None:
            for c in scr.runnable:
                self.tasks[c.id] = self.prog.add_task(c.id[:28], total=per_candidate, errors=0, spend=0.0)

    def __enter__(self) -> Any:
        return (self.prog or nullcontext()).__enter__()

    def __exit__(self, *exc: object) -> None:
        (self.prog or nullcontext()).__exit__(*exc)

    def update(self, rec: Record) -> None:
        st = self.state[rec.candidate]
        st[0] += 1 if rec.error else 0
        st[1] += 0.0 if rec.cached else rec.cost_usd
        if self.prog is not None:
            self.prog.update(self.tasks[rec.candidate], advance=1, errors=st[0], spend=st[1])


async def _run(inp: pipeline.Inputs, scr: pipeline.Screened, cfg: RunConfig, cache: Cache, folder: RunDir,
               calls: Calls, progress: _Progress) -> RunOutcome:
    """Calls, each scored as it finishes and streamed to records.jsonl; only columns are kept."""
    from modelsel.runner import Budget

    budget = Budget(cfg.max_cost_usd)
    scorer = pipeline.scorer(inp, cfg, budget)

    async def on_record(rec: Record) -> None:
        await scorer.score(rec)
        folder.trace(rec)
        calls.add(rec)
        progress.update(rec)

    preload = asyncio.create_task(_preload_when_idle())
    try:
        outcome = await run_eval(scr.runnable, scr.providers, inp.evalset.examples, cfg, cache, on_record, budget=budget)
    finally:
        preload.cancel()
        await scorer.aclose()
    return outcome


def run_session(inp: pipeline.Inputs, scr: pipeline.Screened, cfg: RunConfig, out: Path | None, reports_root: Path,
                no_cache: bool, console: Console, err: Console, quiet: bool = False) -> SessionResult:
    from modelsel.report import write_reports
    from modelsel.report.terminal import print_summary

    started = datetime.now(UTC).isoformat(timespec="seconds")
    folder = RunDir.create(out, reports_root, inp.lr.path.stem)
    folder.copy_inputs([inp.lr.path, Path(inp.evalset.path)] + _prompt_files(inp))
    cache = Cache(cache_path(reports_root), read=not no_cache)
    calls = Calls()
    progress = _Progress(scr, len(inp.evalset.examples) * cfg.repeat, err)
    worker = ChartWorker.start()  # loads matplotlib in its own process while the calls run
    mark("calls start")
    try:
        with progress:
            outcome = asyncio.run(_run(inp, scr, cfg, cache, folder, calls, progress))
    except KeyboardInterrupt:
        worker.close()
        err.print(f"[yellow]Interrupted.[/yellow] Finished calls are saved in {cache_path(reports_root)} and "
                  f"{folder.path}/trace.jsonl; run the same command again to resume without paying for them.")
        return SessionResult(folder.path, None, None, INTERRUPTED)
    finally:
        cache.close()
        folder.close()
    mark("calls done")
    order = [c.id for c in scr.runnable], [e.id for e in inp.evalset.examples]
    folder.sort_records(*order)
    arr = calls.arrays().ordered(*order)
    _warn(scr, arr, outcome, cfg, err)
    facts = pipeline.RunFacts(started_at=started, spent_usd=outcome.spent_usd, budget_stopped=outcome.budget_stopped,
                              calls_not_made=outcome.skipped_budget, not_run=outcome.not_run,
                              deadline_hit=outcome.deadline_hit)
    mark("records sorted")
    summary = pipeline.analyse(inp, scr, arr, facts, cfg)
    mark("analysed")
    write_reports(folder, summary, arr, worker=worker)
    mark("reports written")
    _remember(reports_root, summary, folder.path, err)
    if not quiet:
        print_summary(console, summary, str(folder.path))
    mark("printed")
    return SessionResult(folder.path, summary, arr, exit_code(summary))


def _remember(reports_root: Path, summary: Summary, folder: Path, err: Console, kind: str = "eval",
              holds: bool | None = None) -> None:
    """Append the run to the history store; a store that cannot be written is said, never fatal."""
    from modelsel import history
    from modelsel.errors import InputError

    try:
        history.record(reports_root, summary.model_dump(mode="json"), folder, kind, holds)
    except (OSError, InputError, Exception) as exc:  # noqa: B014 - the run is done; its history is a convenience
        err.print(f"[yellow]history not updated: {exc}[/yellow]")


def exit_code(summary: Summary) -> int:
    """0: a candidate meets the requirements; 1: none does, or the run's deadline left a
    candidate with fewer examples than the eval set has."""
    if not summary.decision.chosen:
        return 1
    if summary.run.deadline_hit:
        return 1
    return 0


def _warn(scr: pipeline.Screened, arr: CallArrays, outcome: RunOutcome, cfg: RunConfig, err: Console) -> None:
    for c in scr.runnable:
        mine = arr.of(c.id)
        errs = int(mine.error.sum())
        if errs:
            kinds = sorted(set(mine.error_kind[mine.error].tolist()))
            err.print(f"[yellow]{c.id}: {errs} of {len(mine)} calls failed after retries ({', '.join(kinds)}).[/yellow]")
    if outcome.budget_stopped:
        err.print(f"[yellow]Budget guard: stopped at ${outcome.spent_usd:.4f} of ${cfg.max_cost_usd}; "
                  f"{outcome.skipped_budget} calls not made.[/yellow]")
    if outcome.deadline_hit:
        err.print(f"[yellow]Deadline: {cfg.max_minutes:g} minutes passed; {sum(outcome.not_run.values())} calls were not "
                  "started. The decision rests on partial data: "
                  + ", ".join(f"{cid} n={len(set(arr.of(cid).example.tolist()))}" for cid in outcome.not_run) + ".[/yellow]")
    not_judged = int(((arr.passed < 0) & ~arr.error).sum()) if len(arr) else 0
    if not_judged:
        err.print(f"[yellow]Budget guard: {not_judged} answers were not judged; they are left out of quality.[/yellow]")


# --- review: re-run, then compare with the recorded decision -------------------------------------

def run_review(requirements: Path, against: Path | None, out: Path | None, reports_root: Path, no_cache: bool,
               cfg: RunConfig, console: Console, today: Any = None, allow: tuple[Path, ...] = ()) -> int:
    from datetime import date

    from modelsel.errors import InputError
    from modelsel.report.review import print_review, review_markdown, review_page
    from modelsel.review import compare_decisions, review_result
    from modelsel.rundir import newest_run_for

    today = today or date.today()
    base = against or newest_run_for(requirements, reports_root)
    if base is None:
        raise InputError(f"no earlier run for this requirements file under {reports_root}/; run `modelsel eval` first "
                         "or pass --against RUN_DIR.", path=requirements)
    old_rd = RunDir.open(base)
    old = old_rd.summary()
    old_calls = Calls.from_records(old_rd.records()).arrays()
    inp = pipeline.prepare(requirements, allow=allow)
    scr = pipeline.screen(inp)
    cfg.repeat = old.run.repeat
    res = run_session(inp, scr, cfg, out, reports_root, no_cache, console, Console(stderr=True), quiet=True)
    if res.summary is None or res.calls is None:
        return res.code
    prices = {c.id: (c.input_per_mtok, c.output_per_mtok) for c in inp.candidates}
    findings = compare_decisions(old, res.summary, old_calls, res.calls, prices, _passing_catalog_models(inp), today)
    result = review_result(old, res.summary, findings, str(base), str(res.folder))
    rd = RunDir(res.folder)
    rd.write_json("review.json", result.model_dump(mode="json"))
    rd.write_text("review.md", review_markdown(result))
    _remember(reports_root, res.summary, res.folder, Console(stderr=True), "review", result.holds)
    rd.write_text("review.html", review_page(result, res.summary, reports_root))
    print_review(console, result)
    return 0 if result.holds else 1


def _passing_catalog_models(inp: pipeline.Inputs) -> list[str]:
    """Catalog models that pass the shortlist's filters for these requirements."""
    from modelsel.shortlist import propose

    props, _ = propose(inp.lr, inp.evalset)
    return [p.id for p in props if not p.out]
