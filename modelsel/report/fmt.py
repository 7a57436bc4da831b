"""Number formatting and the sentences every report shares, so a figure reads the same in the
terminal, decision.md and report.html."""

from __future__ import annotations

from typing import Any

from modelsel import numbers
from modelsel.numbers import shown_ends, usd
from modelsel.schema import (
    CandidateEntry,
    Comparison,
    CostFigures,
    Decision,
    Flips,
    LatencyFigures,
    PassK,
    QualityFigures,
    Quantile,
    Resolution,
    Summary,
)


def q_ci(block: QualityFigures | None) -> str:
    if block is None or block.mean is None:
        return "—"
    if block.lo is None or block.hi is None:
        return f"{block.mean:.3f} (n={block.n}, no interval)"
    return f"{block.mean:.3f} [{block.lo:.2f}, {block.hi:.2f}]"


def share_ci(p: PassK | Flips | None) -> str:
    """A share of examples with its interval and n: '61% (95% CI 50%–71%, n=80)'."""
    if p is None or p.value is None:
        return "—"
    ci = f"95% CI {p.lo * 100:.0f}%–{p.hi * 100:.0f}%, " if p.lo is not None and p.hi is not None else "no interval, "
    return f"{p.value * 100:.0f}% ({ci}n={p.n})"


def consistency_rows(s: Summary) -> list[list[Any]]:
    """Per candidate with K >= 2 tries: [id, mean over tries, pass^k, pass@k, flips, flipping ids]."""
    out: list[list[Any]] = []
    for cid, c in s.candidates.items():
        q = c.quality
        if q.pass_all is None or q.flips is None:
            continue
        fl = q.flips
        ci = f" (95% CI {fl.lo * 100:.0f}%–{fl.hi * 100:.0f}%)" if fl.lo is not None and fl.hi is not None else ""
        flips = f"{fl.count} of {fl.n}{ci}"
        out.append([cid, q_ci(q), share_ci(q.pass_all), share_ci(q.pass_at_k), flips, list(fl.ids)])
    return out


def ms(v: float | None) -> str:
    return "—" if v is None else numbers.ms(v)


def quantile(q: Quantile | None) -> str:
    """A latency percentile with its interval; an end the data cannot bound says so."""
    if q is None or q.value is None:
        return "—"
    lo = "?" if q.lo is None else ms(q.lo).replace(" ms", "")
    hi = "unbounded" if q.hi is None else ms(q.hi).replace(" ms", "")
    return f"{ms(q.value)} [{lo}, {hi}]"


def latency_condition(lat: LatencyFigures) -> str:
    """Where a judged latency comes from, under which load, and what this machine added meanwhile."""
    if not lat.n:
        return ""
    src = {"quality pass": "the quality pass", "quality pass + extra calls":
           f"the quality pass and {lat.extra_calls} latency-only calls added so the p95 could be bounded",
           "quiet pass": "a quiet pass (this machine distorted the quality pass's calls)",
           "load pass": "a pass at the stated production load"}.get(lat.source, lat.source)
    out = f"{lat.n} warm calls from {src}"
    if lat.load:
        out += f", under {lat.load}"
    if lat.machine_added_p50_ms is not None:
        out += (f"; this machine added {lat.machine_added_p50_ms:g} ms at the median (p95 {lat.machine_added_p95_ms:g} ms) "
                f"to the control endpoint's calls meanwhile ({lat.machine_added_n} calls), so the figures may be that "
                "much above what the provider took")
        if lat.machine_floor_ms is not None and lat.source != "quiet pass":
            out += (f"; {lat.machine_floor_ms:g} ms of it a call pays here with nothing else in flight (the control "
                    "alone, after the pass), which a quiet pass could not remove, so none was made")
    if lat.sustained_rps is not None:
        out += f"; sustained {lat.sustained_rps:g} answered requests/s"
    if lat.not_judged:
        out += f"; latency not judged: {lat.not_judged}"
    elif lat.load_problem:
        out += f"; it {lat.load_problem}"
    if lat.extra_declined:
        out += "; --no-extra-calls: a percentile without enough calls is not judged"
    if lat.extra_stopped:
        out += f"; latency-only calls stopped: {lat.extra_stopped}"
    if lat.extra_dropped:
        out += (f"; {lat.extra_dropped} latency-only call{'s' if lat.extra_dropped != 1 else ''} failed after one retry "
                f"and {'were' if lat.extra_dropped != 1 else 'was'} left out (they were optional)")
    return out + "."


def usd_ci(v: float | None, lo: float | None, hi: float | None, digits: int | None = None) -> str:
    """A cost from a sample of calls with its 95% interval (the t interval of the mean cost per
    call, carried to the monthly volume); a cost that did not vary has none to show."""
    if v is None:
        return usd(v, digits)
    d = digits if digits is not None else (2 if abs(v) >= 1 else 6)
    ends = shown_ends(lo, hi, f"{{:,.{d}f}}")
    return f"{usd(v, d)} [{ends[0]}, {ends[1]}]" if ends else usd(v, d)


def pct(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v * 100:.{digits}f}%"


def status_word(entry: CandidateEntry, decision: Decision, cid: str) -> str:
    if cid == decision.chosen:
        return "CHOSEN"
    if cid == decision.fallback:
        return "fallback"
    return {"evaluated": "qualifies", "eliminated": "eliminated", "not_evaluated": "not evaluated"}[entry.status]


def errors_text(c: CandidateEntry) -> str:
    """Failed calls with their kinds, e.g. '3/80 (rate_limit 2, timeout 1)'."""
    if not c.n_calls:
        return "—"
    kinds = ", ".join(f"{k} {n}" for k, n in c.error_kinds.items())
    return f"{c.errors}/{c.n_calls}" + (f" ({kinds})" if kinds else "")


def per_request_ci(c: CostFigures) -> str:
    return usd_ci(c.per_request_usd, c.per_request_lo, c.per_request_hi)


def monthly_ci(c: CostFigures) -> str:
    return usd_ci(c.monthly_usd, c.monthly_lo, c.monthly_hi, 2)


def retried_text(c: CandidateEntry) -> str:
    """Requests that needed more than one attempt, and why, e.g. '3/12 (rate_limit 3)'."""
    if not c.n_calls or not c.retried_requests:
        return "—" if not c.n_calls else "0"
    kinds = ", ".join(f"{k} {n}" for k, n in c.retry_kinds.items())
    return f"{c.retried_requests}/{c.n_calls}" + (f" ({kinds})" if kinds else "")


def n_text(c: CandidateEntry) -> str:
    """Examples, and the independent clusters they fall in where that is fewer."""
    return f"{c.n} ({c.quality.clusters} clusters)" if c.quality.clusters else str(c.n)


HEADERS = {"candidate": "Candidate", "status": "Status", "quality": "Quality [95% CI]", "pass_rate": "Pass rate",
           "p50": "p50 [95% CI]", "p95": "p95 [95% CI]", "per_request": "Cost/request [95% CI]", "monthly": "Monthly [95% CI]",
           "total": "Total/month with failures [95% CI]", "errors": "Errors", "retried": "Retried", "n": "n"}


def cost_conditions(c: CostFigures) -> list[str]:
    """How a candidate's month was projected as production will be billed, in words: the cache hit
    rate and its assumption (the eval's own beside it), the tier and its price, production's input
    lengths, the fixed cost per request and instances, break-evens, dated prices, the interval."""
    out = []
    if c.cache_hit_rate_text:
        ev = f"; the eval's own hit rate was {c.eval_cache_hit_rate:.0%}, set by its order and concurrency, not " \
             "projected" if c.eval_cache_hit_rate is not None else ""
        out.append(f"prompt cache: a {c.cache_prefix_tokens or 0:,}-token shared prefix, production's hit rate "
                   f"{c.cache_hit_rate_text}{ev}")
    if c.service_tier:
        out.append(f"service tier {c.service_tier}: {c.service_tier_price or 'priced at its rate'}")
    if c.long_context_from_tokens and c.long_context_share is not None:
        out.append(f"long context: {c.long_context_share:.0%} of production's requests are over "
                   f"{c.long_context_from_tokens:,} input tokens ({c.input_lengths_source}), the eval set's "
                   f"{(c.eval_long_context_share or 0):.0%}; the month is priced at production's mix")
    elif c.long_context_from_tokens and c.eval_long_context_share:
        out.append(f"long context: {c.eval_long_context_share:.0%} of the eval set's requests are over "
                   f"{c.long_context_from_tokens:,} input tokens; production's lengths are not stated "
                   "(cost.input_tokens), so the month assumes the eval set's mix")
    if c.fixed_per_request_usd:
        out.append(f"fixed cost {usd(c.fixed_monthly_usd, 2)}/month is {usd(c.fixed_per_request_usd)} a request at "
                   "the stated volume (in the cost per request and every check)")
    if c.instances_note:
        out.append(f"self-hosting: {c.instances_note}; the fee grows with the volume")
    for other, vol in c.break_even.items():
        out.append(f"break-even with {other}: cheaper above about {vol:,.0f} requests/month")
    out += c.price_changes
    return out


def total_ci(c: Any) -> str:
    """API, hosting and what the failed answers cost, a month, with its interval ('—' without a failure cost)."""
    if c.total_monthly_usd is None:
        return "—"
    ends = (f" [{c.total_monthly_lo:,.0f}, {c.total_monthly_hi:,.0f}]"
            if c.total_monthly_lo is not None and c.total_monthly_hi is not None else "")
    return f"${c.total_monthly_usd:,.0f}{ends}"


def results_rows(s: Summary) -> list[dict[str, str]]:
    rows = []
    for cid, c in s.candidates.items():
        rows.append({
            "candidate": cid + (f" ({c.cost.service_tier})" if c.cost.service_tier else ""),
            "status": status_word(c, s.decision, cid), "quality": q_ci(c.quality),
            "pass_rate": pct(c.quality.pass_rate), "p50": quantile(c.latency.p50), "p95": quantile(c.latency.p95),
            "per_request": per_request_ci(c.cost), "monthly": monthly_ci(c.cost), "total": total_ci(c.cost),
            "errors": errors_text(c),
            "retried": retried_text(c), "n": n_text(c),
        })
    return rows


def resolution_text(s: Summary) -> str:
    return resolution_sentence(s.resolution)


def resolution_sentence(res: Resolution) -> str:
    """What an eval set can and cannot tell apart: one sentence for `check` (before any answer,
    the paired SD assumed at its pass/fail maximum 0.5) and for the record (the SD observed)."""
    if not res.n_examples or res.resolvable_difference is None:
        return "No examples were answered, so no quality difference can be resolved."
    n = f"{res.n_examples} examples"
    if res.clusters:
        n += (f" in {res.clusters} clusters (worth about {res.n_effective:g} independent examples: design effect "
              f"{res.design_effect:g})")
    fam = (f" once the {res.family} comparisons are counted (Holm's strictest step tests a pair at "
           f"{res.alpha_per_pair:.4g})" if res.family > 1 and res.alpha_per_pair else "")
    if not res.can_show:
        return (f"With {n}, no quality difference can be shown, whatever its size{fam}: the cluster sign-flip test's "
                f"smallest possible p-value with {res.clusters} clusters is not below the level it is tested at. About "
                f"{res.clusters_needed} clusters would do; until then the evidence to choose between survivors is missing.")
    what = "quality differences" if res.on == "mean score" else f"differences in the share {res.on}"
    out = (f"With {n}, {what} under about {res.resolvable_difference * 100:.0f} points "
           f"cannot be told apart{fam} (80% power needs a true gap of "
           f"{(res.minimum_detectable_difference_80pct_power or 0) * 100:.0f} points; SD of paired differences "
           f"{res.sd_of_paired_differences}, {res.sd_source}).")
    if res.n_to_detect_small_difference and res.small_difference:
        out += (f" Telling a {res.small_difference * 100:g}-point gap apart would need about "
                f"{res.n_to_detect_small_difference:,} examples" + (" at the same clustering." if res.clusters else "."))
    return out


def difference_sentence(s: Summary) -> str:
    """What the paired differences against the choice show, in words."""
    d = s.decision
    if not d.chosen:
        return "No candidate meets the requirements, so no comparison between survivors was made."
    if len(d.survivors) < 2:
        return "Only one candidate meets the requirements: there is no survivor to compare it with."
    vs = [v for v in d.verdicts if v.comparison is not None and v.comparison.lo is not None and v.comparison.hi is not None]
    if not vs:
        return "No survivor shares enough answered examples with the best to compare them."
    shown = [v.candidate for v in vs if v.verdict == "worse"]
    equiv = [v.candidate for v in vs if v.verdict in ("equivalent", "non_inferior")]
    open_ = [v for v in vs if v.verdict in ("not_distinguishable", "not_shown_non_inferior")]
    parts = []
    if shown:
        parts.append(f"'{d.best}' is shown to score higher than {', '.join(repr(x) for x in shown)}")
    if equiv:
        word = "equivalent to" if d.policy == "not_distinguishable" else "non-inferior to"
        parts.append(f"{', '.join(repr(x) for x in equiv)} {'is' if len(equiv) == 1 else 'are'} shown {word} '{d.best}' "
                     f"within {s.requirements['decision']['small_difference']:g}")
    if open_:
        reach = max(max(abs(v.comparison.lo), abs(v.comparison.hi)) for v in open_ if v.comparison) * 100  # type: ignore[arg-type]
        parts.append(f"{', '.join(repr(v.candidate) for v in open_)} {'is' if len(open_) == 1 else 'are'} not shown to "
                     f"differ from '{d.best}'; gaps up to {reach:.0f} points are not ruled out")
    return "; ".join(parts) + "."


def comparison_of(s: Summary, a: str, b: str) -> tuple[float, float | None, float | None, Comparison] | None:
    """a - b in points with its interval, whichever way the stored comparison runs."""
    for c in s.comparisons:
        if {c.a, c.b} == {a, b}:
            sign = 1 if c.a == a else -1
            lo, hi = (c.lo, c.hi) if sign == 1 else ((-c.hi if c.hi is not None else None),
                                                     (-c.lo if c.lo is not None else None))
            return sign * c.diff * 100, None if lo is None else lo * 100, None if hi is None else hi * 100, c
    return None


def quality_methods_text(s: Summary) -> str:
    """How the quality intervals of this run were made, naming only the methods that ran
    (analysis/methods.py is the one table)."""
    from modelsel.analysis.methods import QUALITY, sentence

    used = sentence(QUALITY, (c.quality.method for c in s.candidates.values()))
    return (f"Quality is the mean score over examples (repeats pooled) with a 95% interval: {used}" if used else
            "Quality is the mean score over examples (repeats pooled)") + "; a request that ended in an error is a failed answer."


def tests_text(s: Summary) -> str:
    """The paired comparisons' tests that ran, named from the one table."""
    from modelsel.analysis.methods import TESTS, sentence

    used = sentence(TESTS, (c.test for c in s.comparisons))
    return f"Tests used: {used}." if used else ""
