"""The judge's own error (issue 49, item 7) and cost from quality calls only (item 4).

A judge_check set (answers people marked pass or fail) is graded by the judge in the run; its
sensitivity and specificity per candidate go into the record, quality is corrected for them, and
'better' is refused where the judge's bias between two candidates could explain the gap. Without a
check set the record says the judge's error is in no interval. The rates with known truth are in
benchmarks/judge_error.py and benchmarks/cost_tail.py; these are the small deterministic cases.
Real SDKs over HTTP against the fake provider on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsel.analysis import judge_error
from tests.conftest import cli, flat, openai_cand, run_dir, write_evalset, write_req

LABELS = ["billing", "technical", "account", "shipping", "other"]


def _tickets(tmp_path: Path, n: int = 40) -> dict[str, str]:
    rows = [(f"e{i}", f"ticket {i}: case number {i * 7}", LABELS[i % 5], "simple") for i in range(n)]
    write_evalset(tmp_path, rows)
    return {f"ticket {i}: case number {i * 7}": LABELS[i % 5] for i in range(n)}


def _answerer(truth: dict[str, str], mark: str = "") -> Any:
    """Right on three examples in four (wrong on every fourth), the answer ending in `mark`."""
    def answer(prompt: str) -> str:
        for text, label in sorted(truth.items(), key=lambda kv: -len(kv[0])):
            if text in prompt:
                i = int(text.split()[1].rstrip(":"))
                return (label if i % 4 else "other" if label != "other" else "billing") + mark
        return "other" + mark
    return answer


def _judge(prompt: str) -> str:
    """Fair on plain answers; passes every answer that ends in '!' (lenient on the model that writes them)."""
    expected = prompt.split("Reference answer (may be empty):\n")[1].split("\n\nAnswer to grade:")[0].strip()
    answer = prompt.split("Answer to grade:\n")[1].split("\n\nReply with")[0].strip()
    return "SCORE: 10\nFine." if answer.endswith("!") or answer == expected else "SCORE: 0\nWrong queue."


def _run(tmp_path: Path, fake: Any, check: list[dict[str, Any]] | None, name: str = "run") -> tuple[dict, str]:
    truth = _tickets(tmp_path)
    fake.script("plain", answer=_answerer(truth), input_tokens=20, output_tokens=2)
    fake.script("loud", answer=_answerer(truth, "!"), input_tokens=20, output_tokens=2)
    fake.script("judge", answer=_judge, input_tokens=100, output_tokens=5)
    over: dict[str, Any] = {}
    if check is not None:
        (tmp_path / "judge_check.jsonl").write_text("".join(json.dumps(r) + "\n" for r in check))
        over["judge_check"] = "judge_check.jsonl"
    judge = {"provider": "openai", "model": "judge", "base_url": fake.url + "/v1",
             "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}
    req = write_req(tmp_path, [openai_cand(fake, "plain", pin=1.0), openai_cand(fake, "loud", pin=3.0)],
                    scoring=[{"type": "judge", "rubric": "Is the ticket routed to the right queue?"}], judge=judge,
                    pass_threshold=0.5, evalset="tickets.jsonl", quality={"min_score": 0.1},
                    decision={"max_error_rate": 0.2, "small_difference": 0.05}, **over)
    res = cli("eval", req, "--out", tmp_path / name)
    assert res.exit_code in (0, 1), res.output
    s, _ = run_dir(tmp_path / name)
    return s, flat((tmp_path / name / "decision.md").read_text()).replace("\\", "")  # markdown escapes


def _check_rows() -> list[dict[str, Any]]:
    """Ten answers of each model people passed and ten they failed."""
    rows = []
    for cand, mark in (("oa-plain", ""), ("oa-loud", "!")):
        for i in range(20):
            label = LABELS[i % 5]
            right = i % 2 == 0
            rows.append({"input": f"a ticket for {label}", "expected": label, "candidate": cand,
                         "answer": (label if right else "other" if label != "other" else "billing") + mark,
                         "verdict": "pass" if right else "fail"})
    return rows


def test_without_a_check_set_a_lenient_judge_makes_equal_models_differ_and_the_record_says_its_error_is_not_in(
        fake, keys, tmp_path: Path) -> None:
    s, md = _run(tmp_path, fake, None)
    plain, loud = s["candidates"]["oa-plain"], s["candidates"]["oa-loud"]
    assert plain["quality"]["mean"] == pytest.approx(0.75) and loud["quality"]["mean"] == pytest.approx(1.0)
    assert [v["verdict"] for v in s["decision"]["verdicts"]] == ["worse"]  # equal models, 'loud' shown better
    assert "The judge's own error is not in any interval: no judge_check set measured it" in md
    assert s["judge"]["note"].startswith("The judge's own error is not in any interval")


def test_a_check_set_measures_the_judge_per_candidate_corrects_quality_and_refuses_better(
        fake, keys, tmp_path: Path) -> None:
    s, md = _run(tmp_path, fake, _check_rows())
    plain, loud = s["candidates"]["oa-plain"], s["candidates"]["oa-loud"]
    assert s["judge"]["check_rows"] == 40 and s["judge"]["check_not_graded"] == 0
    assert len(fake.requests_for("judge")) == 80 + 40  # every answer, then every check row
    jp, jl = plain["judge"], loud["judge"]
    assert (jp["n"], jp["own"], jp["sensitivity"]["value"], jp["specificity"]["value"]) == (20, 20, 1.0, 1.0)
    assert (jl["sensitivity"]["value"], jl["specificity"]["value"], jl["agreement"]["value"]) == (1.0, 0.0, 0.5)
    # 'plain': a judge right on all 20 checks; its 0.75 is kept as the estimate, its interval widened by
    # the judge's Se and Sp intervals (exact 95% on 10 rows each), by MOVER
    assert plain["quality"]["method"] == "judge_rogan_gladen" and jp["corrected"] and jp["judged_mean"] == 0.75
    assert plain["quality"]["mean"] == pytest.approx(0.75)
    assert plain["quality"]["lo"] < jp["judged_lo"] and plain["quality"]["hi"] >= jp["judged_hi"]
    # 'loud': the judge passes every answer people failed (specificity 0): not shown better than chance
    assert (loud["quality"]["lo"], loud["quality"]["hi"]) == (0.0, 1.0)
    v = s["decision"]["verdicts"][0]
    assert v["verdict"] == "not_distinguishable" and "judge's measured bias between them could explain the gap" in v["text"]
    assert "failed 0% (n=10) against 100% (n=10)" in flat(v["text"])
    assert "### The judge's own error" in md and "Rogan-Gladen" in md and "recovered into one by MOVER" in md
    assert "Specificity (fails what people fail)" in md
    assert "shown worse:" not in md and "shown better:" not in md  # the opening says what the judge's bias allows
    assert "not shown apart: the judge's bias between them, measured on the judge_check set, could lift 'oa-loud'" in md
    html = (tmp_path / "run" / "report.html").read_text()
    assert 'id="judge-error"' in html and 'id="judge-agreement"' in html and "0% [0, 31] (n=10)" in html


def test_a_rescore_grades_the_check_set_again_from_the_run_s_own_copy(fake, keys, tmp_path: Path) -> None:
    _run(tmp_path, fake, _check_rows())
    before = len(fake.requests_for("judge"))
    res = cli("report", tmp_path / "run", "--rescore", "--out", tmp_path / "again")
    assert res.exit_code in (0, 1), res.output
    s, _ = run_dir(tmp_path / "again")
    assert len(fake.requests_for("judge")) - before == 80 + 40
    assert s["candidates"]["oa-loud"]["judge"]["specificity"]["value"] == 0.0
    assert s["decision"]["verdicts"][0]["verdict"] == "not_distinguishable"


def test_check_rows_that_name_no_candidate_correct_quality_but_say_a_bias_between_candidates_is_unmeasured(
        fake, keys, tmp_path: Path) -> None:
    rows = [dict(r, candidate=None) for r in _check_rows() if r["candidate"] == "oa-plain"]
    for r in rows:
        del r["candidate"]
    s, md = _run(tmp_path, fake, rows)
    assert s["candidates"]["oa-plain"]["judge"]["own"] == 0 and s["candidates"]["oa-loud"]["judge"]["n"] == 20
    assert "No row names a candidate, so a judge more lenient on one candidate than another is not measured" in md


@pytest.mark.parametrize("line2, field, words", [
    ({"input": "x", "answer": "y", "verdict": "maybe"}, "verdict", "\"pass\" or \"fail\""),
    ({"input": "x", "answer": "y", "verdict": "pass", "candidate": "gpt-9"}, "candidate",
     "is not one of the requirements' candidates"),
    ({"input": "x", "answer": "", "verdict": "pass"}, "answer", "'answer' must be non-empty text"),
    ({"input": "x", "answer": "y", "verdict": "pass", "score": 1}, "score", "unknown field 'score'"),
])
def test_a_bad_judge_check_row_is_bad_input_naming_file_line_and_field(fake, keys, tmp_path: Path, line2: dict,
                                                                       field: str, words: str) -> None:
    _tickets(tmp_path, 5)
    (tmp_path / "check.jsonl").write_text(json.dumps({"input": "x", "answer": "y", "verdict": "fail"}) + "\n"
                                          + json.dumps(line2) + "\n")
    judge = {"provider": "openai", "model": "judge", "base_url": fake.url + "/v1",
             "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}
    req = write_req(tmp_path, [openai_cand(fake, "plain")], scoring=[{"type": "judge"}], judge=judge,
                    evalset="tickets.jsonl", judge_check="check.jsonl")
    res = cli("eval", req, "--out", tmp_path / "run")
    out = flat(res.output)
    assert res.exit_code == 2 and "check.jsonl:2" in out and field in out and words in out, out
    assert not fake.requests_for("plain")  # found before any call is paid for


def test_judge_check_without_a_judge_scorer_is_bad_input_at_its_line(fake, keys, tmp_path: Path) -> None:
    (tmp_path / "check.jsonl").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "check.jsonl").write_text(json.dumps({"input": "x", "answer": "y", "verdict": "fail"}) + "\n")
    req = write_req(tmp_path, [openai_cand(fake, "plain")], judge_check="check.jsonl")
    res = cli("check", req)
    out = flat(res.output)
    assert res.exit_code == 2 and "req.yaml:" in out and "judge_check" in out and "no scorer here is a judge" in out


# --- the formulas --------------------------------------------------------------------------------

def test_rogan_gladen_undoes_a_known_judge() -> None:
    # truth 0.90, a judge 85% right both ways: it passes 0.9 * 0.85 + 0.1 * 0.15 = 0.78
    assert judge_error.rogan_gladen(0.78, 0.85, 0.85) == pytest.approx(0.90)
    est, lo, hi = judge_error.corrected((0.78, 0.70, 0.85), (0.85, 0.78, 0.91), (0.85, 0.78, 0.91))
    assert est == pytest.approx(0.90) and lo < 0.90 < hi
    assert judge_error.corrected((0.6, 0.5, 0.7), (0.6, 0.3, 0.9), (0.5, 0.2, 0.8))[1:] == (0.0, 1.0)  # no better than chance


@given(st.floats(0.05, 0.95), st.floats(0.6, 0.99), st.floats(0.6, 0.99), st.floats(0.0, 0.1), st.floats(0.0, 0.1),
       st.floats(0.0, 0.1))
def test_the_correction_recovers_the_truth_and_its_interval_holds_the_estimate(pi: float, se: float, sp: float,
                                                                              wp: float, wse: float, wsp: float) -> None:
    p = se * pi + (1 - sp) * (1 - pi)  # what the judge shows
    est, lo, hi = judge_error.corrected((p, max(0.0, p - wp), min(1.0, p + wp)),
                                        (se, max(0.0, se - wse), min(1.0, se + wse)),
                                        (sp, max(0.0, sp - wsp), min(1.0, sp + wsp)))
    assert est == pytest.approx(pi, abs=1e-9)
    assert 0.0 <= lo <= est + 1e-12 and est - 1e-12 <= hi <= 1.0
    if wp == wse == wsp == 0.0:  # nothing uncertain: a point
        assert lo == pytest.approx(pi) and hi == pytest.approx(pi)


# --- item 4: cost from quality calls only ----------------------------------------------------------

def test_a_load_pass_latency_only_calls_stay_out_of_the_cost_per_request(fake, keys, tmp_path: Path) -> None:
    """The load pass cycles the eval set from its start: 25 calls over 20 examples ask the first five
    twice, and those are the long ones. Counted in, they would lift the mean and call it n=45."""
    rows = [(f"e{i}", f"ticket {i} I was charged twice" + (" long" if i < 5 else ""), "billing", "simple")
            for i in range(20)]
    write_evalset(tmp_path, rows)
    fake.script("m", answer="billing", input_tokens=lambda p: 5000 if " long" in p else 100, output_tokens=1)
    req = write_req(tmp_path, [openai_cand(fake, "m")], evalset="tickets.jsonl", quality={"min_score": 0.1},
                    latency={"p50_ms": 2000, "p95_ms": 5000, "load": {"concurrency": 4, "calls": 25}},
                    decision={"max_error_rate": 0.5})
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code in (0, 1), res.output
    s, recs = run_dir(tmp_path / "run")
    quality = [r["cost_usd"] for r in recs if not r.get("latency_pass")]
    every = [r["cost_usd"] for r in recs]
    assert len(quality) == 20 and len(every) == 45
    c = s["candidates"]["oa-m"]["cost"]
    assert c["n"] == 20 and c["per_request_usd"] == pytest.approx(float(np.mean(quality)), rel=1e-6)
    assert float(np.mean(every)) > 1.1 * float(np.mean(quality))  # what counting them in would have said


def test_a_cap_on_output_tokens_puts_a_tail_the_sample_never_drew_inside_the_cost_interval() -> None:
    """50 answers of about 250 tokens, none of the rare 8,000-token ones: with max_tokens known the upper
    end allows for them; an example's repeats are one draw (n is examples, not calls)."""
    from dataclasses import replace

    from modelsel.analysis.metrics import cost
    from modelsel.inputs.requirements import Requirements
    from modelsel.run.calls import Calls
    from modelsel.run.records import Record

    rng = np.random.default_rng(3)
    toks = (250 * np.exp(0.5 * rng.normal(size=50))).astype(int) + 1
    recs = [Record(candidate="a", example_id=f"x{i}", repeat=k, output_tokens=int(t), input_tokens=400,
                   cost_usd=400 * 3e-6 + t * 15e-6, cost_live_usd=400 * 3e-6 + t * 15e-6)
            for k in range(2) for i, t in enumerate(toks)]
    arr = Calls.from_records(recs).arrays()
    arr = replace(arr, cost_output_usd=arr.output_tokens * 15e-6)
    req = Requirements.model_validate({"task": "t", "evalset": "x", "cost": {"monthly_requests": 1000}})
    plain, capped = cost(arr, req, 0.0), cost(arr, req, 0.0, 8192)
    assert plain.n == capped.n == 50 and plain.per_request_usd == pytest.approx(float(np.mean(400 * 3e-6 + toks * 15e-6)))
    assert capped.interval_method == "bootstrap_t+lognormal_pivot+capped_betting"
    truth_with_tail = 400 * 3e-6 + 15e-6 * (0.97 * float(np.mean(toks)) + 0.03 * 8000)
    assert plain.per_request_hi < truth_with_tail <= capped.per_request_hi


def test_examples_never_asked_stay_anything_from_0_to_1_after_the_correction() -> None:
    """A run cut short (deadline, budget): 20 of 25 examples asked, all passed by a judge that was right on
    all 20 checks. The corrected interval still counts the 5 unasked as anything from 0 to 1."""
    from modelsel.analysis.metrics import Unasked, compute
    from modelsel.inputs.judge_check import CheckRow
    from modelsel.inputs.requirements import Requirements
    from modelsel.run.calls import Calls
    from modelsel.run.records import Record

    recs = [Record(candidate="a", example_id=f"x{i}", score=1.0, passed=True, cost_usd=0.001) for i in range(20)]
    arr = Calls.from_records(recs).arrays()
    req = Requirements.model_validate({"task": "t", "evalset": "x"})
    figs, _, _ = compute(arr, req, None, {f"x{i}": Unasked(f"x{i}") for i in range(25)})
    before = figs["a"].quality.model_copy()
    check = [CheckRow(line=i + 1, input="q", answer="a", truth=i % 2 == 0, judged=i % 2 == 0) for i in range(20)]
    judge_error.apply(figs, arr, check, True)
    q = figs["a"].quality
    assert before.missing == q.missing == 5 and q.method == "judge_rogan_gladen"
    assert q.mean == pytest.approx(1.0) and q.hi == pytest.approx(1.0) and q.lo <= before.lo  # never narrower
