"""Where teams already work: the CI job's page ($GITHUB_STEP_SUMMARY), JUnit XML for test
reporters (validated against the Ant JUnit schema), the shipped workflow, and `check` saying
before any spend what the run will be able to tell apart."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, cli, openai_cand, oracle, write_req, wrong_on

XSD = ROOT / "tests" / "data" / "junit-ant.xsd"


def _valid_junit(path: Path) -> object:
    lxml = pytest.importorskip("lxml.etree")
    schema = lxml.XMLSchema(lxml.parse(str(XSD)))
    doc = lxml.parse(str(path))
    assert schema.validate(doc), schema.error_log
    return doc


def test_eval_writes_the_job_page_and_junit(fake, keys, tmp_path: Path, monkeypatch) -> None:
    page = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(page))
    fake.script("good", answer=oracle)
    fake.script("bad", answer=wrong_on({"e1", "e2", "e3", "e4", "e5", "e6"}))
    req = write_req(tmp_path, [openai_cand(fake, "good"), openai_cand(fake, "bad")], quality={"min_score": 0.8})
    res = cli("eval", req, "--out", tmp_path / "run", "--junit", tmp_path / "junit.xml")
    assert res.exit_code == 0, res.output
    text = page.read_text()
    assert "## modelsel: Ticket triage test" in text and "**Choose oa-good**" in text
    assert "| Candidate | Status | Quality [95% CI] |" in text and "| oa-bad | eliminated |" in text
    assert "first recorded decision for these requirements" in text and "decision.md" in text
    doc = _valid_junit(tmp_path / "junit.xml")
    cases = {(c.get("classname"), c.get("name")): c for c in doc.iter("testcase")}  # type: ignore[attr-defined]
    assert cases[("oa-bad", "quality.min_score")].find("failure") is not None
    assert cases[("oa-good", "quality.min_score")].find("failure") is None
    assert cases[("decision", "a candidate meets every requirement")].find("failure") is None
    # a second run says what changed since the first
    res = cli("eval", req, "--out", tmp_path / "run2")
    assert "the same choice as on" in page.read_text()


def test_review_junit_and_page_for_a_decision_that_holds_and_one_that_does_not(fake, keys, tmp_path: Path,
                                                                                 monkeypatch) -> None:
    page = tmp_path / "page.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(page))
    fake.script("m", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "m")], quality={"min_score": 0.8})
    assert cli("eval", req, "--out", tmp_path / "decision").exit_code == 0
    ok = cli("review", req, "--against", tmp_path / "decision", "--out", tmp_path / "r1", "--junit", tmp_path / "ok.xml")
    assert ok.exit_code == 0, ok.output
    doc = _valid_junit(tmp_path / "ok.xml")
    holds = [c for c in doc.iter("testcase") if c.get("name") == "decision holds"]  # type: ignore[attr-defined]
    assert len(holds) == 1 and holds[0].find("failure") is None
    assert "**The decision holds**" in page.read_text()
    fake.script("m", answer=wrong_on({t for t in ("e1", "e2", "e3", "e4", "e5", "e6", "e7")}))
    bad = cli("review", req, "--against", tmp_path / "decision", "--out", tmp_path / "r2", "--junit", tmp_path / "bad.xml")
    assert bad.exit_code == 1
    doc = _valid_junit(tmp_path / "bad.xml")
    holds = [c for c in doc.iter("testcase") if c.get("name") == "decision holds"]  # type: ignore[attr-defined]
    assert holds[0].find("failure") is not None and "no longer meets" in holds[0].find("failure").get("message")
    text = page.read_text()
    assert "**The decision no longer holds**" in text and ":x:" in text


def test_check_says_before_any_spend_what_the_run_can_tell_apart(tmp_path: Path) -> None:
    from modelsel.metrics import planned_resolution, resolution

    (tmp_path / "r.py").write_text("def f(x):\n    return 'other'\n")
    res = cli("check", write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "r:f"}]))
    out = " ".join(res.output.split())
    # the record's formula, at the SD a pass/fail difference can reach before any answer
    same = resolution(12, [], 0.05)
    assert planned_resolution(12, 12, 0.05).resolvable_difference == same.resolvable_difference
    assert f"With 12 examples, quality differences under about {same.resolvable_difference * 100:.0f} points" in out
    assert f"would need about {same.n_to_detect_small_difference:,} examples" in out
    clustered = planned_resolution(60, 6, 0.05)
    assert clustered.n_effective == 6 and clustered.resolvable_difference > resolution(60, [], 0.05).resolvable_difference


def test_the_shipped_workflow_uses_the_summary_junit_artifacts_and_one_pr_comment() -> None:
    wf = ROOT / ".github" / "workflows" / "modelsel-review.yml"
    doc = yaml.safe_load(wf.read_text())
    text = wf.read_text()
    on = doc.get(True) or doc.get("on")
    assert "schedule" in on and "pull_request" in on and "workflow_dispatch" in on
    assert "--junit" in text and "actions/upload-artifact" in text and "GITHUB_TOKEN" in text
    assert "<!-- modelsel-decision -->" in text  # the marker of the one comment it updates
    assert doc["permissions"] == {"contents": "read", "pull-requests": "write", "checks": "write"}
