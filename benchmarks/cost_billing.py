"""The bill production will get (issue 43): the audit's table again, with modelsel's figure beside
the truth. A fake endpoint returns each SDK's own usage fields and simulates each vendor's prompt
caching; the truth is computed independently from the usage JSON each API documents, through
genai-prices' own extractor, and the month at production's hit rate with requests arriving at
random. The last rows: how often the monthly interval holds for heavy-tailed output lengths
(lognormal sigma 1.2 / 1.6, n = 80), against a plain t interval, and an introductory price.

    python benchmarks/cost_billing.py [--reps 1000]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modelsel.analysis import stats  # noqa: E402
from tests.conftest import KEYS, cli, compat_cand, oracle, run_dir, write_req  # noqa: E402
from tests.fakes.server import FakeProvider  # noqa: E402
from tests.test_billing import MODELS, catalog_cand, true_bill, true_month, usage_json  # noqa: E402

ROWS: list[tuple[str, str, str]] = []


def row(case: str, truth: str, ours: str) -> None:
    ROWS.append((case, truth, ours))
    print(f"| {case} | {truth} | {ours} |", flush=True)


def usd(x: float, d: int = 0) -> str:
    return f"${x:,.{d}f}"


def run(work: Path, name: str, cands: list[dict[str, Any]], *args: str, **cost: Any) -> tuple[dict, list[dict]]:
    req = write_req(work / name, cands, compliance={}, cost={"monthly_budget_usd": 1e9, **cost},
                    latency={"p50_ms": 60000})
    res = cli("eval", req, "--out", work / name / "run", *dict.fromkeys(["--no-cache", *args]))
    assert res.exit_code in (0, 1), res.output
    return run_dir(work / name / "run")


def monthly(s: dict, cid: str) -> float:
    return s["candidates"][cid]["cost"]["monthly_usd"]


def table_rows(fake: FakeProvider, work: Path) -> None:
    for vol, label in ((10_000_000, "10M requests/month"), (3000, "3,000 requests/month")):
        truth, ours = [], []
        for api in ("anthropic", "gemini", "openai"):
            fake.script(MODELS[api][1], answer=oracle, input_tokens=3200, output_tokens=160, prompt_cache=3000)
            s, _ = run(work, f"p{vol}{api}", [catalog_cand(fake, api)], "--concurrency", "8", monthly_requests=vol)
            truth.append(true_month(api, vol, 3000, 3200, 160))
            ours.append(monthly(s, MODELS[api][0]))
        d = 2 if vol < 10_000 else 0
        row(f"3,000-token shared system prompt, {label} (Sonnet; Gemini 3.5 Flash; gpt-6.1-terra)",
            "; ".join(usd(t, d) for t in truth), "; ".join(usd(o, d) for o in ours))
    for vol in (10_000_000, 3000):
        fake.script("claude-sonnet-4-5", answer=oracle, input_tokens=12_200, output_tokens=160, prompt_cache=12_000)
        s, _ = run(work, f"agent{vol}", [catalog_cand(fake, "anthropic")], monthly_requests=vol)
        d = 2 if vol < 10_000 else 0
        row(f"12,000-token agent prefix, Sonnet at {vol:,}", usd(true_month("anthropic", vol, 12_000, 12_200, 160), d),
            usd(monthly(s, "anthropic/claude-sonnet-4-5"), d))
    fake.script("claude-sonnet-4-5", answer=oracle, input_tokens=3200, output_tokens=160, prompt_cache=3000)
    got = []
    for n in ("1", "8", "32"):
        fake.prompt_caches.clear()
        s, _ = run(work, f"conc{n}", [catalog_cand(fake, "anthropic")], "--concurrency", n, "--no-cache",
                   monthly_requests=10_000_000)
        c = s["candidates"]["anthropic/claude-sonnet-4-5"]["cost"]
        got.append(f"{usd(c['monthly_usd'])} (eval hit rate {c['eval_cache_hit_rate']:.0%})")
    row("the same requirements, --concurrency 1 / 8 / 32 (Sonnet, 10M)",
        usd(true_month("anthropic", 10_000_000, 3000, 3200, 160)), " / ".join(got))

    fake.script("claude-sonnet-4-5", answer=oracle, input_tokens=3200, output_tokens=160, prompt_cache=3000)
    fake.prompt_caches.clear()
    _, recs = run(work, "1h", [catalog_cand(fake, "anthropic", cache={"prefix": "system", "ttl": "1h"})],
                  "--concurrency", "1", monthly_requests=3000)
    row("Anthropic 1-hour cache write, a call", usd(true_bill("anthropic", usage_json("anthropic", 3200, 160, write=3000,
                                                                                    write_1h=3000)), 4),
        usd(max(r["cost_usd"] for r in recs), 4))
    fake.script("gpt-6.1-terra", answer=oracle, input_tokens=1200, output_tokens=100, prompt_cache=1024)
    _, recs = run(work, "oaw", [catalog_cand(fake, "openai")], "--concurrency", "1")
    row("OpenAI cache_write_tokens (1,024 of 1,200), a request",
        usd(true_bill("openai", usage_json("openai", 1200, 100, write=1024)), 6), usd(max(r["cost_usd"] for r in recs), 6))

    tiers = [("openai", "openai/gpt-5.4", "gpt-5.4", {"service_tier": "flex"}, {"service_tier": "flex"}, None),
             ("openai", "openai/gpt-5.4", "gpt-5.4", {"service_tier": "priority"}, {"service_tier": "priority"}, None),
             ("anthropic", "anthropic/claude-opus-5", "claude-opus-5", {"speed": "fast"}, {"speed": "fast"}, None),
             ("gemini", "google/gemini-3.5-flash", "gemini-3.5-flash", {"service_tier": "flex"}, None, 0.5),
             ("gemini", "google/gemini-3.5-flash", "gemini-3.5-flash", {"service_tier": "priority"}, None, 1.8)]
    truth, ours = [], []
    for i, (api, cid, model, params, ctx, factor) in enumerate(tiers):
        fake.script(model, answer=oracle, input_tokens=1000, output_tokens=200)
        cand = {"catalog": cid, "base_url": fake.url + ("/v1" if api == "openai" else ""),
                "params": {"max_tokens": 256, **params}}
        s, _ = run(work, f"tier{i}", [cand], monthly_requests=1_000_000)
        std = true_bill(api, usage_json(api, 1000, 200), model=model)
        truth.append(1_000_000 * (std * factor if factor else true_bill(api, usage_json(api, 1000, 200), ctx,
                                                                          model=model)))
        ours.append(monthly(s, cid))
    row("gpt-5.4 flex / priority; Opus 5 speed fast; Gemini 3.5 Flash flex / priority (1M requests)",
        " / ".join(usd(t) for t in truth), " / ".join(usd(o) for o in ours))

    fake.script("gemini-3.1-pro-preview", answer=oracle, output_tokens=300,
                input_tokens=lambda p: 300_000 if "partnership in Brazil" in p else 50_000)
    cand = {"catalog": "google/gemini-3.1-pro-preview", "base_url": fake.url, "params": {"max_tokens": 512}}
    s, _ = run(work, "long", [cand], monthly_requests=100_000,
               input_tokens={"p1": 50_000, "p70": 50_000, "p71": 300_000, "p100": 300_000})
    pro = "gemini-3.1-pro-preview"
    truth_long = 100_000 * (0.7 * true_bill("gemini", usage_json("gemini", 50_000, 300), model=pro)
                            + 0.3 * true_bill("gemini", usage_json("gemini", 300_000, 300), model=pro))
    row("production sends 30% over the 200k tier, the eval 1 in 12 (Gemini 3.1 Pro, 100k requests)", usd(truth_long),
        usd(monthly(s, "google/gemini-3.1-pro-preview")))

    fake.script("gemini-3.5-flash", answer=oracle, input_tokens=500, output_tokens=100,
                usage={"toolUsePromptTokenCount": 3000})
    s, _ = run(work, "tool", [{"catalog": "google/gemini-3.5-flash", "base_url": fake.url,
                               "params": {"max_tokens": 256}}], monthly_requests=1_000_000)
    row("Gemini toolUsePromptTokenCount 3,000 a call (1M requests)",
        usd(1_000_000 * true_bill("gemini", usage_json("gemini", 500, 100, tool_use=3000))),
        usd(monthly(s, "google/gemini-3.5-flash")))
    fake.script("gemini-3.5-flash", answer=oracle)

    fake.script("claude-sonnet-4-5", answer=oracle, input_tokens=3200, output_tokens=160, prompt_cache=3000)
    fake.prompt_caches.clear()
    req = write_req(work / "rerun", [catalog_cand(fake, "anthropic")], compliance={}, latency={"p50_ms": 60000},
                    cost={"monthly_requests": 3000, "monthly_budget_usd": 1e9})
    cli("eval", req, "--out", work / "rerun" / "one", "--concurrency", "1")
    cli("eval", req, "--out", work / "rerun" / "two", "--concurrency", "1")
    _, first = run_dir(work / "rerun" / "one")
    _, again = run_dir(work / "rerun" / "two")
    truth_calls = [true_bill("anthropic", r["usage"]) for r in first]
    row("a re-run served from the response cache, a request (Sonnet, the eval's 12 calls)",
        usd(float(np.mean(truth_calls)), 6), usd(float(np.mean([r["cost_usd"] for r in again])), 6))

    fake.script("llama", answer=oracle)
    cand = compat_cand(fake, "llama", pin=0.0, pout=0.0)
    cand["price"]["fixed_monthly_usd"] = 2500
    cand["facts"]["self_hosted"] = True
    s, _ = run(work, "fixed", [cand], monthly_requests=1000, max_per_request_usd=0.01)
    c = s["candidates"]["vllm-llama"]["cost"]
    verdict = "eliminated" if "vllm-llama" in s["decision"]["eliminated"] else "passes"
    row("self-hosted, $2,500/month fixed, at 1,000 requests/month", "$2.50 a request",
        f"{usd(c['per_request_usd'], 2)} a request ({verdict} against $0.01)")


def coverage_rows(reps: int) -> None:
    rng = np.random.default_rng(2026)
    for sigma in (1.2, 1.6):
        # Sonnet: 200 input tokens at $3/Mtok, output tokens lognormal with median 150 at $15/Mtok
        true = 200 * 3e-6 + 15e-6 * 150 * math.exp(sigma**2 / 2)
        cover = {"t": 0, "new": 0}
        above = {"t": 0, "new": 0}
        for i in range(reps):
            out = 15e-6 * rng.lognormal(math.log(150), sigma, 80)
            costs = 200 * 3e-6 + out
            _, lo, hi = stats.mean_ci(costs)
            cover["t"] += lo <= true <= hi
            above["t"] += true > hi
            _, lo, hi, _ = stats.cost_mean_ci(costs, out, seed=i)
            cover["new"] += lo <= true <= hi
            above["new"] += true > hi
        row(f"output length lognormal sigma {sigma}, n = 80 ({reps} runs): coverage of the 95% interval "
            "(true cost above the upper end)", "95%",
            f"{cover['new'] / reps:.1%} ({above['new'] / reps:.1%}); a plain t interval {cover['t'] / reps:.1%} "
            f"({above['t'] / reps:.1%})")


def intro_row() -> None:
    from modelsel.analysis.projection import project
    from modelsel.catalog.models import call_cost
    from modelsel.inputs.candidate import Candidate
    from modelsel.inputs.requirements import Requirements
    from modelsel.run.calls import Calls
    from modelsel.run.records import Record

    c = Candidate(id="g", provider="gemini", vendor="google", model="gemini-3.6-flash",
                  price_ref=("google", "gemini-3.6-flash"))
    today = datetime(2026, 12, 6, tzinfo=UTC)
    recs = [Record(candidate="g", example_id=f"e{i}", input_tokens=2000, output_tokens=400,
                   cost_live_usd=call_cost(c, 2000, 400, when=today)) for i in range(5)]
    req = Requirements.model_validate({"task": "t", "evalset": "x.jsonl", "candidates": [{"catalog": "x"}],
                                       "cost": {"monthly_requests": 1_000_000, "horizon_months": 12}})
    p = project(c, Calls.from_records(recs).arrays(), req, today)
    truth = sum(1_000_000 / 30 * true_bill("gemini", usage_json("gemini", 2000, 400), when=today + timedelta(days=d),
                                           model="gemini-3.6-flash") for d in range(360))
    row("gemini-3.6-flash's introductory price ends 2027-01-01: 12 months from 2026-12-06 (1M requests/month)",
        usd(truth), f"{usd(sum(x * 1_000_000 for x in p.per_request_by_month))} (today's price every month: "
                    f"{usd(12 * 1_000_000 * (recs[0].cost_live_usd or 0.0))})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=1000)
    args = ap.parse_args()
    for k, v in KEYS.items():
        os.environ[k] = v
    os.environ["MODELSEL_RETRY_SCALE"] = "0"
    os.environ["MODELSEL_QUIET_PASS_MS"] = "1e9"
    print("| case | true | modelsel |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        fake = FakeProvider().start()
        try:
            table_rows(fake, Path(tmp))
        finally:
            fake.stop()
    intro_row()
    coverage_rows(args.reps)


if __name__ == "__main__":
    main()
