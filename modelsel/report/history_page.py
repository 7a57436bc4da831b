"""`modelsel history`: one line per run in the terminal, and a self-contained page with the chosen
model's quality (with its interval) and monthly cost over time, a marker where the decision
changed, and one trend line per eval set (runs on different eval sets are not comparable)."""

from __future__ import annotations

import html
from datetime import datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelsel.quarterly.history import RunRow
from modelsel.report.charts import COLORS, _figure, _svg
from modelsel.report.fmt import ms, usd


def _q(r: RunRow) -> str:
    c = r.chosen_row()
    if c is None or c.quality is None:
        return "—"
    if c.quality_lo is None or c.quality_hi is None:
        return f"{c.quality:.3f}"
    return f"{c.quality:.3f} [{c.quality_lo:.2f}, {c.quality_hi:.2f}]"


BILL = "API bill/month"  # what the provider bills
ALL_IN = "all-in/month"  # the bill plus the failed answers' cost: the record's headline figure


def print_history(console: Console, name: str, rows: list[RunRow]) -> None:
    t = Table(title=f"History of '{escape(name)}': {len(rows)} run(s), oldest first")
    for h in ("date", "kind", "chosen", "quality [95% CI]", "p95", BILL, ALL_IN, "what changed since the run before"):
        t.add_column(h, justify="right" if h in ("p95", BILL, ALL_IN) else "left")
    for r in rows:
        c = r.chosen_row()
        kind = _kind(r)
        t.add_row(r.date, kind, escape(r.chosen or "none"), _q(r), ms(c.p95_ms if c else None),
                  usd(c.monthly_usd if c else None, 2), usd(c.total_monthly_usd if c else None, 0),
                  escape("; ".join(r.changes) or ("first run" if r is rows[0] else "—")),
                  style="" if r.comparable else "yellow")
    console.print(t)
    if any(not r.comparable for r in rows):
        console.print("[yellow]Yellow rows ran on a different eval set than the run before: their figures start a new "
                      "trend and are not compared with the earlier ones.[/yellow]")


def _kind(r: RunRow) -> str:
    if r.kind == "trial":  # a live trial (`modelsel trial`): chosen is its challenger
        return "trial: " + {True: "challenger holds up", False: "challenger worse", None: "running"}[r.holds]
    return r.kind + ("" if r.holds is None else (": holds" if r.holds else ": does NOT hold"))


def _dt(r: RunRow) -> datetime:
    return datetime.fromisoformat((r.finished_at or r.started_at or "1970-01-01T00:00:00").replace("Z", "+00:00"))


def chart(rows: list[RunRow]) -> str | None:
    pts = [r for r in rows if r.chosen_row() is not None and r.chosen_row().quality is not None]  # type: ignore[union-attr]
    if not pts:
        return None

    fig = _figure(8.4, 3.6)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.09, right=0.86, bottom=0.2, top=0.95)
    cost_ax = ax.twinx()
    segments: list[list[RunRow]] = []
    for r in pts:
        if not segments or not r.comparable:
            segments.append([])
        segments[-1].append(r)
    for i, seg in enumerate(segments):
        xs = [_dt(r) for r in seg]
        q = [r.chosen_row().quality for r in seg]  # type: ignore[union-attr]
        lo = [qq - (r.chosen_row().quality_lo if r.chosen_row().quality_lo is not None else qq)  # type: ignore[union-attr]
              for r, qq in zip(seg, q, strict=True)]
        hi = [(r.chosen_row().quality_hi if r.chosen_row().quality_hi is not None else qq) - qq  # type: ignore[union-attr]
              for r, qq in zip(seg, q, strict=True)]
        label = "quality of the chosen model (95% CI)" if i == 0 else f"quality, eval set {i + 1}"
        ax.errorbar(xs, q, yerr=[lo, hi], fmt="o-", color=COLORS[0], capsize=3, label=label, alpha=1 if i == len(segments) - 1 else 0.6)
        costs = [r.chosen_row().monthly_usd for r in seg]  # type: ignore[union-attr]
        if any(c is not None for c in costs):
            cost_ax.plot(xs, [c if c is not None else float("nan") for c in costs], "s--", color=COLORS[1],
                         label="monthly cost" if i == 0 else None)
    flips = [r for r in pts if any(c.startswith("decision changed") for c in r.changes)]
    for r in flips:
        ax.axvline(_dt(r), color="#d62728", linestyle=":", linewidth=1)
        ax.annotate(f"→ {r.chosen}", (_dt(r), 1.0), textcoords="offset points", xytext=(3, -10), fontsize=7, color="#d62728")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("quality (mean score)")
    cost_ax.set_ylabel("USD per month")
    cost_ax.spines["right"].set_visible(True)
    fig.autofmt_xdate()
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = cost_ax.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="lower left", frameon=False, fontsize=8)
    return _svg(fig)


def page(name: str, rows: list[RunRow], findings_html: str = "") -> str:
    """A self-contained HTML page (no scripts, no external resources)."""
    svg = chart(rows) or "<p>No run chose a model yet.</p>"
    trs = []
    for r in rows:
        c = r.chosen_row()
        trs.append(f"<tr{'' if r.comparable else ' class=new'}><td>{html.escape(r.date)}</td><td>{html.escape(_kind(r))}</td>"
                   f"<td>{html.escape(r.chosen or 'none')}</td><td>{html.escape(_q(r))}</td>"
                   f"<td>{html.escape(ms(c.p95_ms if c else None))}</td><td>{html.escape(usd(c.monthly_usd if c else None, 2))}</td>"
                   f"<td>{html.escape(usd(c.total_monthly_usd if c else None, 0))}</td>"
                   f"<td>{html.escape('; '.join(r.changes) or '—')}</td></tr>")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><meta http-equiv=Content-Security-Policy "
            "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
            f"<title>modelsel history: {html.escape(name)}</title><style>body{{font:14px system-ui,sans-serif;margin:24px;"
            "max-width:1100px}}table{{border-collapse:collapse;width:100%}}td,th{{padding:4px 8px;border-bottom:1px solid #eee;"
            "text-align:left}}tr.new td{{background:#fff8e1}}svg{{max-width:100%;height:auto}}</style></head><body>"
            f"<h1>History: {html.escape(name)}</h1>{findings_html}{svg}"
            "<p>Highlighted rows ran on a different eval set than the run before: a new trend, not compared with the "
            "earlier runs. Dotted red lines mark a changed decision.</p>"
            "<table><tr><th>date</th><th>kind</th><th>chosen</th><th>quality [95% CI]</th><th>p95</th>"
            f"<th>{BILL}</th><th>{ALL_IN}</th>"
            f"<th>what changed</th></tr>{''.join(trs)}</table></body></html>\n")
