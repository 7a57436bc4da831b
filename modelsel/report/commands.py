"""What `check` and `eval --dry-run` print: the screens of the commands that call nothing. Its
imports inside functions keep what one screen needs (the run planner, the latency pass, the
catalog's snapshot) out of the other, and out of `check`."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def print_check(console: Console, requirements: Any, inp: Any, scr: Any, items: list[tuple[str, bool, str]],
                gone: list[Any]) -> None:
    """The checklist, what compliance and this machine rule out before any call, what the eval set
    can tell apart, and a price snapshot this release does not know."""
    from modelsel.analysis.metrics import planned_resolution
    from modelsel.report.fmt import resolution_sentence

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
    from modelsel.pipeline import param_notes
    from modelsel.scoring import label_set

    for cid, note in param_notes(inp).items():
        console.print(f" [yellow]what scoring sees[/yellow] {escape(cid)}: {escape(note)}", highlight=False)
    from modelsel.analysis.evidence import implied_must_pass

    for sentence, tag in implied_must_pass(inp.lr.req.task, inp.evalset.tags, inp.lr.req.quality.must_pass):
        said = (f"the Context says \"{sentence}\", but '{tag}' is not a must-pass: add `quality.must_pass: [{tag}]` "
                f"to make it a requirement (any failure on a '{tag}' example then eliminates a candidate)")
        console.print(f" [yellow]proposal[/yellow] {escape(said)}", highlight=False)
    if (labels := label_set(inp.evalset.examples, inp.scoring)) is not None:
        said = (f"every expected value is one of {len(labels)} labels ({', '.join(labels)}): the record counts the "
                "answers outside this set and gives a confusion matrix. `exact` fails an answer that says more than "
                f"the label; to read the label from such an answer, use `{{type: choice, choices: [{', '.join(labels)}]}}`.")
        console.print(f" [yellow]scoring[/yellow] {escape(said)}", highlight=False)
    for err in gone:
        console.print(f" [red]retired[/red] {escape(str(err))}", highlight=False)
    for cid, risk in scr.key_risks.items():
        console.print(f" [red]key at risk[/red] {escape(cid)}: {escape(risk)}", highlight=False)
    if scr.judge_problem:
        console.print(f" [yellow]judge[/yellow] {escape(scr.judge_problem)}", highlight=False)
    es = inp.evalset.examples
    k = len(inp.candidates)
    family = k - 1 if inp.lr.req.decision.equivalence == "non_inferior" else k * (k - 1) // 2
    res = planned_resolution(len(es), len({e.cluster or e.id for e in es}), inp.lr.req.decision.small_difference,
                             max(1, family))
    console.print(f"What this eval set can tell apart: {escape(resolution_sentence(res))}", highlight=False)
    prod = inp.lr.req.production
    if prod is not None:
        from modelsel.report.production import sample_lines

        console.print("Drawn from production traces:", highlight=False)
        for line in sample_lines(prod):
            console.print(f"  {escape(line.replace('**', ''))}", highlight=False)
    if any(c.price_ref for c in inp.candidates):
        from modelsel.catalog.models import snapshot_info

        if (warn := snapshot_info().warning()) is not None:
            console.print(f"[yellow]warning[/yellow] {escape(warn)}", highlight=False)


def print_dry_run(console: Console, inp: Any, scr: Any, cfg: Any) -> None:
    """Calls, tokens and the most they can cost, live and through a batch, per candidate: every
    candidate compliance lets through, priced from its catalog (or stated) price whether or not it
    can be called here, those that cannot said so."""
    from modelsel.providers import provider_class
    from modelsel.run.runner import dry_run_estimate

    cands = [c for c in inp.candidates if c.id not in scr.compliance_out]
    runnable = {c.id for c in scr.runnable}
    rows = dry_run_estimate(cands, inp.evalset.examples, cfg.repeat,
                            {c.id: scr.providers[c.id].defaults if c.id in scr.providers else
                             provider_class(c.provider).defaults for c in cands}, cfg.latency_sample, cfg.tooling)
    tries = (f"{len(inp.evalset.examples)} examples x {cfg.repeat} independent tries each, "
             if cfg.repeat > 1 else "")
    t = Table(title=f"Dry run: {tries}estimated before any call (about 4 characters a token, the system prompt and "
                    "tools in every request; output at max_tokens, thinking included; no prompt caching assumed)")
    for h in ("Candidate", "How", "Calls", "Input tokens", "Output tokens (max)", "Cost live (max)", "Cost batch (max)",
              "This run (max)"):
        t.add_column(h, justify="right" if h not in ("Candidate", "How") else "left")
    total = 0.0
    for r in rows:
        cid = r["candidate"]
        batched = bool(cfg.batch) and cfg.batch.get(cid) is None
        run_cost = r["cost_usd_max_batch"] + r["sample_cost_usd_max"] if batched else r["cost_usd_max"]
        how = (f"batch + {r['sample_calls']} live for latency" if batched else
               ("live: " + cfg.batch[cid] if cfg.batch and cid in cfg.batch else "live"))
        if cid not in runnable:
            how, run_cost = "not run here", 0.0
        total += run_cost
        t.add_row(escape(cid), escape(how), str(r["calls"]), f"{r['input_tokens']:,}", f"{r['output_tokens_max']:,}",
                  f"${r['cost_usd_max']:.4f}" if r["priced"] else "no price", f"${r['cost_usd_max_batch']:.4f}"
                  if r["priced"] else "no price", f"${run_cost:.4f}" if cid in runnable else "—")
    t.add_row("total", "", str(sum(r["calls"] for r in rows if r["candidate"] in runnable)), "", "",
              f"${sum(r['cost_usd_max'] for r in rows):.4f}", f"${sum(r['cost_usd_max_batch'] for r in rows):.4f}",
              f"${total:.4f}", style="bold")
    console.print(t)
    for r in rows:
        if r.get("media_tokens"):
            console.print(f"{escape(r['candidate'])}: input tokens include {r['media_tokens']:,} for images and documents, "
                          f"an estimate by the provider's documented rule ({escape(r['media_rule'])}); the run prices "
                          "what the API reports.", highlight=False)
        if r["system_tokens"] or r["tool_tokens"]:
            console.print(f"{escape(r['candidate'])}: of its input tokens, {r['system_tokens']:,} are the system prompt "
                          f"and {r['tool_tokens']:,} the tools, sent with every request", highlight=False)
        if r["reasoning_tokens_max"]:
            console.print(f"{escape(r['candidate'])}: of its output, up to {r['reasoning_tokens_max']:,} tokens are "
                          "thinking its params allow (billed as output)", highlight=False)
    if any(r.get("tool_tokens") for r in rows):
        each = sum(r["tool_tokens"] for r in rows) // max(1, sum(r["calls"] for r in rows))
        console.print(f"Input tokens include the tool definitions and output schema sent with every call (about {each:,} "
                      "tokens a call): the APIs bill them as input.", highlight=False)
    _latency_calls(console, inp, scr, cfg, [r for r in rows if r["candidate"] in runnable])
    for cid, why in scr.not_evaluated.items():
        console.print(f"{escape(cid)}: priced above, but not run here ({escape(why)})", highlight=False)
    for cid, why in scr.compliance_out.items():
        console.print(f"[dim]{escape(cid)}: not run ({escape('; '.join(why))})[/dim]")


def _latency_calls(console: Console, inp: Any, scr: Any, cfg: Any, rows: list[dict[str, Any]]) -> None:
    """The latency-only calls the run will add, and what they cost at most (priced like the rest)."""
    from modelsel.analysis.limits import needed_calls
    from modelsel.run.latency_pass import estimate

    extra = estimate(inp.lr.req, needed_calls(inp.lr.req), scr.runnable, scr.providers, len(inp.evalset.examples),
                     cfg.repeat, cfg.extra_calls)
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
