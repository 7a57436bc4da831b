"""Terminal tables for `modelsel models` and `modelsel shortlist`."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelsel.catalog.models import CatalogModel
from modelsel.catalog.shortlist import Proposal, reason_kind
from modelsel.report.fmt import usd


def _fact(m: CatalogModel, name: str) -> str:
    v = m.fact(name)
    if v is None:
        return "?"
    if isinstance(v, list):
        return ",".join(map(str, v))
    if isinstance(v, bool):
        return "yes" if v else "no"
    return f"{v:,}" if isinstance(v, int) else str(v)


def print_catalog(console: Console, rows: list[CatalogModel], info: Any) -> None:
    console.print(f"Prices per million tokens, base tier, from the genai-prices {info.version} snapshot "
                  f"(true as of {info.as_of or 'unknown'}; {info.source}). Policies: modelsel/catalog.yaml, each with "
                  "its source. '?' is unknown, which compliance treats as a risk.", highlight=False)
    for vendor, group in groupby(sorted(rows, key=lambda m: (m.vendor, m.id)), key=lambda m: m.vendor):
        ms = list(group)
        first = ms[0]
        t = Table(title=f"{vendor} (API: {first.provider}) — trains on data {_fact(first, 'trains_on_data')}, "
                        f"retention {_fact(first, 'retention_days')} days, BAA {_fact(first, 'baa_available')}, "
                        f"regions {_fact(first, 'regions')}", title_justify="left")
        for h in ("id", "input $", "cached $", "output $", "tiers", "context", "open", "tier", "deprecated"):
            t.add_column(h, justify="left" if h == "id" else "right")
        for m in ms:
            t.add_row(escape(m.id), "?" if m.input_per_mtok is None else f"{m.input_per_mtok:g}",
                      "—" if m.cached_input_per_mtok is None else f"{m.cached_input_per_mtok:g}",
                      "?" if m.output_per_mtok is None else f"{m.output_per_mtok:g}",
                      escape(m.tier_note) if m.tiered and m.tier_note else "—", _fact(m, "context_window"),
                      _fact(m, "open_weights"), m.tier or "—",
                      (f"retired {m.retired_on}" if m.retired_on else "yes") if m.deprecated else "")
        console.print(t)
    console.print(f"{len(rows)} models.")


def print_shortlist(console: Console, props: list[Proposal], emptied: str | None) -> None:
    from collections import defaultdict

    t = Table(title="Shortlist: proposed before any call (cost estimated from the eval set's own token counts)")
    for h in ("", "model", "tier", "est. $/request", "est. $/month", "why"):
        t.add_column(h, justify="right" if "$" in h else "left")
    for p in props:
        if p.included:
            why = (p.why_in or "") + ("; risks: " + "; ".join(p.risks) if p.risks else "") + (
                f"; needs {p.needs}" if p.needs else "")
            t.add_row("[green]IN[/green]", escape(p.id), p.tier or "—", usd(p.cost_per_request_usd),
                      usd(p.monthly_usd, 2), escape(why + (" (already a candidate)" if p.shortlisted_already else "")))
    console.print(t)
    passing = [p for p in props if not p.out and not p.included]
    if passing:
        console.print(f"{len(passing)} more pass every filter but were not picked (e.g. "
                      + ", ".join(escape(p.id) for p in passing[:5]) + ").", highlight=False)
    out: dict[str, list[Proposal]] = defaultdict(list)
    for p in props:
        if p.out:
            out[reason_kind(p.out[0])].append(p)
    if out:
        console.print("Out, by the first requirement each breaks (`--json` gives every model with all its reasons):")
        for kind, ps in sorted(out.items(), key=lambda kv: -len(kv[1])):
            console.print(f"  {len(ps):>4}  {escape(kind)}: e.g. {escape(ps[0].id)} — {escape(ps[0].out[0])}", highlight=False)
    if emptied:
        console.print(f"[bold red]No catalog model can meet these requirements.[/bold red] The filter that removed the most: "
                      f"{escape(emptied)}.")
