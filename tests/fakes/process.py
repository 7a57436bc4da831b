"""The fake provider in its own process, so its threads do not share the GIL with the client
being measured (on 2 cores that contention alone inflates measured latency and wall time).
Used by latency tests and by benchmarks/."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent


class FakeProcess:
    def __init__(self, scripts: dict[str, dict[str, Any]], seed: int = 7) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.server", json.dumps(scripts), str(seed)],
                                     cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url

    def seen(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/__seen", timeout=10) as r:  # loopback only
            return json.loads(r.read())

    def batches(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/__batches", timeout=10) as r:  # loopback only
            return json.loads(r.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
