"""Messy data with known truth: failed calls, clustered examples and repeats, rate limits,
failing strategy members, many equal candidates, one host behind two vendors, and the sentences
a record writes in its corners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelsel.analysis.metrics import compute
from modelsel.run.calls import Calls
from modelsel.run.records import Record
from tests.conftest import cli, compat_cand, openai_cand, oracle, run_dir, write_req
from tests.test_decision import cand, recs, req, run

# --- 1. a failed request is a failed answer ------------------------------------------------------


def test_a_candidate_that_errors_where_others_fail_does_not_win_on_the_answers_it_gave() -> None:
    """'flaky' errors (after its retries) on exactly the three examples 'solid' gets wrong. Its
    users get no answer there: both deliver 57 good answers of 60."""
    flaky, solid = cand("flaky", "openai"), cand("solid", "google")
    records = recs("flaky", set(range(60)), errors={0, 1, 2}) + recs("solid", set(range(3, 60)))
    r = req(quality={"min_score": 0.96}, decision={"max_error_rate": 0.1})
    figs, d, _ = run([flaky, solid], records, r)
    q = figs["flaky"].quality
    assert q.mean == pytest.approx(57 / 60) and q.n == 60
    assert q.answered_mean == pytest.approx(1.0) and q.answered_n == 57  # shown beside, labelled, never judged
    assert d.chosen is None and "flaky" in d.eliminated and "solid" in d.eliminated
    # at a bar both meet, the failed requests count in the paired comparison too: no difference
    figs, d, _ = run([flaky, solid], records, req(quality={"min_score": 0.9}, decision={"max_error_rate": 0.1}))
    v = next(v for v in d.verdicts)
    assert v.comparison is not None and v.comparison.diff == pytest.approx(0.0)


def test_errors_fail_must_pass_and_count_in_quality_by_tag() -> None:
    tags = ["simple"] * 50 + ["adversarial"] * 10
    records = recs("m", set(range(60)), errors={55}, tags=tags)
    figs, d, _ = run([cand("m", "openai")], records, req(quality={"must_pass": ["adversarial"]},
                                                         decision={"max_error_rate": 0.1}))
    assert figs["m"].by_tag["adversarial"].mean == pytest.approx(0.9)
    assert d.chosen is None and any("must pass" in t or "which must all pass" in t for t in d.eliminated["m"])


# --- 2. clusters and repeats count everywhere ------------------------------------------------------


def _clustered_pair(rng: np.random.Generator, g: int, m: int, base: float = 0.7, sd: float = 0.25) -> list[Record]:
    """Two models of equal true quality whose advantage varies by cluster (a topic one model knows
    better), pass/fail answers."""
    out = []
    for c in range(g):
        shift = rng.normal(0, sd)
        for name, s in (("a", shift), ("b", -shift)):
            p = float(np.clip(base + s, 0.02, 0.98))
            for j in range(m):
                ok = bool(rng.random() < p)
                out.append(Record(candidate=name, example_id=f"c{c}-{j}", cluster=f"c{c}", tags=["t"], score=float(ok),
                                  passed=ok, latency_ms=100.0, cost_usd=0.001, attempts=1))
    return out


def test_paired_comparisons_are_made_at_the_cluster_level() -> None:
    """6 clusters of 10, equal true quality: the naive paired test said 'interval excludes 0' in 39%
    of runs; at the cluster level it stays near 5%, and n is stated as clusters."""
    rng = np.random.default_rng(11)
    sig = 0
    reps = 300
    for _ in range(reps):
        arr = Calls.from_records(_clustered_pair(rng, 6, 10)).arrays()
        _, comps, res = compute(arr, req())
        sig += comps[0].significant
    assert comps[0].test == "cluster_signflip" and comps[0].clusters == 6 and comps[0].n == 60
    assert res.clusters == 6 and res.n_effective is not None and res.n_effective < 60
    assert sig / reps <= 0.065


def test_repeats_are_a_cluster_for_the_pass_rate_and_must_pass() -> None:
    """60 examples x 5 repeats, each example always right or always wrong: 300 calls but 60 facts."""
    rows = []
    for i in range(60):
        for k in range(5):
            ok = i < 40
            rows.append(Record(candidate="m", example_id=f"x{i}", repeat=k, tags=["must"] if i < 10 else ["other"],
                               score=float(ok), passed=ok, latency_ms=100.0, cost_usd=0.001, attempts=1))
    arr = Calls.from_records(rows).arrays()
    figs, _, _ = compute(arr, req())
    q = figs["m"].quality
    assert q.pass_rate == pytest.approx(40 / 60)
    assert q.pass_lo <= 0.54 and q.pass_hi >= 0.78  # [0.533, 0.783] is the interval of 60 independent examples
    from modelsel.analysis.limits import check

    text = next(c.text for c in check(figs["m"], req(quality={"must_pass": ["must"]})) if "must_pass" in c.requirement)
    assert "passed all 50 'must' calls (10 examples" in text and "up to 31%" in text


# --- 3. latency as the user waits --------------------------------------------------------------------


def test_rate_limited_requests_count_their_wait_and_the_record_says_why(fake, keys, tmp_path: Path, monkeypatch) -> None:
    """'throttled' answers in 20 ms but every fourth request first gets a 429 asking for 0.4 s; 'steady'
    answers in 60 ms. A p95 limit of 300 ms: the user of 'throttled' waits over 400 ms on a quarter
    of requests, so it fails p95 (it passed at 20 ms when only the last attempt was timed)."""
    monkeypatch.setenv("MODELSEL_RETRY_SCALE", "1")
    limited = {"I was charged twice", "parcel never arrived", "export gives blank pages"}
    hit: set[str] = set()

    def once(prompt: str) -> str | None:
        for t in limited:
            if t in prompt and t not in hit:
                hit.add(t)
                return "429"
        return None

    fake.script("throttled", answer=oracle, latency_ms=20, fault_when=once, retry_after="0.4")
    fake.script("steady", answer=oracle, latency_ms=60)
    cands = [openai_cand(fake, "throttled", pin=0.1, pout=0.1), openai_cand(fake, "steady", pin=1.0, pout=1.0)]
    req_path = write_req(tmp_path, cands, latency={"p50_ms": 250, "p95_ms": 300})
    # Only the 12 scripted requests: extra calls for the p95 would meet no 429 (this fake limits by prompt, not load)
    res = cli("eval", req_path, "--out", tmp_path / "run", "--no-extra-calls")
    s, records = run_dir(tmp_path / "run")
    t = s["candidates"]["oa-throttled"]
    assert t["retried_requests"] == 3 and t["retry_kinds"] == {"rate_limit": 3}
    slow = [r for r in records if r["candidate"] == "oa-throttled" and r["attempts"] == 2]
    # the request's time holds the 0.4 s it was asked to wait; the answering attempt's alone does not
    assert len(slow) == 3 and all(r["latency_ms"] - r["attempt_latency_ms"] >= 400 for r in slow)
    assert t["latency"]["p95"]["value"] >= 400 + t["latency"]["attempt_p95"]["value"] * 0.5
    assert s["decision"]["chosen"] == "oa-steady"
    assert any("p95 latency" in x for x in s["decision"]["eliminated"]["oa-throttled"])
    # a looser limit lets it through, and the choice's sentence says what was retried and why
    res = cli("eval", write_req(tmp_path, cands, latency={"p50_ms": 1000, "p95_ms": 2000}), "--out", tmp_path / "run2",
              "--no-extra-calls")
    s2, _ = run_dir(tmp_path / "run2")
    assert s2["decision"]["chosen"] == "oa-throttled", res.output
    said = " ".join(s2["decision"]["reasons"])
    assert "3 of 12 requests (25%) were retried (rate_limit 3)" in said and "lower `concurrency`" in said
    md = (tmp_path / "run2" / "decision.md").read_text()
    assert "| 3/12 (rate\\_limit 3) |" in md and "lower \\`concurrency\\`" in md


# --- 4. strategies count failures with their time -------------------------------------------------------


def test_a_cascade_whose_cheap_member_times_out_counts_the_wait() -> None:
    """'cheap' times out (30 s) on 20% of requests; a cascade escalating those to 'premium' makes its
    user wait 30 s plus premium's answer: p95 above 30 s, not premium's 700 ms."""
    cheap, premium = cand("cheap", "openai"), cand("premium", "google")
    bad = set(range(0, 60, 5))
    rows = []
    for r in recs("cheap", set(range(60)), cost=0.0001, latency=50.0):
        if int(r.example_id[1:]) in bad:
            r = Record(candidate="cheap", example_id=r.example_id, tags=r.tags, expected=r.expected, error="timeout",
                       error_kind="timeout", latency_ms=30_000.0, attempts=1)
        rows.append(r)
    rows += recs("premium", set(range(60)), cost=0.01, latency=600.0)
    r = req(latency={"p50_ms": 5000, "p95_ms": 60_000}, decision={"max_error_rate": 0.5},
            quality={"min_score": 0.7})
    _, d, st = run([cheap, premium], rows, r)
    cascade = next(s for s in st.strategies if s.kind == "cascade")
    assert cascade.figures is not None and cascade.figures.latency.p95.value >= 30_000
    assert cascade.figures.quality.mean == pytest.approx(1.0)  # every escalated request was answered by premium


# --- 5. many candidates, one error rate ------------------------------------------------------------------


def test_eight_equal_candidates_are_rarely_called_worse() -> None:
    rng = np.random.default_rng(5)
    false_worse = 0
    reps = 120
    for _ in range(reps):
        records = []
        for k in range(8):
            right = {i for i in range(80) if rng.random() < 0.8}
            records += recs(f"m{k}", right, n=80, tags=["t"] * 80, cost=0.001 * (k + 1))
        cs = [cand(f"m{k}", f"v{k}") for k in range(8)]
        _, d, _ = run(cs, records, req(quality={"min_score": 0.5}))
        false_worse += any(v.verdict == "worse" for v in d.verdicts)
    assert false_worse / reps <= 0.08
    assert "Holm's step-down taken over all 28 pairwise comparisons" in d.multiplicity


# --- 7. a fallback that covers an outage runs elsewhere ----------------------------------------------------


def _host_decision(tmp_path: Path, fake, specs: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    from modelsel.catalog.models import resolve_candidates
    from modelsel.inputs.requirements import load_requirements

    lr = load_requirements(write_req(tmp_path, specs))
    return {c.id: c.outage_host for c in resolve_candidates(lr)}


def test_a_provider_for_outage_purposes_is_the_host(fake, tmp_path: Path) -> None:
    hosts = _host_decision(tmp_path, fake, [
        {"catalog": "openai/gpt-5-mini", "base_url": "https://openrouter.ai/api/v1", "id": "gw-openai"},
        {"catalog": "anthropic/claude-haiku-4-5", "base_url": "https://openrouter.ai/api/v1", "id": "gw-anthropic"},
        {"id": "oa-custom", "provider": "openai-compatible", "model": "gpt-5-mini", "base_url": "https://api.openai.com/v1"},
        {"catalog": "openai/gpt-5-nano"},
        {"id": "l1", "provider": "openai-compatible", "model": "x", "base_url": "http://localhost:8000/v1"},
        {"id": "l2", "provider": "openai-compatible", "model": "y", "base_url": "http://127.0.0.1:9000/v1"},
    ])
    assert hosts["gw-openai"] == hosts["gw-anthropic"] == "openrouter.ai"
    assert hosts["oa-custom"] == hosts["openai/gpt-5-nano"] == "api.openai.com"
    assert hosts["l1"] == hosts["l2"] == "this machine"


# --- 8. sentences that hold in every corner ---------------------------------------------------------------


def test_corner_sentences(fake, keys, tmp_path: Path) -> None:
    from modelsel.report.fmt import difference_sentence

    # nobody qualifies: no 'only one candidate meets' sentence
    fake.script("weak", answer="other")
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "weak")], quality={"min_score": 0.9,
                                                                                   "must_pass": ["adversarial"]}),
              "--out", tmp_path / "none")
    assert res.exit_code == 1
    from modelsel.run.rundir import RunDir

    s = RunDir(tmp_path / "none").summary()
    assert "Only one candidate" not in difference_sentence(s)
    md = (tmp_path / "none" / "decision.md").read_text()
    assert "Only one candidate meets" not in md
    # the must-pass failure keeps the candidate among the nearest misses, naming the examples
    assert "Nearest miss **oa-weak**" in md and "e11" in md


def test_no_monthly_volume_is_said_not_zero(fake, keys, tmp_path: Path) -> None:
    fake.script("a", answer=oracle)
    fake.script("b", answer=oracle)
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "a"), compat_cand(fake, "b")],
                                cost={"max_per_request_usd": 0.01}), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    md = (tmp_path / "run" / "decision.md").read_text()
    assert "at 0 requests/month" not in md and "monthly volume not stated" in md
    assert "$0.00/month" not in md


def test_a_cost_from_one_answered_call_is_at_risk() -> None:
    records = recs("m", set(range(60)), errors=set(range(1, 60)))
    figs, _, _ = run([cand("m", "openai")], records, req(decision={"max_error_rate": 1.0}, quality={"min_score": 0.0}))
    from modelsel.analysis.limits import check

    c = next(c for c in check(figs["m"], req()) if c.requirement == "cost.max_per_request_usd")
    assert c.status == "at_risk" and "n too small" in c.text


def test_availability_says_its_lower_bound() -> None:
    cs = [cand("a", "openai"), cand("b", "google")]
    records = recs("a", set(range(60)), cost=0.002) + recs("b", set(range(55)), cost=0.001)
    _, d, st = run(cs, records, req(quality={"min_score": 0.5}))
    fb = next(s for s in st.strategies if s.kind == "fallback_chain")
    assert fb.availability_single == 1.0 and fb.availability_single_lo == pytest.approx(1 - 0.0596, abs=0.002)
    from modelsel.report.markdown import strategy_detail

    assert "95% lower bounds on availability 94." in strategy_detail(fb)


def test_review_drift_counts_the_new_runs_own_noise() -> None:
    """An unchanged model re-run on 64 examples: 'quality drifted down' must stay near the 2.5% a
    one-sided 95% test promises (comparing the new mean with the old interval gave 6.2%)."""
    from modelsel.quarterly.review import _drift
    from modelsel.schema import CandidateEntry, QualityFigures, Summary

    rng = np.random.default_rng(3)
    p = rng.beta(4, 1.5, 64)  # examples of varied difficulty, the same model both times

    def summary(per: dict[str, float]) -> Summary:
        v = np.array(list(per.values()))
        q = QualityFigures(mean=float(v.mean()), lo=float(v.mean() - 0.1), hi=float(v.mean() + 0.1), n=len(v))
        return Summary.model_construct(candidates={"m": CandidateEntry(provider="x", vendor="x", model="m", quality=q)})

    alarms, reps = 0, 400
    for _ in range(reps):
        old = {f"x{i}": float(rng.random() < p[i]) for i in range(64)}
        new = {f"x{i}": float(rng.random() < p[i]) for i in range(64)}
        f = _drift(summary(old), summary(new), "m", old, new)[0]
        alarms += not f.holds
    assert alarms / reps <= 0.045
