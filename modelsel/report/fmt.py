"""Number formatting shared by every report, so a figure reads the same everywhere."""

from __future__ import annotations

from typing import Any


def q_ci(block: dict[str, Any] | None) -> str:
    if not block or block.get("mean") is None:
        return "—"
    if block.get("lo") is None:
        return f"{block['mean']:.3f} (n={block.get('n', 0)}, no interval)"
    return f"{block['mean']:.3f} [{block['lo']:.2f}, {block['hi']:.2f}]"


def ms(v: float | None) -> str:
    if v is None:
        return "—"
    if v < 10:  # an in-process baseline answers in microseconds; "0 ms" would hide it
        return f"{v:.2f} ms"
    return f"{v:,.0f} ms"


def usd(v: float | None, digits: int | None = None) -> str:
    if v is None:
        return "—"
    if digits is None:
        digits = 2 if abs(v) >= 1 else 6
    return f"${v:,.{digits}f}"


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def status_word(entry: dict[str, Any], decision: dict[str, Any], cid: str) -> str:
    if cid == decision.get("chosen"):
        return "CHOSEN"
    if cid == decision.get("fallback"):
        return "fallback"
    return {"evaluated": "qualifies", "eliminated": "eliminated", "not_evaluated": "not evaluated"}[entry["status"]]


def results_rows(summary: dict[str, Any]) -> list[dict[str, str]]:
    d = summary["decision"]
    rows = []
    for cid, c in summary["candidates"].items():
        rows.append({
            "candidate": cid, "status": status_word(c, d, cid),
            "quality": q_ci(c["quality"]), "pass_rate": pct(c["quality"].get("pass_rate")),
            "p50": ms(c["latency"].get("p50_ms")), "p95": ms(c["latency"].get("p95_ms")),
            "per_request": usd(c["cost"].get("per_request_usd")), "monthly": usd(c["cost"].get("monthly_usd"), 2),
            "errors": f"{c['errors']}/{c['n_calls']}" if c.get("n_calls") else "—",
            "n": str(c.get("n", 0)),
        })
    return rows


HEADERS = {"candidate": "Candidate", "status": "Status", "quality": "Quality [95% CI]", "pass_rate": "Pass rate",
           "p50": "p50", "p95": "p95", "per_request": "Cost/request", "monthly": "Monthly", "errors": "Errors", "n": "n"}


def resolution_text(res: dict[str, Any]) -> str:
    if not res.get("n_examples") or res.get("resolvable_difference") is None:
        return "No examples were answered, so no quality difference can be resolved."
    return (f"{res['n_examples']} examples resolve quality differences of about "
            f"{res['resolvable_difference'] * 100:.0f} points or more.")
