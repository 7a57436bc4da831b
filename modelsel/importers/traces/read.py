"""Read trace files of any supported format, detected by content, never by name: every line of a
JSONL file, every element of a JSON array (with its line), every CSV row. A file modelsel cannot
read says which formats it reads; a broken line names its file and line."""

from __future__ import annotations

import csv
import gzip
import io
import json
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from modelsel.errors import InputError
from modelsel.importers.traces import langfuse, mlflow_traces, otlp
from modelsel.importers.traces.calls import Read, feedback_label
from modelsel.importers.traces.otlp import span_id
from modelsel.inputs.textfile import MB, check_strings

MAX_TRACE_FILE_BYTES = 2048 * MB  # a JSONL or CSV export, read a line at a time
MAX_JSON_DOCUMENT_BYTES = 256 * MB  # a file that is one JSON document is parsed whole
MAX_LINE_BYTES = 64 * MB
FORMATS = ("OTLP/JSON from the OpenTelemetry file exporter (one export request a line; GenAI or OpenInference "
           "attributes; GenAI events as log records beside), Langfuse observation exports (JSON, JSONL or CSV), MLflow 3 traces (Trace.to_json, one a "
           "line or a list); any of them gzipped (.gz)")
GZIP = b"\x1f\x8b"
PROTOBUF_HINT = ("this looks like OTLP protobuf (binary), not OTLP/JSON: have the Collector's file exporter write JSON "
                 "(`format: json`), or turn each message into JSON with protobuf's own mapping: "
                 "`google.protobuf.json_format.MessageToJson(ExportTraceServiceRequest.FromString(data))`, one a line")


def _open(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped when it is gzip (by its first bytes, not its name). Only a regular
    file: a FIFO or a device would block or never end."""
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read this trace file ({exc.strerror}).", path=path) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError("not a regular file (a pipe, a device or a socket); save the traces to a file and pass that.",
                         path=path)
    if st.st_size > MAX_TRACE_FILE_BYTES:
        raise InputError(f"this trace file is {st.st_size / MB:,.0f} MB; the limit is {MAX_TRACE_FILE_BYTES / MB:,.0f} MB: "
                         "split it (e.g. `split -l 100000`) and pass the parts.", path=path)
    fh = open(path, "rb")  # noqa: SIM115 - handed to the caller, who closes it
    if fh.read(2) == GZIP:
        fh.seek(0)
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    fh.seek(0)
    return fh


def _read(fh: IO[bytes], n: int, path: Path) -> bytes:
    try:
        return fh.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"this gzip file is damaged or cut short ({exc}).", path=path) from None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line; none longer than MAX_LINE_BYTES is held, nor more than
    MAX_TRACE_FILE_BYTES read in all (a gzip file too, once unzipped)."""
    total = 0
    with _open(path) as fh:
        n = 0
        while True:
            try:
                raw = fh.readline(MAX_LINE_BYTES + 1)
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(f"this gzip file is damaged or cut short ({exc}).", path=path, line=n + 1) from None
            if not raw:
                return
            n += 1
            total += len(raw)
            if total > MAX_TRACE_FILE_BYTES:
                raise InputError(f"this trace file holds over {MAX_TRACE_FILE_BYTES / MB:,.0f} MB of text; split it and "
                                 "pass the parts.", path=path, line=n)
            if n == 1 and raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
                raise InputError("this trace file starts with a byte-order mark; save it as UTF-8 without one.",
                                 path=path, line=1)
            if len(raw) > MAX_LINE_BYTES:
                raise InputError(f"this line is over {MAX_LINE_BYTES / MB:g} MB, the limit a line.", path=path, line=n)
            try:
                yield n, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(_not_utf8(raw, exc.start), path=path, line=n) from None


def _binary(head: bytes) -> bool:
    """Control bytes a text export never holds (NUL, and those but tab and line breaks), or bytes
    that are not UTF-8, in the first bytes: a binary file (protobuf, a database, an archive)."""
    if any(b < 9 or 13 < b < 32 and b != 27 for b in head[:512]):
        return True
    try:
        head[:512].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < min(len(head), 512) - 4  # not a character cut at the end of the slice
    return False


def _not_utf8(raw: bytes, at: int) -> str:
    return f"not UTF-8 (byte 0x{raw[at]:02X}); export the traces as UTF-8."


def _document(path: Path) -> str:
    """A file that is one JSON document, whole (up to MAX_JSON_DOCUMENT_BYTES once unzipped)."""
    with _open(path) as fh:
        if not isinstance(fh, gzip.GzipFile) and path.stat().st_size > MAX_JSON_DOCUMENT_BYTES:
            data, too_big = b"", True  # refused by its size, without reading it
        else:
            data = _read(fh, MAX_JSON_DOCUMENT_BYTES + 1, path)
            too_big = len(data) > MAX_JSON_DOCUMENT_BYTES
    if too_big:
        raise InputError(f"this trace file is one JSON document over {MAX_JSON_DOCUMENT_BYTES / MB:g} MB, the limit for "
                         "one document: export it as JSONL (one trace a line, up to 2 GB).", path=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(_not_utf8(data, exc.start), path=path, line=data.count(b"\n", 0, exc.start) + 1) from None
    del data
    return text


def _sniff(path: Path) -> tuple[str, bool]:
    """(the first character that is not white space, whether the first line holds a whole JSON
    value): a JSONL file, one JSON document, or CSV. Reads at most one line of MAX_LINE_BYTES."""
    with _open(path) as fh:
        head = _read(fh, 4096, path)
        if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
            raise InputError("this trace file starts with a byte-order mark; save it as UTF-8 without one.",
                             path=path, line=1)
        if _binary(head):
            raise InputError((PROTOBUF_HINT if head[:1] == b"\x0a" else "not a text file; modelsel reads " + FORMATS)
                             + ".", path=path, line=1)
        fh.seek(0)
        first = b""
        while not first.strip():
            first = fh.readline(MAX_LINE_BYTES + 1)
            if not first:
                return "", False
    text = first.lstrip()
    c = chr(text[0]) if text[0] < 128 else "?"  # not JSON: read as CSV, which says what it found
    if len(first) > MAX_LINE_BYTES:
        return c, False  # one long line: a JSON document (or too long a JSONL line, said when read)
    return c, c == "{" and _complete(first.strip())


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
    """(line, element) of a JSON document: a list's elements, a Langfuse API page's `data`, or itself.
    A list is decoded an element at a time, each once, its line counted from the last one's: linear
    in the document's size (counting from the start each time made a 20 MB list take minutes)."""
    head = text.lstrip()
    if head[:1] == "[":
        yield from _list_elements(text, text.index("["), path)
        return
    doc = _json(text, path, 1)
    if isinstance(doc, dict) and isinstance(doc.get("data"), list) and not mlflow_traces.is_trace(doc):
        at = text.find("[", text.find('"data"'))
        lines = [line for line, _ in _list_elements(text, at, path, decode=False)] if at >= 0 else []
        for k, item in enumerate(doc["data"]):
            yield (lines[k] if k < len(lines) else 1), item
        return
    yield 1, doc


def _list_elements(text: str, at: int, path: Path, decode: bool = True) -> Iterator[tuple[int, Any]]:
    dec, i, n, line, counted = json.JSONDecoder(), at + 1, len(text), 1 + text.count("\n", 0, at), at
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            raise InputError("not valid JSON (the list is cut short); a trace export has one JSON object a line or is one "
                             "JSON document.", path=path, line=line + text.count("\n", counted, n))
        if text[i] == "]":
            return
        line += text.count("\n", counted, i)
        counted = i
        try:
            item, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg}); a trace export has one JSON object a line or is one JSON "
                             "document.", path=path, line=line + text.count("\n", counted, exc.pos)) from None
        except (RecursionError, ValueError):
            raise InputError("a value here cannot be read (nested too deeply, or a number too long).", path=path,
                             line=line) from None
        yield line, (item if decode else None)
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i < n and text[i] == ",":
            i += 1
        elif i < n and text[i] != "]":
            raise InputError("not valid JSON (expected ',' or ']' between the list's elements).", path=path,
                             line=line + text.count("\n", counted, i))


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
    elif mlflow_traces.is_dataframe_row(obj):
        fmt.append("MLflow search_traces() rows")
        mlflow_traces.read_dataframe_row(obj, where, out, path, line)
    else:
        keys = ", ".join(list(obj)[:6])
        hint = mlflow_traces.dataframe_hint(obj)
        raise InputError(hint or f"not a trace record modelsel knows (fields: {keys}); it reads {FORMATS}.", path=path,
                         line=line)


def read_file(path: Path, out: Read) -> None:
    fmt: list[str] = []
    first, one_per_line = _sniff(path)
    if not first:
        raise InputError("this trace file is empty.", path=path)
    if first in "{[":
        if one_per_line:
            for n, text in _lines(path):
                if text.strip():
                    _dispatch(_json(text.strip(), path, n), path, n, out, fmt)
        else:
            doc = _document(path)
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
    """A CSV export, strictly: a row cut short (fewer or more fields than the header, or a quoted
    field the file ends inside) is an error naming its line, as a cut JSONL line is."""
    text = _document(path)
    csv.field_size_limit(MAX_LINE_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise InputError(f"not valid CSV ({exc}).", path=path, line=1) from None
    if not ({"traceId", "trace_id"} & set(header)):
        if mlflow_traces.dataframe_hint({k: None for k in header}):
            raise InputError(mlflow_traces.dataframe_hint({k: None for k in header}) or "", path=path, line=1)
        raise InputError(f"not a trace export modelsel knows (first row: {', '.join(header[:6])}); it reads {FORMATS}.",
                         path=path, line=1)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(f"not valid CSV ({exc}): the file ends inside a quoted field, so this row is cut short.",
                             path=path, line=start) from None
        if not row or row == [""]:
            continue
        if len(row) != len(header):
            raise InputError(f"this row has {len(row)} fields where the header has {len(header)}: the row is cut short "
                             "or broken; export the file again.", path=path, line=start)
        _dispatch(dict(zip(header, row, strict=True)), path, start, out, fmt)


def read_traces(paths: list[Path], slim: set[str] | None = None, wanted: set[tuple[str, str]] | None = None,
                feedback: list[Path] | None = None, bare: bool = False) -> Read:
    """Every model call in these files; `slim`: without their text and with only these attributes
    (a first pass over a large export); `wanted`: only these calls, whole (the second pass);
    `feedback`: files of user ratings by trace id kept apart from the traces; `bare`: calls whose
    text cannot be read too (a trial reads signals, not text)."""
    out = Read(slim=slim, wanted=wanted, bare=bare)
    for p in paths:
        if not p.exists():
            raise InputError("trace file not found.", path=p)
        if p.is_dir():
            raise InputError("this is a folder; pass the trace files in it (e.g. traces/*.jsonl).", path=p)
        read_file(p, out)
    otlp.join_logs(out)
    for f in feedback or []:
        out.feedback += read_feedback(f)
    _attach_feedback(out)
    return out


FEEDBACK_TRACE = ("trace_id", "traceId", "trace", "context.trace_id")
FEEDBACK_SPAN = ("span_id", "spanId", "observation_id", "observationId", "context.span_id")
FEEDBACK_VALUE = ("rating", "feedback", "label", "value", "score", "thumbs", "annotation.label", "result.label",
                  "result.score")


def read_feedback(path: Path) -> list[tuple[str, str | None, str]]:
    """A feedback file beside the traces (for formats that cannot carry it, as OpenInference's OTLP
    cannot): CSV with a header or JSONL, a trace id (trace_id), optionally a span id (span_id), and a
    rating (rating, feedback, label, value or score: 👍/👎, thumbs_down, 1-5, -1/+1, true/false)."""
    if not path.exists():
        raise InputError("feedback file not found.", path=path, field="--feedback")
    first, per_line = _sniff(path)
    rows: list[tuple[int, dict[str, Any]]] = []
    if first == "{" and per_line:
        for n, text in _lines(path):
            if text.strip():
                obj = _json(text.strip(), path, n)
                if not isinstance(obj, dict):
                    raise InputError("a feedback line is a JSON object.", path=path, line=n, field="--feedback")
                rows.append((n, obj))
    elif first == "[":
        rows = [(n, o) for n, o in _elements(_document(path), path) if isinstance(o, dict)]
    elif first:
        reader = csv.DictReader(io.StringIO(_document(path), newline=""), strict=True)
        try:
            rows = [(reader.line_num, dict(r)) for r in reader]
        except csv.Error as exc:
            raise InputError(f"not valid CSV ({exc}).", path=path, line=reader.line_num, field="--feedback") from None
    out = []
    for n, r in rows:
        trace = next((r[k] for k in FEEDBACK_TRACE if r.get(k) not in (None, "")), None)
        value = next((r[k] for k in FEEDBACK_VALUE if r.get(k) not in (None, "")), None)
        if trace is None or value is None:
            raise InputError(f"a feedback row needs a trace id ({FEEDBACK_TRACE[0]}) and a rating "
                             f"({', '.join(FEEDBACK_VALUE[:5])}).", path=path, line=n, field="--feedback")
        label = feedback_label(value)
        span = next((r[k] for k in FEEDBACK_SPAN if r.get(k) not in (None, "")), None)
        if label:
            out.append((str(trace), str(span) if span else None, label))
    return out


def _attach_feedback(out: Read) -> None:
    """Scores and assessments recorded apart from the call: to the observation they name, else to
    the trace's last model call (the answer the user saw)."""
    by_span = {(c.trace_id, c.span_id): c for c in out.calls}
    last: dict[str, Any] = {}
    for c in out.calls:
        if c.trace_id not in last or (c.end or 0) >= (last[c.trace_id].end or 0):
            last[c.trace_id] = c
    for trace, span, label in out.feedback:  # ids as written, else as hex (a file may spell them in base64)
        c = (by_span.get((trace, span)) or by_span.get((span_id(trace), span_id(span)))) if span else None
        c = c or last.get(trace) or last.get(span_id(trace))
        if c is not None and c.feedback != "negative":  # one complaint is enough to keep
            c.feedback = label
