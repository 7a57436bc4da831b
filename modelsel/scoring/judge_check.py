"""The judge grades the judge check set's answers (inputs/judge_check.py) exactly as it grades a
candidate's: the same prompt, rubric, scale and pass threshold, so its agreement with people is
measured on the verdicts the figures rest on."""

from __future__ import annotations

import asyncio
from typing import Any

from modelsel.inputs.judge_check import CheckRow
from modelsel.inputs.scorers import walk
from modelsel.scoring.model_based import JUDGE_TEMPLATE, parse_verdict


def judge_spec(default: list[dict[str, Any]]) -> dict[str, Any]:
    """The judge scorer the check set is graded with: the requirements' first (its rubric and scale)."""
    return next((s for s in walk(default) if s["type"] == "judge"), {"type": "judge"})


async def grade(rows: list[CheckRow], spec: dict[str, Any], judge: Any, threshold: float) -> float:
    """Fill each row's `judged` (the judge passed it or not); returns what the judge's calls cost.
    A row the judge could not grade (a failed call, the budget guard) stays None: left out, said."""
    from modelsel.scoring import is_pass

    scale = int(spec.get("scale", 10))
    rubric = spec.get("rubric", "Is the answer correct and helpful?")
    cost = 0.0

    async def one(r: CheckRow) -> None:
        nonlocal cost
        prompt = JUDGE_TEMPLATE.format(rubric=rubric, input=r.input, expected=r.expected or "", output=r.answer,
                                       scale=scale)
        res, err = await judge.ask(prompt)
        if res is None:
            r.judge_reason = f"not graded: {err}"
            return
        val, r.judge_reason = parse_verdict(res.text, scale)
        r.judged = is_pass(val, threshold)
        cost += judge.cost(res)

    await asyncio.gather(*(one(r) for r in rows))
    return cost
