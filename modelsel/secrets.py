"""Keep API keys out of everything modelsel writes or prints."""

from __future__ import annotations

import os
import re

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.I)
# Providers echo a masked key in auth errors ("sk-abc***wxyz"); mask those shapes too.
_KEY_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{4,}|sk-ant-[A-Za-z0-9_\-*]{4,}|AIza[0-9A-Za-z_\-]{10,})")
_values: list[str] | None = None


def refresh() -> list[str]:
    """Read the key-like environment values again. Every command does this once when it starts;
    scanning the environment on every write cost 0.3 ms a call."""
    global _values
    vals = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and v and len(v) >= 6}
    _values = sorted(vals, key=len, reverse=True)
    return _values


def secret_values() -> list[str]:
    return _values if _values is not None else refresh()


def redact(text: str) -> str:
    if not text:
        return text
    for v in secret_values():
        if v in text:
            text = text.replace(v, "[REDACTED]")
    if "sk-" in text or "AIza" in text:  # the regex costs 25 us a record; most records hold neither
        text = _KEY_SHAPES.sub("[REDACTED]", text)
    return text
