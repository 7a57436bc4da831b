"""The bill production will get (issue 43): one test per row of the audit's table. A fake endpoint
returns each SDK's own usage fields and simulates each vendor's documented prompt caching; the true
bill is computed here, independently, from the usage JSON each API documents, through genai-prices'
own extractor and prices."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli, compat_cand, oracle, run_dir, write_req

SYSTEM = "You route support tickets to a queue. Answer with one word: billing, technical, account, shipping or other."
MONTH_S = 30 * 86400

# api -> (catalog id, model, genai-prices provider, response root, extractor flavour)
MODELS = {
    "anthropic": ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5", "anthropic", "usage", "default"),
    "gemini": ("google/gemini-3.5-flash", "gemini-3.5-flash", "google", "usageMetadata", "default"),
    "openai": ("openai/gpt-6.1-terra", "gpt-6.1-terra", "openai", "usage", "chat"),
}


# --- the true bill, from the usage JSON each API documents ---------------------------------------

def usage_json(api: str, prompt: int, out: int, read: int = 0, write: int = 0, write_1h: int = 0,
               tool_use: int = 0) -> dict[str, Any]:
    """A usage object as the API sends it: `prompt` counts every input token."""
    if api == "anthropic":  # input_tokens leaves out cache reads and writes
        return {"input_tokens": prompt - read - write, "output_tokens": out, "cache_read_input_tokens": read,
                "cache_creation_input_tokens": write,
                "cache_creation": {"ephemeral_5m_input_tokens": write - write_1h, "ephemeral_1h_input_tokens": write_1h}}
    if api == "openai":
        return {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out,
                "prompt_tokens_details": {"cached_tokens": read, "cache_write_tokens": write}}
    u = {"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": prompt + out + tool_use}
    if read:
        u["cachedContentTokenCount"] = read
    if tool_use:
        u["toolUsePromptTokenCount"] = tool_use
    return u


def true_bill(api: str, usage: dict[str, Any], context: dict[str, str] | None = None,
              when: datetime | None = None, model: str | None = None) -> float:
    from genai_prices import calc_price, extract_usage

    _, ref, gp, root, flavour = MODELS[api]
    u = extract_usage({root: usage}, provider_id=gp, api_flavor=flavour).usage
    return float(calc_price(u, model or ref, provider_id=gp, price_context=context,
                            genai_request_timestamp=when).total_price)


def poisson(volume: float, lifetime_s: float = 300.0) -> float:
    return 1 - math.exp(-volume * lifetime_s / MONTH_S)


def true_month(api: str, volume: float, prefix: int, prompt: int, out: int, ttl: str = "5m") -> float:
    """Production's month with the prefix shared by every request, arrivals at random: a request
    reads it when the one before came within the cache's lifetime, else writes it."""
    h = poisson(volume, 3600.0 if ttl == "1h" else 300.0)
    hit = true_bill(api, usage_json(api, prompt, out, read=prefix))
    writes = 0 if api == "gemini" else prefix  # Gemini's implicit cache bills no write
    miss = true_bill(api, usage_json(api, prompt, out, write=writes, write_1h=writes if ttl == "1h" else 0))
    return volume * (h * hit + (1 - h) * miss)


# --- the runs ------------------------------------------------------------------------------------

def catalog_cand(fake: Any, api: str, **kw: Any) -> dict[str, Any]:
    cid = MODELS[api][0]
    base = fake.url + ("/v1" if api == "openai" else "")
    c = {"catalog": cid, "base_url": base, "system": SYSTEM, "params": {"max_tokens": 256, **kw.pop("params", {})},
         **kw}
    if api == "anthropic":
        c.setdefault("cache", {"prefix": "system"})
    return c


def run(tmp_path: Path, name: str, cands: list[dict[str, Any]], *args: str, **cost: Any) -> tuple[dict, list[dict]]:
    req = write_req(tmp_path / name, cands, compliance={}, cost={"monthly_budget_usd": 1e9, **cost},
                    latency={"p50_ms": 60000})
    res = cli("eval", req, "--out", tmp_path / name / "run", *args)
    assert res.exit_code in (0, 1), res.output
    return run_dir(tmp_path / name / "run")


def cost_of(s: dict, cid: str) -> dict[str, Any]:
    return s["candidates"][cid]["cost"]


@pytest.mark.parametrize("api", ["anthropic", "gemini", "openai"])
def test_a_shared_system_prompt_at_10m_requests_is_priced_at_productions_hit_rate(fake, keys, tmp_path, api) -> None:
    """Row 1: a 3,000-token shared system prompt at 10M requests a month. Production's cache is
    always warm (hit rate ~100%); the eval's own hit rate (the first calls miss) is shown, never
    projected."""
    model = MODELS[api][1]
    fake.script(model, answer=oracle, input_tokens=3200, output_tokens=160, prompt_cache=3000)
    s, recs = run(tmp_path, "r", [catalog_cand(fake, api)], "--concurrency", "4", monthly_requests=10_000_000)
    c = cost_of(s, MODELS[api][0])
    truth = true_month(api, 10_000_000, 3000, 3200, 160)
    assert c["monthly_usd"] == pytest.approx(truth, rel=0.005)
    assert c["cache_hit_rate"] == pytest.approx(1.0, abs=1e-6) and c["cache_hit_rate_source"] == "estimated"
    assert "Poisson" in c["cache_hit_rate_text"] and c["cache_prefix_tokens"] == 3000
    assert c["eval_cache_hit_rate"] < 1.0  # the eval's first calls wrote the prefix: shown beside it
    assert any(r["cached_input_tokens"] == 3000 for r in recs)


@pytest.mark.parametrize("api", ["anthropic", "gemini", "openai"])
def test_at_3000_requests_a_month_the_5_minute_cache_is_mostly_cold(fake, keys, tmp_path, api) -> None:
    """Row 2: the same at 3,000 requests a month: a request finds the prefix cached only when the one
    before came within 5 minutes, 29% of the time with arrivals at random."""
    model = MODELS[api][1]
    fake.script(model, answer=oracle, input_tokens=3200, output_tokens=160, prompt_cache=3000)
    s, _ = run(tmp_path, "r", [catalog_cand(fake, api)], "--concurrency", "1", monthly_requests=3000)
    c = cost_of(s, MODELS[api][0])
    assert c["cache_hit_rate"] == pytest.approx(0.2934, abs=1e-3)
    assert c["monthly_usd"] == pytest.approx(true_month(api, 3000, 3000, 3200, 160), rel=0.005)
    assert c["eval_cache_hit_rate"] > 0.8  # one call after another: the eval's cache was warm


@pytest.mark.parametrize("volume", [10_000_000, 3000])
def test_a_12000_token_agent_prefix(fake, keys, tmp_path, volume) -> None:
    """Row 3: a 12,000-token agent prefix on Sonnet: $93,000 at 10M a month, $115.71 at 3,000."""
    fake.script("claude-sonnet-4-5", answer=oracle, input_tokens=12_200, output_tokens=160, prompt_cache=12_000)
    s, _ = run(tmp_path, "r", [catalog_cand(fake, "anthropic")], monthly_requests=volume)
    c = cost_of(s, "anthropic/claude-sonnet-4-5")
    assert c["monthly_usd"] == pytest.approx(true_month("anthropic", volume, 12_000, 12_200, 160), rel=0.005)


def test_the_monthly_figure_does_not_move_with_concurrency(fake, keys, tmp_path) -> None:
    """Row 4: --concurrency 1, 8 and 32 set the eval's own hit rate, never the month."""
    fake.script("claude-sonnet-4-5", answer=oracle, input_tokens=3200, output_tokens=160, prompt_cache=3000)
    seen = {}
    for n in ("1", "8", "32"):
        fake.prompt_caches.clear()
        s, _ = run(tmp_path, f"c{n}", [catalog_cand(fake, "anthropic")], "--concurrency", n, "--no-cache",
                   monthly_requests=10_000_000)
        c = cost_of(s, "anthropic/claude-sonnet-4-5")
        seen[n] = (c["monthly_usd"], c["eval_cache_hit_rate"])
    months = {v[0] for v in seen.values()}
    assert max(months) == pytest.approx(min(months), rel=1e-9), seen
    assert max(months) == pytest.approx(true_month("anthropic", 10_000_000, 3000, 3200, 160), rel=0.005)
    # the eval's own hit rate is shown beside the month, never projected (it depends on how the calls
    # overlapped: each candidate's first answer now goes alone, so here it is 11 of 12 at any concurrency)
    assert all(v[1] is not None and 0 <= v[1] <= 1 for v in seen.values()), seen


def test_an_anthropic_1_hour_cache_write_is_billed_at_its_rate(fake, keys, tmp_path) -> None:
    """Row 5: writes kept an hour cost 2x input, not the 5-minute 1.25x ($0.0210 a call, not $0.01425)."""
    fake.script("claude-sonnet-4-5", answer=oracle, input_tokens=3200, output_tokens=160, prompt_cache=3000)
    s, recs = run(tmp_path, "r", [catalog_cand(fake, "anthropic", cache={"prefix": "system", "ttl": "1h"})],
                  "--concurrency", "1", monthly_requests=3000)
    write = true_bill("anthropic", usage_json("anthropic", 3200, 160, write=3000, write_1h=3000))
    read = true_bill("anthropic", usage_json("anthropic", 3200, 160, read=3000))
    assert write == pytest.approx(0.0210, rel=1e-3)
    costs = sorted((r["cost_usd"] for r in recs if not r["latency_sample"]), reverse=True)
    assert costs[0] == pytest.approx(write, rel=1e-6) and costs[-1] == pytest.approx(read, rel=1e-6)
    first = max(recs, key=lambda r: r["cost_usd"])
    assert first["cache_write_1h_tokens"] == 3000 and first["usage"]["cache_creation"]["ephemeral_1h_input_tokens"] == 3000
    sent = fake.requests_for("claude-sonnet-4-5")[0].body["system"]
    assert sent[0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}  # the candidate asked for the 1-hour cache
    # production at 3,000 a month with an hour's lifetime: 1 - exp(-3000 x 3600 / 2.592M) = 98.4%
    c = cost_of(s, "anthropic/claude-sonnet-4-5")
    assert c["cache_hit_rate"] == pytest.approx(poisson(3000, 3600), abs=1e-4)
    assert c["monthly_usd"] == pytest.approx(true_month("anthropic", 3000, 3000, 3200, 160, ttl="1h"), rel=0.005)


def test_openai_cache_write_tokens_are_read_and_billed(fake, keys, tmp_path) -> None:
    """Row 6: OpenAI's prompt_tokens_details.cache_write_tokens, billed at 1.25x input on gpt-6.1-terra."""
    fake.script("gpt-6.1-terra", answer=oracle, input_tokens=1200, output_tokens=100, prompt_cache=1024)
    _, recs = run(tmp_path, "r", [catalog_cand(fake, "openai")], "--concurrency", "1")
    write = true_bill("openai", usage_json("openai", 1200, 100, write=1024))
    assert write > true_bill("openai", usage_json("openai", 1200, 100))  # a write costs more than plain input
    first = max(recs, key=lambda r: r["cost_usd"])
    assert first["cache_write_tokens"] == 1024 and first["cost_usd"] == pytest.approx(write, rel=1e-6)


TIERS = [  # (api, catalog id, model, params, price context the truth uses, factor when the catalog prices it)
    ("openai", "openai/gpt-5.4", "gpt-5.4", {"service_tier": "flex"}, {"service_tier": "flex"}, None),
    ("openai", "openai/gpt-5.4", "gpt-5.4", {"service_tier": "priority"}, {"service_tier": "priority"}, None),
    ("anthropic", "anthropic/claude-opus-5", "claude-opus-5", {"speed": "fast"}, {"speed": "fast"}, None),
    ("gemini", "google/gemini-3.5-flash", "gemini-3.5-flash", {"service_tier": "flex"}, None, 0.5),
    ("gemini", "google/gemini-3.5-flash", "gemini-3.5-flash", {"service_tier": "priority"}, None, 1.8),
]


@pytest.mark.parametrize(("api", "cid", "model", "params", "ctx", "factor"), TIERS)
def test_a_service_tier_is_priced_at_its_rate_and_named_in_the_row(fake, keys, tmp_path, api, cid, model, params,
                                                                    ctx, factor) -> None:
    """Row 7: flex, priority and fast are sent, measured and billed at their own rate: genai-prices'
    price for the tier where it has one, the catalog's sourced factor where it has not."""
    fake.script(model, answer=oracle, input_tokens=1000, output_tokens=200)
    cand = {"catalog": cid, "base_url": fake.url + ("/v1" if api == "openai" else ""),
            "params": {"max_tokens": 256, **params}}
    s, recs = run(tmp_path, "r", [cand], monthly_requests=1_000_000)
    standard = true_bill(api, usage_json(api, 1000, 200), model=model)
    tier_bill = standard * factor if factor else true_bill(api, usage_json(api, 1000, 200), ctx, model=model)
    assert tier_bill != pytest.approx(standard, rel=0.01)
    assert all(r["cost_usd"] == pytest.approx(tier_bill, rel=1e-6) for r in recs)
    c = cost_of(s, cid)
    assert c["monthly_usd"] == pytest.approx(1_000_000 * tier_bill, rel=1e-6)
    assert c["service_tier"] == (params.get("service_tier") or "speed fast")
    assert ("1.8x" in c["service_tier_price"] or "0.5x" in c["service_tier_price"]) if factor else \
        c["service_tier_price"] == "genai-prices' price for the tier"
    key = "service_tier" if "service_tier" in params else "speed"
    assert fake.requests_for(model)[0].body.get(key, (fake.requests_for(model)[0].body.get("serviceTier"))) is not None
    md = (tmp_path / "r" / "run" / "decision.md").read_text()
    assert f"| {cid} ({c['service_tier']}) |" in md  # the tier is in the candidate's row


def test_flex_and_priority_are_not_tied_on_cost(fake, keys, tmp_path) -> None:
    fake.script("gpt-5.4", answer=oracle, input_tokens=1000, output_tokens=200)
    cands = [{"id": t, "catalog": "openai/gpt-5.4", "base_url": fake.url + "/v1",
              "params": {"max_tokens": 256, "service_tier": t}} for t in ("priority", "flex")]
    s, _ = run(tmp_path, "r", cands, monthly_requests=1_000_000)
    flex, prio = cost_of(s, "flex")["monthly_usd"], cost_of(s, "priority")["monthly_usd"]
    assert prio > 2 * flex
    assert s["decision"]["chosen"] == "flex"


def test_productions_input_lengths_price_the_long_context_tier(fake, keys, tmp_path) -> None:
    """Row 8: production sends 30% of calls above Gemini 3.1 Pro's 200k tier, the eval 1 in 12."""
    long_one = "partnership in Brazil"  # one ticket of 12 is long in the eval set
    fake.script("gemini-3.1-pro-preview", answer=oracle, output_tokens=300,
                input_tokens=lambda p: 300_000 if long_one in p else 50_000)
    cand = {"catalog": "google/gemini-3.1-pro-preview", "base_url": fake.url, "params": {"max_tokens": 512}}
    # 70% of production at 50k input tokens, 30% at 300k
    mix = {"p1": 50_000, "p70": 50_000, "p71": 300_000, "p100": 300_000}
    s, _ = run(tmp_path, "r", [cand], monthly_requests=100_000, input_tokens=mix)
    c = cost_of(s, "google/gemini-3.1-pro-preview")
    truth = 100_000 * (0.7 * true_bill("gemini", usage_json("gemini", 50_000, 300), model="gemini-3.1-pro-preview")
                       + 0.3 * true_bill("gemini", usage_json("gemini", 300_000, 300), model="gemini-3.1-pro-preview"))
    assert c["monthly_usd"] == pytest.approx(truth, rel=0.005)
    assert c["long_context_share"] == pytest.approx(0.3) and c["eval_long_context_share"] == pytest.approx(1 / 12)
    assert c["long_context_from_tokens"] == 200_000 and c["input_lengths_source"] == "cost.input_tokens"


def test_gemini_tool_use_prompt_tokens_are_billed(fake, keys, tmp_path) -> None:
    """Row 9: toolUsePromptTokenCount (3,000 a call) is input the model read, billed as input."""
    fake.script("gemini-3.5-flash", answer=oracle, input_tokens=500, output_tokens=100,
                usage={"toolUsePromptTokenCount": 3000})
    cand = {"catalog": "google/gemini-3.5-flash", "base_url": fake.url, "params": {"max_tokens": 256}}
    s, recs = run(tmp_path, "r", [cand], monthly_requests=1_000_000)
    bill = true_bill("gemini", usage_json("gemini", 500, 100, tool_use=3000))
    assert bill > 2 * true_bill("gemini", usage_json("gemini", 500, 100))
    assert all(r["input_tokens"] == 3500 and r["cost_usd"] == pytest.approx(bill, rel=1e-6) for r in recs)
    assert cost_of(s, "google/gemini-3.5-flash")["monthly_usd"] == pytest.approx(1_000_000 * bill, rel=1e-6)


def test_a_rerun_from_the_response_cache_reprices_cache_writes(fake, keys, tmp_path) -> None:
    """Row 10: the response cache keeps every usage field, so a re-run bills the writes it billed."""
    fake.script("claude-sonnet-4-5", answer=oracle, input_tokens=3200, output_tokens=160, prompt_cache=3000)
    req = write_req(tmp_path, [catalog_cand(fake, "anthropic")], compliance={}, latency={"p50_ms": 60000},
                    cost={"monthly_requests": 3000, "monthly_budget_usd": 1e9})
    cli("eval", req, "--out", tmp_path / "one", "--concurrency", "1")
    cli("eval", req, "--out", tmp_path / "two", "--concurrency", "1")
    _, first = run_dir(tmp_path / "one")
    _, again = run_dir(tmp_path / "two")
    assert all(r["cached"] for r in again)
    by_id = {r["example_id"]: r["cost_usd"] for r in first}
    assert {r["example_id"]: r["cost_usd"] for r in again} == pytest.approx(by_id, rel=1e-12)
    write = true_bill("anthropic", usage_json("anthropic", 3200, 160, write=3000))
    assert max(by_id.values()) == pytest.approx(write, rel=1e-6)


def test_a_fixed_monthly_cost_counts_per_request_and_in_every_check(fake, keys, tmp_path) -> None:
    """Row 11: $2,500 a month at 1,000 requests is $2.50 a request, not $0.000000."""
    fake.script("llama", answer=oracle)
    cand = compat_cand(fake, "llama", pin=0.0, pout=0.0)
    cand["price"]["fixed_monthly_usd"] = 2500
    cand["facts"]["self_hosted"] = True
    s, _ = run(tmp_path, "r", [cand], monthly_requests=1000, max_per_request_usd=0.01)
    c = cost_of(s, "vllm-llama")
    assert c["per_request_usd"] == pytest.approx(2.5) and c["fixed_per_request_usd"] == pytest.approx(2.5)
    assert c["monthly_usd"] == pytest.approx(2500)
    assert "vllm-llama" in s["decision"]["eliminated"]
    assert any("cost per request" in r and "$2.50" in r for r in s["decision"]["eliminated"]["vllm-llama"])


def test_self_hosting_instances_grow_with_volume_and_the_break_even_is_in_the_record(fake, keys, tmp_path) -> None:
    """price.instance_hour_usd with what one instance serves: the fee grows with volume, and the
    record says where it beats an API model."""
    fake.script("llama", answer=oracle, output_tokens=10)
    fake.script("gpt-6.1-terra", answer=oracle, input_tokens=1000, output_tokens=200)
    cand = compat_cand(fake, "llama", pin=0.0, pout=0.0)
    cand["price"].update(instance_hour_usd=2.0, instance_requests_per_s=5.0)
    api = {"catalog": "openai/gpt-6.1-terra", "base_url": fake.url + "/v1", "params": {"max_tokens": 256}}
    fees = {}
    for vol in (1_000_000, 100_000_000):
        s, _ = run(tmp_path, f"v{vol}", [cand, api], monthly_requests=vol)
        c = cost_of(s, "vllm-llama")
        need = max(1, math.ceil(vol / MONTH_S / 5.0))
        assert c["instances"] == need and c["fixed_monthly_usd"] == pytest.approx(need * 2.0 * 720)
        fees[vol] = c["fixed_monthly_usd"]
        api_per = cost_of(s, "openai/gpt-6.1-terra")["api_per_request_usd"]
        assert c["break_even"]["openai/gpt-6.1-terra"] == pytest.approx(c["fixed_monthly_usd"] / api_per, rel=1e-3)
    assert fees[100_000_000] > fees[1_000_000]


def test_the_cost_interval_holds_for_heavy_tailed_output_lengths() -> None:
    """Row 12: output lengths lognormal (sigma 1.6), n = 80: the interval holds where a t interval
    leaves the true cost above its upper end one time in seven (benchmarks/cost_interval.py)."""
    import numpy as np

    from modelsel.analysis import stats

    rng = np.random.default_rng(43)
    true = 0.0006 + 15e-6 * 150 * math.exp(1.6**2 / 2)
    new = old = 0
    reps = 80
    for i in range(reps):
        out = 15e-6 * rng.lognormal(math.log(150), 1.6, 80)
        costs = 0.0006 + out
        _, lo, hi, _ = stats.cost_mean_ci(costs, out, seed=i, draws=2000)
        new += lo <= true <= hi
        _, tlo, thi = stats.mean_ci(costs)
        old += tlo <= true <= thi
    assert new / reps >= 0.94 and old / reps < 0.9


def test_an_introductory_price_that_ends_inside_the_horizon_is_priced_by_the_day() -> None:
    """Row 13: gemini-3.6-flash's introductory price ends on 2027-01-01. From 2026-12-06, twelve
    30-day months: 26 days at the introductory price, the rest at the new one."""
    import numpy as np

    from modelsel.analysis.projection import project
    from modelsel.catalog.models import call_cost
    from modelsel.inputs.candidate import Candidate
    from modelsel.inputs.requirements import Requirements
    from modelsel.run.calls import Calls
    from modelsel.run.records import Record

    c = Candidate(id="g", provider="gemini", vendor="google", model="gemini-3.6-flash",
                  price_ref=("google", "gemini-3.6-flash"))
    today = datetime(2026, 12, 6, tzinfo=UTC)
    recs = [Record(candidate="g", example_id=f"e{i}", input_tokens=2000, output_tokens=400,
                   cost_live_usd=call_cost(c, 2000, 400, when=today), cost_usd=call_cost(c, 2000, 400, when=today))
            for i in range(5)]
    req = Requirements.model_validate({"task": "t", "evalset": "x.jsonl", "candidates": [{"catalog": "x"}],
                                       "cost": {"monthly_requests": 100_000, "horizon_months": 12}})
    p = project(c, Calls.from_records(recs).arrays(), req, today)
    from datetime import timedelta

    days = [today + timedelta(days=d) for d in range(360)]
    truth = sum(100_000 / 30 * true_bill("gemini", usage_json("gemini", 2000, 400), when=d, model="gemini-3.6-flash")
                for d in days)
    assert sum(np.array(p.per_request_by_month) * 100_000) == pytest.approx(truth, rel=1e-6)
    intro = 12 * 100_000 * true_bill("gemini", usage_json("gemini", 2000, 400), when=today, model="gemini-3.6-flash")
    assert truth > 1.8 * intro  # every month at today's introductory price: about half the bill
    assert p.price_changes and "2027-01-01" in p.price_changes[0]


@pytest.mark.parametrize(("stated", "traced", "source"), [(0.5, 0.9, "stated"), (None, 0.9, "production traces"),
                                                          (None, None, "estimated")])
def test_the_hit_rate_is_the_stated_one_then_the_traces_then_an_estimate(stated, traced, source) -> None:
    """cost.cache_hit_rate when the PM states it; else the share import traces measured; else the
    estimate from the volume, named. The eval's own rate (here 1 in 5) is never the month's."""
    from modelsel.analysis.projection import project
    from modelsel.catalog.models import call_cost
    from modelsel.inputs.candidate import Candidate
    from modelsel.inputs.requirements import Requirements
    from modelsel.run.calls import Calls
    from modelsel.run.records import Record

    c = Candidate(id="s", provider="anthropic", vendor="anthropic", model="claude-sonnet-4-5",
                  price_ref=("anthropic", "claude-sonnet-4-5"), cache={"prefix": "system", "ttl": "5m"})
    recs = []
    for i in range(5):
        read, write = (3000, 0) if i == 0 else (0, 3000)
        cost = call_cost(c, 3200, 160, read, write)
        recs.append(Record(candidate="s", example_id=f"e{i}", input_tokens=3200, output_tokens=160, cost_usd=cost,
                           cost_live_usd=cost, cached_input_tokens=read, cache_write_tokens=write))
    prod = None if traced is None else {"source": ["t.json"], "models": {}, "whole": {"cache_hit_rate": traced},
                                        "sample": {}}
    req = Requirements.model_validate({"task": "t", "evalset": "x.jsonl", "candidates": [{"catalog": "x"}],
                                       "production": prod, "cost": {"monthly_requests": 100_000,
                                                                    "cache_hit_rate": stated}})
    p = project(c, Calls.from_records(recs).arrays(), req)
    h = stated if stated is not None else traced if traced is not None else poisson(100_000)
    hit = true_bill("anthropic", usage_json("anthropic", 3200, 160, read=3000))
    miss = true_bill("anthropic", usage_json("anthropic", 3200, 160, write=3000))
    assert p.hit.source == source and p.hit.value == pytest.approx(h)
    assert p.eval_hit_rate == pytest.approx(0.2)
    assert p.per_request_by_month[0] == pytest.approx(h * hit + (1 - h) * miss, rel=1e-9)
