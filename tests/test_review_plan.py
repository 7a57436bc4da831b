"""Reviews that stay honest over years: each review is held against the decision's own run and the
reviews since (never only the newest run), the drift test spends a false-alarm budget planned over
all reviews of one decision, and a flip between candidates the data cannot separate is not 'does not
hold'. The rates over 8-quarter histories with known truth are in benchmarks/review_history.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelsel.quarterly.drift import ALPHA, budget, drift_test
from modelsel.quarterly.review import _choice
from modelsel.schema import Comparison, Decision, Summary, Verdict
from tests.conftest import cli, wrong_on
from tests.test_review import _baseline


def _runs(n: int = 80, wrong: int = 4) -> tuple[dict[str, float], dict[str, float]]:
    before = {f"e{i}": float(i >= wrong) for i in range(n)}  # right on all but `wrong`, every run
    after = {**before, **{f"e{i}": 0.0 for i in range(wrong, 2 * wrong)}}  # 4 more wrong: 5 points lower
    return before, after


def test_a_drop_one_run_cannot_show_is_shown_against_the_decisions_earlier_runs() -> None:
    before, after = _runs()
    one = drift_test([before], after)
    assert one is not None and one.diff == pytest.approx(-0.05) and one.p == pytest.approx(1 / 16, abs=0.01)
    five = drift_test([before] * 5, after)  # the decision's run and four reviews that held
    assert five is not None and five.p < budget(5, 8).per_look  # (1/6)^4 = 0.0008 under 0.0031
    same = drift_test([before] * 5, before)
    assert same is not None and same.p == 1.0


def test_the_budget_is_planned_over_the_reviews_and_says_what_is_left() -> None:
    b = budget(3, 8)
    assert b.per_look == pytest.approx(ALPHA / 8) and b.left == pytest.approx(ALPHA * 5 / 8)
    assert "review 3 of 8 planned: a drop is called at p < 0.003125" in b.text() and "1.56% left" in b.text()
    assert budget(9, 8).exhausted and "record a new decision" in budget(9, 8).text()
    assert sum(budget(k, 8).per_look for k in range(1, 20)) <= ALPHA + 1e-12  # never more than the plan


def _summary(chosen: str, verdict: str) -> Summary:
    d = Decision(chosen=chosen, verdicts=[Verdict(candidate="inc", versus=chosen, verdict=verdict, text=f"{verdict} text",
                                                  comparison=Comparison(a=chosen, b="inc", n=80, diff=0.02))])
    return Summary.model_validate({"modelsel_version": "t", "run": {"started_at": "x", "finished_at": "x",
                                   "requirements": "r", "evalset": "e", "n_examples": 80}, "requirements": {},
                                   "candidates": {}, "decision": d.model_dump()})


def test_a_flip_between_candidates_the_data_cannot_separate_is_not_a_failed_review() -> None:
    old = _summary("inc", "not_distinguishable")
    kept = _choice(old, _summary("other", "not_distinguishable"), "inc")
    assert kept[0].kind == "incumbent_keeps_place" and kept[0].holds is True
    assert "is not shown better than 'inc'" in kept[0].text and "the incumbent keeps its place" in kept[0].text
    shown = _choice(old, _summary("other", "worse"), "inc")
    assert shown[0].kind == "new_choice" and shown[0].holds is False
    priced = _choice(old, _summary("other", "not_distinguishable"), "inc", prices_moved=True)
    assert priced[0].holds is False and "a price changed" in priced[0].text


def test_a_second_review_is_held_against_the_decision_not_the_first_review(fake, keys, tmp_path: Path) -> None:
    req = _baseline(fake, tmp_path)
    decision = next(p for p in (tmp_path / "reports").iterdir() if (p / "summary.json").exists())
    fake.script("a", answer=wrong_on({"e1"}))
    first = cli("review", req, "--out", tmp_path / "reports" / "r1")
    assert "against the decision's run" in first.output.replace("\n", " ")
    second = cli("review", req, "--out", tmp_path / "reports" / "r2")  # the newest run is r1, a review
    r2 = json.loads((tmp_path / "reports" / "r2" / "review.json").read_text())
    assert Path(r2["against"]).resolve() == decision.resolve()
    drift = next(f for f in r2["findings"] if f["kind"] == "quality_drift")
    assert "the 2 earlier runs of this decision (its run and reviews)" in drift["text"]
    assert "review 2 of 8 planned" in drift["text"], second.output
