"""The run folder: response cache, trace, records and reports. Writes are atomic or append-only."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from modelsel.secrets import redact

_UMASK = os.umask(0)
os.umask(_UMASK)


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


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def cache_key(candidate: Any, messages: list[dict], prompt: str, params: dict, repeat: int) -> str:
    blob = json.dumps(
        {"provider": candidate.provider, "model": candidate.model, "base_url": candidate.base_url,
         "messages": messages, "prompt": prompt, "params": params, "repeat": repeat},
        sort_keys=True, ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class Cache:
    """Finished responses, keyed by candidate, parameters and input. Survives kill -9:
    each response is committed the moment it arrives."""

    def __init__(self, path: Path, read: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.read = read  # --no-cache: make fresh calls, but still store them
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")

    def get(self, key: str) -> dict[str, Any] | None:
        if not self.read:
            return None
        row = self.db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", (key, redact(json.dumps(value)), time.time()))

    def close(self) -> None:
        self.db.close()


def cache_path(reports_root: Path) -> Path:
    """One response cache per reports folder, whatever run folder --out names, so any re-run resumes."""
    return reports_root / ".cache" / "responses.sqlite"


class RunFolder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._trace: Any = None

    @classmethod
    def create(cls, out: Path | None, reports_root: Path, stem: str) -> RunFolder:
        if out is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            out = reports_root / f"{stem}-{stamp}"
            n = 1
            while out.exists():
                n += 1
                out = reports_root / f"{stem}-{stamp}-{n}"
        out.mkdir(parents=True, exist_ok=True)
        (out / "trace.jsonl").unlink(missing_ok=True)
        return cls(out)

    def copy_inputs(self, files: list[Path]) -> None:
        dest = self.path / "inputs"
        dest.mkdir(exist_ok=True)
        for f in files:
            if f.exists() and f.is_file():
                shutil.copy2(f, dest / f.name)

    def trace(self, line: str) -> None:
        """Append one finished call and flush, so a crash loses nothing already answered."""
        if self._trace is None:
            self._trace = open(self.path / "trace.jsonl", "a", encoding="utf-8")
        self._trace.write(redact(line) + "\n")
        self._trace.flush()

    def close(self) -> None:
        if self._trace is not None:
            self._trace.close()
            self._trace = None
