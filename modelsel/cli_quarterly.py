"""The commands that look back: `report` (re-render, re-score), `review` (does the decision still
hold), `history` and `diff`. Registered on the app in cli.py; each parses its options and hands over."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from modelsel.shell import (
    ALLOW_HELP,
    ci_outputs,
    console,
    err_console,
    export,
    fail,
    retry_scale,
    warn,
)


def report(
    run_dir: Path = typer.Argument(..., help="A run folder written by `modelsel eval`."),
    format: str = typer.Option("html,md,json,csv", "--format", help="Comma-separated: html, md, json, csv."),
    rescore: bool = typer.Option(False, "--rescore", help="Score the recorded answers again, into a new run folder "
                                 "beside this one (this one is left as it is)."),
    requirements: Path | None = typer.Option(None, "--requirements", help="With --rescore: the scorers of this "
                                             "requirements file (default: the run's own copy in inputs/)."),
    out: Path | None = typer.Option(None, "--out", help="With --rescore: the new run folder (default: RUN-rescored-TIME)."),
    allow_path: list[Path] = typer.Option([], "--allow-path", help=ALLOW_HELP),
) -> None:
    """Re-render a run's reports without calling any model (or re-score them into a new run folder)."""
    from modelsel.errors import InputError
    from modelsel.report.rerender import rerender

    fmts = tuple(f.strip() for f in format.split(",") if f.strip())
    try:
        written = rerender(run_dir, fmts, rescore, requirements, out, tuple(allow_path))
    except InputError as exc:
        fail(exc)
    for p in written:
        console.print(f"wrote {p}")
    if rescore and written:
        _said_rescore(run_dir, written[0].parent)


def _said_rescore(before: Path, after: Path) -> None:
    """Whether re-scoring changed the decision, and which candidates changed status and why."""
    from rich.markup import escape

    from modelsel.quarterly.review import status_changes
    from modelsel.run.rundir import RunDir

    sa, sb = RunDir.open(before).summary(), RunDir.open(after).summary()
    a, b = (sa.decision.chosen, sa.decision.fallback), (sb.decision.chosen, sb.decision.fallback)
    if a == b:
        console.print(f"The decision did not change: {escape(str(b[0] or 'nothing chosen'))}"
                      + (f", fallback {escape(b[1])}." if b[1] else "."), highlight=False)
    else:
        console.print(f"The decision changed: {escape(str(a[0] or 'nothing chosen'))} → "
                      f"{escape(str(b[0] or 'nothing chosen'))} (fallback {escape(str(a[1] or 'none'))} → "
                      f"{escape(str(b[1] or 'none'))}).", highlight=False)
    for line in status_changes(sa, sb):
        console.print(escape(line), highlight=False, soft_wrap=True)


def review(
    requirements: Path = typer.Argument(..., help="The requirements file the decision was made with."),
    against: Path | None = typer.Option(None, "--against", help="Run folder of the recorded decision (default: newest)."),
    out: Path | None = typer.Option(None, "--out", help="Run folder for the re-run."),
    no_cache: bool = typer.Option(True, "--no-cache/--cache", help="Fresh calls (default) so drift is measured."),
    reports_root: Path = typer.Option(Path("reports"), "--reports", help="Where run folders go."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.01),
    allow_path: list[Path] = typer.Option([], "--allow-path", help=ALLOW_HELP),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML (a case per hard requirement per "
                                      "candidate, and 'decision holds')."),
    summary_md: Path | None = typer.Option(None, "--summary-md", help="Also write the short Markdown summary (before and "
                                           "after of the decision) to this file, e.g. for a pull-request comment."),
    traces: list[Path] = typer.Option([], "--traces", help="New production traces: draw a fresh sample the way the eval "
                                      "set was drawn and say whether production's inputs moved (repeatable)."),
    deployed: Path | None = typer.Option(None, "--deployed", help="The config production runs (from `modelsel deploy`): "
                                         "the review fails when it no longer says what was decided."),
) -> None:
    """Re-run the eval and say whether the recorded decision still holds (exit 0 holds, 1 not)."""
    drift = _deployed(requirements, against, reports_root, deployed) if deployed is not None else []
    from modelsel import pipeline
    from modelsel.errors import InputError
    from modelsel.session import run_review

    try:
        cfg = pipeline.run_config(pipeline.prepare(requirements, allow=tuple(allow_path), refuse_retired=False),
                                  timeout=timeout, retry_scale=retry_scale())
        code, summary, folder, result = run_review(requirements, against, out, reports_root, no_cache, cfg, console,
                                                   allow=tuple(allow_path), traces=tuple(traces))
    except InputError as exc:
        fail(exc)
    if summary is not None:
        ci_outputs(summary, folder, junit, [], result, summary_md)
    for f in drift:
        console.print(f"[red]✗[/red] deployed config {deployed}: {escape(f)}")
    raise typer.Exit(max(code, 1) if drift else code)


def _deployed(requirements: Path, against: Path | None, reports_root: Path, file: Path) -> list[str]:
    """The deployed config against the recorded decision, read before any call (a bad file is exit 2)."""
    from modelsel.errors import InputError
    from modelsel.report.deploy_check import findings
    from modelsel.run.rundir import newest_run_for

    try:
        base = against or newest_run_for(requirements, reports_root)
        if base is None:
            raise InputError("no recorded decision to hold the deployed config against; pass --against RUN.",
                             field="--deployed")
        return findings(base, file)
    except InputError as exc:
        fail(exc)
    return []


def deploy(
    run_dir: Path = typer.Argument(..., help="A run folder written by `modelsel eval` (the decision to ship)."),
    format: str = typer.Option("litellm", "--format", help="litellm (proxy config.yaml), openrouter (request body) "
                               "or env (plain variables)."),
    out: Path | None = typer.Option(None, "--out", help="Where to write it (default: in the run folder)."),
) -> None:
    """Write the decision as the configuration that runs it, and name the file in the record."""
    from modelsel.errors import InputError
    from modelsel.report.deploy import deploy as write

    try:
        path, sha = write(run_dir, format, out)
    except InputError as exc:
        fail(exc)
    console.print(f"wrote {path} (sha256 {sha}); decision.md and report.html name it")


def history(
    requirements: Path = typer.Argument(..., help="The requirements file whose decisions to list."),
    reports_root: Path = typer.Option(Path("reports"), "--reports", help="The reports folder holding the runs."),
    as_json: bool = typer.Option(False, "--json", help="A list of objects: run, date, chosen, quality, p95_ms, monthly_usd, ..."),
    since: str | None = typer.Option(None, "--since", help="Only runs on or after this date (YYYY-MM-DD)."),
    html_file: Path | None = typer.Option(None, "--html", help="Also write a page with the trend chart here."),
    mlflow_uri: str | None = typer.Option(None, "--mlflow", help="Log these runs to this MLflow tracking URI."),
) -> None:
    """The decisions made for one requirements file over time, oldest first, and what changed between them."""
    import json as _json
    from datetime import date as _date

    from modelsel.errors import InputError
    from modelsel.inputs.requirements import load_requirements
    from modelsel.inputs.textfile import atomic_write
    from modelsel.quarterly.history import History, indexed_rows
    from modelsel.report.history_page import page, print_history

    try:
        lr = load_requirements(requirements)
        if mlflow_uri:
            from modelsel.quarterly.mlflow_export import require_client

            require_client()  # before the table is printed
        if since is not None:
            try:
                _date.fromisoformat(since)
            except ValueError:
                raise InputError(f"--since takes a date like 2026-01-31, not '{since}'.", field="--since") from None
        store = History(reports_root)
    except InputError as exc:
        fail(exc)
    name = lr.req.name or lr.path.stem
    store.close()
    rows = indexed_rows(reports_root, name, since, warn)
    if as_json:
        print(_json.dumps([r.as_json() for r in rows], indent=1))
    else:
        print_history(console, name, rows)
    if html_file is not None:
        atomic_write(html_file, page(name, rows))
        err_console.print(f"wrote {html_file}")
    if mlflow_uri:
        try:
            export(lr, reports_root, mlflow_uri, since=since)
        except InputError as exc:
            fail(exc)


def diff(run_a: Path = typer.Argument(...), run_b: Path = typer.Argument(...)) -> None:
    """Side by side change per candidate between two runs, and the examples whose outcome flipped."""
    from modelsel.errors import InputError
    from modelsel.quarterly.review import diff_runs
    from modelsel.report.review_text import print_diff
    from modelsel.run.calls import Calls
    from modelsel.run.rundir import RunDir

    try:
        ra, rb = RunDir.open(run_a), RunDir.open(run_b)
        sa, sb = ra.summary(), rb.summary()
    except InputError as exc:
        fail(exc)
    d = diff_runs(sa, Calls.from_records(ra.records()).arrays(), sb, Calls.from_records(rb.records()).arrays(),
                  str(run_a), str(run_b))
    print_diff(console, d)
    from rich.markup import escape

    from modelsel.quarterly.review import status_changes

    for line in status_changes(sa, sb):
        console.print(escape(line), highlight=False, soft_wrap=True)


def trial(
    requirements: Path = typer.Argument(..., help="The requirements file the decision was made with."),
    traces: list[Path] = typer.Option(..., "--traces", help="Production traces of the trial (OTLP/JSON, Langfuse, "
                                      "MLflow; repeatable), both arms' calls."),
    feedback: list[Path] = typer.Option([], "--feedback", help="User ratings kept apart from the traces, by trace id "
                                        "(CSV or JSONL; repeatable)."),
    against: Path | None = typer.Option(None, "--against", help="Run folder of the decision (default: newest)."),
    reports_root: Path = typer.Option(Path("reports"), "--reports", help="The reports folder (the history lives there)."),
    out: Path | None = typer.Option(None, "--out", help="Folder for trial.md and trial.json (default: one per trial "
                                    "under --reports, rewritten at each look)."),
    challenger: str | None = typer.Option(None, "--challenger", help="The challenger's candidate id or model, or the "
                                          "tag / attribute value its requests carry (default: the eval's choice)."),
    incumbent: str | None = typer.Option(None, "--incumbent", help="The incumbent, named the same way (default: what "
                                         "production runs today)."),
    arm_by: str | None = typer.Option(None, "--arm-by", help="How the traces tell the arms apart: model, tag, or an "
                                      "attribute / metadata key (e.g. variant)."),
    margin: float | None = typer.Option(None, "--margin", help="How much worse the challenger may be on the primary "
                                        "signal (a rate: 0.02 = 2 points)."),
    primary: str | None = typer.Option(None, "--primary", help="thumbs_down (default), errors, latency or cost."),
) -> None:
    """Compare a live trial's arms on production's own signals, anytime-valid (exit 0 going well or running, 1 shown worse)."""
    from modelsel.errors import InputError
    from modelsel.inputs.requirements import load_requirements
    from modelsel.inputs.textfile import atomic_write
    from modelsel.quarterly import history
    from modelsel.quarterly.trial import folder_for, run_trial
    from modelsel.report.trial_text import markdown, print_trial
    from modelsel.run.rundir import RunDir, newest_run_for

    try:
        lr = load_requirements(requirements)
        base = against or newest_run_for(requirements, reports_root)
        if base is None:
            raise InputError(f"no recorded decision for these requirements under {reports_root}; run `modelsel eval` "
                             "first, or pass --against RUN_DIR.", path=requirements)
        base, _ = history.decision_runs(Path(base), reports_root)
        summary = RunDir.open(base).summary()
        rec = run_trial(lr, summary, base, list(traces), list(feedback),
                        {"challenger": challenger, "incumbent": incumbent, "arm_by": arm_by, "margin": margin,
                         "primary": primary})
    except InputError as exc:
        fail(exc)
    folder = out or folder_for(reports_root, rec)
    if folder.is_symlink() or (folder.is_dir() and any(folder.iterdir()) and not (folder / "trial.json").is_file()):
        fail(InputError("this folder is not a trial's (it holds other files, or is a link); name a new one.",
                        path=folder, field="--out"))
    atomic_write(folder / "trial.json", rec.model_dump_json(indent=1) + "\n")
    atomic_write(folder / "trial.md", markdown(rec))
    try:
        store = history.History(reports_root)
        try:
            store.add(history.row_from_trial(rec.model_dump(), folder.resolve()))
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - the history is a convenience; the record stands without it
        warn(f"the trial is not in the history ({type(exc).__name__}: {exc})")
    print_trial(console, rec, folder)
    raise typer.Exit(1 if rec.verdict == "worse" else 0)
