"""`modelsel report RUN_DIR`: re-render (and optionally re-score) a run without calling a model."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from modelsel import pipeline
from modelsel.calls import Calls
from modelsel.errors import InputError
from modelsel.report import FORMATS, write_reports
from modelsel.rundir import RunDir
from modelsel.runner import RunConfig
from modelsel.schema import Summary
from modelsel.scoring import score_records


def rerender(folder: Path, formats: tuple[str, ...], rescore: bool) -> list[Path]:
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise InputError(f"unknown format '{bad[0]}' (choose from {', '.join(FORMATS)}).", field="--format")
    rd = RunDir.open(folder)
    if rescore:
        summary, calls = _rescore(rd)
        formats = tuple(dict.fromkeys(formats + ("json",)))  # new scores must reach summary and records
    else:
        summary = rd.summary()
        calls = Calls.from_records(rd.records())
    return write_reports(rd, summary, calls.arrays(), formats)


def _rescore(rd: RunDir) -> tuple[Summary, Calls]:
    """Score recorded answers with the requirements' current scorers (the file as it is now, or the
    copy kept in the run folder when the original is gone). Works on runs of any schema version:
    it needs only the run's records and where its requirements came from."""
    raw = rd.raw_summary()
    run = raw.get("run") or {}
    req_path = Path(run.get("requirements", ""))
    override = None
    if not req_path.is_file():
        req_path = rd.input_path(req_path.name)
        override = rd.input_path(Path(run.get("evalset", "")).name)
    inp = pipeline.prepare(req_path, evalset_override=override)
    records = list(rd.records())
    recorded = {r.candidate for r in records}
    scr = pipeline.screen_compliance(inp)
    scr.runnable = [c for c in inp.candidates if c.id in recorded]
    prev = (raw.get("decision") or {}).get("not_evaluated") or {}
    for c in inp.candidates:
        if c.id not in scr.compliance_out and c.id not in recorded:
            scr.not_evaluated[c.id] = prev.get(c.id) or "not in the recorded run"
    cfg = RunConfig(repeat=run.get("repeat", 1), timeout_s=run.get("timeout_s", 60.0))
    asyncio.run(score_records(records, pipeline.scorer(inp, cfg)))
    rd.write_records(records)
    calls = Calls.from_records(records)
    facts = pipeline.RunFacts(started_at=run.get("started_at", ""), spent_usd=run.get("spent_usd", 0.0),
                              budget_stopped=run.get("budget_stopped", False), calls_not_made=run.get("calls_not_made", 0))
    summary = pipeline.analyse(inp, scr, calls.arrays(), facts, cfg)
    summary.run.budget_usd = run.get("budget_usd")
    summary.run.rescored_at = datetime.now(UTC).isoformat(timespec="seconds")
    return summary, calls
