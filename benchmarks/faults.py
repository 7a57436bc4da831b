"""What a run does with each wire-level fault, in each provider's own format: one `modelsel eval`
process per API against the fake server in its own process, one candidate per fault, 2 examples
each, with real backoff waits (no MODELSEL_RETRY_SCALE), a 1 s call timeout and a 2 s Retry-After
cap. Prints, per fault: the requests the server saw, attempts, how the record ended (answered
after retries, or the error kind), the backoff waited and what Retry-After asked; and each run's wall.

    python benchmarks/faults.py [--apis openai,anthropic,gemini]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml
from _fake import FakeProcess

# fault -> (what the fake does, in order per request; a string: every request)
FAULTS: dict[str, dict] = {
    "429 asking 99999 s, twice": {"faults": ["429", "429"], "retry_after": "99999"},
    "429 every time": {"always": "429", "retry_after": "1"},
    "5xx burst (500, 502, 503)": {"faults": ["500", "502", "503"]},
    "stream without final chunk": {"faults": ["truncated"]},
    "connection reset mid-stream": {"faults": ["reset"]},
    "connection cut mid-answer": {"faults": ["cut"]},
    "malformed JSON": {"faults": ["malformed"]},
    "200 with empty content": {"always": "empty"},
    "400 unsupported parameter": {"always": "400"},
    "401 echoing the key": {"always": "401"},
    "headers over the client's limit": {"always": "oversize"},
    "never answers (hang)": {"always": "hang", "hang_s": 5.0},
}
KEY = "sk-bench-fault-0123456789abcdef"


def one_api(api: str, work: Path) -> tuple[float, list[tuple[str, dict]], int]:
    names = {f"f{i}": label for i, label in enumerate(FAULTS)}
    fake = FakeProcess({m: {"answer": "billing", **FAULTS[label]} for m, label in names.items()})
    try:
        (work / "ev.jsonl").write_text("".join(json.dumps({"id": f"x{i}", "input": f"ticket {i}", "expected": "billing"})
                                               + "\n" for i in range(2)))
        base = fake.url + ("/v1" if api == "openai" else "")
        cands = [{"id": m, "provider": api, "model": m, "base_url": base, "api_key_env": "BENCH_FAULT_KEY",
                  "params": {"max_tokens": 8}, "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}} for m in names]
        (work / "req.yaml").write_text(yaml.safe_dump({
            "task": "t", "evalset": "ev.jsonl", "scoring": [{"type": "exact"}], "decision": {"max_error_rate": 1.0},
            "run": {"retry_after_cap_s": 2}, "candidates": cands}))
        env = {k: v for k, v in os.environ.items() if k != "MODELSEL_RETRY_SCALE"}
        env["BENCH_FAULT_KEY"] = KEY
        out = work / f"run-{api}"
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "modelsel", "eval", str(work / "req.yaml"), "--out", str(out),
                            "--reports", str(work / "reports"), "--no-cache", "--timeout", "1"],
                           cwd=work, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        seen = Counter(s["model"] for s in fake.seen())
    finally:
        fake.stop()
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    leaked = sum(KEY in f.read_text() for f in out.rglob("*") if f.is_file()) + (KEY in p.stdout + p.stderr)
    rows = []
    for m, label in names.items():
        mine = [r for r in recs if r["candidate"] == m]
        rows.append((label, {
            "requests": seen.get(m, 0),
            "attempts": "/".join(str(r["attempts"]) for r in mine),
            "ended": ", ".join(sorted({r["error_kind"] or "answered" for r in mine})),
            "waited_s": round(sum(r["retry_wait_s"] or 0 for r in mine), 2),
            "asked_s": max((r.get("retry_after_asked_s") or 0 for r in mine), default=0),
        }))
    return wall, rows, leaked + (p.returncode not in (0, 1))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apis", default="openai,anthropic,gemini")
    args = ap.parse_args()
    print("Each fault: 1 candidate x 2 examples, streamed; timeout 1 s, Retry-After cap 2 s, up to 4 attempts.\n")
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        for api in args.apis.split(","):
            wall, rows, problems = one_api(api, Path(d))
            bad += problems
            print(f"{api}: the whole run (12 candidates) took {wall:.1f} s; key in any output: "
                  f"{'YES' if problems else 'no'}")
            print(f"  {'fault':34} {'requests':>8} {'attempts':>9}  {'ended as':22} {'backoff s':>9} {'Retry-After asked':>17}")
            for label, r in rows:
                print(f"  {label:34} {r['requests']:>8} {r['attempts']:>9}  {r['ended']:22} {r['waited_s']:>9} "
                      f"{r['asked_s'] or '—':>17}")
            print()
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
