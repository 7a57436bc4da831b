"""Reading a file a user (or an attacker) hands us: a stated size limit, UTF-8 only (a BOM or
another encoding is named, never guessed past), no NUL bytes, no lone surrogates. Every refusal is
bad input naming the file and, where it can, the line. And writing one: whole or not at all."""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelsel.errors import InputError
from modelsel.redaction import redact

MB = 1024 * 1024
_UMASK = os.umask(0)
os.umask(_UMASK)
# Stated in the README ("Input files: sizes and encodings"): far above any real requirements file or eval set.
MAX_REQUIREMENTS_BYTES = 1 * MB  # a requirements file, a prompt or system file
MAX_EVALSET_BYTES = 100 * MB  # an eval set
MAX_YAML_VALUES = 100_000  # values a YAML document may expand to through its aliases
MAX_DEPTH = 64  # nesting of mappings and lists in any file

_BOMS = ((b"\xef\xbb\xbf", "UTF-8 with a byte-order mark (BOM)"), (b"\xff\xfe", "UTF-16 (little-endian)"),
         (b"\xfe\xff", "UTF-16 (big-endian)"))


# What any reader may take for the end of a line: YAML 1.1 (PyYAML) breaks on NEL, LS and PS as well as
# CR and LF, and Python's str.splitlines() on VT, FF and the file separators too.
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def unsafe_char(ch: str) -> bool:
    return ch in LINE_BREAKS or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


def spelled(text: str) -> str:
    """`text` on one line with every line break and control or format character spelled out (\\u2028)."""
    return "".join(f"\\u{ord(ch):04x}" if unsafe_char(ch) else ch for ch in text)


def jsonl_line(obj: Any) -> str:
    """One JSON Lines record. JSON allows U+2028, U+2029 and NEL raw inside strings, but a reader that
    splits lines on them (Python's splitlines, many editors) sees a broken record: escape them."""
    text = json.dumps(obj, ensure_ascii=False)
    for ch in ("\u2028", "\u2029", "\x85"):
        text = text.replace(ch, f"\\u{ord(ch):04x}")
    return text + "\n"


def jsonl_rows(text: str) -> list[str]:
    """The lines of a JSON Lines text, split at LF only (a CR before it dropped). U+2028, NEL, VT or FF
    inside a JSON string are text: str.splitlines() would cut the record there."""
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    return [r[:-1] if r.endswith("\r") else r for r in rows]


def jsonl_objects(path: Path | str, text: str) -> Iterator[tuple[int, Any]]:
    """Each value of a JSON Lines text with its line number, blank lines and `//` comments skipped;
    a line that is not JSON, too deep or unreadable names the file and line, and every string in
    a value is checked (check_strings). The eval set and the judge check file both read this way."""
    for n, raw in enumerate(jsonl_rows(text), start=1):
        if not raw.strip() or raw.lstrip().startswith("//"):
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno}).", path=path, line=n) from None
        except RecursionError:
            raise InputError("nested too deeply to read.", path=path, line=n) from None
        except ValueError as exc:  # e.g. an integer of thousands of digits
            raise InputError(f"a value cannot be read ({str(exc)[:100]}).", path=path, line=n) from None
        check_strings(value, path, n)
        yield n, value


def _line_col(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    return line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


def _guess(data: bytes, offset: int) -> str:
    """What a non-UTF-8 file most likely is, from the byte that failed."""
    b = data[offset]
    if 0x80 <= b <= 0x9F:
        return "Windows-1252"
    return "Latin-1 (ISO-8859-1) or Windows-1252"


def read_text(path: Path, limit: int, what: str = "file") -> str:
    """The file's text, or InputError: too large, not UTF-8 (the encoding it looks like named), a
    BOM, a NUL byte."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{what} not found.", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read this {what} ({exc.strerror}).", path=path) from None
    if path.is_dir():
        raise InputError(f"this is a folder, not a {what}.", path=path)
    if size > limit:
        raise InputError(f"this {what} is {size / MB:,.1f} MB; the limit is {limit / MB:g} MB.", path=path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read this {what} ({exc.strerror}).", path=path) from None
    if len(data) > limit:
        raise InputError(f"this {what} is over the {limit / MB:g} MB limit.", path=path)
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise InputError(f"this {what} is encoded as {name}; save it as UTF-8 without a BOM.", path=path, line=1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(data, exc.start)
        raise InputError(f"this {what} is not UTF-8 (byte 0x{data[exc.start]:02X} at column {col}); it looks like "
                         f"{_guess(data, exc.start)}: save it as UTF-8.", path=path, line=line) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise InputError(f"this {what} contains a NUL byte (column {nul - text.rfind(chr(10), 0, nul)}); it is not a "
                         "text file.", path=path, line=text.count("\n", 0, nul) + 1)
    return text


def check_strings(value: Any, path: Path | str, line: int | None = None, field: str = "", depth: int = 0) -> None:
    """Every string in a parsed value is valid Unicode (JSON's \\ud800 decodes to a lone surrogate that
    no file, terminal or report can hold), and nesting stays under MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise InputError(f"nested more than {MAX_DEPTH} levels deep.", path=path, line=line, field=field or None)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError("contains a lone surrogate (an escape like \\ud800 without its pair): not valid text.",
                             path=path, line=line, field=field or None) from None
    elif isinstance(value, dict):
        for k, v in value.items():
            check_strings(k, path, line, field, depth + 1)
            check_strings(v, path, line, f"{field}.{k}" if field else str(k), depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_strings(v, path, line, f"{field}[{i}]", depth + 1)


# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides that make text
# read differently from what it is ("Trojan Source"): from outside, none may reach a terminal or a
# file meant to be read, where ESC sequences write the clipboard (OSC 52), plant links (OSC 8), move
# the cursor or set the window title.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Outside text (a model's answer, a server's error, an imported config) made safe to show: every
    control character spelled out as its escape (ESC becomes the four characters \\x1b)."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                        text)


def atomic_write(path: Path, text: str) -> None:
    """Write a whole file or nothing: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; a report is for the team to read
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(redact(text))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a whole binary file or nothing (never through a symlink at its place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
