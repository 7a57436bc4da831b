"""Aggregate records into figures per candidate, each with its interval and n. Pure: no I/O."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from typing import Any

import numpy as np

from modelsel import stats
from modelsel.records import Record
from modelsel.requirements import Requirements


def _num(x: float, digits: int = 6) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def _usd(x: float) -> float | None:
    return _num(x, 12)  # a cheap model's request costs a few millionths of a dollar


def per_example_scores(recs: list[Record]) -> dict[str, float]:
    """Scores pooled over repeats: one figure per example (repeats are not independent samples)."""
    acc: dict[str, list[float]] = defaultdict(list)
    for r in recs:
        if r.score is not None:
            acc[r.example_id].append(r.score)
    return {k: float(np.mean(v)) for k, v in acc.items()}


def _is_binary(values: list[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def quality_block(recs: list[Record]) -> dict[str, Any]:
    per_ex = per_example_scores(recs)
    clusters = {r.example_id: r.cluster or r.example_id for r in recs}
    ids = list(per_ex)
    vals = [per_ex[i] for i in ids]
    n = len(vals)
    if not n:
        return {"mean": None, "lo": None, "hi": None, "n": 0, "method": "none", "pass_rate": None}
    cl = [clusters[i] for i in ids]
    clustered = len(set(cl)) < n
    passed = [r.passed for r in recs if r.passed is not None]
    if _is_binary(vals) and not clustered:
        k = int(sum(vals))
        lo, hi = stats.wilson(k, n)
        mean, method = k / n, "wilson"
    else:
        mean, lo, hi = stats.mean_ci(vals, cl if clustered else None)
        lo, hi = max(0.0, lo), min(1.0, hi)  # scores live in [0, 1]
        method = "cluster_t" if clustered else "t"
    pk = sum(passed)
    plo, phi = stats.wilson(pk, len(passed))
    return {"mean": _num(mean), "lo": _num(lo), "hi": _num(hi), "n": n, "method": method,
            "pass_rate": _num(pk / len(passed)) if passed else None, "pass_rate_lo": _num(plo), "pass_rate_hi": _num(phi)}


MIN_WARM = 10


def latency_block(recs: list[Record]) -> dict[str, Any]:
    """Percentiles of warm calls. Calls that started before their endpoint had answered once carry
    the SDK's cold start (and new connections) that a running service does not pay; they are left
    out when at least MIN_WARM warm calls remain, and the count left out is reported."""
    ok = [r for r in recs if r.latency_ms is not None and not r.error]
    warm = [r for r in ok if not r.cold]
    use = warm if len(warm) >= MIN_WARM else ok
    lat = [r.latency_ms for r in use]
    out: dict[str, Any] = {"n": len(lat), "cold_excluded": len(ok) - len(use)}
    for q in (50, 95, 99):
        v, lo, hi = stats.percentile_ci(lat, q)
        out[f"p{q}_ms"], out[f"p{q}_lo"], out[f"p{q}_hi"] = _num(v), _num(lo), _num(hi)
    out["mean_ms"] = _num(float(np.mean(lat))) if lat else None
    ttft = [r.ttft_ms for r in use if r.ttft_ms is not None]
    out["ttft_n"] = len(ttft)
    if ttft:
        v, lo, hi = stats.percentile_ci(ttft, 50)
        out["ttft_p50_ms"], out["ttft_p50_lo"], out["ttft_p50_hi"] = _num(v), _num(lo), _num(hi)
        out["ttft_p95_ms"] = _num(float(np.percentile(ttft, 95)))
    tps = [r.output_tokens / ((r.latency_ms - (r.ttft_ms or 0)) / 1000) for r in use
           if r.output_tokens and r.latency_ms and r.ttft_ms is not None and r.latency_ms > (r.ttft_ms or 0)]
    out["output_tokens_per_s"] = _num(float(np.median(tps))) if tps else None
    return out


def cost_block(recs: list[Record], req: Requirements, fixed_monthly: float) -> dict[str, Any]:
    ok = [r for r in recs if not r.error]
    costs = [r.cost_usd for r in ok]
    per = float(np.mean(costs)) if costs else 0.0
    c = req.cost
    out: dict[str, Any] = {
        "per_request_usd": _usd(per), "p95_per_request_usd": _usd(float(np.percentile(costs, 95))) if costs else None,
        "input_tokens_mean": _num(float(np.mean([r.input_tokens or 0 for r in ok]))) if ok else None,
        "output_tokens_mean": _num(float(np.mean([r.output_tokens or 0 for r in ok]))) if ok else None,
        "fixed_monthly_usd": fixed_monthly, "monthly_usd": None,
    }
    if costs:
        lo, hi = stats.bootstrap_ci(costs, np.mean) if len(set(costs)) > 1 else (per, per)
        out["per_request_lo"], out["per_request_hi"] = _usd(lo), _usd(hi)
    if c.monthly_requests is not None:
        proj = stats.monthly_projection(per, c.monthly_requests, c.monthly_growth_pct, c.horizon_months, fixed_monthly)
        out["monthly_usd"] = _usd(proj["first_month_usd"])
        out["monthly_usd_at_horizon"] = _usd(proj["last_month_usd"])
        out["horizon_total_usd"] = _usd(proj["horizon_total_usd"])
        out["horizon_months"] = c.horizon_months
    return out


def candidate_metrics(recs: list[Record], req: Requirements, fixed_monthly: float = 0.0) -> dict[str, Any]:
    n_calls = len(recs)
    errors = sum(1 for r in recs if r.error)
    elo, ehi = stats.wilson(errors, n_calls)
    by_tag: dict[str, Any] = {}
    for tag in sorted({t for r in recs for t in r.tags}):
        by_tag[tag] = quality_block([r for r in recs if tag in r.tags])
    return {
        "n": len({r.example_id for r in recs}),
        "n_calls": n_calls,
        "errors": errors,
        "error_rate": {"value": _num(errors / n_calls) if n_calls else None, "lo": _num(elo), "hi": _num(ehi)},
        "error_kinds": dict(sorted(_count(r.error_kind for r in recs if r.error).items())),
        "retries": sum(max(0, r.attempts - 1) for r in recs),
        "cached": sum(1 for r in recs if r.cached),
        "replayed": sum(1 for r in recs if r.replayed),
        "quality": quality_block(recs),
        "by_tag": by_tag,
        "latency": latency_block(recs),
        "cost": cost_block(recs, req, fixed_monthly),
        "judge_cost_usd": _usd(sum(r.judge_cost_usd for r in recs)),
    }


def _count(xs: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for x in xs:
        out[str(x)] += 1
    return out


def paired_comparisons(by_cand: dict[str, list[Record]]) -> list[dict[str, Any]]:
    """Every pair of candidates on the examples both answered."""
    per = {c: per_example_scores(rs) for c, rs in by_cand.items()}
    out = []
    for a, b in itertools.combinations(per, 2):
        common = sorted(set(per[a]) & set(per[b]))
        if len(common) < 2:
            continue
        xa, xb = [per[a][i] for i in common], [per[b][i] for i in common]
        res = stats.paired_difference(xa, xb, binary=_is_binary(xa + xb))
        res = {k: (_num(v) if isinstance(v, float) else v) for k, v in res.items()}
        res.update(a=a, b=b, significant=bool(res.get("p_value", 1.0) is not None and res["p_value"] < 0.05))
        out.append(res)
    return out


def eval_resolution(n: int, comparisons: list[dict[str, Any]]) -> dict[str, Any]:
    """What this eval set can and cannot tell apart."""
    sds = [c["sd_diff"] for c in comparisons if c.get("sd_diff")]
    sd = float(np.median(sds)) if sds else 0.5
    return {
        "n_examples": n,
        "sd_of_paired_differences": round(sd, 4),
        "sd_source": "observed median over candidate pairs" if sds else "assumed 0.5 (no pairs to observe)",
        "resolvable_difference": _num(stats.resolvable_difference(n, sd)) if n else None,
        "minimum_detectable_difference_80pct_power": _num(stats.minimum_detectable_difference(n, sd)) if n else None,
    }


def compute(records: list[Record], req: Requirements, fixed_monthly: dict[str, float] | None = None) -> dict[str, Any]:
    by_cand: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_cand[r.candidate].append(r)
    fixed_monthly = fixed_monthly or {}
    cands = {c: candidate_metrics(rs, req, fixed_monthly.get(c, 0.0)) for c, rs in by_cand.items()}
    comps = paired_comparisons(by_cand)
    n = len({r.example_id for r in records})
    return {"candidates": cands, "comparisons": comps, "resolution": eval_resolution(n, comps)}
