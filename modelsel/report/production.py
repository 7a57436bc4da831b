"""What production runs today (the requirements' `production:` block, from `modelsel import traces`)
beside what this run measured: one line for the opening, a section for the record, the lines
`check` prints about the sample. Pure text; `e` escapes the names that come from traces (Markdown
passes its escape, HTML autoescapes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelsel.inputs.production import Production, Timing, from_requirements
from modelsel.numbers import ms
from modelsel.report.fmt import comparison_of
from modelsel.schema import Summary

Esc = Callable[[Any], str]


def _plain(x: Any) -> str:
    return str(x)


def _t(t: Timing) -> str:
    if not t.n or t.p50_ms is None:
        return "no timed calls"
    ci = (f" (95% CI {ms(t.p95_lo_ms)}–{ms(t.p95_hi_ms)})" if t.p95_lo_ms is not None and t.p95_hi_ms is not None
          else " (too few calls to bound it)" if t.n < 59 else "")
    ttft = f", first token {ms(t.ttft_p50_ms)} at the median" if t.ttft_p50_ms is not None else ""
    return f"p50 {ms(t.p50_ms)}, p95 {ms(t.p95_ms)}{ci}{ttft} over {t.n:,} calls"


def _mix(shares: dict[str, float], e: Esc, top: int = 4) -> str:
    items = list(shares.items())[:top]
    return ", ".join(f"{e(k)} {v:.0%}" for k, v in items) + (f" and {len(shares) - top} more" if len(shares) > top else "")


def _tok(p: dict[str, Any]) -> str:
    a, b = p.get("input_tokens_p50"), p.get("input_tokens_p95")
    return "—" if a is None else f"{a:,.0f} / {b:,.0f}"


def sample_lines(p: Production, e: Esc = _plain) -> list[str]:
    """How the sample was drawn and how it compares with the whole traffic."""
    w, s = p.whole, p.sample
    spans = p.model_calls + sum(p.skipped.values())
    out = [f"Sample of {s.get('size')} from {w.get('calls'):,} model calls traced {w.get('from') or '?'} to "
           f"{w.get('to') or '?'} ({s.get('distinct_calls'):,} distinct after {s.get('exact_repeats'):,} exact and "
           f"{s.get('near_repeats'):,} near-exact repeats)"
           + (f"; {sum(p.skipped.values()):,} of {spans:,} spans were not model calls or not text chats and were skipped ("
              + ", ".join(f"{e(k)} {n:,}" for k, n in p.skipped.items()) + ")" if p.skipped else "") + "."]
    how = (f"{s.get('included')} taken whole because they carry {', '.join(e(t) for t in s.get('include') or [])} "
           f"(counted apart), {s.get('proportional')} drawn " if s.get("included") else f"{s.get('proportional')} drawn ")
    out.append(how + f"{'in proportion to the traffic' if s.get('allocation') == 'proportional' else 'equally'} within "
               f"{s.get('strata')} strata (model x input length" + (f" x {e(s['route_key'])}" if s.get("route_key") else "")
               + f"), seed {s.get('seed')}.")
    out.append(f"Input tokens p50 / p95: sample {_tok(s)}, all traffic {_tok(w)}.")
    out.append(f"Models: sample {_mix(s.get('models') or {}, e)}; all traffic {_mix(w.get('models') or {}, e)}.")
    if w.get("routes"):
        out.append(f"Routes ({e(s.get('route_key'))}): sample {_mix(s.get('routes') or {}, e)}; all traffic "
                   f"{_mix(w.get('routes') or {}, e)}.")
    out.append(f"Input lengths (tokens): sample {_mix(s.get('input_lengths') or {}, e, 6)}; all traffic "
               f"{_mix(w.get('input_lengths') or {}, e, 6)}.")
    if p.left_out:
        out.append("Left out of the eval set though counted as traffic: " + ", ".join(f"{n:,} {e(k.replace('calls ', 'call ', 1) if n == 1 else k)}" for k, n in
                                                                                    p.left_out.items()) + ".")
    if p.pii_kept:
        out.append("**Personal data was kept** (--keep-pii): the eval set holds production's text as it was, but for "
                   "secrets (API keys, tokens, private keys), which are masked all the same.")
    else:
        red = ", ".join(f"{n} {k}" for k, n in p.pii_redacted.items() if n)
        kinds = ", ".join(p.pii_detected) or "e-mails, phone numbers, card numbers, IBANs, secrets"
        out.append("Personal data redacted before writing: " + (red or "none found") + f" (looked for: {kinds}; names "
                   "and street addresses are not detected).")
    if p.filters:
        out.append("Filters: " + "; ".join(f"{k} {e(v)}" for k, v in p.filters.items()) + ".")
    return out


def _traced(s: Summary, p: Production, e: Esc) -> list[str]:
    out = []
    for model, t in p.models.items():
        line = f"**{e(model)}**: {t.share:.0%} of traced calls; as the application saw it (span times, its network " \
               f"included): {_t(t.latency)}"
        if t.input_tokens_mean is not None:
            line += f"; {t.input_tokens_mean:,.0f} input" + (f" and {t.output_tokens_mean:,.0f} output" if
                                                             t.output_tokens_mean is not None else "") + " tokens a call on average"
        c = s.candidates.get(t.candidate or "")
        if c is not None and c.quality.n:
            line += (f". Measured here as {e(t.candidate)}: quality {c.quality.mean:.3f} on {c.quality.n} examples, "
                     f"p50 {ms(c.latency.p50.value)}, p95 {ms(c.latency.p95.value)}")
        out.append(line + ".")
        for bucket, bt in t.by_input.items():
            out.append(f"{e(model)} on inputs of {bucket}: {_t(bt)}.")
    return out


def today_line(s: Summary, e: Esc = _plain) -> str | None:
    """For the opening: what runs today and how the choice compares with it."""
    p = from_requirements(s.requirements)
    if p is None or (top := p.today()) is None:
        return None
    model, t = top
    line = (f"**Today** production runs {e(model)} ({t.share:.0%} of {p.whole.get('calls', 0):,} traced calls): "
            f"p95 {ms(t.latency.p95_ms)} as the application saw it")
    slow = max(t.by_input.items(), key=lambda kv: kv[1].p95_ms or 0, default=None)
    if slow and slow[1].p95_ms and t.latency.p95_ms and slow[1].p95_ms > t.latency.p95_ms * 1.1:
        line += f", {ms(slow[1].p95_ms)} on inputs of {slow[0]}"
    chosen = s.decision.chosen
    if chosen and t.candidate and chosen != t.candidate and (got := comparison_of(s, chosen, t.candidate)):
        diff, lo, hi, _ = got
        ci = f" (95% CI {lo:+.1f} to {hi:+.1f})" if lo is not None and hi is not None else ""
        line += f"; {e(chosen)} − today's model = {diff:+.1f} points{ci} on these examples"
    elif chosen and chosen == t.candidate:
        line += "; the rules keep today's model"
    if p.expected_from_output:
        line += ". Quality here is **agreement with production's answers, not correctness**"
    return line + "."


def section(s: Summary, e: Esc = _plain) -> list[str]:
    """The record's 'Production today' lines."""
    p = from_requirements(s.requirements)
    if p is None:
        return []
    out = _traced(s, p, e)
    if p.expected_from_output:
        out.append("Expected answers are production's own answers (--expected-from-output): a candidate scores by "
                   "agreeing with today's model, right or wrong; today's model itself scores below 1 only where it "
                   "answers differently from one call to the next.")
    else:
        out.append("Production's answers are kept beside each example as `reference`; they are not scored.")
    return out + sample_lines(p, e)
