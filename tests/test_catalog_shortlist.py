"""The catalog as current as its price data, and `modelsel shortlist` before any call."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import cli, pinned_snapshot, write_evalset, write_req

CURRENT = ["anthropic/claude-sonnet-5-5", "anthropic/claude-opus-5-5", "anthropic/claude-haiku-5-5", "openai/gpt-6-sol",
           "openai/gpt-6.1-terra", "google/gemini-3.8-flash", "deepseek/deepseek-v4-pro", "mistral/mistral-medium-3-5",
           "x-ai/grok-4.7"]
NOT_CHAT = ["google/gemini-embedding-001", "google/gemini-2.5-flash-tts", "openai/gpt-4o-mini-tts",
            "openai/gpt-4o-transcribe", "mistral/mistral-embed", "openai/gpt-realtime", "openai/gpt-image-1",
            "groq/whisper-large-v3", "openai/gpt-4o-audio-preview"]


def test_the_catalog_comes_from_the_shipped_snapshot() -> None:
    data = json.loads(cli("models", "--json", "--all").output)
    ids = {m["id"] for m in data}
    assert set(CURRENT) <= ids, set(CURRENT) - ids
    assert not set(NOT_CHAT) & ids, set(NOT_CHAT) & ids
    sonnet = next(m for m in data if m["id"] == "anthropic/claude-sonnet-5-5")
    assert sonnet["facts"]["context_window"]["value"] == 1_000_000
    assert sonnet["price_source"].startswith("genai-prices") and sonnet["price_as_of"] == pinned_snapshot()[1]
    assert sonnet["facts"]["trains_on_data"]["source"].startswith("https://")  # curated per vendor, with its source
    deprecated = [m for m in data if m["deprecated"]]
    assert deprecated and {m["id"] for m in deprecated} <= ids
    current = {m["id"] for m in json.loads(cli("models", "--json").output)}
    assert not {m["id"] for m in deprecated} & current  # --all is what brings them in


def test_models_filters() -> None:
    def ids(*args: str) -> list[dict]:
        return json.loads(cli("models", "--json", *args).output)

    assert {m["vendor"] for m in ids("--provider", "groq")} == {"groq"}
    assert all((m["facts"]["context_window"]["value"] or 0) >= 500_000 for m in ids("--min-context", "500000"))
    cheap = ids("--max-input-price", "0.1")
    assert cheap and all(m["input_per_mtok"] <= 0.1 for m in cheap)
    assert all(m["facts"]["open_weights"]["value"] for m in ids("--open-weights"))
    table = " ".join(cli("models", "--provider", "deepseek").output.split())
    assert "deepseek (API: openai-compatible)" in table and "deepseek-v4-pro" in table


def test_an_unknown_catalog_id_gets_did_you_mean_from_the_generated_catalog(tmp_path: Path) -> None:
    res = cli("check", write_req(tmp_path, ["anthropic/claude-sonet-5-5"]))
    assert res.exit_code == 2
    out = " ".join(res.output.split())
    assert "unknown catalog id 'anthropic/claude-sonet-5-5'" in out and "Did you mean 'anthropic/claude-sonnet-5-5'" in out


def _tight(tmp_path: Path, **over: object) -> Path:
    rows = [(f"t{i}", "My invoice is wrong " * 40, "billing", "simple") for i in range(60)]  # ~200 input tokens
    write_evalset(tmp_path, rows)
    doc = {"evalset": "tickets.jsonl", "strategy": {"min_context_tokens": 300_000},
           "cost": {"max_per_request_usd": 0.0005, "monthly_budget_usd": 50, "monthly_requests": 100_000},
           "compliance": {"data_sensitivity": "internal"}}
    doc.update(over)  # type: ignore[arg-type]
    return write_req(tmp_path, ["openai/gpt-6.1-terra"], **doc)


def test_shortlist_keeps_only_models_within_context_and_budget_and_says_why_others_are_out(tmp_path: Path) -> None:
    res = cli("shortlist", _tight(tmp_path), "--json")
    assert res.exit_code == 0, res.output
    props = json.loads(res.output)
    inside = [p for p in props if p["included"]]
    assert 2 <= len(inside) <= 6
    for p in inside:
        assert p["context_window"] >= 300_000
        assert p["cost_per_request_usd"] <= 0.0005 and p["monthly_usd"] <= 50
    assert all(p["out"] for p in props if not p["included"] and p["id"] not in {q["id"] for q in props if not q["out"]})
    small = next(p for p in props if p["id"] == "openai/gpt-4o-mini")  # 128k context
    assert any("context window 128,000 tokens, below the 300,000 needed" in r for r in small["out"])
    pricey = next(p for p in props if p["id"] == "anthropic/claude-opus-5-5")
    assert any("per request exceeds the limit $0.000500" in r for r in pricey["out"])
    assert len({p["vendor"] for p in inside}) >= 2  # at least two providers when allowed
    table = " ".join(cli("shortlist", _tight(tmp_path)).output.split())
    assert "IN" in table and "strategy.min_context_tokens" in table and "cost.max_per_request_usd" in table


def test_shortlist_spreads_across_tiers_and_adds_open_weights_when_lock_in_tolerance_is_low(tmp_path: Path) -> None:
    req = write_req(tmp_path, ["openai/gpt-5-mini"], compliance={"data_sensitivity": "internal"},
                    cost={"monthly_requests": 10_000, "monthly_budget_usd": 5000},
                    strategy={"lock_in_tolerance": "low"})
    props = json.loads(cli("shortlist", req, "--json", "--top", "6").output)
    inside = [p for p in props if p["included"]]
    assert {p["tier"] for p in inside} >= {"cheap", "middle", "premium"}
    assert any(p["open_weights"] for p in inside)


def test_shortlist_exits_1_naming_the_filter_that_emptied_the_list(tmp_path: Path) -> None:
    """Self-hosted only: every API model is out, and the local Gemma's 32k context is too small."""
    req = _tight(tmp_path, compliance={"self_hosted_only": True}, strategy={"min_context_tokens": 100_000})
    res = cli("shortlist", req)
    assert res.exit_code == 1
    out = " ".join(res.output.split())
    assert "No catalog model can meet these requirements" in out
    assert "The filter that removed the most: compliance.self_hosted_only" in out
    assert "local/gemma-3-270m" not in out.split("No catalog model")[0].split("Out,")[0]


def test_shortlist_write_adds_candidates_and_keeps_comments(tmp_path: Path) -> None:
    req = _tight(tmp_path)
    text = req.read_text()
    text = text.replace("candidates:", "# the shortlist, reviewed by the PM\ncandidates:  # keep this comment")
    req.write_text(text + "# a trailing comment\n")
    res = cli("shortlist", req, "--write")
    assert res.exit_code == 0, res.output
    after = req.read_text()
    assert "# the shortlist, reviewed by the PM" in after and "# keep this comment" in after and "# a trailing comment" in after
    doc = yaml.safe_load(after)
    got = [c if isinstance(c, str) else c["catalog"] for c in doc["candidates"]]
    assert got[0] == "openai/gpt-6.1-terra" and len(got) > 1
    assert cli("check", req).exit_code == 0
    assert cli("shortlist", req, "--write").output.count("added 0 candidate(s)") == 1  # nothing added twice


def test_a_strategic_position_sets_defaults_and_the_record_says_which(fake, keys, tmp_path: Path) -> None:
    from modelsel.inputs.requirements import load_requirements
    from tests.conftest import openai_cand, oracle, run_dir

    req = write_req(tmp_path, [openai_cand(fake, "m")], strategy={"position": "regulated"},
                    decision={"small_difference": 0.03})
    lr = load_requirements(req)
    assert lr.req.decision.review_every_days == 30 and lr.req.strategy.lock_in_tolerance == "low"
    assert lr.req.decision.small_difference == 0.03  # the PM's own value stands
    assert any("review_every_days = 30 (from strategy.position: regulated)" in n for n in lr.req.position_defaults)
    assert not any("small_difference" in n for n in lr.req.position_defaults)
    fake.script("m", answer=oracle)
    cli("eval", req, "--out", tmp_path / "run")
    s, _ = run_dir(tmp_path / "run")
    assert any("from strategy.position: regulated" in n for n in s["requirements"]["position_defaults"])
    assert "Default from the strategic position" in (tmp_path / "run" / "decision.md").read_text()
    comp = load_requirements(write_req(tmp_path / "c", ["openai/gpt-5-mini"], strategy={"position": "competitive"}))
    assert comp.req.decision.priority[0] == "quality"


def test_regulated_position_eliminates_unknown_facts(tmp_path: Path) -> None:
    """Groq does not state its retention: a risk by default, a reason to eliminate when regulated."""
    base = {"compliance": {"data_sensitivity": "phi", "max_retention_days": 30}}
    res = cli("check", write_req(tmp_path, ["groq/llama-3.3-70b-versatile"], **base))
    assert "risk groq/llama-3.3-70b-versatile: retention_days unknown" in " ".join(res.output.split())
    res = cli("check", write_req(tmp_path / "r", ["groq/llama-3.3-70b-versatile"], strategy={"position": "regulated"}, **base))
    out = " ".join(res.output.split())
    assert "eliminated before any call groq/llama-3.3-70b-versatile: retention_days unknown" in out


def test_models_the_vendor_no_longer_serves_are_retired_with_the_day_and_source(tmp_path: Path) -> None:
    """The snapshot keeps pricing models their vendor shut down; catalog.yaml says which, so a
    'current' list never offers GPT-3 'ada' or Claude 2, and the chat API's completions-only
    models are not chat candidates at all."""
    every = {m["id"]: m for m in json.loads(cli("models", "--json", "--all").output)}
    current = {m["id"] for m in json.loads(cli("models", "--json").output)}
    for mid, day in (("openai/ada", "2024-01-04"), ("anthropic/claude-2", "2025-07-21"),
                     ("google/gemini-1.5-pro", "2025-09-24"), ("anthropic/claude-3-opus-latest", "2026-01-05")):
        m = every[mid]
        assert m["deprecated"] and m["retired_on"] == day and mid not in current
        assert m["deprecation"].startswith(f"retired by {mid.split('/')[0]} on {day} (source: https://")
    assert "openai/gpt-3.5-turbo-instruct" not in every and "openai/davinci-002" not in every
    assert {"anthropic/claude-haiku-4-5", "openai/gpt-6.1-terra", "google/gemini-3.8-flash"} <= current
    # announced shutdowns, from the vendors' deprecation pages, with the replacement they name
    mini = every["openai/gpt-5-mini"]
    assert mini["deprecated"] and mini["shutdown_on"] == "2026-12-11" and mini["successor"] == "openai/gpt-6.1-terra"
    assert every["google/gemini-2.5-flash"]["shutdown_on"] == "2026-06-17" and "openai/gpt-5-mini" not in current
    res = cli("shortlist", write_req(tmp_path, ["openai/gpt-4.1"]), "--json")
    out = {p["id"]: p for p in json.loads(res.output)}
    assert any(r.startswith("retired by anthropic on 2025-07-21") for r in out["anthropic/claude-2"]["out"])


def test_a_retired_model_is_refused_with_its_day_and_its_successor_shortlisted(tmp_path: Path) -> None:
    """gemini-2.5-flash was shut down on 2026-06-17: eval refuses it (exit 2, the day and the source);
    gpt-5-mini shuts down on 2026-12-11 and the vendor names gpt-6.1-terra: shortlist proposes it."""
    from datetime import date

    res = cli("eval", write_req(tmp_path / "a", ["google/gemini-2.5-flash"]))
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and "was shut down by its vendor on 2026-06-17" in out
    assert "ai.google.dev/gemini-api/docs/deprecations" in out and not (tmp_path / "a" / "reports").exists()
    # check is where the file gets fixed: the retired model is an open item, with the same words
    res = cli("check", tmp_path / "a" / "req.yaml", "--strict")
    out = " ".join(res.output.split())
    assert res.exit_code == 1 and "✗ No retired model: 1 candidate(s) shut down by their vendor" in out
    assert "retired" in out and "was shut down by its vendor on 2026-06-17" in out
    if date.today() < date(2026, 12, 11):
        res = cli("shortlist", write_req(tmp_path / "b", ["openai/gpt-5-mini"]), "--json")
        props = {p["id"]: p for p in json.loads(res.output)}
        succ = props["openai/gpt-6.1-terra"]
        assert succ["included"] and succ["why_in"].startswith("replaces openai/gpt-5-mini (deprecated by openai: shuts "
                                                               "down on 2026-12-11")


def test_the_record_sets_a_shutdown_against_the_next_review() -> None:
    from datetime import date

    from modelsel.analysis.decision import lifecycle_note
    from modelsel.inputs.candidate import Candidate
    from modelsel.schema import ReviewPlan

    c = Candidate(id="openai/gpt-5-mini", provider="openai", vendor="openai", model="gpt-5-mini",
                  deprecation="deprecated by openai: shuts down on 2026-12-11 (source: x)", shutdown_on="2026-12-11",
                  successor="openai/gpt-6.1-terra")
    plan = ReviewPlan(next_review_date="2027-03-02", every_days=90, triggers=[])
    note = lifecycle_note(c, "chosen model", plan, date(2026, 12, 2))
    assert note is not None and "shuts down in 9 days, on 2026-12-11, before the next review on 2027-03-02" in note
    assert "The vendor names openai/gpt-6.1-terra as its replacement" in note
