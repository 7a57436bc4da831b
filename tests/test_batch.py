"""Half price at scale: quality calls through each provider's batch API (the fake speaks OpenAI's
files + batches, Anthropic's message batches and Gemini's batch mode), latency from a live
sample, the production price judged, a batch never submitted twice, never waited on blind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import (
    anthropic_cand,
    cli,
    cli_subprocess,
    compat_cand,
    gemini_cand,
    openai_cand,
    oracle,
    run_dir,
    write_evalset,
    write_req,
)

MAKERS = {"openai": openai_cand, "anthropic": anthropic_cand, "gemini": gemini_cand}
ROWS = [(f"b{i}{t[0]}", t[1], t[2], t[3]) for i in range(5) for t in __import__("tests.conftest").conftest.TICKETS]


def _req(tmp_path: Path, cands: list, **over) -> Path:  # type: ignore[no-untyped-def]
    write_evalset(tmp_path, ROWS)
    over.setdefault("run", {"latency_sample": 12})
    return write_req(tmp_path, cands, evalset="tickets.jsonl", **over)


@pytest.mark.parametrize("api", list(MAKERS))
def test_quality_through_the_batch_latency_from_a_live_sample(fake, keys, tmp_path: Path, api: str) -> None:
    fake.script("m", answer=oracle, input_tokens=100, output_tokens=10, latency_ms=15, batch_polls=3)
    cand = MAKERS[api](fake, "m", pin=1.0, pout=4.0)
    res = cli("eval", _req(tmp_path, [cand]), "--out", tmp_path / "run", "--batch")
    assert res.exit_code == 0, res.output
    s, recs = run_dir(tmp_path / "run")
    cid = cand["id"]
    assert [b[0] for b in fake.batch_created] == [api] and fake.batch_created[0][3] == 60  # one batch, 60 requests
    batch = [r for r in recs if r["batch"]]
    live = [r for r in recs if r["latency_sample"]]
    assert len(batch) == 60 and all(r["latency_ms"] is None for r in batch)
    assert len(live) == 12 and all(r["latency_ms"] is not None for r in live)
    live_calls = [x for x in fake.requests_for("m") if not x.path.endswith(("batches", "files"))]
    assert len(live_calls) == 12  # only the latency sample was called live
    c = s["candidates"][cid]
    assert c["quality"]["n"] == 60 and c["latency"]["n"] <= 12
    # billed at half price; judged at the price production pays (live)
    live_price = (100 * 1.0 + 10 * 4.0) / 1e6
    # a custom price states no batch discount: billed as stated (a catalog model's batch price is
    # genai-prices'; see test_a_catalog_model_is_billed_its_batch_price)
    assert all(r["cost_usd"] == pytest.approx(live_price) for r in batch)
    assert c["cost"]["per_request_usd"] == pytest.approx(live_price, rel=0.01)
    b = s["run"]["batch"]["candidates"][cid]
    assert b["mode"] == "batch" and b["from_batch"] == 60 and b["live_sample"] == 12 and b["batch_id"]
    md = " ".join((tmp_path / "run" / "decision.md").read_text().split())
    assert "batch" in md and "live calls" in md


def test_custom_prices_say_their_batch_discount(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, input_tokens=100, output_tokens=10)
    cand = openai_cand(fake, "m", pin=1.0, pout=4.0)
    cand["price"]["batch_discount"] = 0.5
    res = cli("eval", _req(tmp_path, [cand]), "--out", tmp_path / "run", "--batch")
    assert res.exit_code == 0, res.output
    s, recs = run_dir(tmp_path / "run")
    live_price = (100 * 1.0 + 10 * 4.0) / 1e6
    assert all(r["cost_usd"] == pytest.approx(live_price / 2) for r in recs if r["batch"])
    run = s["run"]["batch"]
    assert run["saving_usd"] == pytest.approx(60 * live_price / 2, rel=0.01)
    assert s["candidates"]["oa-m"]["cost"]["per_request_usd"] == pytest.approx(live_price, rel=0.01)
    # production itself runs in batch: the decision judges the batch price
    res = cli("eval", _req(tmp_path, [cand], cost={"processing": "batch", "max_per_request_usd": 0.01,
                                                   "monthly_budget_usd": 1000, "monthly_requests": 10000}),
              "--out", tmp_path / "run2", "--batch")
    s2, _ = run_dir(tmp_path / "run2")
    assert s2["candidates"]["oa-m"]["cost"]["per_request_usd"] == pytest.approx(live_price / 2, rel=0.01)


def test_errored_lines_are_made_live(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, batch_fault_when=lambda p: "bad line" if "charged twice" in p else None)
    res = cli("eval", _req(tmp_path, [anthropic_cand(fake, "m")]), "--out", tmp_path / "run", "--batch")
    assert res.exit_code == 0, res.output
    s, recs = run_dir(tmp_path / "run")
    b = s["run"]["batch"]["candidates"]["an-m"]
    assert b["retried_live"] == 5 and b["from_batch"] == 55
    redone = [r for r in recs if not r["batch"] and not r["latency_sample"]]
    assert len(redone) == 5 and all("charged twice" in r["input"] and r["output"] for r in redone)


def test_a_rejected_batch_is_said_and_the_rest_reported(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, batch_reject="request 3: max_tokens exceeds the model's limit")
    fake.script("ok", answer=oracle)
    res = cli("eval", _req(tmp_path, [gemini_cand(fake, "m"), openai_cand(fake, "ok")]), "--out", tmp_path / "run",
              "--batch")
    assert res.exit_code == 1
    out = " ".join(res.output.split())
    assert "rejected the batch" in out and "request 3: max_tokens exceeds" in out
    s, _ = run_dir(tmp_path / "run")
    assert s["run"]["batch"]["candidates"]["ge-m"]["rejected"]
    assert s["candidates"]["oa-ok"]["quality"]["n"] == 60


def test_batch_with_no_candidate_that_has_one_is_bad_input(fake, keys, tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("def f(x):\n    return 'other'\n")
    fake.script("v", answer=oracle)
    res = cli("eval", _req(tmp_path, [{"id": "kw", "provider": "python", "model": "rules:f"}]), "--batch")
    assert res.exit_code == 2 and "no candidate can run through a batch API" in " ".join(res.output.split())
    assert "kw: the python provider has no batch API" in " ".join(res.output.split())
    assert not (tmp_path / "reports").exists()


def test_an_openai_compatible_endpoint_with_batches_runs_in_batch_and_python_live(fake, keys, tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("def f(x):\n    return 'other'\n")
    fake.script("v", answer=oracle)
    res = cli("eval", _req(tmp_path, [compat_cand(fake, "v"), {"id": "kw", "provider": "python", "model": "rules:f"}]),
              "--out", tmp_path / "run", "--batch")
    assert res.exit_code in (0, 1), res.output
    s, _ = run_dir(tmp_path / "run")
    modes = {cid: b["mode"] for cid, b in s["run"]["batch"]["candidates"].items()}
    assert modes == {"vllm-v": "batch", "kw": "live"}
    assert "no batch API" in s["run"]["batch"]["candidates"]["kw"]["why_live"]


def test_a_killed_run_collects_its_batch_instead_of_submitting_another(fake, keys, tmp_path: Path) -> None:
    import signal
    import time

    fake.script("m", answer=oracle, batch_polls=10**6)  # never finishes while the first run waits
    req = _req(tmp_path, [openai_cand(fake, "m")])
    p = cli_subprocess("eval", req, "--batch", cwd=tmp_path, env=dict(keys, MODELSEL_RETRY_SCALE="0.02"))
    deadline = time.time() + 60
    while time.time() < deadline and not fake.batch_created:
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)
    assert len(fake.batch_created) == 1
    fake.scripts["m"].batch_polls = 1  # the provider finishes it meanwhile
    res = cli("eval", req, "--batch", "--out", tmp_path / "again")
    assert res.exit_code == 0, res.output
    assert len(fake.batch_created) == 1  # collected, not submitted again
    s, _ = run_dir(tmp_path / "again")
    b = s["run"]["batch"]["candidates"]["oa-m"]
    assert b["resumed"] and b["from_batch"] == 60


def test_the_deadline_stops_the_wait_and_names_the_batch(fake, keys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODELSEL_RETRY_SCALE", "0.05")
    fake.script("m", answer=oracle, batch_polls=10**6)
    res = cli("eval", _req(tmp_path, [openai_cand(fake, "m")], run={"latency_sample": 12, "max_minutes": 0.02}),
              "--out", tmp_path / "run", "--batch")
    assert res.exit_code == 1
    out = " ".join(res.output.split())
    bid = fake.batch_created[0][1]
    assert f"batch {bid} was still running at the deadline" in out
    # and --cancel-batches cancels it
    res = cli("eval", _req(tmp_path, [openai_cand(fake, "m")]), "--cancel-batches")
    assert res.exit_code == 0 and f"batch {bid} cancelled" in " ".join(res.output.split())
    assert fake.batch_cancelled == [bid]


def test_dry_run_shows_live_and_batch_costs(fake, keys, tmp_path: Path) -> None:
    cand = openai_cand(fake, "m", pin=1.0, pout=1.0, params={"max_tokens": 10})
    cand["price"]["batch_discount"] = 0.5
    res = cli("eval", _req(tmp_path, [cand]), "--dry-run", "--batch")
    out = " ".join(res.output.split())
    assert res.exit_code == 0 and "Cost batch (max)" in out and "batch + 12 live for latency" in out
    assert not fake.batch_created


def test_batch_wire_formats_carry_thinking_tokens(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, input_tokens=100, output_tokens=1, reasoning_tokens=300)
    res = cli("eval", _req(tmp_path, [gemini_cand(fake, "m", pin=1.0, pout=10.0)]), "--out", tmp_path / "run", "--batch")
    assert res.exit_code == 0, res.output
    _, recs = run_dir(tmp_path / "run")
    assert all(r["output_tokens"] == 301 and r["reasoning_tokens"] == 300 for r in recs if r["batch"])
    assert json.dumps(recs)  # serialisable


def test_a_catalog_model_is_billed_its_batch_price(fake, keys, tmp_path: Path) -> None:
    """claude-haiku-4-5 through Message Batches: genai-prices' batch price, half the standard."""
    from modelsel.catalog.prices import call_cost

    fake.script("claude-haiku-4-5", answer=oracle, input_tokens=1000, output_tokens=20)
    cand = {"catalog": "anthropic/claude-haiku-4-5", "base_url": fake.url, "params": {"max_tokens": 16}}
    res = cli("eval", _req(tmp_path, [cand], compliance={"data_sensitivity": "internal"}), "--out", tmp_path / "run",
              "--batch")
    assert res.exit_code in (0, 1), res.output
    s, recs = run_dir(tmp_path / "run")
    live = call_cost("anthropic", "claude-haiku-4-5", 1000, 20)
    batch = call_cost("anthropic", "claude-haiku-4-5", 1000, 20, processing="batch")
    assert batch == pytest.approx(live / 2)
    assert all(r["cost_usd"] == pytest.approx(batch, rel=0.01) for r in recs if r["batch"])
    b = s["run"]["batch"]
    assert b["billed_usd"] == pytest.approx(60 * batch, rel=0.01) and b["saving_usd"] == pytest.approx(60 * batch, rel=0.01)
    assert s["candidates"]["anthropic/claude-haiku-4-5"]["cost"]["per_request_usd"] == pytest.approx(live, rel=0.01)


def test_a_batch_whose_status_cannot_be_read_is_partial_data_and_kept_for_the_next_run(fake, keys, tmp_path: Path) -> None:
    """No deadline was set, so none is claimed: the record says the batch could not be read, the
    run exits 1 on partial data, and the batch id stays saved for the next run to collect."""
    fake.script("m", answer=oracle, batch_status_down=True)
    res = cli("eval", _req(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "run", "--batch")
    out = " ".join(res.output.split())
    assert res.exit_code == 1, out
    assert "Deadline" not in out and "could not be read" in out and "run the same command again to collect it" in out
    s, _ = run_dir(tmp_path / "run")
    assert not s["run"]["deadline_hit"]
    assert "could not be read" in s["decision"]["partial_data"]
    assert s["run"]["batch"]["candidates"]["oa-m"]["state"].startswith("status unreadable")
