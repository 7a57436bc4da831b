"""Scoring: turn each answer into a score in [0, 1] with a reason, remembering how.

Scorers are chosen per eval set (the requirements' `scoring:`) or per example, combined
with weights. Each score is written beside the scorer's parameters, so a number in a
report can be traced to exactly what produced it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from modelsel.inputs import usercode
from modelsel.inputs.evalset import Example
from modelsel.inputs.scorers import walk
from modelsel.inputs.tools import Tooling, for_example
from modelsel.run.records import Record
from modelsel.run.runner import RunStopped
from modelsel.scoring import tools
from modelsel.scoring.basic import DETERMINISTIC, extract_choice, json_valid
from modelsel.scoring.model_based import model_scores
from modelsel.scoring.worker import USER_CODE, ScorerWorker

ASYNC_SCORERS = {"judge", "similarity"}


class ScorerFailed(RunStopped):
    """A scorer raised, or returned something that is not a score: a fault of the eval, not of the
    model. The run stops before any further call (the answers so far are cached) and exits 2; the
    answer is never counted as wrong."""

    def __init__(self, scorer: str, example_id: str, candidate: str, why: str, answer: str = "") -> None:
        self.scorer, self.example_id, self.candidate, self.why, self.answer = scorer, example_id, candidate, why, answer
        super().__init__(f"the {scorer} failed on example '{example_id}' (the answer of '{candidate}'): {why}")

    def advice(self, then: str = "run the same command again: answers already paid for come from the response "
               "cache, not paid for twice") -> str:
        """What the user does next, after the one-line message."""
        shown = " ".join(self.answer.split())
        shown = shown[:120] + ("…" if len(shown) > 120 else "")
        return (f" The answer was: '{shown}'. A scorer that fails is a fault of the eval, not of the model: no answer "
                f"was counted wrong for it, and no decision was written. Fix the scorer and {then}.")


def scorer_name(spec: dict[str, Any]) -> str:
    """How a scorer is named to the user: its type, and the function or plugin behind it."""
    t = spec.get("type", "?")
    if t == "python" and spec.get("function"):
        return f"python scorer '{spec['function']}'"
    if t == "plugin" and spec.get("name"):
        return f"plugin scorer '{spec['name']}'"
    if t == "not" and isinstance(spec.get("scorer"), dict):
        return f"not ({scorer_name(spec['scorer'])})"
    return f"{t} scorer"


def checked_score(value: Any) -> float:
    """A score is a finite number in [0, 1] (True and False are 1 and 0); anything else (NaN, the
    string "0.9", 1.2) is a scorer that failed, never a score clamped into range."""
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, numbers.Real):
        shown = repr(value)
        raise ValueError(f"returned {type(value).__name__} {shown[:60]}, not a number (a score is a number in [0, 1])")
    v = float(value)
    if not math.isfinite(v) or not 0.0 <= v <= 1.0:
        raise ValueError(f"returned {v!r}, not a score in [0, 1]")
    return v


def _params(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k not in ("type", "weight")}


def score_one(spec: dict[str, Any], output: str, example: Example, extras: dict[str, Any],
              calls: list[dict[str, Any]] | None = None, tooling: Tooling | None = None) -> tuple[float, str]:
    t = spec["type"]
    if t == "not":
        inner, reason = score_one(spec["scorer"], output, example, extras, calls, tooling)
        return 1.0 - checked_score(inner), f"not ({reason})"
    if t in USER_CODE and (t, "user", id(spec)) in extras:  # your code, run in the scorers' helper process
        got = extras[(t, "user", id(spec))]
        if isinstance(got, BaseException):
            raise got
        v, why = got
        return checked_score(v), why
    if t in ("tool_call", "valid_call", "json_fields"):  # what the model did: its calls, its object and the schema
        v, why, more = (tools.json_fields(output, example, tooling, **_params(spec)) if t == "json_fields"
                        else getattr(tools, t)(calls, example, tooling, **_params(spec)))
        extras[("detail", id(spec))] = more
        return checked_score(v), why
    if t in ASYNC_SCORERS:
        got = extras.get((t, id(spec)))
        if got is None:
            raise ValueError(f"{t} scorer result missing")
        return got[0], got[1]
    v, why = DETERMINISTIC[t](output, example, **_params(spec))
    return checked_score(v), why


def is_pass(score: float | None, threshold: float) -> bool | None:
    """The one pass/fail test: a score at or above the threshold passes; no score, no verdict."""
    return None if score is None else score >= threshold


MAX_LABELS = 20  # more distinct expected values than this is not a label set
MAX_LABEL_CHARS = 40


def label_set(examples: list[Example], default: list[dict[str, Any]]) -> list[str] | None:
    """The labels of a label task scored with `exact`: when `exact` (comparing with the expected
    value) is the only scorer and every expected value is one of a few short labels (each seen at
    least twice on average), those labels; None otherwise."""
    if len(default) != 1 or default[0].get("type") != "exact" or default[0].get("value") is not None:
        return None
    values = [e.expected for e in examples if e.scorer is None]
    if len(values) < 4 or any(not isinstance(v, str) or not v.strip() or len(v) > MAX_LABEL_CHARS or "\n" in v
                              for v in values):
        return None
    labels = list(dict.fromkeys(values))
    if not 2 <= len(labels) <= MAX_LABELS or len(values) < 2 * len(labels):
        return None
    return labels


def _exact_label(output: str, labels: list[str], how: Any) -> str | None:
    from modelsel.scoring.basic import normalize

    got = normalize(output, how)
    return next((lab for lab in labels if normalize(lab, how) == got), None)


def request_time_signals(output: str, default: list[dict[str, Any]], labels: list[str] | None = None
                         ) -> tuple[bool | None, str | None]:
    """(valid, label): what production can check about an answer without the answer key.
    A choice scorer's label set makes 'a label from the set' the check; a label task scored with
    `exact` the same, with the labels its expected values hold (`labels`, see label_set) and the
    exact scorer's own comparison; a json scorer makes 'parses as JSON (and fits the schema)' the
    check; other scorers give no check."""
    if labels:
        label = _exact_label(output, labels, default[0].get("normalize"))
        return label is not None, label
    for s in default:
        if s.get("type") == "choice" and s.get("choices"):
            label = extract_choice(output, list(s["choices"]))
            return label is not None, label
        if s.get("type") == "json":
            return json_valid(output, s.get("schema")), None
    return None, None


def example_specs(example: Example, default: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if example.scorer is None:
        return default
    return example.scorer if isinstance(example.scorer, list) else [example.scorer]


def combine(parts: list[tuple[dict[str, Any], float, str]]) -> tuple[float, str]:
    total_w = sum(float(s.get("weight", 1.0)) for s, _, _ in parts) or 1.0
    score = sum(float(s.get("weight", 1.0)) * v for s, v, _ in parts) / total_w
    reason = "; ".join(r for _, _, r in parts)
    return score, reason


class Scorer:
    """Scores one answered record at a time, so a run can score each call as it finishes and
    stream it to disk instead of holding every record until the end."""

    def __init__(self, examples: dict[str, Example], default: list[dict[str, Any]], pass_threshold: float,
                 judge: Any = None, search_path: str | None = None, roots: list[Any] | None = None,
                 deadline: float | None = None, tooling: Tooling | None = None) -> None:
        if search_path:  # python scorers are loaded from files in this folder tree
            from pathlib import Path

            usercode.configure(Path(search_path), roots or [Path(search_path)])
        self.examples, self.default, self.threshold, self.judge = examples, default, pass_threshold, judge
        self.tooling = tooling  # the requirements' tools and output schema (an example may offer its own tools)
        self.labels = label_set(list(examples.values()), default)
        # python and plugin scorers run in a helper process the deadline and a stop can kill (scoring/worker.py)
        self.worker = ScorerWorker(search_path, [str(r) for r in (roots or [])], deadline)

    async def _user_scores(self, specs: list[dict[str, Any]], output: str, ex: Example) -> dict[Any, Any]:
        """Each python or plugin scorer's (score, reason), or the exception it failed with, from the helper."""
        out: dict[Any, Any] = {}
        for s in walk(specs):
            if s["type"] in USER_CODE:
                try:
                    out[(s["type"], "user", id(s))] = await self.worker.score(s, output, ex)
                except Exception as exc:  # its failure, raised where the scorer is scored
                    out[(s["type"], "user", id(s))] = exc
        return out

    async def score(self, r: Record) -> Record:
        """Score r in place and return it; errors stay unscored (they count as errors)."""
        if r.error or r.output is None:
            r.score, r.passed, r.reason, r.scores = None, None, f"error: {r.error}", []
            return r
        ex = self.examples[r.example_id]
        mine = await model_scores(r, ex, self.default, self.judge)
        if any(v[0] is None for v in mine.values()):  # the judge was not allowed to spend: unscored, not 0
            r.score, r.passed, r.reason, r.scores = None, None, next(v[1] for v in mine.values() if v[0] is None), []
            return r
        parts = []
        specs = example_specs(ex, self.default)
        extras = {**mine, **await self._user_scores(specs, r.output, ex)}
        offered = for_example(self.tooling, ex.tools)
        for spec in specs:
            try:
                v, why = score_one(spec, r.output, ex, extras, r.tool_calls, offered)
            except Exception as exc:  # the eval's fault, not the model's: never a 0 for the answer
                raise ScorerFailed(scorer_name(spec), r.example_id, r.candidate,
                                   f"{type(exc).__name__}: {exc}"[:500], r.output or "") from exc
            parts.append((spec, v, why))
        score, r.reason = combine(parts)
        r.score = round(score, 6)
        r.passed = is_pass(r.score, self.threshold)
        r.valid, r.label = request_time_signals(r.output, self.default, self.labels)
        r.scores = [{"type": s["type"], "params": _params(s), "weight": s.get("weight", 1.0), "score": v, "reason": why,
                     **(mine.get((s["type"], id(s)), (0, "", {}))[2]), **extras.get(("detail", id(s)), {})}
                    for s, v, why in parts]
        r.tool_verdict = next((d["verdict"] for d in r.scores if d.get("verdict")), None)
        if any("schema_valid" in d for d in r.scores):  # what production can check: the answer fits the schema
            r.valid = all(d.get("schema_valid", True) for d in r.scores)
        if offered is not None and offered.tools and r.tool_calls:  # ... and every call names a tool and fits it
            r.valid = tools.valid_call(r.tool_calls, ex, offered)[0] == 1.0 and r.valid is not False
        return r

    async def aclose(self) -> None:
        await self.worker.aclose()
        if self.judge is not None:
            await self.judge.aclose()


async def score_records(records: list[Record], scorer: Scorer) -> list[Record]:
    """Score a list of records (rescoring a finished run), concurrently for judge calls."""
    import asyncio

    try:
        await asyncio.gather(*(scorer.score(r) for r in records))
    finally:
        await scorer.aclose()
    return records
