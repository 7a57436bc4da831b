"""The command line. Thin: it parses options, calls the pipeline, and maps errors to exit codes
(0 decided / review holds, 1 gate failed, 2 bad input, 130 interrupted)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Choose an LLM with a measured, documented, repeatable decision.")
console = Console()
if not console.is_terminal:  # piped or in CI: wide enough that the comparison table stays readable
    console = Console(width=160)
err_console = Console(stderr=True)


def fail(exc: Exception) -> None:
    from modelsel.secrets import redact

    err_console.print(f"[bold red]error:[/bold red] {redact(str(exc))}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(2)


def _retry_scale() -> float:
    raw = os.environ.get("MODELSEL_RETRY_SCALE", "1")
    try:
        return float(raw)
    except ValueError:
        return 1.0


@app.command()
def eval(
    requirements: Path = typer.Argument(..., help="The requirements file (YAML)."),
    out: Path | None = typer.Option(None, "--out", help="Run folder to write (default: reports/<name>-<time>)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Make fresh calls instead of reusing cached answers."),
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, max=256, help="Calls in flight per provider."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Estimate calls, tokens and cost; call nothing."),
    repeat: int = typer.Option(1, "--repeat", min=1, max=20, help="Ask each example K times."),
    max_cost: float | None = typer.Option(None, "--max-cost", min=0, help="Stop spending at this many USD."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.01, help="Seconds per call before it counts as timed out."),
    reports_root: Path = typer.Option(Path("reports"), "--reports", help="Where run folders go."),
) -> None:
    """Run the eval set across the shortlist, score, measure, decide and write the decision record."""
    from modelsel import pipeline
    from modelsel.errors import InputError
    from modelsel.runner import RetryPolicy, RunConfig

    try:
        inp = pipeline.prepare(requirements)
        scr = pipeline.screen(inp)
    except InputError as exc:
        fail(exc)
    cfg = RunConfig(repeat=repeat, concurrency=concurrency, timeout_s=timeout, max_cost_usd=max_cost,
                    retry=RetryPolicy(scale=_retry_scale()))
    if dry_run:
        _print_dry_run(inp, scr, cfg)
        return
    from modelsel.session import run_session

    _folder, _summary, code = run_session(inp, scr, cfg, out, reports_root, no_cache, console, err_console)
    raise typer.Exit(code)


def _print_dry_run(inp, scr, cfg) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from modelsel.runner import dry_run_estimate

    rows = dry_run_estimate(scr.runnable, inp.evalset.examples, cfg.repeat,
                            {cid: p.defaults for cid, p in scr.providers.items()})
    t = Table(title="Dry run: estimated before any call (about 4 characters a token; output at max_tokens)")
    for h in ("Candidate", "Calls", "Input tokens", "Output tokens (max)", "Cost (max)"):
        t.add_column(h, justify="right" if h != "Candidate" else "left")
    for r in rows:
        t.add_row(r["candidate"], str(r["calls"]), f"{r['input_tokens']:,}", f"{r['output_tokens_max']:,}", f"${r['cost_usd_max']:.4f}")
    t.add_row("total", str(sum(r["calls"] for r in rows)), "", "", f"${sum(r['cost_usd_max'] for r in rows):.4f}", style="bold")
    console.print(t)
    for cid, why in {**scr.not_evaluated, **{k: "; ".join(v) for k, v in scr.compliance_out.items()}}.items():
        console.print(f"[dim]{cid}: not run ({why})[/dim]")


@app.command()
def check(
    requirements: Path = typer.Argument(..., help="The requirements file (YAML)."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when a checklist item is open (for CI)."),
) -> None:
    """Validate a requirements file and lint it against the selection checklist."""
    from modelsel import pipeline
    from modelsel.errors import InputError
    from modelsel.requirements import checklist

    try:
        inp = pipeline.prepare(requirements)
        scr = pipeline.screen(inp)
    except InputError as exc:
        fail(exc)
    items = checklist(inp.lr, len(inp.evalset.examples), inp.evalset.tags)
    console.print(f"[green]{requirements}[/green]: valid; {len(inp.candidates)} candidates, "
                  f"{len(inp.evalset.examples)} examples.")
    for item, done, detail in items:
        mark = "[green]✓[/green]" if done else "[yellow]✗[/yellow]"
        console.print(f" {mark} {item}: {detail}", highlight=False)
    for cid, reasons in scr.compliance_out.items():
        console.print(f" [red]eliminated before any call[/red] {cid}: " + "; ".join(reasons), highlight=False)
    for cid, risks in scr.compliance_risks.items():
        console.print(f" [yellow]risk[/yellow] {cid}: " + "; ".join(risks), highlight=False)
    for cid, why in scr.not_evaluated.items():
        console.print(f" [dim]not evaluable here[/dim] {cid}: {why}", highlight=False)
    missing = [i for i, d, _ in items if not d]
    if missing:
        console.print(f"[yellow]{len(missing)} checklist item(s) open.[/yellow]")
        if strict:
            raise typer.Exit(1)


@app.command()
def models(
    provider: str | None = typer.Option(None, "--provider", help="Only this provider."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the model catalog: prices, context, compliance facts and their sources."""
    import json

    from rich.table import Table

    from modelsel.catalog import load_catalog

    cat = load_catalog()
    rows = [m for m in cat.values() if provider is None or m.provider == provider]
    if as_json:
        console.print_json(json.dumps([m.model_dump() for m in rows]))
        return
    t = Table(title="modelsel catalog (prices per million tokens)")
    for h in ("id", "api", "input $", "output $", "context", "open", "regions", "trains", "BAA", "retention", "price source"):
        t.add_column(h)
    for m in rows:
        f = m.facts
        t.add_row(m.id, m.api, f"{m.input_per_mtok:g}" if m.input_per_mtok is not None else "?",
                  f"{m.output_per_mtok:g}" if m.output_per_mtok is not None else "?",
                  f"{f['context_window'].value:,}", "yes" if f["open_weights"].value else "no",
                  ",".join(f["regions"].value or ["?"]), str(f["trains_on_data"].value), str(f["baa_available"].value),
                  str(f["retention_days"].value), m.price_source + (f" ({m.price_as_of})" if m.price_as_of else ""))
    console.print(t)


@app.command()
def init(
    name: str = typer.Argument(..., help="Name for the new requirements file, e.g. 'ticket-triage'."),
    folder: Path = typer.Option(Path("."), "--dir", help="Project folder (requirements/ and evalsets/ go inside)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
) -> None:
    """Write a commented requirements template and a starter eval set."""
    from modelsel.templates import write_starter

    try:
        req, es = write_starter(name, folder, force)
    except FileExistsError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc} exists; pass --force to overwrite.")
        raise typer.Exit(2) from None
    console.print(f"Wrote {req} and {es}.\nNext: edit them, then `modelsel check {req}` and `modelsel eval {req}`.")


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A run folder written by `modelsel eval`."),
    format: str = typer.Option("html,md,json,csv", "--format", help="Comma-separated: html, md, json, csv."),
    rescore: bool = typer.Option(False, "--rescore", help="Re-score the recorded answers with the run's scorers."),
) -> None:
    """Re-render a run's reports without calling any model (optionally re-scoring)."""
    from modelsel.errors import InputError
    from modelsel.rerender import rerender

    fmts = tuple(f.strip() for f in format.split(",") if f.strip())
    try:
        written = rerender(run_dir, fmts, rescore)
    except InputError as exc:
        fail(exc)
    for p in written:
        console.print(f"wrote {p}")


@app.command()
def review(
    requirements: Path = typer.Argument(..., help="The requirements file the decision was made with."),
    against: Path | None = typer.Option(None, "--against", help="Run folder of the recorded decision (default: newest)."),
    out: Path | None = typer.Option(None, "--out", help="Run folder for the re-run."),
    no_cache: bool = typer.Option(True, "--no-cache/--cache", help="Fresh calls (default) so drift is measured."),
    reports_root: Path = typer.Option(Path("reports"), "--reports", help="Where run folders go."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.01),
) -> None:
    """Re-run the eval and say whether the recorded decision still holds (exit 0 holds, 1 not)."""
    from modelsel.errors import InputError
    from modelsel.review import run_review

    try:
        code = run_review(requirements, against, out, reports_root, no_cache, timeout, console, _retry_scale())
    except InputError as exc:
        fail(exc)
    raise typer.Exit(code)


@app.command()
def diff(run_a: Path = typer.Argument(...), run_b: Path = typer.Argument(...)) -> None:
    """Side by side change per candidate between two runs, and the examples whose outcome flipped."""
    from modelsel.errors import InputError
    from modelsel.review import diff_runs, print_diff

    try:
        d = diff_runs(run_a, run_b)
    except InputError as exc:
        fail(exc)
    print_diff(console, d)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("[yellow]Interrupted.[/yellow]")
        sys.exit(130)
