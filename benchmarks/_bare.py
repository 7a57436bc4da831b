"""A bare official SDK client, timing its own calls: the yardstick for what modelsel adds.

    python _bare.py BASE_URL '{"m0": 8, "m1": 8}' N

Streams each call like modelsel does (chat completions, stream_options include_usage), K in
flight per model, and prints one JSON line per call: model, prompt, latency_ms, cold (started
before that model's first answer arrived)."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import openai


async def main(base: str, models: dict[str, int], n: int) -> None:
    http = openai.DefaultAsyncHttpxClient(timeout=60)
    client = openai.AsyncOpenAI(api_key="sk-bench-not-a-real-key", base_url=base, max_retries=0, timeout=60, http_client=http)
    answered: set[str] = set()
    out: list[dict] = []

    async def one(model: str, sem: asyncio.Semaphore, prompt: str) -> None:
        async with sem:
            cold = model not in answered
            t0 = time.perf_counter()
            s = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                                     max_tokens=8, stream=True, stream_options={"include_usage": True})
            async for _ in s:
                pass
            ms = (time.perf_counter() - t0) * 1000
            answered.add(model)
            out.append({"model": model, "prompt": prompt, "latency_ms": ms, "cold": cold})

    sems = {m: asyncio.Semaphore(k) for m, k in models.items()}
    await asyncio.gather(*(one(m, sems[m], f"ticket number {i}") for i in range(n) for m in models))
    await client.close()
    for o in out:
        print(json.dumps(o))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])))
