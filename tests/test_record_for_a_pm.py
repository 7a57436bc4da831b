"""The record a PM defends in one minute: a plain opening in the PM's units, the cost of wrong
answers, an honest status, risks first in the requirements' own words, the chosen model against
its baseline, and an HTML page that holds the whole record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import cli, flat, openai_cand, oracle, run_dir, write_req, wrong_on

CONTEXT = ("Route tickets to queues. A wrong queue costs a re-route; a ticket that talks the model into a wrong label "
           "(prompt injection) must not get through.")


def _md(tmp_path: Path, out: str = "run") -> str:
    return flat((tmp_path / out / "decision.md").read_text())


def test_a_failure_cost_makes_the_cheaper_api_model_lose_on_the_total(fake, keys, tmp_path: Path) -> None:
    """cheap: $0.10/Mtok, wrong on 2 of 12; dear: $10/Mtok, right on all. Not told apart at n=12, so
    the cost priority decides: on the API bill the cheap one wins, on the total (2/12 of 10,000
    requests x $5 = $8,333 a month in failures) the dear one does."""
    fake.script("cheap", answer=wrong_on({"e1", "e2"}), input_tokens=500, output_tokens=5)
    fake.script("dear", answer=oracle, input_tokens=500, output_tokens=5)
    cands = [openai_cand(fake, "cheap", pin=0.1, pout=0.1), openai_cand(fake, "dear", pin=10.0, pout=10.0)]
    cost = {"max_per_request_usd": 0.1, "monthly_budget_usd": 100_000, "monthly_requests": 10_000,
            "failure_cost_usd": 5.0}
    bar = {"min_score": 0.5}  # both meet it surely (cheap's 10 of 12: 95% CI 0.52-0.98), so cost decides
    res = cli("eval", write_req(tmp_path, cands, task=CONTEXT, cost=cost, decision={"priority": ["cost"]}, quality=bar),
              "--out", tmp_path / "total")
    assert res.exit_code == 0, res.output
    s, _ = run_dir(tmp_path / "total")
    assert s["decision"]["chosen"] == "oa-dear"
    cheap, dear = s["candidates"]["oa-cheap"]["cost"], s["candidates"]["oa-dear"]["cost"]
    assert cheap["failures_monthly"] == pytest.approx(10_000 * 2 / 12, rel=1e-4)
    assert cheap["failure_cost_monthly_usd"] == pytest.approx(10_000 * 2 / 12 * 5, rel=1e-4)
    assert dear["total_monthly_usd"] < cheap["total_monthly_usd"] and dear["monthly_usd"] > cheap["monthly_usd"]
    assert cheap["total_monthly_lo"] <= cheap["total_monthly_usd"] <= cheap["total_monthly_hi"]
    md = _md(tmp_path, "total")
    opening = md.split("## In one minute")[1].split("- Status:")[0]
    assert "**Chosen: oa-dear**, an API model from" in opening and "right 100% of the time" in opening
    assert "a month all in at 10,000 requests" in opening and "failed answers a month at $5.00 each" in opening
    assert "ranks first on total cost (API, hosting and failed answers)" in md
    assert "Total/month with failures [95% CI]" in md  # the record shows both: the API bill and the total
    # the same file ranking on the API bill: the cheaper model, as before
    cost_api = dict(cost, rank_on="api")
    cli("eval", write_req(tmp_path, cands, task=CONTEXT, cost=cost_api, decision={"priority": ["cost"]}, quality=bar),
        "--out", tmp_path / "api")
    assert run_dir(tmp_path / "api")[0]["decision"]["chosen"] == "oa-cheap"


def test_models_not_evaluated_make_the_status_provisional_and_the_opening_says_so(fake, keys, tmp_path: Path,
                                                                                    monkeypatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    fake.script("m", answer=oracle)
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "m"), "anthropic/claude-haiku-5-5"], task=CONTEXT,
                                approver="Head of support"), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    md = _md(tmp_path)
    assert "Status: **Provisional**: oa-m, until anthropic/claude-haiku-5-5 is judged" in md
    assert "Not tested: anthropic/claude-haiku-5-5 (no API key (set ANTHROPIC_API_KEY))" in md
    assert "The decision is **provisional** until they are." in md and "Approver: Head of support" in md
    s, _ = run_dir(tmp_path / "run")
    assert s["evidence"]["status"] == "provisional"
    # a second record of the same requirements names the one it supersedes
    cli("eval", write_req(tmp_path, [openai_cand(fake, "m")], task=CONTEXT), "--out", tmp_path / "run2")
    md2 = _md(tmp_path, "run2")
    assert "Supersedes the record of" in md2 and "chose oa-m" in md2 and "requirements edited" in md2
    assert "Status: Decided: **oa-m** (every shortlisted candidate was judged)" in md2


def test_an_injection_that_gets_through_leads_the_risks(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=wrong_on({"e11"}))  # e11 is the adversarial ticket
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "m")], task=CONTEXT,
                                quality={"min_score": 0.5, "unacceptable": ["labels outside the five queues"]}),
              "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    md = (tmp_path / "run" / "decision.md").read_text()
    risks = [line for line in md.split("## Risks")[1].split("## Decision")[0].splitlines() if line.startswith("- ")]
    assert risks[0].startswith('- "a ticket that talks the model into a wrong label (prompt injection) must not get '
                               'through."') and "1 of 1 adversarial example(s) got through with oa-m (e11)" in risks[0]
    assert 'Unacceptable, "labels outside the five queues": oa-m gave 0 such answer(s) in 12 calls.' in flat(md)
    assert len(risks) == len(set(risks))  # no line twice
    assert md.index("## Risks") < md.index("## Decision") < md.index("## Appendix: the statistics")
    assert "p=0.000" not in md


def test_the_chosen_against_its_fallback_and_the_confusion_matrix(fake, keys, tmp_path: Path) -> None:
    fake.script("a", answer=wrong_on({"e1"}))
    fake.script("b", answer=wrong_on({"e2", "e3"}))
    cli("eval", write_req(tmp_path, [openai_cand(fake, "a", pin=1.0), openai_cand(fake, "b", pin=2.0)],
                          quality={"min_score": 0.5}), "--out", tmp_path / "run")
    s, _ = run_dir(tmp_path / "run")
    v = s["evidence"]["versus"]
    assert s["decision"]["chosen"] == "oa-a" and v["baseline"] == "oa-b" and v["why"] == "the fallback"
    assert v["chosen_only"] == ["e2", "e3"] and v["baseline_only"] == ["e1"] and v["both_right"] == 9
    m = s["evidence"]["confusion"]["oa-a"]
    assert m["billing"] == {"other": 1} or m["billing"].get("billing") is not None
    assert sum(n for row in m.values() for n in row.values()) == 12
    md = _md(tmp_path)
    assert "oa-a gets 2 example(s) right that oa-b gets wrong, and 1 the other way round" in md
    assert "Right only with oa-a: e2, e3." in md


def test_the_html_holds_the_whole_record(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    cli("eval", write_req(tmp_path, [openai_cand(fake, "m")], task=CONTEXT, approver="Head of support"),
        "--out", tmp_path / "run")
    html = (tmp_path / "run" / "report.html").read_text()
    for part in ('id="opening"', "In one minute", 'id="status"', 'id="context"', "must not get through", 'id="risks"',
                 'id="requirements"', "Fallback and migration plan", "When to reconsider", 'id="appendix"',
                 "Approver: Head of support", "@media print", "beforeprint"):
        assert part in html, part
    assert html.index('id="opening"') < html.index('id="decision"') < html.index('id="appendix"')
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["evidence"]["status"] == "decided"


def test_check_names_the_failure_cost_field(tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("def classify(text):\n    return 'other'\n")
    req = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "rules:classify"}])
    out = flat(cli("check", req).output)
    assert "Cost of a wrong answer: state what a failed answer costs (cost.failure_cost_usd" in out
    bad = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "rules:classify"}],
                    cost={"monthly_requests": 10, "failure_minutes": 10})
    res = cli("check", bad)
    assert res.exit_code == 2 and "failure_minutes and hourly_rate_usd go together" in flat(res.output)


def test_the_fallback_figures_and_the_strategy_sentence_say_what_they_compare(fake, keys, tmp_path: Path) -> None:
    fake.script("a", answer=wrong_on({"e1"}))
    fake.script("b", answer=wrong_on({"e2", "e3"}))
    cli("eval", write_req(tmp_path, [openai_cand(fake, "a", pin=1.0), openai_cand(fake, "b", pin=2.0)],
                          quality={"min_score": 0.5}), "--out", tmp_path / "run")
    s, _ = run_dir(tmp_path / "run")
    md = _md(tmp_path)
    kinds = {x["kind"] for x in s["strategies"]["strategies"]}
    assert kinds == {"fallback_chain"}, kinds  # two candidates, two providers of one fake: only a chain applies
    assert "the only strategy, a fallback chain, was judged on availability alone" in md  # what was compared
    assert "Once switched over, it changes quality by" in md
    assert "A request that fails over live (the chain in Strategies) first waits the timeout" in md


def test_one_statement_about_the_family_and_every_holm_cell_filled(fake, keys, tmp_path: Path) -> None:
    """Three candidates, two survive (the third misses the bar): the verdict's Holm runs over the three
    pairs of the table, so the record says that once, and the table fills every pair's Holm p."""
    fake.script("a", answer=oracle)
    fake.script("b", answer=wrong_on({"e1", "e2", "e3"}))
    fake.script("c", answer=wrong_on({f"e{i}" for i in range(1, 11)}))
    cli("eval", write_req(tmp_path, [openai_cand(fake, m, pin=1.0) for m in "abc"], quality={"min_score": 0.6}),
        "--out", tmp_path / "run")
    s, _ = run_dir(tmp_path / "run")
    assert len(s["comparisons"]) == 3 and all(c["p_holm"] is not None for c in s["comparisons"])
    md = _md(tmp_path)
    assert "over all 3 pairwise comparisons in the table" in md
    assert "no family of tests to control" not in md
