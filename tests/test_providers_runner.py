"""`modelsel eval` against the fake provider, through the official SDKs over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import (
    KEYS,
    TICKETS,
    anthropic_cand,
    cli,
    compat_cand,
    gemini_cand,
    openai_cand,
    oracle,
    run_dir,
    write_req,
)

MAKERS = {"openai": openai_cand, "anthropic": anthropic_cand, "gemini": gemini_cand, "openai-compatible": compat_cand}


@pytest.mark.parametrize("api", list(MAKERS))
@pytest.mark.parametrize("stream", [True, False])
def test_each_api_streamed_and_plain(fake, keys, tmp_path: Path, api: str, stream: bool) -> None:
    fake.script("m", answer=oracle, input_tokens=100, output_tokens=3, latency_ms=30)
    cand = MAKERS[api](fake, "m", params={"temperature": 0.3, "max_tokens": 20, "stream": stream, "seed": 7}
                       if api != "anthropic" else {"temperature": 0.3, "max_tokens": 20, "stream": stream})
    res = cli("eval", write_req(tmp_path, [cand]), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    summary, recs = run_dir(tmp_path / "run")
    cid = cand["id"]
    assert summary["candidates"][cid]["status"] == "evaluated"
    assert summary["candidates"][cid]["quality"]["mean"] == 1.0
    assert summary["decision"]["chosen"] == cid
    assert len(recs) == len(TICKETS)
    pin, pout = cand["price"]["input_per_mtok"], cand["price"]["output_per_mtok"]
    for r in recs:
        assert r["input_tokens"] == 100 and r["output_tokens"] == 3
        assert r["cost_usd"] == pytest.approx((100 * pin + 3 * pout) / 1e6)
        assert r["latency_ms"] >= 30
        assert (r["ttft_ms"] is not None) == stream
        assert r["params"]["temperature"] == 0.3  # recorded, so comparisons are fair
    sent = fake.requests_for("m")[0]
    assert sent.stream == stream
    if api == "gemini":
        assert sent.body["generationConfig"]["temperature"] == 0.3
        assert sent.body["generationConfig"]["maxOutputTokens"] == 20
    else:
        assert sent.body["temperature"] == 0.3
    if api == "openai":
        assert sent.body["max_completion_tokens"] == 20 and sent.body["seed"] == 7
    if api == "openai-compatible":
        assert sent.body["max_tokens"] == 20
    assert sent.auth.endswith(keys[{"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY",
                                    "gemini": "GEMINI_API_KEY", "openai-compatible": "CUSTOM_API_KEY"}[api]])
    assert summary["candidates"][cid]["cost"]["per_request_usd"] == pytest.approx((100 * pin + 3 * pout) / 1e6)
    assert summary["candidates"][cid]["cost"]["monthly_usd"] == pytest.approx(10000 * (100 * pin + 3 * pout) / 1e6)


@pytest.mark.parametrize("api", ["openai", "anthropic", "gemini"])
def test_retries_honour_retry_after_and_recover(fake, keys, tmp_path: Path, monkeypatch, api: str) -> None:
    monkeypatch.setenv("MODELSEL_RETRY_SCALE", "0.01")
    plan = {"I was charged twice": ["429", "429", "500"], "app crashes on start": ["malformed", "cut"]}

    def fault_for(prompt: str) -> str | None:
        for text, faults in plan.items():
            if text in prompt and faults:
                return faults.pop(0)
        return None

    fake.script("m", answer=oracle, fault_when=fault_for, retry_after="2")
    cand = MAKERS[api](fake, "m", concurrency=1)
    res = cli("eval", write_req(tmp_path, [cand]), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    summary, recs = run_dir(tmp_path / "run")
    assert summary["candidates"][cand["id"]]["errors"] == 0
    first = recs[0]
    # The first ticket fails three times (429, 429, 500) then succeeds on its fourth and last attempt;
    # the second recovers from a malformed body and a stream cut mid-way.
    assert first["attempts"] == 4 and first["output"] == "billing"
    assert first["retry_wait_s"] >= 2 * 2 * 0.01  # both 429s honoured Retry-After: 2 s (scaled by 0.01)
    assert recs[1]["attempts"] == 3 and recs[1]["output"] == "technical"
    assert sum(r["attempts"] - 1 for r in recs) == 5
    assert summary["candidates"][cand["id"]]["retries"] == 5
    assert len(fake.requests_for("m")) == len(TICKETS) + 5


def test_persistent_failure_is_an_error_not_a_crash(fake, keys, tmp_path: Path) -> None:
    fake.script("good", answer=oracle)
    fake.script("bad", answer=oracle, fault_when=lambda p: "500" if "parcel never arrived" in p or "reset my password" in p else None)
    fake.script("hangs", answer=oracle, fault_when=lambda p: "hang" if "Brazil" in p else None, hang_s=3.0)
    cands = [openai_cand(fake, "good"), openai_cand(fake, "bad"), anthropic_cand(fake, "hangs")]
    res = cli("eval", write_req(tmp_path, cands), "--out", tmp_path / "run", "--timeout", "1.0")
    assert res.exit_code == 0, res.output
    summary, recs = run_dir(tmp_path / "run")
    bad = [r for r in recs if r["candidate"] == "oa-bad" and r["error"]]
    assert {r["example_id"] for r in bad} == {"e3", "e4"}
    assert all(r["attempts"] == 4 and r["error_kind"] == "server" and "500" in r["error"] for r in bad)
    hung = [r for r in recs if r["candidate"] == "an-hangs" and r["error"]]
    assert [r["example_id"] for r in hung] == ["e10"] and hung[0]["error_kind"] == "timeout"
    c = summary["candidates"]["oa-bad"]
    assert c["errors"] == 2 and c["error_rate"]["value"] == pytest.approx(2 / 12, abs=1e-6)
    # A request that failed is a failed answer: quality counts it as 0, and the error rate counts it.
    assert c["quality"]["n"] == 12 and c["quality"]["mean"] == pytest.approx(10 / 12, abs=1e-6)
    assert c["quality"]["answered_mean"] == pytest.approx(1.0) and c["quality"]["answered_n"] == 10
    assert len([r for r in recs if r["candidate"] == "oa-good"]) == 12
    assert "2 of 12 calls failed after retries" in res.output


def test_auth_failure_is_not_retried_and_key_is_redacted(fake, keys, tmp_path: Path) -> None:
    fake.script("m", always="401")
    fake.script("ok", answer=oracle)
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "m"), anthropic_cand(fake, "ok")]), "--out", tmp_path / "run")
    summary, recs = run_dir(tmp_path / "run")
    errs = [r for r in recs if r["candidate"] == "oa-m"]
    for r in errs:
        assert (r["attempts"], r["error_kind"], r["status"]) == (1, "auth", 401), r
        assert "[REDACTED]" in r["error"], r
    assert "eliminated" == summary["candidates"]["oa-m"]["status"]
    _assert_no_key_anywhere(tmp_path, res.output)


def _assert_no_key_anywhere(tmp_path: Path, output: str) -> None:
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "responses.sqlite" for p in files)
    for p in files:
        try:
            data = p.read_bytes()
        except FileNotFoundError:  # SQLite's -wal/-shm side files go away when the cache closes
            continue
        for k, v in KEYS.items():
            assert v.encode() not in data, f"{k} leaked into {p}"
            assert v[:12].encode() not in data or k == "CUSTOM_API_KEY", f"{k} prefix leaked into {p}"
    for v in KEYS.values():
        assert v not in output


def test_missing_key_is_not_evaluated_with_the_variable_named(fake, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEYS["OPENAI_API_KEY"])
    fake.script("m", answer=oracle)
    cands = [openai_cand(fake, "m"), anthropic_cand(fake, "m"), gemini_cand(fake, "m")]
    res = cli("eval", write_req(tmp_path, cands), "--out", tmp_path / "run")
    summary, _ = run_dir(tmp_path / "run")
    assert summary["candidates"]["an-m"]["status"] == "not_evaluated"
    assert summary["candidates"]["an-m"]["reasons"] == ["not evaluated: no API key (set ANTHROPIC_API_KEY)"]
    assert "GEMINI_API_KEY" in summary["candidates"]["ge-m"]["reasons"][0]
    assert summary["decision"]["not_evaluated"]["an-m"].startswith("no API key")
    assert "no API key (set ANTHROPIC_API_KEY)" in (tmp_path / "run" / "decision.md").read_text().replace("\\", "")
    assert res.exit_code == 0


def test_latency_excludes_queueing(fake, keys, tmp_path: Path) -> None:
    """Five calls through one slot at 300 ms each: every record says ~300 ms (the first one a little
    more: the SDK's cold start), never the 600..1500 ms that time spent queueing would add."""
    fake.script("slow", answer=oracle, latency_ms=300)
    cand = openai_cand(fake, "slow", concurrency=1)
    rows = [t for t in TICKETS[:5]]
    from tests.conftest import write_evalset

    write_evalset(tmp_path, rows)
    res = cli("eval", write_req(tmp_path, [cand], evalset="tickets.jsonl"), "--out", tmp_path / "run")
    assert res.exit_code in (0, 1)
    _, recs = run_dir(tmp_path / "run")
    lat = [r["latency_ms"] for r in recs]
    assert all(300 <= v < 480 for v in lat), lat


def test_concurrency_per_provider_is_independent(fake, keys, tmp_path: Path) -> None:
    fake.script("slow", answer=oracle, latency_ms=150)
    fake.script("fast", answer=oracle, latency_ms=5)
    cands = [openai_cand(fake, "slow", concurrency=1), anthropic_cand(fake, "fast")]
    res = cli("eval", write_req(tmp_path, cands), "--out", tmp_path / "run")
    _, recs = run_dir(tmp_path / "run")
    fast_done = max(r["started_at"] for r in recs if r["candidate"] == "an-fast")
    slow_last = max(r["started_at"] for r in recs if r["candidate"] == "oa-slow")
    assert fast_done < slow_last  # the fast provider finished while the slow one still queued
    assert res.exit_code in (0, 1)


def test_repeat_asks_each_example_k_times_and_pools(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "run", "--repeat", "3")
    summary, recs = run_dir(tmp_path / "run")
    assert len(recs) == 36 and {r["repeat"] for r in recs} == {0, 1, 2}
    assert summary["candidates"]["oa-m"]["quality"]["n"] == 12  # pooled per example, not 36 samples
    assert summary["candidates"]["oa-m"]["n_calls"] == 36
    assert res.exit_code == 0


def test_dry_run_estimates_and_calls_nothing(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "m", params={"max_tokens": 10})]), "--dry-run")
    assert res.exit_code == 0
    assert "Dry run" in res.output and "oa-m" in res.output and "120" in res.output  # 12 calls x 10 tokens
    assert fake.requests_for("m") == []
    assert not (tmp_path / "reports").exists()


def test_trace_has_every_call_as_it_happens(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    cli("eval", write_req(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "run")
    trace = [json.loads(x) for x in (tmp_path / "run" / "trace.jsonl").read_text().splitlines()]
    assert len(trace) == 12 and all(t["output"] and t["latency_ms"] is not None for t in trace)
    assert (tmp_path / "run" / "inputs" / "req.yaml").exists()


def test_a_provider_bug_is_an_error_against_that_candidate_not_the_run() -> None:
    """Through the runner's public function, with a provider that fails in a way nobody classified."""
    import asyncio

    from modelsel.catalog.models import Candidate
    from modelsel.inputs.evalset import Example
    from modelsel.providers import CallResult, Provider
    from modelsel.run.runner import RetryPolicy, RunConfig, collect

    class Buggy(Provider):
        async def complete(self, req):  # type: ignore[no-untyped-def]
            if "two" in req.prompt:
                raise RuntimeError("unexpected state")
            return CallResult(text="billing", input_tokens=1, output_tokens=1, latency_ms=1.0)

    c = Candidate(id="buggy", provider="python", vendor="x", model="x")
    examples = [Example(id=i, input=f"ticket {i}") for i in ("one", "two", "three")]
    records, _ = asyncio.run(collect([c], {"buggy": Buggy(c)}, examples, RunConfig(retry=RetryPolicy(scale=0))))
    by = {r.example_id: r for r in records}
    assert by["two"].error == "RuntimeError: unexpected state" and by["two"].error_kind == "fatal"
    assert by["two"].attempts == 1
    assert by["one"].output == "billing" and by["three"].output == "billing"


def test_a_slow_python_candidate_runs_beside_an_http_one(keys, tmp_path: Path) -> None:
    """A python candidate whose function sleeps 50 ms runs in worker threads beside an HTTP
    candidate: both answer every call, and the function's own time is its latency. Whether the
    HTTP candidate's clock stays near the server's own time meanwhile is measured in
    benchmarks/clock_checks.py (a timing, not a test)."""
    (tmp_path / "slowmod.py").write_text("import time\n\ndef classify(text):\n    time.sleep(0.05)\n    return 'billing'\n")
    from tests.fakes.process import FakeProcess

    fake = FakeProcess({"m": {"answer": "billing", "latency_ms": 20}})
    try:
        http = {"id": "oa-m", "provider": "openai", "model": "m", "base_url": fake.url + "/v1", "concurrency": 4,
                "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
                "facts": {"trains_on_data": False, "regions": ["us"], "retention_days": 0}}
        py = {"id": "slow-py", "provider": "python", "model": "slowmod:classify", "concurrency": 4}
        res = cli("eval", write_req(tmp_path, [http, py]), "--out", tmp_path / "run", "--repeat", "2")
        assert res.exit_code in (0, 1), res.output
    finally:
        fake.stop()
    _, recs = run_dir(tmp_path / "run")
    assert sum(1 for r in recs if r["candidate"] == "oa-m" and not r["error"] and not r["latency_pass"]) == 24
    py_lat = [r["latency_ms"] for r in recs if r["candidate"] == "slow-py"]
    assert len(py_lat) == 24 and all(v >= 50 for v in py_lat), py_lat


def test_an_async_python_candidate_is_awaited(tmp_path: Path) -> None:
    import asyncio

    from modelsel.catalog.models import Candidate
    from modelsel.inputs.evalset import Example
    from modelsel.providers.python_fn import PythonProvider
    from modelsel.run.runner import RetryPolicy, RunConfig, collect

    (tmp_path / "amod.py").write_text("import asyncio\n\nasync def classify(text):\n    await asyncio.sleep(0.02)\n"
                                      "    return 'billing'\n")
    c = Candidate(id="a", provider="python", vendor="x", model="amod:classify", concurrency=8)
    examples = [Example(id=str(i), input=f"ticket {i}") for i in range(16)]
    t0 = __import__("time").perf_counter()
    records, _ = asyncio.run(collect([c], {"a": PythonProvider(c, search_path=str(tmp_path))}, examples,
                                     RunConfig(retry=RetryPolicy(scale=0))))
    wall = __import__("time").perf_counter() - t0
    assert all(r.output == "billing" and 20 <= r.latency_ms < 60 for r in records)
    assert wall < 16 * 0.02  # eight at a time on the loop, not one after another
