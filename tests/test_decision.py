"""Decision rules and strategies on runs with known figures (records built by hand, no calls)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from modelsel.catalog import Candidate, Fact
from modelsel.decision import compliance, decide
from modelsel.metrics import compute
from modelsel.records import Record
from modelsel.requirements import Requirements
from modelsel.strategies import simulate

N = 60
TAGS = ["simple"] * 30 + ["complex"] * 20 + ["adversarial"] * 10
LABELS = ["billing", "technical", "account", "shipping", "other"]


def cand(cid: str, vendor: str, pin: float = 0.0, pout: float = 0.0, open_weights: bool = False, **facts: Any) -> Candidate:
    f = {"trains_on_data": False, "retention_days": 0, "baa_available": True, "regions": ["us", "eu"],
         "open_weights": open_weights, "standard_api": open_weights, "self_hosted": False, "context_window": 128000,
         "modalities": ["text"], **facts}
    return Candidate(id=cid, provider="openai", vendor=vendor, model=cid, input_per_mtok=pin, output_per_mtok=pout,
                     facts={k: Fact(value=v, source=f"test source for {k}", as_of="2026-11-01") for k, v in f.items()})


def recs(cid: str, right: set[int], latency: float = 200.0, cost: float = 0.001, errors: set[int] = frozenset(),
         lat_fn: Any = None) -> list[Record]:
    out = []
    for i in range(N):
        expected = LABELS[i % 5]
        if i in errors:
            out.append(Record(candidate=cid, example_id=f"x{i}", tags=[TAGS[i]], expected=expected, error="HTTP 500",
                              error_kind="transient", attempts=4))
            continue
        ok = i in right
        out.append(Record(candidate=cid, example_id=f"x{i}", tags=[TAGS[i]], expected=expected,
                          output=expected if ok else ("nonsense" if i % 2 else LABELS[(i + 1) % 5]),
                          score=1.0 if ok else 0.0, passed=ok, latency_ms=lat_fn(i) if lat_fn else latency + i,
                          cost_usd=cost, input_tokens=100, output_tokens=2, attempts=1))
    return out


def req(**over: Any) -> Requirements:
    doc: dict[str, Any] = {
        "task": "t", "evalset": "x.jsonl", "candidates": [{"catalog": "x"}],
        "scoring": [{"type": "choice", "choices": LABELS}], "pass_threshold": 1.0,
        "quality": {"min_score": 0.7}, "latency": {"p50_ms": 1000, "p95_ms": 2000},
        "cost": {"max_per_request_usd": 0.01, "monthly_budget_usd": 5000, "monthly_requests": 100_000},
        "decision": {"small_difference": 0.05, "priority": ["cost", "latency"], "max_error_rate": 0.05},
    }
    for k, v in over.items():
        doc[k] = {**doc.get(k, {}), **v} if isinstance(v, dict) else v
    return Requirements.model_validate(doc)


def run(cands: list[Candidate], records: list[Record], r: Requirements) -> tuple[dict, dict, dict]:
    m = compute(records, r)
    out, risks = {}, {}
    for c in cands:
        o, rk = compliance(c, r)
        out[c.id], risks[c.id] = o, rk
    d = decide(cands, m, records, r, {}, out, risks, today=date(2026, 11, 22))
    return m, d, simulate(records, m, d, r)


def test_clearly_better_is_chosen_and_its_extra_cost_stated() -> None:
    a, b = cand("premium", "openai"), cand("cheap", "google")
    records = recs("premium", set(range(57)), cost=0.004) + recs("cheap", set(range(45)), cost=0.001)
    _, d, _ = run([a, b], records, req())
    assert d["chosen"] == "premium" and d["rule"] == "3: clearly better and affordable"
    assert d["extra_quality_monthly_usd"] == pytest.approx(300.0)  # (0.004 - 0.001) x 100,000
    assert "cost $300.00 more per month" in " ".join(d["trade_offs"])
    assert d["fallback"] == "cheap"
    assert d["fallback_cost"] == {"quality_diff": pytest.approx(-0.2), "p95_ms_diff": pytest.approx(0.0, abs=1),
                                  "monthly_usd_diff": pytest.approx(-300.0)}


def test_small_difference_goes_to_the_cheaper_model() -> None:
    a, b = cand("a", "openai"), cand("b", "anthropic")
    records = recs("a", set(range(52)), cost=0.003) + recs("b", set(range(50)), cost=0.001)
    m, d, _ = run([a, b], records, req())
    assert d["chosen"] == "b" and d["rule"].startswith("3: quality-equivalent survivors, chosen on cost then latency")
    assert sorted(d["equivalent"]) == ["a", "b"]
    assert "quality-equivalent" in d["reasons"][0] and "p=" in d["reasons"][0]
    assert d["fallback"] == "a"


def test_priority_latency_first() -> None:
    a, b = cand("fast", "openai"), cand("slow", "anthropic")
    records = recs("fast", set(range(50)), latency=100, cost=0.003) + recs("slow", set(range(50)), latency=600, cost=0.001)
    _, d, _ = run([a, b], records, req(decision={"priority": ["latency", "cost"]}))
    assert d["chosen"] == "fast"


def test_lock_in_preference_breaks_ties_toward_open_weights() -> None:
    closed, open_ = cand("closed", "openai"), cand("llama", "groq", open_weights=True)
    records = recs("closed", set(range(50)), cost=0.001) + recs("llama", set(range(50)), cost=0.002)
    _, d, _ = run([closed, open_], records, req(strategy={"lock_in_tolerance": "low"}))
    assert d["chosen"] == "llama"
    assert "open weights" in " ".join(d["reasons"])
    _, d2, _ = run([closed, open_], records, req())
    assert d2["chosen"] == "closed"


def test_each_hard_requirement_eliminates_with_figure_interval_and_limit() -> None:
    cs = [cand(n, n) for n in ("dumb", "slow", "pricey", "flaky", "good")]
    records = (recs("dumb", set(range(30)))
               + recs("slow", set(range(55)), lat_fn=lambda i: 1500 + 20 * i)
               + recs("pricey", set(range(55)), cost=0.02)
               + recs("flaky", set(range(55)), errors=set(range(50, 60)))
               + recs("good", set(range(55))))
    _, d, _ = run(cs, records, req())
    e = d["eliminated"]
    assert any(x.startswith("quality 0.500 (95% CI 0.") and "n=60) is below the bar 0.7" in x for x in e["dumb"])
    assert any(x.startswith("p50 latency 2,") is False and "p50 latency" in x and "exceeds the target 1000 ms" in x for x in e["slow"])
    assert any("p95 latency" in x and "exceeds the target 2000 ms" in x for x in e["slow"])
    assert any("cost per request $0.020000 exceeds $0.010000" in x for x in e["pricey"])
    assert any("projected $2,000.00/month at 100,000 requests exceeds the budget $5,000.00" in x for x in e["pricey"]) is False
    assert any(x.startswith("error rate 16.7% (95% CI ") and "n=60) exceeds 5.0%" in x for x in e["flaky"])
    assert d["chosen"] == "good"


def test_must_pass_and_min_by_tag() -> None:
    a, b = cand("a", "openai"), cand("b", "google")
    right_a = set(range(60)) - {55}  # misses one adversarial example
    right_b = set(range(0, 20)) | set(range(30, 60))  # weak on 'simple'
    _, d, _ = run([a, b], recs("a", right_a) + recs("b", right_b),
                  req(quality={"must_pass": ["adversarial"], "min_by_tag": {"simple": 0.8}}))
    assert any("failed 1 of 10 'adversarial' examples, which must all pass (x55)" == x for x in d["eliminated"]["a"])
    assert any(x.startswith("quality on 'simple' 0.667") and "is below 0.8" in x for x in d["eliminated"]["b"])
    assert d["chosen"] is None


def test_a_pass_whose_interval_crosses_the_bar_is_at_risk() -> None:
    a = cand("a", "openai")
    _, d, _ = run([a], recs("a", set(range(45))), req(quality={"min_score": 0.7}))
    assert d["chosen"] == "a"
    assert any("passes the bar 0.7, but its interval crosses it" in x for x in d["at_risk"]["a"])
    assert any("at risk" in t for t in d["trade_offs"])


def test_nobody_qualifies_names_nearest_misses_and_what_would_have_to_move() -> None:
    a, b = cand("a", "openai"), cand("b", "google")
    records = recs("a", set(range(39))) + recs("b", set(range(30)), cost=0.02)
    _, d, _ = run([a, b], records, req())
    assert d["chosen"] is None and d["rule"] == "7: nobody qualifies"
    first = d["nearest_misses"][0]
    assert first["candidate"] == "a" and first["n_failed"] == 1
    f = first["failed"][0]
    assert f["requirement"] == "quality.min_score" and f["limit"] == 0.7
    assert f["move_limit_to"] == pytest.approx(0.65) and f["by"] == pytest.approx(-0.05)
    second = d["nearest_misses"][1]
    assert {x["requirement"] for x in second["failed"]} == {"quality.min_score", "cost.max_per_request_usd"}


def test_compliance_eliminates_with_fact_and_source_and_flags_unknowns() -> None:
    r = req(compliance={"allowed_regions": ["eu"], "require_no_training": True, "require_baa": True,
                        "max_retention_days": 30, "self_hosted_only": False},
            strategy={"modalities": ["text", "image"], "min_context_tokens": 200000})
    us_only = cand("us", "x", regions=["us"])
    trains = cand("trains", "x", trains_on_data=True)
    no_baa = cand("nobaa", "x", baa_available=False)
    keeps = cand("keeps", "x", retention_days=55)
    small = cand("small", "x", context_window=128000)
    blind = cand("blind", "x", modalities=["text"])
    unknown = cand("unknown", "x", baa_available=None, retention_days=None, context_window=1_000_000, modalities=["text", "image"])
    assert compliance(us_only, r)[0][0].startswith("processes data in us, not in the allowed regions eu (source: test source for regions")
    assert compliance(trains, r)[0][0].startswith("may train on submitted data (source:")
    assert compliance(no_baa, r)[0][0].startswith("no HIPAA BAA available")
    assert any("retains data 55 days, more than the allowed 30" in x for x in compliance(keeps, r)[0])
    assert any("context window 128,000 tokens, below the 200,000 needed" in x for x in compliance(small, r)[0])
    assert any("does not accept image" in x for x in compliance(blind, r)[0])
    out, risks = compliance(unknown, r)
    assert out == [] and any(x.startswith("baa_available unknown") for x in risks) and any(x.startswith("retention_days unknown") for x in risks)
    self_only = req(compliance={"self_hosted_only": True})
    assert compliance(cand("api", "x"), self_only)[0][0].startswith("not self-hosted")
    assert compliance(cand("mine", "x", self_hosted=True), self_only)[0] == []


def test_routing_by_tag_saves_money_and_is_recommended() -> None:
    # 'cheap' is as good as 'premium' on simple examples and poor elsewhere.
    premium, cheap = cand("premium", "openai"), cand("cheap", "google")
    right_cheap = set(range(30)) | set(range(30, 40))
    records = recs("premium", set(range(60)), cost=0.010) + recs("cheap", right_cheap, cost=0.001)
    _, d, st = run([premium, cheap], records, req(quality={"min_score": 0.6}, cost={"max_per_request_usd": 0.02}))
    assert d["chosen"] == "premium"
    routing = next(s for s in st["strategies"] if s["name"] == "routing by tag")
    assert routing["table"] == {"simple": "cheap", "complex": "premium", "adversarial": "premium"}
    assert routing["quality"]["mean"] == pytest.approx(1.0)
    assert routing["cost_per_request_usd"] == pytest.approx((30 * 0.001 + 30 * 0.010) / 60)
    assert routing["savings_pct"] == pytest.approx(45.0)
    assert st["recommended"] == "routing by tag"
    cascade = next(s for s in st["strategies"] if s["name"].startswith("cascade"))
    # The cheap model's wrong answers are "nonsense" (no valid label) for odd i, a wrong label for even i:
    # only the invalid ones can be caught and escalated.
    assert cascade["check"] == "the answer contains a valid label"
    assert cascade["escalation_rate"] == pytest.approx(10 / 60, abs=1e-4)
    assert cascade["quality"]["mean"] == pytest.approx(50 / 60, abs=1e-6)
    assert cascade["cost_per_request_usd"] == pytest.approx((60 * 0.001 + 10 * 0.010) / 60)
    assert st["ab_test"]["samples_per_arm"] > 0


def test_fallback_chain_and_ensemble_figures() -> None:
    a, b, c = cand("a", "openai"), cand("b", "anthropic"), cand("c", "google")
    records = (recs("a", set(range(57)), errors={59}) + recs("b", set(range(54)), errors={58, 59})
               + recs("c", set(range(6, 60))))
    m, d, st = run([a, b, c], records, req())
    fb = next(s for s in st["strategies"] if s["name"].startswith("fallback"))
    err = {"a": 1 / 60, "b": 2 / 60, "c": 0.0}
    first, second = fb["chain"]
    assert [first, second] == [d["chosen"], d["fallback"]]
    assert fb["availability_single"] == pytest.approx(1 - err[first], abs=1e-6)
    assert fb["availability_chain"] == pytest.approx(1 - err[first] * err[second], abs=1e-6)
    ens = next(s for s in st["strategies"] if s["name"].startswith("ensemble"))
    assert ens["cost_per_request_usd"] == pytest.approx(0.003)
    assert 0.8 < ens["quality"]["mean"] <= 1.0
