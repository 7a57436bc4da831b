"""How exact is modelsel's latency, and how close to ideal is its wall time?

Against the loopback fake provider with a known latency distribution:
1. measured p50/p95 vs the server's true values (its own sleep times) at concurrency 32;
2. wall time for 100 examples x 4 candidates at 100 ms vs the ideal calls / concurrency x latency.

Run: .venv/bin/python benchmarks/latency_accuracy.py
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import sys
import time

import numpy as np
from _fake import FakeProcess

from modelsel.catalog import Candidate
from modelsel.evalset import Example
from modelsel.providers import provider_class
from modelsel.runner import RetryPolicy, RunConfig, collect

os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key")
os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-bench-not-a-real-key")
os.environ.setdefault("GEMINI_API_KEY", "AIza-bench-not-a-real-key")


def cand(fake: FakeProcess, api: str, model: str, conc: int | None = None, stream: bool = True) -> Candidate:
    base = fake.url + "/v1" if api == "openai" else fake.url
    env = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}[api]
    return Candidate(id=f"{api}-{model}", provider=api, vendor=api, model=model, base_url=base, api_key_env=env,
                     params={"max_tokens": 8, "stream": stream}, concurrency=conc)


def run(cands: list[Candidate], n: int, conc: int) -> tuple[list, float]:
    examples = [Example(id=f"x{i}", input=f"ticket number {i}") for i in range(n)]
    providers = {c.id: provider_class(c.provider)(c) for c in cands}
    cfg = RunConfig(concurrency=conc, timeout_s=30, retry=RetryPolicy(scale=0))
    t = time.perf_counter()
    records, _ = asyncio.run(collect(cands, providers, examples, cfg))
    return records, time.perf_counter() - t


def percentile_accuracy(api: str) -> None:
    median, sigma = 200.0, 0.4
    fake = FakeProcess({"m": {"answer": "billing", "lognormal": [median, sigma]}}, seed=11)
    recs, _ = run([cand(fake, api, "m")], 400, 32)
    warm = [r for r in recs if not r.cold and not r.error]
    measured = np.array([r.latency_ms for r in warm])
    seen = {s["prompt"]: s["server_ms"] for s in fake.seen()}
    server = np.array([seen[r.input] for r in warm])  # the server's own time for the very same requests
    fake.stop()
    for q in (50, 95):
        m, s = np.percentile(measured, q), np.percentile(server, q)
        true = median * math.exp(sigma * {50: 0.0, 95: 1.6448536}[q])
        print(f"  {api:<9} p{q}: measured {m:7.1f} ms | server {s:7.1f} ms ({(m - s) / s * 100:+5.2f}%) "
              f"| distribution {true:7.1f} ms ({(m - true) / true * 100:+5.2f}%)")
    over = measured - server
    print(f"  {api:<9} client-side overhead per call: median {np.median(over):.2f} ms, p95 {np.percentile(over, 95):.2f} ms "
          f"(n={len(warm)} warm of {len(recs)}; {len(recs) - len(warm)} cold first-wave calls left out)")


def wall_time() -> None:
    """Ideal = calls / concurrency x latency (the issue's formula); rounds = ceil(calls / concurrency) x latency."""
    four = ["openai", "anthropic", "gemini", "openai"]
    for apis, latency, stream in ((["openai"], 100, True), (["openai"], 400, True), (four, 100, True),
                                  (four, 100, False), (four, 400, True)):
        fake = FakeProcess({f"m{i}": {"answer": "billing", "latency_ms": latency} for i in range(4)}, seed=3)
        # Warm the SDKs once so the figure is the steady state a long run sees.
        run([cand(fake, a, "warm") for a in ("openai", "anthropic", "gemini")], 3, 3)
        cands = [cand(fake, api, f"m{i}", conc=8, stream=stream) for i, api in enumerate(apis)]
        t_cpu = time.process_time()
        recs, wall = run(cands, 100, 8)
        cpu = time.process_time() - t_cpu
        fake.stop()
        ideal = 100 / 8 * latency / 1000
        rounds = math.ceil(100 / 8) * latency / 1000
        lat = [r.latency_ms for r in recs if not r.cold]
        print(f"  {len(apis)} candidate(s), {latency} ms, {'streamed' if stream else 'plain'}: wall {wall:.2f} s | ideal {ideal:.2f} s "
              f"({(wall - ideal) / ideal * 100:+.1f}%) | {math.ceil(100 / 8)} rounds {rounds:.2f} s ({(wall - rounds) / rounds * 100:+.1f}%) "
              f"| client CPU {cpu / len(recs) * 1000:.1f} ms a call | median latency {statistics.median(lat):.0f} ms | errors "
              f"{sum(1 for r in recs if r.error)}")


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print("1. Percentiles at concurrency 32 (lognormal, median 200 ms, sigma 0.4; 400 calls):")
    for api in ("openai", "anthropic", "gemini"):
        percentile_accuracy(api)
    print("2. Wall time, 100 examples per candidate, concurrency 8 per candidate (four = OpenAI, Anthropic, Gemini, OpenAI):")
    wall_time()
