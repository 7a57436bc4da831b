"""`modelsel report RUN_DIR`: re-render (and optionally re-score) a run without calling a model.

Re-scoring is an audit trail, not an overwrite: the answers are scored again into a new run folder
beside the original (which names its source), and the original is left exactly as it was."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelsel import pipeline
from modelsel.errors import InputError
from modelsel.report import FORMATS, write_reports
from modelsel.run.calls import Calls
from modelsel.run.rundir import RECORDS, TRACE, RunDir
from modelsel.run.runner import RunConfig
from modelsel.schema import Summary
from modelsel.scoring import ScorerFailed, score_records


def rerender(folder: Path, formats: tuple[str, ...], rescore: bool, requirements: Path | None = None,
             out: Path | None = None, allow: tuple[Path, ...] = ()) -> list[Path]:
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise InputError(f"unknown format '{bad[0]}' (choose from {', '.join(FORMATS)}).", field="--format")
    rd = RunDir.open(folder)
    if rescore:
        return _rescore(rd, formats, requirements, out, allow)
    if requirements is not None or out is not None:
        raise InputError("--requirements and --out go with --rescore (a re-render uses the run's own summary).",
                         field="--requirements" if requirements is not None else "--out")
    rd.lock()
    try:
        summary = rd.summary()
        calls = Calls.from_records(rd.records())
        return write_reports(rd, summary, calls.arrays(), formats)
    finally:
        rd.release()


def _rescore(rd: RunDir, formats: tuple[str, ...], requirements: Path | None, out: Path | None,
             allow: tuple[Path, ...]) -> list[Path]:
    """Score the recorded answers with the scorers of the run's own copy of its requirements (or
    `requirements` when given), into a new run folder beside the original."""
    raw = rd.raw_summary()
    run = raw.get("run") or {}
    recorded = str(run.get("requirements", ""))
    if requirements is None:
        req_path = rd.input_requirements(recorded) if recorded else None
        if req_path is None:
            raise InputError("this run kept no copy of its requirements in inputs/; pass --requirements FILE.",
                             path=rd.path, field="--requirements")
    else:
        req_path = requirements
    override = None
    if requirements is None and req_path.parent == rd.path / "inputs":  # an older run: its inputs/ is flat
        override = rd.input_path(Path(run.get("evalset", "")).name)
    try:
        inp = pipeline.prepare(req_path, evalset_override=override, allow=allow)
    except InputError as exc:
        if requirements is None:
            exc.hint = (exc.hint or "") + " (the run's own copy of its inputs cannot be used: pass --requirements FILE)"
        raise
    records = list(rd.records())
    recorded_ids = {r.candidate for r in records}
    scr = pipeline.screen_compliance(inp)
    scr.runnable = [c for c in inp.candidates if c.id in recorded_ids]
    prev = (raw.get("decision") or {}).get("not_evaluated") or {}
    for c in inp.candidates:
        if c.id not in scr.compliance_out and c.id not in recorded_ids:
            scr.not_evaluated[c.id] = prev.get(c.id) or "not in the recorded run"
    cfg = RunConfig(repeat=run.get("repeat", 1), timeout_s=run.get("timeout_s", 60.0))
    try:
        asyncio.run(_score(records, pipeline.scorer(inp, cfg), inp))
    except ScorerFailed as exc:  # the eval's fault: nothing is written, exit 2
        raise InputError(f"{exc}.", path=req_path, field="scoring", hint=exc.advice("rescore again").strip()) from None
    calls = Calls.from_records(records)
    facts = pipeline.RunFacts(started_at=run.get("started_at", ""), spent_usd=run.get("spent_usd", 0.0),
                              budget_stopped=run.get("budget_stopped", False), calls_not_made=run.get("calls_not_made", 0))
    summary: Summary = pipeline.analyse(inp, scr, calls.arrays(), facts, cfg)
    summary.run.budget_usd = run.get("budget_usd")
    summary.run.rescored_at = datetime.now(UTC).isoformat(timespec="seconds")
    summary.run.rescored_from = str(rd.path)
    summary.run.rescored_with = str(req_path)
    if recorded:
        summary.run.requirements = recorded  # still a run of the same requirements: review and history find it

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    dest = out or rd.path.parent / f"{rd.path.name}-rescored-{stamp}"
    new = RunDir.create(dest, rd.path.parent, rd.path.name, Path(recorded) if recorded else None)
    try:
        new.copy_inputs(_files_under(req_path, inp), inp.lr.tree)
        (new.path / TRACE).unlink(missing_ok=True)  # nothing was called: the records are the rescored answers
        new.write_records(records)
        written = write_reports(new, summary, calls.arrays(), tuple(dict.fromkeys(formats + ("json",))))
        new.mark("finished", rescored_from=str(rd.path))
    finally:
        new.release()
    return [new.path / RECORDS] + written


async def _score(records: list[Any], scorer: Any, inp: pipeline.Inputs) -> None:
    """The judge grades the judge_check set again (a new judge or rubric has its own error), then the answers."""
    if inp.judge_check and scorer.judge is not None:
        from modelsel.scoring.judge_check import grade, judge_spec

        inp.judge_check_cost = await grade(inp.judge_check, judge_spec(inp.scoring), scorer.judge,
                                           inp.lr.req.pass_threshold)
    await score_records(records, scorer)


def _files_under(req_path: Path, inp: pipeline.Inputs) -> list[Path]:
    return pipeline.input_files(inp)
