"""Two clocks that were timed tests (flaky on a shared 2-core machine) and are timings here:

1. A fast model beside slow ones: 20 ms, 150 ms and 400 ms models, 32 calls in flight in all. What
   modelsel adds to the fast model's measured latency (recorded minus the server's own time for the
   same request, warm calls) against a bare official client on the same endpoint at the same
   concurrency, in the same run; and whether calls made while the report machinery warms up (the
   first third) are slower than the rest.
2. A python candidate that sleeps 50 ms beside an HTTP one (200 ms, 4 in flight, 4 repeats): the
   HTTP candidate's excess over the server's time (mean and max), and the python calls' latencies.

    python benchmarks/clock_checks.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml
from _fake import ROOT, FakeProcess

KEY = "sk-bench-not-a-real-key"


def _eval(work: Path, cands: list[dict], n: int, repeat: int = 1) -> list[dict]:
    (work / "ev.jsonl").write_text("".join(json.dumps({"id": f"t{i}", "input": f"ticket number {i}", "expected": "billing"})
                                           + "\n" for i in range(n)))
    (work / "req.yaml").write_text(yaml.safe_dump({"task": "t", "evalset": "ev.jsonl", "scoring": [{"type": "exact"}],
                                                   "candidates": cands}))
    env = dict(os.environ, BENCH_KEY=KEY)
    p = subprocess.run([sys.executable, "-m", "modelsel", "eval", "req.yaml", "--out", "run", "--no-cache",
                        "--repeat", str(repeat)], cwd=work, env=env, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise RuntimeError(p.stderr[-2000:])
    return [json.loads(x) for x in (work / "run" / "records.jsonl").read_text().splitlines()]


def _cand(url: str, m: str, k: int) -> dict:
    return {"id": m, "provider": "openai-compatible", "model": m, "base_url": url + "/v1", "api_key_env": "BENCH_KEY",
            "concurrency": k, "params": {"max_tokens": 8}, "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.4}}


def fast_beside_slow(work: Path) -> tuple[float, float, float]:
    conc = {"fast": 16, "mid": 8, "slow": 8}
    fake = FakeProcess({"fast": {"answer": "billing", "latency_ms": 20}, "mid": {"answer": "billing", "latency_ms": 150},
                        "slow": {"answer": "billing", "latency_ms": 400}})
    try:
        recs = _eval(work, [_cand(fake.url, m, k) for m, k in conc.items()], 96)
        srv = {(s["model"], s["prompt"].strip()): s["server_ms"] for s in fake.seen()}
        before = len(fake.seen())
        p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "_bare.py"), fake.url + "/v1", json.dumps(conc),
                            "96"], capture_output=True, text=True, check=True)
        bsrv = {(s["model"], s["prompt"]): s["server_ms"] for s in fake.seen()[before:]}
    finally:
        fake.stop()
    over = sorted((r["started_at"], r["latency_ms"] - srv[("fast", r["input"].strip())]) for r in recs
                  if r["candidate"] == "fast" and not r["cold"] and not r["error"] and not r["latency_pass"])
    bare = [json.loads(x) for x in p.stdout.splitlines()]
    bare_fast = [b["latency_ms"] - bsrv[("fast", b["prompt"])] for b in bare if b["model"] == "fast" and not b["cold"]]
    third = len(over) // 3
    return (statistics.median(o for _, o in over), statistics.median(bare_fast),
            statistics.median(o for _, o in over[:third]) - statistics.median(o for _, o in over[third:]))


def slow_python_beside_http(work: Path) -> tuple[float, float, float, list[float]]:
    (work / "slowmod.py").write_text("import time\n\ndef classify(text):\n    time.sleep(0.05)\n    return 'billing'\n")
    fake = FakeProcess({"m": {"answer": "billing", "latency_ms": 200}})
    try:
        py = {"id": "slow-py", "provider": "python", "model": "slowmod:classify", "concurrency": 4}
        recs = _eval(work, [_cand(fake.url, "m", 4), py], 12, repeat=4)
        seen: dict[str, list[float]] = {}
        for s in fake.seen():
            seen.setdefault(s["prompt"].strip(), []).append(s["server_ms"])
    finally:
        fake.stop()
    mine = [r for r in recs if r["candidate"] == "m" and not r["cold"] and not r["error"] and not r["latency_pass"]]
    server = np.array([float(np.mean(seen[r["input"].strip()])) for r in mine])
    excess = np.array([r["latency_ms"] for r in mine]) - server
    py_lat = sorted(r["latency_ms"] for r in recs if r["candidate"] == "slow-py")
    return float(excess.mean()), float(server.mean()), float(excess.max()), py_lat


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print("1. fast (20 ms) beside 150 and 400 ms models, 32 in flight: median ms added to the fast model's calls")
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            ms, bare, early = fast_beside_slow(Path(d))
        print(f"   run {i + 1}: modelsel {ms:+.1f}, bare client {bare:+.1f}, modelsel - bare {ms - bare:+.1f}; "
              f"first third - rest {early:+.1f}", flush=True)
    print("2. a python candidate sleeping 50 ms beside a 200 ms HTTP model (4 in flight each, 4 repeats)")
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            mean, server, mx, py = slow_python_beside_http(Path(d))
        print(f"   run {i + 1}: HTTP excess over the server's time mean {mean:.1f} ms ({mean / server:.1%} of {server:.0f} "
              f"ms), max {mx:.1f} ms; python latency {py[0]:.0f}-{py[-1]:.0f} ms", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
