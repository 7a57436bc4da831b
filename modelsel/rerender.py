"""`modelsel report RUN_DIR`: re-render (and optionally re-score) a run without calling a model."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from modelsel import pipeline
from modelsel.errors import InputError
from modelsel.report import FORMATS, write_reports
from modelsel.rundata import load_run
from modelsel.runner import RunConfig


def rerender(folder: Path, formats: tuple[str, ...], rescore: bool) -> list[Path]:
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise InputError(f"unknown format '{bad[0]}' (choose from {', '.join(FORMATS)}).", field="--format")
    summary, records = load_run(folder)
    if rescore:
        summary, records = _rescore(folder, summary, records)
        formats = tuple(dict.fromkeys(formats + ("json",)))  # new scores must reach summary and records
    return write_reports(folder, summary, records, formats)


def _rescore(folder: Path, old: dict, records: list) -> tuple[dict, list]:
    """Score recorded answers with the requirements' current scorers (the file as it is now,
    or the copy kept in the run folder when the original is gone)."""
    req_path = Path(old["run"]["requirements"])
    override = None
    if not req_path.exists():
        req_path = folder / "inputs" / req_path.name
        override = folder / "inputs" / Path(old["run"]["evalset"]).name
    inp = pipeline.prepare(req_path, evalset_override=override)
    recorded = {r.candidate for r in records}
    scr = pipeline.screen_compliance(inp)
    scr.runnable = [c for c in inp.candidates if c.id in recorded]
    for c in inp.candidates:
        if c.id not in scr.compliance_out and c.id not in recorded:
            prev = old["decision"].get("not_evaluated", {}).get(c.id)
            scr.not_evaluated[c.id] = prev or "not in the recorded run"
    cfg = RunConfig(repeat=old["run"].get("repeat", 1), timeout_s=old["run"].get("timeout_s", 60.0))
    records = pipeline.score(inp, records, cfg)
    summary = pipeline.analyse(inp, scr, records, None, cfg, old["run"]["started_at"])
    summary["run"].update({k: old["run"].get(k) for k in ("spent_usd", "budget_usd", "budget_stopped", "calls_not_made")})
    summary["run"]["rescored_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return summary, records
