"""The comparison table and decision panel at the end of `modelsel eval`."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from modelsel.report.fmt import (
    HEADERS,
    consistency_rows,
    difference_sentence,
    resolution_text,
    results_rows,
)
from modelsel.schema import Summary

STYLE = {"CHOSEN": "bold green", "fallback": "green", "qualifies": "", "eliminated": "red", "not evaluated": "dim"}


def print_summary(console: Console, s: Summary, folder: str | None = None) -> None:
    name = s.requirements.get("name") or "LLM selection"
    t = Table(title=f"{escape(name)}: {s.run.n_examples} examples x {s.run.repeat} tries", header_style="bold")
    for k, h in HEADERS.items():
        t.add_column(h, justify="left" if k in ("candidate", "status") else "right", no_wrap=k == "candidate")
    for r in results_rows(s):
        t.add_row(*[escape(r[k]) for k in HEADERS], style=STYLE.get(r["status"], ""))
    console.print(t)
    for r in consistency_rows(s):
        console.print(f"{escape(r[0])}: right on all {s.run.repeat} tries {escape(r[2])}; at least once "
                      f"{escape(r[3])}; {escape(r[4])} examples flip", highlight=False)
    d = s.decision
    lines = []
    if d.partial_data:
        lines.append(f"[bold yellow]{escape(d.partial_data)}[/bold yellow]")
    if d.chosen:
        lines.append(f"[bold]Choose {escape(d.chosen)}[/bold]" + (f", fallback {escape(d.fallback)}" if d.fallback else ""))
        lines.append(f"Rule {escape(d.rule or '')} (equivalence policy: {d.policy})")
    else:
        lines.append("[bold red]No candidate meets the requirements.[/bold red]")
    lines += [f"• {escape(r)}" for r in d.reasons[:4]]
    if d.fallback_same_vendor and d.fallback_note:
        lines.append(f"• {escape(d.fallback_note)}")
    for m in d.nearest_misses[:3]:
        fx = [f"{f.requirement} {f.limit:g}→{f.move_limit_to:g}" for f in m.failed
              if f.move_limit_to is not None and f.limit is not None]
        lines.append(f"• nearest miss {escape(m.candidate)}: " + escape(", ".join(fx)))
    for cid, why in d.not_evaluated.items():
        lines.append(f"[dim]• {escape(cid)}: not evaluated ({escape(why)})[/dim]")
    if s.strategies.recommended:
        lines.append(f"Strategy: {escape(s.strategies.why)}")
    if s.run.prices is not None and s.run.prices.stale:
        lines.append(f"[yellow]Prices come from a genai-prices snapshot {s.run.prices.age_days} days old "
                     f"(as of {s.run.prices.as_of}): upgrade genai-prices or check current prices.[/yellow]")
    if s.run.prices is not None and s.run.prices.warning:
        lines.append(f"[yellow]{escape(s.run.prices.warning)}[/yellow]")
    lines.append(f"[dim]{escape(difference_sentence(s))} {escape(resolution_text(s))}[/dim]")
    if folder:
        lines.append(f"Decision record: {escape(folder)}/decision.md  (HTML: report.html)")
    console.print(Panel("\n".join(lines), title="Decision", border_style="green" if d.chosen else "red"))
