"""report.html: one self-contained file that opens offline. Model output is escaped by Jinja
autoescape in tables, and rendered with textContent in the drill-down; never as markup.

The drill-down holds the examples a PM looks at: all of them for a normal eval set, and for a
large one the failures, the disagreements and a fixed sample, with the rest in records.csv.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from modelsel.analysis.metrics import latency_sample
from modelsel.numbers import p_text
from modelsel.report.fmt import (
    HEADERS,
    consistency_rows,
    difference_sentence,
    errors_text,
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
    usd,
)
from modelsel.report.markdown import (
    POLICY,
    _req_rows,
    fallback_lines,
    rate_ci,
    status_text,
    strategy_detail,
    strategy_verdict,
)
from modelsel.report.opening import differences, opening, versus
from modelsel.report.production import section as production_section
from modelsel.report.tool_text import answer_text
from modelsel.report.worker import draw
from modelsel.run.calls import CallArrays
from modelsel.run.records import Record
from modelsel.schema import Summary

ALL_EXAMPLES_UP_TO = 500  # below this every example is in the drill-down
SAMPLE = 100
MAX_FLAGGED = 300
MAX_TEXT = 2000  # characters of an input or output kept in the drill-down
MAX_TEXT_LARGE = 400


def _json_for_script(obj: Any) -> str:
    """JSON that is safe inside <script type="application/json">: nothing can close the tag."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _cut(s: Any, limit: int) -> str:
    s = "" if s is None else (s if isinstance(s, str) else json.dumps(s))
    return s if len(s) <= limit else s[:limit] + f"… [{len(s) - limit} more characters]"


def select_examples(arr: CallArrays) -> tuple[set[str] | None, dict[str, int]]:
    """(examples to show, or None for all; how many of each kind were picked)."""
    examples = list(dict.fromkeys(arr.example.tolist()))
    if len(examples) <= ALL_EXAMPLES_UP_TO:
        return None, {"all": len(examples)}
    failed = set(arr.example[arr.error | (arr.passed == 0)].tolist())
    first = arr.repeat == 0
    by_ex: dict[str, set[int]] = defaultdict(set)
    for e, p in zip(arr.example[first].tolist(), arr.passed[first].tolist(), strict=True):
        if p >= 0:
            by_ex[e].add(p)
    disagree = {e for e, ps in by_ex.items() if len(ps) > 1}
    if (arr.repeat > 0).any():  # an example one candidate got right on some tries and wrong on others
        tries: dict[tuple[str, str], set[int]] = defaultdict(set)
        for c, e, p in zip(arr.candidate.tolist(), arr.example.tolist(), arr.passed.tolist(), strict=True):
            if p >= 0:
                tries[(c, e)].add(p)
        disagree |= {e for (_, e), ps in tries.items() if len(ps) > 1}
    rng = random.Random(20240601)  # the same run always shows the same sample
    picked_dis = sorted(disagree)[:MAX_FLAGGED]
    picked_fail = sorted(failed - set(picked_dis))[: max(0, MAX_FLAGGED - len(picked_dis))]
    rest = [e for e in examples if e not in disagree and e not in failed]
    sample = rng.sample(rest, min(SAMPLE, len(rest)))
    return set(picked_dis) | set(picked_fail) | set(sample), {"disagreements": len(picked_dis), "failures": len(picked_fail),
                                                                "sample": len(sample), "total": len(examples)}


def _media(r: Record, thumbs: Callable[[str | None], str | None] | None) -> list[dict[str, Any]]:
    """An example's images and files for the drill-down: name, kind, size, and a thumbnail (a data
    URL of a JPEG this run made) while the page's budget lasts."""
    return [{"n": str(m.get("name", "")), "k": m.get("kind"), "kb": round((m.get("size") or 0) / 1024, 1),
             "t": thumbs(m.get("sha256")) if thumbs is not None and m.get("kind") == "image" else None}
            for m in r.media]


def drilldown(records: Iterable[Record], cands: list[str], keep: set[str] | None, limit: int,
              thumbs: Callable[[str | None], str | None] | None = None) -> dict[str, Any]:
    by_ex: dict[str, dict[str, Any]] = {}
    per: dict[str, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if keep is not None and r.example_id not in keep:
            continue
        per[r.example_id][r.candidate].append(r)
        if r.example_id not in by_ex:
            by_ex[r.example_id] = {"id": r.example_id, "tags": r.tags, "input": _cut(r.input, limit),
                                   "expected": _cut(r.expected, limit), "media": _media(r, thumbs)}
    rows = []
    for ex_id, ex in by_ex.items():
        answers = []
        passed = set()
        for c in cands:
            rs = sorted(per[ex_id].get(c, []), key=lambda r: r.repeat)
            if not rs:
                answers.append(None)
                continue
            r = rs[0]
            passed.add(bool(r.passed))
            scored = [bool(x.passed) and not x.error for x in rs if x.passed is not None or x.error]
            right = sum(scored)
            answers.append({"o": _cut(answer_text(r) if not r.error else "", limit), "s": r.score, "p": r.passed,
                            "why": _cut(r.reason, 300), "ms": r.latency_ms, "usd": r.cost_usd, "err": r.error, "k": len(rs),
                            "right": right, "flip": 0 < right < len(scored)})
        rows.append({**ex, "a": answers, "disagree": len(passed) > 1,
                     "flip": any(a is not None and a["flip"] for a in answers)})
    return {"candidates": cands, "rows": rows}


def render_html(s: Summary, arr: CallArrays, records: Callable[[set[str] | None], Iterable[Record]],
                figs: dict[str, str | None] | None = None, thumbs: Callable[[str | None], str | None] | None = None
                ) -> str:
    """`records(examples)`: the run's records of those examples (all when None); `figs`: the
    charts, drawn by the helper process; drawn here when not given."""
    cands = [cid for cid, c in s.candidates.items() if c.n_calls]
    keep, picked = select_examples(arr)
    drill = drilldown(records(keep), cands, keep, MAX_TEXT if keep is None else MAX_TEXT_LARGE, thumbs)
    tags = sorted({t for ts in arr.tags for t in ts})
    sort_keys = [{"quality": c.quality.mean, "pass_rate": c.quality.pass_rate, "p50": c.latency.p50.value,
                  "p95": c.latency.p95.value, "per_request": c.cost.per_request_usd, "monthly": c.cost.monthly_usd,
                  "errors": c.errors, "retried": c.retried_requests, "n": c.n} for c in s.candidates.values()]
    if figs is None:
        figs = draw(s, latency_samples(s, arr))
    return template().render(
        opening=opening(s), status=status_text(s, markdown=False), plain_differences=differences(s), versus=versus(s),
        requirement_rows=_req_rows(s.requirements, str), fallback=fallback_lines(s),
        s=s, d=s.decision, resolution=resolution_text(s), differences=difference_sentence(s), policy=POLICY[s.decision.policy],
        rows=results_rows(s), headers=HEADERS, consistency=consistency_rows(s), sort_keys=sort_keys, picked=picked,
        chart_cost=figs["cost"], chart_latency=figs["latency"], chart_diff=figs["diff"],
        chart_tags=figs["tags"], tags=tags, data_json=_json_for_script(drill),
        production=production_section(s), quality_methods=quality_methods_text(s),
        latency_lines=[(cid, t) for cid, c in s.candidates.items() if (t := latency_condition(c.latency))],
        by_input=[(cid, b, q) for cid, c in s.candidates.items() for b, q in c.latency.by_input.items()])


@functools.cache
def template() -> Any:
    """The report's template, compiled once per process (50-60 ms). The run compiles it in its
    preload thread while the calls are in flight (session.AFTER_CALLS), not after the last answer."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("modelsel.report", "templates"),
                             autoescape=jinja2.select_autoescape(default=True, default_for_string=True))
    env.filters.update(q_ci=q_ci, ms=ms, usd=usd, pct=pct, quantile=quantile, per_request_ci=per_request_ci,
                       monthly_ci=monthly_ci, detail=strategy_detail, verdict=strategy_verdict, errors=errors_text,
                       bold=_bold, p=p_text, rate_ci=rate_ci)
    return env.get_template("report.html.j2")


def _bold(text: str) -> Any:
    """Escaped text whose **bold** spans (the plain opening's own markup, never outside text's:
    escaping comes first) become <b>."""
    from markupsafe import Markup, escape

    return Markup(re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", str(escape(text))))


PLACEHOLDERS = {k: f"<!--modelsel-chart-{k}-->" for k in ("cost", "latency", "diff", "tags")}


def fill_charts(html: str, figs: dict[str, str | None]) -> str:
    """Put the charts drawn by the helper process into a page rendered while it drew them; an
    optional chart that did not come (one survivor, no tags) takes its section with it."""
    for k, ph in PLACEHOLDERS.items():
        svg = figs.get(k)
        if svg is None:
            html = re.sub(rf"<!--chart-{k}-->.*?<!--/chart-{k}-->", "", html, flags=re.S)
        html = html.replace(ph, svg or "")
    return html


def latency_samples(s: Summary, arr: CallArrays) -> dict[str, list[float]]:
    """The warm calls' latencies the percentiles were taken from, per candidate (for the box plots)."""
    out = {}
    for cid, c in s.candidates.items():
        if c.latency.n and len(arr):
            lat, _, _ = latency_sample(arr.of(cid))
            out[cid] = [float(x) for x in lat]
    return out
