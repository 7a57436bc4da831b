"""report.html: one self-contained file that opens offline. Model output is escaped by Jinja
autoescape in tables, and rendered with textContent in the drill-down; never as markup."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import jinja2

from modelsel.records import Record
from modelsel.report import charts
from modelsel.report.fmt import HEADERS, ms, pct, q_ci, resolution_text, results_rows, usd
from modelsel.report.markdown import _strategy_detail

MAX_TEXT = 2000  # characters of an input or output kept in the drill-down


def _json_for_script(obj: Any) -> str:
    """JSON that is safe inside <script type="application/json">: nothing can close the tag."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _cut(s: Any) -> str:
    s = "" if s is None else str(s)
    return s if len(s) <= MAX_TEXT else s[:MAX_TEXT] + f"… [{len(s) - MAX_TEXT} more characters]"


def drilldown(records: list[Record], cands: list[str]) -> dict[str, Any]:
    by_ex: dict[str, dict[str, Any]] = {}
    per: dict[str, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        per[r.example_id][r.candidate].append(r)
        if r.example_id not in by_ex:
            by_ex[r.example_id] = {"id": r.example_id, "tags": r.tags, "input": _cut(r.input), "expected": _cut(
                r.expected if isinstance(r.expected, str) or r.expected is None else json.dumps(r.expected))}
    rows = []
    for ex_id, ex in by_ex.items():
        answers = []
        passed = set()
        for c in cands:
            rs = per[ex_id].get(c)
            if not rs:
                answers.append(None)
                continue
            r = rs[0]
            passed.add(bool(r.passed))
            answers.append({"o": _cut(r.output if not r.error else ""), "s": r.score, "p": r.passed, "why": _cut(r.reason),
                            "ms": r.latency_ms, "usd": r.cost_usd, "err": r.error, "k": len(rs)})
        rows.append({**ex, "a": answers, "disagree": len(passed) > 1})
    return {"candidates": cands, "rows": rows}


def render_html(summary: dict[str, Any], records: list[Record]) -> str:
    env = jinja2.Environment(loader=jinja2.PackageLoader("modelsel.report", "templates"),
                             autoescape=jinja2.select_autoescape(default=True, default_for_string=True))
    env.filters.update(q_ci=q_ci, ms=ms, usd=usd, pct=pct, detail=_strategy_detail)
    cands = [cid for cid, c in summary["candidates"].items() if c.get("n_calls")]
    tags = sorted({t for r in records for t in r.tags})
    sort_keys = []
    for c in summary["candidates"].values():
        sort_keys.append({
            "quality": c["quality"].get("mean"), "pass_rate": c["quality"].get("pass_rate"),
            "p50": c["latency"].get("p50_ms"), "p95": c["latency"].get("p95_ms"),
            "per_request": c["cost"].get("per_request_usd"), "monthly": c["cost"].get("monthly_usd"),
            "errors": c.get("errors"), "n": c.get("n"),
        })
    return env.get_template("report.html.j2").render(
        s=summary, d=summary["decision"], resolution=resolution_text(summary["resolution"]), rows=results_rows(summary), headers=HEADERS, sort_keys=sort_keys,
        chart_cost=charts.cost_quality(summary), chart_latency=charts.latency(summary, records),
        chart_tags=charts.by_tag(summary), tags=tags, data_json=_json_for_script(drilldown(records, cands)),
    )
