"""A hostile Retry-After against a small run: how long the run takes and what it sends.

The fake provider (its own process) answers every third request with 429 and `Retry-After: 99999`.
One candidate, 12 examples, a p95 limit set (so latency-only calls are added to bound it), real
back-off waits (no MODELSEL_RETRY_SCALE), the default 60 s Retry-After cap. Printed: the wall
time, the requests the server saw, how the quality calls ended (answered / recorded as an error),
the latency-only calls made, and what the record says of the p95.

    python benchmarks/long_waits.py [--baseline PATH]   (PATH: an earlier checkout, run beside this one)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _fake import FakeProcess

KEY = "sk-bench-not-a-real-key"
N = 12


def one(work: Path, pythonpath: str | None) -> dict:
    fake = FakeProcess({"m": {"answer": "billing", "latency_ms": 50, "every": [3, "429"], "retry_after": "99999"}})
    try:
        (work / "ev.jsonl").write_text("".join(json.dumps({"id": f"t{i}", "input": f"ticket {i}", "expected": "billing"})
                                               + "\n" for i in range(N)))
        cand = {"id": "m", "provider": "openai-compatible", "model": "m", "base_url": fake.url + "/v1",
                "api_key_env": "BENCH_KEY", "params": {"max_tokens": 8},
                "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.4}}
        (work / "req.yaml").write_text(yaml.safe_dump({
            "task": "t", "evalset": "ev.jsonl", "scoring": [{"type": "exact"}], "latency": {"p95_ms": 2000},
            "decision": {"max_error_rate": 1.0}, "candidates": [cand]}))
        env = {k: v for k, v in os.environ.items() if k != "MODELSEL_RETRY_SCALE"}
        env["BENCH_KEY"] = KEY
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        out = work / "run"
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "modelsel", "eval", "req.yaml", "--out", str(out), "--no-cache",
                            "--reports", str(work / "reports")], cwd=work, env=env, capture_output=True, text=True,
                           timeout=900)
        wall = time.perf_counter() - t0
        seen = len(fake.seen())
    finally:
        fake.stop()
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    quality = [r for r in recs if not r.get("latency_pass") and not r.get("latency_sample")]
    extra = [r for r in recs if r.get("latency_pass")]
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    checks = [c for c in (summary.get("candidates", {}).get("m", {}).get("checks") or [])
              if c.get("requirement") == "latency.p95_ms"]
    return {"wall": wall, "requests": seen, "rc": p.returncode,
            "quality_answered": sum(1 for r in quality if not r.get("error")),
            "quality_errors": sum(1 for r in quality if r.get("error")),
            "extra_calls": len(extra), "extra_answered": sum(1 for r in extra if not r.get("error")),
            "p95": (checks[0].get("status"), checks[0].get("text")) if checks else None}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", help="a checkout of an earlier modelsel, measured beside this one")
    args = ap.parse_args()
    print(f"429 with Retry-After: 99999 on every third request; 1 candidate, {N} examples, p95 limit set.")
    for label, pp in ((("before", args.baseline),) if args.baseline else ()) + (("now", None),):
        with tempfile.TemporaryDirectory() as d:
            r = one(Path(d), pp)
        print(f"  {label:<7} wall {r['wall']:6.1f} s, {r['requests']} requests (exit {r['rc']}); quality calls: "
              f"{r['quality_answered']} answered, {r['quality_errors']} errors; latency-only records: {r['extra_calls']} "
              f"({r['extra_answered']} answered); p95: {r['p95']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
