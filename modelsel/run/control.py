"""The control endpoint: what this machine adds to a call, measured while the run is in flight.

A tiny OpenAI-compatible server in its own process on 127.0.0.1 answers every request after a
known wait and states in its streamed answer how long it held the request. The run calls it the
way it calls a model (the same provider code, SDK and pooled client, on the same event loop),
interleaved with them; the time the client measured minus the server's own time is what this
machine (its event loop, its other processes, the SDK) added to that call. On a quiet machine
that is a millisecond or two; on a runner shared with builds it is tens to hundreds, and the
record then takes its judged latency from a pass the machine does not distort.

    python -m modelsel.run.control [FD]   (serves on the listening socket FD, or on a port it
                                           prints; until stdin closes)
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WAIT_MS = 20.0  # the control's known wait: long enough to overlap the model calls, short enough to sample often


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        import socket

        # Without TCP_NODELAY, Nagle's algorithm meets the client's delayed ACK: 40 ms of nothing.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args: Any) -> None:  # quiet: nothing of ours on stderr
        pass

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        """A streamed answer in OpenAI's wire format, in events written one by one as a provider
        sends them; the answer's text is the server's own time in ms, known before the first byte."""
        t0 = time.perf_counter()
        self.rfile.read(int(self.headers.get("content-length") or 0))
        time.sleep(WAIT_MS / 1000)
        own = f"{(time.perf_counter() - t0) * 1000:.3f}"
        base = {"id": "control", "object": "chat.completion.chunk", "created": int(time.time()), "model": "control"}
        events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
                  {**base, "choices": [{"index": 0, "delta": {"content": own}, "finish_reason": None}]},
                  {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                  {**base, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}]
        parts = [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(sum(len(x) for x in parts)))
        self.end_headers()
        for x in parts:
            self.wfile.write(x)


def serve(fd: int | None = None) -> None:
    """Serve on the listening socket `fd` the run made (so it knows the port without waiting for
    this process to start), or on a port of its own, printed."""
    import socket

    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler, bind_and_activate=fd is None)
    if fd is not None:
        srv.socket.close()
        srv.socket = socket.socket(fileno=fd)
        srv.server_address = srv.socket.getsockname()
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdin.read()  # the run closes our stdin when it is done (or dies): then we go


def server_ms(stated: str | None, took_ms: float) -> float | None:
    """The control's own time as it stated it, or None when it cannot be true: missing, not a plain
    decimal number ("nan", "1e12", garbage), negative, or longer than the whole call as this process
    measured it. A control whose stated time lies is no measure of the machine: its samples are
    refused (never read as "0 ms added" nor as a machine that adds 100 s)."""
    import re

    if stated is None or not re.fullmatch(r"\d{1,9}(\.\d{1,6})?", stated.strip()):
        return None
    ms = float(stated)
    return ms if ms <= took_ms else None


class Control:
    """The control process and the samples taken from it: what this machine added to its calls, and
    how late the event loop woke between them (both with the time they were taken)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.port: int | None = None
        self.samples: list[tuple[float, float]] = []  # (monotonic time, ms this machine added)
        self.lag: list[tuple[float, float]] = []  # (monotonic time, ms the event loop woke late)
        self.refused = 0  # answers whose stated time could not be true (server_ms): not samples
        self._provider: Any = None
        self._held = False  # floor() is sampling: watch() waits

    def start(self) -> bool:
        """Start the control process without waiting for it: the run makes the listening socket and
        hands it over, so the port is known at once and the first calls go out while the control
        process is still starting (its early requests wait in the socket's backlog)."""
        import socket

        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                sock.listen(64)
                self.port = sock.getsockname()[1]
                self.proc = subprocess.Popen([sys.executable, "-I", "-m", "modelsel.run.control", str(sock.fileno())],
                                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                             text=True, env={"PYTHONPATH": _package_root()}, pass_fds=(sock.fileno(),))
        except OSError:
            self.stop()
            return False
        self.use(f"http://127.0.0.1:{self.port}/v1")
        return True

    def use(self, base_url: str) -> None:
        """Call the control at `base_url` the way a model is called: the same provider code, SDK,
        pooled HTTP client and response hooks, streamed, on the same event loop. Built now, before any
        model call is in flight: importing the SDK and building a client would otherwise land inside
        the calls' clocks."""
        from modelsel.inputs.candidate import Candidate
        from modelsel.providers.openai_chat import OpenAICompatibleProvider

        self._provider = OpenAICompatibleProvider(Candidate(id="control", provider="openai-compatible", vendor="modelsel",
                                                            model="control", base_url=base_url))
        self._provider.client(10.0)

    def stop(self) -> None:
        """End the control process. It holds nothing to save; waiting for it to leave on its own
        (its stdin closed) took 30 ms after the last answer, so it is killed."""
        if self.proc is not None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.kill()
                self.proc.wait(timeout=2)
            except Exception:
                pass
            self.proc = None

    async def sample(self) -> float | None:
        """One control call through the path the models' calls take: ms this machine added."""
        if self._provider is None:
            return None
        from modelsel.providers.base import CallRequest

        req = CallRequest(messages=[{"role": "user", "content": "ping"}], prompt="ping",
                          params={"max_tokens": 1, "stream": True}, timeout_s=10.0)
        try:
            res = await self._provider.complete(req)
        except Exception:
            return None
        server = server_ms(res.text, res.latency_ms)
        if server is None:  # read like any response: a stated time that cannot be true is no sample
            self.refused += 1
            return None
        added = res.latency_ms - server
        self.samples.append((time.monotonic(), added))
        return added

    async def watch(self, every_s: float = 0.05) -> None:
        """Sample every `every_s` while the calls are in flight (cancelled when they are done); each
        pause between samples also says how late the event loop woke. The first call pays the SDK's
        cold start and a new connection: it is made, not kept."""
        await self.sample()
        self.samples.clear()
        loop = asyncio.get_running_loop()
        while True:
            if not self._held:
                await self.sample()
            t = loop.time()
            await asyncio.sleep(every_s)
            self.lag.append((time.monotonic(), max(0.0, (loop.time() - t - every_s) * 1000)))

    async def floor(self, n: int = 7) -> float | None:
        """What a call costs on this machine with nothing else of the run in flight: the control's
        added time, one call at a time, once the quality pass is over (median of `n`; the watcher
        waits meanwhile). A quiet pass cannot measure below it, so only the quality pass's excess
        over it is distortion a quiet pass would remove. None when no sample came back. Its samples
        fall between the quality pass's window and the first latency pass's, in neither."""
        self._held = True
        try:
            got = [x for _ in range(n) if (x := await self.sample()) is not None]
        finally:
            self._held = False
        return _q(got, 0.5) if got else None

    async def aclose(self) -> None:
        if self._provider is not None:
            await self._provider.aclose()


def _package_root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent)


@dataclass
class Distortion:
    """What the machine added to the control's calls over a window of the run, and how late the
    event loop woke meanwhile (the two together say whether the calls' clocks were distorted)."""

    n: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    samples: list[float] = field(default_factory=list)
    lag_p50_ms: float | None = None
    lag_p95_ms: float | None = None
    lag_n: int = 0
    floor_ms: float | None = None  # the control alone after the pass (Control.floor); measured only when needed

    @classmethod
    def of(cls, xs: list[float], lag: list[float] | None = None) -> Distortion:
        out = cls()
        if xs:
            out.n, out.p50_ms, out.p95_ms, out.max_ms, out.samples = (len(xs), _q(xs, 0.5), _q(xs, 0.95),
                                                                      round(max(xs), 2), list(xs))
        if lag:
            out.lag_n, out.lag_p50_ms, out.lag_p95_ms = len(lag), _q(lag, 0.5), _q(lag, 0.95)
        return out

    def busy(self, threshold_ms: float, min_n: int) -> bool:
        """Whether the machine distorted the calls' clocks: the control's calls took more than
        `threshold_ms` longer than the control itself at the median, or the event loop woke more than
        twice that late at p95 (an answer arriving then waited as long before its clock stopped). The
        control alone missed CPU-bound neighbours: 4.5 ms at the median while the run's own calls
        carried 10 ms more than a bare client's, and the loop's p95 lag was 14 ms (3.7-5.6 ms without
        them; benchmarks/latency_accuracy.py --busy 4)."""
        control = self.n >= min_n and self.excess_ms() > threshold_ms
        return control or self.loop_busy(threshold_ms, min_n)

    def loop_busy(self, threshold_ms: float, min_n: int) -> bool:
        """The event loop woke more than twice the threshold late at p95: busy whatever the control says."""
        return self.lag_n >= min_n and (self.lag_p95_ms or 0.0) > 2 * threshold_ms

    def excess_ms(self) -> float:
        """The control's median added time above what a call alone costs here (floor_ms, when
        measured): on an idle 2-core machine the control read 4.3-4.5 ms at 16 in flight, of which
        3-4 ms a call alone pays (a bare client one call at a time: +3.9 ms), against a 5 ms threshold."""
        return (self.p50_ms or 0.0) - (self.floor_ms or 0.0)


def _q(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(p * len(s)))], 2)


def window(control: Control, start: float, end: float) -> Distortion:
    return Distortion.of([x for t, x in control.samples if start <= t <= end],
                         [x for t, x in control.lag if start <= t <= end])


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else None)
