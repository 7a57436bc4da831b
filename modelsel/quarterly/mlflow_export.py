"""Send the history of one requirements file's runs to MLflow, where teams keep experiments.

One MLflow run per modelsel run, in an experiment named after the requirements; parameters,
per-candidate metrics, tags, and the run's decision.md, report.html and summary.json as
artifacts. A run already exported (found by its `modelsel.run_id` tag) is not added again.
A local `sqlite:///...` tracking URI needs no server; an `http://...` URI talks to `mlflow server`.
The client comes from the `mlflow` extra (mlflow-skinny with SQLAlchemy for the SQL store).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from modelsel.errors import InputError
from modelsel.quarterly.history import RunRow, indexed_rows

METRICS = ("quality", "quality_lo", "quality_hi", "p50_ms", "p95_ms", "cost_per_request_usd", "monthly_usd", "error_rate")
ARTIFACTS = ("decision.md", "report.html", "summary.json", "review.md", "review.json")


def require_client() -> None:
    """Bad input before anything is printed or run when the MLflow client is not installed."""
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:
        raise InputError("exporting to MLflow needs the MLflow client: pip install 'modelsel[mlflow]'.",
                         field="--mlflow")


def _client(uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise InputError("exporting to MLflow needs the MLflow client: pip install 'modelsel[mlflow]'.",
                         field="--mlflow") from None
    return MlflowClient(tracking_uri=uri)


def _key(text: str) -> str:
    """MLflow names allow letters, digits, _ - . / and spaces."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", text)


def _ms(ts: str | None) -> int | None:
    if not ts:
        return None
    try:
        return int(datetime.fromisoformat(ts).timestamp() * 1000)
    except ValueError:
        return None


def _experiment(client: Any, uri: str, name: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    if uri.startswith("sqlite:///"):  # keep artifacts beside the database, not in whatever folder we run from
        location = (Path(uri[len("sqlite:///"):]).resolve().parent / "mlartifacts").as_uri()
    return client.create_experiment(name, artifact_location=location)


def export(rows: list[RunRow], uri: str, name: str, policy: dict[str, Any] | None = None) -> tuple[int, int]:
    """(runs added, runs already there)."""
    client = _client(uri)
    from mlflow.entities import Metric, Param, RunTag

    exp_id = _experiment(client, uri, f"modelsel: {name}")
    added = skipped = 0
    for r in rows:
        found = client.search_runs([exp_id], filter_string=f"tags.`modelsel.run_id` = '{r.run_id}'", max_results=1)
        if found:
            skipped += 1
            continue
        start = _ms(r.started_at) or _ms(r.finished_at)
        run = client.create_run(exp_id, start_time=start, run_name=f"{r.date} {r.kind}: {r.chosen or 'no choice'}",
                                tags={"modelsel.run_id": r.run_id})
        rid = run.info.run_id
        params = {"requirements_sha256": r.requirements_sha256 or "", "evalset_sha256": r.evalset_sha256 or "",
                  "candidates": ", ".join(r.candidates)[:500], "n_examples": str(r.n_examples or ""),
                  **{f"decision.{k}": str(v)[:500] for k, v in (policy or {}).items()}}
        tags = {"chosen": r.chosen or "", "rule": r.rule or "", "fallback": r.fallback or "",
                "modelsel_version": r.modelsel_version or "", "kind": r.kind, "folder": r.folder}
        if r.holds is not None:
            tags["decision_holds"] = str(r.holds)
        ts = _ms(r.finished_at) or start or 0
        metrics = [Metric(_key(f"{cid}.{m}"), float(getattr(c, m)), ts, 0)
                   for cid, c in r.candidates.items() for m in METRICS if getattr(c, m) is not None]
        chosen = r.chosen_row()
        if chosen is not None:
            metrics += [Metric(f"chosen.{m}", float(getattr(chosen, m)), ts, 0) for m in METRICS
                        if getattr(chosen, m) is not None]
        client.log_batch(rid, metrics=metrics, params=[Param(k, v) for k, v in params.items()],
                         tags=[RunTag(k, v) for k, v in tags.items()])
        for art in ARTIFACTS:
            p = Path(r.folder) / art
            if p.exists():
                client.log_artifact(rid, str(p))
        client.set_terminated(rid, end_time=_ms(r.finished_at))
        added += 1
    return added, skipped


def export_history(lr: Any, reports_root: Path, uri: str, warn: Callable[[str], None], only: str | None = None,
                   since: str | None = None) -> tuple[int, int]:
    """The recorded decisions of one requirements file to MLflow: (runs logged, already there)."""
    name = lr.req.name or lr.path.stem
    rows = [r for r in indexed_rows(reports_root, name, since, warn) if only is None or r.folder == only]
    policy = {"equivalence": lr.req.decision.equivalence, "small_difference": lr.req.decision.small_difference,
              "priority": ",".join(lr.req.decision.priority)}
    return export(rows, uri, name, policy)
