"""Keep API keys out of everything modelsel writes or prints.

Two sources of secrets: environment variables whose name looks secret (KEY, TOKEN, ...), read
when a command starts, and every key a provider actually sends, whatever its variable is called
(`register`, called when a provider reads its key). Each is redacted by value, in the forms a
server echoes it: as sent, upper- or lower-cased, URL-encoded, base64 (inside a Basic auth header
too), with separators between its characters (visible ones, or zero-width and bidirectional
controls a reader does not see), and each of these reversed.
"""

from __future__ import annotations

import base64
import os
import re
from urllib.parse import quote

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.I)
# Providers echo a masked key in auth errors ("sk-abc***wxyz"); mask those shapes too.
_KEY_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{4,}|sk-ant-[A-Za-z0-9_\-*]{4,}|AIza[0-9A-Za-z_\-]{10,})")
MIN_LEN = 6  # shorter values are not secrets worth a false positive in every report
_env_values: set[str] | None = None
_sent: set[str] = set()
_plan: tuple[list[str], re.Pattern[str] | None, list[str] | None] | None = None


def refresh() -> list[str]:
    """Read the key-like environment values again. Every command does this once when it starts;
    scanning the environment on every write cost 0.3 ms a call."""
    global _env_values, _plan
    _env_values = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and v and len(v) >= MIN_LEN}
    _plan = None
    return secret_values()


def register(value: str | None) -> None:
    """A secret this run sends (a provider's key from whatever variable the candidate names)."""
    global _plan
    if value and len(value) >= MIN_LEN and value not in _sent:
        _sent.add(value)
        _plan = None


def secret_values() -> list[str]:
    if _env_values is None:
        refresh()
    return sorted((_env_values or set()) | _sent, key=len, reverse=True)


def _base64_cores(value: str) -> list[str]:
    """The part of the base64 of `value` that is the same wherever it sits in a longer string
    (three alignments), standard and URL-safe alphabets."""
    raw = value.encode()
    out = []
    for o in range(3):
        enc = base64.b64encode(b"\0" * o + raw).decode()
        start, end = -(-8 * o // 6), 8 * (o + len(raw)) // 6
        core = enc[start:end]
        if len(core) >= MIN_LEN:
            out += [core, core.replace("+", "-").replace("/", "_")]
    return out


# Characters that separate a key's characters without showing: zero-width space, joiners, word
# joiner, BOM, soft hyphen, Mongolian vowel separator, combining grapheme joiner, invisible operators,
# and the bidirectional marks and overrides (a key written backwards behind U+202E shows as the key).
_INVISIBLE = "\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_SEP = rf"[\s._:/\-{_INVISIBLE}]{{0,3}}"
_SEP_CHARS = re.compile(rf"[\s._:/\-{_INVISIBLE}]")


def _forms(value: str) -> set[str]:
    out: set[str] = set()
    for v in (value, value[::-1]):
        out |= {v, v.upper(), v.lower(), quote(v, safe=""), quote(v, safe="").lower(), *_base64_cores(v)}
    return out - {""}


_SQUEEZE: dict[int, None] = {}


def _squeeze(text: str) -> str:
    """`text` without any character the spelled pattern takes as a separator, lower-cased."""
    if not _SQUEEZE:  # every character \s matches (str.isspace, as re's), the visible and invisible separators
        _SQUEEZE.update({i: None for i in range(0x3001) if chr(i).isspace() or _SEP_CHARS.fullmatch(chr(i))})
        _SQUEEZE.update({ord(ch): None for ch in "\u3000\ufeff"})
    return text.translate(_SQUEEZE).lower()


def _build() -> tuple[list[str], re.Pattern[str] | None, list[str] | None]:
    values = secret_values()
    literal = sorted({f for v in values for f in _forms(v)}, key=len, reverse=True)
    # A key spelled out with separators ("s k - 1 2 ..." or "sk_1_2", or zero-width characters between
    # its characters), forwards or backwards: each character, then at most three separator characters,
    # case-insensitive. Only for values with enough letters and digits that such a spelling cannot be
    # ordinary text.
    long = [v for v in values if sum(ch.isalnum() for ch in v) >= 8]
    spelled = [_SEP.join(re.escape(ch) for ch in w) for v in long for w in (v, v[::-1])]
    pattern = re.compile("|".join(spelled), re.I) if spelled else None
    # What any such spelling leaves once every separator is taken out (a cheap test that skips the
    # pattern for nearly every record: the pattern costs about 1 ms on 2.6 KB, the test 30 us).
    needles = [n for v in long for n in (_squeeze(v), _squeeze(v)[::-1])] if all(v.isascii() for v in long) else None
    return literal, pattern, needles


def redact(text: str) -> str:
    global _plan
    if not text:
        return text
    if _plan is None:
        _plan = _build()
    literal, spelled, needles = _plan
    for v in literal:
        if v in text:
            text = text.replace(v, "[REDACTED]")
    if spelled is not None:
        squeezed = _squeeze(text) if needles is not None else ""
        if needles is None or any(n in squeezed for n in needles):
            text = spelled.sub("[REDACTED]", text)
    if "sk-" in text or "AIza" in text:  # the regex costs 25 us a record; most records hold neither
        text = _KEY_SHAPES.sub("[REDACTED]", text)
    return text
