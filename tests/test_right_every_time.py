"""Right every time: `--repeat K` as K independent tries, pass^k, pass@k and the examples that flip,
and `quality.min_pass_all` as a requirement. The fake model answers right on example i with a
known chance p_i, so the truth of pass^k is the mean of p_i^k."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelsel.analysis.consistency import pass_all_estimate, pass_at_k_estimate
from modelsel.analysis.metrics import compute, consistency_figures
from modelsel.inputs.requirements import Requirements
from modelsel.run.calls import Calls
from modelsel.run.records import Record
from tests.conftest import TICKETS, cli, openai_cand, oracle, run_dir, write_req

# --- the estimators ---------------------------------------------------------------------------


@given(st.integers(1, 8).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_estimators_are_the_mean_over_every_choice_of_k_tries(nck: tuple[int, int, int]) -> None:
    """Unbiased: C(c,k)/C(n,k) is the share of the k-subsets of the n tries that are all right, and
    1 - C(n-c,k)/C(n,k) the share with at least one right (so their expectation is p^k, 1-(1-p)^k)."""
    n, c, k = nck
    tries = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(tries, k))
    assert pass_all_estimate(n, c, k) == pytest.approx(sum(all(s) for s in subsets) / len(subsets))
    assert pass_at_k_estimate(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))


def test_estimators_refuse_more_tries_asked_than_made() -> None:
    with pytest.raises(ValueError):
        pass_all_estimate(2, 1, 3)


# --- a model whose chance of a right answer per example is known -------------------------------


def _records(p: list[float], k: int, rng: random.Random, cid: str = "m", clusters: list[str] | None = None
             ) -> list[Record]:
    return [Record(candidate=cid, example_id=f"x{i}", repeat=r, tags=["t"], cluster=clusters[i] if clusters else None,
                   score=float(ok), passed=ok, output="a")
            for i, pi in enumerate(p) for r in range(k) for ok in [rng.random() < pi]]


def _req(**quality: Any) -> Requirements:
    return Requirements.model_validate({"task": "t", "evalset": "e.jsonl", "quality": quality,
                                        "run": {"repeats": 3}})


def test_pass_all_pass_at_k_and_flips_on_a_known_pattern() -> None:
    """10 examples x 3 tries: 5 always right, 3 right on 2 of 3, 2 never right."""
    pattern = [3] * 5 + [2] * 3 + [0] * 2
    recs = [Record(candidate="m", example_id=f"x{i}", repeat=r, tags=["t"], score=float(r < c), passed=r < c, output="a")
            for i, c in enumerate(pattern) for r in range(3)]
    arr = Calls.from_records(recs).arrays()
    pa, pk, fl = consistency_figures(arr, 3)
    assert (pa.value, pa.n, pa.k) == (0.5, 10, 3)
    assert pk.value == 0.8
    assert (fl.count, fl.n, fl.ids) == (3, 10, ["x5", "x6", "x7"])
    # exact binomial over the 10 examples, never over the 30 tries
    assert pa.lo == pytest.approx(0.187086, abs=1e-5) and pa.hi == pytest.approx(0.812914, abs=1e-5)
    figs, _, _ = compute(arr, _req(min_score=0.1))
    assert figs["m"].quality.mean == pytest.approx((15 + 6) / 30)
    assert figs["m"].quality.pass_all == pa


def test_an_example_asked_fewer_than_k_times_is_not_shown() -> None:
    recs = [Record(candidate="m", example_id=f"x{i}", repeat=r, tags=[], score=1.0, passed=True, output="a")
            for i in range(10) for r in range(3 if i else 1)]
    pa, _, fl = consistency_figures(Calls.from_records(recs).arrays(), 3)
    assert (pa.value, pa.n, pa.missing) == (1.0, 9, 1)
    assert pa.hi == 1.0 and pa.lo < 0.66  # the unshown example counted as a failure at the lower end
    assert fl.count == 0


def test_clustered_examples_make_the_interval_of_their_clusters() -> None:
    """40 examples in 8 clusters of 5, every try right: the interval is that of 8 units, not 40 (or 120 tries)."""
    recs = [Record(candidate="m", example_id=f"x{i}", repeat=r, tags=[], cluster=f"c{i // 5}", score=1.0, passed=True,
                   output="a") for i in range(40) for r in range(3)]
    pa, _, _ = consistency_figures(Calls.from_records(recs).arrays(), 3)
    assert pa.clusters == 8 and pa.value == 1.0
    assert pa.lo == pytest.approx(0.631, abs=0.002)  # exact 95% lower bound of 8 of 8


def test_coverage_of_pass_all_with_known_truth() -> None:
    """300 runs of 60 examples x 3 tries by a model right on example i with chance p_i: the 95%
    interval of right-on-all-3 covers the truth (mean of p_i^3) in at least 94% of runs, the flip
    list names exactly the examples that flipped, and pass@3 covers mean of 1-(1-p_i)^3."""
    rng = random.Random(42)
    p = [1.0] * 30 + [rng.uniform(0.3, 0.95) for _ in range(30)]
    truth_all = sum(x**3 for x in p) / len(p)
    truth_any = sum(1 - (1 - x) ** 3 for x in p) / len(p)
    cover_all = cover_any = 0
    runs = 300
    for seed in range(runs):
        recs = _records(p, 3, random.Random(seed))
        pa, pk, fl = consistency_figures(Calls.from_records(recs).arrays(), 3)
        cover_all += pa.lo <= truth_all <= pa.hi
        cover_any += pk.lo <= truth_any <= pk.hi
        right: dict[str, set[bool]] = {}
        for r in recs:
            right.setdefault(r.example_id, set()).add(bool(r.passed))
        assert fl.ids == [e for e, v in right.items() if len(v) == 2]
    assert cover_all / runs >= 0.94
    assert cover_any / runs >= 0.94


def test_every_try_right_gives_the_interval_of_the_examples_not_of_the_calls() -> None:
    """Issue 49: 50 examples x 5 tries all right is 50 facts, not 250: the pass rate's lower end is
    the exact bound of 50 of 50 (0.929), not of 250 of 250 (0.985), which a truth of 0.975 would miss."""
    recs = [Record(candidate="m", example_id=f"x{i}", repeat=r, tags=[], score=1.0, passed=True, output="a")
            for i in range(50) for r in range(5)]
    figs, _, _ = compute(Calls.from_records(recs).arrays(), _req(min_score=0.1))
    assert figs["m"].quality.pass_rate == 1.0
    assert figs["m"].quality.pass_lo == pytest.approx(0.9289, abs=1e-3)


def test_the_tries_of_one_input_are_one_unit_for_the_p95() -> None:
    """Issue 49: 20 inputs x 5 tries, each input with its own time (100 ms apart) and its tries within
    a millisecond: 100 calls would bound a p95 from above, but they are 20 inputs' worth, too few."""
    recs = [Record(candidate="m", example_id=f"x{i}", repeat=r, tags=[], score=1.0, passed=True, output="a",
                   latency_ms=100.0 * (i + 1) + r * 0.1, attempts=1)
            for i in range(20) for r in range(5)]
    figs, _, _ = compute(Calls.from_records(recs).arrays(), _req(min_score=0.1))
    p95 = figs["m"].latency.p95
    assert p95.n == 100 and p95.value is not None and p95.hi is None
    alone = [r.model_copy(update={"example_id": f"y{j}"}) for j, r in enumerate(recs)]  # 100 different inputs
    assert compute(Calls.from_records(alone).arrays(), _req(min_score=0.1))[0]["m"].latency.p95.hi is not None


# --- through the command line, against the fake provider -----------------------------------------


def _flaky(p: dict[str, float], seed: int = 1) -> Any:
    """Right on a ticket with chance p[ticket id] (1.0 when not listed), else a wrong label."""
    rng = random.Random(seed)
    by_text = {t[1]: t[0] for t in TICKETS}

    def answer(prompt: str) -> str:
        right = oracle(prompt)
        ex = next((i for text, i in sorted(by_text.items(), key=lambda kv: -len(kv[0])) if text in prompt), None)
        if ex is not None and rng.random() >= p.get(ex, 1.0):
            return "billing" if right != "billing" else "other"
        return right
    return answer


def _cycle(wrong_every: dict[str, int]) -> Any:
    """Deterministic flips: on ticket e, every n-th ask is wrong (n = wrong_every[e])."""
    asked: dict[str, int] = {}
    by_text = {t[1]: t[0] for t in TICKETS}

    def answer(prompt: str) -> str:
        right = oracle(prompt)
        ex = next((i for text, i in sorted(by_text.items(), key=lambda kv: -len(kv[0])) if text in prompt), "")
        asked[ex] = asked.get(ex, 0) + 1
        if ex in wrong_every and asked[ex] % wrong_every[ex] == 0:
            return "billing" if right != "billing" else "other"
        return right
    return answer


def test_repeats_are_independent_calls_each_cached_under_its_own_key(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=_flaky({"e1": 0.5, "e2": 0.5, "e6": 0.5}))
    cand = openai_cand(fake, "m", params={"temperature": 0.7, "max_tokens": 20})
    req = write_req(tmp_path, [cand], run={"repeats": 3})
    res = cli("eval", req, "--out", tmp_path / "r1")
    assert res.exit_code in (0, 1), res.output
    sent = fake.requests_for("m")
    assert len(sent) == 36  # 12 examples x 3 tries, the cache on
    per_prompt: dict[str, list[dict[str, Any]]] = {}
    for x in sent:
        per_prompt.setdefault(x.prompt, []).append(x.body)
    assert len(per_prompt) == 12 and all(len(v) == 3 for v in per_prompt.values())
    for bodies in per_prompt.values():  # the parameters as set, no seed added, the same request each try
        assert all("seed" not in b and b["temperature"] == 0.7 for b in bodies)
        assert all(json.dumps(b, sort_keys=True) == json.dumps(bodies[0], sort_keys=True) for b in bodies)
    _, first = run_dir(tmp_path / "r1")
    assert {(r["example_id"], r["repeat"]) for r in first} == {(t[0], k) for t in TICKETS for k in range(3)}
    # Run again: every try comes from the cache, each under its own key (the answers of one example
    # differ between its tries: one answer was not reused K times)
    res = cli("eval", req, "--out", tmp_path / "r2")
    assert len(fake.requests_for("m")) == 36
    _, again = run_dir(tmp_path / "r2")
    assert all(r["cached"] for r in again)
    assert {(r["example_id"], r["repeat"], r["output"]) for r in again} == \
        {(r["example_id"], r["repeat"], r["output"]) for r in first}
    outs: dict[str, set[str]] = {}
    for r in again:
        outs.setdefault(r["example_id"], set()).add(r["output"])
    assert any(len(v) > 1 for v in outs.values())


def _two(fake, tmp_path: Path, bar: float, **over: Any) -> Path:  # type: ignore[no-untyped-def]
    fake.script("steady", answer=oracle)
    # wrong on every 3rd ask of six tickets: right on 2 of 3 tries there, whatever order they come in
    fake.script("flaky", answer=_cycle({e: 3 for e in ("e1", "e2", "e3", "e4", "e6", "e7")}))
    quality = {"min_score": 0.5, "min_pass_all": bar}
    return write_req(tmp_path, [openai_cand(fake, "steady", pin=2.0, pout=4.0), openai_cand(fake, "flaky", pin=0.5, pout=1.0)],
                     quality=quality, run={"repeats": 3}, **over)


def test_min_pass_all_eliminates_with_the_figure_and_its_interval(fake, keys, tmp_path: Path) -> None:
    res = cli("eval", _two(fake, tmp_path, 0.8), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    s, _ = run_dir(tmp_path / "run")
    flaky, steady = s["candidates"]["oa-flaky"]["quality"], s["candidates"]["oa-steady"]["quality"]
    assert flaky["pass_all"] == {"value": 0.5, "lo": pytest.approx(0.2109, abs=1e-3), "hi": pytest.approx(0.7891, abs=1e-3),
                                 "n": 12, "k": 3, "clusters": None, "missing": 0}
    assert flaky["pass_at_k"]["value"] == 1.0 and flaky["pass_at_k"]["k"] == 3
    assert flaky["flips"]["count"] == 6 and flaky["flips"]["ids"] == ["e1", "e2", "e3", "e4", "e6", "e7"]
    assert flaky["mean"] == pytest.approx(30 / 36, abs=1e-6)  # the mean over tries alone would pass 0.5 easily
    d = s["decision"]
    assert d["chosen"] == "oa-steady"
    assert "right on all 3 tries 50.0% (95% CI 21.1%-78.9%, n=12) is below the limit 80.0%" in d["eliminated"]["oa-flaky"]
    # all 12 right on all tries: 12 examples cannot rule out a share under 80%, so at risk
    assert steady["pass_all"]["value"] == 1.0 and steady["pass_all"]["lo"] == pytest.approx(0.7354, abs=1e-3)
    assert any("right on all 3 tries 100.0% (95% CI 73.5%-100.0%, n=12) meets 80.0%, but its interval crosses it" in r
               for r in d["at_risk"]["oa-steady"])
    md = (tmp_path / "run" / "decision.md").read_text()
    assert "Right on all 3 tries for 100% of requests (95% CI 74%–100%); 0 of 12 examples gave different answers on " \
           "different tries." in md  # a requirement names it: said in the one-minute opening
    assert "oa-flaky flips on: e1, e2, e3, e4, e6, e7." in md
    assert "12 examples x 3 independent tries each" in md
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Right every time (3 independent tries per example)" in html and "e1, e2, e3, e4, e6, e7" in html


def test_nobody_qualifies_on_min_pass_all_and_what_if_names_the_move(fake, keys, tmp_path: Path) -> None:
    fake.script("flaky", answer=_cycle({e: 3 for e in ("e1", "e2", "e3", "e4", "e6", "e7")}))
    req = write_req(tmp_path, [openai_cand(fake, "flaky")], quality={"min_score": 0.5, "min_pass_all": 0.9},
                    run={"repeats": 3})
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 1
    md = (tmp_path / "run" / "decision.md").read_text()
    assert "quality.min\\_pass\\_all would have to be lowered from 0.9 to 0.5 (by 0.4)" in md


def test_survivors_are_compared_on_right_on_all_tries_when_a_requirement_names_it(fake, keys, tmp_path: Path) -> None:
    """Both pass a low bar; the comparison the choice rests on is right-on-all-3 per example (steady
    12 of 12, flaky 6 of 12: -50 points), not the mean over tries (-16.7 points)."""
    res = cli("eval", _two(fake, tmp_path, 0.3), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    s, _ = run_dir(tmp_path / "run")
    c = s["comparisons"][0]
    assert {c["a"], c["b"]} == {"oa-steady", "oa-flaky"}
    assert abs(c["diff"]) == pytest.approx(0.5) and c["n"] == 12
    assert s["decision"]["best"] == "oa-steady"
    assert s["resolution"]["on"] == "right on all 3 tries"
    assert any("compared on what it measures: per example, right on all 3 tries or not" in r
               for r in s["decision"]["reasons"])
    md = (tmp_path / "run" / "decision.md").read_text()
    assert "differences in the share right on all 3 tries under about" in md


def test_the_opening_speaks_of_flips_over_a_tenth_without_a_requirement(fake, keys, tmp_path: Path) -> None:
    fake.script("flaky", answer=_cycle({"e1": 3, "e2": 3}))
    req = write_req(tmp_path, [openai_cand(fake, "flaky")], run={"repeats": 3})
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    md = (tmp_path / "run" / "decision.md").read_text()
    opening = md.split("## In one minute")[1].split("- Status")[0]
    assert "Right on all 3 tries for 83% of requests (95% CI 52%–98%); 2 of 12 examples gave different answers on " \
           "different tries." in opening
    fake.script("steady", answer=_cycle({"e1": 3}))  # 1 of 12 flips: under a tenth, not in the opening
    res = cli("eval", write_req(tmp_path / "b", [openai_cand(fake, "steady")], run={"repeats": 3}), "--out", tmp_path / "b" / "run")
    opening = (tmp_path / "b" / "run" / "decision.md").read_text().split("## In one minute")[1].split("- Status")[0]
    assert "different answers on different tries" not in opening


def test_check_and_eval_refuse_min_pass_all_without_repeats(fake, keys, tmp_path: Path) -> None:
    req = write_req(tmp_path, [openai_cand(fake, "m")], quality={"min_score": 0.5, "min_pass_all": 0.8})
    res = cli("check", req)
    assert res.exit_code == 2
    out = " ".join(res.output.split())
    line = next(i for i, x in enumerate(req.read_text().splitlines(), 1) if "min_pass_all" in x)
    assert f"req.yaml:{line}: field 'quality.min_pass_all'" in out and "set run.repeats: 3" in out.replace("Set", "set")
    ok = write_req(tmp_path, [openai_cand(fake, "m")], quality={"min_score": 0.5, "min_pass_all": 0.8},
                   run={"repeats": 3})
    assert cli("check", ok).exit_code == 0
    res = cli("eval", ok, "--repeat", "1")
    assert res.exit_code == 2 and "this run makes 1" in " ".join(res.output.split())
    assert fake.requests_for("m") == []


def test_dry_run_and_budget_guard_count_every_try(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, input_tokens=1000, output_tokens=10)
    cand = openai_cand(fake, "m", params={"max_tokens": 10}, pin=1000.0, pout=1000.0)
    req = write_req(tmp_path, [cand], run={"repeats": 3},
                    cost={"max_per_request_usd": 100, "monthly_budget_usd": 10**9, "monthly_requests": 10})
    res = cli("eval", req, "--dry-run")
    out = " ".join(res.output.split())
    assert res.exit_code == 0 and "12 examples x 3 independent tries each" in out
    assert "│ 36 │" in res.output.replace(" ", "").replace("│36│", "│ 36 │")
    # Each call costs about $1 (less once the fake's prompt cache serves a repeated prefix): a guard of
    # $15 stops well before 36 tries, counting each one, and never spends past the cap
    res = cli("eval", req, "--out", tmp_path / "run", "--max-cost", "15")
    s, recs = run_dir(tmp_path / "run")
    assert s["run"]["budget_stopped"] is True and 0 < len(fake.requests_for("m")) < 36
    assert s["run"]["spent_usd"] <= 15
    assert s["run"]["calls_not_made"] == 36 - len(recs) > 0  # the tries not made are counted as calls


def test_review_compares_right_on_all_tries_with_the_decision(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "m")], run={"repeats": 3})
    assert cli("eval", req).exit_code == 0
    res = cli("review", req, "--out", tmp_path / "same")
    r = json.loads((tmp_path / "same" / "review.json").read_text())
    kinds = {f["kind"]: f for f in r["findings"]}
    assert kinds["consistency_drift"]["holds"] is True
    assert "consistency stable: 'oa-m' right on all 3 tries for 100% of examples vs 100% in the decision" in \
        kinds["consistency_drift"]["text"]
    fake.script("m", answer=_cycle({t[0]: 3 for t in TICKETS}))  # every ticket now wrong on one try in 3
    res = cli("review", req, "--out", tmp_path / "rev", "--no-cache")
    assert res.exit_code == 1
    r = json.loads((tmp_path / "rev" / "review.json").read_text())
    kinds = {f["kind"]: f for f in r["findings"]}
    assert kinds["consistency_drift"]["holds"] is False
    assert kinds["consistency_drift"]["before"] == 1.0 and kinds["consistency_drift"]["after"] == 0.0
    assert "consistency drifted down" in res.output and "-100.0 points" in kinds["consistency_drift"]["text"]


def test_requirements_repeats_and_the_record_say_k(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "m")], run={"repeats": 2})
    assert cli("eval", req, "--out", tmp_path / "run").exit_code == 0
    s, recs = run_dir(tmp_path / "run")
    assert s["run"]["repeat"] == 2 and len(recs) == 24
    assert s["candidates"]["oa-m"]["quality"]["pass_all"]["k"] == 2
    assert "12 examples x 2 independent tries each" in (tmp_path / "run" / "decision.md").read_text()
    assert cli("eval", req, "--out", tmp_path / "one", "--repeat", "1").exit_code == 0  # the command line wins
    s, recs = run_dir(tmp_path / "one")
    assert s["run"]["repeat"] == 1 and len(recs) == 12 and s["candidates"]["oa-m"]["quality"]["pass_all"] is None


def test_the_local_model_sends_no_seed_of_its_own() -> None:
    """A seed sent with every call would make K tries at a temperature above 0 one answer K times:
    the local provider sends the parameters as the candidate sets them, a seed only when set."""
    from modelsel.providers.local_llama import LocalLlamaProvider

    assert "seed" not in LocalLlamaProvider.defaults


def test_the_budget_guard_refuses_when_nothing_is_in_flight_whatever_the_rounding() -> None:
    """Four calls of about $2 reserved and settled leave 1.1e-15 of rounding in `reserved`: a call
    that does not fit must be refused, not wait for a settlement that never comes (it hung the
    budget-guard test with K tries about one run in three)."""
    import asyncio

    from modelsel.run.runner import Budget

    async def go() -> float | None:
        b = Budget(8.0)
        ests = [1.0000001 * x for x in (1.1, 2.2, 3.3, 0.7)]
        for e in ests:
            assert await b.reserve_when_known(lambda e=e: e) == e
        for e in ests:
            b.settle(e, e)
        return await asyncio.wait_for(b.reserve_when_known(lambda: 1.0), timeout=2)

    assert asyncio.run(go()) is None
