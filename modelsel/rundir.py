"""A run folder: the only code that creates one, reads or writes its summary.json,
records.jsonl, trace.jsonl and inputs/. Writes are atomic or append-only."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from modelsel.errors import InputError
from modelsel.records import Record, dumps
from modelsel.schema import SCHEMA_VERSION, Summary
from modelsel.secrets import redact
from modelsel.store import atomic_write, write_json

SUMMARY, RECORDS, TRACE, INPUTS = "summary.json", "records.jsonl", "trace.jsonl", "inputs"


_FIELD = {k: re.compile(rf'"{k}"\s*:\s*"((?:[^"\\]|\\.)*)"') for k in ("candidate", "example_id")}


def _field(line: str, name: str) -> str | None:
    m = _FIELD[name].search(line)
    return None if m is None else json.loads(f'"{m.group(1)}"')


def iter_jsonl_records(path: Path, candidates: set[str] | None = None, examples: set[str] | None = None
                       ) -> Iterator[Record]:
    """Every record of a JSONL file, or only those of the given candidates / examples (a line is
    parsed only when it is wanted: a report on 50,000 calls reads a few hundred). A last line cut
    by a crash mid-write is skipped (the response cache still has that call)."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            if candidates is not None and _field(line, "candidate") not in candidates:
                continue
            if examples is not None and _field(line, "example_id") not in examples:
                continue
            try:
                yield Record.model_validate_json(line)
            except ValueError:
                continue


def iter_jsonl_dicts(path: Path) -> Iterator[dict[str, Any]]:
    """The records as plain dicts (an export needs their fields, not Record objects)."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                if isinstance(d, dict):
                    yield d


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._trace: BinaryIO | None = None
        self._index: list[tuple[str, str, int, int, int]] = []  # (candidate, example, repeat, offset, length)

    # --- making one ------------------------------------------------------------------------
    @classmethod
    def create(cls, out: Path | None, reports_root: Path, stem: str) -> RunDir:
        if out is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            out = reports_root / f"{stem}-{stamp}"
            n = 1
            while out.exists():
                n += 1
                out = reports_root / f"{stem}-{stamp}-{n}"
        out.mkdir(parents=True, exist_ok=True)
        for name in (TRACE, RECORDS):  # a re-run into the same folder starts its streams afresh
            (out / name).write_bytes(b"")
        return cls(out)

    def copy_inputs(self, files: Iterable[Path]) -> None:
        dest = self.path / INPUTS
        dest.mkdir(exist_ok=True)
        for f in files:
            if f.exists() and f.is_file():
                shutil.copy2(f, dest / f.name)

    def input_path(self, name: str) -> Path:
        return self.path / INPUTS / name

    # --- streams written while calls finish --------------------------------------------------
    def trace(self, rec: Record) -> None:
        """Append one finished (scored) call and flush, so a crash loses nothing already answered.
        Each call is serialised once; records.jsonl is this file in eval-set order."""
        if self._trace is None:
            self._trace = open(self.path / TRACE, "ab")
        data = (redact(dumps(rec)) + "\n").encode("utf-8")
        self._index.append((rec.candidate, rec.example_id, rec.repeat, self._trace.tell(), len(data)))
        self._trace.write(data)
        self._trace.flush()

    def close(self) -> None:
        if self._trace is not None:
            self._trace.close()
        self._trace = None

    def sort_records(self, candidates: list[str], examples: list[str]) -> None:
        """Write records.jsonl: the trace in candidate and eval-set order, copied by the offsets kept
        while appending: one pass, no record parsed or held."""
        cpos = {c: i for i, c in enumerate(candidates)}
        epos = {e: i for i, e in enumerate(examples)}
        order = sorted(self._index, key=lambda t: (cpos.get(t[0], len(cpos)), epos.get(t[1], len(epos)), t[2]))
        src = self.path / TRACE
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".records.", suffix=".tmp")
        try:
            with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
                for *_, off, n in order:
                    fin.seek(off)
                    fout.write(fin.read(n))
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path / RECORDS)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._index = []

    # --- whole files ---------------------------------------------------------------------------
    def write_records(self, records: Iterable[Record]) -> None:
        atomic_write(self.path / RECORDS, "".join(dumps(r) + "\n" for r in records))

    def write_summary(self, summary: Summary) -> None:
        write_json(self.path / SUMMARY, summary.model_dump(mode="json"))

    def write_text(self, name: str, text: str) -> Path:
        atomic_write(self.path / name, text)
        return self.path / name

    def write_json(self, name: str, obj: Any) -> Path:
        write_json(self.path / name, obj)
        return self.path / name

    # --- reading back ---------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: Path) -> RunDir:
        if not folder.is_dir():
            raise InputError("not a folder: expected a run folder written by `modelsel eval`.", path=folder)
        if not (folder / SUMMARY).exists() or not (folder / RECORDS).exists():
            raise InputError("not a finished run folder (summary.json or records.jsonl missing).", path=folder)
        return cls(folder)

    def raw_summary(self) -> dict[str, Any]:
        s = self.path / SUMMARY
        try:
            data = json.loads(s.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"summary.json is not valid JSON ({exc.msg}).", path=s, line=exc.lineno) from None
        if not isinstance(data, dict):
            raise InputError("summary.json is not a JSON object.", path=s)
        return data

    def summary(self) -> Summary:
        s = self.path / SUMMARY
        data = self.raw_summary()
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            hint = (" It was written by an earlier modelsel: `modelsel report RUN --rescore` rebuilds it from the records."
                    if isinstance(version, int) and version < SCHEMA_VERSION else "")
            raise InputError(f"summary schema_version {version!r} (this modelsel reads {SCHEMA_VERSION}).{hint}",
                             path=s, field="schema_version")
        try:
            return Summary.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise InputError(f"summary.json does not match schema {SCHEMA_VERSION}: {err['msg']}.", path=s,
                             field=".".join(str(p) for p in err["loc"])) from None

    def records(self, candidates: set[str] | None = None, examples: set[str] | None = None) -> Iterator[Record]:
        return iter_jsonl_records(self.path / RECORDS, candidates, examples)

    def record_dicts(self) -> Iterator[dict[str, Any]]:
        return iter_jsonl_dicts(self.path / RECORDS)


def load_run(folder: Path) -> tuple[Summary, list[Record]]:
    rd = RunDir.open(folder)
    return rd.summary(), list(rd.records())


def newest_run_for(requirements: Path, reports_root: Path) -> Path | None:
    want = requirements.resolve()
    best: tuple[str, Path] | None = None
    if not reports_root.is_dir():
        return None
    for s in reports_root.glob(f"*/{SUMMARY}"):
        try:
            data = json.loads(s.read_text(encoding="utf-8"))
            req = Path(data["run"]["requirements"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if req.resolve() == want or (not req.is_absolute() and (Path.cwd() / req).resolve() == want):
            stamp = data["run"].get("finished_at", "")
            if best is None or stamp > best[0]:
                best = (stamp, s.parent)
    return best[1] if best else None
