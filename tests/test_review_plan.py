"""Reviews that stay honest over years: each review is held against the decision's own run and the
reviews since (never only the newest run), the drift test spends a false-alarm budget planned over
all reviews of one decision, and a flip between candidates the data cannot separate is not 'does not
hold'. The rates over 8-quarter histories with known truth are in benchmarks/review_history.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    assert five.broke == ("e4", "e5", "e6", "e7")  # the examples a PM can open
    same = drift_test([before] * 5, before)
    assert same is not None and same.p == 1.0


def _history(seed: int, drop_at: int | None, quarters: int = 8, n: int = 80) -> list[dict[str, float]]:
    """The benchmark's design, one history: 70% of examples near-certain right, 15% near-certain
    wrong, 15% coins; a drop breaks four near-certain examples from quarter `drop_at` on."""
    rng = np.random.default_rng(seed)
    kind = rng.random(n)
    p = np.where(kind < 0.70, 0.98, np.where(kind < 0.85, 0.03, rng.uniform(0.3, 0.7, n)))
    sure = np.flatnonzero(p == 0.98)[:4]
    runs = []
    for q in range(quarters + 1):
        pq = p.copy()
        if drop_at is not None and q >= drop_at:
            pq[sure] = 0.02
        runs.append({f"e{i}": float(x) for i, x in enumerate(rng.random(n) < pq)})
    return runs


def _alarms(runs: list[dict[str, float]]) -> list[int]:
    out = []
    for q in range(1, len(runs)):
        d = drift_test(runs[:q], runs[q], permutations=2000)
        if d is not None and d.diff < 0 and d.p < budget(q, len(runs) - 1).per_look:
            out.append(q)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_unchanged_history_stays_quiet_and_a_drop_is_flagged_within_two_reviews(seed: int) -> None:
    assert _alarms(_history(seed, None)) == []
    flagged = _alarms(_history(seed, 5))
    assert flagged and flagged[0] in (5, 6), flagged


def test_with_one_earlier_run_it_is_the_exact_sign_flip_test() -> None:
    before = {f"e{i}": 1.0 for i in range(40)}
    for k in (1, 3, 6):  # k examples right then, wrong now, nothing else moved: p = 2^-k
        after = {**before, **{f"e{i}": 0.0 for i in range(k)}}
        d = drift_test([before], after, permutations=20_000)
        assert d is not None and d.p == pytest.approx(2.0**-k, abs=0.006)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=4, max_size=4), min_size=2, max_size=12))
def test_the_p_value_is_a_probability_and_a_rise_is_never_a_drop(rows: list[list[float]]) -> None:
    runs = [{f"e{i}": r[j] for i, r in enumerate(rows)} for j in range(4)]
    d = drift_test(runs[:3], runs[3], permutations=500)
    assert d is not None and 0 < d.p <= 1
    up = drift_test(runs[:3], {e: 1.0 for e in runs[3]}, permutations=500)
    assert up is not None and up.diff >= 0 and up.broke == ()  # so never called a drop
    again = drift_test(runs[:1], runs[0], permutations=500)
    assert again is not None and again.p == 1.0


def test_the_budget_is_planned_over_the_reviews_and_says_what_is_left() -> None:
    b = budget(3, 8)
    assert b.per_look == pytest.approx(ALPHA / 8) and b.left == pytest.approx(ALPHA * 5 / 8)
    assert "review 3 of 8 planned: a drop is called at p < 0.003125" in b.text() and "1.56% left" in b.text()
    assert "chance alone gives less than 1 time in 320" in b.text() and "left for 5 more review(s)" in b.text()
    assert budget(9, 8).exhausted and "record a new decision" in budget(9, 8).text()
    assert sum(budget(k, 8).per_look for k in range(1, 20)) <= ALPHA + 1e-12  # never more than the plan


def _summary(chosen: str, verdict: str, p_holm: float = 0.001) -> Summary:
    d = Decision(chosen=chosen, verdicts=[Verdict(candidate="inc", versus=chosen, verdict=verdict, text=f"{verdict} text",
                                                  comparison=Comparison(a=chosen, b="inc", n=80, diff=0.02,
                                                                        p_value=p_holm, p_holm=p_holm))])
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
    assert "one-sided p=0.0005 against 0.003125 at review 1 of 8 planned" in shown[0].text
    # 'worse' in this run alone (two-sided 4%) is not beyond review 3's share of the plan: no flip
    once = _choice(old, _summary("other", "worse", p_holm=0.04), "inc", look=3, planned=8)
    assert once[0].kind == "incumbent_keeps_place" and once[0].holds is True
    assert "not beyond this review's share of the plan (one-sided p=0.02 against 0.003125 at review 3" in once[0].text
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
    assert "a result chance alone gives less than 1 time in 320" in drift["text"]
    assert "false-alarm budget 2.5% over the plan, 0.62% spent, 1.88% left for 6 more review(s)" in drift["text"]
