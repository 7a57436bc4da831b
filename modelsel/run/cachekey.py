"""The secret the response cache's checksums are keyed with (HMAC-SHA256).

A plain checksum proves nothing against an edit: whoever edits a row recomputes it. A keyed one
does, as long as the key does not travel with the cache. It comes from MODELSEL_CACHE_KEY (set it
from a CI secret: a CI cache is restored from artifacts other branches can write), else from a
file in the user's config folder ($XDG_CONFIG_HOME/modelsel/cache.key, ~/.config by default),
made on first use with 32 random bytes, readable by its owner only.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

ENV = "MODELSEL_CACHE_KEY"
MIN_CHARS = 16


class CacheKeyProblem(Exception):
    """No key the cache's checksums can be made with: say where and what to do."""


def key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "modelsel" / "cache.key"


def cache_secret() -> bytes:
    """The key: MODELSEL_CACHE_KEY, or the config folder's key file (made now if there is none)."""
    env = os.environ.get(ENV)
    if env is not None and env != "":
        if len(env) < MIN_CHARS:
            raise CacheKeyProblem(f"{ENV} holds {len(env)} characters; a cache key needs at least {MIN_CHARS} "
                                  "(e.g. the output of `python -c 'import secrets; print(secrets.token_hex(32))'`)")
        return env.encode()
    path = key_file()
    try:
        if not path.exists():
            _make(path)
        st = path.stat()
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CacheKeyProblem(f"the cache key {path} can be read or written by others "
                                  f"(mode {stat.S_IMODE(st.st_mode):o}); run `chmod 600 {path}`")
        raw = path.read_bytes().strip()
    except OSError as exc:
        raise CacheKeyProblem(f"the cache key {path} cannot be made or read ({exc.strerror or exc}); set {ENV} "
                              "to a secret of at least 16 characters instead") from None
    if len(raw) < MIN_CHARS:
        raise CacheKeyProblem(f"the cache key {path} holds {len(raw)} characters, fewer than {MIN_CHARS}; delete it "
                              "and a new one is made on the next run (cached answers become misses)")
    return raw


def _make(path: Path) -> None:
    """Write a fresh key where no reader can see a half-written one: a private temporary file, then
    a hard link to the final name (fails if another process made it first: theirs is kept)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".cache.key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: a rename, unless one appeared meanwhile
            if not path.exists():
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
