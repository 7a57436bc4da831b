"""Quarterly review and diff over runs made against the fake provider; the replay provider."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import (
    anthropic_cand,
    cli,
    gemini_cand,
    openai_cand,
    oracle,
    run_dir,
    write_req,
    wrong_on,
)


def _baseline(fake, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    fake.script("a", answer=oracle)
    fake.script("b", answer=wrong_on({"e1", "e2", "e3", "e4", "e6", "e7"}))
    req = write_req(tmp_path, [openai_cand(fake, "a", pin=1.0, pout=2.0), anthropic_cand(fake, "b")])
    res = cli("eval", req)
    assert res.exit_code == 0, res.output
    return req


def test_review_holds_when_nothing_changed(fake, keys, tmp_path: Path) -> None:
    req = _baseline(fake, tmp_path)
    res = cli("review", req, "--out", tmp_path / "rev")
    assert res.exit_code == 0, res.output
    assert "The decision still holds." in res.output
    assert "the same rules still choose 'oa-a'" in res.output and "quality stable" in res.output
    r = json.loads((tmp_path / "rev" / "review.json").read_text())
    assert r["holds"] is True and r["chosen_before"] == r["chosen_now"] == "oa-a"
    assert (tmp_path / "rev" / "review.md").read_text().startswith("# Review: the decision still holds")
    assert len(fake.requests_for("a")) == 24  # review re-runs with fresh calls


def test_review_fails_on_quality_regression_reasons_first(fake, keys, tmp_path: Path) -> None:
    req = _baseline(fake, tmp_path)
    fake.script("a", answer=wrong_on({"e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"}))
    res = cli("review", req, "--out", tmp_path / "rev")
    assert res.exit_code == 1, res.output
    lines = [x.strip() for x in res.output.splitlines() if x.strip()]
    assert lines[0].startswith("The decision no longer holds.")
    assert lines[1].startswith("✗")  # the reasons come first
    r = json.loads((tmp_path / "rev" / "review.json").read_text())
    kinds = {f["kind"]: f for f in r["findings"]}
    # 8 of 12 flipped against one earlier run: the sign-flip p is 1/256, over the first review's share
    # (2.5% / 8 planned reviews); the review fails on the requirement the incumbent now misses
    drift = kinds["quality_drift"]
    assert drift["before"] == 1.0 and drift["after"] < 0.5
    assert "-66.7 points on 12 examples (permutation test over the runs" in drift["text"]
    assert "review 1 of 8 planned: a drop is called at p < 0.003125" in drift["text"]
    assert drift["text"].startswith("quality lower, not shown to have drifted") and drift["holds"] is True
    assert kinds["incumbent_eliminated"]["holds"] is False


def test_review_flags_a_new_better_candidate_and_price_changes(fake, keys, tmp_path: Path) -> None:
    req = _baseline(fake, tmp_path)
    fake.script("c", answer=oracle)
    doc = yaml.safe_load(req.read_text())
    doc["candidates"][0]["price"] = {"input_per_mtok": 3.0, "output_per_mtok": 6.0}  # the incumbent's price went up
    doc["candidates"].append(gemini_cand(fake, "c", pin=0.1, pout=0.2))  # a cheaper, equally good model
    req.write_text(yaml.safe_dump(doc))
    res = cli("review", req, "--out", tmp_path / "rev")
    assert res.exit_code == 1
    r = json.loads((tmp_path / "rev" / "review.json").read_text())
    kinds = {f["kind"]: f for f in r["findings"]}
    assert kinds["new_choice"]["candidate"] == "ge-c" and kinds["new_choice"]["holds"] is False
    assert kinds["price_change"]["before"] == [1.0, 2.0] and kinds["price_change"]["after"] == [3.0, 6.0]
    assert "input $1 -> $3/Mtok (+200%)" in kinds["price_change"]["text"]


def test_review_names_catalog_models_new_since_the_decision_and_an_overdue_review(fake, keys, tmp_path: Path) -> None:
    from modelsel.catalog.models import load_catalog

    req = _baseline(fake, tmp_path)
    run = next(p for p in (tmp_path / "reports").iterdir() if p.name.startswith("req-"))
    s = json.loads((run / "summary.json").read_text())
    s["decision"]["review"]["next_review_date"] = "2020-01-01"
    # The catalog as it was when the decision was made: two of today's models had not arrived yet.
    arrived = {"openai/gpt-6.1-terra", "google/gemini-3.8-flash"}
    s["run"]["catalog_ids"] = sorted(m for m in load_catalog() if m not in arrived)
    (run / "summary.json").write_text(json.dumps(s))
    res = cli("review", req, "--against", run, "--out", tmp_path / "rev")
    r = json.loads((tmp_path / "rev" / "review.json").read_text())
    kinds = {f["kind"]: f for f in r["findings"]}
    assert "review_overdue" in kinds
    new = kinds["new_catalog_models"]
    assert new["holds"] is True  # a reason to re-run, not a failure by itself
    assert set(new["after"]) == arrived  # both pass these requirements' filters (no retention limit here)
    assert new["text"].startswith("new since the decision: 2 catalog model(s) could meet these requirements")
    assert res.exit_code == 0


def test_review_without_an_earlier_run_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "x.py").write_text("def y(text):\n    return 'other'\n")
    req = write_req(tmp_path, [{"id": "k", "provider": "python", "model": "x:y"}])
    res = cli("review", req)
    assert res.exit_code == 2 and "no earlier run for this requirements file" in res.output


def test_diff_shows_change_with_significance_and_flipped_examples(fake, keys, tmp_path: Path) -> None:
    fake.script("a", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "a")])
    cli("eval", req, "--out", tmp_path / "r1")
    fake.script("a", answer=wrong_on({"e1", "e2"}))
    cli("eval", req, "--out", tmp_path / "r2", "--no-cache")
    res = cli("diff", tmp_path / "r1", tmp_path / "r2")
    assert res.exit_code == 0
    out = " ".join(res.output.split())
    assert "1.000 → 0.833" in out and "-0.167" in out
    assert "2 example outcome(s) flipped" in out and "oa-a e1: pass → fail" in out


def test_replay_rescores_recorded_answers_without_calls_and_says_so(fake, keys, tmp_path: Path) -> None:
    fake.script("a", answer=oracle, latency_ms=40)
    req = write_req(tmp_path, [openai_cand(fake, "a")])
    cli("eval", req, "--out", tmp_path / "r1")
    calls = len(fake.requests_for("a"))
    replay = write_req(tmp_path / "ci", [{"id": "a-replayed", "provider": "replay", "model": "oa-a",
                                          "replay_from": str(tmp_path / "r1")}], scoring=[{"type": "exact"}])
    res = cli("eval", replay, "--out", tmp_path / "r2")
    assert len(fake.requests_for("a")) == calls
    s, recs = run_dir(tmp_path / "r2")
    assert all(r["replayed"] for r in recs) and s["run"]["replayed"] is True
    assert s["candidates"]["a-replayed"]["latency"]["p50"]["value"] >= 40  # the latency recorded when it was asked
    assert "**Replayed**" in (tmp_path / "r2" / "decision.md").read_text()
    assert "REPLAYED from recorded answers" in (tmp_path / "r2" / "report.html").read_text()
    assert res.exit_code == 0
    bad = write_req(tmp_path / "bad", [{"id": "x", "provider": "replay", "model": "nobody", "replay_from": str(tmp_path / "r1")}])
    s2 = cli("eval", bad, "--out", tmp_path / "r3")
    # its only candidate cannot be evaluated: nothing to decide on, so no decision is written (exit 2)
    assert "has no answers from candidate 'nobody'" in " ".join(s2.output.split())
    assert s2.exit_code == 2 and not (tmp_path / "r3" / "summary.json").exists()


def test_review_fails_when_the_choice_shuts_down_before_the_next_review() -> None:
    from datetime import date

    from modelsel.inputs.candidate import Candidate
    from modelsel.quarterly.review import _lifecycle
    from modelsel.schema import Decision, Summary

    old = Summary.model_construct(decision=Decision(chosen="mini", fallback="old"))
    mini = Candidate(id="mini", provider="openai", vendor="openai", model="gpt-5-mini", shutdown_on="2026-12-11",
                     deprecation="deprecated by openai: shuts down on 2026-12-11 (source: x)", successor="openai/gpt-6.1-terra")
    gone = Candidate(id="old", provider="openai", vendor="openai", model="o3-mini", shutdown_on="2026-10-23",
                     deprecation="retired by openai on 2026-10-23 (source: y)")
    f = {x.kind: x for x in _lifecycle(old, {"mini": mini, "old": gone}, date(2026, 12, 2), 90)}
    assert not f["shuts_down_before_next_review"].holds
    assert "shuts down in 9 days, on 2026-12-11, before the next review on 2027-03-02" in f["shuts_down_before_next_review"].text
    assert "openai/gpt-6.1-terra" in f["shuts_down_before_next_review"].text
    assert not f["retired"].holds and "fallback 'old' was shut down on 2026-10-23" in f["retired"].text
    later = {x.kind: x for x in _lifecycle(old, {"mini": mini}, date(2026, 6, 1), 30)}
    assert later["deprecated"].holds and later["deprecated"].text.startswith("warning:")
