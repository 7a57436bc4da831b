"""Charts rendered by matplotlib's SVG back-end to inline SVG (no CDN, no images on disk).

One Figure per chart through the object API (no pyplot state), drawn once (fixed margins instead
of a tight bounding box, which draws twice) with plain tick labels (log axes' default labels go
through the mathtext parser, most of a chart's cost). report/worker.py draws them in a helper
process that loaded matplotlib while the calls were in flight.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np

from modelsel.analysis.metrics import find
from modelsel.schema import Summary

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
_READY = False


def _setup() -> None:
    global _READY
    if _READY:
        return
    import matplotlib

    matplotlib.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                                "axes.spines.right": False, "svg.hashsalt": "modelsel"})
    _READY = True


def warm() -> None:
    """Import the SVG back-end and draw one figure with every kind of artist the charts use (error
    bars, a legend, a log axis, box plots, spans, bars), so fonts, text layout and tick code are
    loaded before the real charts are asked for."""
    _setup()
    fig = _figure(8.4, 3.8)
    ax = fig.add_subplot(2, 2, 1)
    ax.errorbar([1.0, 10.0], [0.5, 0.7], yerr=[[0.1, 0.1], [0.1, 0.1]], fmt="o", capsize=3, label="a")
    ax.annotate("1", (1.0, 0.5), textcoords="offset points", xytext=(5, 3), fontsize=8)
    ax.set_xscale("log")
    _plain_log(ax.xaxis, "$")
    ax.axhline(0.6, linestyle=":")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)
    ax.set_xlabel("x")
    ax2 = fig.add_subplot(2, 2, 2)
    ax2.boxplot([np.array([1.0, 2.0, 3.0, 50.0])], orientation="horizontal", tick_labels=["a"], whis=(5, 95))
    ax2.set_xscale("log")
    _plain_log(ax2.xaxis)
    ax3 = fig.add_subplot(2, 2, 3)
    ax3.axvspan(-1, 1, alpha=0.15)
    ax3.errorbar([0.5], [0], xerr=[[0.2], [0.2]], fmt="o", capsize=3)
    ax3.set_yticks([0], ["a"])
    ax4 = fig.add_subplot(2, 2, 4)
    ax4.bar([0, 1], [0.5, 0.7], 0.4, yerr=[[0.1, 0.1], [0.1, 0.1]], capsize=2)
    _svg(fig)


def _figure(w: float, h: float) -> Any:
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    _setup()
    fig = Figure(figsize=(w, h))
    FigureCanvasSVG(fig)
    return fig


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    return re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)


def _plain_log(axis: Any, unit: str = "", span: tuple[float, float] | None = None) -> None:
    """Log-scale ticks as plain numbers ("$0.10", "1,000 ms"), no minor ticks; 1-2-5 steps only
    when the data spans two decades or less, so labels never run into each other."""
    import math

    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    decades = math.log10(span[1] / span[0]) if span and span[0] > 0 and span[1] > 0 else 3.0
    subs = (1.0, 2.0, 5.0) if decades <= 2 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=8))
    axis.set_minor_locator(NullLocator())

    def fmt(v: float, _pos: int) -> str:
        if v >= 100:
            text = f"{v:,.0f}"
        elif v >= 1:
            text = f"{v:g}"
        else:
            text = f"{v:.2g}"
        return f"${text}" if unit == "$" else text
    axis.set_major_formatter(FuncFormatter(fmt))


def pareto_front(points: list[tuple[str, float, float]]) -> list[str]:
    """Candidates no other beats on both cost (lower) and quality (higher)."""
    front = []
    for name, cost, q in points:
        dominated = any((c2 <= cost and q2 >= q) and (c2 < cost or q2 > q) for n2, c2, q2 in points if n2 != name)
        if not dominated:
            front.append(name)
    return front


def _ylim(values: list[float], pad: float = 0.04) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    span = max(hi - lo, 0.1)
    return max(-0.02, lo - pad * span * 4), min(1.02, hi + pad * span * 4)


def cost_quality(s: Summary) -> str:
    """Quality (with its interval) against projected monthly cost on a log axis, points numbered
    with names in the legend so labels never collide. When every candidate is free, quality
    against p95 latency instead: a zero-width cost axis would say nothing."""
    req = s.requirements
    monthly = bool(req["cost"].get("monthly_requests"))
    pts = []
    for cid, c in s.candidates.items():
        q = c.quality
        if q.mean is None:
            continue
        cost = c.cost.monthly_usd if monthly and c.cost.monthly_usd is not None else (c.cost.per_request_usd or 0.0)
        pts.append((cid, float(cost), q.mean, q.lo, q.hi, c.latency.p95.value))
    fig = _figure(8.4, 3.8)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.09, right=0.66, bottom=0.14, top=0.96)
    if not pts:
        ax.text(0.5, 0.5, "no candidate was scored", ha="center", va="center", transform=ax.transAxes)
        return _svg(fig)
    free = all(p[1] == 0 for p in pts)
    xs = [(p[5] or 0.0) if free else p[1] for p in pts]
    front = set(pareto_front([(p[0], x, p[2]) for p, x in zip(pts, xs, strict=True)]))
    for i, ((cid, _c, q, lo, hi, _l), x) in enumerate(zip(pts, xs, strict=True)):
        yerr = [[q - lo], [hi - q]] if lo is not None and hi is not None else None
        col = COLORS[i % 10]
        ax.errorbar([x], [q], yerr=yerr, fmt="o", color=col, capsize=3, label=f"{i + 1}  {cid}",
                    markersize=8 if cid in front else 6, markeredgecolor="black" if cid in front else col)
        ax.annotate(str(i + 1), (x, q), textcoords="offset points", xytext=(5, 3), fontsize=8, color=col)
    fp = sorted([(x, p[2]) for p, x in zip(pts, xs, strict=True) if p[0] in front])
    if len(fp) > 1:
        ax.plot([p[0] for p in fp], [p[1] for p in fp], "--", color="#555", linewidth=1, label="Pareto front")
    positive = [x for x in xs if x > 0]
    if positive and min(xs) > 0:
        ax.set_xscale("log")
        _plain_log(ax.xaxis, "" if free else "$", (min(xs), max(xs)))
    elif positive:  # free and paid together: linear near zero, log beyond
        from matplotlib.ticker import FuncFormatter

        ax.set_xscale("symlog", linthresh=min(positive))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.2g}"))
    _limits_and_axes(ax, req, pts, xs, free, monthly)
    return _svg(fig)


def _limits_and_axes(ax: Any, req: dict[str, Any], pts: list[tuple], xs: list[float], free: bool, monthly: bool) -> None:
    """The requirement lines (quality bar, p95 target or budget), axis labels, zoom and legend."""
    bar = req["quality"].get("min_score")
    ys = [p[2] for p in pts] + [p[3] for p in pts if p[3] is not None] + [p[4] for p in pts if p[4] is not None]
    if bar is not None:
        ax.axhline(bar, color="#d62728", linewidth=1, linestyle=":", label=f"quality bar {bar:g}")
        ys.append(bar)
    if free:
        target = req["latency"].get("p95_ms")
        if target:
            ax.axvline(target, color="#9467bd", linewidth=1, linestyle=":", label="p95 target")
        ax.set_xlabel("p95 latency, ms (every candidate is free, so quality is shown against latency)")
    else:
        budget = req["cost"].get("monthly_budget_usd")
        if monthly and budget is not None and budget <= 10 * max(xs):
            ax.axvline(budget, color="#9467bd", linewidth=1, linestyle=":", label="monthly budget")
        elif monthly and budget is not None:
            ax.plot([], [], " ", label=f"monthly budget ${budget:,.0f} (off the chart)")
        ax.set_xlabel(("projected cost, USD per month" if monthly else "cost per request, USD") + " (log scale)")
    ax.set_ylim(*_ylim(ys))
    ax.set_ylabel("quality (mean score, 95% CI)")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)


def latency(s: Summary, samples: dict[str, list[float]]) -> str:
    """Box plots of warm calls' latency (metrics.latency_sample) against the targets."""
    req = s.requirements
    names = [cid for cid in s.candidates if samples.get(cid)]
    data = [np.asarray(samples[cid], dtype=float) for cid in names]
    h = 0.9 + 0.45 * max(1, len(names))
    fig = _figure(8.4, h)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.26, right=0.86, bottom=0.55 / h + 0.08, top=1 - 0.15 / h)
    if names:
        ax.boxplot(data, orientation="horizontal", tick_labels=names, whis=(5, 95), showfliers=True, widths=0.5,
                   flierprops={"markersize": 2})
        lo, hi = min(float(np.min(d)) for d in data), max(float(np.max(d)) for d in data)
        if lo > 0:
            ax.set_xscale("log")
            _plain_log(ax.xaxis, "", (lo, hi))
    for key, style in (("p50_ms", "--"), ("p95_ms", ":")):
        if req["latency"].get(key):
            ax.axvline(req["latency"][key], color="#d62728", linestyle=style, linewidth=1, label=f"{key[:3]} target")
    ax.set_xlabel("latency per request of warm calls, ms (log scale; box = quartiles, whiskers = p5-p95)")
    if req["latency"].get("p50_ms") or req["latency"].get("p95_ms"):
        ax.legend(loc="lower left", bbox_to_anchor=(1.0, 0.0), frameon=False, fontsize=8)
    return _svg(fig)


def differences(s: Summary) -> str | None:
    """Every other survivor's paired difference to the choice, with its 95% interval, and the
    ±small_difference band shaded: which gaps are ruled out and which are not."""
    d = s.decision
    if not d.chosen or len(d.survivors) < 2:
        return None
    rows = []
    for cid in d.survivors:
        if cid == d.chosen:
            continue
        c = find(s.comparisons, cid, d.chosen)
        if c is not None and c.lo is not None and c.hi is not None:
            rows.append((cid, c.diff * 100, c.lo * 100, c.hi * 100))
    if not rows:
        return None
    small = float(s.requirements["decision"]["small_difference"]) * 100
    h = 1.5 + 0.4 * len(rows)
    fig = _figure(8.4, h)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.26, right=0.97, bottom=1.1 / h, top=1 - 0.15 / h)
    ax.axvspan(-small, small, color="#2ca02c", alpha=0.15, label=f"±{small:g} points (small difference)")
    ax.axvline(0, color="#555", linewidth=1)
    for i, (_cid, diff, lo, hi) in enumerate(rows):
        ax.errorbar([diff], [i], xerr=[[diff - lo], [hi - diff]], fmt="o", color=COLORS[i % 10], capsize=3)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    reach = max(max(abs(r[2]), abs(r[3])) for r in rows)
    ax.set_xlim(-max(reach, small) * 1.15, max(reach, small) * 1.15)
    ax.set_xlabel(f"quality difference to {d.chosen}, points (95% CI, paired on the same examples)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.45 / (h / 2)), frameon=False, fontsize=8)
    return _svg(fig)


def by_tag(s: Summary) -> str | None:
    cands = [(cid, c) for cid, c in s.candidates.items() if c.by_tag]
    tags = sorted({t for _, c in cands for t in c.by_tag})
    if not cands or not tags:
        return None
    fig = _figure(8.4, 3.2)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.09, right=0.7, bottom=0.12, top=0.96)
    width = 0.8 / len(cands)
    for i, (cid, c) in enumerate(cands):
        xs = [j + i * width for j in range(len(tags))]
        blocks = [c.by_tag.get(t) for t in tags]
        means = [(b.mean or 0.0) if b else 0.0 for b in blocks]
        los = [m - (b.lo if b and b.lo is not None else m) for b, m in zip(blocks, means, strict=True)]
        his = [(b.hi if b and b.hi is not None else m) - m for b, m in zip(blocks, means, strict=True)]
        ax.bar(xs, means, width, yerr=[los, his], capsize=2, label=cid, color=COLORS[i % 10])
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(tags))], tags)
    ax.set_ylabel("quality (95% CI)")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return _svg(fig)

