"""One evaluation on disk: run folder, cache, progress, streamed records, reports.
Shared by `modelsel eval` and `modelsel review`.

What only the end of a run needs (the statistics and numpy, the latency pass, the history, the
review, the terminal summary) is imported inside the functions that use it, not here: every
module loaded at start is time before the first request goes out. They are loaded in a thread
while the first calls are in flight (AFTER_CALLS)."""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
import threading
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from modelsel import pipeline
from modelsel.errors import InputError, pending_stop
from modelsel.inputs.textfile import jsonl_line
from modelsel.redaction import redact
from modelsel.report import write_reports
from modelsel.report.console import SafeConsole
from modelsel.report.worker import ChartWorker
from modelsel.run.calls import CallArrays, Calls
from modelsel.run.control import Control, Distortion, window
from modelsel.run.records import Record
from modelsel.run.rundir import RunDir, newest_run_for, unfinished_runs
from modelsel.run.runner import Budget, RunConfig, RunOutcome, RunStopped, run_eval
from modelsel.run.store import Cache, CacheUnreadable, cache_path
from modelsel.run.timing import mark
from modelsel.schema import BatchCandidate, BatchRun, LoopLag, Summary, Supersedes
from modelsel.scoring import ScorerFailed

INTERRUPTED = 130

# What the statistics and reports import after the last answer (numpy alone takes 80 ms), and the
# report's template (compiled: 50-60 ms): loaded in a thread while the first calls are in flight,
# so the record is written sooner after the last answer. "module:function" calls the function too.
AFTER_CALLS = ("numpy", "numpy.ma", "jinja2", "modelsel.analysis.limits", "modelsel.analysis.metrics",
               "modelsel.analysis.decision", "modelsel.analysis.strategies", "modelsel.run.latency_pass",
               "modelsel.quarterly.history", "modelsel.report.terminal", "modelsel.report.markdown",
               "modelsel.report.html:template", "modelsel.report.exports")


def _preload() -> None:
    for name in AFTER_CALLS:
        module, _, func = name.partition(":")
        try:
            loaded = importlib.import_module(module)
            if func:
                getattr(loaded, func)()
        except Exception:  # the main thread will import it when needed, and report any problem then
            pass
    gc.freeze()  # loaded for good: no full collection walks it again (runner.run_eval says why)


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


LAG_TICK_S = 0.01  # the event loop is asked to wake every 10 ms; how late it wakes is its lag
LAG_FLAG_MS = 5.0  # above this at p95, the machine itself is queueing the calls' answers


async def _watch_lag(samples: list[float]) -> None:
    """How late the event loop wakes while calls are in flight: when it is busy (too many calls
    for the cores, or our own work), an answer that arrived waits that long before its clock
    stops. Measured, so the record can say when the machine was the limit."""
    loop = asyncio.get_running_loop()
    while True:
        t = loop.time()
        await asyncio.sleep(LAG_TICK_S)
        samples.append(max(0.0, (loop.time() - t - LAG_TICK_S) * 1000))


def lag_summary(samples: list[float]) -> dict[str, float] | None:
    if len(samples) < 20:
        return None
    xs = sorted(samples)

    def q(p: float) -> float:
        return round(xs[min(len(xs) - 1, int(p * len(xs)))], 2)

    return {"p50_ms": q(0.5), "p95_ms": q(0.95), "p99_ms": q(0.99), "max_ms": round(xs[-1], 2), "n": len(xs),
            "flagged": q(0.95) > LAG_FLAG_MS}


@dataclass
class SessionResult:
    """What a session ran: its folder, summary and call columns (so `review` need not read
    them back from disk), and the exit code."""

    folder: Path
    summary: Summary | None
    calls: CallArrays | None
    code: int


def _plain_every_s() -> float:
    """Seconds between plain progress lines off a terminal (MODELSEL_PROGRESS_EVERY_S, default 5)."""
    try:
        v = float(os.environ.get("MODELSEL_PROGRESS_EVERY_S", "5"))
    except ValueError:
        return 5.0
    return v if v > 0 else 5.0


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
        self.totals: dict[str, int] = {}
        self.per_candidate = per_candidate
        self.state = {c.id: [0, 0.0] for c in scr.runnable}
        self.done: dict[str, int] = {}
        self.err, self.t0 = err, time.monotonic()
        if self.prog is not None:
            for c in scr.runnable:
                self.tasks[c.id] = self.prog.add_task(c.id[:28], total=per_candidate, errors=0, spend=0.0)

    def __enter__(self) -> Any:
        return (self.prog or nullcontext()).__enter__()

    def __exit__(self, *exc: object) -> None:
        (self.prog or nullcontext()).__exit__(*exc)

    def batch_status(self, cid: str, st: Any) -> None:
        """A batched candidate's line shows its batch's state and the provider's request counts."""
        if self.prog is not None and cid in self.tasks:
            self.prog.update(self.tasks[cid], description=f"{cid[:16]} batch {st.state} {st.finished}/{st.total}"[:28])

    def resize(self, cid: str, total: int) -> None:
        self.totals[cid] = total
        if self.prog is not None and cid in self.tasks:
            self.prog.update(self.tasks[cid], total=total)

    def total(self, cid: str) -> int:
        return self.totals.get(cid, self.per_candidate)

    def update(self, rec: Record) -> None:
        st = self.state[rec.candidate]
        st[0] += 1 if rec.error else 0
        st[1] += 0.0 if rec.cached else rec.cost_usd
        self.done[rec.candidate] = self.done.get(rec.candidate, 0) + 1
        if self.prog is not None:
            self.prog.update(self.tasks[rec.candidate], advance=1, errors=st[0], spend=st[1])

    def line(self) -> str:
        """Where the run is, as one plain line (for a log that is not a terminal)."""
        parts = [f"{cid} {self.done.get(cid, 0)}/{self.total(cid)} (errors {st[0]}, ${st[1]:.4f})"
                 for cid, st in self.state.items()]
        return f"[{time.monotonic() - self.t0:.0f} s] " + "; ".join(parts)

    async def plain_lines(self) -> None:
        """Without a terminal (CI logs, a pipe): a plain line every few seconds, so a long run is
        never silent until its end. Nothing is printed when nothing moved."""
        if self.prog is not None or not self.state:
            return
        every = _plain_every_s()
        last = ""
        while True:
            await asyncio.sleep(every)
            now = self.line()
            if now.split("] ", 1)[1] != last:
                self.err.print(f"progress {now}", highlight=False, markup=False, soft_wrap=True)
                last = now.split("] ", 1)[1]

    def said(self, text: str) -> None:
        """A word about work the run adds (a latency pass), above the bars or as a plain line."""
        (self.prog.console if self.prog is not None else self.err).print(text, highlight=False, markup=False,
                                                                        soft_wrap=True)


async def _run(inp: pipeline.Inputs, scr: pipeline.Screened, cfg: RunConfig, cache: Cache, folder: RunDir,
               calls: Calls, progress: _Progress, lag_samples: list[float]) -> RunOutcome:
    """Calls, each scored as it finishes and streamed to records.jsonl; only columns are kept."""
    budget = Budget(cfg.max_cost_usd)
    scorer = pipeline.scorer(inp, cfg, budget)

    async def on_record(rec: Record) -> None:
        await scorer.score(rec)
        try:
            folder.trace(rec)
        except OSError as exc:  # a full disk, a file that cannot be written: stop, keep what is cached
            raise RunStopped(f"{folder.path / 'trace.jsonl'} could not be written ({exc.strerror or exc})", exc) from None
        calls.add(rec)
        progress.update(rec)

    preload = asyncio.create_task(_preload_when_idle())
    lag = asyncio.create_task(_watch_lag(lag_samples))
    plain = asyncio.create_task(progress.plain_lines())
    control, watch = _control(scr)
    t_quality = time.monotonic()
    plan, sample, extra = _batches(inp, scr, cfg, progress)

    async def after(ctx: Any, outcome: RunOutcome, slots: dict[str, Any], deliver: Any) -> None:
        await _latency_passes(inp, scr, cfg, calls, progress, control, t_quality, ctx, outcome, slots, deliver)

    try:
        if inp.judge_check and scorer.judge is not None:  # the judge grades answers people marked: its own error
            from modelsel.scoring.judge_check import grade, judge_spec

            # first: the run closes the endpoints' clients when its calls are done
            inp.judge_check_cost = await grade(inp.judge_check, judge_spec(inp.scoring), scorer.judge,
                                               inp.lr.req.pass_threshold)
        outcome = await run_eval(scr.runnable, scr.providers, inp.evalset.examples, cfg, cache, on_record, budget=budget,
                                 plan=plan, sample=sample, extra=extra, after=after)
    finally:
        preload.cancel()
        lag.cancel()
        plain.cancel()
        if watch is not None:
            watch.cancel()
        if control is not None:
            await control.aclose()
            control.stop()
        await scorer.aclose()
    return outcome


def _batches(inp: pipeline.Inputs, scr: pipeline.Screened, cfg: RunConfig, progress: _Progress
             ) -> tuple[dict[str, Any] | None, set[str] | None, Any]:
    """With --batch: each batched candidate's live latency sample (plan, sample) and the task that
    runs the batches beside the live calls (extra); (None, None, None) without."""
    from modelsel.batch.run import run_batches, sample_examples

    if not cfg.batch:
        return None, None, None

    batched = [c for c in scr.runnable if cfg.batch.get(c.id) is None]
    few = sample_examples(inp.evalset.examples, cfg.latency_sample)
    for c in batched:
        progress.resize(c.id, len(inp.evalset.examples) * cfg.repeat + len(few) * cfg.repeat)

    async def extra(ctx: Any, outcome: RunOutcome, slots: dict[str, Any]) -> None:
        await run_batches([(c, scr.providers[c.id]) for c in batched], inp.evalset.examples, ctx, outcome, slots,
                          str(inp.lr.path.resolve()), progress.batch_status)

    return {c.id: few for c in batched}, {c.id for c in batched}, extra


async def _latency_passes(inp: pipeline.Inputs, scr: pipeline.Screened, cfg: RunConfig, calls: Calls,
                          progress: _Progress, control: Any, t_quality: float, ctx: Any, outcome: RunOutcome,
                          slots: dict[str, Any], deliver: Any) -> None:
    """After the quality pass: what the machine added meanwhile, then each candidate's latency pass."""
    from modelsel.analysis.limits import needed_calls
    from modelsel.run import latency_pass

    machine = window(control, t_quality, time.monotonic()) if control else Distortion()
    need = needed_calls(inp.lr.req)
    quiet_possible = need and cfg.extra_calls and inp.lr.req.latency.load is None
    if control and quiet_possible and latency_pass.floor_needed(machine):  # a quiet pass takes minutes: first, what
        machine.floor_ms = await control.floor()                          # it could change
    outcome.machine = machine
    live = [c for c in scr.runnable if not (cfg.batch and cfg.batch.get(c.id) is None)]
    plans = latency_pass.plan(inp.lr.req, need, live, scr.providers, _warm_calls(calls, scr), machine, cfg.extra_calls)
    for pl in plans:
        progress.resize(pl.cid, progress.total(pl.cid) + pl.calls)
        if pl.mode == "quiet":
            alone = f", {machine.floor_ms:g} ms with nothing else in flight" if machine.floor_ms is not None else ""
            progress.said(f"{pl.cid}: a quiet latency pass adds {pl.calls} calls, one at a time, because this machine "
                          f"added {machine.p50_ms or 0:.0f} ms at p50 to calls during the quality pass (the control "
                          f"endpoint{alone}; its event loop woke {machine.lag_p95_ms or 0:.0f} ms late at p95): its "
                          "latency is judged on them, not on the busy pass.")
        elif pl.mode == "load":
            progress.said(f"{pl.cid}: a latency pass at the stated load adds {pl.calls} calls.")
    outcome.latency_passes = await latency_pass.run_all(plans, {c.id: c for c in scr.runnable}, scr.providers,
                                                        inp.evalset.examples, ctx, slots, deliver, control)


def _concurrency_text(cfg: RunConfig) -> str:
    return (f"the quality pass, {cfg.concurrency} calls in flight per model" if cfg.concurrency else
            "the quality pass, each model at its provider's default calls in flight")


def _control(scr: pipeline.Screened) -> tuple[Any, Any]:
    """The control endpoint and the task sampling it, when a candidate is reached over the network."""
    if not any(p.over_http for p in scr.providers.values()) or os.environ.get("MODELSEL_CONTROL") == "off":
        return None, None

    control = Control()
    if not control.start():
        return None, None
    return control, asyncio.create_task(control.watch())


def _warm_calls(calls: Calls, scr: pipeline.Screened) -> dict[str, int]:
    """The answered calls per candidate its latency percentiles would rest on so far: the warm ones,
    or all when fewer than metrics.MIN_WARM are warm (the rule metrics.latency_sample applies)."""
    from modelsel.analysis.metrics import MIN_WARM

    warm: dict[str, int] = {}
    ok: dict[str, int] = {}
    for cand, err, cold, lat in zip(calls.candidate, calls.error, calls.cold, calls.latency_ms, strict=True):
        if not err and lat == lat:
            ok[cand] = ok.get(cand, 0) + 1
            warm[cand] = warm.get(cand, 0) + (not cold)
    return {c: (warm.get(c, 0) if warm.get(c, 0) >= MIN_WARM else n) for c, n in ok.items()}


def run_session(inp: pipeline.Inputs, scr: pipeline.Screened, cfg: RunConfig, out: Path | None, reports_root: Path,
                no_cache: bool, console: Console, err: Console, quiet: bool = False) -> SessionResult:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    if not scr.runnable and scr.not_evaluated:  # nothing can be called here: nothing to decide on
        return _nothing_evaluated(scr, err, None, reports_root)
    for left, marker in unfinished_runs(reports_root, inp.lr.path):
        if out is None or left.resolve() != out.resolve():
            err.print(f"[yellow]An earlier run of these requirements was left unfinished ({marker.get('state', '?')}, "
                      f"started {marker.get('started_at', '?')}): {left}. Its finished answers are in the cache; this "
                      "run reuses them.[/yellow]", highlight=False, soft_wrap=True)
    from modelsel.inputs.media import blobs
    from modelsel.report.thumbs import write_thumbs

    try:
        folder = RunDir.create(out, reports_root, inp.lr.path.stem, inp.lr.path)
    except OSError as exc:
        return _stopped(err, f"the run folder could not be made ({exc.strerror or exc})", None, reports_root)
    try:
        folder.copy_inputs(pipeline.input_files(inp), inp.lr.tree)
        write_thumbs(folder.path, [b for ex in inp.evalset.examples for b in blobs(ex)])  # before any call
        cache = Cache(cache_path(reports_root), read=not no_cache)
    except CacheUnreadable as exc:  # the cache itself is damaged: free space would not help
        return _stopped(err, str(exc), folder, reports_root, advice="")
    except Exception as exc:  # OSError, sqlite3.OperationalError: nothing paid for yet
        return _stopped(err, f"the run could not start writing ({exc})", folder, reports_root)
    calls = Calls()
    progress = _Progress(scr, len(inp.evalset.examples) * cfg.repeat, err)
    worker = ChartWorker.start()  # loads matplotlib in its own process while the calls run
    mark("calls start")
    lag_samples: list[float] = []
    stopped_by: tuple[str, int] | None = None
    try:
        with progress:
            outcome = asyncio.run(_run(inp, scr, cfg, cache, folder, calls, progress, lag_samples))
            if (stop := pending_stop()) is not None:  # a signal's stop that some code swallowed
                raise stop
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGHUP (errors.Stopped): the same care
        stopped_by = _said_interrupted(exc, inp, folder, cache, reports_root, err)
    finally:
        for why, bad in cache.unusable.items():  # each was a miss: the call was made again
            err.print(f"[yellow]{len(bad)} cached answer(s) in {cache_path(reports_root)} {why}: not used; the calls were made "
                      "again.[/yellow]", highlight=False, soft_wrap=True)
        cache.close()
        try:
            folder.close()
        except OSError:
            pass
    if stopped_by is not None:
        return _interrupted(inp, scr, cfg, folder, calls, started, worker, reports_root, console, err, quiet, *stopped_by)
    if outcome.stopped is not None:
        worker.close()
        if isinstance(outcome.stopped, ScorerFailed):  # the eval's fault: bad input, found on the first answers
            res = _stopped(err, redact(str(outcome.stopped)), folder, reports_root, advice=redact(outcome.stopped.advice()))
            return SessionResult(res.folder, None, None, 2)
        return _stopped(err, str(outcome.stopped), folder, reports_root)
    try:
        return _finish(inp, scr, cfg, folder, calls, outcome, started, worker, reports_root, console, err, quiet,
                       lag_summary(lag_samples))
    except OSError as exc:
        worker.close()
        return _stopped(err, f"the reports could not be written ({exc.strerror or exc})", folder, reports_root)
    finally:
        folder.release()


def _said_interrupted(exc: KeyboardInterrupt, inp: pipeline.Inputs, folder: RunDir, cache: Cache, reports_root: Path,
                      err: Console) -> tuple[str, int]:
    """The folder marked interrupted, and where the finished calls (and any open batch) are said."""
    _mark(folder, "interrupted")
    why = str(exc) or "Interrupted"
    err.print(f"[yellow]{escape(why)}.[/yellow] Finished calls are saved in {cache_path(reports_root)} and "
              f"{folder.path}/trace.jsonl; run the same command again to resume without paying for them.")
    for b in cache.batches_open(str(inp.lr.path.resolve())):
        err.print(f"[yellow]Batch {b['batch_id']} ({b['candidate']}, {b['items']} requests) is still running at the "
                  "provider: run the same command again to collect it (no second batch is submitted), or "
                  f"`modelsel eval {inp.lr.path} --cancel-batches` to cancel it.[/yellow]", soft_wrap=True)
    return why, getattr(exc, "exit_code", INTERRUPTED)


def _interrupted(inp: pipeline.Inputs, scr: pipeline.Screened, cfg: RunConfig, folder: RunDir, calls: Calls,
                 started: str, worker: ChartWorker, reports_root: Path, console: Console, err: Console, quiet: bool,
                 why: str, code: int) -> SessionResult:
    """Reports of what was measured before a Ctrl-C or SIGTERM, said to be partial; the folder stays
    'interrupted' and the exit code says how the run ended. A second signal while writing leaves the
    folder as it is: every answer is in the cache either way."""
    try:
        if len(calls):
            per = len(inp.evalset.examples) * cfg.repeat
            done = Counter(calls.candidate)
            outcome = RunOutcome(not_run={c.id: per - done.get(c.id, 0) for c in scr.runnable
                                          if per - done.get(c.id, 0) > 0})
            res = _finish(inp, scr, cfg, folder, calls, outcome, started, worker, reports_root, console, err, quiet,
                          interrupted=why)
            err.print(f"[yellow]Reports of what was measured before the stop: {folder.path}/decision.md (partial "
                      "data).[/yellow]", highlight=False, soft_wrap=True)
            return SessionResult(res.folder, res.summary, res.calls, code)
    except (KeyboardInterrupt, OSError):
        pass
    finally:
        worker.close()
        _mark(folder, "interrupted")
        folder.release()
    return SessionResult(folder.path, None, None, code)


def _mark(folder: RunDir, state: str, **more: Any) -> None:
    try:
        folder.mark(state, **more)
    except OSError:
        pass  # the disk that stopped the run may not take the marker either; the lock is gone all the same


def _stopped(err: Console, why: str, folder: RunDir | None, reports_root: Path, advice: str | None = None
             ) -> SessionResult:
    """One clear message and exit 1: the run cannot go on, nothing finished is lost."""
    if folder is not None:
        _mark(folder, "stopped", reason=why)
        folder.release()
    if advice is None:
        advice = (f" Every answer that finished is in {cache_path(reports_root)}; free space (or fix the folder) and "
                  "run the same command again: it resumes without paying for them.")
    err.print(f"[bold red]Stopped:[/bold red] {escape(why)}.{escape(advice)}", highlight=False, markup=True,
              soft_wrap=True)
    return SessionResult(folder.path if folder else reports_root, None, None, 1)


def _finish(inp: pipeline.Inputs, scr: pipeline.Screened, cfg: RunConfig, folder: RunDir, calls: Calls,
            outcome: RunOutcome, started: str, worker: ChartWorker, reports_root: Path, console: Console, err: Console,
            quiet: bool, lag: dict[str, float] | None = None, interrupted: str | None = None) -> SessionResult:
    from modelsel.report.terminal import print_summary

    mark("calls done")
    gc.freeze()  # what the run holds now is kept to the end: a full collection over it cost 60 ms here
    order = [c.id for c in scr.runnable], [e.id for e in inp.evalset.examples]
    folder.sort_records(*order)
    arr = calls.arrays().ordered(*order)
    arr = _not_reached(scr, arr, err)
    if not scr.runnable and scr.not_evaluated:
        worker.close()
        return _nothing_evaluated(scr, err, folder, folder.path)
    _warn(scr, arr, outcome, cfg, err)
    batch_info = _batch_info(scr, cfg, outcome, inp) if cfg.batch else None
    facts = pipeline.RunFacts(started_at=started, spent_usd=outcome.spent_usd, budget_stopped=outcome.budget_stopped,
                              budget_reserved_usd=outcome.budget.reserved_at_stop if outcome.budget else 0.0,
                              calls_not_made=outcome.skipped_budget, not_made=outcome.skipped_by,
                              not_run=outcome.not_run, deadline_hit=outcome.deadline_hit, interrupted=interrupted,
                              latency_passes=outcome.latency_passes, machine=outcome.machine,
                              extra_calls=cfg.extra_calls, concurrency=_concurrency_text(cfg))
    mark("records sorted")
    summary = pipeline.analyse(inp, scr, arr, facts, cfg)
    if batch_info is not None:
        summary.run.batch = batch_info
        for cid, b in batch_info.candidates.items():
            said = (f" The {b.api} rejected the batch of '{cid}' ({b.rejected}); its quality calls were not made."
                    if b.rejected else f" The {b.api} batch {b.batch_id} of '{cid}' could not be read ({b.state}); its "
                    "quality answers are not in this record: run the same command again to collect it."
                    if (b.state or "").startswith("status unreadable") else
                    f" {b.left_out} of the {b.api} batch's requests for '{cid}' have no answer in this record: its "
                    "results file answered them twice with different answers, or could not be read (a fault of the "
                    "file, not the model; see its problems)." if b.left_out else "")
            if said:
                summary.decision.partial_data = ((summary.decision.partial_data or "") + said).strip()
    if lag is not None:
        summary.run.loop_lag = LoopLag(**lag)
        if lag["flagged"]:
            err.print(f"[yellow]This machine was a limit: the event loop woke {lag['p95_ms']:g} ms late at p95 (max "
                      f"{lag['max_ms']:g} ms) while calls were in flight, so latency figures include up to that much "
                      "queueing here. Lower `concurrency` to measure without it.[/yellow]", soft_wrap=True)
    summary.supersedes = _superseded(reports_root, summary, folder.path)
    mark("analysed")
    write_reports(folder, summary, arr, worker=worker,  # the summary is printed while the charts are drawn
                  meanwhile=None if quiet else lambda: print_summary(console, summary, str(folder.path)))
    mark("reports written")
    if interrupted:  # not a finished run: left out of the history, resumable
        return SessionResult(folder.path, summary, arr, exit_code(summary))
    folder.mark("finished")
    _remember(reports_root, summary, folder.path, err)
    mark("printed")
    return SessionResult(folder.path, summary, arr, exit_code(summary))


def _not_reached(scr: pipeline.Screened, arr: CallArrays, err: Console) -> CallArrays:
    """Candidates none of whose calls got an HTTP answer are not evaluated (could not connect), like
    one without a key: out of the figures, named with the address and how to check it."""
    import numpy as np

    from modelsel.run.reach import unreachable

    gone = unreachable(arr, scr.runnable, scr.providers)
    for cid, (why, how) in gone.items():
        scr.runnable = [c for c in scr.runnable if c.id != cid]
        scr.not_evaluated[cid] = why
        err.print(f"[yellow]{escape(cid)}: not evaluated: {escape(redact(why))}. {escape(redact(how))}.[/yellow]",
                  highlight=False, soft_wrap=True)
    return arr.take(~np.isin(arr.candidate, list(gone))) if gone else arr


def _nothing_evaluated(scr: pipeline.Screened, err: Console, folder: RunDir | None, where: Path) -> SessionResult:
    """No candidate could be evaluated: no decision is written (there is nothing to decide on), exit 2."""
    why = "; ".join(f"{cid}: {scr.not_evaluated[cid]}" for cid in scr.not_evaluated)
    msg = f"no candidate was evaluated, so no decision was written ({why})"
    if folder is not None:
        _mark(folder, "stopped", reason=msg)
    err.print(f"[bold red]Stopped:[/bold red] {escape(redact(msg))}.", highlight=False, markup=True, soft_wrap=True)
    return SessionResult(folder.path if folder is not None else where, None, None, 2)


def _superseded(reports_root: Path, summary: Summary, folder: Path) -> Any:
    """The last recorded eval of the same requirements (from the history store), and what changed
    since: the record names the decision it replaces. None on a first decision or an unreadable store."""
    from modelsel.quarterly import history

    try:
        store = history.History(reports_root)
        try:
            rows = [r for r in store.rows(summary.requirements.get("name") or Path(summary.run.requirements).stem)
                    if r.kind == "eval" and Path(r.folder) != folder.resolve()]
        finally:
            store.close()
    except Exception:  # the history is a convenience: the record stands without it
        return None
    if not rows:
        return None
    last = rows[-1]
    now = history.row_from_summary(summary.model_dump(mode="json"), folder.resolve())
    changes = history.with_changes([last, now])[1].changes
    return Supersedes(folder=last.folder, date=last.date, chosen=last.chosen, changes=changes or ["nothing the "
                      "history tracks (decision, requirements, eval set, prices) changed"])


def _remember(reports_root: Path, summary: Summary, folder: Path, err: Console, kind: str = "eval",
              holds: bool | None = None) -> None:
    """Append the run to the history store; a store that cannot be written is said, never fatal."""
    from modelsel.quarterly import history

    try:
        history.record(reports_root, summary.model_dump(mode="json"), folder, kind, holds)
    except (OSError, InputError, Exception) as exc:  # noqa: B014 - the run is done; its history is a convenience
        err.print(f"[yellow]history not updated: {exc}[/yellow]")


def _batch_info(scr: pipeline.Screened, cfg: RunConfig, outcome: RunOutcome, inp: pipeline.Inputs) -> Any:
    """What ran how: each candidate through a batch or live (and why), with what the batch did."""
    assert cfg.batch is not None
    cands = {}
    for c in scr.runnable:
        why = cfg.batch.get(c.id)
        b = outcome.batches.get(c.id, {})
        if why is not None:
            cands[c.id] = BatchCandidate(mode="live", why_live=why)
            continue
        cands[c.id] = BatchCandidate(
            mode="batch", api=b.get("api"), batch_id=b.get("batch_id"), items=b.get("items", 0),
            from_batch=b.get("from_batch", 0), from_cache=b.get("from_cache", 0), retried_live=b.get("retried_live", 0),
            resumed=bool(b.get("resumed")), state=b.get("state"), rejected=b.get("rejected"),
            waited_s=b.get("waited_s", 0.0), billed_usd=round(b.get("billed_usd", 0.0), 9),
            at_live_usd=round(b.get("at_live_usd", 0.0), 9), problems=b.get("problems", []),
            bad_usage=b.get("bad_usage", 0), left_out=b.get("left_out", 0),
            live_sample=min(cfg.latency_sample, len(inp.evalset.examples)) * cfg.repeat)
    billed = sum(b.billed_usd for b in cands.values())
    at_live = sum(b.at_live_usd for b in cands.values())
    return BatchRun(processing=inp.lr.req.cost.processing, candidates=cands, billed_usd=round(billed, 9),
                    at_live_usd=round(at_live, 9), saving_usd=round(at_live - billed, 9),
                    latency_sample=cfg.latency_sample)


def exit_code(summary: Summary) -> int:
    """0: a candidate meets the requirements; 1: none does, or the run's deadline or budget left
    a candidate with fewer examples than the eval set has (the decision rests on partial data)."""
    if not summary.decision.chosen:
        return 1
    if summary.run.deadline_hit or summary.decision.partial_data:
        return 1
    if summary.run.batch is not None and any(b.rejected for b in summary.run.batch.candidates.values()):
        return 1
    return 0


def _warn(scr: pipeline.Screened, arr: CallArrays, outcome: RunOutcome, cfg: RunConfig, err: Console) -> None:
    for c in scr.runnable:
        mine = arr.of(c.id)
        errs = int(mine.error.sum())
        if errs:
            first: dict[str, str] = {}
            for k, m in zip(mine.error_kind[mine.error].tolist(), mine.error_msg[mine.error].tolist(), strict=True):
                first.setdefault(k, m)
            counts = {k: int((mine.error_kind == k).sum()) for k in first}
            said = "; ".join(f"{k} {counts[k]}: {redact(m)[:200]}" for k, m in first.items())
            err.print(f"[yellow]{escape(c.id)}: {errs} of {len(mine)} calls failed after retries ({escape(said)}).[/yellow]",
                      highlight=False, soft_wrap=True)
    if outcome.budget_stopped:
        b = outcome.budget
        held = f", ${b.reserved_at_stop:.4f} reserved for calls in flight" if b is not None else ""
        err.print(f"[yellow]Budget guard: stopped with ${outcome.spent_usd:.4f} spent of ${cfg.max_cost_usd:g}{held} "
                  f"when the next call (reserved at ${b.refused_estimate if b else 0:.4f}) would have passed the cap; "
                  f"{outcome.skipped_budget} calls not made. The decision rests on partial data.[/yellow]", soft_wrap=True)
    if outcome.deadline_hit:
        why = (f"Deadline: {cfg.max_minutes:g} minutes passed" if cfg.max_minutes is not None else
               "A batch was still running past its provider's 24 h completion window")
        err.print(f"[yellow]{why}; {sum(outcome.not_run.values())} calls were not "
                  "answered. The decision rests on partial data: "
                  + ", ".join(f"{cid} n={len(set(arr.of(cid).example.tolist()))}" for cid in outcome.not_run) + ".[/yellow]")
    for cid, b in outcome.batches.items():
        if b.get("rejected"):
            err.print(f"[red]{escape(cid)}: the {b['api']} rejected the batch: {escape(b['rejected'])}[/red]", soft_wrap=True,
                      highlight=False, markup=True)
        elif str(b.get("state")).startswith("status unreadable"):
            err.print(f"[yellow]{escape(cid)}: batch {b['batch_id']} could not be read ({escape(b['state'])}); run the same command "
                      "again to collect it (no second batch is submitted).[/yellow]", soft_wrap=True, highlight=False)
        elif b.get("state") == "results unreadable":
            err.print(f"[yellow]{escape(cid)}: the results of batch {b['batch_id']} could not be read "
                      f"({escape(str(b.get('results_error', '')))}); its {b.get('left_out', 0)} requests without a result "
                      "were not made live (the batch billed them): run the same command again to collect them.[/yellow]",
                      soft_wrap=True, highlight=False)
        elif b.get("state") == "still running at the deadline":
            err.print(f"[yellow]{cid}: batch {b['batch_id']} was still running at the deadline; run the same command "
                      "again to collect it (no second batch is submitted).[/yellow]", soft_wrap=True)
    not_judged = int(((arr.passed < 0) & ~arr.error).sum()) if len(arr) else 0
    if not_judged:
        err.print(f"[yellow]Budget guard: {not_judged} answers were not judged; they are left out of quality.[/yellow]")


# --- review: re-run, then compare with the recorded decision -------------------------------------

def run_review(requirements: Path, against: Path | None, out: Path | None, reports_root: Path, no_cache: bool,
               cfg: RunConfig, console: Console, today: Any = None, allow: tuple[Path, ...] = (),
               traces: tuple[Path, ...] = ()) -> tuple[int, Summary | None, Path, Any]:
    """(exit code, the new run's summary, its folder, the review result)."""
    from datetime import date

    from modelsel.quarterly import history
    from modelsel.quarterly.review import compare_decisions, review_result
    from modelsel.report.review_text import print_review, review_markdown, review_page

    today = today or date.today()
    base = against or newest_run_for(requirements, reports_root)
    if base is None:
        raise InputError(f"no earlier run for this requirements file under {reports_root}/; run `modelsel eval` first "
                         "or pass --against RUN_DIR.", path=requirements)
    base, reviews = history.decision_runs(Path(base), reports_root)  # the decision's own run, and its reviews since
    old_rd = RunDir.open(base)
    old = old_rd.summary()
    old_calls = Calls.from_records(old_rd.records()).arrays()
    inp = pipeline.prepare(requirements, allow=allow, refuse_retired=False)
    fresh = _traces_findings(inp, list(traces)) if traces else None
    scr = pipeline.screen(inp)
    for c in list(scr.runnable):  # a model its vendor shut down is not called; the review says so
        if c.shut_down_by(today):
            scr.runnable.remove(c)
            scr.not_evaluated[c.id] = f"shut down by its vendor on {c.shutdown_on}"
    cfg.repeat = old.run.repeat
    res = run_session(inp, scr, cfg, out, reports_root, no_cache, console, SafeConsole(stderr=True), quiet=True)
    if res.summary is None or res.calls is None:
        return res.code, None, res.folder, None
    prices = {c.id: (c.input_per_mtok, c.output_per_mtok) for c in inp.candidates}
    earlier = [Calls.from_records(RunDir.open(r).records()).arrays() for r in reviews]
    findings = compare_decisions(old, res.summary, old_calls, res.calls, prices, _passing_catalog_models(inp), today,
                                 {c.id: c for c in inp.candidates}, inp.lr.req.decision.review_every_days,
                                 earlier, inp.lr.req.decision.planned_reviews)
    rd = RunDir(res.folder)
    if fresh is not None:  # drawn before the run: a bad trace file stops the review before any call
        findings += fresh[0]
        rd.write_text("traces-sample.jsonl", "".join(map(jsonl_line, fresh[1])))
    result = review_result(old, res.summary, findings, str(base), str(res.folder))
    rd.write_json("review.json", result.model_dump(mode="json"))
    rd.write_text("review.md", review_markdown(result))
    _remember(reports_root, res.summary, res.folder, SafeConsole(stderr=True), "review", result.holds)
    rd.write_text("review.html", review_page(result, res.summary, reports_root))
    print_review(console, result)
    return (0 if result.holds else 1), res.summary, res.folder, result


def _traces_findings(inp: pipeline.Inputs, traces: list[Path]) -> tuple[list[Any], list[dict[str, Any]]]:
    """Whether production's inputs moved since the decision, and a fresh sample of the new traces."""
    from modelsel.importers.traces.convert import (  # only `review --traces` reads traces
        evalset_profile,
        fresh_sample,
    )
    from modelsel.quarterly.review import inputs_moved

    prod = inp.lr.req.production
    now, examples = fresh_sample(traces, prod, len(inp.evalset.examples))
    if prod is not None:
        return inputs_moved(prod.whole, now, "the traffic the eval set was drawn from"), examples
    return inputs_moved(evalset_profile([e.text() for e in inp.evalset.examples]), now,
                        "the eval set's own lengths, 4 characters a token"), examples


def _passing_catalog_models(inp: pipeline.Inputs) -> list[str]:
    """Catalog models that pass the shortlist's filters for these requirements."""
    from modelsel.catalog.shortlist import propose

    props, _ = propose(inp.lr, inp.evalset)
    return [p.id for p in props if not p.out]
