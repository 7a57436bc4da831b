"""Decisions across quarters: the history store, `modelsel history`, and the MLflow export."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, cli, gemini_cand, openai_cand, oracle, write_req

SCHEMA1 = ROOT / "tests" / "data" / "summary_schema1.json"


def _two_runs_with_a_price_change(fake, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    fake.script("a", answer=oracle)
    fake.script("b", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "a", pin=1.0, pout=2.0), gemini_cand(fake, "b", pin=3.0, pout=6.0)])
    assert cli("eval", req, "--out", tmp_path / "reports" / "q1").exit_code == 0
    doc = yaml.safe_load(req.read_text())
    doc["candidates"][1]["price"] = {"input_per_mtok": 0.1, "output_per_mtok": 0.2}  # 'b' got cheaper
    req.write_text(yaml.safe_dump(doc))
    assert cli("eval", req, "--out", tmp_path / "reports" / "q2").exit_code == 0
    return req


def test_two_runs_with_a_price_change_make_two_rows_with_the_flip_named(fake, keys, tmp_path: Path) -> None:
    req = _two_runs_with_a_price_change(fake, tmp_path)
    res = cli("history", req, "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["chosen"] for r in rows] == ["oa-a", "ge-b"]
    for key in ("run", "date", "chosen", "quality", "p95_ms", "monthly_usd"):
        assert key in rows[0]
    assert rows[0]["quality"] == 1.0 and rows[0]["monthly_usd"] is not None
    changes = " ".join(rows[1]["changes"])
    assert "decision changed: oa-a -> ge-b" in changes
    assert "price of ge-b moved: $3/$6 -> $0.1/$0.2 per Mtok" in changes
    assert "requirements edited" in changes and "eval set edited" not in changes
    table = " ".join(cli("history", req).output.split())
    assert "decision changed: oa-a -> ge-b" in table and "first run" in table


def test_history_indexes_run_folders_made_before_the_store_existed(fake, keys, tmp_path: Path) -> None:
    req = _two_runs_with_a_price_change(fake, tmp_path)
    (tmp_path / "reports" / ".cache" / "history.sqlite").unlink()
    old = tmp_path / "reports" / "q0"  # a run from modelsel 0.1 (summary schema 1), never in any store
    old.mkdir()
    s1 = json.loads(SCHEMA1.read_text())
    s1["requirements"]["name"] = "Ticket triage test"
    s1["run"]["finished_at"] = "2026-08-01T10:00:00+00:00"
    (old / "summary.json").write_text(json.dumps(s1))
    rows = json.loads(cli("history", req, "--json").output)
    assert len(rows) == 3
    assert rows[0]["chosen"] == "keyword-rules" and rows[0]["date"] == "2026-08-01"
    assert rows[0]["quality"] == pytest.approx(0.8125) and rows[0]["p95_ms"] is not None
    assert rows[1]["comparable"] is False  # a different eval set: a new trend, not joined to the old run


def test_a_corrupt_summary_is_skipped_with_a_warning(fake, keys, tmp_path: Path) -> None:
    req = _two_runs_with_a_price_change(fake, tmp_path)
    (tmp_path / "reports" / ".cache" / "history.sqlite").unlink()
    bad = tmp_path / "reports" / "broken"
    bad.mkdir()
    (bad / "summary.json").write_text("{not json")
    res = cli("history", req, "--json")
    assert res.exit_code == 0
    assert "broken/summary.json: skipped" in " ".join(res.output.split())
    assert len(json.loads(res.output[res.output.index("["):])) == 2


def test_a_store_from_a_newer_modelsel_is_not_rewritten(fake, keys, tmp_path: Path) -> None:
    req = _two_runs_with_a_price_change(fake, tmp_path)
    db = tmp_path / "reports" / ".cache" / "history.sqlite"
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    before = db.read_bytes()
    res = cli("history", req)
    assert res.exit_code == 2
    assert "schema 99, written by a newer modelsel" in " ".join(res.output.split())
    assert db.read_bytes() == before


def test_since_and_html(fake, keys, tmp_path: Path) -> None:
    req = _two_runs_with_a_price_change(fake, tmp_path)
    assert json.loads(cli("history", req, "--json", "--since", "2999-01-01").output) == []
    bad = cli("history", req, "--since", "last year")
    assert bad.exit_code == 2 and "--since takes a date" in bad.output
    out = tmp_path / "h.html"
    cli("history", req, "--html", out)
    page = out.read_text()
    assert "<svg" in page and "decision changed: oa-a -&gt; ge-b" in page and "<script" not in page


def test_review_adds_a_row_and_a_page_with_the_trend(fake, keys, tmp_path: Path) -> None:
    req = _two_runs_with_a_price_change(fake, tmp_path)
    res = cli("review", req, "--against", tmp_path / "reports" / "q2", "--out", tmp_path / "reports" / "q3")
    assert res.exit_code == 0, res.output
    rows = json.loads(cli("history", req, "--json").output)
    assert [r["kind"] for r in rows] == ["eval", "eval", "review"] and rows[-1]["holds"] is True
    assert "<svg" in (tmp_path / "reports" / "q3" / "review.html").read_text()


def test_mlflow_export_logs_each_run_once(fake, keys, tmp_path: Path) -> None:
    mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed (pip install 'modelsel[mlflow]')")
    req = _two_runs_with_a_price_change(fake, tmp_path)
    uri = f"sqlite:///{tmp_path / 'ml' / 'mlflow.db'}"
    (tmp_path / "ml").mkdir()
    res = cli("history", req, "--mlflow", uri)
    assert res.exit_code == 0, res.output
    assert "2 run(s) logged, 0 already there" in res.output
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["modelsel: Ticket triage test"])
    assert len(runs) == 2
    assert sorted(runs["tags.chosen"]) == ["ge-b", "oa-a"]
    for m in ("quality", "quality_lo", "quality_hi", "p50_ms", "p95_ms", "cost_per_request_usd", "monthly_usd", "error_rate"):
        assert f"metrics.oa-a.{m}" in runs.columns and f"metrics.chosen.{m}" in runs.columns
    assert set(runs["params.evalset_sha256"]) and set(runs["tags.modelsel_version"])
    run_id = runs["run_id"].iloc[0]
    arts = {a.path for a in mlflow.tracking.MlflowClient(uri).list_artifacts(run_id)}
    assert {"decision.md", "report.html", "summary.json"} <= arts
    again = cli("history", req, "--mlflow", uri)
    assert "0 run(s) logged, 2 already there" in again.output
    assert len(mlflow.search_runs(experiment_names=["modelsel: Ticket triage test"])) == 2
    assert not (tmp_path / "mlruns").exists()  # artifacts beside the database, not in the working folder


def test_eval_can_log_its_run_to_mlflow(fake, keys, tmp_path: Path) -> None:
    mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    fake.script("a", answer=oracle)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "a")]), "--out", tmp_path / "reports" / "r", "--mlflow", uri)
    assert res.exit_code == 0, res.output
    mlflow.set_tracking_uri(uri)
    assert len(mlflow.search_runs(experiment_names=["modelsel: Ticket triage test"])) == 1


def test_without_the_extra_the_error_names_it(fake, keys, tmp_path: Path, monkeypatch) -> None:
    import builtins

    req = _two_runs_with_a_price_change(fake, tmp_path)
    real = builtins.__import__

    def no_mlflow(name, *a, **k):  # type: ignore[no-untyped-def]
        if name.startswith("mlflow"):
            raise ImportError("no mlflow")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    res = cli("history", req, "--mlflow", "sqlite:///x.db")
    assert res.exit_code == 2 and "pip install 'modelsel[mlflow]'" in res.output
    shutil.rmtree(tmp_path / "reports", ignore_errors=True)
