"""The demo end to end on the real embedded model: llama.cpp running Gemma 3 270M from PyPI.
Slow (about a minute on 2 cores); deselect with -m 'not local_model'. CI runs it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli, run_dir

pytestmark = pytest.mark.local_model


def test_demo_end_to_end_on_gemma(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="the local extra is not installed (pip install 'modelsel[local]')")
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    shutil.copytree(ROOT / "evalsets", tmp_path / "evalsets")
    res = cli("eval", tmp_path / "requirements" / "demo.yaml", "--out", tmp_path / "run", "--reports", tmp_path / "reports")
    assert res.exit_code == 0, res.output
    s, recs = run_dir(tmp_path / "run")
    assert s["decision"]["chosen"] is not None
    c = s["candidates"]
    for cid in ("gemma-270m-fewshot", "gemma-270m-zeroshot", "keyword-rules"):
        assert c[cid]["n"] == 64 and c[cid]["errors"] == 0
    gemma = [r for r in recs if r["candidate"] == "gemma-270m-fewshot"]
    assert all(r["input_tokens"] > 100 and r["output_tokens"] >= 1 and r["ttft_ms"] is not None for r in gemma)
    assert 0.3 < c["gemma-270m-fewshot"]["quality"]["mean"] < 0.95  # a real, imperfect small model
    assert c["gemma-270m-fewshot"]["quality"]["mean"] > c["gemma-270m-zeroshot"]["quality"]["mean"]
    assert c["openai/gpt-6.1-terra"]["status"] == "not_evaluated"
    assert c["openai/gpt-6.1-terra"]["reasons"] == ["not evaluated: no API key (set OPENAI_API_KEY)"]
    assert c["google/gemini-3.5-flash-lite"]["status"] == "eliminated"  # 55-day retention vs 30 allowed
    md = (tmp_path / "run" / "decision.md").read_text()
    # two shortlisted models had no key: the record says provisional, and says it first
    assert "Status: **Provisional**" in md and "## Selection checklist" in md
    opening = md.split("## In one minute")[1].split("- Status:")[0]
    assert f"**Chosen: {s['decision']['chosen']}**" in opening and "Not tested: openai/gpt-6.1-terra" in opening
    assert "a month all in at 120,000 requests" in opening  # the failed answers' cost, from failure_minutes
    assert "## Appendix: the statistics" in md and "p=0.000" not in md
    assert "Support ticket triage" in res.output and "Decision" in res.output
