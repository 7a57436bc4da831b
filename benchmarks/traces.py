"""`modelsel import traces` measured: how fast and how big a whole import runs on a large OTLP/JSON
export, and how well personal data is found (planted values with known truth, and decoys that must
stay: order numbers, dates, 16-digit ids that fail the Luhn check, IBANs with a wrong check digit).

    python benchmarks/traces.py [--calls 50000] [--texts 2000] [--json-mb 5,10,20] [--root OTHER_CHECKOUT]

Prints wall time and peak memory of the import process, calls per second, for each kind of
personal data its recall (planted values redacted) and the decoys wrongly redacted, and the time
to import the same MLflow traces as one JSON list and as JSONL at each size (`--root` runs another
checkout's code, e.g. main's, for a before/after figure).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = "the order my parcel refund invoice account please why when where help card plan annual support".split()


def _line(i: int, rng: random.Random) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 400)))
    attrs = [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
             {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
             {"key": "gen_ai.request.model", "value": {"stringValue": rng.choice(["gpt-4.1-mini", "gpt-4.1"])}},
             {"key": "route", "value": {"stringValue": rng.choice("abcde")}},
             {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps(
                 [{"role": "user", "parts": [{"type": "text", "content": f"{i} {text}"}]}])}},
             {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps(
                 [{"role": "assistant", "parts": [{"type": "text", "content": "ok " + text[:200]}]}])}}]
    start = (1_788_000_000 + i) * 10**9
    span = {"traceId": f"{i:032x}", "spanId": f"{i:016x}", "name": "chat", "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start + rng.randint(200, 3000) * 10**6), "attributes": attrs}
    return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]})


def bench_import(calls: int) -> None:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as t:
        f = Path(t) / "traces.jsonl"
        with open(f, "w") as fh:
            for i in range(calls):
                fh.write(_line(i, rng) + "\n")
        size = f.stat().st_size / 1e6
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "modelsel", "import", "traces", str(f), "--out", t, "--sample", "100"],
                           capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if r.returncode:
            sys.exit(r.stdout + r.stderr)
        print(f"import traces: {calls:,} calls ({size:,.0f} MB OTLP/JSON) in {wall:.1f} s "
              f"({calls / wall:,.0f} calls/s), peak {peak:,.0f} MB")


def _card(rng: random.Random, valid: bool) -> str:
    from stdnum import luhn

    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    check = luhn.calc_check_digit(body)
    digit = check if valid else str((int(check) + 1) % 10)
    n = body + digit
    return " ".join(n[k:k + 4] for k in range(0, 16, 4))


def _iban(rng: random.Random, valid: bool) -> str:
    from stdnum import iban

    bban = "".join(rng.choice("0123456789") for _ in range(18))
    check = iban.calc_check_digits("DE00" + bban)
    cd = check if valid else f"{(int(check) + 1) % 97 + 2:02d}"
    return "DE" + cd + bban


def bench_pii(texts: int) -> None:
    from modelsel.importers.traces.pii import Redactor

    rng = random.Random(2)
    planted = {"email": lambda: f"{rng.choice(['jane', 'li.wei', 'o.brien'])}{rng.randint(1, 999)}@{rng.choice(['example.com', 'mail.co.uk', 'firma.de'])}",
               "phone": lambda: rng.choice([f"+44 20 7946 {rng.randint(1000, 9999)}", f"(415) 555-{rng.randint(1000, 9999)}",
                                            f"+49 30 {rng.randint(1000000, 9999999)}", f"415-555-{rng.randint(1000, 9999)}"]),
               "card": lambda: _card(rng, True), "iban": lambda: _iban(rng, True),
               "secret": lambda: "sk-proj-" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789") for _ in range(40))}
    decoys = {"order number": lambda: f"order {rng.randint(10000, 9999999)}", "date": lambda: f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
              "16-digit id failing Luhn": lambda: _card(rng, False), "IBAN with a wrong check": lambda: _iban(rng, False),
              "version": lambda: f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}"}
    found, asked = dict.fromkeys(planted, 0), dict.fromkeys(planted, 0)
    wrong, shown = dict.fromkeys(decoys, 0), dict.fromkeys(decoys, 0)
    t0 = time.perf_counter()
    for _ in range(texts):
        r = Redactor("US")
        kind = rng.choice(list(planted))
        value = planted[kind]()
        dname = rng.choice(list(decoys))
        decoy = decoys[dname]()
        out = r(f"Hello, {' '.join(rng.choice(WORDS) for _ in range(6))} {value} and also {decoy} thanks") or ""
        asked[kind] += 1
        shown[dname] += 1
        found[kind] += value not in out and r.counts.get(kind, 0) >= 1
        wrong[dname] += decoy not in out
    dt = time.perf_counter() - t0
    print(f"PII on {texts:,} texts ({dt * 1e3 / texts:.2f} ms a text):")
    for k, v in found.items():
        print(f"  {k:8s} recall {v / asked[k]:.1%} ({v} of {asked[k]} planted found, as the right kind)")
    for k, v in wrong.items():
        print(f"  decoy {k}: wrongly redacted {v} of {shown[k]}")


def _mlflow_trace(i: int, rng: random.Random) -> dict:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 200)))
    inputs = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": f"{i} {text}"}]}
    outputs = {"choices": [{"message": {"role": "assistant", "content": "ok " + text[:100]}}]}
    span = {"trace_id": "x", "span_id": f"s{i}", "parent_span_id": None, "name": "Completions",
            "start_time_unix_nano": (1_788_000_000 + i) * 10**9, "end_time_unix_nano": (1_788_000_001 + i) * 10**9,
            "attributes": {"mlflow.spanType": '"CHAT_MODEL"', "mlflow.spanInputs": json.dumps(inputs),
                           "mlflow.spanOutputs": json.dumps(outputs), "mlflow.message.format": '"openai"'}}
    return {"info": {"trace_id": f"tr-{i:032x}", "tags": {}}, "data": {"spans": [span]}}


def _timed_import(f: Path, out: Path, root: Path) -> float:
    import os

    env = dict(os.environ, PYTHONPATH=str(root))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "modelsel", "import", "traces", str(f), "--out", str(out), "--sample", "50"],
                       capture_output=True, text=True, cwd=root, env=env)
    if r.returncode:
        sys.exit(r.stdout + r.stderr)
    return time.perf_counter() - t0


def bench_json_list(sizes_mb: list[float], root: Path) -> None:
    """One JSON list against JSONL of the same traces: the list's elements were found by counting
    lines from the start each time (quadratic); now each is decoded once (linear)."""
    for mb in sizes_mb:
        rng = random.Random(3)
        traces, size, i = [], 0, 0
        while size < mb * 1e6:
            t = _mlflow_trace(i, rng)
            traces.append(t)
            size += len(json.dumps(t)) + 2
            i += 1
        with tempfile.TemporaryDirectory() as d:
            lst, jl = Path(d) / "traces.json", Path(d) / "traces.jsonl"
            lst.write_text(json.dumps(traces, indent=1))
            jl.write_text("".join(json.dumps(t) + "\n" for t in traces))
            t_list = _timed_import(lst, Path(d) / "a", root)
            t_jsonl = _timed_import(jl, Path(d) / "b", root)
            print(f"MLflow traces, {len(traces):,} calls: one JSON list of {lst.stat().st_size / 1e6:,.0f} MB "
                  f"{t_list:.1f} s, JSONL {jl.stat().st_size / 1e6:,.0f} MB {t_jsonl:.1f} s "
                  f"(list / JSONL {t_list / t_jsonl:.1f}x) [{root}]")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=50_000)
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--json-mb", default="5,10,20", help="sizes of the JSON-list comparison (MB); empty: skip")
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code runs the JSON-list comparison")
    ap.add_argument("--only", choices=["pii", "import", "json"], default=None)
    a = ap.parse_args()
    if a.only in (None, "pii"):
        bench_pii(a.texts)
    if a.only in (None, "import"):
        bench_import(a.calls)
    if a.only in (None, "json") and a.json_mb:
        bench_json_list([float(x) for x in a.json_mb.split(",")], a.root.resolve())


if __name__ == "__main__":
    main()
