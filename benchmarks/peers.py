"""modelsel against its peers on one workload, in one run: 4 models x 80 examples on a loopback
OpenAI-compatible server that answers in exactly 1000 ms, 8 requests in flight per model (32 in
all). The physical limit is 80 / 8 x 1 s = 10.0 s. Then the same at 20 ms a call (`--fast`, on by
default): there wall time says little, and what counts is each runner's latency against the
server's own time for the very same request, in milliseconds.

A bare script on the official SDK (benchmarks/_bare.py: the same calls, no scoring, no reports)
runs beside them: the floor that the runners' start and exit are measured against.

For each runner, as whole processes started from here: wall time and its ratio to the limit;
from the server's own clock, how long after process start the first request arrived and how long
the process took to exit after the last answer; client CPU seconds per call (user + sys of the
process tree); and where the runner reports per-call latency, its error against the server's
own time for the very same request.

Peers run when installed, else are skipped with a note:
- inspect_ai: in its own venv (default benchmarks/.peers/inspect-venv; PEERS_INSPECT_VENV to override):
      python -m venv benchmarks/.peers/inspect-venv && benchmarks/.peers/inspect-venv/bin/pip install inspect_ai openai
- promptfoo with Node 22, from the npm registry into a local folder (PEERS_PROMPTFOO_DIR):
      mkdir -p benchmarks/.peers/promptfoo && cd benchmarks/.peers/promptfoo && npm install node@22 promptfoo

    python benchmarks/peers.py [--runs 2] [--modelsel-only]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _fake import ROOT, FakeProcess

MODELS, N, PER_MODEL = 4, 80, 8
LATENCY_MS = 1000  # set per workload by main()
LIMIT_S = N / PER_MODEL * LATENCY_MS / 1000
PEERS = ROOT / "benchmarks" / ".peers"
KEY = "sk-bench-not-a-real-key"


def _fake() -> FakeProcess:
    return FakeProcess({f"m{i}": {"answer": "billing", "latency_ms": LATENCY_MS} for i in range(MODELS)})


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict[str, str], fake: FakeProcess) -> dict[str, Any]:
    """Run one process against the fake: wall, start-to-first-request, last-answer-to-exit, CPU."""
    cpu0 = _children_cpu()
    t0 = time.time()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    t1 = time.time()
    cpu = _children_cpu() - cpu0
    seen = fake.seen()
    if p.returncode not in (0, 1) or len(seen) < MODELS * N:
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}, {len(seen)} requests): {p.stderr[-2000:]}")
    first = min(s["t_start"] for s in seen) - t0
    after = t1 - max(s["t_end"] for s in seen)
    span = max(s["t_end"] for s in seen) - min(s["t_start"] for s in seen)
    return {"t0": t0, "wall": t1 - t0, "first": first, "after": after, "span": span, "cpu_per_call_ms": cpu / len(seen) * 1000,
            "seen": seen, "stdout": p.stdout, "stderr": p.stderr}


def server_times(seen: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    return {(s["model"], s["prompt"].strip()): s["server_ms"] for s in seen}


def latency_error(pairs: list[tuple[float, float]]) -> str:
    """The runner's recorded latency against the server's own time for the same requests: in
    percent, and in milliseconds added (median, p95, max)."""
    if not pairs:
        return "n/a"
    err = [(m - s) / s * 100 for m, s in pairs]
    add = sorted(m - s for m, s in pairs)
    p95 = add[min(len(add) - 1, int(0.95 * len(add)))]
    return (f"median {statistics.median(err):+.2f}%, max {max(err):+.2f}%; added ms median {statistics.median(add):.1f}, "
            f"p95 {p95:.1f}, max {add[-1]:.1f} (n={len(add)})")


# --- modelsel ----------------------------------------------------------------------------------------

def modelsel_run(work: Path, python: str, pythonpath: str | None, label: str) -> dict[str, Any]:
    evalset = work / "tickets.jsonl"
    evalset.write_text("".join(json.dumps({"id": f"t{i}", "input": f"ticket number {i}", "expected": "billing"}) + "\n"
                               for i in range(N)))
    fake = _fake()
    try:
        cands = [{"id": f"m{i}", "provider": "openai-compatible", "model": f"m{i}", "base_url": fake.url + "/v1",
                  "api_key_env": "BENCH_KEY", "concurrency": PER_MODEL, "params": {"max_tokens": 8},
                  "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.4}} for i in range(MODELS)]
        import yaml

        req = work / "req.yaml"
        req.write_text(yaml.safe_dump({"task": "t", "evalset": "tickets.jsonl", "scoring": [{"type": "exact"}],
                                       "latency": {"p95_ms": 5000}, "candidates": cands}))
        env = dict(os.environ, BENCH_KEY=KEY, MODELSEL_TIMINGS="1")
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        out = work / f"run-{label}"
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(work / "reports", ignore_errors=True)
        r = timed([python, "-m", "modelsel", "eval", str(req), "--out", str(out), "--no-cache"], work, env, fake)
    finally:
        fake.stop()
    srv = server_times(r["seen"])
    pairs = []
    for line in (out / "records.jsonl").read_text().splitlines():
        rec = json.loads(line)
        key = (rec["candidate"], rec["input"].strip())
        if key in srv and rec.get("latency_ms") and not rec.get("cold"):
            pairs.append((rec["latency_ms"], srv[key]))
    r["latency"] = latency_error(pairs)
    r["phases"] = _phases(r["stderr"])
    return r


def _phases(stderr: str) -> str:
    """modelsel's own marks (MODELSEL_TIMINGS=1), seconds since its start, beside the server's first
    request and last answer: where the time outside the calls goes."""
    import re

    marks = {m.group(1).strip(): float(m.group(2))
             for m in re.finditer(r"^modelsel-timing (.+?) ([0-9.]+) peak ", stderr, re.M)}
    keep = ["clients ready", "calls start", "calls done", "records sorted", "analysed", "reports written", "printed"]
    return ", ".join(f"{k} {marks[k]:.2f}" for k in keep if k in marks)


# --- a bare SDK script ---------------------------------------------------------------------------------

def bare_run(work: Path, python: str) -> dict[str, Any]:
    """The floor for any runner: the official AsyncOpenAI client in a bare script (benchmarks/_bare.py),
    same calls, same concurrency, no reports. What modelsel adds to the wall is measured against it."""
    fake = _fake()
    try:
        models = json.dumps({f"m{i}": PER_MODEL for i in range(MODELS)})
        r = timed([python, str(ROOT / "benchmarks" / "_bare.py"), fake.url + "/v1", models, str(N)], work,
                  dict(os.environ), fake)
    finally:
        fake.stop()
    srv = server_times(r["seen"])
    pairs = []
    for line in r["stdout"].splitlines():
        o = json.loads(line)
        if (o["model"], o["prompt"].strip()) in srv and not o["cold"]:
            pairs.append((o["latency_ms"], srv[(o["model"], o["prompt"].strip())]))
    r["latency"] = latency_error(pairs)
    return r


# --- inspect_ai -----------------------------------------------------------------------------------------

INSPECT_TASK = f'''
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate


@task
def triage():
    return Task(dataset=[Sample(input=f"ticket number {{i}}", target="billing") for i in range({N})],
                solver=generate(), scorer=match())
'''


def inspect_run(work: Path) -> dict[str, Any] | str:
    venv = Path(os.environ.get("PEERS_INSPECT_VENV", PEERS / "inspect-venv"))
    exe = venv / "bin" / "inspect"
    if not exe.exists():
        return f"skipped: inspect_ai is not installed at {venv} (see this file's docstring)"
    (work / "inspect_task.py").write_text(INSPECT_TASK)
    fake = _fake()
    try:
        # inspect's openai/ models speak the Responses API; an OpenAI-compatible server is openai-api/<name>/.
        env = dict(os.environ, FAKE_API_KEY=KEY, FAKE_BASE_URL=fake.url + "/v1", INSPECT_LOG_DIR=str(work / "ilogs"))
        shutil.rmtree(work / "ilogs", ignore_errors=True)
        models = ",".join(f"openai-api/fake/m{i}" for i in range(MODELS))
        r = timed([str(exe), "eval", "inspect_task.py", "--model", models, "--max-connections", str(PER_MODEL),
                   "--max-tokens", "8", "--display", "none", "--log-format", "json"], work, env, fake)
    finally:
        fake.stop()
    srv = server_times(r["seen"])
    pairs = []
    for log in (work / "ilogs").glob("*.json"):
        data = json.loads(log.read_text())
        model = data["eval"]["model"].split("/")[-1]
        for s in data.get("samples") or []:
            for ev in s.get("events") or []:
                if ev.get("event") == "model" and ev.get("working_time"):
                    key = (model, str(s["input"]).strip())
                    if key in srv:
                        pairs.append((ev["working_time"] * 1000, srv[key]))
    r["latency"] = latency_error(pairs)
    return r


# --- promptfoo ---------------------------------------------------------------------------------------

def promptfoo_run(work: Path) -> dict[str, Any] | str:
    folder = Path(os.environ.get("PEERS_PROMPTFOO_DIR", PEERS / "promptfoo"))
    node = folder / "node_modules" / ".bin" / "node"
    cli = folder / "node_modules" / "promptfoo" / "dist" / "src" / "main.js"
    if not node.exists() or not cli.exists():
        return f"skipped: promptfoo and Node 22 are not installed in {folder} (see this file's docstring)"
    fake = _fake()
    try:
        import yaml

        cfg = {"prompts": ["{{ticket}}"],
               "providers": [{"id": f"openai:chat:m{i}", "label": f"m{i}",
                              "config": {"apiBaseUrl": fake.url + "/v1", "apiKey": KEY, "max_tokens": 8}}
                             for i in range(MODELS)],
               "tests": [{"vars": {"ticket": f"ticket number {i}"}, "assert": [{"type": "equals", "value": "billing"}]}
                         for i in range(N)]}
        (work / "promptfooconfig.yaml").write_text(yaml.safe_dump(cfg))
        env = dict(os.environ, PROMPTFOO_DISABLE_TELEMETRY="1", PROMPTFOO_DISABLE_UPDATE="1",
                   PROMPTFOO_CONFIG_DIR=str(work / ".promptfoo"), PROMPTFOO_CACHE_ENABLED="false",
                   PATH=f"{node.parent}:{os.environ.get('PATH', '')}")
        r = timed([str(node), str(cli), "eval", "-c", "promptfooconfig.yaml", "-j", str(MODELS * PER_MODEL),
                   "--no-cache", "--no-progress-bar", "--no-table", "-o", "out.json"], work, env, fake)
    finally:
        fake.stop()
    srv = server_times(r["seen"])
    pairs = []
    out = json.loads((work / "out.json").read_text())
    for res in out.get("results", {}).get("results", []):
        model = (res.get("provider") or {}).get("label") or ""
        key = (model, str((res.get("vars") or {}).get("ticket", "")).strip())
        if key in srv and res.get("latencyMs"):
            pairs.append((float(res["latencyMs"]), srv[key]))
    r["latency"] = latency_error(pairs)
    return r


def report(name: str, runs: list[dict[str, Any]] | str) -> None:
    if isinstance(runs, str):
        print(f"{name:<20} {runs}")
        return
    walls = [r["wall"] for r in runs]
    print(f"{name:<20} wall {statistics.median(walls):5.2f} s (min {min(walls):.2f}, max {max(walls):.2f}) "
          f"= {statistics.median(walls) / LIMIT_S:.3f}x the limit | first request {statistics.median(r['first'] for r in runs):.2f} s "
          f"after start | exit {statistics.median(r['after'] for r in runs):.2f} s after the last answer | server span "
          f"{statistics.median(r['span'] for r in runs):.2f} s | CPU {statistics.median(r['cpu_per_call_ms'] for r in runs):.1f} ms "
          f"a call | latency vs server: {runs[-1]['latency']}")
    if runs[-1].get("phases"):
        print(f"{'':<20} its own marks (s since start): {runs[-1]['phases']}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2, help="runs of each runner, interleaved")
    ap.add_argument("--modelsel-only", action="store_true")
    ap.add_argument("--baseline", help="a checkout of an earlier modelsel to measure beside this one (PYTHONPATH)")
    ap.add_argument("--no-fast", action="store_true", help="skip the 20 ms workload")
    args = ap.parse_args()
    for ms in (1000,) + (() if args.no_fast else (20,)):
        workload(ms, args)
    return 0


def workload(ms: int, args: argparse.Namespace) -> None:
    global LATENCY_MS, LIMIT_S
    LATENCY_MS, LIMIT_S = ms, N / PER_MODEL * ms / 1000
    print(f"Workload: {MODELS} models x {N} examples, {LATENCY_MS} ms per call, {PER_MODEL} in flight per model "
          f"({MODELS * PER_MODEL} in all); physical limit {LIMIT_S:.1f} s; {os.cpu_count()} cores\n")
    results: dict[str, list[dict[str, Any]] | str] = {"modelsel": [], "bare SDK script": []}
    if args.baseline:
        results["modelsel (baseline)"] = []
    if not args.modelsel_only:
        results.update({"inspect_ai": [], "promptfoo": []})
    # A pip install byte-compiles a package; an editable one under PYTHONDONTWRITEBYTECODE never does,
    # and would pay for compiling modelsel's sources at every start. Compile what is measured.
    for src in [ROOT / "modelsel"] + ([Path(args.baseline) / "modelsel"] if args.baseline else []):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=False)
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        for _ in range(args.runs):
            for name in list(results):
                if isinstance(results[name], str):
                    continue
                if name == "modelsel":
                    got: Any = modelsel_run(work, sys.executable, None, "now")
                elif name == "modelsel (baseline)":
                    got = modelsel_run(work, sys.executable, args.baseline, "base")
                elif name == "bare SDK script":
                    got = bare_run(work, sys.executable)
                elif name == "inspect_ai":
                    got = inspect_run(work)
                else:
                    got = promptfoo_run(work)
                if isinstance(got, str):
                    results[name] = got
                else:
                    results[name].append(got)  # type: ignore[union-attr]
    for name, runs in results.items():
        report(name, runs)
    print()


if __name__ == "__main__":
    raise SystemExit(main())
