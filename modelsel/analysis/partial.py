"""A partial run decides nothing it did not measure.

A deadline, the budget guard or a stop can leave a candidate with examples it was never asked,
and those are rarely a random sample (the hard, long ones come last). Its figures count them as
not shown (metrics.quality), and it is chosen only when the choice holds whatever they would have
scored: the decision is made again with its unasked examples failed and every other cut-short
candidate's passed; if it is no longer chosen it is set aside as not fully evaluated, and the
choice is made among the rest.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

import numpy as np

from modelsel.analysis.decision import decide
from modelsel.analysis.metrics import Unasked, compute, tries
from modelsel.catalog.compliance import Screening
from modelsel.inputs.candidate import Candidate
from modelsel.inputs.requirements import Requirements
from modelsel.run.calls import CallArrays
from modelsel.schema import Check, Comparison, Decision, Figures


@dataclass
class Run:
    arr: CallArrays
    req: Requirements
    cands: list[Candidate]
    examples: dict[str, Unasked]
    fixed: dict[str, float]
    today: date | None = None


def unasked_of(run: Run, cid: str) -> list[str]:
    asked = set(run.arr.of(cid).example.tolist())
    return [k for k in run.examples if k not in asked]


def filled(run: Run, fill: dict[str, float]) -> CallArrays:
    """The calls with each cut-short candidate's unasked examples answered at the score given
    (0: every one failed, 1: every one passed). The filled rows carry no latency and the
    candidate's mean cost, so only quality and the comparisons move."""
    arr = run.arr
    k = tries(arr)  # every try of an unasked example, so right-on-all-k sees it too
    extra: list[dict[str, object]] = []
    for cid, score in fill.items():
        mine = arr.of(cid)
        ok = ~mine.error
        cost = float(mine.cost_live_usd[ok].mean()) if ok.any() else 0.0
        batch_cost = float(mine.cost_batch_usd[ok].mean()) if ok.any() else 0.0
        out_part = mine.cost_output_usd[ok]
        out_cost = float(out_part.mean()) if ok.any() and not np.isnan(out_part).any() else np.nan
        template = mine.row(0)
        for ex, rep in itertools.product(unasked_of(run, cid), range(k)):
            u = run.examples[ex]
            extra.append({**template, "example": ex, "repeat": rep, "tags": u.tags, "cluster": u.cluster, "score": score,
                          "passed": int(score >= 1.0), "latency_ms": np.nan, "elapsed_ms": np.nan, "attempt_ms": np.nan,
                          "ttft_ms": np.nan, "cost_usd": cost, "cost_live_usd": cost, "cost_batch_usd": batch_cost,
                          "error": False, "error_kind": "", "error_msg": "", "attempts": 1, "retry_kinds": "",
                          "cached": False, "cold": False, "sample": False, "lpass": "", "valid": -1,
                          "label": "", "tool_expect": "", "tool_verdict": "", "cost_output_usd": out_cost})
    if not extra:
        return arr
    cols = {}
    for k, v in arr.__dict__.items():
        more = [r[k] for r in extra]
        cols[k] = list(v) + more if k == "tags" else np.concatenate([v, np.array(more, dtype=v.dtype)])
    return CallArrays(**cols)  # type: ignore[arg-type]


def _holds(run: Run, chosen: str, partial: list[str], screening: Screening) -> bool:
    """Is `chosen` still chosen with its unasked examples failed and the other cut-short ones passed?"""
    fill = {c: (0.0 if c == chosen else 1.0) for c in partial}
    figs, comps, _ = compute(filled(run, fill), run.req, run.fixed)
    d, _ = decide(run.cands, figs, comps, run.req, screening, run.today)
    return d.chosen == chosen


def robust_decide(run: Run, figs: dict[str, Figures], comps: list[Comparison], screening: Screening
                  ) -> tuple[Decision, dict[str, list[Check]], Screening]:
    """decide(), with a cut-short candidate chosen only when the choice holds whatever its unasked
    examples would score; one that does not is set aside (not evaluated: partial) and the choice made again."""
    d, checks = decide(run.cands, figs, comps, run.req, screening, run.today)
    partial = [c for c, f in figs.items() if f.quality.missing]
    while d.chosen and d.chosen in partial:
        c, missing = d.chosen, figs[d.chosen].quality.missing
        if _holds(run, c, partial, screening):
            d.reasons.append(f"'{c}' was asked {figs[c].n} of the {figs[c].n + missing} examples (partial run); the "
                             f"choice holds whatever the {missing} unasked would score: tried with all of them failed "
                             + ("and the other cut-short candidates' passed." if len(partial) > 1 else "."))
            break
        why = (f"partial run: asked {figs[c].n} of {figs[c].n + missing} examples, and the choice would not hold if the "
               f"{missing} never asked were failed (quality {figs[c].quality.mean:.3f} on the examples asked; "
               f"{figs[c].quality.lo:.3f}-{figs[c].quality.hi:.3f} counting the unasked as anything)")
        screening = Screening({**screening.not_evaluated, c: why}, screening.compliance_out, screening.compliance_risks)
        rest = {k: v for k, v in figs.items() if k != c}
        d, more = decide(run.cands, rest, comps, run.req, screening, run.today)
        checks = {**checks, **more}
        partial = [p for p in partial if p != c]
    return d, checks, screening
