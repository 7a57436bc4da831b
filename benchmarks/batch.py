"""What --batch changes, on a 4 x 80 workload against the fake (each model answers in 300 ms live;
a batch stays in progress for a few status reads): calls made live and in batch, spend at live
and batch rates, and wall time spent waiting on the batches vs working, beside the same run live.

    python benchmarks/batch.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _fake import FakeProcess

MODELS, N = 4, 80


def run(batch: bool) -> dict:
    fake = FakeProcess({f"m{i}": {"answer": "billing", "latency_ms": 300, "input_tokens": 400, "output_tokens": 5,
                                  "batch_polls": 4} for i in range(MODELS)})
    try:
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            (work / "tickets.jsonl").write_text("".join(json.dumps({"id": f"t{i}", "input": f"ticket number {i}",
                                                                    "expected": "billing", "tags": ["simple" if i % 2 else "complex"]})
                                                        + "\n" for i in range(N)))
            cands = [{"id": f"m{i}", "provider": "openai-compatible", "model": f"m{i}", "base_url": fake.url + "/v1",
                      "api_key_env": "BENCH_KEY", "concurrency": 8,
                      "price": {"input_per_mtok": 2.0, "output_per_mtok": 8.0, "batch_discount": 0.5}}
                     for i in range(MODELS)]
            (work / "req.yaml").write_text(yaml.safe_dump({"task": "t", "evalset": "tickets.jsonl",
                                                           "scoring": [{"type": "exact"}], "candidates": cands,
                                                           "run": {"latency_sample": 30}}))
            env = dict(os.environ, BENCH_KEY="sk-bench-not-a-real-key", MODELSEL_RETRY_SCALE="0.5")
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "modelsel", "eval", "req.yaml", "--out", "run", "--no-cache"]
                               + (["--batch"] if batch else []), cwd=work, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if p.returncode not in (0, 1):
                raise RuntimeError(p.stderr[-2000:])
            s = json.loads((work / "run" / "summary.json").read_text())
        live_calls = len(fake.seen())
        b = fake.batches()
    finally:
        fake.stop()
    info = (s["run"].get("batch") or {})
    waited = max((c.get("waited_s", 0.0) for c in (info.get("candidates") or {}).values()), default=0.0)
    return {"wall": wall, "live_calls": live_calls, "batch_requests": sum(x[3] for x in b["created"]),
            "batches": len(b["created"]), "spent": s["run"]["spent_usd"], "billed_batch": info.get("billed_usd", 0.0),
            "at_live": info.get("at_live_usd", 0.0), "saving": info.get("saving_usd", 0.0), "waited": waited}


def main() -> int:
    print(f"{MODELS} models x {N} examples, 300 ms per live call, 8 in flight per model; batch price half the live one\n")
    live = run(False)
    batch = run(True)
    for label, r in (("live   ", live), ("--batch", batch)):
        print(f"{label}  wall {r['wall']:5.1f} s (waiting on batches {r['waited']:.1f} s, working "
              f"{r['wall'] - r['waited']:.1f} s) | live calls {r['live_calls']:>3} | in batch {r['batch_requests']:>3} "
              f"({r['batches']} batches) | spent ${r['spent']:.4f}")
    print(f"\nthe batch lines: billed ${batch['billed_batch']:.4f} at batch rates, ${batch['at_live']:.4f} at live rates "
          f"(saved ${batch['saving']:.4f}); the live latency sample (30 calls a model) cost "
          f"${batch['spent'] - batch['billed_batch']:.4f}; the whole --batch run cost {batch['spent'] / live['spent']:.0%} of "
          "the live run (with more examples or repeats the sample's share shrinks toward half)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
