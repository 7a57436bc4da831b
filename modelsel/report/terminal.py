"""The comparison table and decision panel at the end of `modelsel eval`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from modelsel.report.fmt import HEADERS, resolution_text, results_rows

STYLE = {"CHOSEN": "bold green", "fallback": "green", "qualifies": "", "eliminated": "red", "not evaluated": "dim"}


def print_summary(console: Console, s: dict[str, Any], folder: str | None = None) -> None:
    name = s["requirements"].get("name") or "LLM selection"
    t = Table(title=f"{escape(name)}: {s['run']['n_examples']} examples x {s['run']['repeat']}", header_style="bold")
    for k, h in HEADERS.items():
        t.add_column(h, justify="left" if k in ("candidate", "status") else "right", no_wrap=k == "candidate")
    for r in results_rows(s):
        t.add_row(*[escape(r[k]) for k in HEADERS], style=STYLE.get(r["status"], ""))
    console.print(t)
    d = s["decision"]
    lines = []
    if d["chosen"]:
        lines.append(f"[bold]Choose {escape(d['chosen'])}[/bold]" + (f", fallback {escape(d['fallback'])}" if d["fallback"] else ""))
        lines.append(f"Rule {escape(d['rule'])}")
    else:
        lines.append("[bold red]No candidate meets the requirements.[/bold red]")
    lines += [f"• {escape(r)}" for r in d["reasons"][:4]]
    for m in d.get("nearest_misses", [])[:3]:
        fx = [f"{f['requirement']} {f['limit']:g}→{f['move_limit_to']:g}" for f in m["failed"] if f["move_limit_to"] is not None]
        lines.append(f"• nearest miss {escape(m['candidate'])}: " + escape(", ".join(fx)))
    for cid, why in d["not_evaluated"].items():
        lines.append(f"[dim]• {escape(cid)}: not evaluated ({escape(why)})[/dim]")
    st = s.get("strategies") or {}
    if st.get("recommended"):
        lines.append(f"Strategy: {escape(st['why'])}")
    lines.append(f"[dim]{resolution_text(s['resolution'])}[/dim]")
    if folder:
        lines.append(f"Decision record: {escape(folder)}/decision.md  (HTML: report.html)")
    console.print(Panel("\n".join(lines), title="Decision", border_style="green" if d["chosen"] else "red"))
