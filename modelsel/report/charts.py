"""Charts rendered by matplotlib to inline SVG (no CDN, no images on disk)."""

from __future__ import annotations

import io
import re
from typing import Any

from modelsel.records import Record

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                         "svg.hashsalt": "modelsel"})
    return plt


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    _plt().close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    return re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)


def pareto_front(points: list[tuple[str, float, float]]) -> list[str]:
    """Candidates no other beats on both cost (lower) and quality (higher)."""
    front = []
    for name, cost, q in points:
        dominated = any((c2 <= cost and q2 >= q) and (c2 < cost or q2 > q) for n2, c2, q2 in points if n2 != name)
        if not dominated:
            front.append(name)
    return front


def cost_quality(summary: dict[str, Any]) -> str:
    plt = _plt()
    req = summary["requirements"]
    pts = []
    for cid, c in summary["candidates"].items():
        if c["quality"].get("mean") is None:
            continue
        cost = c["cost"].get("monthly_usd")
        if cost is None:
            cost = c["cost"].get("per_request_usd") or 0.0
        pts.append((cid, float(cost), float(c["quality"]["mean"]), c["quality"].get("lo"), c["quality"].get("hi")))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    front = set(pareto_front([(p[0], p[1], p[2]) for p in pts]))
    for i, (cid, cost, q, lo, hi) in enumerate(pts):
        yerr = [[q - lo], [hi - q]] if lo is not None and hi is not None else None
        ax.errorbar([cost], [q], yerr=yerr, fmt="o", color=COLORS[i % 10], capsize=3, label=cid,
                    markersize=8 if cid in front else 6, markeredgecolor="black" if cid in front else COLORS[i % 10])
        ax.annotate(cid, (cost, q), textcoords="offset points", xytext=(6, 4), fontsize=7)
    fp = sorted([p for p in pts if p[0] in front], key=lambda p: p[1])
    if len(fp) > 1:
        ax.plot([p[1] for p in fp], [p[2] for p in fp], "--", color="#555", linewidth=1, label="Pareto front")
    if req["quality"].get("min_score") is not None:
        ax.axhline(req["quality"]["min_score"], color="#d62728", linewidth=1, linestyle=":", label="quality bar")
    budget = req["cost"].get("monthly_budget_usd")
    if budget is not None and req["cost"].get("monthly_requests"):
        top = max((p[1] for p in pts), default=0.0)
        if budget <= 3 * top or top == 0 and budget == 0:
            ax.axvline(budget, color="#9467bd", linewidth=1, linestyle=":", label="monthly budget")
        else:  # a far-away line would squash every point against the axis
            ax.plot([], [], " ", label=f"monthly budget ${budget:,.0f} (off the chart)")
    ax.set_xlabel("projected cost, USD per month" if req["cost"].get("monthly_requests") else "cost per request, USD")
    ax.set_ylabel("quality (mean score, 95% CI)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return _svg(fig)


def latency(summary: dict[str, Any], records: list[Record]) -> str:
    plt = _plt()
    req = summary["requirements"]
    names = [cid for cid, c in summary["candidates"].items() if c["latency"].get("p50_ms") is not None]
    data = [[r.latency_ms for r in records if r.candidate == cid and r.latency_ms is not None and not r.error] for cid in names]
    fig, ax = plt.subplots(figsize=(6.4, 0.5 + 0.45 * max(1, len(names))))
    if names:
        ax.boxplot(data, orientation="horizontal", tick_labels=names, whis=(5, 95), showfliers=True, widths=0.5,
                   flierprops={"markersize": 2})
        ax.set_xscale("log")
    for key, style in (("p50_ms", "--"), ("p95_ms", ":")):
        if req["latency"].get(key):
            ax.axvline(req["latency"][key], color="#d62728", linestyle=style, linewidth=1, label=f"{key[:3]} target")
    ax.set_xlabel("latency per request, ms (log scale; box = quartiles, whiskers = p5-p95)")
    if req["latency"].get("p50_ms") or req["latency"].get("p95_ms"):
        ax.legend(loc="lower right", frameon=False)
    return _svg(fig)


def by_tag(summary: dict[str, Any]) -> str | None:
    plt = _plt()
    cands = [(cid, c) for cid, c in summary["candidates"].items() if c.get("by_tag")]
    tags = sorted({t for _, c in cands for t in c["by_tag"]})
    if not cands or not tags:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    width = 0.8 / len(cands)
    for i, (cid, c) in enumerate(cands):
        xs = [j + i * width for j in range(len(tags))]
        means = [(c["by_tag"].get(t) or {}).get("mean") or 0 for t in tags]
        los = [m - ((c["by_tag"].get(t) or {}).get("lo") if (c["by_tag"].get(t) or {}).get("lo") is not None else m) for t, m in zip(tags, means, strict=True)]
        his = [((c["by_tag"].get(t) or {}).get("hi") if (c["by_tag"].get(t) or {}).get("hi") is not None else m) - m for t, m in zip(tags, means, strict=True)]
        ax.bar(xs, means, width, yerr=[los, his], capsize=2, label=cid, color=COLORS[i % 10])
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(tags))], tags)
    ax.set_ylabel("quality (95% CI)")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return _svg(fig)
