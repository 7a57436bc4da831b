"""Small image and PDF files for tests and benchmarks, made here (no fixtures checked in): PNG
and JPEG through Pillow (installed with matplotlib), a PDF written by hand (a valid xref table)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any


def png(width: int = 40, height: int = 30, color: tuple[int, int, int] = (200, 30, 30),
        text: dict[str, str] | None = None) -> bytes:
    """A PNG; `text` goes in tEXt chunks (a fake model 'reads' the image from them)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def jpeg(width: int = 64, height: int = 48, color: tuple[int, int, int] = (20, 120, 200)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG", quality=80)
    return out.getvalue()


def pdf(pages: int = 2, text: str = "Invoice total 42.00") -> bytes:
    """A valid PDF of `pages` pages, each showing `text` (Helvetica), with its xref table."""
    objs: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    font = 3 + 2 * pages
    for i in range(pages):
        stream = f"BT /F1 18 Tf 72 720 Td ({text} p{i + 1}) Tj ET".encode()
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
                    f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def receipt(total: str, date: str, width: int = 120, height: int = 200) -> bytes:
    """A receipt image whose total and date a fake model can read (tEXt chunk 'receipt')."""
    return png(width, height, (250, 250, 245), {"receipt": json.dumps({"total": total, "date": date})})


def read_receipt(data: bytes) -> dict[str, Any] | None:
    """What a receipt image says (its tEXt chunk), or None."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            raw = getattr(im, "text", {}).get("receipt")
        return json.loads(raw) if raw else None
    except Exception:
        return None


def write(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
