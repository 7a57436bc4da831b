"""A large run as a whole process: 10,000 examples x 5 python-function candidates through
`modelsel eval`. Prints wall time, peak resident memory of the process (and its chart helper),
and the size of report.html and records.csv.

    python benchmarks/large.py [--examples 10000] [--baseline PATH_TO_AN_EARLIER_CHECKOUT]
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

ROOT = Path(__file__).resolve().parent.parent
RULES = '''
LABELS = ["billing", "technical", "account", "shipping", "other"]


def make(k):
    def classify(text):
        i = int(text.split()[1])
        return LABELS[i % 5] if (i * (k + 3)) % 7 else LABELS[(i + 1) % 5]
    return classify


a, b, c, d, e = (make(k) for k in range(5))
'''


def run(n: int, pythonpath: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as t:
        work = Path(t)
        (work / "rules.py").write_text(RULES)
        labels = ["billing", "technical", "account", "shipping", "other"]
        tags = ["simple", "complex", "edge", "adversarial"]
        with open(work / "big.jsonl", "w") as fh:
            for i in range(n):
                fh.write(json.dumps({"id": f"x{i}", "input": f"ticket {i}: my order number {i} needs attention " * 2,
                                     "expected": labels[i % 5], "tags": [tags[i % 4]]}) + "\n")
        cands = [{"id": f"rules-{k}", "provider": "python", "model": f"rules:{k}"} for k in "abcde"]
        (work / "req.yaml").write_text(yaml.safe_dump({
            "task": "t", "evalset": "big.jsonl", "scoring": [{"type": "choice", "choices": labels}], "pass_threshold": 1.0,
            "quality": {"min_score": 0.5}, "latency": {"p95_ms": 100}, "cost": {"monthly_requests": 100000},
            "candidates": cands}))
        env = dict(os.environ)
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        t0 = time.perf_counter()
        err = open(work / "stderr.txt", "w")
        p = subprocess.Popen([sys.executable, "-m", "modelsel", "eval", "req.yaml", "--out", "run"], cwd=work, env=env,
                             stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)  # this process's own peak memory and CPU, not its siblings'
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            raise RuntimeError((work / "stderr.txt").read_text()[-3000:])
        if os.environ.get("MODELSEL_TIMINGS") == "1":
            print("".join(x for x in open(work / "stderr.txt") if x.startswith("modelsel-timing")))
        return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime,
                "html_mb": (work / "run" / "report.html").stat().st_size / 1e6,
                "csv_mb": (work / "run" / "records.csv").stat().st_size / 1e6}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=10_000)
    ap.add_argument("--baseline")
    args = ap.parse_args()
    print(f"{args.examples:,} examples x 5 python-function candidates, one `modelsel eval` process each")
    for label, path in (("baseline", args.baseline), ("now", None)):
        if label == "baseline" and not path:
            continue
        r = run(args.examples, path)
        print(f"  {label:<9} wall {r['wall_s']:6.1f} s | CPU {r['cpu_s']:6.1f} s | peak RSS {r['peak_rss_mb']:6.0f} MB | "
              f"report.html {r['html_mb']:.2f} MB | records.csv {r['csv_mb']:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
