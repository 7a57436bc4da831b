"""A receipts eval: 50 generated receipt images (PNG, 120 x 200), total and date as the expected
JSON, across three providers' wire formats (OpenAI chat, Anthropic messages, Gemini) through the
real SDKs to the fake server, which reads each receipt from the image it was sent (a fake vision
model: the total and date ride in a PNG text chunk; two of the three misread some totals) and
counts each image's tokens inside the input tokens as the APIs do. Prints what each candidate
scored, its cost per image as the record gives it (with its interval and n), the dry run's
estimate beside what was billed, and what the record and the server saw of the files.

    python benchmarks/receipts.py
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _fake import ROOT, FakeProcess

sys.path.insert(0, str(ROOT))
from tests.media_files import receipt  # noqa: E402

N = 50
# Image tokens each fake API reports for one 120 x 200 receipt, by its provider's documented rule:
# OpenAI high detail: one 512-px tile, 85 + 170; Anthropic: 120 * 200 / 750; Gemini: 258 (<= 384 px).
MODELS = {
    "gpt": {"provider": "openai", "media_tokens": 255, "misread_every": 10, "price": (0.40, 1.60)},
    "claude": {"provider": "anthropic", "media_tokens": 32, "misread_every": 0, "price": (1.00, 5.00)},
    "gemini": {"provider": "gemini", "media_tokens": 258, "misread_every": 5, "price": (0.30, 2.50)},
}


def build(work: Path, url: str) -> None:
    rng = random.Random(47)
    rows = []
    for i in range(N):
        total = f"{rng.randint(150, 25000) / 100:.2f}"
        date = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        name = f"receipts/r{i:03d}.png"
        (work / "receipts").mkdir(exist_ok=True)
        (work / name).write_bytes(receipt(total, date))
        rows.append({"id": f"r{i:03d}", "input": [{"role": "user", "content": [
            {"type": "text", "text": "Read this receipt. Answer JSON only: {\"total\": \"0.00\", \"date\": \"YYYY-MM-DD\"}."},
            {"type": "image", "path": name}]}], "expected": {"total": total, "date": date}})
    (work / "receipts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cands = []
    for mid, m in MODELS.items():
        base = url + "/v1" if m["provider"] == "openai" else url
        cands.append({"id": mid, "provider": m["provider"], "model": mid, "base_url": base, "api_key_env": "BENCH_KEY",
                      "price": {"input_per_mtok": m["price"][0], "output_per_mtok": m["price"][1]},
                      "facts": {"modalities": ["text", "image"]}})
    (work / "req.yaml").write_text(yaml.safe_dump({
        "task": "Read the total and date of a receipt photo.", "evalset": "receipts.jsonl",
        "scoring": [{"type": "json", "fields": ["total", "date"]}], "quality": {"min_score": 0.9},
        "cost": {"max_per_request_usd": 0.01, "monthly_requests": 100000}, "candidates": cands}))


def main() -> int:
    fake = FakeProcess({mid: {"read": "receipt", "misread_every": m["misread_every"], "media_tokens": m["media_tokens"],
                              "input_tokens": 25} for mid, m in MODELS.items()})
    try:
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            build(work, fake.url)
            env = dict(os.environ, BENCH_KEY="sk-bench-not-a-real-key", PYTHONPATH=str(ROOT))
            dry = subprocess.run([sys.executable, "-m", "modelsel", "eval", "req.yaml", "--dry-run"], cwd=work,
                                 env={**env, "COLUMNS": "400"}, capture_output=True, text=True)
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "modelsel", "eval", "req.yaml", "--out", "run", "--no-cache"],
                               cwd=work, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if p.returncode not in (0, 1):
                print(p.stdout[-3000:], p.stderr[-3000:])
                return 1
            s = json.loads((work / "run" / "summary.json").read_text())
            recs = [json.loads(x) for x in (work / "run" / "records.jsonl").read_text().splitlines()]
            files = {f"receipts/r{i:03d}.png": (work / f"receipts/r{i:03d}.png").read_bytes() for i in range(N)}
            thumbs = len(list((work / "run" / "thumbs").glob("*.jpg")))
            html_kb = (work / "run" / "report.html").stat().st_size / 1024
            md = (work / "run" / "decision.md").read_text()
        seen = fake.seen()
    finally:
        fake.stop()
    print(f"{N} receipt images (PNG 120 x 200, {sum(map(len, files.values())) / 1024:.0f} kB in all), 3 providers' wire "
          f"formats through their SDKs to the fake; wall {wall:.1f} s\n")
    print(f"{'candidate':<8} {'API':<10} {'quality':>22} {'per request':>12} {'per image [95% CI]':>34} {'n':>4} "
          f"{'input tok':>10}")
    for mid, m in MODELS.items():
        c = s["candidates"][mid]
        q, k = c["quality"], c["cost"]
        ci = (f"[{k['per_image_lo']:.7f}, {k['per_image_hi']:.7f}]" if k.get("per_image_lo") is not None
              and k["per_image_lo"] != k["per_image_hi"] else "(the same every call)")
        print(f"{mid:<8} {m['provider']:<10} {q['mean']:.3f} [{q['lo']:.3f}, {q['hi']:.3f}] "
              f"${k['per_request_usd']:.7f} ${k['per_image_usd']:.7f} {ci:>22} {k['per_image_n']:>4} "
              f"{k['input_tokens_mean']:>10.0f}")
    print("\ndry run (before any call):")
    for line in dry.stdout.splitlines():
        if "input tokens include" in line:
            mid, _, rest = line.partition(": input tokens include ")
            est = int(rest.split()[0].replace(",", "")) / N
            print(f"  {mid.strip():<7} estimated {est:.0f} image tokens an image; the fake API, scripted to the documented figure, reported "
                  f"{MODELS[mid.strip()]['media_tokens']} ({rest.split('documented rule (')[1].split(':')[0]}'s rule)")
    sent = [m for row in seen for m in row["media"]]
    want = {hashlib.sha256(b).hexdigest() for b in files.values()}
    print(f"\nthe server received {len(sent)} images ({len(seen)} requests); every one decoded to the bytes of its file: "
          f"{all(m['sha256'] in want for m in sent)}")
    one = next(r for r in recs if r["candidate"] == "gpt" and r["example_id"] == "r000")
    print(f"a record's media: {json.dumps(one['media'])}")
    print(f"records hold no image bytes: {all(len(json.dumps(r)) < 3000 for r in recs)}; thumbnails {thumbs}; "
          f"report.html {html_kb:.0f} kB (one file)")
    print(f"decision: {s['decision']['chosen']}; decision.md names the files: {'receipts/r000.png' in md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
