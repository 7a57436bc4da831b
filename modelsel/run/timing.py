"""MODELSEL_TIMINGS=1: each phase's time since the process started modelsel, the process's peak
memory so far and the wall clock (so a benchmark can place the marks beside its own clock), on
stderr; and each garbage collection that stopped the process for 5 ms or more (two such passes of
60 ms each once sat on the path to the first request and after the last answer). The benchmarks
read these lines to say where the time before the first call and after the last answer goes, and
where the memory peaks; without the variable nothing is printed."""

from __future__ import annotations

import gc
import os
import sys
import time

_T0 = time.perf_counter()
ON = os.environ.get("MODELSEL_TIMINGS") == "1"
GC_MS = 5.0


def mark(what: str) -> None:
    if ON:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"modelsel-timing {what} {time.perf_counter() - _T0:.4f} peak {peak:.0f} MB at {time.time():.4f}",
              file=sys.stderr, flush=True)


_gc_started: list[float] = [0.0]


def _gc_pause(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
        return
    took = (time.perf_counter() - _gc_started[0]) * 1000
    if took >= GC_MS:
        mark(f"gc generation {info['generation']} took {took:.1f} ms")


if ON:
    gc.callbacks.append(_gc_pause)
