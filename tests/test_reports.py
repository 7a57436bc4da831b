"""Reports: everything a model wrote is escaped; any run re-renders without calling a model;
large runs stay a reasonable size."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from modelsel.report import write_reports
from modelsel.run.records import Record
from tests.conftest import anthropic_cand, cli, openai_cand, oracle, run_dir, write_req, wrong_on

HOSTILE = ("</td></tr></table><script>document.title='pwned'</script>"
           "<img src=x onerror=\"document.title='pwned'\"> | a | b | **bold** ` `<!-- =cmd|' /C calc'!A0")


def hostile_run(fake, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    fake.script("evil", answer=lambda p: HOSTILE if "charged" in p else oracle(p))
    fake.script("good", answer=oracle)
    out = tmp_path / "run"
    cli("eval", write_req(tmp_path, [openai_cand(fake, "evil"), anthropic_cand(fake, "good")]), "--out", out)
    return out


def test_markdown_escapes_model_output(fake, keys, tmp_path: Path) -> None:
    out = hostile_run(fake, tmp_path)
    md = (out / "decision.md").read_text()
    assert "<script" not in md and "<img" not in md and "</td>" not in md
    # Every row of a table has as many cells as its header.
    tables = re.findall(r"((?:^\|.*\n)+)", md, re.M)
    for t in tables:
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in t.strip().splitlines()}
        assert len(widths) == 1, t
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;" in md  # shown as text in "where it went wrong"


def test_html_is_self_contained_and_model_output_cannot_inject(fake, keys, tmp_path: Path) -> None:
    out = hostile_run(fake, tmp_path)
    html = (out / "report.html").read_text()
    assert html.count("<script") == 2  # the drill-down data and our own script; nothing from a model
    assert "document.title='pwned'" not in html.replace("\\u0027", "'").split('id="drill-data">')[0]
    data = html.split('<script type="application/json" id="drill-data">')[1].split("</script>")[0]
    assert "<" not in data and ">" not in data  # cannot close the script tag
    payload = json.loads(data)
    outputs = [a["o"] for r in payload["rows"] for a in r["a"] if a]
    assert HOSTILE in outputs  # kept verbatim as data, rendered with textContent
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html)
    assert "@import" not in html and "url(http" not in html
    assert "<svg" in html and "Cost vs quality" in html


def test_csv_export_quotes_formula_cells(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=lambda p: "=HYPERLINK(\"http://x\")" if "charged" in p else oracle(p))
    cli("eval", write_req(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "run")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "run" / "records.csv").read_text())))
    assert len(rows) == 12
    bad = next(r for r in rows if r["example_id"] == "e1")
    assert bad["output"].startswith("'=")
    assert {"candidate", "latency_ms", "cost_usd", "score", "reason", "cached"} <= set(rows[0])


def test_report_rerenders_each_format_without_calling_a_model(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    cli("eval", write_req(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "run")
    calls = len(fake.requests_for("m"))
    for name in ("decision.md", "report.html", "records.csv"):
        (tmp_path / "run" / name).unlink()
    res = cli("report", tmp_path / "run", "--format", "md,csv")
    assert res.exit_code == 0
    assert (tmp_path / "run" / "decision.md").exists() and (tmp_path / "run" / "records.csv").exists()
    assert not (tmp_path / "run" / "report.html").exists()
    cli("report", tmp_path / "run")
    assert (tmp_path / "run" / "report.html").exists()
    assert len(fake.requests_for("m")) == calls
    bad = cli("report", tmp_path / "run", "--format", "pdf")
    assert bad.exit_code == 2 and "unknown format 'pdf'" in bad.output
    missing = cli("report", tmp_path / "nowhere")
    assert missing.exit_code == 2 and "not a folder" in missing.output


def test_summary_json_contract(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, latency_ms=5)
    cli("eval", write_req(tmp_path, [openai_cand(fake, "m"), "anthropic/claude-haiku-4-5"],
                          compliance={"require_no_training": True, "allowed_regions": ["eu"]}), "--out", tmp_path / "run")
    s, _ = run_dir(tmp_path / "run")
    assert s["schema_version"] == 2
    from modelsel.schema import Summary

    Summary.model_validate(s)  # the file is exactly the typed schema
    c = s["candidates"]["oa-m"]
    assert c["status"] == "eliminated"  # facts say region us only
    assert isinstance(c["reasons"], list) and "compliance: processes data in us" in c["reasons"][0]
    for key in ("n", "errors"):
        assert key in c
    for block, key in (("quality", "mean"), ("latency", "p50"), ("latency", "p95"), ("cost", "per_request_usd"), ("cost", "monthly_usd")):
        assert key in c[block]
    assert {"chosen", "fallback"} <= set(s["decision"])
    h = s["candidates"]["anthropic/claude-haiku-4-5"]
    assert h["status"] == "eliminated" and "processes data in us, not in the allowed regions eu" in h["reasons"][0]
    assert h["price"]["source"].startswith("genai-prices")


def test_large_run_html_stays_reasonable(tmp_path: Path) -> None:
    """1,000 examples x 10 candidates: the drill-down is data paged by the browser, not 10,000 table rows."""
    from modelsel.analysis.decision import Screening, decide
    from modelsel.analysis.metrics import compute
    from modelsel.inputs.requirements import Requirements
    from modelsel.run.calls import Calls
    from modelsel.run.rundir import RunDir
    from modelsel.schema import CandidateEntry, RunInfo, Summary

    req = Requirements.model_validate({"task": "t", "evalset": "x", "candidates": [{"catalog": "x"}],
                                       "quality": {"min_score": 0.5}, "cost": {"monthly_requests": 1000}})
    recs = [Record(candidate=f"c{c}", example_id=f"e{i}", tags=["simple" if i % 2 else "complex"], input=f"ticket {i} " * 8,
                   expected="billing", output="billing" if (i * c) % 7 else "other", score=1.0 if (i * c) % 7 else 0.0,
                   passed=bool((i * c) % 7), latency_ms=100 + (i % 50) * c, cost_usd=0.0001 * c)
            for c in range(10) for i in range(1000)]
    arr = Calls.from_records(recs).arrays()
    figs, comps, res = compute(arr, req)
    d, _ = decide([], figs, comps, req, Screening())
    summary = Summary(modelsel_version="t", requirements=req.model_dump(mode="json"),
                      run=RunInfo(started_at="x", finished_at="2026-11-22T00:00:00", requirements="r", evalset="x",
                                  n_examples=1000),
                      candidates={cid: CandidateEntry(provider="openai", vendor="v", model=cid, **f.model_dump())
                                  for cid, f in figs.items()},
                      comparisons=comps[:5], resolution=res, decision=d)
    rd = RunDir.create(tmp_path / "run", tmp_path, "x")
    rd.write_records(recs)
    write_reports(rd, summary, arr, ("html", "md"))
    html = (tmp_path / "run" / "report.html").read_text()
    assert len(html) < 3_000_000
    assert html.count("<tr") < 200  # per-example rows are built page by page in the browser


def test_markdown_cell_escaping() -> None:
    from modelsel.report.markdown import esc

    assert esc("a | b") == "a \\| b"
    assert esc("<b>x</b>\nnext") == "&lt;b&gt;x&lt;/b&gt; next"
    assert esc("**bold** `code` [link](x)") == "\\*\\*bold\\*\\* \\`code\\` \\[link\\](x)"
    assert esc("x" * 100, 10) == "x" * 9 + "…"


def test_charts_show_what_the_data_can_tell_apart(fake, keys, tmp_path: Path) -> None:
    """Two survivors: the paired-difference chart with the ±small band and one sentence in words;
    a cost axis on a log scale; the header names the eval set as the requirements file does."""
    fake.script("a", answer=oracle)
    fake.script("b", answer=wrong_on({"e1"}))
    req = write_req(tmp_path, [openai_cand(fake, "a", pin=2.0, pout=4.0), anthropic_cand(fake, "b", pin=0.5, pout=1.0)])
    cli("eval", req, "--out", tmp_path / "run")
    html = (tmp_path / "run" / "report.html").read_text()
    assert 'id="chart-diff"' in html and "±5 points (small difference)" in html
    assert "are not shown to differ from" in html or "is not shown to differ from" in html
    assert "gaps up to" in html and "points are not ruled out" in html
    assert "(log scale)" in html
    assert "eval set tickets.jsonl (relative to the requirements file)" in html
    assert str(tmp_path) not in html.split("<main>")[1].split("</div>")[0]  # no absolute path in the header


def test_when_every_candidate_is_free_quality_is_plotted_against_latency(tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("def a(text):\n    return 'billing'\n\ndef b(text):\n    return 'other'\n")
    req = write_req(tmp_path, [{"id": "rules-a", "provider": "python", "model": "rules:a"},
                               {"id": "rules-b", "provider": "python", "model": "rules:b"}], quality={"min_score": 0.0})
    cli("eval", req, "--out", tmp_path / "run")
    html = (tmp_path / "run" / "report.html").read_text()
    assert "every candidate is free, so quality is shown against latency" in html


def test_two_endpoints_on_one_host_are_one_provider_for_the_fallback(fake, keys, tmp_path: Path) -> None:
    """Custom endpoints are told apart by host, not by URL: an OpenAI-style '/v1' path and an
    Anthropic-style root on one server go down together, so the record must not claim the fallback
    'covers an outage' of the choice, and costs carry their intervals."""
    out = hostile_run(fake, tmp_path)
    s, _ = run_dir(out)
    d = s["decision"]
    assert d["fallback"] and d["fallback_same_vendor"]
    assert "runs on this machine, like" in d["fallback_note"] and "covers an outage" not in d["fallback_note"]
    assert "account suspension" not in d["fallback_note"]  # no provider account on this machine
    md = (out / "decision.md").read_text()
    assert "Cost/request [95% CI]" in md and "Monthly [95% CI]" in md
