"""Quarterly review: does the recorded decision still hold? And `diff` between two runs."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelsel import stats
from modelsel.catalog import load_catalog
from modelsel.decision import compliance
from modelsel.errors import InputError
from modelsel.metrics import per_example_scores
from modelsel.records import Record
from modelsel.rundata import load_run, newest_run_for
from modelsel.store import atomic_write, write_json


def _finding(kind: str, holds: bool, text: str, **figures: Any) -> dict[str, Any]:
    return {"kind": kind, "holds": holds, "text": text, **figures}


def compare_decisions(old: dict[str, Any], new: dict[str, Any], old_recs: list[Record], new_recs: list[Record],
                      current_prices: dict[str, tuple[float, float]], new_catalog_matches: list[str],
                      today: date) -> list[dict[str, Any]]:
    """Findings, each saying whether the decision holds on that count. Pure."""
    f: list[dict[str, Any]] = []
    chosen = old["decision"].get("chosen")
    req = new["requirements"]
    if chosen is None:
        f.append(_finding("no_decision", False, "the recorded run chose no candidate, so there is no decision to hold"))
        return f
    nd = new["decision"]
    if nd.get("chosen") != chosen:
        if chosen in nd["eliminated"]:
            f.append(_finding("incumbent_eliminated", False, f"'{chosen}' no longer meets the requirements: "
                              + "; ".join(nd["eliminated"][chosen])))
        elif chosen in nd["not_evaluated"]:
            f.append(_finding("incumbent_not_evaluated", False, f"'{chosen}' could not be re-evaluated: {nd['not_evaluated'][chosen]}"))
        if nd.get("chosen"):
            f.append(_finding("new_choice", False, f"under the same rules '{nd['chosen']}' is now chosen over '{chosen}' "
                              f"(rule {nd['rule']})", candidate=nd["chosen"]))
        else:
            f.append(_finding("nobody_qualifies", False, "no candidate meets the requirements any more"))
    else:
        f.append(_finding("same_choice", True, f"the same rules still choose '{chosen}'"))
    oc, nc = old["candidates"].get(chosen, {}), new["candidates"].get(chosen, {})
    oq, nq = oc.get("quality", {}), nc.get("quality", {})
    if oq.get("mean") is not None and nq.get("mean") is not None:
        a = per_example_scores([r for r in old_recs if r.candidate == chosen])
        b = per_example_scores([r for r in new_recs if r.candidate == chosen])
        common = sorted(set(a) & set(b))
        drift = stats.paired_difference([b[i] for i in common], [a[i] for i in common],
                                        binary=all(v in (0, 1) for v in list(a.values()) + list(b.values()))) if len(common) > 1 else None
        below = oq.get("lo") is not None and nq["mean"] < oq["lo"]
        sig = drift is not None and drift["p_value"] < 0.05 and drift["diff"] < 0
        txt = (f"quality of '{chosen}' {nq['mean']:.3f} vs {oq['mean']:.3f} before (interval then {oq.get('lo', 0):.3f}-{oq.get('hi', 0):.3f})"
               + (f"; paired change {drift['diff']:+.3f} (95% CI {drift['lo']:+.3f} to {drift['hi']:+.3f}, p={drift['p_value']:.3f}, n={drift['n']})" if drift else ""))
        f.append(_finding("quality_drift", not (below or sig), ("quality drifted down: " if below or sig else "quality stable: ") + txt,
                          before=oq["mean"], after=nq["mean"]))
    for key in ("p50", "p95"):
        target = req["latency"].get(f"{key}_ms")
        after = nc.get("latency", {}).get(f"{key}_ms")
        before = oc.get("latency", {}).get(f"{key}_ms")
        if target and after is not None:
            ok = after <= target
            f.append(_finding(f"latency_{key}", ok, f"{key} latency of '{chosen}' {after:.0f} ms (before {before or 0:.0f} ms), "
                              f"target {target:.0f} ms" + ("" if ok else ": regression past the target"), before=before, after=after))
    for cid, c in old["candidates"].items():
        if cid not in current_prices:
            continue
        pin, pout = c["price"]["input_per_mtok"], c["price"]["output_per_mtok"]
        nin, nout = current_prices[cid]
        if (pin, pout) != (nin, nout):
            pct_in = (nin - pin) / pin * 100 if pin else 0.0
            # Reported with figures; whether it changes the decision is the re-run's verdict above.
            f.append(_finding("price_change", True,
                              f"price of '{cid}' changed: input ${pin:g} -> ${nin:g}/Mtok ({pct_in:+.0f}%), output ${pout:g} -> ${nout:g}/Mtok",
                              candidate=cid, before=[pin, pout], after=[nin, nout]))
    for mid in new_catalog_matches:
        f.append(_finding("new_catalog_model", True, f"'{mid}' is in the catalog, meets the compliance requirements and was not "
                          "on the shortlist: consider adding it", candidate=mid))
    be = nd.get("self_hosting_break_even")
    vol = req["cost"].get("monthly_requests")
    if be and vol and vol >= be["monthly_requests"]:
        f.append(_finding("self_hosting_break_even", False, f"volume {vol:,}/month is past the break-even {be['monthly_requests']:,} "
                          f"at which self-hosting '{be['candidate']}' is cheaper"))
    due = (old["decision"].get("review") or {}).get("next_review_date")
    if due and date.fromisoformat(due) < today:
        f.append(_finding("review_overdue", True, f"the review was due on {due}; this review is {(today - date.fromisoformat(due)).days} days late"))
    return f


def _current_prices(inp: Any) -> dict[str, tuple[float, float]]:
    return {c.id: (c.input_per_mtok, c.output_per_mtok) for c in inp.candidates}


def _new_catalog_matches(inp: Any) -> list[str]:
    from modelsel.catalog import resolve_candidates

    shortlisted = {c.id for c in inp.candidates}
    out = []
    for mid in load_catalog():
        if mid in shortlisted:
            continue
        probe = inp.lr.model_copy(update={"req": inp.lr.req.model_copy(update={"candidates": [
            inp.lr.req.candidates[0].model_copy(update={"catalog": mid, "id": None, "provider": None, "model": None,
                                                        "prompt": None, "base_url": None, "price": None, "facts": None})]})})
        c = resolve_candidates(probe)[0]
        out_reasons, risks = compliance(c, inp.lr.req)
        if not out_reasons and not risks:
            out.append(mid)
    return out


def run_review(requirements: Path, against: Path | None, out: Path | None, reports_root: Path, no_cache: bool,
               timeout: float, console: Console, retry_scale: float, today: date | None = None) -> int:
    from modelsel import pipeline
    from modelsel.runner import RetryPolicy, RunConfig
    from modelsel.session import run_session

    today = today or date.today()
    base = against or newest_run_for(requirements, reports_root)
    if base is None:
        raise InputError(f"no earlier run for this requirements file under {reports_root}/; run `modelsel eval` first "
                         "or pass --against RUN_DIR.", path=requirements)
    old, old_recs = load_run(base)
    inp = pipeline.prepare(requirements)
    scr = pipeline.screen(inp)
    cfg = RunConfig(repeat=old["run"].get("repeat", 1), timeout_s=timeout, retry=RetryPolicy(scale=retry_scale))
    err = Console(stderr=True)
    folder, new, code = run_session(inp, scr, cfg, out, reports_root, no_cache, console, err, quiet=True)
    if new is None:
        return code
    _, new_recs = load_run(folder)
    findings = compare_decisions(old, new, old_recs, new_recs, _current_prices(inp), _new_catalog_matches(inp), today)
    holds = all(x["holds"] for x in findings)
    result = {"holds": holds, "against": str(base), "run": str(folder), "chosen_before": old["decision"].get("chosen"),
              "chosen_now": new["decision"].get("chosen"), "findings": sorted(findings, key=lambda x: x["holds"])}
    write_json(folder / "review.json", result)
    atomic_write(folder / "review.md", review_markdown(result))
    print_review(console, result)
    return 0 if holds else 1


def review_markdown(r: dict[str, Any]) -> str:
    from modelsel.report.markdown import esc

    lines = [f"# Review: the decision {'still holds' if r['holds'] else 'NO LONGER HOLDS'}\n",
             f"- Recorded decision: **{esc(r['chosen_before'])}** (run `{esc(r['against'])}`)",
             f"- Now chosen: **{esc(r['chosen_now'])}** (run `{esc(r['run'])}`)\n"]
    for x in r["findings"]:
        lines.append(f"- [{'x' if x['holds'] else ' '}] {esc(x['kind'])}: {esc(x['text'])}")
    return "\n".join(lines) + "\n"


def print_review(console: Console, r: dict[str, Any]) -> None:
    head = "[bold green]The decision still holds.[/bold green]" if r["holds"] else "[bold red]The decision no longer holds.[/bold red]"
    console.print(head + f"  recorded: {escape(str(r['chosen_before']))}, now: {escape(str(r['chosen_now']))}")
    for x in r["findings"]:
        mark = "[green]✓[/green]" if x["holds"] else "[red]✗[/red]"
        console.print(f" {mark} {escape(x['text'])}", highlight=False)
    console.print(f"Review written to {escape(r['run'])}/review.md")


# --- diff ---------------------------------------------------------------------------------

def diff_runs(a: Path, b: Path) -> dict[str, Any]:
    sa, ra = load_run(a)
    sb, rb = load_run(b)
    rows = []
    flips = []
    by_a: dict[str, list[Record]] = defaultdict(list)
    by_b: dict[str, list[Record]] = defaultdict(list)
    for r in ra:
        by_a[r.candidate].append(r)
    for r in rb:
        by_b[r.candidate].append(r)
    for cid in [c for c in sa["candidates"] if c in sb["candidates"]]:
        ca, cb = sa["candidates"][cid], sb["candidates"][cid]
        pa, pb = per_example_scores(by_a[cid]), per_example_scores(by_b[cid])
        common = sorted(set(pa) & set(pb))
        cmp = None
        if len(common) > 1:
            vals = [pa[i] for i in common] + [pb[i] for i in common]
            cmp = stats.paired_difference([pb[i] for i in common], [pa[i] for i in common], binary=all(v in (0, 1) for v in vals))
        rows.append({"candidate": cid, "status": [ca["status"], cb["status"]],
                     "quality": [ca["quality"].get("mean"), cb["quality"].get("mean")], "comparison": cmp,
                     "p50_ms": [ca["latency"].get("p50_ms"), cb["latency"].get("p50_ms")],
                     "p95_ms": [ca["latency"].get("p95_ms"), cb["latency"].get("p95_ms")],
                     "monthly_usd": [ca["cost"].get("monthly_usd"), cb["cost"].get("monthly_usd")]})
        pass_a = {r.example_id: r.passed for r in by_a[cid] if r.repeat == 0}
        pass_b = {r.example_id: r.passed for r in by_b[cid] if r.repeat == 0}
        for ex in sorted(set(pass_a) & set(pass_b)):
            if pass_a[ex] != pass_b[ex]:
                flips.append({"candidate": cid, "example_id": ex, "before": pass_a[ex], "after": pass_b[ex]})
    return {"a": str(a), "b": str(b), "chosen": [sa["decision"].get("chosen"), sb["decision"].get("chosen")],
            "candidates": rows, "flipped": flips,
            "only_in_a": [c for c in sa["candidates"] if c not in sb["candidates"]],
            "only_in_b": [c for c in sb["candidates"] if c not in sa["candidates"]]}


def _pair(v: list[Any], fmt: str) -> str:
    a, b = v
    return f"{'—' if a is None else format(a, fmt)} → {'—' if b is None else format(b, fmt)}"


def print_diff(console: Console, d: dict[str, Any]) -> None:
    console.print(f"A: {escape(d['a'])}\nB: {escape(d['b'])}\nChosen: {escape(str(d['chosen'][0]))} → {escape(str(d['chosen'][1]))}")
    t = Table(title="Change per candidate (B − A)")
    for h in ("Candidate", "Status", "Quality", "Change [95% CI]", "p", "p50 ms", "p95 ms", "Monthly $"):
        t.add_column(h)
    for r in d["candidates"]:
        c = r["comparison"]
        change = f"{c['diff']:+.3f} [{c['lo']:+.3f}, {c['hi']:+.3f}]" if c and c.get("lo") is not None else "—"
        sig = (f"{c['p_value']:.3f}" + (" *" if c["p_value"] < 0.05 else "")) if c else "—"
        t.add_row(escape(r["candidate"]), " → ".join(r["status"]), _pair(r["quality"], ".3f"), change, sig,
                  _pair(r["p50_ms"], ".0f"), _pair(r["p95_ms"], ".0f"), _pair(r["monthly_usd"], ",.2f"))
    console.print(t)
    if d["flipped"]:
        console.print(f"{len(d['flipped'])} example outcome(s) flipped:")
        for x in d["flipped"][:50]:
            console.print(f"  {escape(x['candidate'])} {escape(x['example_id'])}: "
                          f"{'pass' if x['before'] else 'fail'} → {'pass' if x['after'] else 'fail'}", highlight=False)
    else:
        console.print("No example outcome flipped.")
    for cid in d["only_in_a"]:
        console.print(f"only in A: {escape(cid)}")
    for cid in d["only_in_b"]:
        console.print(f"only in B: {escape(cid)}")
