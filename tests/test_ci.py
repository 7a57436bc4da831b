"""Where teams already work: the CI job's page ($GITHUB_STEP_SUMMARY), JUnit XML for test
reporters (validated against the Ant JUnit schema), the shipped workflow, and `check` saying
before any spend what the run will be able to tell apart."""

from __future__ import annotations

import re
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
    # 12 right of 12 is 1.000 [0.74, 1.00] against a 0.8 bar: a pass at risk, said in the case's own name
    assert cases[("oa-good", "quality.min_score (at risk)")].find("failure") is None
    assert cases[("decision", "a candidate meets every requirement")].find("failure") is None
    assert ("oa-good", "compliance") in cases and ("oa-bad", "compliance") in cases  # one for every candidate
    names = [(c.get("classname"), c.get("name")) for c in doc.iter("testcase")]  # type: ignore[attr-defined]
    assert len(names) == len(set(names))  # unique: some reporters merge cases of one name
    assert "Out of the running:" in text and "- oa-bad:" in text  # why the eliminated one is out
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
    from modelsel.analysis.metrics import planned_resolution, resolution

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
    assert doc["permissions"] == {}  # nothing for the whole workflow; the job asks for what it uses
    job = doc["jobs"]["review"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write", "checks": "write"}
    assert "reports/decisions/**" in on["pull_request"]["paths"]
    assert doc["concurrency"]["cancel-in-progress"] is True  # two quick pushes: one paid review
    steps = job["steps"]
    # a fork's pull request (no secrets, read-only token) skips the paid review and the comment, green
    assert "head.repo.full_name != github.repository" in job["env"]["FROM_FORK"]
    for st in steps:
        if "uses" in st or st.get("id") == "review" or "comment" in st.get("name", "").lower():
            assert "env.FROM_FORK != 'true'" in st["if"], st
    # every action pinned to a commit, checkout keeps no credentials, secrets only where models are called
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", st["uses"]) for st in steps if "uses" in st)
    assert next(st for st in steps if "checkout" in st.get("uses", ""))["with"]["persist-credentials"] is False
    with_secrets = [st.get("name") for st in steps if "secrets." in yaml.safe_dump(st) and "GITHUB_TOKEN" not in yaml.safe_dump(st)]
    assert with_secrets == ["Review the recorded decision"] and "secrets." not in yaml.safe_dump(job.get("env", {}))
    assert "github-actions[bot]" in text  # the comment found again by its author, not anyone's marker


def test_the_example_workflow_is_the_shipped_one() -> None:
    assert (ROOT / "examples" / "github-actions" / "modelsel-review.yml").read_text() == \
        (ROOT / ".github" / "workflows" / "modelsel-review.yml").read_text()


def test_the_workflows_pass_zizmor() -> None:
    """zizmor (static analysis for GitHub Actions, offline) at its default persona: no findings."""
    import shutil
    import subprocess
    import sys

    exe = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    if exe is None:
        pytest.skip("zizmor is not installed (the dev extra installs it)")
    res = subprocess.run([exe, "--offline", str(ROOT / ".github" / "workflows")], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No findings" in res.stdout + res.stderr
