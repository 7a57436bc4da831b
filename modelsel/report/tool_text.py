"""What a model did with the tools, in the words every report uses: an answer with its calls
("→ get_order({"order_id": "A1"})"), and a candidate's tool use ("the right tool with the right
arguments in 46 of 50; a call where none was asked in 1 of 10")."""

from __future__ import annotations

from modelsel.schema import Rate, ToolUse
from modelsel.scoring.tools import answer_text

__all__ = ["answer_text", "tool_use_text"]


def _share(k: Rate) -> str:
    if k.value is None or k.lo is None or k.hi is None:
        return ""
    return f" ({k.value:.0%}, 95% CI {k.lo:.0%}–{k.hi:.0%})"


def tool_use_text(t: ToolUse) -> str:
    """'the right tool with the right arguments in 46 of 50 (92%, 95% CI 81%–98%); a call where none was
    asked in 1 of 10 (...)'."""
    parts = []
    if t.right.n:
        k = round((t.right.value or 0) * t.right.n)
        parts.append(f"the right tool with the right arguments in {k} of {t.right.n}{_share(t.right)}")
    if t.unexpected.n:
        k = round((t.unexpected.value or 0) * t.unexpected.n)
        parts.append(f"a call where none was asked in {k} of {t.unexpected.n}{_share(t.unexpected)}")
    from modelsel.scoring.tools import VERDICTS

    misses = {k: v for k, v in t.verdicts.items() if k not in ("right", "none_ok", "unexpected_call")}
    if misses:
        parts.append("misses: " + ", ".join(f"{VERDICTS.get(k, k)} {v}" for k, v in misses.items()))
    return "; ".join(parts)
