"""The files the real exporters wrote (tests/data/traces/real/) through `import traces` and `check`,
with this checkout's code or another's (`--root`, e.g. main's, for the "before" of a change):

    python benchmarks/traces_formats.py [--root /path/to/checkout]

Prints one row a format: calls read (or the refusal), examples written, faithful (examples whose
answer and system prompt are the ones the application used for that request), tool calls (the tool
flow's two calls: left out and said, or written with an empty answer), baseline (the `today-`
candidates: duplicate ids, a system prompt swapped between routes), feedback (a rating kept apart,
given with --feedback: tagged or not) and `check`'s exit code (2: it refuses what import wrote).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "data" / "traces" / "real"
sys.path.insert(0, str(REAL))

ROWS = {
    "otel-v2 latest, on the span": ("v2_latest_span.spans.jsonl",),
    "otel-v2 latest, base64 ids": ("v2_latest_span.spans.b64.jsonl",),
    "otel-v2 latest, events (spans+logs)": ("v2_latest_event.spans.jsonl", "v2_latest_event.logs.jsonl"),
    "otel-v2 content off (default)": ("v2_legacy_nocontent.spans.jsonl",),
    "otel-v2 CAPTURE=true (ignored)": ("v2_legacy_content.spans.jsonl",),
    "otel-v2 spans without their logs": ("v2_latest_event.spans.jsonl",),
    "otel-v2 logs alone": ("v2_latest_event.logs.jsonl",),
    "OpenInference": ("openinference.spans.jsonl",),
    "OpenLLMetry 0.62": ("openllmetry.spans.jsonl",),
    "OpenLLMetry 0.44": ("openllmetry_044.spans.jsonl",),
    "MLflow JSONL": ("mlflow.jsonl",),
    "MLflow JSON list": ("mlflow_list.json",),
    "MLflow DataFrame to_json": ("mlflow_dataframe.json",),
    "MLflow DataFrame to_csv": ("mlflow_dataframe.csv",),
    "Langfuse SDK OTLP": ("langfuse_sdk_otlp.spans.jsonl",),
    "Langfuse SDK protobuf": ("langfuse_sdk_otlp.pb",),
    "alias + snapshot (2 files)": ("v2_latest_span.spans.jsonl", "openinference.spans.jsonl"),
}


def _scenario() -> dict[str, tuple[str, str]]:
    """last user message -> (system prompt, answer) as the application sent and got them."""
    import record  # the recorder's own list of calls

    return {turns[-1]: (system, ans) for _, _, system, turns, ans, _, _ in record.CALLS if isinstance(ans, str)}


def _run(args: list[str], root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(root), COLUMNS="250", OPENAI_API_KEY="sk-test-0123456789abcdef",
               ANTHROPIC_API_KEY="sk-ant-test-0123456789")
    return subprocess.run([sys.executable, "-m", "modelsel", *args], capture_output=True, text=True, cwd=cwd, env=env)


def _thanks_trace() -> str:
    for line in (REAL / "openinference.spans.jsonl").read_text().splitlines():
        if "Thanks, all sorted" in line and '"LLM"' in line:
            return json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
    return ""


def row(name: str, files: tuple[str, ...], root: Path, scen: dict[str, tuple[str, str]]) -> list[str]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "ratings.csv").write_text(f"trace_id,rating\n{_thanks_trace()}\nthumbs_down\n".replace("\nthumbs", ",thumbs"))
        args = ["import", "traces", *[str(REAL / f) for f in files], "--out", str(tmp / "p"), "--name", "t"]
        r = _run(args + (["--feedback", str(tmp / "ratings.csv")] if "openinference" in files[0] else []), root, tmp)
        if r.returncode == 2 and "--feedback" in r.stdout + r.stderr and "No such option" in r.stdout + r.stderr:
            r = _run(args, root, tmp)
            fb = "no --feedback"
        else:
            fb = ""
        out = " ".join((r.stdout + r.stderr).split())
        if r.returncode != 0:
            why = out.split("nothing was written", 1)[1].lstrip(":;. ") if "nothing was written" in out else \
                re.sub(r"^.*?(error: )?/\S+?: ", "", out)
            why = why[:90] + ("…" if len(why) > 90 else "")
            return [name, f"exit {r.returncode}: {why}", "0", "-", "-", "-", fb or "-", "-"]
        m = re.search(r"([\d,]+) model calls read", out)
        es = (tmp / "p" / "evalsets" / "t.jsonl").read_text().split("\n")
        ex = [json.loads(x) for x in es if x.strip()]
        import yaml

        req = yaml.safe_load((tmp / "p" / "requirements" / "t.yaml").read_text())
        cands = {c["id"]: c for c in req["candidates"]}
        faithful = empty = swapped = 0
        for e in ex:
            msgs = e["input"] if isinstance(e["input"], list) else [{"role": "user", "content": e["input"]}]
            user = [x["content"] for x in msgs if x["role"] == "user"][-1]
            own = msgs[0]["content"] if msgs[0]["role"] == "system" else None
            # every candidate answers every example: with the example's own system prompt, else its own `system:`
            systems = {own or c.get("system") for c in cands.values()} or {own}
            want = scen.get(user)
            if not e.get("reference"):
                empty += 1
            if want is None:
                continue
            if systems != {want[0]}:
                swapped += 1
            elif e.get("reference") == want[1]:
                faithful += 1
        known = sum(1 for e in ex if (e["input"] if isinstance(e["input"], str) else
                                      [x["content"] for x in e["input"] if x["role"] == "user"][-1]) in scen)
        tools = ("left out, said" if "tool calls left out" in out else f"{empty} empty answer(s)" if empty else
                 "skipped as spans" if "tool calls" in out else "?")
        ids = [c["id"] for c in req["candidates"]]
        base = ", ".join(ids) + (" DUPLICATE" if len(ids) != len(set(ids)) else "") + \
            (f"; {swapped} examples answered with another route's system prompt" if swapped else "")
        if not fb:
            fb = (f"{sum('feedback:negative' in e['tags'] for e in ex)} tagged" if "openinference" in files[0] else "-")
        c = _run(["check", str(tmp / "p" / "requirements" / "t.yaml")], root, tmp)
        refused = "not valid" in c.stdout + c.stderr or "twice" in c.stdout + c.stderr or "uplicate" in c.stdout + c.stderr
        return [name, m.group(1) if m else "?", str(len(ex)), f"{faithful}/{known}", tools, base, fb,
                f"{c.returncode}{' refused' if refused else ''}"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=ROOT)
    a = ap.parse_args()
    scen = _scenario()
    head = ["format", "calls read", "examples", "faithful", "tool calls", "baseline (candidates)", "feedback file", "check"]
    print(f"code: {a.root.resolve()}")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, files in ROWS.items():
        print("| " + " | ".join(row(name, files, a.root.resolve(), scen)) + " |", flush=True)


if __name__ == "__main__":
    main()
