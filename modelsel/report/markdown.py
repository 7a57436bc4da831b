"""decision.md: an architecture decision record a PM can send to stakeholders.
Plain GitHub Markdown: tables, no raw HTML; everything a model wrote is escaped."""

from __future__ import annotations

import re
from typing import Any

from modelsel.records import Record
from modelsel.report.fmt import HEADERS, ms, pct, q_ci, resolution_text, results_rows, usd

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")


def esc(text: Any, limit: int | None = None) -> str:
    """Escape for a Markdown table cell: no pipes, no HTML, no formatting, one line."""
    s = "" if text is None else str(text)
    s = " ".join(s.split())
    if limit and len(s) > limit:
        s = s[: limit - 1] + "…"
    # Entities, not backslashes, for HTML: no renderer can read them as a tag.
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _req_rows(r: dict[str, Any]) -> list[list[str]]:
    q, lat, cost, comp, st, dec = (r[k] for k in ("quality", "latency", "cost", "compliance", "strategy", "decision"))
    rows = [
        ["Quality bar", f"mean score ≥ {q['min_score']}" if q["min_score"] is not None else "not set"],
        ["Quality by tag", ", ".join(f"{esc(k)} ≥ {v}" for k, v in q["min_by_tag"].items()) or "—"],
        ["Must pass", ", ".join(esc(t) for t in q["must_pass"]) or "—"],
        ["Latency", f"p50 ≤ {ms(lat['p50_ms'])}, p95 ≤ {ms(lat['p95_ms'])}"],
        ["Cost", f"≤ {usd(cost['max_per_request_usd'])} per request; ≤ {usd(cost['monthly_budget_usd'], 2)}/month at "
                 f"{cost['monthly_requests'] or 0:,} requests/month (+{cost['monthly_growth_pct']:g}%/month)"],
        ["Compliance", f"sensitivity {comp['data_sensitivity'] or 'unstated'}; regions {', '.join(comp['allowed_regions'] or ['any'])}; "
                       f"no training {comp['require_no_training']}; BAA {comp['require_baa']}; retention ≤ "
                       f"{comp['max_retention_days'] if comp['max_retention_days'] is not None else 'any'} days; self-hosted only {comp['self_hosted_only']}"],
        ["Strategy", f"lock-in tolerance {st['lock_in_tolerance']}; prefer open weights {st['prefer_open_weights']}; "
                     f"fine-tuning {st['fine_tuning_needed']}; modalities {', '.join(st['modalities'])}; "
                     f"min context {st['min_context_tokens'] or '—'}"],
        ["Decision policy", f"small difference {dec['small_difference']}; priority {' then '.join(dec['priority'])}; "
                            f"max error rate {pct(dec['max_error_rate'])}"],
    ]
    return rows


def render_markdown(s: dict[str, Any], records: list[Record]) -> str:
    d, run, req = s["decision"], s["run"], s["requirements"]
    name = req.get("name") or "LLM selection"
    L: list[str] = []
    add = L.append
    status = f"Decided: **{esc(d['chosen'])}**" if d["chosen"] else "**No candidate qualifies**"
    add(f"# Decision record: {esc(name)}\n")
    add(f"- Status: {status}")
    add(f"- Date: {run['finished_at'][:10]}; next review by {d.get('review', {}).get('next_review_date', '—')}")
    add(f"- Eval set: `{esc(run['evalset'])}`, {run['n_examples']} examples x {run['repeat']} repeat(s)")
    if run.get("replayed"):
        add("- **Replayed**: answers come from an earlier run's records, not from fresh model calls.")
    if run.get("budget_stopped"):
        add(f"- **Budget guard stopped the run** at {usd(run['spent_usd'])} of {usd(run['budget_usd'])}: "
            f"{run['calls_not_made']} calls were not made.")
    add("\n## Context\n")
    add(esc(req["task"]))
    add("\n## Decision\n")
    if d["chosen"]:
        add(f"Use **{esc(d['chosen'])}**" + (f", with **{esc(d['fallback'])}** as fallback." if d["fallback"] else "."))
        add(f"\nRule applied: {esc(d['rule'])}.\n")
    for r in d["reasons"]:
        add(f"- {esc(r)}")
    for m in d.get("nearest_misses", []):
        add(f"- Nearest miss **{esc(m['candidate'])}** ({m['n_failed']} requirement(s) missed):")
        for f in m["failed"]:
            if f["move_limit_to"] is None:
                continue
            word = "lowered" if f["higher_is_better"] else "raised"
            add(f"  - {esc(f['requirement'])} would have to be {word} from {f['limit']:g} to {f['move_limit_to']:g} "
                f"(by {abs(f['by']):g})")
    add("\n## Requirements as written\n")
    add(table(["Requirement", "Value"], _req_rows(req)))
    add("\n## Results\n")
    rows = results_rows(s)
    keys = list(HEADERS)
    add(table([HEADERS[k] for k in keys], [[esc(r[k]) if k == "candidate" else r[k] for k in keys] for r in rows]))
    res = s["resolution"]
    if res.get("resolvable_difference") is not None:
        add(f"\nQuality is the mean score over examples (repeats pooled) with a 95% interval. With {res['n_examples']} examples, "
            f"differences under about {res['resolvable_difference'] * 100:.0f} points cannot be told apart "
            f"(minimum detectable difference at 80% power: {res['minimum_detectable_difference_80pct_power'] * 100:.0f} points; "
            f"SD of paired differences {res['sd_of_paired_differences']}, {res['sd_source']}).")
    else:
        add("\n" + resolution_text(res))
    cold = {cid: c["latency"].get("cold_excluded") for cid, c in s["candidates"].items() if c["latency"].get("cold_excluded")}
    if cold:
        add("\nLatency percentiles are of warm calls: calls that started before their endpoint had answered once carry the SDK's "
            "cold start and new connections, which a running service does not pay, and were left out ("
            + ", ".join(f"{esc(k)}: {v}" for k, v in cold.items()) + ").")
    tags = sorted({t for c in s["candidates"].values() for t in c.get("by_tag", {})})
    if tags:
        add("\n### Quality by tag\n")
        trows = [[esc(cid)] + [q_ci(c["by_tag"].get(t)) for t in tags] for cid, c in s["candidates"].items() if c.get("by_tag")]
        add(table(["Candidate"] + [esc(t) for t in tags], trows))
    if s["comparisons"]:
        add("\n### Paired comparisons (same examples)\n")
        crow = [[esc(c["a"]), esc(c["b"]), f"{c['diff']:+.3f}",
                 f"[{c['lo']:+.3f}, {c['hi']:+.3f}]" if c.get("lo") is not None else "—",
                 f"{c['p_value']:.3f}", c["test"], "yes" if c["significant"] else "no", str(c["n"])] for c in s["comparisons"]]
        add(table(["A", "B", "A − B", "95% CI", "p", "test", "significant", "n"], crow))
    focus = d["chosen"] or next(iter(s["candidates"]), None)
    wrong = [r for r in records if r.candidate == focus and (r.error or r.passed is False)]
    if focus and wrong:
        add(f"\n### Where {esc(focus)} went wrong ({len(wrong)} of {sum(1 for r in records if r.candidate == focus)} calls)\n")
        add(table(["Example", "Tags", "Input", "Expected", "Answer", "Why"],
                  [[esc(r.example_id), esc(", ".join(r.tags)), esc(r.input, 80), esc(r.expected, 40),
                    esc(r.output if not r.error else f"error: {r.error}", 80), esc(r.reason, 60)] for r in wrong[:10]]))
        if len(wrong) > 10:
            add(f"\n{len(wrong) - 10} more in records.csv and the HTML report.")
    add("\n## Candidates eliminated\n")
    if not d["eliminated"]:
        add("None.")
    for cid, reasons in d["eliminated"].items():
        add(f"- **{esc(cid)}**")
        for r in reasons:
            add(f"  - {esc(r)}")
    if d["at_risk"]:
        add("\n## At risk\n")
        for cid, reasons in d["at_risk"].items():
            add(f"- **{esc(cid)}**: " + "; ".join(esc(r) for r in reasons))
    add("\n## Not evaluated\n")
    if not d["not_evaluated"]:
        add("Every candidate that passed compliance was evaluated.")
    for cid, why in d["not_evaluated"].items():
        add(f"- **{esc(cid)}**: {esc(why)}")
    add("\n## Trade-offs acknowledged\n")
    for t in d["trade_offs"] or ["None recorded."]:
        add(f"- {esc(t)}")
    add("\n## Fallback and migration plan\n")
    if d["fallback"]:
        fc = d["fallback_cost"]
        add(f"- Fallback: **{esc(d['fallback'])}** (another provider). Falling back changes quality by {fc['quality_diff'] * 100:+.1f} points, "
            f"p95 latency by {fc['p95_ms_diff']:+.0f} ms and cost by {usd(fc['monthly_usd_diff'], 2)}/month.")
    else:
        add("- No fallback from another provider qualifies.")
    add("- Migration: keep prompts per model in the requirements file (they do not transfer cleanly), keep output formats "
        "provider-neutral (plain labels or JSON validated by a schema), and re-run this eval set on the new model before switching.")
    if req["strategy"].get("fine_tuning_needed"):
        add("- Fine-tunes do not move between providers: budget a re-tune and re-evaluation when migrating.")
    be = d.get("self_hosting_break_even")
    if be:
        add(f"- Self-hosting **{esc(be['candidate'])}** (fixed {usd(be['fixed_monthly_usd'], 2)}/month) becomes cheaper at "
            f"about {be['monthly_requests']:,} requests/month.")
    st = s.get("strategies") or {}
    add("\n## Strategies considered\n")
    if st.get("strategies"):
        srow = []
        for x in st["strategies"]:
            if "quality" in x:
                srow.append([esc(x["name"]), q_ci(x["quality"]), usd(x["cost_per_request_usd"]), usd(x.get("monthly_usd"), 2),
                             ms(x.get("latency_p95_ms")), esc(_strategy_detail(x))])
            else:
                srow.append([esc(x["name"]), "—", "—", "—", ms(x.get("latency_when_falling_back_ms")), esc(_strategy_detail(x))])
        add(table(["Strategy", "Quality [95% CI]", "Cost/request", "Monthly", "p95", "Detail"], srow))
    add(f"\n{esc(st.get('why') or '')}" + (f" Recommended: **{esc(st['recommended'])}**." if st.get("recommended") else ""))
    if st.get("ab_test"):
        ab = st["ab_test"]
        add(f"\nA/B test in production to confirm {esc(ab['a'])} against {esc(ab['b'])}: "
            + (f"{ab['samples_per_arm']:,} requests per arm ({esc(ab['note'])})." if ab["samples_per_arm"] else esc(ab["note"]) + "."))
    add("\n## Selection checklist\n")
    for it in s["checklist"]:
        add(f"- [{'x' if it['done'] else ' '}] {esc(it['item'])}: {esc(it['detail'])}")
    add("\n## When to reconsider\n")
    rv = d.get("review") or {}
    add(f"Next review: **{rv.get('next_review_date', '—')}** (every {rv.get('every_days', '?')} days, `modelsel review`). Reconsider sooner on:\n")
    for t in rv.get("triggers", []):
        add(f"- {esc(t)}")
    add("\n## Provenance\n")
    prow = [[esc(cid), esc(c["provider"]), esc(c["model"]), esc(c["price"]["source"]), esc(c["price"].get("as_of") or "—")]
            for cid, c in s["candidates"].items()]
    add(table(["Candidate", "API", "Model", "Price source", "As of"], prow))
    add("\nScoring: " + "; ".join(esc(_scorer_text(x)) for x in req["scoring"])
        + f"; pass threshold {req['pass_threshold']}. Each record in `records.jsonl` keeps its scorers' parameters.")
    if s.get("judge"):
        add(f"Judge model: {esc(s['judge']['model'])}; judge cost {usd(s['judge']['cost_usd'])} (not counted in any candidate's cost).")
    add(f"\nmodelsel {s['modelsel_version']}, summary schema {s['schema_version']}. Latency is measured around each request only "
        "(no queueing, backoff or cache lookups); cached answers keep the latency measured when they were made.")
    return "\n".join(L) + "\n"


def _scorer_text(x: dict[str, Any]) -> str:
    params = {k: v for k, v in x.items() if k not in ("type", "weight")}
    return x["type"] + (f" {params}" if params else "") + (f" x{x['weight']:g}" if x.get("weight", 1) != 1 else "")


def _strategy_detail(x: dict[str, Any]) -> str:
    if "table" in x:
        return "; ".join(f"{t} -> {c}" for t, c in x["table"].items())
    if "escalation_rate" in x:
        return f"escalates {x['escalation_rate'] * 100:.0f}% when not: {x['check']}"
    if "availability_chain" in x:
        return (f"availability {x['availability_single'] * 100:.2f}% -> {x['availability_chain'] * 100:.2f}% "
                f"({x['assumes']})")
    if "members" in x:
        return "members: " + ", ".join(x["members"])
    return ""
