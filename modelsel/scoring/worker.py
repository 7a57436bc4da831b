"""Your scorers' code (`python` and `plugin` scorers) runs in a helper process, not in the run's own.

In the run's process a scorer that never returns would hold the event loop: no deadline, no SIGTERM
and no other answer could get through (a `while True` ran 38 minutes past "Stopped by SIGTERM"), and
one that calls `sys.exit` would end the run. Here each call waits on a pipe with its own time limit
(`time_limit_s`, 60 s unless the scorer says otherwise, and never past the run's deadline); a call
past it kills the helper, the scorer has failed for that answer, and the same function is not
called again in this run (its next answers fail at once, saying why). A stop of the run (Ctrl-C,
SIGTERM, the deadline) kills the helper with it; a helper whose parent has gone exits by itself.
Whatever the code raises or how it ends (an exception, `sys.exit`, the process dying) is that
scorer's failure, never the run's.

Protocol: one pickled (kind, payload) frame each way, length-prefixed, over the helper's stdin and a
copy of its stdout (the code's own prints go to stderr, never into the protocol)."""

from __future__ import annotations

import asyncio
import os
import pickle
import struct
import subprocess
import sys
import time
from typing import Any

TIME_LIMIT_S = 60.0  # a scorer's own limit per answer, unless its spec sets `time_limit_s`
USER_CODE = ("python", "plugin")  # the scorer types that run your code
_HEADER = struct.Struct("!Q")


_HELPER = "import modelsel.scoring.worker as w; w.run()"


class ScorerError(Exception):
    """The scorer's code failed in the helper: its exception's type name and message, as it raised them."""


def _failure(name: str, message: str) -> Exception:
    """An exception the scorers' caller reports as `Type: message`, the type named as the code raised it."""
    cls = type(name if name.isidentifier() else "ScorerError", (ScorerError,), {})
    return cls(message)


class ScorerWorker:
    """One helper process, started at the first call, restarted after a kill. Calls are one at a
    time (a lock): a scorer is cheap next to the model call whose answer it scores."""

    def __init__(self, folder: str | None, roots: list[str], deadline: float | None = None) -> None:
        self.folder, self.roots, self.deadline = folder, roots, deadline
        self.proc: subprocess.Popen[bytes] | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.read_transport: asyncio.BaseTransport | None = None
        self.lock: asyncio.Lock | None = None
        self.hung: dict[str, str] = {}  # function -> why it is not called again

    async def _start(self) -> None:
        """The helper, over pipes the event loop reads (no child watcher: a run stopped by a signal
        closes its loop before a watcher would see the helper end, and it would warn)."""
        if self.proc is not None and self.proc.poll() is None:
            return
        self.kill()  # a helper that ended between calls: its pipes are closed before new ones are made
        # -c, not -m: the package imports this module, and runpy would warn about running it a second time
        self.proc = subprocess.Popen([sys.executable, "-c", _HELPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=None)
        loop = asyncio.get_running_loop()
        self.reader = asyncio.StreamReader(limit=1 << 30)
        self.read_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(self.reader),
                                                              self.proc.stdout)
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, self.proc.stdin)
        self.writer = asyncio.StreamWriter(transport, protocol, None, loop)
        await self._send(("init", {"folder": self.folder, "roots": self.roots, "path": list(sys.path)}))

    async def _send(self, msg: Any) -> None:
        assert self.writer is not None
        data = pickle.dumps(msg)
        self.writer.write(_HEADER.pack(len(data)) + data)
        await self.writer.drain()

    async def _receive(self) -> Any:
        assert self.reader is not None
        head = await self.reader.readexactly(_HEADER.size)
        return pickle.loads(await self.reader.readexactly(_HEADER.unpack(head)[0]))

    async def score(self, spec: dict[str, Any], output: str, example: Any) -> tuple[float, str]:
        """The scorer's (score, reason) for this answer, or the exception saying why it has none."""
        what = str(spec.get("function") or spec.get("name") or "")
        if what in self.hung:
            raise TimeoutError(self.hung[what])
        if self.lock is None:
            self.lock = asyncio.Lock()
        limit = float(spec.get("time_limit_s") or TIME_LIMIT_S)
        async with self.lock:
            if self.deadline is not None:  # never past the run's deadline (a second to finish an answer in hand)
                limit = max(1.0, min(limit, self.deadline - time.monotonic()))
            try:
                await self._start()
                await self._send(("score", {"spec": spec, "output": output, "example": example}))
                kind, got = await asyncio.wait_for(self._receive(), limit)
            except TimeoutError:
                self.kill()
                self.hung[what] = (f"{spec['type']} scorer '{what}' did not return within {limit:g} s (its time limit: "
                                   "time_limit_s); it was stopped, and is not called again in this run")
                raise TimeoutError(self.hung[what]) from None
            except (asyncio.IncompleteReadError, BrokenPipeError, ConnectionResetError, OSError) as exc:
                code = self.proc.poll() if self.proc is not None else None
                self.kill()
                raise _failure("ScorerEnded", f"the scorer's process ended (exit code {code}) while scoring "
                               f"({type(exc).__name__})") from None
            except BaseException:  # the run was stopped (cancelled, Ctrl-C, SIGTERM): the helper goes with it
                self.kill()
                raise
        if kind == "ok":
            return got
        if kind == "raised":
            raise got
        raise _failure(*got)

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        writer, self.writer, self.reader = self.writer, None, None
        reading, self.read_transport = self.read_transport, None
        for t in (writer.transport if writer is not None else None, reading):
            if t is not None:  # each transport closes its own pipe and leaves the event loop's selector
                t.close()
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(5)  # killed: at once
            except subprocess.TimeoutExpired:
                pass

    async def aclose(self) -> None:
        self.kill()


# --- the helper process ------------------------------------------------------------------------------

def _read(f: Any) -> Any:
    head = f.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    return pickle.loads(f.read(_HEADER.unpack(head)[0]))


def _write(f: Any, msg: Any) -> None:
    data = pickle.dumps(msg)
    f.write(_HEADER.pack(len(data)) + data)
    f.flush()


def _outcome(spec: dict[str, Any], output: str, example: Any) -> tuple[str, Any]:
    from modelsel.inputs import usercode
    from modelsel.scoring.basic import DETERMINISTIC

    params = {k: v for k, v in spec.items() if k not in ("type", "weight", "time_limit_s")}
    try:
        return "ok", DETERMINISTIC[spec["type"]](output, example, **params)
    except BaseException as exc:  # whatever the code raised, sys.exit and KeyboardInterrupt included
        if isinstance(exc, Exception) and type(exc).__module__.split(".")[0] in ("builtins", "modelsel"):
            try:
                pickle.loads(pickle.dumps(exc))
                return "raised", exc
            except Exception:  # an exception that cannot cross the pipe: its name and message do
                pass
        return "failed", (type(exc).__name__, str(exc) if isinstance(exc, Exception) else usercode.describe(exc))


def _watch_parent(parent: int) -> None:
    """Exit when the run that started this helper is gone (killed without a chance to kill it)."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle; it then kills this helper
    _watch_parent(os.getppid())
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the code reading stdin reads nothing, never the protocol
    os.dup2(2, 1)  # the code's prints go to stderr, never into the protocol
    sys.stdout = sys.stderr
    init = _read(proto_in)
    if init is None:
        return
    cfg = init[1]
    sys.path[:] = [p for p in cfg["path"] if p] + [p for p in sys.path if p not in cfg["path"]]
    if cfg["folder"]:
        from pathlib import Path

        from modelsel.inputs import usercode

        usercode.configure(Path(cfg["folder"]), [Path(r) for r in cfg["roots"]] or [Path(cfg["folder"])])
    while True:
        msg = _read(proto_in)
        if msg is None:
            return
        job = msg[1]
        try:
            _write(proto_out, _outcome(job["spec"], job["output"], job["example"]))
        except Exception as exc:  # a result that does not pickle (an odd reason object): said, not lost
            _write(proto_out, ("failed", (type(exc).__name__, f"the scorer's result could not be sent back ({exc})")))


def run() -> None:
    """The helper's entry point (ScorerWorker starts it with `python -c`)."""
    main()
    sys.stdout.flush()
    os._exit(0)
