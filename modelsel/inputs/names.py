"""Names a user writes that reach the terminal and the reports as they are (candidate ids, the
requirements' name, example ids, tags): printable text only, so an ANSI escape or a NUL can never
rewrite a terminal or a log."""

from __future__ import annotations

import unicodedata


def bad_character(s: str) -> str | None:
    """The first character that is not printable text (a control, format or surrogate
    character), described, or None."""
    for ch in s:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            return f"U+{ord(ch):04X}" + (" (escape)" if ch == "\x1b" else " (NUL)" if ch == "\x00" else "")
    return None


def check_name(s: str) -> str:
    """For pydantic validators: raise ValueError naming the character."""
    bad = bad_character(s)
    if bad is not None:
        raise ValueError(f"contains the control character {bad}; names must be printable text")
    return s


def file_slug(name: str, default: str) -> str:
    """A file name from a name a user gave ('Ticket triage' -> ticket-triage)."""
    import re

    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or default
