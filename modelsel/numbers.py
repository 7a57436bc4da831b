"""How figures are printed, shared by the decision's sentences (limits, decision) and the reports
(report/fmt), so a figure reads the same everywhere. No imports: safe on the start-up path."""

from __future__ import annotations


def ms(v: float) -> str:
    """Milliseconds; an in-process baseline answers in microseconds, and "0 ms" would hide it."""
    return f"{v:,.2f} ms" if v < 10 else f"{v:,.0f} ms"


def usd(v: float | None, digits: int | None = None) -> str:
    """Dollars: cents from $1 up, six decimals below (a per-request price of $0.000412 must not read $0.00)."""
    if v is None:
        return "—"
    if digits is None:
        digits = 2 if abs(v) >= 1 else 6
    return f"${v:,.{digits}f}"


def shown_ends(lo: float | None, hi: float | None, fmt: str) -> tuple[str, str] | None:
    """An interval's ends as printed with `fmt`, or None where it has none or both ends read the
    same at that precision (a cost that did not vary is not printed as [x, x])."""
    if lo is None or hi is None:
        return None
    a, b = fmt.format(lo), fmt.format(hi)
    return None if a == b else (a, b)


def p_text(p: float | None) -> str:
    """A p-value as a reader should see it: never "0.000" (a test never shows a probability of zero)."""
    if p is None:
        return "—"
    return "<0.001" if p < 0.0005 else f"{p:.3f}"


def p_eq(p: float) -> str:
    """"p=0.008", or "p<0.001" where three decimals would print zero."""
    return "p<0.001" if p < 0.0005 else f"p={p:.3f}"
