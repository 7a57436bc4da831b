"""Small thumbnails of the eval set's images, for the HTML drill-down: made once when the run
starts (from the files the eval set names, before any call), kept in the run folder as `thumbs/`,
embedded in report.html as data URLs so it stays one self-contained file. Bounded: each at most
THUMB_SIDE pixels a side, a page at most PAGE_BUDGET bytes of them (past it, names only)."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any

THUMB_SIDE = 128
PAGE_BUDGET = 2 * 1024 * 1024  # bytes of thumbnails one report.html may carry
FOLDER = "thumbs"
_SHA = re.compile(r"[0-9a-f]{64}")


def thumbnail(data: bytes) -> bytes | None:
    """A JPEG at most THUMB_SIDE a side, or None when the image cannot be read."""
    try:
        from PIL import Image  # installed with matplotlib

        with Image.open(io.BytesIO(data)) as im:
            im.thumbnail((THUMB_SIDE, THUMB_SIDE))
            out = io.BytesIO()
            im.convert("RGB").save(out, "JPEG", quality=70)
        return out.getvalue()
    except Exception:
        return None


def write_thumbs(run_folder: Path, blobs: list[Any]) -> int:
    """A thumbnail of every image the eval set names (by its sha256); how many were written."""
    from modelsel.inputs.media import read_blob
    from modelsel.inputs.textfile import atomic_write_bytes

    n = 0
    done: set[str] = set()
    for b in blobs:
        if b.kind != "image" or not b.sha256 or b.sha256 in done:
            continue
        done.add(b.sha256)
        try:
            small = thumbnail(read_blob(b))
        except (OSError, ValueError):
            small = None
        if small is not None:
            atomic_write_bytes(run_folder / FOLDER / f"{b.sha256}.jpg", small)
            n += 1
    return n


class Thumbs:
    """Data URLs of a run's thumbnails, until the page's budget is spent."""

    def __init__(self, run_folder: Path) -> None:
        self.folder = run_folder / FOLDER
        self.spent = 0

    def __call__(self, sha256: str | None) -> str | None:
        if not sha256 or not _SHA.fullmatch(sha256):
            return None
        f = self.folder / f"{sha256}.jpg"
        try:
            if f.is_symlink() or not f.is_file() or f.stat().st_size > 64 * 1024:
                return None
            data = f.read_bytes()
        except OSError:
            return None
        if not data.startswith(b"\xff\xd8\xff") or self.spent + len(data) > PAGE_BUDGET:
            return None
        self.spent += len(data)
        return "data:image/jpeg;base64," + base64.b64encode(data).decode()
