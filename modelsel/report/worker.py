"""A helper process that loads matplotlib while the calls are in flight and draws the charts
once they are done. Importing matplotlib takes about 0.6 s; in the main process it would either
hold up the reports after the last answer or, done in a thread during the calls, hold the GIL
and stretch the latency of answers arriving meanwhile (measured: +50 ms on some calls). In its
own process it does neither. Any failure falls back to drawing in the main process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from modelsel.run.timing import ON
from modelsel.schema import Summary

CHARTS = ("cost", "latency", "diff", "tags")


def draw(s: Summary, samples: dict[str, list[float]]) -> dict[str, str | None]:
    from modelsel.report import charts

    return {"cost": charts.cost_quality(s), "latency": charts.latency(s, samples), "diff": charts.differences(s),
            "tags": charts.by_tag(s)}


class ChartWorker:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None

    @classmethod
    def start(cls) -> ChartWorker:
        """Start the helper unless matplotlib is loaded here already (then drawing here is cheap) or
        MODELSEL_CHART_WORKER=0."""
        w = cls()
        if "matplotlib" in sys.modules or os.environ.get("MODELSEL_CHART_WORKER") == "0":
            return w
        try:
            w.proc = subprocess.Popen([sys.executable, "-m", "modelsel.report.worker"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=None if ON else subprocess.DEVNULL, text=True)
        except OSError:
            w.proc = None
        return w

    def send(self, s: Summary, samples: dict[str, list[float]]) -> None:
        """Hand over the figures; the charts are drawn while the main process writes the other reports."""
        if self.proc is None or self.proc.stdin is None:
            return
        try:
            self.proc.stdin.write(json.dumps({"summary": s.model_dump(mode="json"), "samples": samples}) + "\n")
            self.proc.stdin.flush()
        except OSError:
            self.close()

    def result(self, s: Summary, samples: dict[str, list[float]], timeout: float = 120.0) -> dict[str, str | None]:
        if self.proc is not None and self.proc.stdout is not None:
            try:
                out, _ = self.proc.communicate(timeout=timeout)
                got = json.loads(out.strip().splitlines()[-1])
                if set(got) == set(CHARTS):
                    return got
            except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
                pass
            finally:
                self.close()
        return draw(s, samples)  # no helper, or it failed: draw here

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def main() -> None:
    import gc
    import time

    t0 = time.perf_counter()
    try:  # below the run's own process and its calls: on two cores this import would take one from them
        os.nice(10)
    except OSError:
        pass
    from modelsel.report import charts

    charts.warm()
    # matplotlib and what warm() drew stay until the process exits (in under a second): a full
    # collection over them took 40-60 ms of the drawing the run waits for.
    gc.freeze()
    gc.disable()
    t1 = time.perf_counter()
    line = sys.stdin.readline()
    t2 = time.perf_counter()
    if not line.strip():
        return
    req: dict[str, Any] = json.loads(line)
    out = draw(Summary.model_validate(req["summary"]), req["samples"])
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    if ON:
        print(f"modelsel-timing worker warm {t1 - t0:.3f} waited {t2 - t1:.3f} drew {time.perf_counter() - t2:.3f}",
              file=sys.stderr, flush=True)
    os._exit(0)  # the answer is out; tearing down matplotlib would only keep the main process waiting


if __name__ == "__main__":
    main()
