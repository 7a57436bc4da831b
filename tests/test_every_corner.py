"""Decisions that hold in every corner, with known truth: clusters of unequal sizes, no observed
spread, partial runs, designs that cannot separate, non-inferiority by clusters, small tags, sure
passes before at-risk ones, and a largest gap between groups. The rates behind each are in
benchmarks/corners.py; here, the cases whose answer is known exactly."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsel.analysis import betting, stats
from modelsel.analysis.decision import decide
from modelsel.analysis.limits import check
from modelsel.analysis.metrics import Unasked, compute
from modelsel.analysis.partial import Run, robust_decide
from modelsel.catalog.compliance import Screening
from modelsel.run.calls import Calls
from modelsel.run.records import Record
from tests.conftest import cli, flat, write_evalset, write_req
from tests.test_decision import cand, req


def rec(c: str, ex: str, score: float, cluster: str | None = None, tags: list[str] | None = None,
        cost: float = 0.001, latency: float = 200.0) -> Record:
    return Record(candidate=c, example_id=ex, tags=tags or ["t"], cluster=cluster, score=score, passed=score >= 1.0,
                  latency_ms=latency, cost_usd=cost, attempts=1)


def arrays(rows: list[Record]) -> Any:
    return Calls.from_records(rows).arrays()


def plain(quality: dict[str, Any], **over: Any) -> Any:
    """Requirements with only the quality bars given (no latency, cost or error-rate limits)."""
    return req(quality=quality, latency={"p50_ms": None, "p95_ms": None},
               cost={"max_per_request_usd": None, "monthly_budget_usd": None},
               **{"decision": {"max_error_rate": 0.5, **over.pop("decision", {})}}, **over)


# --- 1. clusters of unequal sizes ----------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.integers(2, 12), st.integers(2, 8), st.integers(0, 10_000))
def test_equal_clusters_keep_the_usual_cluster_robust_t(g: int, m: int, seed: int) -> None:
    """With equal clusters CR2 is CR1 and Bell-McCaffrey's degrees of freedom are g - 1."""
    x = np.random.default_rng(seed).random(g * m)
    inv = np.repeat(np.arange(g), m)
    cv = stats.cr2(x, inv, g)
    assert cv.se == pytest.approx(stats.cluster_robust_se(x, inv, g))
    assert cv.df == pytest.approx(g - 1)


def test_one_big_cluster_beside_singles_has_the_few_degrees_of_freedom_it_carries() -> None:
    """One cluster of 30 and 30 single examples are 31 clusters, but half the information sits in
    one of them: the df are about 2-4, not 30, and the comparison is the sign-flip test."""
    rng = np.random.default_rng(3)
    inv = np.concatenate([np.zeros(30, int), np.arange(1, 31)])
    x = np.concatenate([np.full(30, 0.9), rng.random(30) * 0.2 + 0.5]) + rng.normal(0, 0.05, 60)
    assert stats.cr2(x, inv, 31).df < 4
    rows = []
    for i in range(60):
        cl = "big" if i < 30 else None
        rows += [rec("a", f"x{i}", float(rng.random() < 0.7), cl), rec("b", f"x{i}", float(rng.random() < 0.7), cl)]
    _, comps, _ = compute(arrays(rows), req())
    assert comps[0].test == "cluster_signflip" and comps[0].clusters == 31


# --- 2. no spread observed is not no uncertainty -------------------------------------------------

def test_ten_identical_graded_scores_do_not_make_a_point() -> None:
    """Ten answers scoring 0.9 are what a model scoring 0 on a ninth of its answers (truth 0.8)
    shows a third of the time: the interval reaches under 0.8, and a 0.88 bar is at risk."""
    rows = [rec("b", f"x{i}", 0.9) for i in range(10)]
    r = plain({"min_score": 0.88})
    figs, _, _ = compute(arrays(rows), r)
    q = figs["b"].quality
    assert q.method == "bounded_betting" and q.lo is not None and q.lo < 0.8 and q.hi is not None and q.hi > 0.9
    c = next(c for c in check(figs["b"], r) if c.requirement == "quality.min_score")
    assert c.status == "at_risk" and "crosses" in c.text


def test_identical_pairs_are_not_called_equivalent() -> None:
    rows = [rec(c, f"x{i}", 0.9) for c in ("a", "b") for i in range(10)]
    figs, comps, _ = compute(arrays(rows), plain({"min_score": 0.1}))
    assert comps[0].test == "bounded_betting" and comps[0].lo < -0.05 and comps[0].hi > 0.05
    d, _ = decide([cand("a", "openai"), cand("b", "google")], figs, comps,
                  plain({"min_score": 0.1}), Screening(), date(2026, 12, 1))
    assert all(v.verdict != "equivalent" for v in d.verdicts)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=40))
def test_the_bounded_interval_holds_the_mean_and_stays_in_range(xs: list[float]) -> None:
    m, lo, hi = betting.interval(xs)
    assert 0.0 <= lo <= m + 1e-12 <= hi + 1e-12 <= 1.0 + 1e-12
    assert betting.p_value(xs, m) > 0.05  # the observed mean is never rejected


def test_the_bounded_interval_covers_a_two_point_truth_it_cannot_see() -> None:
    """Scores 0.9 w.p. 8/9 and 0 w.p. 1/9 (truth 0.8), n = 10: coverage over 400 seeded draws."""
    rng = np.random.default_rng(5)
    hits = sum(lo <= 0.8 <= hi for lo, hi in (betting.interval(np.where(rng.random(10) < 1 / 9, 0.0, 0.9))[1:]
                                              for _ in range(400)))
    assert hits / 400 >= 0.95


# --- 3. a partial run decides nothing it did not measure -------------------------------------------

def _cut_short(a_right: int, a_asked: int) -> tuple[Any, dict[str, Unasked]]:
    rows = [rec("A", f"x{i}", float(i < a_right), cost=0.0001) for i in range(a_asked)]
    rows += [rec("B", f"x{i}", float(i % 6 != 0), cost=0.01) for i in range(60)]  # 50 of 60
    return arrays(rows), {f"x{i}": Unasked(f"x{i}", ("t",)) for i in range(60)}


def test_a_candidate_cut_short_is_not_chosen_on_the_examples_it_reached() -> None:
    """A deadline cut cheap A after 38 of 60 examples (it passed 35); B passed 50 of 60. Counting
    the 22 never asked as anything, A's bar of 0.75 is not judged, and with them failed A would be
    out: B is chosen, A is set aside as partial."""
    arr, ex = _cut_short(35, 38)
    r = plain({"min_score": 0.75})
    figs, comps, _ = compute(arr, r, None, ex)
    qa = figs["A"].quality
    assert qa.missing == 22 and qa.n == 38 and qa.lo is not None and qa.lo < 0.6 and qa.hi is not None and qa.hi > 0.9
    ca = next(c for c in check(figs["A"], r) if c.requirement == "quality.min_score")
    assert ca.status == "unmeasured" and "not judged" in ca.text and "22 never asked" in ca.text
    cands = [cand("A", "openai"), cand("B", "google")]
    d, _, scr = robust_decide(Run(arr, r, cands, ex, {}, date(2026, 12, 1)), figs, comps, Screening())
    assert d.chosen == "B" and "partial run: asked 38 of 60" in scr.not_evaluated["A"]
    assert "partial run: asked 38 of 60" in d.not_evaluated["A"]


def test_a_choice_that_holds_whatever_the_unasked_would_score_stands() -> None:
    """A passed all 58 it was asked; failing the other 2 leaves 58/60 = 0.967, still over the bar
    and still cheaper: the choice holds and the record says so."""
    arr, ex = _cut_short(58, 58)
    r = plain({"min_score": 0.75})
    figs, comps, _ = compute(arr, r, None, ex)
    cands = [cand("A", "openai"), cand("B", "google")]
    d, _, _ = robust_decide(Run(arr, r, cands, ex, {}, date(2026, 12, 1)), figs, comps, Screening())
    assert d.chosen == "A"
    assert any("holds whatever the 2 unasked would score" in x for x in d.reasons)


# --- 4. what the data can tell apart, as the test used can -----------------------------------------

def test_the_stated_power_counts_the_family() -> None:
    rng = np.random.default_rng(2)
    ids = [f"m{j}" for j in range(5)]
    rows = [rec(c, f"x{i}", float(rng.random() < 0.8)) for c in ids for i in range(80)]
    _, comps, res = compute(arrays(rows), req())
    assert res.family == 10 and res.alpha_per_pair == pytest.approx(0.005)
    one = compute(arrays([r for r in rows if r.candidate in ("m0", "m1")]), req())[2]
    assert one.family == 1
    # the same SD at 0.005 needs a larger gap than at 0.05
    assert res.minimum_detectable_difference_80pct_power > stats.minimum_detectable_difference(
        80, res.sd_of_paired_differences or 0.5)


def test_four_clusters_cannot_show_a_difference_and_price_does_not_decide() -> None:
    """'bad' is 40 points worse in every one of 4 clusters and cheaper. The sign-flip test cannot
    go under 2/16: the record says no difference can be shown, names the clusters that would do,
    and keeps the higher-scoring model, provisionally."""
    rng = np.random.default_rng(9)
    rows = []
    for g in range(4):
        for k in range(15):
            rows += [rec("good", f"c{g}-{k}", float(rng.random() < 0.85), f"c{g}", cost=0.01),
                     rec("bad", f"c{g}-{k}", float(rng.random() < 0.45), f"c{g}", cost=0.0001)]
    r = plain({"min_score": 0.1})
    figs, comps, res = compute(arrays(rows), r)
    assert res.can_show is False and res.clusters_needed == 6
    d, _ = decide([cand("good", "openai"), cand("bad", "google")], figs, comps, r, Screening(), date(2026, 12, 1))
    assert d.chosen == "good" and d.evidence_missing and "cannot separate" in d.evidence_missing
    v = d.verdicts[0]
    assert v.verdict == "not_comparable" and "About 6 clusters would do" in v.text
    from modelsel.report.fmt import resolution_sentence

    assert "no quality difference can be shown, whatever its size" in resolution_sentence(res)


# --- 5. non-inferiority by clusters --------------------------------------------------------------

def test_non_inferiority_is_tested_at_the_cluster_level_and_its_interval_supports_it() -> None:
    """10 clusters of 40 whose gap moves together: the one-sided p-value comes from the sign-flip
    test on the clusters, not from 400 examples treated as independent."""
    rng = np.random.default_rng(4)
    rows = []
    for g in range(10):
        u = rng.normal(0, 0.1)
        for k in range(40):
            rows += [rec("A", f"c{g}-{k}", float(rng.random() < 0.8 + u), f"c{g}", cost=0.01),
                     rec("B", f"c{g}-{k}", float(rng.random() < 0.78 - u), f"c{g}", cost=0.001)]
    r = plain({"min_score": 0.1}, decision={"equivalence": "non_inferior", "small_difference": 0.05})
    figs, comps, _ = compute(arrays(rows), r)
    c = comps[0]
    assert c.test == "cluster_signflip" and c.margin == 0.05 and c.p_b_noninferior is not None
    d, _ = decide([cand("A", "openai"), cand("B", "google")], figs, comps, r, Screening(), date(2026, 12, 1))
    v = next(v for v in d.verdicts)
    if v.verdict == "non_inferior":
        assert v.comparison is not None and (v.comparison.hi or 1) < 0.05
    else:
        assert v.verdict in ("not_shown_non_inferior", "worse")


# --- 6. small tags -------------------------------------------------------------------------------

def test_five_passes_on_a_must_pass_tag_are_at_risk_and_seventy_two_are_not() -> None:
    r = plain({"min_score": 0.1, "must_pass": ["safety"]})
    few = [rec("a", f"s{i}", 1.0, tags=["safety"]) for i in range(5)] + [rec("a", f"x{i}", 1.0) for i in range(50)]
    c = next(c for c in check(compute(arrays(few), r)[0]["a"], r) if c.requirement == "quality.must_pass.safety")
    assert c.status == "at_risk" and "up to 52% is not ruled out" in c.text and "72 independent" in c.text
    many = [rec("a", f"s{i}", 1.0, tags=["safety"]) for i in range(72)]
    c = next(c for c in check(compute(arrays(many), r)[0]["a"], r) if c.requirement == "quality.must_pass.safety")
    assert c.status == "pass"


# --- 7. sure before at risk ----------------------------------------------------------------------

def test_a_sure_pass_ranks_before_an_at_risk_pass_and_the_record_says_so() -> None:
    """Equal quality; cheaper 'X' has a p95 whose interval crosses the 1,000 ms limit, 'Y' one well
    under it. Y is chosen, and the reason names X's at-risk requirement."""
    rows = []
    for i in range(100):
        ok = float(i % 5 != 0)
        rows.append(rec("X", f"x{i}", ok, cost=0.001, latency=600.0 + 4.2 * i))  # p95 ~ 999
        rows.append(rec("Y", f"x{i}", ok, cost=0.002, latency=300.0 + i))
    r = plain({"min_score": 0.1})
    r.latency.p95_ms = 1000.0
    figs, comps, _ = compute(arrays(rows), r)
    checks_x = check(figs["X"], r)
    assert next(c for c in checks_x if c.requirement == "latency.p95_ms").status == "at_risk"
    d, _ = decide([cand("X", "openai"), cand("Y", "google")], figs, comps, r, Screening(), date(2026, 12, 1))
    assert d.chosen == "Y"
    assert any("'Y' ranks before 'X'" in x and "latency.p95_ms only at risk" in x for x in d.reasons)


# --- 9. fair across groups -----------------------------------------------------------------------

def test_max_gap_names_the_worst_group_and_fails_only_when_shown() -> None:
    rng = np.random.default_rng(1)
    r = plain({"min_score": 0.1, "max_gap": {"between": "lang:*", "gap": 0.05}})
    wide = [rec("a", f"{lang}{i}", float(rng.random() < p), tags=[f"lang:{lang}"])
            for lang, p in (("en", 0.95), ("de", 0.95), ("es", 0.45)) for i in range(60)]
    g = compute(arrays(wide), r)[0]["a"].gaps["lang:*"]
    assert g.worst[1] == "lang:es" and g.by_group["lang:en"].conf == pytest.approx(1 - 0.05 / 3)
    c = next(c for c in check(compute(arrays(wide), r)[0]["a"], r) if c.requirement.startswith("quality.max_gap"))
    assert c.status == "fail" and "'lang:es' (the lowest group)" in c.text
    same = [rec("a", f"{lang}{i}", 1.0, tags=[f"lang:{lang}"]) for lang in ("en", "de") for i in range(200)]
    c = next(c for c in check(compute(arrays(same), r)[0]["a"], r) if c.requirement.startswith("quality.max_gap"))
    assert c.status == "pass"


def test_max_gap_between_tags_the_eval_set_lacks_is_bad_input(tmp_path: Path) -> None:
    rows = [(f"e{i}", f"ticket {i}", "billing", "lang:en") for i in range(4)]
    write_evalset(tmp_path, rows)
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "rules:classify"}], evalset="tickets.jsonl",
                  quality={"min_score": 0.1, "max_gap": {"between": ["lang:en", "lang:dee"], "gap": 0.05}})
    (tmp_path / "rules.py").write_text("def classify(text):\n    return 'billing'\n")
    res = cli("check", p)
    assert res.exit_code == 2
    out = flat(res.output)
    assert "quality.max_gap[0].between" in out and "lang:dee" in out and "req.yaml" in out


def test_a_prefix_without_a_star_is_refused_with_its_line(tmp_path: Path) -> None:
    p = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "rules:classify"}],
                  quality={"min_score": 0.1, "max_gap": {"between": "lang", "gap": 0.05}})
    res = cli("check", p)
    assert res.exit_code == 2 and "prefix ending in '*'" in flat(res.output)
