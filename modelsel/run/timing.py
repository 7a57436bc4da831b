"""MODELSEL_TIMINGS=1: each phase's time since the process started modelsel, and the process's
peak memory so far, on stderr. The benchmarks read these lines to say where the time before the
first call and after the last answer goes, and where the memory peaks; without the variable
nothing is printed."""

from __future__ import annotations

import os
import sys
import time

_T0 = time.perf_counter()
ON = os.environ.get("MODELSEL_TIMINGS") == "1"


def mark(what: str) -> None:
    if ON:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"modelsel-timing {what} {time.perf_counter() - _T0:.4f} peak {peak:.0f} MB", file=sys.stderr, flush=True)
