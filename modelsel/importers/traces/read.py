"""Read trace files of any supported format, detected by content, never by name: every line of a
JSONL file, every element of a JSON array (with its line), every CSV row. A file modelsel cannot
read says which formats it reads; a broken line names its file and line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelsel.errors import InputError
from modelsel.importers.traces import langfuse, mlflow_traces, otlp
from modelsel.importers.traces.calls import Read
from modelsel.inputs.textfile import MB, check_strings, read_text

MAX_TRACE_FILE_BYTES = 2048 * MB  # a JSONL or CSV export, read a line at a time
MAX_JSON_DOCUMENT_BYTES = 256 * MB  # a file that is one JSON document is parsed whole
MAX_LINE_BYTES = 64 * MB
FORMATS = ("OTLP/JSON from the OpenTelemetry file exporter (one export request a line; GenAI or OpenInference "
           "attributes; GenAI events as log records beside), Langfuse observation exports (JSON, JSONL or CSV), MLflow 3 traces (Trace.to_json, one a "
           "line or a list)")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read this trace file ({exc.strerror}).", path=path) from None
    if size > MAX_TRACE_FILE_BYTES:
        raise InputError(f"this trace file is {size / MB:,.0f} MB; the limit is {MAX_TRACE_FILE_BYTES / MB:,.0f} MB: "
                         "split it (e.g. `split -l 100000`) and pass the parts.", path=path)
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if n == 1 and raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
                raise InputError("this trace file starts with a byte-order mark; save it as UTF-8 without one.",
                                 path=path, line=1)
            if len(raw) > MAX_LINE_BYTES:
                raise InputError(f"this line is {len(raw) / MB:,.0f} MB; the limit is {MAX_LINE_BYTES / MB:g} MB a line.",
                                 path=path, line=n)
            try:
                yield n, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"not UTF-8 (byte 0x{raw[exc.start]:02X}); export the traces as UTF-8.",
                                 path=path, line=n) from None


def _json(text: str, path: Path, line: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno}); a trace export has one JSON object a line "
                         "or is one JSON document.", path=path, line=line + exc.lineno - 1) from None
    except (RecursionError, ValueError):
        raise InputError("a value here cannot be read (nested too deeply, or a number too long).", path=path,
                         line=line) from None


def _elements(text: str, path: Path) -> Iterator[tuple[int, Any]]:
    """(line, element) of a JSON document: a list's elements, a Langfuse API page's `data`, or itself."""
    doc = _json(text, path, 1)
    if isinstance(doc, dict) and isinstance(doc.get("data"), list) and not mlflow_traces.is_trace(doc):
        start = text.find("[", text.find('"data"'))
    elif isinstance(doc, list):
        start = text.find("[")
    else:
        yield 1, doc
        return
    dec, i = json.JSONDecoder(), start + 1
    items = doc if isinstance(doc, list) else doc["data"]
    for item in items:  # find each element's line: decode from where the last one ended
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        line = text.count("\n", 0, i) + 1
        try:
            _, i = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            line = 1
        yield line, item


def _dispatch(obj: Any, path: Path, line: int, out: Read, fmt: list[str]) -> None:
    where = f"{path}:{line}"
    if not isinstance(obj, dict):
        raise InputError("not a trace record (an object); modelsel reads " + FORMATS + ".", path=path, line=line)
    check_strings(obj, path, line)
    if "resourceSpans" in obj:
        fmt.append("OTLP/JSON")
        otlp.read_request(obj, where, out)
    elif "resourceLogs" in obj:
        fmt.append("OTLP/JSON logs")
        otlp.read_logs(obj, out)
    elif mlflow_traces.is_trace(obj):
        fmt.append("MLflow traces")
        mlflow_traces.read_trace(obj, where, out)
    elif langfuse.is_observation(obj):
        fmt.append("Langfuse observations")
        langfuse.observation(obj, where, out)
    elif langfuse.is_score(obj):
        fmt.append("Langfuse scores")
        langfuse.score(obj, out)
    else:
        keys = ", ".join(list(obj)[:6])
        raise InputError(f"not a trace record modelsel knows (fields: {keys}); it reads {FORMATS}.", path=path, line=line)


def read_file(path: Path, out: Read) -> None:
    fmt: list[str] = []
    first = ""
    for _, text in _lines(path):
        if text.strip():
            first = text.lstrip()
            break
    if not first:
        raise InputError("this trace file is empty.", path=path)
    if first[0] in "{[":
        whole_line = first.rstrip()
        one_per_line = first[0] == "{" and _complete(whole_line)
        if one_per_line:
            for n, text in _lines(path):
                if text.strip():
                    _dispatch(_json(text.strip(), path, n), path, n, out, fmt)
        else:
            doc = read_text(path, MAX_JSON_DOCUMENT_BYTES, "trace file")
            for line, obj in _elements(doc, path):
                _dispatch(obj, path, line, out, fmt)
    else:
        _csv(path, out, fmt)
    out.formats += [f"{path.name}: {f}" for f in dict.fromkeys(fmt)]


def _complete(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except (json.JSONDecodeError, RecursionError, ValueError):
        return False


def _csv(path: Path, out: Read, fmt: list[str]) -> None:
    text = read_text(path, MAX_JSON_DOCUMENT_BYTES, "trace file")
    csv.field_size_limit(MAX_LINE_BYTES)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    if not ({"traceId", "trace_id"} & set(header)):
        raise InputError(f"not a trace export modelsel knows (first row: {', '.join(header[:6])}); it reads {FORMATS}.",
                         path=path, line=1)
    try:
        for row in reader:
            clean = {k: v for k, v in row.items() if k is not None}
            _dispatch(clean, path, reader.line_num, out, fmt)
    except csv.Error as exc:
        raise InputError(f"not valid CSV ({exc}).", path=path, line=reader.line_num) from None


def read_traces(paths: list[Path], slim: set[str] | None = None, wanted: set[tuple[str, str]] | None = None) -> Read:
    """Every model call in these files; `slim`: without their text and with only these attributes
    (a first pass over a large export); `wanted`: only these calls, whole (the second pass)."""
    out = Read(slim=slim, wanted=wanted)
    for p in paths:
        if not p.exists():
            raise InputError("trace file not found.", path=p)
        if p.is_dir():
            raise InputError("this is a folder; pass the trace files in it (e.g. traces/*.jsonl).", path=p)
        read_file(p, out)
    otlp.join_logs(out)
    _attach_feedback(out)
    return out


def _attach_feedback(out: Read) -> None:
    """Scores and assessments recorded apart from the call: to the observation they name, else to
    the trace's last model call (the answer the user saw)."""
    by_span = {(c.trace_id, c.span_id): c for c in out.calls}
    last: dict[str, Any] = {}
    for c in out.calls:
        if c.trace_id not in last or (c.end or 0) >= (last[c.trace_id].end or 0):
            last[c.trace_id] = c
    for trace_id, span_id, label in out.feedback:
        c = by_span.get((trace_id, span_id)) if span_id else None
        c = c or last.get(trace_id)
        if c is not None and c.feedback != "negative":  # one complaint is enough to keep
            c.feedback = label
