"""Multi-model strategies simulated on the recorded outputs of one run. Pure: no I/O, no calls.

Each strategy is judged against the single-model choice; one is recommended only when it
beats that choice on the PM's priorities while still meeting the requirements.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np

from modelsel import stats
from modelsel.records import Record
from modelsel.requirements import Requirements
from modelsel.scoring.basic import extract_choice

ROUTING_TAGS = ("simple", "complex", "edge", "adversarial")


def _index(records: list[Record]) -> dict[str, dict[str, list[Record]]]:
    idx: dict[str, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        idx[r.candidate][r.example_id].append(r)
    return idx


def _mean(rs: list[Record], attr: str) -> float:
    vals = [getattr(r, attr) or 0.0 for r in rs]
    return float(np.mean(vals)) if vals else 0.0


def _score(rs: list[Record]) -> float:
    return float(np.mean([r.score or 0.0 for r in rs])) if rs else 0.0


def _lat(rs: list[Record]) -> float:
    vals = [r.latency_ms for r in rs if r.latency_ms is not None]
    return float(np.mean(vals)) if vals else 0.0


def _summ(name: str, per_ex_q: list[float], per_ex_cost: list[float], per_ex_lat: list[float],
          req: Requirements, **extra: Any) -> dict[str, Any]:
    if per_ex_q and all(v in (0.0, 1.0) for v in per_ex_q):
        m = sum(per_ex_q) / len(per_ex_q)
        lo, hi = stats.wilson(int(sum(per_ex_q)), len(per_ex_q))
    else:
        m, lo, hi = stats.mean_ci(per_ex_q)
        lo, hi = max(0.0, lo), min(1.0, hi)  # scores live in [0, 1]
    per = float(np.mean(per_ex_cost)) if per_ex_cost else 0.0
    monthly = per * req.cost.monthly_requests if req.cost.monthly_requests else None
    return {"name": name, "_scores": list(per_ex_q), "quality": {"mean": round(m, 6), "lo": None if np.isnan(lo) else round(lo, 6),
            "hi": None if np.isnan(hi) else round(hi, 6), "n": len(per_ex_q)},
            "cost_per_request_usd": round(per, 12), "monthly_usd": None if monthly is None else round(monthly, 2),
            "latency_p95_ms": round(float(np.percentile(per_ex_lat, 95)), 1) if per_ex_lat else None, **extra}


def _primary_tag(r: Record) -> str:
    for t in ROUTING_TAGS:
        if t in r.tags:
            return t
    return r.tags[0] if r.tags else "untagged"


def routing(idx: dict[str, dict[str, list[Record]]], pool: list[str], single: str, examples: list[str],
            req: Requirements) -> dict[str, Any] | None:
    """Per tag, the cheapest model whose quality on that tag is within small_difference of the single choice's."""
    small = req.decision.small_difference
    groups: dict[str, list[str]] = defaultdict(list)
    for ex in examples:
        groups[_primary_tag(idx[single][ex][0])].append(ex)
    table: dict[str, str] = {}
    for tag, exs in groups.items():
        ref = np.mean([_score(idx[single][e]) for e in exs])
        ok = [c for c in pool if all(e in idx[c] for e in exs) and np.mean([_score(idx[c][e]) for e in exs]) >= ref - small]
        table[tag] = min(ok, key=lambda c: np.mean([_mean(idx[c][e], "cost_usd") for e in exs])) if ok else single
    if len(set(table.values())) < 2:
        return None
    q, cost, lat = [], [], []
    for tag, exs in groups.items():
        c = table[tag]
        for e in exs:
            q.append(_score(idx[c][e]))
            cost.append(_mean(idx[c][e], "cost_usd"))
            lat.append(_lat(idx[c][e]))
    return _summ("routing by tag", q, cost, lat, req, table=table,
                 share={tag: round(len(exs) / len(examples), 3) for tag, exs in groups.items()})


def _validity_check(req: Requirements) -> tuple[str, Any]:
    for s in req.scoring:
        extra = s.model_extra or {}
        if s.type == "choice" and extra.get("choices"):
            labels = list(extra["choices"])
            return "the answer contains a valid label", lambda r, labels=labels: extract_choice(r.output or "", labels) is not None
        if s.type == "json":
            import json

            def valid(r: Record) -> bool:
                try:
                    json.loads((r.output or "").strip().strip("`"))
                    return True
                except ValueError:
                    return False
            return "the answer is valid JSON", valid
    thr = req.pass_threshold
    return f"score >= {thr} (an oracle check: optimistic unless production can verify answers)", lambda r: (r.score or 0) >= thr


def cascade(idx: dict[str, dict[str, list[Record]]], cheap: str, premium: str, examples: list[str],
            req: Requirements) -> dict[str, Any]:
    check_name, check = _validity_check(req)
    q, cost, lat = [], [], []
    escalated = 0
    for e in examples:
        first = idx[cheap][e]
        ok = all(not r.error and check(r) for r in first)
        c_cost, c_lat = _mean(first, "cost_usd"), _lat(first)
        if ok:
            q.append(_score(first))
            cost.append(c_cost)
            lat.append(c_lat)
        else:
            escalated += 1
            q.append(_score(idx[premium][e]))
            cost.append(c_cost + _mean(idx[premium][e], "cost_usd"))
            lat.append(c_lat + _lat(idx[premium][e]))
    return _summ(f"cascade {cheap} -> {premium}", q, cost, lat, req, first=cheap, then=premium, check=check_name,
                 escalation_rate=round(escalated / len(examples), 4))


def fallback_chain(metrics: dict[str, Any], primary: str, backup: str, timeout_s: float) -> dict[str, Any]:
    e1 = metrics[primary]["error_rate"]["value"] or 0.0
    e2 = metrics[backup]["error_rate"]["value"] or 0.0
    p95_b = metrics[backup]["latency"].get("p95_ms") or 0.0
    return {"name": f"fallback {primary} -> {backup}", "chain": [primary, backup],
            "availability_single": round(1 - e1, 6), "availability_chain": round(1 - e1 * e2, 6),
            "assumes": "failures of the two providers are independent",
            "latency_when_falling_back_ms": round(timeout_s * 1000 + p95_b, 1),
            "share_of_requests_falling_back": round(e1, 6)}


def ensemble(idx: dict[str, dict[str, list[Record]]], members: list[str], examples: list[str],
             req: Requirements) -> dict[str, Any] | None:
    labels = None
    for s in req.scoring:
        if s.type == "choice":
            labels = (s.model_extra or {}).get("choices")
    if not labels or len(members) < 3:
        return None
    q, cost, lat = [], [], []
    for e in examples:
        votes = [extract_choice(idx[m][e][0].output or "", labels) for m in members]
        votes = [v for v in votes if v]
        expected = str(idx[members[0]][e][0].expected or "")
        winner = Counter(votes).most_common(1)[0][0] if votes else None
        q.append(1.0 if winner and winner.lower() == expected.lower() else 0.0)
        cost.append(sum(_mean(idx[m][e], "cost_usd") for m in members))
        lat.append(max(_lat(idx[m][e]) for m in members))  # called in parallel: the slowest decides
    return _summ("ensemble (majority vote)", q, cost, lat, req, members=members)


def ab_test(metrics: dict[str, Any], a: str, b: str) -> dict[str, Any]:
    pa = metrics[a]["quality"]["mean"] or 0.0
    pb = metrics[b]["quality"]["mean"] or 0.0
    n = stats.ab_sample_size(min(max(pa, 0.001), 0.999), min(max(pb, 0.001), 0.999))
    return {"name": f"A/B test {a} vs {b}", "a": a, "b": b, "observed_difference": round(pa - pb, 4),
            "samples_per_arm": n, "note": "per arm, for 80% power at alpha 0.05 on a pass/fail outcome"
            if n else "no observed difference to confirm"}


def simulate(records: list[Record], metrics: dict[str, Any], decision: dict[str, Any], req: Requirements,
             timeout_s: float = 60.0) -> dict[str, Any]:
    chosen = decision.get("chosen")
    cm = metrics["candidates"]
    ok = [r for r in records if not r.error]
    idx = _index(ok)
    evaluated = [c for c in cm if cm[c]["quality"]["n"] > 0]
    out: dict[str, Any] = {"strategies": [], "recommended": None, "why": None}
    if not chosen or len(evaluated) < 2:
        out["why"] = "no single-model choice to compare against" if not chosen else "fewer than two evaluated candidates"
        return out
    examples = sorted(set.intersection(*(set(idx[c]) for c in evaluated)))
    if not examples:
        out["why"] = "the candidates share no answered examples"
        return out
    pool = [c for c in evaluated if not any(r.startswith("compliance") for r in decision["eliminated"].get(c, []))]
    base = _summ(f"single model {chosen}", [_score(idx[chosen][e]) for e in examples],
                 [_mean(idx[chosen][e], "cost_usd") for e in examples], [_lat(idx[chosen][e]) for e in examples], req)
    out["baseline"] = base
    r = routing(idx, pool, chosen, examples, req)
    if r:
        out["strategies"].append(r)
    by_cost = sorted(pool, key=lambda c: cm[c]["cost"]["per_request_usd"] or 0)
    best_q = max(pool, key=lambda c: cm[c]["quality"]["mean"] or 0)
    if by_cost and by_cost[0] != best_q:
        out["strategies"].append(cascade(idx, by_cost[0], best_q, examples, req))
    if decision.get("fallback"):
        out["strategies"].append(fallback_chain(cm, chosen, decision["fallback"], timeout_s))
    top = sorted(pool, key=lambda c: -(cm[c]["quality"]["mean"] or 0))[:3]
    e = ensemble(idx, top, examples, req)
    if e:
        out["strategies"].append(e)
    runner_up = [c for c in sorted(pool, key=lambda c: -(cm[c]["quality"]["mean"] or 0)) if c != chosen]
    if runner_up:
        out["ab_test"] = ab_test(cm, chosen, runner_up[0])
    # Recommend only what beats the single-model choice on the PM's priorities within the requirements:
    # cheaper without being worse (beyond the small difference, or significantly), or better by at
    # least the small difference and significantly so (paired test on the same examples).
    small = req.decision.small_difference
    bar = req.quality.min_score or 0
    best = None
    base_scores = base.pop("_scores")
    for s in out["strategies"]:
        if "quality" not in s:
            continue
        cmp = stats.paired_difference(s.pop("_scores"), base_scores, binary=False)
        s["vs_single"] = {"diff": round(float(cmp["diff"]), 6), "p_value": round(float(cmp["p_value"]), 6)}
        q = s["quality"]["mean"]
        worse = cmp["diff"] < 0 and cmp["p_value"] < 0.05
        if q < bar or q < base["quality"]["mean"] - small or worse:
            continue
        if req.cost.monthly_budget_usd is not None and s["monthly_usd"] is not None and s["monthly_usd"] > req.cost.monthly_budget_usd:
            continue
        if req.latency.p95_ms is not None and s["latency_p95_ms"] is not None and s["latency_p95_ms"] > req.latency.p95_ms:
            continue
        saving = base["cost_per_request_usd"] - s["cost_per_request_usd"]
        better_q = q - base["quality"]["mean"] >= small and cmp["p_value"] < 0.05
        s["savings_pct"] = round(100 * saving / base["cost_per_request_usd"], 1) if base["cost_per_request_usd"] else 0.0
        wins = (saving > 0 and req.decision.priority[0] == "cost") or better_q
        if wins and (best is None or s["cost_per_request_usd"] < best["cost_per_request_usd"]):
            best = s
    if best:
        out["recommended"] = best["name"]
        q0, q1, pct = base["quality"]["mean"], best["quality"]["mean"], best.get("savings_pct", 0.0)
        if pct > 0:
            out["why"] = (f"{best['name']} keeps quality {q1:.3f} (single model {q0:.3f}) at {pct:.1f}% lower cost per "
                          "request, within every requirement.")
        else:
            out["why"] = (f"{best['name']} raises quality from {q0:.3f} to {q1:.3f} (p={best['vs_single']['p_value']:.3f}) "
                          f"for {-pct:.1f}% more cost per request, within every requirement.")
    else:
        out["why"] = "no strategy beats the single-model choice on the PM's priorities while meeting every requirement"
    return out
