"""`modelsel trial`: a live trial read from production traces with a known difference between the
arms (a canary by model in OTLP/JSON, a canary by metadata in a Langfuse export), driving the CLI
after a real decision run against the fake provider; the confidence sequence's invariants."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsel.analysis import sequential as sq
from tests.conftest import anthropic_cand, cli, flat, openai_cand, oracle, write_req, wrong_on

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _decision(fake: Any, tmp_path: Path, **over: Any) -> Path:
    """A decision run: oa-a (cheap, right) chosen over an-b (dear), both survive, so the record holds an A/B estimate."""
    fake.script("a", answer=oracle)
    fake.script("b", answer=wrong_on({"e1", "e2"}))
    req = write_req(tmp_path, [openai_cand(fake, "a"), anthropic_cand(fake, "b")], **over)
    res = cli("eval", req)
    assert res.exit_code == 0, res.output
    return req


def calls(days: int, per_day: tuple[int, int], thumbs_down: tuple[float, float], seed: int,
          errors: tuple[float, float] = (0.01, 0.01)) -> list[dict[str, Any]]:
    """Synthetic production calls: (incumbent, challenger) a day, each rated by its user, each arm with
    its true thumbs-down and error rates; the challenger answers with fewer tokens and faster."""
    rng = np.random.default_rng(seed)
    out = []
    for d in range(days):
        for arm, n in enumerate(per_day):
            for _ in range(n):
                t = START + timedelta(days=d, seconds=float(rng.uniform(0, 86000)))
                err = bool(rng.random() < errors[arm])
                out.append({"arm": arm, "start": t, "ms": float(rng.lognormal(math.log(900 if arm == 0 else 600), 0.3)),
                            "in": int(rng.integers(300, 700)), "out": 0 if err else int(rng.integers(80, 160)),
                            "error": err, "down": None if err else bool(rng.random() < thumbs_down[arm])})
    return out


def otlp_file(path: Path, rows: list[dict[str, Any]], models: tuple[str, str]) -> Path:
    """OTLP/JSON as the Collector's file exporter writes it, GenAI conventions, content capture off
    (no messages: a trial reads signals), thumbs as a user.feedback attribute, failures as status ERROR."""
    def kv(k: str, v: Any) -> dict[str, Any]:
        return {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": str(v)}}

    spans = []
    for i, r in enumerate(rows):
        ns = int(r["start"].timestamp() * 1e9)
        attrs = [kv("gen_ai.operation.name", "chat"), kv("gen_ai.provider.name", "openai" if r["arm"] else "anthropic"),
                 kv("gen_ai.request.model", models[r["arm"]]), kv("gen_ai.usage.input_tokens", r["in"]),
                 kv("gen_ai.usage.output_tokens", r["out"])]
        if r["down"] is not None:
            attrs.append(kv("user.feedback", "thumbs_down" if r["down"] else "thumbs_up"))
        span = {"traceId": f"{i:032x}", "spanId": f"{i:016x}", "name": f"chat {models[r['arm']]}",
                "startTimeUnixNano": str(ns), "endTimeUnixNano": str(ns + int(r["ms"] * 1e6)), "attributes": attrs}
        if r["error"]:
            span["status"] = {"code": 2, "message": "upstream 503"}
            attrs.append(kv("error.type", "503"))
        spans.append(span)
    with path.open("w") as fh:
        for k in range(0, len(spans), 200):  # one export request a line, as the exporter batches them
            fh.write(json.dumps({"resourceSpans": [{"resource": {"attributes": [kv("service.name", "support")]},
                                                    "scopeSpans": [{"spans": spans[k:k + 200]}]}]}) + "\n")
    return path


def langfuse_file(path: Path, rows: list[dict[str, Any]], model: str) -> Path:
    """A Langfuse export: GENERATION observations, every call on one model with a `variant` in its
    metadata (the canary flag), failures at level ERROR, and the users' thumbs as score rows."""
    with path.open("w") as fh:
        for i, r in enumerate(rows):
            end = r["start"] + timedelta(milliseconds=r["ms"])
            fh.write(json.dumps({
                "id": f"obs-{i}", "traceId": f"tr-{i}", "type": "GENERATION", "name": "answer", "model": model,
                "startTime": r["start"].isoformat().replace("+00:00", "Z"), "endTime": end.isoformat().replace("+00:00", "Z"),
                "input": [{"role": "user", "content": "Where is my order?"}], "output": None if r["error"] else "On its way.",
                "usageDetails": {"input": r["in"], "output": r["out"]},
                "metadata": {"variant": "new-prompt" if r["arm"] else "stable"},
                "level": "ERROR" if r["error"] else "DEFAULT", "statusMessage": "timeout" if r["error"] else None}) + "\n")
            if r["down"] is not None:
                fh.write(json.dumps({"id": f"s-{i}", "name": "user-feedback", "value": 0 if r["down"] else 1,
                                     "dataType": "NUMERIC", "traceId": f"tr-{i}", "observationId": f"obs-{i}"}) + "\n")
    return path


def test_a_canary_truly_equal_is_shown_not_worse_with_the_day_and_the_cost(fake, keys, tmp_path: Path) -> None:
    req = _decision(fake, tmp_path)
    rows = calls(10, (500, 500), (0.10, 0.10), seed=7)
    tr = otlp_file(tmp_path / "canary.jsonl", rows, ("b", "a"))
    res = cli("trial", req, "--traces", tr, "--margin", "0.05")
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    assert "Trial of oa-a against an-b (canary, arms by model): day 10, 5,000 challenger and 5,000 incumbent calls" in out
    t = json.loads(next((tmp_path / "reports").glob("*trial*/trial.json")).read_text())
    td = t["signals"]["thumbs_down"]
    assert t["verdict"] == "not_worse" and td["shown"] == "not_worse" and 1 <= td["shown_day"] <= 10
    # the figures behind the words: the difference's sequence covers the truth (0) and excludes the margin
    assert td["lo"] < 0 < td["hi"] < 0.05 and abs(td["diff"]) < 0.02
    # a: $1/$2 per Mtok against b's $3/$15: the challenger's cost per request is far lower, by the prices billed
    cost = t["signals"]["cost"]
    assert cost["relative"] < -0.6 and cost["shown"] == "better" and cost["shown_day"] == 1
    day = td["shown_day"]
    assert f"challenger not worse by more than 5 points on thumbs-down rate, shown at day {day}; cost −" in out
    assert t["signals"]["latency"]["shown"] == "better"  # 600 ms against 900 ms
    assert t["signals"]["errors"]["n_challenger"] == 5000 and t["calls"]["challenger"] == 5000
    errs = sum(r["error"] for r in rows if r["arm"] == 0)  # failed spans (status ERROR) counted, as written
    assert t["signals"]["errors"]["incumbent_mean"] == pytest.approx(errs / 5000)
    # the eval's A/B estimate and how far the trial is
    assert t["planning"]["eval_ab_per_arm"] and f"The eval's A/B estimate asked for {t['planning']['eval_ab_per_arm']:,} requests per arm" in out
    assert "The thumbs-down rate needs about" in out
    # the daily looks: the sequence only narrows, and settles on the day named
    daily = t["daily"]
    assert len(daily) == 10 and all(a["hi"] >= b["hi"] and a["lo"] <= b["lo"] for a, b in zip(daily, daily[1:], strict=False))
    assert daily[day - 1]["hi"] < 0.05 and (day == 1 or daily[day - 2]["hi"] >= 0.05)
    md = next((tmp_path / "reports").glob("*trial*/trial.md")).read_text()
    assert md.startswith("# Trial: oa-a against an-b") and "empirical-Bernstein confidence sequence" in md
    # the history holds the trial beside the eval
    hist = cli("history", req, "--reports", tmp_path / "reports", "--json")
    kinds = [(r["kind"], r["chosen"]) for r in json.loads(hist.stdout)]
    assert kinds == [("eval", "oa-a"), ("trial", "oa-a")]
    page = tmp_path / "h.html"
    cli("history", req, "--reports", tmp_path / "reports", "--html", page)
    assert "trial: challenger holds up" in page.read_text()


def test_a_canary_truly_five_points_worse_is_shown_worse_and_stops(fake, keys, tmp_path: Path) -> None:
    req = _decision(fake, tmp_path, trial={"primary": "thumbs_down", "margin": 0.02, "arm_by": "variant",
                                           "challenger": "new-prompt", "incumbent": "stable"})
    rows = calls(10, (500, 500), (0.10, 0.15), seed=11)
    # the look on day 3: the export so far
    early = langfuse_file(tmp_path / "day3.jsonl", [r for r in rows if r["start"] < START + timedelta(days=3)], "a")
    res = cli("trial", req, "--traces", early)
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    t = json.loads(next((tmp_path / "reports").glob("*trial*/trial.json")).read_text())
    td = t["signals"]["thumbs_down"]
    assert t["verdict"] == "not_yet" and t["days"] == 3 and td["lo"] < 0.02 < td["hi"]
    assert "not decided yet: keep the trial running" in out and "Trial of new-prompt against stable (canary, arms by variant): day 3" in out
    assert f"it has {td['n_challenger']:,}," in out and "more day(s) at the current rate" in out
    # the look on day 10: shown worse by more than the margin on a day before it; the trial stops (exit 1)
    res = cli("trial", req, "--traces", langfuse_file(tmp_path / "day10.jsonl", rows, "a"))
    assert res.exit_code == 1, res.output
    out = flat(res.output)
    t = json.loads(next((tmp_path / "reports").glob("*trial*/trial.json")).read_text())
    td = t["signals"]["thumbs_down"]
    assert t["verdict"] == "worse" and td["shown"] == "worse_beyond_margin" and 3 < td["shown_day"] <= 10
    assert 0.02 < td["lo"] < 0.05 < td["hi"]  # covers the true 5 points, excludes the margin
    assert (f"challenger worse by more than 2 points on thumbs-down rate, shown at day {td['shown_day']}: "
            f"+{td['diff'] * 100:.1f} points [+{td['lo'] * 100:.1f}, +{td['hi'] * 100:.1f}]") in out
    assert "the challenger is worse: stop" in out
    daily = t["daily"]
    assert daily[td["shown_day"] - 1]["lo"] > 0.02 and daily[td["shown_day"] - 2]["lo"] <= 0.02
    # the same model on both arms: cost shows no difference, and says so; errors (level ERROR) counted
    assert t["signals"]["cost"]["shown"] == "not_yet" and "cost per request: no difference shown by day 10" in out
    assert t["signals"]["errors"]["n_challenger"] == 5000 and t["signals"]["errors"]["shown"] == "not_yet"
    assert td["pairs"] == min(td["n_incumbent"], td["n_challenger"]) and td["ratio"] == 1
    hist = json.loads(cli("history", req, "--reports", tmp_path / "reports", "--json").stdout)
    assert [r["kind"] for r in hist] == ["eval", "trial"] and hist[-1]["holds"] is False  # one row: the latest look


def test_shadow_calls_compare_errors_latency_and_cost_but_not_feedback(fake, keys, tmp_path: Path) -> None:
    """Shadow traffic: each request's trace holds the incumbent's call (what the user saw and rated)
    and the challenger's call beside it."""
    req = _decision(fake, tmp_path)
    rows = calls(3, (300, 0), (0.1, 0.1), seed=3)
    shadow = [dict(r, arm=1, ms=r["ms"] * 0.7, down=None) for r in rows]
    tr = otlp_file(tmp_path / "shadow.jsonl", rows + shadow, ("b", "a"))
    # the same request's two calls share a trace: rewrite the shadow calls' trace ids to the originals'
    lines = [json.loads(x) for x in tr.read_text().splitlines()]
    n = len(rows)
    for line in lines:
        for sp in line["resourceSpans"][0]["scopeSpans"][0]["spans"]:
            i = int(sp["traceId"], 16)
            if i >= n:
                sp["traceId"] = f"{i - n:032x}"
    tr.write_text("".join(json.dumps(x) + "\n" for x in lines))
    res = cli("trial", req, "--traces", tr, "--primary", "latency", "--margin", "50")
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    t = json.loads(next((tmp_path / "reports").glob("*trial*/trial.json")).read_text())
    assert t["mode"] == "shadow" and t["signals"]["thumbs_down"]["shown"] == "not_measured"
    assert "thumbs-down rate: not measured (shadow calls: users saw only the incumbent's answers" in out
    lat = t["signals"]["latency"]
    assert lat["shown"] == "better" and lat["relative"] == pytest.approx(-0.3, abs=0.03)
    assert "challenger better on latency, shown at day 1: −30%" in out
    assert t["verdict"] == "not_worse" and "quantile confidence sequence" in " ".join(t["methods"])


def test_the_incumbent_is_what_production_runs_today_by_its_traced_name(fake, keys, tmp_path: Path) -> None:
    """`production:` (from `import traces`) says which candidate runs the traced model: its calls are the incumbent's."""
    prod = {"source": ["old.jsonl"], "models": {"claude-x-2025-01-01": {"candidate": "an-b", "calls": 10, "share": 1.0,
                                                                        "latency": {"n": 10, "p50_ms": 800.0, "p95_ms": 1500.0}}},
            "whole": {}, "sample": {}}
    req = _decision(fake, tmp_path)
    doc = yaml.safe_load(req.read_text())
    req.write_text(yaml.safe_dump({**doc, "production": prod}, sort_keys=False))  # as `import traces` writes it
    tr = otlp_file(tmp_path / "t.jsonl", calls(2, (60, 60), (0.1, 0.1), 2), ("claude-x-2025-01-01", "a"))
    res = cli("trial", req, "--traces", tr)
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    assert "Trial of oa-a against an-b (canary, arms by model): day 2, 120 challenger and 118 incumbent calls" in out
    assert "2 incumbent calls before the challenger's first (another period)" in out  # only concurrent traffic compares


def test_a_bad_traces_file_or_trial_section_is_exit_2_naming_it(fake, keys, tmp_path: Path) -> None:
    req = _decision(fake, tmp_path)
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"resourceSpans": []}\n{"resourceSpans": [{"scopeSpans": \n')  # the export cut short on line 2
    res = cli("trial", req, "--traces", bad)
    assert res.exit_code == 2 and "broken.jsonl:2" in flat(res.output) and "not valid JSON" in flat(res.output)
    res = cli("trial", req, "--traces", tmp_path / "missing.jsonl")
    assert res.exit_code == 2 and "missing.jsonl" in flat(res.output) and "not found" in flat(res.output)
    res = cli("trial", req, "--traces", otlp_file(tmp_path / "x.jsonl", calls(1, (5, 5), (0.1, 0.1), 1), ("b", "zz")))
    assert res.exit_code == 2 and "no call in these traces ran the challenger 'oa-a' (by model)" in flat(res.output)
    good = otlp_file(tmp_path / "ok.jsonl", calls(1, (20, 20), (0.1, 0.1), 1), ("b", "a"))
    res = cli("trial", req, "--traces", good, "--out", tmp_path)  # a folder of the user's: never written into
    assert res.exit_code == 2 and "not a trial's" in flat(res.output) and not (tmp_path / "trial.json").exists()
    doc = yaml.safe_load(req.read_text())
    doc["trial"] = {"primary": "thumbs_down", "margin": 2}
    req.write_text(yaml.safe_dump(doc, sort_keys=False))
    res = cli("trial", req, "--traces", tmp_path / "x.jsonl")
    out = flat(res.output)
    assert res.exit_code == 2 and "req.yaml" in out and "trial" in out and "0.02 means 2 points" in out
    doc["trial"] = {"primary": "latency"}
    req.write_text(yaml.safe_dump(doc, sort_keys=False))
    res = cli("trial", req, "--traces", tmp_path / "x.jsonl")
    assert res.exit_code == 2 and "needs its margin in ms" in flat(res.output)


def test_without_a_decision_run_the_trial_is_bad_input(tmp_path: Path) -> None:
    req = write_req(tmp_path, [{"catalog": "openai/gpt-4.1-mini"}])
    res = cli("trial", req, "--traces", tmp_path / "t.jsonl")
    assert res.exit_code == 2 and "no recorded decision" in flat(res.output)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=300), st.floats(0.01, 0.3))
def test_the_bounded_sequence_holds_its_invariants(xs: list[float], alpha: float) -> None:
    x = np.asarray(xs)
    s = sq.eb_cs(x, alpha)
    assert np.all((0 <= s.lo) & (s.lo <= s.hi) & (s.hi <= 1))
    assert np.all(np.diff(s.lo) >= 0) and np.all(np.diff(s.hi) <= 0)  # the running intersection only narrows
    wider = sq.eb_cs(x, alpha / 2)  # a smaller alpha never gives a narrower sequence (before intersecting)
    raw, raw_w = sq.eb_cs(x, alpha, intersect=False), sq.eb_cs(x, alpha / 2, intersect=False)
    assert np.all(raw_w.hi - raw_w.lo >= raw.hi - raw.lo - 1e-12) and len(wider) == len(x)
    flipped = sq.eb_cs(1 - x, alpha, intersect=False)  # symmetric: the mirror of the data mirrors the interval
    assert np.allclose(flipped.lo, 1 - raw.hi) and np.allclose(flipped.hi, 1 - raw.lo)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=200), st.floats(-1e3, 1e3), st.floats(0.1, 10))
def test_the_asymptotic_sequence_moves_with_the_data(xs: list[float], shift: float, scale: float) -> None:
    x = np.asarray(xs)
    s = sq.asymptotic_cs(x, 0.05, intersect=False)
    t = sq.asymptotic_cs(x * scale + shift, 0.05, intersect=False)  # equivariant: in the data's own units
    assert np.allclose(t.lo[1:], s.lo[1:] * scale + shift, rtol=1e-6, atol=1e-6 * (1 + abs(shift)) * scale)
    assert np.all(s.lo[1:] <= s.mean[1:] + 1e-9) and np.all(s.mean[1:] <= s.hi[1:] + 1e-9)


@given(st.integers(1, 50), st.integers(1, 50))
def test_the_difference_is_the_arms_sequences_subtracted(na: int, nb: int) -> None:
    rng = np.random.default_rng(na * 100 + nb)
    a = sq.eb_cs(rng.random(na), 0.025)
    b = sq.eb_cs(rng.random(nb), 0.025)
    d = sq.difference(sq.at(a, np.array([na, 0])), sq.at(b, np.array([nb, nb])))
    assert d.lo[0] == pytest.approx(b.lo[-1] - a.hi[-1]) and d.hi[0] == pytest.approx(b.hi[-1] - a.lo[-1])
    assert d.mean[0] == pytest.approx(b.mean[-1] - a.mean[-1]) and d.lo[0] <= d.hi[0]
    assert d.lo[1] == -math.inf and d.hi[1] == math.inf  # an arm with nothing yet: every difference possible


def test_the_planned_size_shrinks_with_a_wider_margin() -> None:
    n2, n5 = sq.needed_per_arm(0.1, 0.02), sq.needed_per_arm(0.1, 0.05)
    assert n2 is not None and n5 is not None and n2 > 4 * n5
    assert sq.needed_per_arm(0.1, 0.05, r=9) < n5  # more incumbent requests per challenger request help


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=0, max_size=120), st.lists(st.booleans(), min_size=0, max_size=40),
       st.integers(1, 5))
def test_pairing_keeps_arrival_order_and_the_range(a: list[bool], b: list[bool], r: int) -> None:
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ta, tb = np.arange(len(xa)) * 0.5, np.arange(len(xb)) * 1.5
    z, tz = sq.paired(xa, ta, xb, tb, r)
    m = min(len(xb), len(xa) // r)
    assert len(z) == len(tz) == m and np.all((-1 <= z) & (z <= 1)) and np.all(np.diff(tz) >= 0)
    if m:
        assert z[0] == pytest.approx(xb[0] - xa[:r].mean()) and tz[-1] == max(tb[m - 1], ta[m * r - 1])
        s = sq.paired_cs_at(z, tz, 0.05, np.array([tz[-1]]))
        assert -1 <= s.lo[0] <= s.hi[0] <= 1 and s.mean[0] == pytest.approx(z.mean())
