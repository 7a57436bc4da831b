"""Atomic file writes and the response cache (one SQLite per reports folder)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

from modelsel.redaction import redact
from modelsel.run.cachekey import CacheKeyProblem, cache_secret


def cache_key(identity: dict[str, Any], messages: list[dict], prompt: str, params: dict, repeat: int,
              tooling: dict[str, Any] | None = None) -> str:
    """What makes two calls the same call: the provider's identity of the model (see
    Provider.cache_identity), the request (with the tools offered and the output schema, when there
    are any) and the repeat index. An image or file counts by its content hash (sha256), never by
    where it sits or its bytes."""
    more = {"tooling": tooling} if tooling else {}
    blob = json.dumps({**identity, "messages": messages, "prompt": prompt, "params": params, "repeat": repeat, **more},
                      sort_keys=True, ensure_ascii=False, default=_key_of)
    return hashlib.sha256(blob.encode()).hexdigest()


def _key_of(o: Any) -> Any:
    from modelsel.inputs.media import Blob

    if isinstance(o, Blob):
        return o.key()
    raise TypeError(f"{type(o).__name__} is not part of a request")


class CacheUnreadable(Exception):
    """The response cache file is not a database modelsel can read."""

    def __init__(self, path: Path, exc: Exception) -> None:
        super().__init__(f"the response cache {path} cannot be read ({exc}); move it aside (its answers are lost "
                         "to this run, nothing else is) and run again")
        self.path = path


class CacheKeyUnavailable(CacheUnreadable):
    """The secret the cache's checksums are keyed with cannot be had (modelsel/run/cachekey.py)."""

    def __init__(self, path: Path, exc: CacheKeyProblem) -> None:
        Exception.__init__(self, f"the response cache {path} cannot be used: {exc}")
        self.path = path


def _checksum(secret: bytes, key: str, value: str) -> str:
    """Ties a cached answer to its request with a key that does not travel with the cache: a row
    edited by hand (its checksum recomputed or not), damaged, or copied from another machine's cache
    no longer matches."""
    return hmac.new(secret, f"{key}\n{value}".encode(), hashlib.sha256).hexdigest()


def cached_answer_problem(hit: Any) -> str | None:
    """Why a cached answer cannot be used as one, or None: the cache is read like any input."""
    if not isinstance(hit, dict) or not isinstance(hit.get("output"), str):
        return "is not an answer"
    for k in ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
              "reasoning_tokens"):
        v = hit.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            return f"holds an impossible {k}"
    if hit.get("usage") is not None and not isinstance(hit.get("usage"), dict):
        return "holds a usage that is not an object"
    lat = hit.get("latency_ms")
    if lat is not None and (isinstance(lat, bool) or not isinstance(lat, int | float) or not lat >= 0):
        return "holds an impossible latency"
    calls = hit.get("tool_calls")
    if calls is not None and not (isinstance(calls, list) and all(
            isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("arguments"), str) for c in calls)):
        return "holds calls that are not {name, arguments}"
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Cache:
    """Finished responses, keyed by model, parameters and input. Survives kill -9: each response
    is committed the moment it arrives. Several runs on one reports folder share it; a short
    lease per request key makes a second run wait for the first run's answer instead of paying
    for the same call again. A lease expires when its holder's process is gone or its time
    (the call's timeout plus retries) has passed."""

    POLL_S = 0.05

    def __init__(self, path: Path, read: bool = True) -> None:
        try:
            self.secret = cache_secret()
        except CacheKeyProblem as exc:  # before the file is touched: nothing is half-made
            raise CacheKeyUnavailable(path, exc) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.read = read  # --no-cache: make fresh calls, but still store them
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:  # truncated, overwritten or not SQLite at all
            self.db.close()
            raise CacheUnreadable(path, exc) from None
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")
        if "checksum" not in {r[1] for r in self.db.execute("PRAGMA table_info(responses)")}:
            self.db.execute("ALTER TABLE responses ADD COLUMN checksum TEXT")  # caches written before it had none
        self.unusable: dict[str, set[str]] = {}  # rows not used, by why: each a miss, said once at the end
        self.db.execute("CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, host TEXT, pid INTEGER, expires REAL)")
        # Provider batches: saved the moment one is created, so a run killed while it waits collects
        # the same batch when run again instead of submitting (and paying for) a second one.
        self.db.execute("CREATE TABLE IF NOT EXISTS batches (key TEXT PRIMARY KEY, candidate TEXT, api TEXT, "
                        "batch_id TEXT, items INTEGER, created REAL, state TEXT, requirements TEXT)")
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.held: set[str] = set()

    def get(self, key: str) -> dict[str, Any] | None:
        if not self.read:
            return None
        row = self.db.execute("SELECT value, checksum FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value, checksum = row
        if not isinstance(checksum, str) or not isinstance(value, str):
            return self._unusable(key, "has no checksum (edited, or written before checksums)")
        if not hmac.compare_digest(checksum.encode(), _checksum(self.secret, key, value).encode()):
            return self._unusable(key, "does not match its checksum (edited, damaged, or written "
                                       "with another cache key)")
        try:
            hit = json.loads(value)
        except ValueError:
            return self._unusable(key, "is not JSON")
        why = cached_answer_problem(hit)
        return self._unusable(key, why) if why else hit

    def _unusable(self, key: str, why: str) -> None:
        self.unusable.setdefault(why, set()).add(key)
        return None

    def _try_lease(self, key: str, ttl: float) -> bool:
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT host, pid, expires FROM leases WHERE key = ?", (key,)).fetchone()
            if row is not None:
                host, pid, expires = row
                dead = host == self.host and pid != self.pid and not _alive(pid)
                if not dead and expires > now and (host, pid) != (self.host, self.pid):
                    self.db.execute("COMMIT")
                    return False
            self.db.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?)", (key, self.host, self.pid, now + ttl))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.held.add(key)
        return True

    async def get_or_lease(self, key: str, timeout_s: float, attempts: int = 4) -> dict[str, Any] | None:
        """The cached answer, or None with a lease taken: the caller makes the call. While another
        live run holds the lease, wait for its answer."""
        import asyncio

        if not self.read:
            return None
        ttl = timeout_s * attempts + 120  # the holder's call, its retries and their waits
        while True:
            hit = self.get(key)
            if hit is not None:
                return hit
            if self._try_lease(key, ttl):
                hit = self.get(key)  # answered between our look and our lease
                if hit is not None:
                    self.release(key)
                return hit
            await asyncio.sleep(self.POLL_S)

    def put(self, key: str, value: dict[str, Any]) -> None:
        text = redact(json.dumps(value))
        self.db.execute("INSERT OR REPLACE INTO responses (key, value, created, checksum) VALUES (?, ?, ?, ?)",
                        (key, text, time.time(), _checksum(self.secret, key, text)))

    def release(self, key: str) -> None:
        if key in self.held:
            self.held.discard(key)
            self.db.execute("DELETE FROM leases WHERE key = ? AND host = ? AND pid = ?", (key, self.host, self.pid))

    # --- provider batches ------------------------------------------------------------------------
    def batch_get(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT candidate, api, batch_id, items, created, state FROM batches WHERE key = ?",
                              (key,)).fetchone()
        return None if row is None else dict(zip(("candidate", "api", "batch_id", "items", "created", "state"), row,
                                                 strict=True))

    def batch_save(self, key: str, candidate: str, api: str, batch_id: str, items: int, requirements: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO batches VALUES (?, ?, ?, ?, ?, ?, 'submitted', ?)",
                        (key, candidate, api, batch_id, items, time.time(), requirements))

    def batch_intent(self, key: str, candidate: str, api: str, items: int, requirements: str) -> None:
        """A batch about to be created, saved before the request: a stop while it is made (the provider
        made it, the id never came back) leaves this row, and the next run looks the batch up."""
        self.db.execute("INSERT OR REPLACE INTO batches VALUES (?, ?, ?, NULL, ?, ?, 'submitting', ?)",
                        (key, candidate, api, items, time.time(), requirements))

    def batch_state(self, key: str, state: str) -> None:
        self.db.execute("UPDATE batches SET state = ? WHERE key = ?", (state, key))

    def batches_open(self, requirements: str | None = None) -> list[dict[str, Any]]:
        """Batches submitted and not yet collected, cancelled or failed (of one requirements file)."""
        q = "SELECT key, candidate, api, batch_id, items, created FROM batches WHERE state = 'submitted'"
        rows = self.db.execute(q + (" AND requirements = ?" if requirements else ""),
                               (requirements,) if requirements else ()).fetchall()
        return [dict(zip(("key", "candidate", "api", "batch_id", "items", "created"), r, strict=True)) for r in rows]

    def close(self) -> None:
        for key in list(self.held):
            self.release(key)
        self.db.close()


def cache_path(reports_root: Path) -> Path:
    """One response cache per reports folder, whatever run folder --out names, so any re-run resumes."""
    return reports_root / ".cache" / "responses.sqlite"
