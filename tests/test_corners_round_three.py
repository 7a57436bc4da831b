"""Claims that hold in the corners of the third audit, each with an answer known exactly; the rates
over many simulated runs are in benchmarks/corners3.py."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from modelsel.analysis import betting, stats
from modelsel.analysis.decision import decide
from modelsel.analysis.limits import check
from modelsel.analysis.metrics import compute
from modelsel.catalog.compliance import Screening
from tests.conftest import ROOT, cli, flat, openai_cand, oracle, run_dir, write_req, wrong_on
from tests.test_decision import cand
from tests.test_every_corner import arrays, plain, rec


def test_every_answer_right_in_8_clusters_is_an_interval_over_8_clusters_not_80_rows() -> None:
    """80 examples in 8 clusters, all right: nothing shows the rows of a cluster are more than one
    answer, so the exact interval is over the 8 clusters (8 of 8: lower end 0.025^(1/8) = 0.631)."""
    m, lo, hi = stats.clustered_proportion([1.0] * 80, [f"c{i // 10}" for i in range(80)])
    assert m == 1.0 and hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 8), abs=1e-6)
    # unequal clusters: Kish's n at a correlation of 1, (sum n_g)^2 / sum n_g^2
    sizes = [40, 10, 10, 10, 10]
    ids = [f"c{g}" for g, s in enumerate(sizes) for _ in range(s)]
    n_eff = 80**2 / sum(s * s for s in sizes)
    assert stats.clustered_proportion([1.0] * 80, ids)[1] == pytest.approx(0.025 ** (1 / n_eff), abs=1e-6)
    # all wrong, the mirror image
    assert stats.clustered_proportion([0.0] * 80, [f"c{i // 10}" for i in range(80)])[2] == pytest.approx(
        1 - 0.025 ** (1 / 8), abs=1e-6)
    # single examples (no clusters) keep the exact interval over the rows
    assert stats.clopper_pearson(80, 80)[0] == pytest.approx(0.025 ** (1 / 80), abs=1e-6)


def test_a_bar_just_above_the_truth_is_not_a_sure_pass_when_every_clustered_answer_is_right() -> None:
    r = plain({"min_score": 0.935})
    rows = [rec("a", f"x{i}", 1.0, cluster=f"c{i // 10}") for i in range(80)]
    c = next(c for c in check(compute(arrays(rows), r)[0]["a"], r) if c.requirement == "quality.min_score")
    assert c.status == "at_risk", c.text


def test_worse_under_non_inferiority_needs_the_holm_adjusted_p_over_the_table() -> None:
    """12 candidates: 'b' misses 7 of 80 examples the others all get right. Its own interval
    excludes 0 (Tango p about 0.008), but over the 66 comparisons of the table Holm's p is far above
    0.05: 'b' is not shown non-inferior, and not called worse."""
    ids = ["a", "b"] + [f"o{i}" for i in range(10)]
    rows = [rec(c, f"x{i}", 0.0 if c == "b" and i < 7 else 1.0, cost=0.001 * (k + 1))
            for k, c in enumerate(ids) for i in range(80)]
    r = plain({"min_score": 0.1}, decision={"equivalence": "non_inferior", "small_difference": 0.05})
    figs, comps, _ = compute(arrays(rows), r)
    d, _ = decide([cand(c, f"v{k}") for k, c in enumerate(ids)], figs, comps, r, Screening(), date(2026, 12, 1))
    v = next(v for v in d.verdicts if v.candidate == "b")
    assert v.comparison is not None and v.comparison.lo is not None and v.comparison.lo > 0
    assert v.verdict == "not_shown_non_inferior", v.text
    assert "worse" not in v.text


def test_a_37_point_gap_between_groups_is_shown_and_eliminates() -> None:
    """en/de/es at 29/28/18 right of 30, limit 5 points: every pair bounded at once (MOVER at
    1 - 0.05/3), the worst pair's lower end is about 10 points, over the limit: fail, not at risk."""
    r = plain({"min_score": 0.1, "max_gap": {"between": "lang:*", "gap": 0.05}})
    rows = [rec("a", f"{lang}{i}", float(i < k), tags=[f"lang:{lang}"])
            for lang, k in (("en", 29), ("de", 28), ("es", 18)) for i in range(30)]
    c = next(c for c in check(compute(arrays(rows), r)[0]["a"], r) if c.requirement.startswith("quality.max_gap"))
    assert c.status == "fail", c.text
    assert c.lo == pytest.approx(0.0992, abs=0.002) and c.measured == pytest.approx(0.3667, abs=1e-3)
    assert "'lang:en' over 'lang:es' (the lowest group) by 36.7 points" in c.text


def test_the_opening_says_when_a_higher_scoring_model_lost_on_price(fake, keys, tmp_path: Path) -> None:
    """cheap is wrong on 2 of 12, dear on none: 16.7 points apart, not told apart at n=12, so cost
    decides. The first lines of the record say that dear scored higher, by how much, and why it lost."""
    fake.script("cheap", answer=wrong_on({"e1", "e2"}), input_tokens=500, output_tokens=5)
    fake.script("dear", answer=oracle, input_tokens=500, output_tokens=5)
    cands = [openai_cand(fake, "cheap", pin=0.1, pout=0.1), openai_cand(fake, "dear", pin=10.0, pout=10.0)]
    req = write_req(tmp_path, cands, decision={"priority": ["cost"], "max_error_rate": 0.2}, quality={"min_score": 0.5})
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    s, _ = run_dir(tmp_path / "run")
    assert s["decision"]["chosen"] == "oa-cheap"
    head = (tmp_path / "run" / "decision.md").read_text().split("- Status:")[0]
    assert "**oa-dear scored 16.7 points higher** than oa-cheap" in head
    assert "the choice went by cost" in head and "A gap of that size is not ruled out" in head


def test_check_warns_when_the_shortlist_is_longer_than_the_eval_set_can_separate(tmp_path: Path) -> None:
    cands = [{"id": f"p{i}", "provider": "python", "model": "rules:answer"} for i in range(12)]
    for folder in (tmp_path, tmp_path / "two"):
        folder.mkdir(exist_ok=True)
        (folder / "rules.py").write_text("def answer(text):\n    return 'other'\n")
    res = cli("check", write_req(tmp_path, cands))
    text = flat(res.output)
    assert "12 candidates on 12 examples (66 comparisons): a true gap under about" in text
    assert "shorten the shortlist" in text or "keep at most" in text
    few = cli("check", write_req(tmp_path / "two", cands[:2]))
    assert "2 candidates on 12 examples (1 comparison)" in flat(few.output)


def test_the_readme_names_the_methods_from_the_one_table_and_the_record_only_those_that_ran(
        fake, keys, tmp_path: Path) -> None:
    from modelsel.analysis.methods import readme_rows

    readme = (ROOT / "README.md").read_text()
    assert all(r in readme for r in readme_rows())
    fake.script("m", answer=oracle)
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "m")], latency={}), "--out", tmp_path / "run")
    assert res.exit_code in (0, 1) and (tmp_path / "run" / "decision.md").exists(), res.output
    md = (tmp_path / "run" / "decision.md").read_text()
    assert "Quality is the mean score over examples (repeats pooled) with a 95% interval: exact binomial " \
           "(Clopper-Pearson) for pass/fail scores;" in md
    assert "bootstrap-t" not in md and "cluster-robust t from 30" not in md and "betting" not in md
    assert "exact binomial (Clopper-Pearson) for pass/fail scores" in (tmp_path / "run" / "report.html").read_text()


@pytest.mark.parametrize("g", [4, 6, 8])
def test_graded_scores_in_few_clusters_get_an_interval_over_the_clusters(g: int) -> None:
    """The cluster-level betting interval: valid for every distribution with the clusters as draws;
    with g clusters whose mean scores are known it holds the row mean and is no narrower than the
    betting interval over the g cluster means alone."""
    rng = np.random.default_rng(g)
    x = np.concatenate([np.clip(rng.normal(0.6 + 0.3 * rng.random(), 0.1, 10), 0, 1) for _ in range(g)])
    cl = [f"c{i // 10}" for i in range(10 * g)]
    m, lo, hi = stats.cluster_betting(x, cl)
    assert lo <= m <= hi and m == pytest.approx(x.mean())
    means = x.reshape(g, 10).mean(axis=1)
    _, blo, bhi = betting.interval(means)
    assert lo == pytest.approx(blo, abs=1e-6) and hi == pytest.approx(bhi, abs=1e-6)  # equal clusters: the same


def test_graded_non_inferiority_is_the_betting_test_not_the_paired_t() -> None:
    """Rare total failures make the paired t's one-sided level too loose: B, equal to A but for a
    zero on 6 of 80 examples, is tested by betting on the bounded differences."""
    a = np.clip(np.random.default_rng(3).normal(0.8, 0.15, 80), 0, 1)
    b = a.copy()
    b[:6] = 0.0
    r = stats._paired(a, b, binary=False)
    d = a - b
    assert stats._p_shortfall(d, r, 0.05, False, None) == pytest.approx(betting.p_below(d, 0.05, lo=-1.0, hi=1.0))
