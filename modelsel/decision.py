"""Decision rules (DESIGN.md, "Decision rules"), made executable. Pure: no I/O."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from modelsel.catalog import Candidate
from modelsel.records import Record
from modelsel.requirements import Requirements


def _fmt_src(c: Candidate, fact: str) -> str:
    f = c.facts.get(fact)
    if f is None:
        return "no source"
    return f"source: {f.source}" + (f", as of {f.as_of}" if f.as_of else "")


def compliance(c: Candidate, req: Requirements) -> tuple[list[str], list[str]]:
    """(reasons to eliminate, risks) for one candidate, before any call is made.
    An unknown fact is a risk, never silently compliant."""
    comp, st = req.compliance, req.strategy
    out: list[str] = []
    risks: list[str] = []

    def unknown(fact: str, need: str) -> None:
        risks.append(f"{fact} unknown ({need}); {_fmt_src(c, fact)}")

    if comp.allowed_regions is not None:
        regions = c.fact("regions")
        if regions is None:
            unknown("regions", f"allowed: {', '.join(comp.allowed_regions)}")
        elif "any" not in regions and not set(map(str.lower, regions)) & set(map(str.lower, comp.allowed_regions)):
            out.append(f"processes data in {', '.join(regions)}, not in the allowed regions {', '.join(comp.allowed_regions)} ({_fmt_src(c, 'regions')})")
    if comp.require_no_training:
        v = c.fact("trains_on_data")
        if v is None:
            unknown("trains_on_data", "no training on data is required")
        elif v:
            out.append(f"may train on submitted data ({_fmt_src(c, 'trains_on_data')})")
    if comp.require_baa:
        v = c.fact("baa_available")
        if v is None:
            unknown("baa_available", "a HIPAA BAA is required")
        elif not v:
            out.append(f"no HIPAA BAA available ({_fmt_src(c, 'baa_available')})")
    if comp.max_retention_days is not None:
        v = c.fact("retention_days")
        if v is None:
            unknown("retention_days", f"at most {comp.max_retention_days} days allowed")
        elif v > comp.max_retention_days:
            out.append(f"retains data {v} days, more than the allowed {comp.max_retention_days} ({_fmt_src(c, 'retention_days')})")
    if comp.self_hosted_only and not c.fact("self_hosted"):
        out.append(f"not self-hosted, and the requirements allow only self-hosted models ({_fmt_src(c, 'self_hosted')})")
    need_mod = set(st.modalities) - {"text"}
    if need_mod:
        mods = c.fact("modalities")
        if mods is None:
            unknown("modalities", f"needs {', '.join(sorted(need_mod))}")
        elif need_mod - set(mods):
            out.append(f"does not accept {', '.join(sorted(need_mod - set(mods)))} ({_fmt_src(c, 'modalities')})")
    if st.min_context_tokens:
        ctx = c.fact("context_window")
        if ctx is None:
            unknown("context_window", f"needs {st.min_context_tokens:,} tokens")
        elif ctx < st.min_context_tokens:
            out.append(f"context window {ctx:,} tokens, below the {st.min_context_tokens:,} needed ({_fmt_src(c, 'context_window')})")
    return out, risks


def _ci(block: dict[str, Any], key: str = "mean", lo: str = "lo", hi: str = "hi") -> str:
    v = block.get(key)
    if v is None:
        return "n/a"
    if block.get(lo) is None or block.get(hi) is None:
        return f"{v:.3f} (no interval: too few examples)"
    return f"{v:.3f} (95% CI {block[lo]:.3f}-{block[hi]:.3f}, n={block.get('n', '?')})"


def _ms(lat: dict[str, Any], q: str) -> str:
    return f"{lat[q + '_ms']:.0f} ms (95% CI {lat[q + '_lo']:.0f}-{lat[q + '_hi']:.0f}, n={lat['n']})"


def hard_requirements(m: dict[str, Any], recs: list[Record], req: Requirements) -> tuple[list[dict[str, Any]], list[str]]:
    """Failures (each with figure, interval, limit and how far off) and at-risk passes."""
    fails: list[dict[str, Any]] = []
    risks: list[str] = []
    q, lat, cost, err = m["quality"], m["latency"], m["cost"], m["error_rate"]

    def fail(requirement: str, measured: float, limit: float, text: str, higher_is_better: bool) -> None:
        fails.append({"requirement": requirement, "measured": measured, "limit": limit, "text": text,
                      "move_limit_to": measured, "by": round(measured - limit, 6), "higher_is_better": higher_is_better})

    if q["n"] == 0:
        fails.append({"requirement": "answers", "measured": 0, "limit": 1, "text": "no successful answers",
                      "move_limit_to": None, "by": None, "higher_is_better": True})
        return fails, risks
    bar = req.quality.min_score
    if bar is not None:
        if q["mean"] < bar:
            fail("quality.min_score", q["mean"], bar, f"quality {_ci(q)} is below the bar {bar}", True)
        elif q["lo"] is not None and q["lo"] < bar:
            risks.append(f"quality {_ci(q)} passes the bar {bar}, but its interval crosses it")
    for tag, tbar in req.quality.min_by_tag.items():
        tb = m["by_tag"].get(tag)
        if tb is None or tb["n"] == 0:
            risks.append(f"no '{tag}' examples answered, so quality on '{tag}' (bar {tbar}) is unmeasured")
        elif tb["mean"] < tbar:
            fail(f"quality.min_by_tag.{tag}", tb["mean"], tbar, f"quality on '{tag}' {_ci(tb)} is below {tbar}", True)
        elif tb["lo"] is not None and tb["lo"] < tbar:
            risks.append(f"quality on '{tag}' {_ci(tb)} passes {tbar}, but its interval crosses it")
    for tag in req.quality.must_pass:
        tagged = [r for r in recs if tag in r.tags]
        bad = [r for r in tagged if r.passed is False or r.error]
        if bad:
            fail(f"quality.must_pass.{tag}", len(bad), 0,
                 f"failed {len(bad)} of {len(tagged)} '{tag}' examples, which must all pass ({', '.join(sorted({r.example_id for r in bad})[:5])})", False)
    for key, target in (("p50", req.latency.p50_ms), ("p95", req.latency.p95_ms)):
        if target is None or lat.get(f"{key}_ms") is None:
            continue
        v = lat[f"{key}_ms"]
        if v > target:
            fail(f"latency.{key}_ms", v, target, f"{key} latency {_ms(lat, key)} exceeds the target {target:.0f} ms", False)
        elif lat[f"{key}_hi"] is not None and lat[f"{key}_hi"] > target:
            risks.append(f"{key} latency {_ms(lat, key)} meets {target:.0f} ms, but its interval crosses it")
    if req.latency.ttft_p50_ms is not None and lat.get("ttft_p50_ms") is not None:
        v = lat["ttft_p50_ms"]
        if v > req.latency.ttft_p50_ms:
            fail("latency.ttft_p50_ms", v, req.latency.ttft_p50_ms,
                 f"time to first token p50 {v:.0f} ms exceeds {req.latency.ttft_p50_ms:.0f} ms", False)
    per = cost.get("per_request_usd")
    if req.cost.max_per_request_usd is not None and per is not None:
        if per > req.cost.max_per_request_usd:
            fail("cost.max_per_request_usd", per, req.cost.max_per_request_usd,
                 f"cost per request ${per:.6f} exceeds ${req.cost.max_per_request_usd:.6f}", False)
        elif cost.get("per_request_hi") and cost["per_request_hi"] > req.cost.max_per_request_usd:
            risks.append(f"cost per request ${per:.6f} is under the limit, but its interval reaches ${cost['per_request_hi']:.6f}")
    monthly = cost.get("monthly_usd")
    if req.cost.monthly_budget_usd is not None and monthly is not None:
        if monthly > req.cost.monthly_budget_usd:
            fail("cost.monthly_budget_usd", monthly, req.cost.monthly_budget_usd,
                 f"projected ${monthly:,.2f}/month at {req.cost.monthly_requests:,} requests exceeds the budget ${req.cost.monthly_budget_usd:,.2f}", False)
        elif cost.get("monthly_usd_at_horizon", 0) > req.cost.monthly_budget_usd:
            risks.append(f"within budget now (${monthly:,.2f}/month) but ${cost['monthly_usd_at_horizon']:,.2f}/month after "
                         f"{req.cost.horizon_months} months of {req.cost.monthly_growth_pct:g}% growth exceeds ${req.cost.monthly_budget_usd:,.2f}")
    if err["value"] is not None and err["value"] > req.decision.max_error_rate:
        fail("decision.max_error_rate", err["value"], req.decision.max_error_rate,
             f"error rate {err['value']:.1%} (95% CI {err['lo']:.1%}-{err['hi']:.1%}, n={m['n_calls']}) exceeds {req.decision.max_error_rate:.1%}", False)
    return fails, risks


def _key(priority: list[str], m: dict[str, Any], prefer_open: bool, c: Candidate) -> tuple:
    parts: list[Any] = []
    if prefer_open:
        parts.append(0 if c.fact("open_weights") else (1 if c.fact("standard_api") else 2))
    for p in priority:
        if p == "cost":
            parts.append(m["cost"].get("monthly_usd") if m["cost"].get("monthly_usd") is not None else m["cost"]["per_request_usd"] or 0)
        elif p == "latency":
            parts.append(m["latency"].get("p95_ms") or 0)
        elif p == "quality":
            parts.append(-(m["quality"]["mean"] or 0))
    parts.append(-(m["quality"]["mean"] or 0))
    return tuple(parts)


def _monthly(m: dict[str, Any]) -> float:
    c = m["cost"]
    return c["monthly_usd"] if c.get("monthly_usd") is not None else (c.get("per_request_usd") or 0.0)


def _comparison(comps: list[dict[str, Any]], a: str, b: str) -> dict[str, Any] | None:
    for c in comps:
        if c["a"] == a and c["b"] == b:
            return c
        if c["a"] == b and c["b"] == a:
            flipped = dict(c, a=a, b=b, diff=-c["diff"])
            if c.get("lo") is not None:
                flipped["lo"], flipped["hi"] = -c["hi"], -c["lo"]
            return flipped
    return None


def decide(cands: list[Candidate], metrics: dict[str, Any], records: list[Record], req: Requirements,
           not_evaluated: dict[str, str], compliance_out: dict[str, list[str]], compliance_risks: dict[str, list[str]],
           today: date | None = None) -> dict[str, Any]:
    today = today or date.today()
    by = {c.id: c for c in cands}
    cm = metrics["candidates"]
    comps = metrics["comparisons"]
    small = req.decision.small_difference
    prefer_open = req.strategy.prefer_open_weights or req.strategy.lock_in_tolerance == "low"
    eliminated: dict[str, list[str]] = {cid: [f"compliance: {r}" for r in rs] for cid, rs in compliance_out.items() if rs}
    at_risk: dict[str, list[str]] = {cid: [f"compliance: {r}" for r in rs] for cid, rs in compliance_risks.items() if rs}
    failures: dict[str, list[dict[str, Any]]] = {}
    for cid, m in cm.items():
        fails, risks = hard_requirements(m, [r for r in records if r.candidate == cid], req)
        if fails:
            failures[cid] = fails
            eliminated.setdefault(cid, []).extend(f["text"] for f in fails)
        if risks:
            at_risk.setdefault(cid, []).extend(risks)
    survivors = [cid for cid in cm if cid not in eliminated]
    out: dict[str, Any] = {
        "chosen": None, "fallback": None, "rule": None, "reasons": [], "equivalent": [], "eliminated": eliminated,
        "at_risk": at_risk, "not_evaluated": not_evaluated, "nearest_misses": [], "trade_offs": [],
        "fallback_cost": None, "extra_quality_monthly_usd": None, "survivors": survivors,
    }
    if not survivors:
        out["rule"] = "7: nobody qualifies"
        if not cm:
            out["reasons"].append("No candidate could be evaluated: see 'not evaluated' and the compliance eliminations.")
            return out
        out["reasons"].append("No candidate meets every requirement. The nearest misses, and what would have to move for each:")
        misses = []
        for cid, fails in failures.items():
            if any(f["by"] is None for f in fails):
                continue
            rel = sum(abs(f["by"]) / (abs(f["limit"]) or 1) for f in fails)
            misses.append({"candidate": cid, "failed": fails, "n_failed": len(fails), "relative_gap": round(rel, 4)})
        misses.sort(key=lambda x: (x["n_failed"], x["relative_gap"]))
        out["nearest_misses"] = misses[:3]
        return out
    best = max(survivors, key=lambda c: (cm[c]["quality"]["mean"] or 0, -_monthly(cm[c])))
    equivalent = [best]
    for cid in survivors:
        if cid == best:
            continue
        cmp = _comparison(comps, best, cid)
        diff = (cm[best]["quality"]["mean"] or 0) - (cm[cid]["quality"]["mean"] or 0)
        if cmp is None or not cmp["significant"] or diff < small:
            equivalent.append(cid)
    order = sorted(equivalent, key=lambda c: _key(req.decision.priority, cm[c], prefer_open, by[c]))
    chosen = order[0]
    out["chosen"], out["equivalent"] = chosen, equivalent
    q = cm[chosen]["quality"]
    if len(equivalent) > 1:
        out["rule"] = "3: quality-equivalent survivors, chosen on " + " then ".join(req.decision.priority) + (
            " (lock-in preference first)" if prefer_open else "")
        for cid in equivalent:
            if cid == chosen:
                continue
            cmp = _comparison(comps, chosen, cid)
            txt = (f"diff {cmp['diff']:+.3f} (95% CI {cmp['lo']:+.3f} to {cmp['hi']:+.3f}, p={cmp['p_value']:.2f}, n={cmp['n']})"
                   if cmp and cmp.get("lo") is not None else "not comparable on shared examples")
            out["reasons"].append(f"'{chosen}' and '{cid}' are quality-equivalent: {txt}; "
                                  f"a difference under {small:.2f} or not significant counts as small.")
        out["reasons"].append(f"Among them '{chosen}' ranks first on {', '.join(req.decision.priority)}: "
                              f"${_monthly(cm[chosen]):,.2f}/month, p95 {cm[chosen]['latency'].get('p95_ms') or 0:.0f} ms.")
        if prefer_open:
            out["reasons"].append("The requirements ask to limit lock-in, so open weights and standard APIs rank first among equivalents.")
    else:
        out["rule"] = "3: clearly better and affordable"
        out["reasons"].append(f"'{chosen}' has quality {_ci(q)} and is significantly better than every other survivor "
                              f"by at least {small:.2f}.")
        cheapest = min(survivors, key=lambda c: _monthly(cm[c]))
        extra = _monthly(cm[chosen]) - _monthly(cm[cheapest])
        if cheapest != chosen and extra > 0:
            out["extra_quality_monthly_usd"] = round(extra, 2)
            dq = (q["mean"] or 0) - (cm[cheapest]["quality"]["mean"] or 0)
            out["trade_offs"].append(f"The extra {dq * 100:.1f} points of quality over '{cheapest}' cost ${extra:,.2f} more per month.")
    # Fallback: the best survivor from another provider (rule 5).
    vendor = by[chosen].vendor if chosen in by else None
    others = [c for c in survivors if c != chosen and (c not in by or by[c].vendor != vendor)]
    if others:
        fb = sorted(others, key=lambda c: (-(cm[c]["quality"]["mean"] or 0), _monthly(cm[c])))[0]
        out["fallback"] = fb
        out["fallback_cost"] = {
            "quality_diff": round((cm[fb]["quality"]["mean"] or 0) - (q["mean"] or 0), 4),
            "p95_ms_diff": round((cm[fb]["latency"].get("p95_ms") or 0) - (cm[chosen]["latency"].get("p95_ms") or 0), 1),
            "monthly_usd_diff": round(_monthly(cm[fb]) - _monthly(cm[chosen]), 2),
        }
    else:
        out["trade_offs"].append("No survivor from another provider: there is no fallback if this provider fails.")
    for cid in survivors:
        if cid in at_risk and cid == chosen:
            out["trade_offs"].append(f"'{chosen}' is at risk: " + "; ".join(at_risk[cid]))
    ch = by.get(chosen)
    if ch is not None and not ch.fact("open_weights"):
        out["trade_offs"].append(f"'{chosen}' is a closed model: moving away means re-testing prompts and output formats on another provider.")
    out["review"] = review_plan(req, today)
    return out


def review_plan(req: Requirements, today: date) -> dict[str, Any]:
    triggers = [
        "a price change of any shortlisted model (catalog or genai-prices update)",
        "a new model from a shortlisted provider, or a new open-weight model in the catalog",
        "quality drift: the chosen model's score on this eval set falls below its interval",
        "volume: requests per month reach the self-hosting break-even",
        "provider incidents: error rate above the limit in production",
    ] + list(req.decision.triggers)
    return {"next_review_date": (today + timedelta(days=req.decision.review_every_days)).isoformat(),
            "every_days": req.decision.review_every_days, "triggers": triggers}


def self_hosting_break_even(cands: list[Candidate], metrics: dict[str, Any], chosen: str | None) -> dict[str, Any] | None:
    """Monthly volume at which the cheapest self-hosted candidate with a fixed cost beats the chosen API model."""
    if not chosen or chosen not in metrics["candidates"]:
        return None
    by = {c.id: c for c in cands}
    if by.get(chosen) is None or by[chosen].fact("self_hosted"):
        return None
    api_per = metrics["candidates"][chosen]["cost"]["per_request_usd"] or 0
    best = None
    for c in cands:
        if c.fact("self_hosted") and c.fixed_monthly_usd > 0 and c.id in metrics["candidates"]:
            per = metrics["candidates"][c.id]["cost"]["per_request_usd"] or 0
            if api_per > per:
                vol = c.fixed_monthly_usd / (api_per - per)
                if best is None or vol < best["monthly_requests"]:
                    best = {"candidate": c.id, "monthly_requests": int(vol), "fixed_monthly_usd": c.fixed_monthly_usd}
    return best
