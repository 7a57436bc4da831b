"""`modelsel import`: bring an eval written for another tool (promptfoo) or production's own traces
into modelsel's files. Registered on the app in cli.py; each command parses its options and hands over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from modelsel.shell import console, fail

import_app = typer.Typer(no_args_is_help=True, help="Bring an eval written for another tool into modelsel's files.")


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
    _written(imp, req, es, f"write the quality bar, budget, volume and compliance into {req}, then `modelsel check {req}`.")


@import_app.command("traces")
def import_traces(
    files: list[Path] = typer.Argument(..., help="Trace exports: OTLP/JSON (file exporter), Langfuse (JSON, JSONL, CSV), "
                                                 "MLflow 3 traces; the format is read from the content."),
    folder: Path = typer.Option(Path("."), "--out", "--dir", help="Project folder (requirements/ and evalsets/ go inside)."),
    name: str | None = typer.Option(None, "--name", help="Name of the files written (default: the first file's name)."),
    sample: int = typer.Option(100, "--sample", min=1, max=100_000, help="Examples to draw."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draw (the same seed and files give the same sample)."),
    since: str | None = typer.Option(None, "--since", help="Only calls started on or after this time (ISO 8601, UTC if no zone)."),
    until: str | None = typer.Option(None, "--until", help="Only calls started before this time."),
    where: list[str] = typer.Option([], "--where", help="Only calls whose attribute ATTR equals VALUE (ATTR=VALUE; "
                                                        "repeatable, all must hold; 'model' is the request model)."),
    include: list[str] = typer.Option([], "--include", help="Take every call with this tag into the sample, apart from the "
                                                            "proportional draw (e.g. feedback:negative); repeatable."),
    allocation: str = typer.Option("proportional", "--allocation", help="proportional (to the traffic) or equal (each "
                                                                        "stratum alike, rare routes covered)."),
    stratify_by: str | None = typer.Option(None, "--stratify-by", help="The attribute naming the route (default: the "
                                                                       "first of route, feature, gen_ai.agent.name, "
                                                                       "trace name ... most calls carry)."),
    keep_pii: bool = typer.Option(False, "--keep-pii", help="Do not redact e-mails, phone numbers, card numbers, IBANs, "
                                                            "SSNs and IP addresses (the requirements record that you "
                                                            "chose so); secrets are masked all the same."),
    phone_region: str = typer.Option("US", "--phone-region", help="Country whose national phone numbers to find "
                                                                  "(ISO 3166 code); international ones are found anyway."),
    expected_from_output: bool = typer.Option(False, "--expected-from-output", help="Production's answers become "
                                              "`expected`: quality is then agreement with production, not correctness."),
    feedback: list[Path] = typer.Option([], "--feedback", help="User ratings kept apart from the traces (CSV or JSONL: "
                                                               "trace_id, optional span_id, rating); repeatable."),
) -> None:
    """Write a requirements file and an eval set drawn from production traces; what runs today becomes a candidate."""
    from modelsel.errors import InputError
    from modelsel.importers.traces import convert
    from modelsel.importers.traces.sample import Options, parse_time
    from modelsel.inputs.names import file_slug

    try:
        opts = Options(sample=sample, seed=seed, since=parse_time(since, "--since"), until=parse_time(until, "--until"),
                       where=[_attr_eq(w) for w in where], include=include, allocation=_allocation(allocation),
                       route=stratify_by)
        imp = convert.convert(files, opts, keep_pii=keep_pii, expected_from_output=expected_from_output,
                              phone_region=phone_region, feedback=feedback)
        slug = file_slug(name or files[0].name.split(".")[0], "traces")
        req, es = convert.write(imp, folder, slug, files)
    except InputError as exc:
        fail(exc)
    _written(imp, req, es, f"`modelsel check {req}` shows how the sample compares with the traffic; write the quality "
                           "bar, budget and compliance, then `modelsel eval`.")


def _written(imp: Any, req: Path, es: Path, then: str) -> None:
    """What an import wrote, what carried over, what did not (TODO), and what to do next."""
    console.print(f"Wrote {escape(str(req))} ({len(imp.requirements['candidates'])} candidates) and "
                  f"{escape(str(es))} ({len(imp.examples)} examples).", highlight=False)
    for m in imp.mapped:
        console.print(f" [green]✓[/green] {escape(m)}", highlight=False)
    for t in imp.todos:
        console.print(f" [yellow]TODO[/yellow] {escape(t)}", highlight=False)
    console.print(f"Next: {escape(then)}", highlight=False)


def _attr_eq(w: str) -> tuple[str, str]:
    from modelsel.errors import InputError

    k, eq, v = w.partition("=")
    if not eq or not k.strip():
        raise InputError(f"'{w}' is not ATTR=VALUE (e.g. --where service.name=support-bot).", field="--where")
    return k.strip(), v.strip()


def _allocation(a: str) -> str:
    from modelsel.errors import InputError

    if a not in ("proportional", "equal"):
        raise InputError(f"'{a}' is not an allocation: proportional or equal.", field="--allocation")
    return a
