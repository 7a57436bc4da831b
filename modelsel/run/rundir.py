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
from modelsel.inputs.textfile import atomic_write, write_json
from modelsel.redaction import redact
from modelsel.run.records import Record, dumps
from modelsel.schema import SCHEMA_VERSION, Summary


def unfinished_runs(reports_root: Path, requirements: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Run folders of these requirements that a crash, Ctrl-C or a full disk left unfinished and
    that no process is writing now."""
    import fcntl

    out = []
    if not reports_root.is_dir():
        return out
    for m in reports_root.glob(f"*/{MARKER}"):
        owner, marker = _owner(m.parent)
        if marker.get("state") == "finished" or not _same_file(owner, requirements):
            continue
        try:
            fd = os.open(m.parent / LOCK, os.O_RDWR | os.O_NOFOLLOW)
        except OSError:
            out.append((m.parent, marker))
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            out.append((m.parent, marker))
        except BlockingIOError:
            pass  # being written right now
        finally:
            os.close(fd)
    return sorted(out)

SUMMARY, RECORDS, TRACE, INPUTS = "summary.json", "records.jsonl", "trace.jsonl", "inputs"
MARKER, LOCK = ".modelsel-run.json", ".modelsel.lock"  # whose run this is and in what state; the writer's lock
# What a run folder may hold: a folder holding anything else is the user's, never written into.
RUN_FILES = {SUMMARY, RECORDS, TRACE, INPUTS, MARKER, LOCK, "records.csv", "decision.md", "report.html", "review.json",
             "review.md", "review.html", "thumbs"}


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


def _owner(folder: Path) -> tuple[str | None, dict[str, Any]]:
    """(requirements file, marker) of a run folder: from its marker, else its summary."""
    for name in (MARKER, SUMMARY):
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            req = data.get("requirements") if name == MARKER else (data.get("run") or {}).get("requirements")
            return (str(req) if req else None), (data if name == MARKER else {})
    return None, {}


def _same_file(a: str | None, b: Path) -> bool:
    if not a:
        return False
    try:
        return Path(a).resolve() == b.resolve()
    except OSError:
        return False


def open_nofollow(path: Path, flags: int) -> int:
    """A file descriptor for writing `path` that never follows a symlink: a link planted in a run
    folder (records.jsonl -> ~/.bashrc) is removed, not written through."""
    if path.is_symlink():
        path.unlink()
    return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._trace: BinaryIO | None = None
        self._index: list[tuple[str, str, int, int, int]] = []  # (candidate, example, repeat, offset, length)
        self._lock_fd: int | None = None

    # --- making one ------------------------------------------------------------------------
    @classmethod
    def create(cls, out: Path | None, reports_root: Path, stem: str, requirements: Path | None = None) -> RunDir:
        """A new run folder, or `out`: empty, new, or an earlier run of the same requirements. The
        folder is locked for this process (a second writer gets bad input naming the holder) and
        marked 'running' until its reports are written."""
        if out is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            out = reports_root / f"{stem}-{stamp}"
            n = 1
            while out.exists():
                n += 1
                out = reports_root / f"{stem}-{stamp}-{n}"
        elif out.exists():
            if not out.is_dir():
                raise InputError("--out names a file, not a folder.", path=out, field="--out")
            cls._may_write(out, None, locked=False)
        # Whether modelsel had locked this folder before: taking the lock below makes the file, and a
        # folder is not a stopped run just because this process has now made its lock file there.
        had_lock = os.path.lexists(out / LOCK)
        out.mkdir(parents=True, exist_ok=True)
        rd = cls(out)
        rd.lock()
        try:
            rd._may_write(out, requirements, locked=True, had_lock=had_lock)  # again, now no other writer can change it
            rd.mark("running", requirements)
            for name in (TRACE, RECORDS):  # a re-run into the same folder starts its streams afresh
                os.close(open_nofollow(out / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
        except BaseException:
            rd.release()
            raise
        return rd

    @staticmethod
    def _may_write(out: Path, requirements: Path | None, locked: bool, had_lock: bool = False) -> None:
        """Before the lock only files that are not a run's stop us (a writer holding the folder may
        be making its own right now); with the lock held, the folder must be a run of these
        requirements."""
        entries = [p.name for p in out.iterdir() if p.name != LOCK]
        if not entries:
            return
        owner, _ = _owner(out)
        foreign = [e for e in entries if e not in RUN_FILES and not e.startswith(".")]
        if not locked and not foreign:
            return
        if owner is None and not foreign and had_lock:
            return  # modelsel's own files from a run that stopped before it wrote its marker
        if owner is None or foreign:
            shown = ", ".join(sorted(foreign or entries)[:4])
            raise InputError(f"--out names a folder that holds files that are not a modelsel run ({shown}); nothing was "
                             "written. Choose an empty or new folder.", path=out, field="--out")
        if requirements is not None and not _same_file(owner, requirements):
            raise InputError(f"--out is a run of another requirements file ({owner}); nothing was written. Choose an "
                             "empty or new folder.", path=out, field="--out")

    def lock(self) -> None:
        """One writer per run folder: an exclusive lock held until `release`. A second writer gets
        bad input naming the folder and the process that holds it."""
        import fcntl
        import socket

        fd = open_nofollow(self.path / LOCK, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            import time

            holder: dict[str, Any] = {}
            for _ in range(40):  # the holder writes its name just after it takes the lock
                try:
                    holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
                except ValueError:
                    holder = {}
                if holder.get("pid"):
                    break
                time.sleep(0.025)
            os.close(fd)
            who = f"process {holder.get('pid')} on {holder.get('host')}" if holder.get("pid") else "another process"
            raise InputError(f"this run folder is being written by {who} (since {holder.get('since', '?')}); wait "
                             "for it to finish or choose another --out.", path=self.path, field="--out") from None
        # Who holds it, in the lock file itself: a second writer can name the holder at once.
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                         "since": datetime.now().isoformat(timespec="seconds")}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, me, 0)
        self._lock_fd = fd

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the flock
            self._lock_fd = None

    def mark(self, state: str, requirements: Path | None = None, **more: Any) -> None:
        """The run's state for whoever finds the folder: running, finished, interrupted, stopped."""
        import socket

        _, old = _owner(self.path)
        data = {**old, "state": state, **more}
        if requirements is not None:
            data.update(requirements=str(requirements.resolve()), pid=os.getpid(), host=socket.gethostname(),
                        started_at=datetime.now().isoformat(timespec="seconds"))
        data["updated_at"] = datetime.now().isoformat(timespec="seconds")
        write_json(self.path / MARKER, data)

    def copy_inputs(self, files: Iterable[Path], root: Path | None = None) -> None:
        """Copies of what produced the run, at their paths under the requirements' folder tree
        (inputs/requirements/x.yaml, inputs/evalsets/y.jsonl, ...), so the copy of the requirements
        resolves its own eval set, prompts and code: `report --rescore` runs from it."""
        dest = self.path / INPUTS
        if dest.is_symlink():
            dest.unlink()
        dest.mkdir(exist_ok=True)
        for f in files:
            if not (f.exists() and f.is_file()):
                continue
            try:
                rel = f.resolve().relative_to(root.resolve()) if root is not None else Path(f.name)
            except ValueError:
                rel = Path("_outside") / f.name
            target = dest / rel
            for parent in reversed(target.relative_to(dest).parents[:-1]):
                d = dest / parent
                if d.is_symlink():
                    d.unlink()
                d.mkdir(exist_ok=True)
            fd = open_nofollow(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            with os.fdopen(fd, "wb") as out, open(f, "rb") as src:
                shutil.copyfileobj(src, out)

    def input_path(self, name: str) -> Path:
        return self.path / INPUTS / name

    def input_requirements(self, recorded: str) -> Path | None:
        """The run's own copy of its requirements file (at its tree path, or flat in older runs)."""
        found = sorted(p for p in (self.path / INPUTS).rglob(Path(recorded).name) if p.is_file())
        return found[0] if found else None

    # --- streams written while calls finish --------------------------------------------------
    def trace(self, rec: Record) -> None:
        """Append one finished (scored) call and flush, so a crash loses nothing already answered.
        Each call is serialised once; records.jsonl is this file in eval-set order."""
        if self._trace is None:
            self._trace = os.fdopen(open_nofollow(self.path / TRACE, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "ab")
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
