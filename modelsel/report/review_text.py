"""Rendering of `modelsel review` (review.md and the terminal) and of `modelsel diff`."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelsel.numbers import p_text
from modelsel.quarterly.history import History
from modelsel.quarterly.review import Diff, ReviewResult
from modelsel.report.history_page import page
from modelsel.report.markdown import esc
from modelsel.schema import Summary


def review_markdown(r: ReviewResult) -> str:
    lines = [f"# Review: the decision {'still holds' if r.holds else 'NO LONGER HOLDS'}\n",
             f"- Recorded decision: **{esc(r.chosen_before)}** (run `{esc(r.against)}`)",
             f"- Now chosen: **{esc(r.chosen_now)}** (run `{esc(r.run)}`)\n"]
    for x in r.findings:
        lines.append(f"- [{'x' if x.holds else ' '}] {esc(x.kind)}: {esc(x.text)}")
    return "\n".join(lines) + "\n"


def review_page(r: ReviewResult, summary: Summary, reports_root: Path) -> str:
    """review.html: the findings and the history of this requirements file's decisions."""
    import html as h

    store = History(reports_root)
    try:
        name = summary.requirements.get("name") or Path(summary.run.requirements).stem
        rows = store.rows(name)
    finally:
        store.close()
    items = "".join(f"<li>{'✓' if x.holds else '✗'} {h.escape(x.text)}</li>" for x in r.findings)
    head = (f"<p><b>The decision {'still holds' if r.holds else 'NO LONGER HOLDS'}</b>: recorded "
            f"{h.escape(str(r.chosen_before))}, now {h.escape(str(r.chosen_now))}.</p><ul>{items}</ul>")
    return page(name, rows, head)


def print_review(console: Console, r: ReviewResult) -> None:
    head = "[bold green]The decision still holds.[/bold green]" if r.holds else "[bold red]The decision no longer holds.[/bold red]"
    console.print(head + f"  recorded: {escape(str(r.chosen_before))}, now: {escape(str(r.chosen_now))}")
    for x in r.findings:
        mark = "[green]✓[/green]" if x.holds else "[red]✗[/red]"
        console.print(f" {mark} {escape(x.text)}", highlight=False)
    console.print(f"Review written to {escape(r.run)}/review.md")


def _pair(v: list, fmt: str) -> str:  # type: ignore[type-arg]
    a, b = v
    return f"{'—' if a is None else format(a, fmt)} → {'—' if b is None else format(b, fmt)}"


def print_diff(console: Console, d: Diff) -> None:
    console.print(f"A: {escape(d.a)}\nB: {escape(d.b)}\nChosen: {escape(str(d.chosen[0]))} → {escape(str(d.chosen[1]))}")
    t = Table(title="Change per candidate (B − A)")
    for h in ("Candidate", "Status", "Quality", "Change [95% CI]", "p", "p50 ms", "p95 ms", "Monthly $"):
        t.add_column(h)
    for r in d.candidates:
        c = r.comparison
        change = f"{c.diff:+.3f} [{c.lo:+.3f}, {c.hi:+.3f}]" if c and c.lo is not None and c.hi is not None else "—"
        sig = (p_text(c.p_value) + (" *" if c.significant else "")) if c else "—"
        t.add_row(escape(r.candidate), " → ".join(r.status), _pair(r.quality, ".3f"), change, sig,
                  _pair(r.p50_ms, ".0f"), _pair(r.p95_ms, ".0f"), _pair(r.monthly_usd, ",.2f"))
    console.print(t)
    if d.flipped:
        console.print(f"{len(d.flipped)} example outcome(s) flipped:")
        for x in d.flipped[:50]:
            console.print(f"  {escape(x.candidate)} {escape(x.example_id)}: "
                          f"{'pass' if x.before else 'fail'} → {'pass' if x.after else 'fail'}", highlight=False)
    else:
        console.print("No example outcome flipped.")
    for cid in d.only_in_a:
        console.print(f"only in A: {escape(cid)}")
    for cid in d.only_in_b:
        console.print(f"only in B: {escape(cid)}")
