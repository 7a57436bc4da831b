"""Cost as the provider bills it: per call, with the call's own tokens through the genai-prices
snapshot (tiers and cached input apply), dated by the snapshot, not by the day the command ran."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.conftest import cli, oracle, pinned_snapshot, run_dir, write_req


def _catalog(fake, cid: str, base: str, **kw):  # type: ignore[no-untyped-def]
    # max_tokens above every output_tokens these tests script: a provider never reports more output than it was allowed
    return {"catalog": cid, "base_url": base, "params": {"max_tokens": 256}, **kw}


def test_a_tiered_model_is_billed_at_its_base_tier_and_a_long_prompt_at_its_tier(fake, keys, tmp_path: Path) -> None:
    """Claude Sonnet 4.5: $3/$15 per Mtok up to 200k input tokens, $6/$22.5 beyond. The price of
    a million tokens (the old way) is the long-context tier: 1.83x the bill for short calls."""
    fake.script("claude-sonnet-4-5", answer=oracle, input_tokens=1000, output_tokens=100)
    req = write_req(tmp_path, [_catalog(fake, "anthropic/claude-sonnet-4-5", fake.url)],
                    compliance={"data_sensitivity": "internal"}, cost={"monthly_requests": 10000})
    res = cli("eval", req, "--out", tmp_path / "short")
    assert res.exit_code == 0, res.output
    s, recs = run_dir(tmp_path / "short")
    expected = (1000 * 3.0 + 100 * 15.0) / 1e6
    assert all(r["cost_usd"] == pytest.approx(expected, rel=0.01) for r in recs)
    c = s["candidates"]["anthropic/claude-sonnet-4-5"]
    assert c["price"]["input_per_mtok"] == 3.0 and c["price"]["output_per_mtok"] == 15.0 and c["price"]["tiered"] is True
    assert c["cost"]["per_request_usd"] == pytest.approx(expected, rel=0.01)
    assert c["cost"]["monthly_usd"] == pytest.approx(10000 * expected, rel=0.01)

    fake.script("claude-sonnet-4-5", answer=oracle, input_tokens=250_000, output_tokens=100)
    cli("eval", req, "--out", tmp_path / "long", "--no-cache")
    _, recs = run_dir(tmp_path / "long")
    assert all(r["cost_usd"] == pytest.approx((250_000 * 6.0 + 100 * 22.5) / 1e6, rel=0.01) for r in recs)


def test_cached_input_is_billed_at_the_cached_rate(fake, keys, tmp_path: Path) -> None:
    fake.script("gpt-6.1-terra", answer=oracle, input_tokens=1000, output_tokens=100, cached_tokens=800)
    req = write_req(tmp_path, [_catalog(fake, "openai/gpt-6.1-terra", fake.url + "/v1")])
    assert cli("eval", req, "--out", tmp_path / "run").exit_code == 0
    _, recs = run_dir(tmp_path / "run")
    # gpt-6.1-terra: $1 input, $0.05 cached input, $5 output per Mtok
    expected = (200 * 1.0 + 800 * 0.05 + 100 * 5.0) / 1e6
    assert all(r["cached_input_tokens"] == 800 and r["cost_usd"] == pytest.approx(expected, rel=0.01) for r in recs)


@pytest.mark.parametrize("api", ["anthropic", "gemini"])
def test_cached_input_is_read_from_each_api(fake, keys, tmp_path: Path, api: str) -> None:
    from tests.conftest import anthropic_cand, gemini_cand

    make = {"anthropic": anthropic_cand, "gemini": gemini_cand}[api]
    fake.script("m", answer=oracle, input_tokens=1000, output_tokens=10, cached_tokens=600)
    cand = make(fake, "m", pin=1.0, pout=1.0)
    cand["price"]["cached_input_per_mtok"] = 0.1
    assert cli("eval", write_req(tmp_path, [cand]), "--out", tmp_path / "run").exit_code == 0
    _, recs = run_dir(tmp_path / "run")
    assert all(r["input_tokens"] == 1000 and r["cached_input_tokens"] == 600 for r in recs)
    assert all(r["cost_usd"] == pytest.approx((400 * 1.0 + 600 * 0.1 + 10 * 1.0) / 1e6) for r in recs)


def test_a_price_is_dated_by_its_snapshot_not_by_today(fake, keys, tmp_path: Path) -> None:
    from modelsel.catalog.models import snapshot_info

    version, as_of = pinned_snapshot()
    info = snapshot_info()
    assert (info.version, info.as_of, info.known) == (version, as_of, True)  # the pinned release's publication day
    fake.script("gpt-6.1-terra", answer=oracle)
    cli("eval", write_req(tmp_path, [_catalog(fake, "openai/gpt-6.1-terra", fake.url + "/v1")]), "--out", tmp_path / "run")
    s, _ = run_dir(tmp_path / "run")
    assert s["run"]["prices"]["as_of"] == as_of and s["run"]["prices"]["version"] == info.version
    assert s["run"]["prices"]["known"] and s["run"]["prices"]["warning"] is None
    assert s["candidates"]["openai/gpt-6.1-terra"]["price"]["as_of"] == as_of
    assert s["candidates"]["openai/gpt-6.1-terra"]["price"]["as_of"] != date.today().isoformat() or date.today().isoformat() == as_of
    md = (tmp_path / "run" / "decision.md").read_text()
    assert f"true as of {as_of}" in md and "Unknown price snapshot" not in md


def test_an_unknown_snapshot_is_a_warning_in_check_and_the_record(fake, keys, tmp_path: Path, monkeypatch) -> None:
    """A genai-prices this release has no date for (a user upgraded it by hand) is said, not dated silently."""
    from modelsel.catalog import prices
    from modelsel.catalog.prices import snapshot_info

    monkeypatch.setattr(prices, "version", lambda: "9.9.9")
    snapshot_info.cache_clear()
    try:
        info = prices.snapshot_info((("0.2.3", "2026-11-10", "table"),))
        assert not info.known and "genai-prices 9.9.9 is not a snapshot this release" in info.warning()
        fake.script("gpt-6.1-terra", answer=oracle)
        req = write_req(tmp_path, [_catalog(fake, "openai/gpt-6.1-terra", fake.url + "/v1")])
        out = " ".join(cli("check", req).output.split())
        assert "warning genai-prices 9.9.9 is not a snapshot this release of modelsel was checked against" in out
        cli("eval", req, "--out", tmp_path / "run")
        s, _ = run_dir(tmp_path / "run")
        assert s["run"]["prices"]["known"] is False and "9.9.9" in s["run"]["prices"]["warning"]
        md = " ".join((tmp_path / "run" / "decision.md").read_text().split())
        assert "**Unknown price snapshot**: genai-prices 9.9.9 is not a snapshot" in md
    finally:
        snapshot_info.cache_clear()


def test_a_snapshot_older_than_60_days_is_flagged() -> None:
    from modelsel.catalog.prices import SnapshotInfo

    info = SnapshotInfo("0.2.3", "2026-11-10", "test")
    assert not info.stale(date(2027, 1, 9)) and info.stale(date(2027, 1, 10))
    assert info.age_days(date(2027, 1, 10)) == 61


def test_models_shows_the_base_tier_and_says_when_tiers_exist() -> None:
    out = " ".join(cli("models", "--provider", "anthropic").output.split())
    assert "claude-sonnet-4-5" in out and "above 200,000 input tokens" in out
    assert f"true as of {pinned_snapshot()[1]}" in out


def test_dry_run_prices_each_call_on_its_own(fake, keys, tmp_path: Path) -> None:
    """Summing every call's tokens into one call would put a run into the long-context tier."""
    from modelsel.catalog.models import Candidate, call_cost
    from modelsel.inputs.evalset import Example
    from modelsel.run.runner import dry_run_estimate

    c = Candidate(id="s", provider="anthropic", vendor="anthropic", model="claude-sonnet-4-5", input_per_mtok=3.0,
                  output_per_mtok=15.0, price_ref=("anthropic", "claude-sonnet-4-5"))
    examples = [Example(id=str(i), input="x" * 40_000) for i in range(100)]  # ~10k tokens each, 1M in all
    row = dry_run_estimate([c], examples, 1, {"s": {"max_tokens": 10}})[0]
    assert row["cost_usd_max"] == pytest.approx(100 * call_cost(c, 10_000, 10), rel=1e-6)
    assert row["cost_usd_max"] == pytest.approx(100 * (10_000 * 3.0 + 10 * 15.0) / 1e6, rel=1e-3)


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("api", ["openai", "anthropic", "gemini"])
def test_thinking_tokens_are_recorded_and_billed_as_output(fake, keys, tmp_path: Path, api: str, stream: bool) -> None:
    """A thinking model spends 500 tokens thinking for a one-word answer. Each API reports them its
    own way (Gemini beside the answer's tokens, OpenAI and Anthropic inside output tokens); the bill
    is input x $1 + (answer + thinking) x $10 per Mtok, and the recorded cost matches it within 1%."""
    from tests.conftest import anthropic_cand, gemini_cand, openai_cand

    make = {"openai": openai_cand, "anthropic": anthropic_cand, "gemini": gemini_cand}[api]
    fake.script("thinker", answer=oracle, input_tokens=100, output_tokens=1, reasoning_tokens=500)
    cand = make(fake, "thinker", pin=1.0, pout=10.0, params={"stream": stream})
    res = cli("eval", write_req(tmp_path, [cand]), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    s, recs = run_dir(tmp_path / "run")
    bill = (100 * 1.0 + (1 + 500) * 10.0) / 1e6
    for r in recs:
        assert r["output"] in ("billing", "technical", "account", "shipping", "other")  # no thoughts in the answer
        assert r["reasoning_tokens"] == 500 and r["output_tokens"] == 501
        assert r["cost_usd"] == pytest.approx(bill, rel=0.01)
    c = next(iter(s["candidates"].values()))
    assert c["cost"]["reasoning_tokens_mean"] == 500 and c["cost"]["per_request_usd"] == pytest.approx(bill, rel=0.01)


def test_a_thinking_gemini_catalog_model_is_billed_for_its_thoughts(fake, keys, tmp_path: Path) -> None:
    """Counting only candidatesTokenCount billed gemini-3.8-flash 1 output token instead of 801."""
    from modelsel.catalog.prices import call_cost

    fake.script("gemini-3.8-flash", answer=oracle, input_tokens=200, output_tokens=1, reasoning_tokens=800)
    req = write_req(tmp_path, [_catalog(fake, "google/gemini-3.8-flash", fake.url, params={"max_tokens": 2000})],
                    compliance={"data_sensitivity": "internal"})
    assert cli("eval", req, "--out", tmp_path / "run").exit_code == 0
    _, recs = run_dir(tmp_path / "run")
    bill = call_cost("google", "gemini-3.8-flash", 200, 801)
    assert bill / call_cost("google", "gemini-3.8-flash", 200, 1) > 5  # what leaving the thoughts out cost
    assert all(r["cost_usd"] == pytest.approx(bill, rel=0.01) and r["reasoning_tokens"] == 800 for r in recs)
