"""The command line's shared plumbing: the consoles, how bad input ends a command (exit 2), loading
and screening a requirements file, and the outputs every run command may write (CI files, MLflow)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.markup import escape

from modelsel.report.console import SafeConsole as Console

console = Console()
if not console.is_terminal:  # piped or in CI: wide enough that the comparison table stays readable
    console = Console(width=160)
err_console = Console(stderr=True)
ALLOW_HELP = "Also accept files from this folder (the requirements file's folder tree is the default); repeatable."


def fail(exc: Exception) -> None:
    from modelsel.redaction import redact

    # escaped: a message naming an extra ("pip install 'modelsel[mlflow]'") must not lose it as markup
    err_console.print(f"[bold red]error:[/bold red] {escape(redact(str(exc)))}", highlight=False, markup=True,
                      soft_wrap=True)
    raise typer.Exit(2)


def retry_scale() -> float:
    raw = os.environ.get("MODELSEL_RETRY_SCALE", "1")
    try:
        return float(raw)
    except ValueError:
        return 1.0


def ci_outputs(summary, folder: Path, junit: Path | None, changed: list[str], review=None,  # type: ignore[no-untyped-def]
                summary_md: Path | None = None) -> None:
    from modelsel.report.ci import write_outputs

    for f in write_outputs(summary, folder, junit, changed, review, summary_md):
        err_console.print(f"wrote {f}", highlight=False)


def export(lr, reports_root: Path, uri: str, only: str | None = None, since: str | None = None) -> None:  # type: ignore[no-untyped-def]
    from modelsel.quarterly.mlflow_export import export_history

    added, skipped = export_history(lr, reports_root, uri, warn, only, since)
    err_console.print(f"MLflow ({uri}): {added} run(s) logged, {skipped} already there.", highlight=False)


def warn(w: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False)


def require_mlflow() -> None:
    """The MLflow client is there before the run is paid for, not after."""
    from modelsel.errors import InputError

    try:
        from modelsel.quarterly.mlflow_export import require_client

        require_client()
    except InputError as exc:
        fail(exc)


def load(requirements: Path, allow: list[Path] | None = None, load_code: bool = True,  # type: ignore[no-untyped-def]
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
