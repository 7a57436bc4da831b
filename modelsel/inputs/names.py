"""Names a user writes that reach the terminal and the reports as they are (candidate ids, the
requirements' name, example ids, tags): printable text only, so an ANSI escape or a NUL can never
rewrite a terminal or a log."""

from __future__ import annotations

import re
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


# A candidate id lands raw in more formats than any other name: decision.md's opening line, table
# cells, JUnit class names (which test reporters render as Markdown), CSV, file names, the terminal.
# It is restricted to characters none of them reads as markup: what catalog ids and model names use.
MAX_ID = 128
SAFE_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._\-/:@+]{{0,{MAX_ID - 1}}}")


def unsafe_id_reason(cid: str) -> str:
    """What in `cid` is outside the safe set, in words (the characters spelled as escapes)."""
    if len(cid) > MAX_ID:
        return f"is {len(cid)} characters long"
    if not cid[:1].isascii() or not cid[:1].isalnum():
        return "does not start with a letter or digit"
    bad = sorted({ch for ch in cid if not re.fullmatch(r"[A-Za-z0-9._\-/:@+]", ch)})
    return "contains " + " ".join(repr(ch) if ch.isprintable() and ord(ch) < 0x80 else f"U+{ord(ch):04X}" for ch in bad)
