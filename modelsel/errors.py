"""Errors a user can act on. Each names the file, the line and the field."""

from __future__ import annotations

import difflib
from pathlib import Path


class InputError(Exception):
    """Bad input or usage: the CLI prints it as one paragraph and exits 2."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        where = ""
        if self.path:
            where = self.path + (f":{self.line}" if self.line else "")
        parts = [p for p in (where, f"field '{self.field}'" if self.field else "") if p]
        head = ": ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.hint:
            text += f" {self.hint}"
        return text


def did_you_mean(word: str, choices: list[str] | set[str]) -> str | None:
    close = difflib.get_close_matches(word, sorted(choices), n=3, cutoff=0.5)
    if not close:
        return None
    return "Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


class Stopped(KeyboardInterrupt):
    """SIGTERM (a CI timeout, `docker stop`) or SIGHUP (the terminal closed), handled as Ctrl-C is:
    finished answers kept, leases released, the folder marked interrupted. Exit 128 + the signal."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(f"Stopped by {signal.Signals(signum).name}")
        self.exit_code = 128 + signum


_PENDING: list[Stopped] = []


def pending_stop() -> Stopped | None:
    """The stop a signal asked for, once asked: raised where the program was, it can be swallowed
    there (pydantic-core, building a validator in a call's task, turned it into a SchemaError and the
    run went on), so the runner asks again at its own safe points."""
    return _PENDING[-1] if _PENDING else None


def stop_on_signals() -> None:
    """Turn SIGTERM and SIGHUP into Stopped, raised where the program is (like Ctrl-C's KeyboardInterrupt)."""
    import signal

    def raise_stopped(signum: int, frame: object) -> None:
        _PENDING.append(Stopped(signum))
        raise _PENDING[-1]

    _PENDING.clear()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, raise_stopped)
