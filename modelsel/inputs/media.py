"""Images and documents in an eval set: content parts, the files they name, and what each is.

A message's content may be a list of parts (OpenAI chat's shape):
  {"type": "text", "text": "..."}
  {"type": "image", "path": "rel/to/evalset.png" | "url": "https://..." | "data": "<base64>", "media_type": ..., "detail": ...}
  {"type": "file", "path": "doc.pdf" | "data": "<base64>", "media_type": "application/pdf"}

A file is read once when the eval set loads: confined to the project like every other path, held
to the limits below, its type told by its first bytes (never by its name), hashed. What travels on
through the run is a `Blob`: its name, size, sha256 and type, never its bytes; a provider reads the
bytes when it builds a request (outside the latency clock) and the response cache keys on the hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from modelsel.errors import InputError

MB = 1024 * 1024
# Stated in the README ("Input files: sizes and encodings"; tests check the rows against these).
MAX_MEDIA_FILE_BYTES = 20 * MB  # one image or PDF (Gemini's inline request limit: 20 MB)
MAX_MEDIA_PARTS = 20  # image and file parts in one example
MAX_EXAMPLE_MEDIA_BYTES = 50 * MB  # all of one example's images and files together (OpenAI: 50 MB a request)
MAX_IMAGE_SIDE = 8000  # pixels, either side (Anthropic refuses larger)
MAX_PDF_PAGES = 100  # pages of one PDF (Anthropic's limit)

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")  # what all three APIs take
FILE_TYPES = ("application/pdf",)
MODALITY = {"image": "image", "file": "pdf"}  # a part's type -> the catalog's modality name


def sniff(data: bytes) -> str | None:
    """The media type a file's first bytes say it is (PNG, JPEG, GIF, WebP, PDF), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


@dataclass(frozen=True)
class Blob:
    """One image or document as the run knows it: never its bytes, only where they are."""

    kind: Literal["image", "file"]
    name: str  # the path as the eval set wrote it, "inline" for data, or the URL
    media_type: str
    sha256: str | None  # None for a URL (the API fetches it; its bytes are never seen here)
    size: int | None
    path: str | None = None  # resolved file, for a path part
    url: str | None = None
    width: int | None = None
    height: int | None = None
    pages: int | None = None  # of a PDF (counted from its page objects: an estimate's input)
    detail: str | None = None
    inline: str | None = field(default=None, repr=False)  # the base64 of a data part (already in the eval set)

    def record(self) -> dict[str, Any]:
        """What a record keeps of it: name, size, sha256, type (never the bytes)."""
        return {k: v for k, v in asdict(self).items() if v is not None and k not in ("path", "inline")}

    def key(self) -> dict[str, Any]:
        """What the response cache keys on: the content hash, not where the file sits."""
        return {"type": self.kind, "media_type": self.media_type, "sha256": self.sha256, "url": self.url,
                "detail": self.detail}


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: str


class _MediaPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str | None = None
    data: str | None = None
    media_type: str | None = None
    _blob: Blob | None = PrivateAttr(default=None)

    def sources(self) -> list[str]:
        return [k for k in ("path", "url", "data") if getattr(self, k, None) is not None]

    @model_validator(mode="after")
    def _one_source(self) -> Any:
        got = self.sources()
        if len(got) != 1:
            allowed = "path, url or data" if isinstance(self, ImagePart) else "path or data"
            raise ValueError(f"give exactly one of {allowed} (got {', '.join(got) or 'none'})")
        if self.data is not None and self.media_type is None:
            raise ValueError("inline data needs its media_type (e.g. image/png)")
        return self

    @property
    def blob(self) -> Blob:
        assert self._blob is not None, "media not resolved: load the eval set with load_evalset"
        return self._blob


class ImagePart(_MediaPart):
    type: Literal["image"]
    url: str | None = None
    media_type: Literal["image/png", "image/jpeg", "image/gif", "image/webp"] | None = None
    detail: Literal["low", "high", "auto"] | None = None


class FilePart(_MediaPart):
    type: Literal["file"]
    media_type: Literal["application/pdf"] | None = None


Part = Annotated[TextPart | ImagePart | FilePart, Field(discriminator="type")]


def parts_text(parts: list[Any]) -> str:
    """Content parts as plain text: text as it is, each image or file as a bracketed name."""
    out = []
    for p in parts:
        if isinstance(p, TextPart):
            out.append(p.text)
        else:
            b = p._blob
            name = b.name if b is not None else (p.path or getattr(p, "url", None) or "inline")
            out.append(f"[{'image' if p.type == 'image' else 'file'}: {name}]")
    return "\n".join(out)


def media_parts(example: Any) -> list[Any]:
    """The image and file parts of an example, in order."""
    if isinstance(example.input, str):
        return []
    return [p for m in example.input if isinstance(m.content, list) for p in m.content
            if isinstance(p, ImagePart | FilePart)]


def blobs(example: Any) -> list[Blob]:
    return [p.blob for p in media_parts(example) if p._blob is not None]


def media_record(example: Any) -> list[dict[str, Any]]:
    """What a record keeps of an example's images and files (never their bytes)."""
    return [b.record() for b in blobs(example)]


def modalities(examples: list[Any]) -> set[str]:
    """The catalog modalities an eval set needs beyond text ({"image", "pdf"})."""
    return {MODALITY[p.type] for ex in examples for p in media_parts(ex)}


def wire_content(head: list[dict[str, Any]], parts: list[Any]) -> list[dict[str, Any]]:
    """Parts as the run carries them to a provider: text as it is, an image or file as its Blob."""
    out = list(head)
    for p in parts:
        out.append({"type": "text", "text": p.text} if isinstance(p, TextPart) else {"type": p.type, "blob": p.blob})
    return out


def message_text(content: Any) -> str:
    """A carried message's content as text (a system prompt, a completion-style prompt)."""
    if not isinstance(content, list):
        return content or ""
    return "\n".join(p["text"] if p["type"] == "text" else f"[{p['type']}: {p['blob'].name}]" for p in content)


def request_blobs(messages: list[dict[str, Any]]) -> list[Blob]:
    return [p["blob"] for m in messages if isinstance(m.get("content"), list) for p in m["content"] if "blob" in p]


# --- reading and checking the files ---------------------------------------------------------

def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the image's header, or None when it cannot be read."""
    import io

    try:
        from PIL import Image  # installed with matplotlib

        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            im.verify()  # a damaged file (bad CRC, cut short) is refused here, not by the API after paying
        return int(w), int(h)
    except Exception:
        return None


_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_COUNT = re.compile(rb"/Count\s+(\d{1,7})")


def _pdf_pages(data: bytes) -> int | None:
    """Pages of a PDF: its page objects, or the page tree's /Count where that says more (0 when a
    compressed object stream hides both); None when it is not a whole PDF (no %%EOF near its end)."""
    if b"%%EOF" not in data[-1024:]:
        return None
    counts = [int(m) for m in _COUNT.findall(data)]
    return max([len(_PAGE.findall(data))] + counts)


def check_bytes(data: bytes, kind: str, declared: str | None, name: str) -> tuple[str, dict[str, int | None]]:
    """(media type, facts) of a file's bytes, or ValueError saying why it cannot be sent."""
    if len(data) > MAX_MEDIA_FILE_BYTES:
        raise ValueError(f"{name} is {len(data) / MB:,.1f} MB; the limit is {MAX_MEDIA_FILE_BYTES // MB} MB a file")
    if not data:
        raise ValueError(f"{name} is empty")
    found = sniff(data)
    allowed = IMAGE_TYPES if kind == "image" else FILE_TYPES
    if found is None or found not in allowed:
        what = found or "not a PNG, JPEG, GIF, WebP or PDF file (by its first bytes)"
        raise ValueError(f"{name} is {what}; an {kind} part takes {', '.join(allowed)}")
    if declared is not None and declared != found:
        raise ValueError(f"{name} says media_type {declared} but its bytes are {found}")
    if kind == "image":
        size = _image_size(data)
        if size is None:
            raise ValueError(f"{name} cannot be read as {found} (damaged or cut short)")
        w, h = size
        if max(w, h) > MAX_IMAGE_SIDE:
            raise ValueError(f"{name} is {w}x{h} pixels; the limit is {MAX_IMAGE_SIDE} a side")
        return found, {"width": w, "height": h}
    pages = _pdf_pages(data)
    if pages is None:
        raise ValueError(f"{name} is not a whole PDF (no %%EOF at its end: cut short?)")
    if pages > MAX_PDF_PAGES:
        raise ValueError(f"{name} has {pages} pages; the limit is {MAX_PDF_PAGES}")
    return found, {"pages": pages or None}


def resolve_parts(example: Any, folder: Path, roots: list[Path] | None, evalset: Path, line: int | None) -> None:
    """Read, check and hash every image and file of an example (InputError naming the eval set's
    file, line and field), and keep each one's Blob on its part."""
    from modelsel.inputs.usercode import inside

    parts = media_parts(example)
    if len(parts) > MAX_MEDIA_PARTS:
        raise InputError(f"example '{example.id}' has {len(parts)} images and files; the limit is {MAX_MEDIA_PARTS} "
                         "an example.", path=evalset, line=line, field="input")
    total = 0
    for mi, m in enumerate(example.input if not isinstance(example.input, str) else []):
        if not isinstance(m.content, list):
            continue
        for pi, p in enumerate(m.content):
            if not isinstance(p, ImagePart | FilePart):
                continue
            at = f"input.{mi}.content.{pi}"

            def bad(msg: str, field: str = at) -> InputError:
                return InputError(f"example '{example.id}': {msg}.", path=evalset, line=line, field=field)

            detail = getattr(p, "detail", None)
            if getattr(p, "url", None) is not None:
                url = p.url
                if not re.match(r"https?://[^\s/]+", url):
                    raise bad(f"'{url[:100]}' is not an http(s) URL", f"{at}.url")
                mt = p.media_type or _type_by_suffix(url) or "image/jpeg"
                p._blob = Blob(kind=p.type, name=url, media_type=mt, sha256=None, size=None, url=url, detail=detail)
                continue
            if p.path is not None:
                f = Path(p.path).expanduser()
                f = f if f.is_absolute() else folder / f
                if roots is not None and not inside(f, roots):
                    raise bad(f"'{p.path}' resolves to {f.resolve()}, outside {roots[0]} (the project); images and "
                              "files must live inside it, or widen it with --allow-path DIR", f"{at}.path")
                if not f.is_file():
                    raise bad(f"'{p.path}' not found (looked in {f.parent})" if not f.exists()
                              else f"'{p.path}' is not a file", f"{at}.path")
                try:
                    if f.stat().st_size > MAX_MEDIA_FILE_BYTES:
                        raise bad(f"{p.path} is {f.stat().st_size / MB:,.1f} MB; the limit is "
                                  f"{MAX_MEDIA_FILE_BYTES // MB} MB a file", f"{at}.path")
                    data = f.read_bytes()
                except OSError as exc:
                    raise bad(f"'{p.path}' cannot be read ({exc.strerror})", f"{at}.path") from None
                name, where = p.path, dict(path=str(f.resolve()))
            else:
                try:
                    data = base64.b64decode(p.data or "", validate=True)
                except (binascii.Error, ValueError):
                    raise bad("'data' is not valid base64", f"{at}.data") from None
                name, where = "inline", dict(inline=p.data)
            try:
                mt, facts = check_bytes(data, p.type, p.media_type, name)
            except ValueError as exc:
                raise bad(str(exc), f"{at}.{'path' if p.path is not None else 'data'}") from None
            total += len(data)
            if total > MAX_EXAMPLE_MEDIA_BYTES:
                raise bad(f"its images and files come to over {MAX_EXAMPLE_MEDIA_BYTES // MB} MB; the limit is "
                          f"{MAX_EXAMPLE_MEDIA_BYTES // MB} MB an example", "input")
            p._blob = Blob(kind=p.type, name=name, media_type=mt, sha256=hashlib.sha256(data).hexdigest(),
                           size=len(data), detail=detail, **where, **facts)  # type: ignore[arg-type]


def _type_by_suffix(url: str) -> str | None:
    s = url.lower().split("?")[0]
    for suf, mt in ((".png", "image/png"), (".jpg", "image/jpeg"), (".jpeg", "image/jpeg"), (".gif", "image/gif"),
                    (".webp", "image/webp"), (".pdf", "application/pdf")):
        if s.endswith(suf):
            return mt
    return None


# --- what a provider sends ------------------------------------------------------------------

_B64: dict[str, str] = {}
_B64_BYTES = 0
_B64_KEEP = 64 * MB  # encoded files kept for the next candidate (each file is read and encoded once a run)


def read_blob(b: Blob) -> bytes:
    """The bytes of a file, checked against the hash taken when the eval set was read (a file
    changed since is refused, not sent)."""
    if b.inline is not None:
        return base64.b64decode(b.inline)
    assert b.path is not None
    data = Path(b.path).read_bytes()
    if hashlib.sha256(data).hexdigest() != b.sha256:
        raise ValueError(f"{b.name} changed since the eval set was read")
    return data


def b64(b: Blob) -> str:
    """The file as base64, encoded once a run and shared by every candidate that sends it."""
    global _B64_BYTES
    if b.inline is not None:
        return b.inline
    assert b.sha256 is not None
    got = _B64.get(b.sha256)
    if got is None:
        got = base64.b64encode(read_blob(b)).decode()
        if _B64_BYTES + len(got) > _B64_KEEP:
            _B64.clear()
            _B64_BYTES = 0
        _B64[b.sha256] = got
        _B64_BYTES += len(got)
    return got


def limits_rows() -> list[str]:
    """The README's rows for images and files."""
    return [
        f"| an image or PDF in an eval set | {MAX_MEDIA_FILE_BYTES // MB} MB a file; images {MAX_IMAGE_SIDE:,} pixels a "
        f"side, PDFs {MAX_PDF_PAGES} pages; the type is read from the first bytes (PNG, JPEG, GIF, WebP, PDF), "
        "never from the name |",
        f"| images and files in one example | {MAX_MEDIA_PARTS} parts, {MAX_EXAMPLE_MEDIA_BYTES // MB} MB together |",
    ]


# --- estimates before any call (--dry-run, the budget guard): each provider's documented rule ------

RULES = {
    "openai": "OpenAI: 85 tokens an image at detail low; else 85 + 170 a 512-px tile after fitting 2048 px and "
              "768 px on the short side; a PDF page as its image at that rule (765) (platform.openai.com/docs/guides/images-vision)",
    "anthropic": "Anthropic: width x height / 750 after fitting 1568 px on the long side; a PDF page 2,250 "
                 "(the middle of the documented 1,500-3,000) (docs.anthropic.com/en/docs/build-with-claude/vision, /pdf-support)",
    "gemini": "Gemini: 258 tokens an image up to 384 px a side, else 258 a 768-px tile; 258 a PDF page "
              "(ai.google.dev/gemini-api/docs/tokens)",
}
_UNKNOWN_SIDE = 1024  # an image given by URL: its size is not known before the call


def _openai_image(b: Blob) -> int:
    if b.detail == "low":
        return 85
    w, h = float(b.width or _UNKNOWN_SIDE), float(b.height or _UNKNOWN_SIDE)
    s = min(1.0, 2048 / max(w, h))
    w, h = w * s, h * s
    s = min(1.0, 768 / min(w, h))
    w, h = w * s, h * s
    return 85 + 170 * (math.ceil(w / 512) * math.ceil(h / 512))


def _anthropic_image(b: Blob) -> int:
    w, h = float(b.width or _UNKNOWN_SIDE), float(b.height or _UNKNOWN_SIDE)
    s = min(1.0, 1568 / max(w, h))
    return max(1, math.ceil(w * s * h * s / 750))


def _gemini_image(b: Blob) -> int:
    w, h = b.width or _UNKNOWN_SIDE, b.height or _UNKNOWN_SIDE
    if w <= 384 and h <= 384:
        return 258
    return 258 * math.ceil(w / 768) * math.ceil(h / 768)


def rule_family(provider: str) -> str:
    return provider if provider in ("anthropic", "gemini") else "openai"


def estimate_media_tokens(provider: str, items: list[Blob]) -> int:
    """Input tokens the images and PDFs of one request come to by `provider`'s documented rule (an
    estimate: the run prices the tokens the API reports)."""
    fam = rule_family(provider)
    image = {"openai": _openai_image, "anthropic": _anthropic_image, "gemini": _gemini_image}[fam]
    page = {"openai": 765, "anthropic": 2250, "gemini": 258}[fam]
    return sum(image(b) if b.kind == "image" else page * (b.pages or 1) for b in items)
