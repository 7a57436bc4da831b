"""Does modelsel measure tool calling and structured output as they are? Two evals across the three
APIs (OpenAI chat, Anthropic Messages, Gemini) on the loopback fake server, each candidate scripted so
its quality is a known truth:

- function calling: 60 examples, four tools, ten where no tool is wanted, twelve that start mid-way
  (an earlier call and its result); each candidate misses a known set of examples in known ways
  (a wrong argument, the wrong tool, no call, a call where none was asked, arguments that are not
  JSON), streamed;
- extraction: 30 invoices against a JSON Schema, scored with json_fields; each candidate gets a
  known number of fields wrong and breaks the schema a known number of times, unstreamed.

Printed: measured against truth (quality, the right tool with the right arguments, calls where none
was asked, every verdict), then what one call costs with its tool definitions: the input tokens the
API reported (the fake counts words, definitions included), how many of them are the definitions,
and what --dry-run estimated for them before any call.

    python benchmarks/tools.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _fake import ROOT

from tests.fakes.server import FakeProvider

TOOLS = [
    {"type": "function", "function": {"name": "get_order", "description": "Look an order up by its id.",
                                      "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                                                     "required": ["order_id"]}}},
    {"type": "function", "function": {"name": "refund", "description": "Refund an order, in full or in part.",
                                      "parameters": {"type": "object", "properties": {
                                          "order_id": {"type": "string"}, "amount": {"type": "number"}},
                                          "required": ["order_id", "amount"]}}},
    {"type": "function", "function": {"name": "search_faq", "description": "Search the help centre.",
                                      "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                                                     "required": ["query"]}}},
    {"type": "function", "function": {"name": "escalate", "description": "Hand the conversation to a person.",
                                      "parameters": {"type": "object", "properties": {
                                          "reason": {"type": "string", "enum": ["angry", "legal", "other"]}},
                                          "required": ["reason"]}}},
]
SCHEMA = {"type": "object", "properties": {"vendor": {"type": "string"}, "amount": {"type": "number"},
                                           "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
                                           "due": {"type": "string"}},
          "required": ["vendor", "amount", "currency", "due"], "additionalProperties": False}
APIS = {"openai": ("oa", 1.25, 10.0), "anthropic": ("an", 3.0, 15.0), "gemini": ("ge", 0.3, 2.5)}


def function_calling() -> list[dict[str, Any]]:
    """60 examples: 50 that call one of four tools (12 of them mid-way), 10 that want no call."""
    out: list[dict[str, Any]] = []
    for i in range(50):
        oid = f"A{100 + i}"
        kind = i % 4
        if kind == 0:
            text, call = f"Where is my order {oid}?", ("get_order", {"order_id": oid})
        elif kind == 1:
            text, call = f"Refund {10 + i} euros on order {oid}", ("refund", {"order_id": oid, "amount": 10 + i})
        elif kind == 2:
            text, call = f"How do I change my address, case {i}?", ("search_faq", {"query": "change address"})
        else:
            text, call = f"I will call my lawyer about {oid}!", ("escalate", {"reason": "legal"})
        ex: dict[str, Any] = {"id": f"f{i + 1}", "input": text, "tags": ["call"],
                              "expected": {"tool_calls": [{"name": call[0], "arguments": call[1]}]}}
        if i < 12 and kind == 1:  # mid-way: the order was looked up first
            ex["input"] = [{"role": "user", "content": text},
                           {"role": "assistant", "content": None, "tool_calls": [{"id": f"c{i}", "type": "function",
                            "function": {"name": "get_order", "arguments": json.dumps({"order_id": oid})}}]},
                           {"role": "tool", "tool_call_id": f"c{i}", "content": json.dumps({"total": 10 + i})}]
            ex["tags"] = ["call", "midway"]
        elif i < 12:
            ex["input"] = [{"role": "system", "content": "You are the order desk."}, {"role": "user", "content": text}]
            ex["tags"] = ["call", "midway"]
        out.append(ex)
    for j in range(10):
        out.append({"id": f"n{j + 1}", "input": f"Thanks a lot, that was all ({j})", "expected": {"tool_calls": []},
                    "tags": ["no_tool"]})
    return out


# How each candidate misses: example id -> kind. A known truth, by construction.
MISSES = {
    "openai": {"f2": "wrong_arguments", "f7": "wrong_tool", "f13": "not_json", "f21": "no_call", "n3": "unexpected_call"},
    "anthropic": {"f3": "wrong_arguments", "f4": "wrong_arguments", "f9": "wrong_tool", "f30": "no_call",
                  "f31": "wrong_tool", "f44": "no_call", "n1": "unexpected_call", "n2": "unexpected_call"},
    "gemini": {"f5": "wrong_arguments", "f50": "wrong_tool", "n9": "unexpected_call"},
}


def scripted(api: str, examples: list[dict[str, Any]]) -> Any:
    by_text = {}
    for ex in examples:
        msgs = ex["input"] if isinstance(ex["input"], list) else [{"role": "user", "content": ex["input"]}]
        by_text[next(m["content"] for m in reversed(msgs) if m["role"] == "user")] = ex

    def answer(prompt: str) -> Any:
        ex = by_text[prompt]
        want = ex["expected"]["tool_calls"]
        miss = MISSES[api].get(ex["id"])
        if miss is None:
            return {"tool_calls": want} if want else "You are welcome."
        call = want[0] if want else None
        if miss == "wrong_arguments":
            args = {k: (v + 1 if isinstance(v, int | float) else f"{v}x") for k, v in call["arguments"].items()}
            return {"tool_calls": [{"name": call["name"], "arguments": args}]}
        if miss == "wrong_tool":
            return {"tool_calls": [{"name": "search_faq" if call["name"] != "search_faq" else "get_order",
                                    "arguments": {"query": "x"} if call["name"] != "search_faq" else {"order_id": "A1"}}]}
        if miss == "not_json":
            return {"tool_calls": [{"name": call["name"], "arguments": '{"order_id": "A1'}]}
        if miss == "no_call":
            return "Let me check that for you."
        return {"tool_calls": [{"name": "search_faq", "arguments": {"query": "thanks"}}]}  # unexpected_call

    return answer


def invoices() -> list[dict[str, Any]]:
    vendors = ["ACME", "Globex", "Initech", "Umbrella", "Hooli", "Stark"]
    return [{"id": f"i{k + 1}", "input": f"Invoice {k + 1} from {vendors[k % 6]}: {100 + k} {['EUR', 'USD', 'GBP'][k % 3]}, "
             f"due 2027-0{1 + k % 9}-1{k % 10}",
             "expected": {"vendor": vendors[k % 6], "amount": 100 + k, "currency": ["EUR", "USD", "GBP"][k % 3],
                          "due": f"2027-0{1 + k % 9}-1{k % 10}"}} for k in range(30)]


# Extraction: per candidate, example id -> fields it gets wrong (or "schema": breaks the schema).
WRONG_FIELDS = {"openai": {"i2": ["due"], "i5": ["amount", "currency"], "i9": "schema"},
                "anthropic": {"i1": ["vendor"], "i3": ["due"], "i4": ["due"], "i8": "schema", "i20": "schema"},
                "gemini": {"i7": ["currency"]}}


def extractor(api: str, examples: list[dict[str, Any]]) -> Any:
    by_text = {ex["input"]: ex for ex in examples}

    def answer(prompt: str) -> str:
        ex = by_text[prompt]
        got = dict(ex["expected"])
        wrong = WRONG_FIELDS[api].get(ex["id"], [])
        if wrong == "schema":
            got.pop("due")
        else:
            for f in wrong:
                got[f] = {"vendor": "Nobody", "amount": -1, "currency": "GBP" if got["currency"] != "GBP" else "EUR",
                          "due": "never"}[f]
        return json.dumps(got)

    return answer


def truth_fields(api: str, n: int) -> float:
    lost = sum(1.0 if w == "schema" else len(w) / 4 for w in WRONG_FIELDS[api].values())
    return (n - lost) / n


def write_project(folder: Path, url: str, examples: list[dict[str, Any]], extraction: bool) -> Path:
    import yaml

    folder.mkdir(parents=True)
    (folder / "tools.json").write_text(json.dumps(TOOLS, indent=2))
    (folder / "invoice.schema.json").write_text(json.dumps(SCHEMA, indent=2))
    (folder / "evals.jsonl").write_text("".join(json.dumps(e) + "\n" for e in examples))
    cands = []
    for api, (short, pin, pout) in APIS.items():
        base = url + "/v1" if api == "openai" else url
        cands.append({"id": f"{api}-{'x' if extraction else 'f'}", "provider": api, "model": f"{short}-{'x' if extraction else 'f'}",
                      "base_url": base, "params": {"stream": not extraction},
                      "price": {"input_per_mtok": pin, "output_per_mtok": pout},
                      "facts": {"trains_on_data": False, "regions": ["us"], "retention_days": 0}})
    doc: dict[str, Any] = {"name": "tools benchmark", "task": "Answer order-desk requests with the right tool.",
                           "evalset": "evals.jsonl", "pass_threshold": 1.0, "quality": {"min_score": 0.5},
                           "decision": {"max_error_rate": 0.2}, "candidates": cands}
    if extraction:
        doc.update(output={"json_schema": "invoice.schema.json"}, scoring=[{"type": "json_fields"}], pass_threshold=0.99)
    else:
        doc.update(tools="tools.json", tool_choice="auto", scoring=[{"type": "tool_call"}])
    p = folder / "req.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def run(req: Path, out: Path) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENAI_API_KEY="sk-bench", ANTHROPIC_API_KEY="sk-ant-bench",
               GEMINI_API_KEY="AIza-bench", MODELSEL_RETRY_SCALE="0", MODELSEL_QUIET_PASS_MS="1e9")
    dry = subprocess.run([sys.executable, "-m", "modelsel", "eval", str(req), "--dry-run"], env=env,
                         capture_output=True, text=True, cwd=req.parent)
    p = subprocess.run([sys.executable, "-m", "modelsel", "eval", str(req), "--out", str(out), "--no-extra-calls"],
                       env=env, capture_output=True, text=True, cwd=req.parent)
    if p.returncode not in (0, 1):
        raise RuntimeError(p.stdout[-2000:] + p.stderr[-2000:])
    summary = json.loads((out / "summary.json").read_text())
    recs = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    return summary, [r for r in recs if not r["latency_sample"]], dry.stdout


def main() -> None:
    fake = FakeProvider().start()
    fc, ex = function_calling(), invoices()
    for api, (short, _, _) in APIS.items():
        fake.script(f"{short}-f", answer=scripted(api, fc), output_tokens=12)
        fake.script(f"{short}-x", answer=extractor(api, ex), output_tokens=30)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            f_sum, f_recs, f_dry = run(write_project(Path(tmp) / "fc", fake.url, fc, False), Path(tmp) / "fc-run")
            x_sum, x_recs, _ = run(write_project(Path(tmp) / "ex", fake.url, ex, True), Path(tmp) / "ex-run")
    finally:
        fake.stop()

    n_call = sum(1 for e in fc if e["expected"]["tool_calls"])
    print(f"Function calling: {len(fc)} examples ({n_call} expect a call, {len(fc) - n_call} no tool; "
          f"{sum('midway' in e['tags'] for e in fc)} start mid-way), four tools, streamed")
    print(f"{'candidate':<12}{'quality':>18}{'right tool+args':>22}{'call where none asked':>24}  verdicts (measured = truth?)")
    ok = True
    for api in APIS:
        c = f_sum["candidates"][f"{api}-f"]
        miss = MISSES[api]
        t_right = n_call - sum(1 for k in miss if k.startswith("f"))
        t_unexp = sum(1 for k, v in miss.items() if v == "unexpected_call")
        t_q = (len(fc) - len(miss)) / len(fc)
        tu = c["tool_use"]
        m_right, m_unexp = round(tu["right"]["value"] * tu["right"]["n"]), round(tu["unexpected"]["value"] * tu["unexpected"]["n"])
        counts: dict[str, int] = {}
        for v in miss.values():
            counts[v] = counts.get(v, 0) + 1
        measured = {k: v for k, v in tu["verdicts"].items() if k not in ("right", "none_ok")}
        same = (abs(c["quality"]["mean"] - t_q) < 1e-6 and m_right == t_right and m_unexp == t_unexp and measured == counts)
        ok &= same
        print(f"{api:<12}{c['quality']['mean']:>8.3f} (truth {t_q:.3f}){m_right:>8}/{n_call} (truth {t_right})"
              f"{m_unexp:>10}/{len(fc) - n_call} (truth {t_unexp})  {measured} {'yes' if same else 'NO'}")
    print(f"\nExtraction: {len(ex)} invoices against a JSON Schema, json_fields, unstreamed")
    print(f"{'candidate':<12}{'quality':>10}{'truth':>8}{'schema broken':>16}{'truth':>7}")
    for api in APIS:
        c = x_sum["candidates"][f"{api}-x"]
        broken = sum(1 for r in x_recs if r["candidate"] == f"{api}-x" and r["valid"] is False)
        t_broken = sum(1 for w in WRONG_FIELDS[api].values() if w == "schema")
        same = abs(c["quality"]["mean"] - truth_fields(api, len(ex))) < 1e-6 and broken == t_broken
        ok &= same
        print(f"{api:<12}{c['quality']['mean']:>10.4f}{truth_fields(api, len(ex)):>8.4f}{broken:>16}{t_broken:>7}"
              f"  {'yes' if same else 'NO'}")

    print("\nWhat one call costs with its tool definitions (function-calling eval; the fake reports the prompt's words")
    print("and the definitions at 4 characters of JSON a token as input, as the APIs bill them):")
    print(f"{'candidate':<12}{'input tok/call':>16}{'of which tools':>16}{'share':>8}{'$/call':>12}{'$/call w/o tools':>18}")
    for api, (_, pin, pout) in APIS.items():
        mine = [r for r in f_recs if r["candidate"] == f"{api}-f"]
        tin = sum(r["input_tokens"] for r in mine) / len(mine)
        tout = sum(r["output_tokens"] for r in mine) / len(mine)
        cost = sum(r["cost_usd"] for r in mine) / len(mine)
        defs = _definition_words(api)
        print(f"{api:<12}{tin:>16.1f}{defs:>16}{defs / tin:>8.0%}{cost:>12.7f}{(cost - defs * pin / 1e6):>18.7f}")
        assert abs(cost - (tin * pin + tout * pout) / 1e6) < 1e-9
    est = next((ln for ln in f_dry.splitlines() if "tool definitions" in ln), "").strip()
    print(f"--dry-run said: {est}")
    print("\nall measured figures equal the truth" if ok else "\nSOME FIGURES DIFFER FROM THE TRUTH")
    if not ok:
        sys.exit(1)


def _definition_words(api: str) -> int:
    """The input tokens the fake counts for the definitions as each API carries them."""
    if api == "openai":
        return len(json.dumps(TOOLS)) // 4
    if api == "anthropic":
        return len(json.dumps([{"name": t["function"]["name"], "input_schema": t["function"]["parameters"],
                                "description": t["function"]["description"]} for t in TOOLS])) // 4
    return len(json.dumps([{"functionDeclarations": [{"description": t["function"]["description"], "name": t["function"]["name"],
                                                      "parameters_json_schema": t["function"]["parameters"]}
                                                     for t in TOOLS]}])) // 4


if __name__ == "__main__":
    main()
