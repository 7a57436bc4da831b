"""decision.md: an architecture decision record a PM can send to stakeholders.
Plain GitHub Markdown: tables, no raw HTML; everything a model wrote is escaped."""

from __future__ import annotations

import re
from typing import Any

from modelsel.analysis.methods import TESTS, short
from modelsel.inputs.requirements import Cost
from modelsel.inputs.textfile import printable
from modelsel.numbers import p_text
from modelsel.report.fmt import (
    HEADERS,
    consistency_rows,
    cost_conditions,
    difference_sentence,
    latency_condition,
    monthly_ci,
    ms,
    pct,
    per_request_ci,
    q_ci,
    quality_methods_text,
    quantile,
    resolution_text,
    results_rows,
    tests_text,
    usd,
    usd_ci,
)
from modelsel.report.opening import differences, opening, versus
from modelsel.report.production import section as production_section
from modelsel.report.tool_text import answer_text, tool_use_text
from modelsel.run.records import Record
from modelsel.schema import StrategyResult, Summary

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")
POLICY = {
    "not_distinguishable": "survivors the paired test cannot tell from the best-scoring one are chosen among on the "
                           "priority (a difference not shown is not a difference shown to be absent)",
    "non_inferior": "a survivor is chosen among only when its paired interval shows it at most small_difference worse "
                    "than the best-scoring one",
}


def esc(text: Any, limit: int | None = None) -> str:
    """Escape for a Markdown table cell: no pipes, no HTML, no formatting, one line."""
    s = "" if text is None else printable(str(text))
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


def _req_rows(r: dict[str, Any], esc: Any = esc) -> list[list[str]]:
    """The requirements as written, one row each; `esc` escapes outside text for the format (the
    HTML template autoescapes, so it passes `str`)."""
    q, lat, cost, comp, st, dec = (r[k] for k in ("quality", "latency", "cost", "compliance", "strategy", "decision"))
    fail = (f"${cost['failure_cost_usd']:,.2f} per failed answer" if cost.get("failure_cost_usd") is not None else
            f"{cost['failure_minutes']:g} minutes of someone's time at ${cost['hourly_rate_usd']:,.2f}/hour per failed answer"
            if cost.get("failure_minutes") is not None else
            "not stated (cost.failure_cost_usd, or failure_minutes with hourly_rate_usd)")
    rank = ("the total (API, hosting and failed answers)" if Cost.model_validate(cost).ranks_on_total
            else "the API bill")
    return [
        ["Quality bar", f"mean score ≥ {q['min_score']}" if q["min_score"] is not None else "not set"],
        ["Quality by tag", ", ".join(f"{esc(k)} ≥ {v}" for k, v in q["min_by_tag"].items()) or "—"],
        ["Must pass", ", ".join(esc(t) for t in q["must_pass"]) or "—"],
        ["Unacceptable", "; ".join(esc(t) for t in q.get("unacceptable") or []) or "—"],
        ["Latency", f"p50 ≤ {ms(lat['p50_ms'])}, p95 ≤ {ms(lat['p95_ms'])}"
                    + (f", time to first token p50 ≤ {ms(lat['ttft_p50_ms'])}" if lat.get("ttft_p50_ms") else "")],
        ["Cost", f"≤ {usd(cost['max_per_request_usd'])} per request; " + (
            f"≤ {usd(cost['monthly_budget_usd'], 2)}/month at {cost['monthly_requests']:,} requests/month "
            f"(+{cost['monthly_growth_pct']:g}%/month)" if cost.get("monthly_requests") else
            "monthly volume not stated (cost.monthly_requests), so no monthly cost is projected or judged")],
        ["What a failed answer costs", f"{fail}; the cost priority ranks on {rank}"],
        ["Compliance", f"sensitivity {comp['data_sensitivity'] or 'unstated'}; regions {', '.join(comp['allowed_regions'] or ['any'])}; "
                       f"no training {comp['require_no_training']}; BAA {comp['require_baa']}; retention ≤ "
                       f"{comp['max_retention_days'] if comp['max_retention_days'] is not None else 'any'} days; "
                       f"self-hosted only {comp['self_hosted_only']}"],
        ["Strategy", f"position {st.get('position') or '—'}; lock-in tolerance {st['lock_in_tolerance']}; "
                     f"prefer open weights {st['prefer_open_weights']}; fine-tuning {st['fine_tuning_needed']}; "
                     f"modalities {', '.join(st['modalities'])}; min context {st['min_context_tokens'] or '—'}"],
        ["Decision policy", f"small difference {dec['small_difference']}; equivalence {dec['equivalence']}; priority "
                            f"{' then '.join(dec['priority'])}; max error rate {pct(dec['max_error_rate'])}"],
    ]


def status_text(s: Summary, markdown: bool = True) -> str:
    """One word, and why when the word is not 'Decided'. markdown=False: the words unescaped, for
    a page that escapes them itself (HTML), so `OPENAI_API_KEY` is not shown as `OPENAI\\_API\\_KEY`."""
    e = esc if markdown else str
    d, ev = s.decision, s.evidence
    if not d.chosen:
        return "**No candidate qualifies**"
    if ev.status == "provisional":
        word = "**Provisional (partial run)**" if d.partial_data else "**Provisional**"
        return f"{word}: {e(d.chosen)}, until " + "; ".join(e(x) for x in ev.provisional_because)
    return f"Decided: **{e(d.chosen)}** (every shortlisted candidate was judged)"


def _header(s: Summary, L: list[str]) -> None:
    d, run, req = s.decision, s.run, s.requirements
    L.append(f"# Decision record: {esc(req.get('name') or 'LLM selection')}\n")
    L.append("## In one minute\n")
    L += [f"- {line}" for line in opening(s)]
    L.append("")
    L.append(f"- Status: {status_text(s)}")
    if req.get("owner"):
        L.append(f"- Owner: {esc(req['owner'])}")
    L.append(f"- Approver: {esc(req['approver'])}" if req.get("approver") else
             "- Approver: not named (requirements' `approver:`)")
    L.append(f"- Date: {run.finished_at[:10]}; next review by {d.review.next_review_date if d.review else '—'}")
    if s.supersedes is not None:
        sp = s.supersedes
        L.append(f"- Supersedes the record of {sp.date} (chose {esc(sp.chosen or 'nothing')}; `{esc(sp.folder)}`); "
                 "since then: " + "; ".join(esc(c) for c in sp.changes))
    else:
        L.append("- Supersedes: nothing (the first record for these requirements here)")
    for dep in s.deployments:
        L.append(f"- Deployed as `{esc(dep.file)}` ({dep.format}, sha256 `{dep.sha256}`), written {dep.at[:10]}")
    tries = ("independent tries each (run.repeats; the same request and parameters every try, each cached under its "
             "own key)" if run.repeat > 1 else "try each")
    L.append(f"- Eval set: `{esc(run.evalset_rel or run.evalset)}` (relative to the requirements file), "
             f"{run.n_examples} examples x {run.repeat} {tries}")
    if run.media is not None:
        m = run.media
        L.append(f"- Images and documents: {m.images} image(s), {m.documents} PDF(s) ({m.pages} page(s)), "
                 f"{m.bytes / 1024:,.0f} kB, in {m.examples} examples: " + ", ".join(f"`{esc(f)}`" for f in m.files)
                 + (", ..." if m.images + m.documents > len(m.files) else "") + " (each file's name, size and sha256 "
                 "are in records.jsonl)")
    if run.prices is not None:
        p = run.prices
        L.append(f"- Prices: genai-prices {esc(p.version)} snapshot, true as of {p.as_of or 'unknown'} ({esc(p.source)})"
                 + (f" — **{p.age_days} days old: check current prices before relying on costs**" if p.stale else ""))
        if p.warning:
            L.append(f"- **Unknown price snapshot**: {esc(p.warning)}")
    if run.replayed:
        L.append("- **Replayed**: answers come from an earlier run's records, not from fresh model calls.")
    if run.budget_stopped:
        L.append(f"- **Budget guard stopped the run** at {usd(run.spent_usd)} of {usd(run.budget_usd)}: "
                 f"{run.calls_not_made} calls were not made.")
    if d.partial_data:
        L.append(f"- **Partial data**: {esc(d.partial_data)}")
    if d.evidence_missing:
        L.append(f"- **Evidence missing**: {esc(d.evidence_missing)}")
    if run.batch is not None:
        L.append(f"- {esc(batch_text(s))}")
    if run.loop_lag is not None and run.loop_lag.flagged:
        lag = run.loop_lag
        L.append(f"- **This machine was a limit**: its event loop woke {lag.p95_ms:g} ms late at p95 (max {lag.max_ms:g} ms) "
                 "while calls were in flight, so the latency figures include up to that much queueing on this machine, "
                 "not at the provider. Lower `concurrency` (or use more cores) to measure without it.")
    for note in req.get("position_defaults") or []:
        L.append(f"- Default from the strategic position: {esc(note)}")


def batch_text(s: Summary) -> str:
    """What ran how in a --batch run, and what that changes in the record."""
    b = s.run.batch
    assert b is not None
    batched = {cid: c for cid, c in b.candidates.items() if c.mode == "batch"}
    live = {cid: c for cid, c in b.candidates.items() if c.mode == "live"}
    parts = []
    if batched:
        names = ", ".join(f"'{cid}' ({c.api}" + (", collected from a batch submitted earlier" if c.resumed else "")
                          + (f", {c.retried_live} failed lines made live" if c.retried_live else "")
                          + (f"; REJECTED: {c.rejected}" if c.rejected else "")
                          + (f"; {c.bad_usage} lines reported impossible usage (errors, not billed)" if c.bad_usage else "")
                          + (f"; {c.left_out} requests left out (the results file's fault)" if c.left_out else "")
                          + (f"; results file: {'; '.join(c.problems)}" if c.problems else "") + ")"
                          for cid, c in batched.items())
        n = max(c.live_sample for c in batched.values())
        parts.append(f"Batch: the quality calls of {names} ran through the providers' batch APIs, billed "
                     f"${b.billed_usd:.4f} at batch rates against ${b.at_live_usd:.4f} at live rates (saved "
                     f"${b.saving_usd:.4f}); their quality rests on the batch, their latency on {n} live calls each "
                     "(a batch says nothing about latency), so latency intervals are those of n live calls")
    if live:
        parts.append("ran live: " + "; ".join(f"'{cid}' ({c.why_live})" for cid, c in live.items()))
    parts.append(f"costs are judged at the {b.processing} price production will pay (cost.processing)")
    return "; ".join(parts) + "."


def _risks(s: Summary, L: list[str]) -> None:
    L.append("\n## Risks\n")
    L += [f"- {esc(r)}" for r in s.evidence.risks] or ["- None found: nothing the requirements say must not happen "
                                                       "happened, and no check is at risk."]


def _decision(s: Summary, L: list[str]) -> None:
    d = s.decision
    L.append("\n## Decision\n")
    if d.chosen:
        L.append(f"Use **{esc(d.chosen)}**" + (f", with **{esc(d.fallback)}** as fallback." if d.fallback else "."))
        L.append("")
    for line in differences(s):
        L.append(f"- {esc(line)}")
    for note in d.lifecycle:
        L.append(f"- **Retirement**: {esc(note)}")
    for m in d.nearest_misses:
        L.append(f"- Nearest miss **{esc(m.candidate)}** ({m.n_failed} requirement(s) missed):")
        for f in m.failed:
            if f.move_limit_to is None or f.limit is None:
                L.append(f"  - {esc(f.requirement)}: {esc(f.text)} (no limit to move: these examples would have to pass)")
                continue
            word = "lowered" if f.higher_is_better else "raised"
            L.append(f"  - {esc(f.requirement)} would have to be {word} from {f.limit:g} to {f.move_limit_to:g} "
                     f"(by {abs(f.by or 0):g})")
    if (vs := versus(s)):
        L.append(f"\n### Against {esc(s.evidence.versus.baseline)}\n")  # type: ignore[union-attr]
        L += [esc(x) + "\n" for x in vs]
    for cid, m in s.evidence.confusion.items():
        L.append(f"\n{esc(cid)}: expected label (rows) against the label answered (columns)\n")
        cols = sorted({k for row in m.values() for k in row})
        L.append(table(["expected \\ answered"] + [esc(c) for c in cols],
                       [[esc(e)] + [str(m[e].get(c, 0) or "·") for c in cols] for e in sorted(m)]))


def _appendix(s: Summary, L: list[str]) -> None:
    """The statistics the plain sentences rest on: the rule, the tests and their p-values, the family."""
    d = s.decision
    L.append("\n## Appendix: the statistics\n")
    if d.rule:
        L.append(f"Rule applied: {esc(d.rule)}. Equivalence policy `{d.policy}`: {POLICY[d.policy]}.\n")
    for r in d.reasons:
        L.append(f"- {esc(r)}")
    if d.multiplicity and len(s.comparisons) > 1:
        L.append(f"- Multiple comparisons: {esc(d.multiplicity)}.")
    L.append("\n### What the data can and cannot tell apart\n")
    L.append(esc(difference_sentence(s)) + " " + esc(resolution_text(s)))
    if s.comparisons:
        L.append("\n### Paired comparisons (same examples)\n")
        rows = [[esc(c.a), esc(c.b), f"{c.diff:+.3f}", f"[{c.lo:+.3f}, {c.hi:+.3f}]" if c.lo is not None and c.hi is not None else "—",
                 p_text(c.p_value), p_text(c.p_holm), short(TESTS, c.test),
                 "yes" if c.significant else "no", f"{c.n} ({c.clusters})" if c.clusters else str(c.n)]
                for c in s.comparisons]
        L.append(table(["A", "B", "A − B", "95% CI", "p", "p (Holm)", "test", "interval excludes 0", "n"], rows))
        L.append("\nEach interval inverts the test beside it, so 'interval excludes 0' and 'p < 0.05' always agree. "
                 f"Holm-adjusted p-values are over all {len(s.comparisons)} pairs in this table, one family: a verdict "
                 "of 'worse' needs the Holm-adjusted p below 0.05. Where examples share clusters the comparison is "
                 "made between clusters and n counts examples (clusters in brackets). " + tests_text(s))


def _results(s: Summary, L: list[str]) -> None:
    L.append("\n## Results\n")
    rows = results_rows(s)
    keys = [k for k in HEADERS if k != "total" or any(r["total"] != "—" for r in rows)]
    L.append(table([HEADERS[k] for k in keys], [[esc(r[k]) for k in keys] for r in rows]))
    L.append("\n" + esc(quality_methods_text(s)) + " "
             "Latency is what a request waited from its first attempt to its answer, failed attempts and back-off "
             "included. Latency percentiles carry distribution-free "
             "95% intervals from order statistics: a p95 from fewer than 59 calls has no upper bound, and says so.")
    for note in _result_notes(s):
        L.append(f"\n{esc(note)}")
    _judge_error(s, L)
    cold = {cid: c.latency.cold_excluded for cid, c in s.candidates.items() if c.latency.cold_excluded}
    if cold:
        L.append("\nLatency percentiles are of warm calls: calls that started before their client had answered once carry "
                 "the SDK's cold start and new connections, which a running service does not pay, and were left out ("
                 + ", ".join(f"{esc(k)}: {v}" for k, v in cold.items()) + ").")
    _media_costs(s, L)
    _latency_conditions(s, L)
    tools = [(cid, tool_use_text(c.tool_use)) for cid, c in s.candidates.items() if c.tool_use is not None]
    if tools:
        L.append("\n### What each candidate did with the tools\n")
        L += [f"- {esc(cid)}: {esc(text)}" for cid, text in tools]
        L.append("\nCounted per call (repeats included); a request that ended in an error is neither right nor an "
                 "unwanted call. Every miss keeps its reason in records.jsonl and the HTML drill-down.")
    _cost_conditions(s, L)
    _consistency(s, L)
    tags = sorted({t for c in s.candidates.values() for t in c.by_tag})
    if tags:
        L.append("\n### Quality by tag\n")
        rows = [[esc(cid)] + [esc(q_ci(c.by_tag.get(t))) for t in tags] for cid, c in s.candidates.items() if c.by_tag]
        L.append(table(["Candidate"] + [esc(t) for t in tags], rows))


def _judge_error(s: Summary, L: list[str]) -> None:
    """How the judge's own error enters quality (analysis/judge_error.py), or that it does not."""
    if s.judge is None or not s.judge.note:
        return
    L.append("\n### The judge's own error\n")
    L.append(esc(s.judge.note))
    rows = [[esc(cid), str(c.judge.n), str(c.judge.own), esc(rate_ci(c.judge.agreement)), esc(rate_ci(c.judge.sensitivity)),
             esc(rate_ci(c.judge.specificity)),
             esc(f"{c.judge.judged_mean:.3f} → {q_ci(c.quality)}" if c.judge.corrected and c.judge.judged_mean is not None
                 else c.judge.note or "—")]
            for cid, c in s.candidates.items() if c.judge is not None]
    if rows:
        L.append("\n" + table(["Candidate", "Rows", "Naming it", "Agreement", "Sensitivity (passes what people pass)",
                                "Specificity (fails what people fail)", "Quality: judged → corrected"], rows))


def rate_ci(r: Any) -> str:
    if r is None or r.value is None:
        return "—"
    return f"{r.value * 100:.0f}% [{(r.lo or 0) * 100:.0f}, {(r.hi or 0) * 100:.0f}] (n={r.n})"


def _media_costs(s: Summary, L: list[str]) -> None:
    """Cost per image and per PDF page, where the examples carry them."""
    rows = []
    for cid, c in s.candidates.items():
        k = c.cost
        if k.per_image_n or k.per_page_n:
            rows.append([esc(cid), usd_ci(k.per_image_usd, k.per_image_lo, k.per_image_hi) if k.per_image_n else "—",
                         str(k.per_image_n or "—"), usd_ci(k.per_page_usd, k.per_page_lo, k.per_page_hi)
                         if k.per_page_n else "—", str(k.per_page_n or "—")])
    if rows:
        L.append("\n### Cost per image and per page\n")
        L.append(table(["Candidate", "Per image [95% CI]", "n", "Per PDF page [95% CI]", "n"], rows))
        L.append("\nA call's billed cost (its image and document tokens as the API reported them, at the input rate, "
                 "with its text) shared over the images or pages it sent; n: answered calls that sent any.")


def _consistency(s: Summary, L: list[str]) -> None:
    """Right every time: per candidate, the mean over tries, right on all K, on at least one, and
    the examples that flip, named."""
    rows = consistency_rows(s)
    if not rows:
        return
    k = s.run.repeat
    L.append(f"\n### Right every time ({k} independent tries per example)\n")
    L.append(table(["Candidate", "mean over tries", f"right on all {k} (pass^{k})", f"right on at least 1 of {k} "
                    f"(pass@{k})", "examples that flip"], [[esc(x) for x in r[:5]] for r in rows]))
    L.append(f"\nEach interval is over examples (the {k} tries of one example are one unit, never {k}; clustered where "
             "examples share a cluster); an error is a wrong try. An example that flips was right on some tries and "
             "wrong on others: the same request can get a different answer tomorrow.")
    for r in rows:
        if r[5]:
            L.append(f"\n{esc(r[0])} flips on: {esc(', '.join(r[5]))}.")


def _latency_conditions(s: Summary, L: list[str]) -> None:
    """Where each judged latency comes from, under which load, how far this machine may have moved
    it (the control endpoint), and the figures by input size."""
    lines = [f"- {esc(cid)}: {esc(t)}" for cid, c in s.candidates.items() if (t := latency_condition(c.latency))]
    if lines:
        L.append("\n### Latency: where the judged figures come from\n")
        L += lines
    rows = [[esc(cid), esc(b), str(q.n), esc(quantile(q.p50)), esc(quantile(q.p95)),
             esc(quantile(q.ttft_p50)) if q.ttft_p50 else "—", f"{q.output_tokens_per_s:g}" if q.output_tokens_per_s else "—"]
            for cid, c in s.candidates.items() for b, q in c.latency.by_input.items()]
    if rows:
        L.append("\n### Latency by input size\n")
        L.append(table(["Candidate", "Input", "n", "p50 [95% CI]", "p95 [95% CI]", "TTFT p50", "Output tokens/s"], rows))
        L.append("\nThe percentiles above the table are over the eval set's own mix of input sizes: the mix production "
                 "sends, as far as the eval set (or the traces it came from) represents it.")


def _cost_conditions(s: Summary, L: list[str]) -> None:
    """How each month was projected: production's cache hit rate (named), tier, input lengths, fixed costs."""
    from modelsel.analysis import methods

    lines = [f"- {esc(cid)}: {esc(t)}" for cid, c in s.candidates.items() for t in cost_conditions(c.cost)]
    used = methods.sentence(methods.COST, [c.cost.interval_method or "" for c in s.candidates.values()])
    if lines:
        L.append("\n### Cost: the month as production will be billed\n")
        L += lines
    if used:
        L.append(f"\nCost per request carries a 95% interval: {esc(used)}.")


def _result_notes(s: Summary) -> list[str]:
    """What the table's figures leave out, said once per candidate it concerns."""
    out = []
    for cid, c in s.candidates.items():
        q = c.quality
        if c.errors and q.answered_mean is not None:
            out.append(f"Quality of answered calls only (errors left out; shown, not judged): '{cid}' {q.answered_mean:.3f} "
                       f"over {q.answered_n} examples, against {q.mean:.3f} counting its {c.errors} failed requests.")
        if c.retried_requests and c.latency.attempt_p95 is not None and c.latency.attempt_p95.value is not None:
            out.append(f"'{cid}': {c.retried_requests} of {c.n_calls} requests were retried ("
                       + ", ".join(f"{k} {n}" for k, n in c.retry_kinds.items())
                       + f"); the successful attempt alone has p50 {ms(c.latency.attempt_p50.value if c.latency.attempt_p50 else None)}"
                       f" and p95 {ms(c.latency.attempt_p95.value)}, the request as its user waited p95 "
                       f"{ms(c.latency.p95.value)}." + (" Rate limits can come from this run's own concurrency: lower "
                                                         "`concurrency` (or raise the account limit) to measure without "
                                                         "them." if "rate_limit" in c.retry_kinds else ""))
        if c.truncated:
            cap = (s.requirements.get("run") or {}).get("max_answer_chars") or 0
            out.append(f"'{cid}': {c.truncated} answer(s) ran past {cap:,} characters and were cut at {cap:,} characters "
                       "(run.max_answer_chars): the rest was never read or stored, so those answers are scored as cut "
                       "and their cost is a lower bound.")
        if c.cost.reasoning_tokens_mean:
            out.append(f"'{cid}' spent {c.cost.reasoning_tokens_mean:,.0f} reasoning tokens per answer on average, "
                       "billed at the output rate and included in its cost.")
    return out


def _went_wrong(s: Summary, wrong: list[Record], total: int, L: list[str]) -> None:
    focus = s.decision.chosen or next(iter(s.candidates), None)
    if not focus or not wrong:
        return
    L.append(f"\n### Where {esc(focus)} went wrong ({s.candidates[focus].quality.failed} of {total} calls)\n")
    L.append(table(["Example", "Tags", "Input", "Expected", "Answer", "Why"],
                   [[esc(r.example_id), esc(", ".join(r.tags)), esc(r.input, 80), esc(r.expected, 40),
                     esc(answer_text(r) if not r.error else f"error: {r.error}", 80), esc(r.reason, 60)] for r in wrong[:10]]))
    if s.candidates[focus].quality.failed > 10:
        L.append(f"\n{s.candidates[focus].quality.failed - 10} more in records.csv and the HTML report.")


def _status(s: Summary, L: list[str]) -> None:
    d = s.decision
    L.append("\n## Candidates eliminated\n")
    if not d.eliminated:
        L.append("None.")
    for cid, reasons in d.eliminated.items():
        L.append(f"- **{esc(cid)}**")
        L += [f"  - {esc(r)}" for r in reasons]
    L.append("\n## Not evaluated\n")
    if not d.not_evaluated:
        L.append("Every candidate that passed compliance was evaluated.")
    for cid, why in d.not_evaluated.items():
        L.append(f"- **{esc(cid)}**: {esc(why)}")
    L.append("\n## Trade-offs acknowledged\n")
    L += [f"- {esc(t)}" for t in d.trade_offs or ["None recorded."]]


def fallback_lines(s: Summary) -> list[str]:
    """The fallback and migration plan, plain (each format escapes)."""
    d, req = s.decision, s.requirements
    out = []
    if d.fallback and d.fallback_cost:
        fc = d.fallback_cost
        cost = (f"cost by {usd(fc.monthly_usd_diff, 2)}/month" if fc.monthly_usd_diff is not None else
                f"cost by {usd(fc.per_request_usd_diff)} per request (the monthly volume is not stated)")
        out.append(f"Fallback: {d.fallback}. Once switched over, it changes quality by {fc.quality_diff * 100:+.1f} "
                   f"points, p95 latency by {fc.p95_ms_diff:+.0f} ms and {cost}.")
        chain = next((x for x in s.strategies.strategies if x.kind == "fallback_chain"
                      and x.latency_when_falling_back_ms is not None), None)
        if chain is not None:  # the other figure a reader meets: a request that fails over live
            out.append(f"A request that fails over live (the chain in Strategies) first waits the timeout, then the "
                       f"fallback: about {ms(chain.latency_when_falling_back_ms)} for that request; the +/- above is "
                       "after a switch, not per failed request.")
    if d.fallback_note:
        out.append(d.fallback_note)
    chosen = s.candidates.get(d.chosen or "")
    if chosen is not None and chosen.provider == "python":
        out.append(f"Migration: {d.chosen} is your own code, tied to no provider; a model that replaces it needs its own "
                   "prompt, and this eval set re-run on it before switching.")
    else:
        out.append("Migration: keep prompts per model in the requirements file (they do not transfer cleanly), keep "
                   "output formats provider-neutral (plain labels or JSON validated by a schema), and re-run this eval "
                   "set on the new model before switching.")
    if req["strategy"].get("fine_tuning_needed"):
        out.append("Fine-tunes do not move between providers: budget a re-tune and re-evaluation when migrating.")
    be = d.self_hosting_break_even
    if be:
        out.append(f"Self-hosting {be.candidate} (fixed {usd(be.fixed_monthly_usd, 2)}/month) becomes cheaper at "
                   f"about {be.monthly_requests:,} requests/month.")
    return out


def _fallback(s: Summary, L: list[str]) -> None:
    L.append("\n## Fallback and migration plan\n")
    L += [f"- {esc(x)}" for x in fallback_lines(s)]


def strategy_detail(x: StrategyResult) -> str:
    if x.table:
        return "; ".join(f"{t} -> {c}" for t, c in x.table.items()) + f". {x.detail}"
    if x.signal:
        return f"escalates {(x.escalation_rate or 0) * 100:.0f}% when {x.signal}"
    if x.availability_chain is not None:
        slow = (f"; a request that falls back waits the timeout and then the backup: about "
                f"{ms(x.latency_when_falling_back_ms)}" if x.latency_when_falling_back_ms is not None else "")
        return (f"availability {(x.availability_single or 0) * 100:.2f}% -> {x.availability_chain * 100:.2f}% "
                f"({x.assumes}); {x.detail}{slow}")
    return x.detail or ("members: " + ", ".join(x.members))


def strategy_verdict(x: StrategyResult) -> str:
    if x.upper_bound:
        return "upper bound only: needs the answer key"
    if x.recommendable:
        return ("recommended: meets every requirement, beats the single model on the first priority and is shown "
                "non-inferior to it within small_difference")
    return x.why_not or "—"


def _strategies(s: Summary, L: list[str]) -> None:
    st = s.strategies
    L.append("\n## Strategies considered\n")
    if st.strategies:
        rows = []
        for x in st.strategies:
            f = x.figures
            if f is not None:
                q = q_ci(f.quality) + (f" (in sample {x.in_sample_quality.mean:.3f})" if x.in_sample_quality else "")
                vs = x.vs_single
                d = (f"{vs.diff * 100:+.1f} [{vs.lo * 100:+.1f}, {vs.hi * 100:+.1f}]"
                     if vs is not None and vs.lo is not None and vs.hi is not None else "—")
                rows.append([esc(x.name), esc(q), d, esc(per_request_ci(f.cost)), esc(monthly_ci(f.cost)),
                             esc(quantile(f.latency.p95)), esc(strategy_detail(x)), esc(strategy_verdict(x))])
            else:
                rows.append([esc(x.name), "—", "—", "—", "—", "—",
                             esc(strategy_detail(x)), esc(strategy_verdict(x))])
        L.append(table(["Strategy", "Quality [95% CI]", "vs single, points [95% CI]", "Cost/request [95% CI]",
                        "Monthly [95% CI]", "p95 [95% CI]",
                        "How", "Verdict"], rows))
        L.append("\nEvery strategy is measured like a single model (same interval methods, same warm-call latency "
                 "percentiles) and judged on the same requirements. Routing is scored out of sample; an oracle cascade is "
                 "only a ceiling.")
    L.append(f"\n{esc(st.why)}" + (f" Recommended: **{esc(st.recommended)}**." if st.recommended else ""))
    if st.ab_test:
        ab = st.ab_test
        L.append(f"\nA/B test in production to confirm {esc(ab.a)} against {esc(ab.b)} (both survivors): "
                 + (f"{ab.samples_per_arm:,} requests per arm ({esc(ab.note)})." if ab.samples_per_arm else esc(ab.note) + "."))


def _tail(s: Summary, L: list[str]) -> None:
    L.append("\n## Selection checklist\n")
    L += [f"- [{'x' if it.done else ' '}] {esc(it.item)}: {esc(it.detail)}" for it in s.checklist]
    L.append("\n## When to reconsider\n")
    rv = s.decision.review
    if rv:
        L.append(f"Next review: **{rv.next_review_date}** (every {rv.every_days} days, `modelsel review`). Reconsider sooner on:\n")
        L += [f"- {esc(t)}" for t in rv.triggers]
    L.append("\n## Provenance\n")
    prow = [[esc(cid), esc(c.provider), esc(c.model), esc(usd(c.price.input_per_mtok, 4)), esc(usd(c.price.output_per_mtok, 4)),
             "yes" if c.price.tiered else "no", esc(c.price.source), esc(c.price.as_of or "—")]
            for cid, c in s.candidates.items()]
    L.append(table(["Candidate", "API", "Model", "Input $/Mtok (base)", "Output $/Mtok (base)", "Tiers", "Price source",
                    "As of"], prow))
    L.append("\nCosts are priced call by call as the provider bills them: the call's own token counts (cached input at the "
             "cached rate, a long prompt at its tier) through the genai-prices snapshot for catalog models, the stated "
             "price for custom ones.")
    req = s.requirements
    L.append("\nScoring: " + "; ".join(esc(_scorer_text(x)) for x in req["scoring"])
             + f"; pass threshold {req['pass_threshold']}. Each record in `records.jsonl` keeps its scorers' parameters.")
    if s.judge:
        L.append(f"Judge model: {esc(s.judge.model)}; judge cost {usd(s.judge.cost_usd)} (not counted in any candidate's cost).")
    L.append(f"\nmodelsel {s.modelsel_version}, summary schema {s.schema_version}. Latency runs from a request's first attempt "
             "to its answer, back-off included, and never counts our own queue or cache lookups; cached answers keep the "
             "latency measured when they were made.")


def _production(s: Summary, L: list[str]) -> None:
    lines = production_section(s, esc)
    if lines:
        L.append("\n## Production today (from traces)\n")
        L += [f"- {x}" for x in lines]


def render_markdown(s: Summary, wrong: list[Record], wrong_total: int) -> str:
    """`wrong`: the chosen candidate's failed calls (the first ten are shown); `wrong_total`: its calls."""
    L: list[str] = []
    _header(s, L)
    L.append("\n## Context\n")
    L.append(esc(s.requirements["task"]))
    _risks(s, L)
    _decision(s, L)
    _production(s, L)
    L.append("\n## Requirements as written\n")
    L.append(table(["Requirement", "Value"], _req_rows(s.requirements)))
    _results(s, L)
    _went_wrong(s, wrong, wrong_total, L)
    _status(s, L)
    _fallback(s, L)
    _strategies(s, L)
    _tail(s, L)
    _appendix(s, L)
    return "\n".join(L) + "\n"


def _scorer_text(x: dict[str, Any]) -> str:
    params = {k: v for k, v in x.items() if k not in ("type", "weight")}
    return x["type"] + (f" {params}" if params else "") + (f" x{x['weight']:g}" if x.get("weight", 1) != 1 else "")
