"""What the fake server does with images and documents: reads them from a request body in each
API's own wire format and refuses what the real API refuses (a 400 in its own format), so a test
sees exactly what modelsel sent.

  OpenAI chat:  {"type": "image_url", "image_url": {"url": "data:image/png;base64,...", "detail": "low"}}
                {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,..."}}
  Anthropic:    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "..."}}
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "..."}}
                (either with {"type": "url", "url": ...} as source)
  Gemini:       {"inlineData": {"mimeType": "image/png", "data": "..."}} (or inline_data / mime_type)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _sniff(data: bytes) -> str | None:
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


def _decode(data: Any, where: str) -> bytes:
    if not isinstance(data, str) or not data:
        raise ValueError(f"{where}: no base64 data")
    try:  # the Gemini SDK sends bytes url-safe; the others standard
        alphabet = b"-_" if ("-" in data or "_" in data) else None
        return base64.b64decode(data, altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}: the data is not valid base64") from None


def _item(kind: str, media_type: Any, raw: bytes, where: str, **more: Any) -> dict[str, Any]:
    found = _sniff(raw)
    if found is None:
        raise ValueError(f"{where}: could not process the {kind}: not a known image or document format")
    if media_type != found:
        raise ValueError(f"{where}: the {kind} was specified using the {media_type} media type, but it is {found}")
    allowed = IMAGE_TYPES if kind == "image" else ("application/pdf",)
    if found not in allowed:
        raise ValueError(f"{where}: {found} is not a supported {kind} type")
    return {"kind": kind, "media_type": found, "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
            "bytes": raw, **more}


def _data_url(url: Any, where: str) -> tuple[str, bytes] | None:
    if not isinstance(url, str):
        raise ValueError(f"{where}: url must be a string")
    if re.match(r"https?://", url):
        return None
    m = re.fullmatch(r"data:([\w/.+-]+);base64,(.*)", url, re.S)
    if not m:
        raise ValueError(f"{where}: expected a data URL (data:<type>;base64,...) or an http(s) URL")
    return m.group(1), _decode(m.group(2), where)


def received_media(api: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The images and documents in one request (kind, media_type, size, sha256, bytes; or url), or
    ValueError with the message the API would give."""
    out: list[dict[str, Any]] = []
    if api == "openai":
        for i, m in enumerate(body.get("messages") or []):
            content = m.get("content")
            if not isinstance(content, list):
                continue
            for j, p in enumerate(content):
                where = f"messages[{i}].content[{j}]"
                t = p.get("type")
                if t == "text":
                    continue
                if m.get("role") != "user":
                    raise ValueError(f"{where}: image and file parts are only allowed in user messages")
                if t == "image_url":
                    img = p.get("image_url") or {}
                    if img.get("detail") not in (None, "low", "high", "auto"):
                        raise ValueError(f"{where}: detail must be low, high or auto")
                    got = _data_url(img.get("url"), where)
                    if got is None:
                        out.append({"kind": "image", "url": img["url"], "detail": img.get("detail")})
                    else:
                        out.append(_item("image", got[0], got[1], where, detail=img.get("detail")))
                elif t == "file":
                    f = p.get("file") or {}
                    if "file_id" in f:
                        out.append({"kind": "document", "file_id": f["file_id"]})
                        continue
                    if not f.get("filename"):
                        raise ValueError(f"{where}: file.filename is required with file_data")
                    got = _data_url(f.get("file_data"), where)
                    if got is None:
                        raise ValueError(f"{where}: file_data must be a data URL")
                    out.append(_item("document", got[0], got[1], where, filename=f["filename"]))
                else:
                    raise ValueError(f"{where}: unknown content part type {t!r}")
    elif api == "anthropic":
        for i, m in enumerate(body.get("messages") or []):
            content = m.get("content")
            if not isinstance(content, list):
                continue
            for j, b in enumerate(content):
                where = f"messages.{i}.content.{j}"
                t = b.get("type")
                if t not in ("image", "document"):
                    continue
                src = b.get("source") or {}
                if src.get("type") == "url":
                    out.append({"kind": t, "url": src.get("url")})
                elif src.get("type") == "base64":
                    if t == "image" and src.get("media_type") not in IMAGE_TYPES:
                        raise ValueError(f"{where}.source.media_type: Input should be one of {IMAGE_TYPES}")
                    out.append(_item(t, src.get("media_type"), _decode(src.get("data"), where), where))
                else:
                    raise ValueError(f"{where}.source.type: Input tag {src.get('type')!r} does not match")
    else:
        for i, c in enumerate(body.get("contents") or []):
            for j, p in enumerate(c.get("parts") or []):
                where = f"contents[{i}].parts[{j}]"
                blob = p.get("inlineData") or p.get("inline_data")
                if blob is not None:
                    mt = blob.get("mimeType") or blob.get("mime_type")
                    kind = "document" if mt == "application/pdf" else "image"
                    out.append(_item(kind, mt, _decode(blob.get("data"), where), where))
                elif p.get("fileData") or p.get("file_data"):
                    fd = p.get("fileData") or p.get("file_data")
                    out.append({"kind": "file", "url": fd.get("fileUri") or fd.get("file_uri")})
    return out


def receipt_reader(misread_every: int = 0) -> Any:
    """A fake vision model for receipts (tests/media_files.receipt): answers the total and date the
    image carries as JSON; with `misread_every` k, every k-th receipt (by its bytes) gets a total
    off by one cent, so models differ as real ones would."""
    import json

    from tests.media_files import read_receipt

    def read(prompt: str, files: list[bytes]) -> str:
        got = read_receipt(files[0]) if files else None
        if got is None:
            return "I cannot read a receipt here."
        if misread_every and int(hashlib.sha256(files[0]).hexdigest(), 16) % misread_every == 0:
            got = {**got, "total": f"{float(got['total']) + 0.01:.2f}"}
        return json.dumps(got)

    return read
