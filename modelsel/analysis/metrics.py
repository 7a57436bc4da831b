"""Figures per candidate from the call columns, each with its interval and n; the one paired
comparison every stage uses. Pure: no I/O."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from modelsel.analysis import betting, consistency, stats
from modelsel.inputs.requirements import Requirements
from modelsel.run.calls import CallArrays
from modelsel.schema import (
    Comparison,
    CostFigures,
    Figures,
    Flips,
    GapFigures,
    LatencyBucket,
    LatencyFigures,
    PassK,
    QualityFigures,
    Quantile,
    Rate,
    Resolution,
    ToolUse,
)

MIN_WARM = 10  # cold calls are left out of the percentiles only when this many warm ones remain
FAILED_IDS_KEPT = 5


def _num(x: float | None, digits: int = 6) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def _usd(x: float | None) -> float | None:
    return _num(x, 12)  # a cheap model's request costs a few millionths of a dollar


def is_binary(values: np.ndarray | list[float]) -> bool:
    a = np.asarray(values, dtype=float)
    return bool(np.all((a == 0.0) | (a == 1.0)))


def _pass_rate(arr: CallArrays) -> tuple[float, float, float, int] | None:
    """(rate, lo, hi, n calls) of the scored calls. Calls that share an example (repeats) or a
    cluster are not independent: the clustered interval then, at the effective n."""
    scored = arr.passed >= 0
    pn = int(scored.sum())
    if not pn:
        return None
    passed = (arr.passed[scored] == 1).astype(float)
    cl = arr.cluster[scored]
    if len(set(cl.tolist())) < pn:
        rate, lo, hi = stats.clustered_proportion(passed, cl.tolist())
        if math.isnan(lo):
            lo, hi = 0.0, 1.0
        return rate, lo, hi, pn
    k = int(passed.sum())
    lo, hi = stats.clopper_pearson(k, pn)
    return k / pn, lo, hi, pn


@dataclass(frozen=True)
class Unasked:
    """An example of the eval set a candidate was never asked (the run's deadline, budget guard or a
    stop came first): its cluster and tags, so the interval can count it as not shown."""

    cluster: str
    tags: tuple[str, ...] = ()


def _interval(vals: np.ndarray, cl: list[str], conf: float) -> tuple[float, float, float, str]:
    """(mean, lo, hi, method) of per-example scores: exact for pass/fail, exact at the effective n
    when clustered, the interval for bounded scores for graded ones (betting.py: it holds whatever
    the spread, so ten identical scores are not a point), and for graded scores in clusters the same
    interval over the clusters (the CR2 t covered 82-86% with 4 to 8 clusters: benchmarks/corners3.py)."""
    n = len(vals)
    clustered = len(set(cl)) < n
    if is_binary(vals) and not clustered:
        k = int(vals.sum())
        lo, hi = stats.clopper_pearson(k, n, conf)
        return k / n, lo, hi, "exact"
    if is_binary(vals):
        mean, lo, hi = stats.clustered_proportion(vals, cl, conf)
        return mean, lo, hi, "exact_clustered"
    if clustered:
        mean, lo, hi = stats.cluster_betting(vals, cl, conf)
        return mean, lo, hi, "cluster_betting"
    mean, lo, hi = betting.interval(vals, conf)
    return mean, lo, hi, "bounded_betting"


def quality(arr: CallArrays, unasked: dict[str, Unasked] | None = None, conf: float = stats.CONF) -> QualityFigures:
    """Mean score over examples (repeats pooled) with the interval that fits the scores (see
    `_interval`). A request that ended in an error scores 0: its user got no answer. Examples the
    candidate was never asked (`unasked`) are counted as not shown: the interval's lower end takes
    them as failures, its upper end as passes, so it covers whatever they would have scored; the
    mean is over what was asked."""
    per = arr.per_example_scores()
    failed_mask = arr.error | (arr.passed == 0)
    failed_ids = list(dict.fromkeys(arr.example[failed_mask].tolist()))
    base = {"calls": len(arr), "failed": int(failed_mask.sum()), "failed_ids": sorted(failed_ids)[:FAILED_IDS_KEPT]}
    unasked = {k: v for k, v in (unasked or {}).items() if k not in per}
    if not per:
        return QualityFigures(**base, missing=len(unasked))
    ids = list(per)
    vals = np.array([per[i] for i in ids])
    n = len(vals)
    cluster_of = dict(zip(arr.example.tolist(), arr.cluster.tolist(), strict=True))
    cl = [cluster_of[i] for i in ids]
    clustered = len(set(cl)) < n
    one_graded = n == 1 and not is_binary(vals)  # one graded score: no interval, and the record says so
    mean, lo, hi, method = (float(vals[0]), math.nan, math.nan, "none") if one_graded else _interval(vals, cl, conf)
    if unasked:
        more = [u.cluster for u in unasked.values()]
        lo = _interval(np.concatenate([vals, np.zeros(len(more))]), cl + more, conf)[1]
        hi = _interval(np.concatenate([vals, np.ones(len(more))]), cl + more, conf)[2]
    if not math.isnan(lo):
        lo, hi = max(0.0, lo), min(1.0, hi)  # scores live in [0, 1]
    answered = arr.take(~arr.error).per_example_scores() if arr.error.any() else per
    pr = _pass_rate(arr)
    return QualityFigures(mean=_num(mean), lo=_num(lo), hi=_num(hi), n=n, method=method,
                          clusters=len(set(cl)) if clustered else None, missing=len(unasked),
                          answered_mean=_num(float(np.mean(list(answered.values())))) if answered else None,
                          answered_n=len(answered),
                          pass_rate=_num(pr[0]) if pr else None, pass_lo=_num(pr[1]) if pr else None,
                          pass_hi=_num(pr[2]) if pr else None, conf=conf if conf != stats.CONF else None, **base)


def _share(vals: list[float], cl: list[str], more: list[str], conf: float = stats.CONF
           ) -> tuple[float | None, float | None, float | None]:
    """(mean, lo, hi) of per-example values in [0, 1] by the interval that fits them (`_interval`);
    `more`: the clusters of examples not shown, counted as anything from 0 to 1."""
    if not vals:
        return None, (0.0 if more else None), (1.0 if more else None)
    v = np.asarray(vals, dtype=float)
    mean, lo, hi, _ = _interval(v, cl, conf)
    if more:
        lo = _interval(np.concatenate([v, np.zeros(len(more))]), cl + more, conf)[1]
        hi = _interval(np.concatenate([v, np.ones(len(more))]), cl + more, conf)[2]
    if math.isnan(lo):
        return _num(mean), None, None
    return _num(mean), _num(max(0.0, lo)), _num(min(1.0, hi))


def consistency_figures(arr: CallArrays, k: int, unasked: dict[str, Unasked] | None = None
                        ) -> tuple[PassK, PassK, Flips]:
    """Right on all k tries (pass^k), on at least one (pass@k), and the examples that flip, each as a
    share of examples with its interval over examples (clustered where they share a cluster: the k
    tries of one example are one unit, never k). Examples asked fewer than k times, and examples
    never asked, are counted as not shown: the interval's ends take them as 0 and as 1."""
    t = consistency.tally(arr)
    done = t.complete(k)
    cl = [t.cluster[i] for i in done]
    more = [t.cluster[i] for i in t.short(k)] + [u.cluster for e, u in (unasked or {}).items() if e not in t.ids]
    n, g = len(done), len(set(cl))
    clusters = g if g < n else None

    def share(est) -> PassK:  # type: ignore[no-untyped-def]
        v, lo, hi = _share([est(t.tries[i], t.right[i], k) for i in done], cl, more)
        return PassK(value=v, lo=lo, hi=hi, n=n, k=k, clusters=clusters, missing=len(more))

    ids = t.flipped(k)
    fv, flo, fhi = _share([float(0 < t.right[i] < t.tries[i]) for i in done], cl, more)
    return (share(consistency.pass_all_estimate), share(consistency.pass_at_k_estimate),
            Flips(count=len(ids), n=n, k=k, value=fv, lo=flo, hi=fhi, ids=ids))


def _quantile(x: np.ndarray, q: float, clusters: list[str] | None = None) -> Quantile:
    c = stats.quantile_ci(x, q, clusters)
    return Quantile(value=_num(c.value, 4), lo=_num(c.lo, 4), hi=_num(c.hi, 4), n=c.n)


def judged_rows(arr: CallArrays) -> tuple[CallArrays, str]:
    """The calls the judged latency rests on, and where they come from: a quiet or load pass when
    one ran (its calls alone: the quality pass ran on a busy machine or at another load), else the
    quality pass with any extra latency-only calls."""
    passed = (arr.lpass == "quiet") | (arr.lpass == "load")
    if passed.any():
        return arr.take(passed), ("load pass" if (arr.lpass == "load").any() else "quiet pass")
    if (arr.lpass == "extra").any():
        return arr, "quality pass + extra calls"
    return arr, "quality pass"


def latency_sample(arr: CallArrays) -> tuple[np.ndarray, np.ndarray, int]:
    """(latencies, ttfts, cold calls left out) of the calls the percentiles are taken from.
    Calls that started before their endpoint had answered once carry the SDK's cold start and
    new connections that a running service does not pay; they are left out when at least
    MIN_WARM warm calls remain."""
    return _sample(judged_rows(arr)[0])


def _use(arr: CallArrays) -> tuple[np.ndarray, np.ndarray]:
    ok = ~arr.error & ~np.isnan(arr.latency_ms)
    warm = ok & ~arr.cold
    return (warm if int(warm.sum()) >= MIN_WARM else ok), ok


def _sample(arr: CallArrays) -> tuple[np.ndarray, np.ndarray, int]:
    use, ok = _use(arr)
    ttft = arr.ttft_ms[use]
    return arr.latency_ms[use], ttft[~np.isnan(ttft)], int(ok.sum() - use.sum())


def _inputs(arr: CallArrays) -> tuple[list[str] | None, list[str] | None]:
    """The input each judged call (and each call with a time to first token) asked, when inputs were
    asked more than once (repeats, latency-only calls): their calls are a cluster, not independent
    draws of the latency. None when every call asked its own input."""
    use, _ = _use(arr)
    ids = arr.example[use].tolist()
    if len(set(ids)) == len(ids):
        return None, None
    has_ttft = ~np.isnan(arr.ttft_ms[use])
    return ids, [e for e, t in zip(ids, has_ttft.tolist(), strict=True) if t]


BUCKETS = ((1_000, "< 1k tokens"), (10_000, "1k-10k tokens"), (100_000, "10k-100k tokens"), (math.inf, ">= 100k tokens"))


def _tokens_per_s(arr: CallArrays, mask: np.ndarray) -> float | None:
    ok = mask & ~arr.error & ~np.isnan(arr.latency_ms) & ~np.isnan(arr.ttft_ms) & (arr.output_tokens > 0)
    gen_s = (arr.latency_ms[ok] - arr.ttft_ms[ok]) / 1000
    good = gen_s > 0
    return _num(float(np.median(arr.output_tokens[ok][good] / gen_s[good]))) if good.any() else None


def by_input(rows: CallArrays) -> dict[str, LatencyBucket]:
    """p50/p95, TTFT and output speed per input-size bucket of the judged calls, when they span two
    or more: providers slow down with long prompts, and a p95 over a mix hides which requests are slow."""
    ok = ~rows.error & ~np.isnan(rows.latency_ms) & ~rows.cold
    edges = [0] + [e for e, _ in BUCKETS]
    out: dict[str, LatencyBucket] = {}
    for (lo, (hi, label)) in zip(edges, BUCKETS, strict=False):
        m = ok & (rows.input_tokens >= lo) & (rows.input_tokens < hi)
        if m.any():
            ttft = rows.ttft_ms[m]
            ttft = ttft[~np.isnan(ttft)]
            out[label] = LatencyBucket(n=int(m.sum()), p50=_quantile(rows.latency_ms[m], 50),
                                       p95=_quantile(rows.latency_ms[m], 95),
                                       ttft_p50=_quantile(ttft, 50) if len(ttft) else None,
                                       output_tokens_per_s=_tokens_per_s(rows, m))
    return out if len(out) > 1 else {}


def latency(arr: CallArrays) -> LatencyFigures:
    """Percentiles of what each answered request waited, from its first attempt to its answer
    (failed attempts and back-off included), with the successful attempt alone beside them; from
    the calls `judged_rows` names."""
    rows, source = judged_rows(arr)
    lat, ttft, cold = _sample(rows)
    cl, cl_ttft = _inputs(rows)
    out = LatencyFigures(n=len(lat), cold_excluded=cold, p50=_quantile(lat, 50, cl), p95=_quantile(lat, 95, cl),
                         p99=_quantile(lat, 99, cl), mean_ms=_num(float(lat.mean())) if len(lat) else None,
                         source=source, extra_calls=int((arr.lpass == "extra").sum()), by_input=by_input(rows))
    if len(ttft):
        out.ttft_p50, out.ttft_p95 = _quantile(ttft, 50, cl_ttft), _quantile(ttft, 95, cl_ttft)
    retried = ~rows.error & (rows.attempts > 1)
    if retried.any():
        ok = ~rows.error & ~np.isnan(rows.attempt_ms)
        warm = ok & ~rows.cold
        att = rows.attempt_ms[warm if int(warm.sum()) >= MIN_WARM else ok]
        out.attempt_p50, out.attempt_p95 = _quantile(att, 50), _quantile(att, 95)
    out.output_tokens_per_s = _tokens_per_s(rows, np.ones(len(rows), dtype=bool))
    return out


def monthly(per_request: float, req: Requirements, fixed: float = 0.0) -> float:
    """Cost of the first month at the projected volume: the one formula every stage uses."""
    c = req.cost
    return stats.monthly_projection(per_request, c.monthly_requests or 0, c.monthly_growth_pct, c.horizon_months,
                                    fixed)["first_month_usd"]


def quality_rows(arr: CallArrays) -> CallArrays:
    """The calls quality rests on: a batched candidate's live latency-sample calls are left out
    (its quality comes from the batch, once per example and repeat)."""
    return arr.take(~arr.sample) if arr.sample.any() else arr


def _per_example(example: np.ndarray, costs: np.ndarray, out_part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each example's mean cost (and mean output part) when it was asked more than once: the repeats
    of one example share its length (a long answer is long every try), so they are one draw, not k
    (the interval over calls covered 72% with 3 repeats: benchmarks/cost_tail.py)."""
    ids = example.tolist()
    if len(set(ids)) == len(ids):
        return costs, out_part
    idx = {e: i for i, e in enumerate(dict.fromkeys(ids))}
    inv = np.array([idx[e] for e in ids])
    n = np.bincount(inv).astype(float)
    return np.bincount(inv, weights=costs) / n, np.bincount(inv, weights=out_part) / n


def _cost_cap(arr: CallArrays, costs: np.ndarray, max_output_tokens: int | None) -> float | None:
    """The most one call can cost: its input part as the dearest call's, plus max_tokens at the dearest
    output rate any call paid (tiers and repricing included). None without max_tokens or output prices."""
    out, toks = arr.cost_output_usd, arr.output_tokens
    has = ~np.isnan(out) & (toks > 0)
    if not max_output_tokens or not has.any():
        return None
    rate = float(np.max(out[has] / toks[has]))
    rest = costs - np.where(np.isnan(out), 0.0, out)
    cap = float(rest.max()) + rate * max_output_tokens
    return cap if cap > float(costs.max()) else None


def cost(arr: CallArrays, req: Requirements, fixed_monthly: float, max_output_tokens: int | None = None) -> CostFigures:
    """Cost per request and per month at the price production will pay: the standard (live)
    price, or the batch price when the requirements say production itself runs in batch (each
    call repriced for production by analysis/projection.py before this reads it). What this run
    was billed (batch lines at the batch rate) is the run's own spend, reported apart. A fixed
    monthly cost counts in the cost per request too (fixed / monthly requests). From the quality
    calls only: a load pass's 300 latency-only calls once made a 50-example mean look like n=350
    and passed a month 10% over budget surely in 24-28% of runs (benchmarks/cost_tail.py). With
    `max_output_tokens` (the request's max_tokens) a call's cost is bounded, and the interval is the
    union with the betting interval for bounded means: a tail the sample never drew (3% of answers near
    8,000 tokens: none in 22% of 50-example runs) is still inside it."""
    arr = quality_rows(arr)  # a load pass's latency-only calls cycle the eval set: never cost draws of their own
    ok = ~arr.error
    prod = arr.cost_batch_usd if req.cost.processing == "batch" else arr.cost_live_usd
    costs = prod[ok]
    out = CostFigures(fixed_monthly_usd=fixed_monthly)
    if not len(costs):
        return out
    units, out_part = _per_example(arr.example[ok], costs, arr.cost_output_usd[ok])
    if len(units) > 1:
        per, lo, hi, method = stats.cost_mean_ci(units, out_part)
        cap = _cost_cap(arr.take(ok), costs, max_output_tokens)
        if cap is not None:
            _, blo, bhi = betting.interval(units, lo=0.0, hi=cap)
            lo, hi, method = min(lo, blo) if not math.isnan(lo) else blo, max(hi, bhi) if not math.isnan(hi) else bhi, \
                method + "+capped_betting"
    else:
        per, lo, hi, method = float(units.mean()), math.nan, math.nan, "none"
    out.n = len(units)
    out.interval_method = method
    if math.isnan(lo):  # one answered call: no interval, and the limits say so ("n too small")
        lo = hi = math.nan
    lo = max(0.0, lo) if not math.isnan(lo) else lo
    c = req.cost
    share = fixed_monthly / c.monthly_requests if fixed_monthly and c.monthly_requests else 0.0
    out.api_per_request_usd = _usd(per)
    out.fixed_per_request_usd = _usd(share) if share else None
    out.per_request_usd, out.per_request_lo, out.per_request_hi = _usd(per + share), _usd(lo + share), _usd(hi + share)
    out.p95_per_request_usd = _usd(float(np.percentile(costs, 95)) + share)
    for unit in ("images", "pages"):
        n_units = getattr(arr, unit)[ok]
        has = n_units > 0
        if has.any():
            each = costs[has] / n_units[has]
            v, ulo, uhi = stats.mean_ci(each) if len(each) > 1 else (float(each[0]), math.nan, math.nan)
            name = unit[:-1]
            setattr(out, f"per_{name}_usd", _usd(v))
            setattr(out, f"per_{name}_lo", _usd(max(0.0, ulo)) if not math.isnan(ulo) else None)
            setattr(out, f"per_{name}_hi", _usd(uhi) if not math.isnan(uhi) else None)
            setattr(out, f"per_{name}_n", int(has.sum()))
    out.input_tokens_mean = _num(float(arr.input_tokens[ok].mean()))
    out.output_tokens_mean = _num(float(arr.output_tokens[ok].mean()))
    reasoning = arr.reasoning_tokens[ok]
    if (reasoning > 0).any():
        out.reasoning_tokens_mean = _num(float(np.maximum(reasoning, 0).mean()))
    if c.monthly_requests is not None:
        proj = stats.monthly_projection(per, c.monthly_requests, c.monthly_growth_pct, c.horizon_months, fixed_monthly)
        out.monthly_usd = _usd(proj["first_month_usd"])
        if not math.isnan(lo):
            out.monthly_lo, out.monthly_hi = _usd(monthly(lo, req, fixed_monthly)), _usd(monthly(hi, req, fixed_monthly))
        out.monthly_usd_at_horizon = _usd(proj["last_month_usd"])
        out.horizon_total_usd = _usd(proj["horizon_total_usd"])
        out.horizon_months = c.horizon_months
    return out


def retried(arr: CallArrays) -> tuple[int, dict[str, int]]:
    """Requests that needed more than one attempt, and how many met each kind of failure."""
    mask = arr.attempts > 1
    kinds: Counter[str] = Counter()
    for ks in arr.retry_kinds[mask].tolist():
        kinds.update(k for k in ks.split(",") if k)
    return int(mask.sum()), dict(sorted(kinds.items()))


def figures(arr: CallArrays, req: Requirements, fixed_monthly: float = 0.0,
            unasked: dict[str, Unasked] | None = None, k: int = 1, max_output_tokens: int | None = None) -> Figures:
    """One candidate's figures; `unasked`: the eval set's examples it was never asked; `k`: the
    run's independent tries per example (from 2, right on all k, on at least one, and the flips)."""
    n_calls = len(arr)
    errors = int(arr.error.sum())
    elo, ehi = stats.clopper_pearson(errors, n_calls)
    unasked = unasked or {}
    tags = sorted({t for ts in arr.tags for t in ts} | {t for u in unasked.values() for t in u.tags})
    n_retried, retry_kinds = retried(arr)
    q = quality_rows(arr)
    qf = quality(q, unasked)
    if k >= 2:
        qf.pass_all, qf.pass_at_k, qf.flips = consistency_figures(q, k, unasked)

    def of_tag(t: str, conf: float = stats.CONF) -> QualityFigures:
        return quality(q.with_tag(t), {k: u for k, u in unasked.items() if t in u.tags}, conf)

    return with_failure_cost(Figures(
        retried_requests=n_retried, retry_kinds=retry_kinds,
        n=len(set(arr.example.tolist())), n_calls=n_calls, errors=errors,
        error_rate=Rate(value=_num(errors / n_calls) if n_calls else None, lo=_num(elo) if n_calls else None,
                        hi=_num(ehi) if n_calls else None, n=n_calls),
        answered=n_calls - errors,
        error_kinds=dict(sorted(Counter(arr.error_kind[arr.error].tolist()).items())),
        retries=int(np.maximum(arr.attempts - 1, 0).sum()), cached=int(arr.cached.sum()),
        truncated=int(arr.truncated.sum()),
        replayed=int(arr.replayed.sum()), quality=qf,
        by_tag={t: of_tag(t) for t in tags}, gaps={g.key: gap(g.groups(tags), of_tag) for g in req.quality.max_gap},
        latency=latency(arr),
        cost=cost(arr, req, fixed_monthly, max_output_tokens), judge_cost_usd=_usd(float(arr.judge_cost_usd.sum())) or 0.0,
        tool_use=tool_use(q),
    ), req)


def tool_use(q: CallArrays) -> ToolUse | None:
    """The right tool with the right arguments, of the calls that should call one; a call made, of
    those that should not; each with its exact 95% interval and n (None without tool-call examples)."""
    if not (q.tool_expect != "").any():
        return None

    def rate(k: int, n: int) -> Rate:
        if not n:
            return Rate()
        lo, hi = stats.clopper_pearson(k, n)
        return Rate(value=_num(k / n), lo=_num(lo), hi=_num(hi), n=n)

    asked, none = q.tool_expect == "call", q.tool_expect == "none"
    return ToolUse(right=rate(int((q.tool_verdict[asked] == "right").sum()), int(asked.sum())),
                   unexpected=rate(int((q.tool_verdict[none] == "unexpected_call").sum()), int(none.sum())),
                   verdicts=dict(sorted(Counter(v for v in q.tool_verdict.tolist() if v).items())))


def gap(groups: list[str], of_tag) -> GapFigures:  # type: ignore[no-untyped-def]
    """The largest quality gap between groups (tags) and a 95% interval that holds for every pair
    at once. Each pair's difference gets its own interval by MOVER (Zou and Donner 2008: the two
    groups' intervals recovered into one for their difference, which keeps each group's method,
    exact or clustered), every pair at 1 - 0.05/m for the m pairs (Bonferroni), so all hold
    together with 95%. The largest gap is then at least the largest pair's lower end and at most
    the largest upper end. The sum of the groups' own intervals (the earlier rule) is about 1.4x
    wider: 29/28/18 of 30 gave a lower end of 0 for a 37-point gap; by pair it is 10 points."""
    k = max(1, len(groups))
    m = max(1, k * (k - 1) // 2)
    figs = {t: of_tag(t, 1 - (1 - stats.CONF) / m) for t in groups}
    scored = {t: f for t, f in figs.items() if f.mean is not None}
    out = GapFigures(groups=groups, by_group=figs, missing=sorted(set(groups) - set(scored)))
    if len(scored) < 2:
        return out
    top = max(scored, key=lambda t: scored[t].mean or 0.0)
    low = min(scored, key=lambda t: scored[t].mean or 0.0)
    out.value, out.worst = _num((scored[top].mean or 0.0) - (scored[low].mean or 0.0)), [top, low]
    ends = [(f.mean, f.lo, f.hi) for f in scored.values()]
    if all(lo is not None and hi is not None for _, lo, hi in ends):
        pairs = [stats.mover_difference(a, b) for i, a in enumerate(ends) for j, b in enumerate(ends) if i != j]
        out.hi = _num(max(hi for _, hi in pairs))
        out.lo = _num(max(0.0, max(lo for lo, _ in pairs)))
    out.partial = any(f.missing for f in scored.values())
    return out


def with_failure_cost(f: Figures, req: Requirements) -> Figures:
    """What failed answers cost a month at the projected volume: the failure rate (1 - pass rate,
    an error counting as a failure) with its interval, times the volume, times what one failure
    costs; and the total with the API bill and hosting. The total's interval adds the two
    intervals' ends (conservative: each is a 95% interval of its own)."""
    c, per_fail, q = req.cost, req.cost.per_failure_usd, f.quality
    if per_fail is None or c.monthly_requests is None or q.pass_rate is None:
        return f
    vol = c.monthly_requests
    rate, rlo, rhi = 1 - q.pass_rate, 1 - (q.pass_hi if q.pass_hi is not None else q.pass_rate), \
        1 - (q.pass_lo if q.pass_lo is not None else q.pass_rate)
    api = f.cost.monthly_usd if f.cost.monthly_usd is not None else f.cost.fixed_monthly_usd
    api_lo = f.cost.monthly_lo if f.cost.monthly_lo is not None else api
    api_hi = f.cost.monthly_hi if f.cost.monthly_hi is not None else api
    f.cost.failures_monthly = _num(rate * vol)
    f.cost.failures_monthly_lo, f.cost.failures_monthly_hi = _num(rlo * vol), _num(rhi * vol)
    f.cost.failure_cost_monthly_usd = _usd(rate * vol * per_fail)
    f.cost.total_monthly_usd = _usd(api + rate * vol * per_fail)
    f.cost.total_monthly_lo = _usd(api_lo + rlo * vol * per_fail)
    f.cost.total_monthly_hi = _usd(api_hi + rhi * vol * per_fail)
    return f


def compare(per_a: dict[str, float], per_b: dict[str, float], a: str, b: str,
            cluster_of: dict[str, str] | None = None, margin: float | None = None) -> Comparison | None:
    """a - b on the examples both were asked: Tango's score interval and test for pass/fail
    scores, the paired t interval and test for graded ones, the cluster-robust t when examples
    share clusters (n is then the clusters). Interval and p-value come from the same test, so
    'significant' means both the interval excludes 0 and p < 0.05."""
    common = sorted(set(per_a) & set(per_b))
    if len(common) < 2:
        return None
    xa = np.array([per_a[i] for i in common])
    xb = np.array([per_b[i] for i in common])
    cl = [cluster_of.get(i, i) for i in common] if cluster_of else None
    if cl is not None and len(set(cl)) == len(cl):
        cl = None
    r = stats.paired_difference(xa, xb, binary=is_binary(np.concatenate([xa, xb])), clusters=cl, margin=margin)
    sig = r.lo is not None and r.hi is not None and (r.lo > 0 or r.hi < 0)
    return Comparison(a=a, b=b, n=r.n, diff=round(r.diff, 6), lo=_num(r.lo), hi=_num(r.hi),
                      p_value=round(r.p_value, 6), test=r.test, significant=sig,
                      sd_diff=_num(r.sd_diff), discordant=r.discordant, a_only=r.a_only, b_only=r.b_only,
                      clusters=r.clusters, n_eff=_num(r.n_eff, 2), se=_num(r.se), df=_num(r.df, 3), margin=margin,
                      p_b_noninferior=_num(r.p_b_noninferior), p_a_noninferior=_num(r.p_a_noninferior))


def flip(c: Comparison) -> Comparison:
    """The same comparison seen from the other side (b - a)."""
    return c.model_copy(update={"a": c.b, "b": c.a, "diff": -c.diff, "lo": None if c.hi is None else -c.hi,
                                "hi": None if c.lo is None else -c.lo, "a_only": c.b_only, "b_only": c.a_only,
                                "p_a_noninferior": c.p_b_noninferior, "p_b_noninferior": c.p_a_noninferior})


def find(comps: list[Comparison], a: str, b: str) -> Comparison | None:
    for c in comps:
        if c.a == a and c.b == b:
            return c
        if c.a == b and c.b == a:
            return flip(c)
    return None


def clusters_of(arr: CallArrays) -> dict[str, str]:
    """Each example's cluster (its own id when it has none)."""
    return dict(zip(arr.example.tolist(), arr.cluster.tolist(), strict=True))


def compare_all(arr: CallArrays, margin: float | None = None, pass_all_k: int | None = None) -> list[Comparison]:
    """Every pair of candidates on the examples both were asked, Holm-adjusted over the whole
    table: one family, so every verdict drawn from it keeps a family-wise error of 5%. With a
    `margin` (small_difference under the non-inferiority policy), each pair's non-inferiority
    p-values by the same test. `pass_all_k`: compare right-on-all-k-tries per example (the choice
    rests on quality.min_pass_all) instead of the mean score over tries."""
    per = {c: (consistency.per_example_pass_all(arr.of(c), pass_all_k) if pass_all_k else arr.of(c).per_example_scores())
           for c in arr.candidates()}
    cl = clusters_of(arr)
    out = []
    for a, b in itertools.combinations(per, 2):
        c = compare(per[a], per[b], a, b, cl, margin)
        if c is not None:
            out.append(c)
    for c, p in zip(out, stats.holm([c.p_value for c in out]), strict=True):
        c.p_holm = round(p, 6)
    return out


def resolution(n: int, comps: list[Comparison], small: float | None = None, family: int | None = None) -> Resolution:
    """What this eval set can and cannot tell apart, for the test and the family actually used: the
    pair is tested at 0.05 / m at Holm's strictest step over the m comparisons in the table (so the
    power stated holds at least); where examples share clusters (or a pair's differences cluster),
    the design effect shrinks n and the t quantiles take the Bell-McCaffrey degrees of freedom; and
    where the cluster sign-flip test cannot reach 0.05 / m at all (2 / 2^g with g clusters), no
    difference can be shown, whatever its size, and the clusters that would do are named."""
    m = family if family is not None else max(1, len(comps))
    alpha = 0.05 / max(1, m)
    sds = [c.sd_diff for c in comps if c.sd_diff]
    sd = float(np.median(sds)) if sds else 0.5
    clustered = [c for c in comps if c.clusters is not None and c.se]
    src = "observed median over candidate pairs" if sds else "assumed 0.5 (no pairs to observe)"
    base = {"n_examples": n, "sd_of_paired_differences": round(sd, 4), "sd_source": src, "small_difference": small,
            "family": m, "alpha_per_pair": round(alpha, 6)}
    if not n:
        return Resolution(**base)
    if clustered:
        g = int(np.median([c.clusters for c in clustered]))
        deff = float(np.median([c.n / c.n_eff for c in clustered if c.n_eff])) if any(c.n_eff for c in clustered) else 1.0
        df = float(np.median([c.df for c in clustered if c.df])) if any(c.df for c in clustered) else max(1.0, g - 1.0)
        need = stats.n_to_detect(small, sd, alpha=alpha) if small else None
        out = Resolution(**base, clusters=g, n_effective=round(n / deff, 1), design_effect=round(deff, 3),
                         resolvable_difference=_num(stats.t_ppf(1 - alpha / 2, df) * sd * math.sqrt(deff / n)),
                         minimum_detectable_difference_80pct_power=_num(
                             stats.minimum_detectable_difference(n, sd, 0.8, alpha, df, deff)),
                         n_to_detect_small_difference=math.ceil(need * deff) if need else None,
                         test="cluster_signflip")
        if any(c.test == "cluster_signflip" for c in clustered) and stats.smallest_signflip_p(g) >= alpha:
            out.can_show = False
            out.clusters_needed = stats.clusters_to_show(alpha)
        return out
    return Resolution(
        **base, n_effective=float(n), test=comps[0].test if comps else None,
        resolvable_difference=_num(stats.t_ppf(1 - alpha / 2, n - 1) * sd / math.sqrt(n)) if n > 1 else None,
        minimum_detectable_difference_80pct_power=_num(stats.minimum_detectable_difference(n, sd, 0.8, alpha)),
        n_to_detect_small_difference=stats.n_to_detect(small, sd, alpha=alpha) if small else None)


def planned_resolution(n: int, clusters: int, small: float | None, family: int = 1) -> Resolution:
    """What an eval set of n examples in `clusters` clusters can resolve, before any answer: the
    same formula as the record's, with the paired SD at its pass/fail maximum (0.5) and, where
    examples cluster, the worst case in which a cluster's answers move together (n_eff = clusters)."""
    src = ("assumed 0.5 before any answer (the most a pass/fail difference can vary); the record uses the SD it "
           "observes")
    if clusters and clusters < n:
        c = Comparison(a="a", b="b", n=n, diff=0.0, test="cluster_signflip", sd_diff=0.5, clusters=clusters,
                       n_eff=float(clusters), se=0.5 / math.sqrt(clusters), df=float(max(1, clusters - 1)))
        r = resolution(n, [c], small, family)
    else:
        r = resolution(n, [], small, family)
    r.sd_source = src
    return r


def tries(arr: CallArrays) -> int:
    """The run's independent tries per example (K): the most any quality call shows."""
    q = quality_rows(arr)
    return int(q.repeat.max()) + 1 if len(q) else 1


def rests_on_pass_all(req: Requirements, k: int) -> bool:
    """The choice rests on consistency: quality.min_pass_all is set and the run made K >= 2 tries."""
    return req.quality.min_pass_all is not None and k >= 2


def compute(arr: CallArrays, req: Requirements, fixed_monthly: dict[str, float] | None = None,
            examples: dict[str, Unasked] | None = None, k: int | None = None,
            max_output_tokens: dict[str, int] | None = None
            ) -> tuple[dict[str, Figures], list[Comparison], Resolution]:
    """Every candidate's figures, the paired comparisons and what the data can resolve. `examples`:
    the whole eval set (id -> cluster and tags), so a candidate a deadline, the budget guard or a
    stop cut short has its unasked examples counted as not shown. `k`: the run's tries per example
    (default: what the calls show). When the requirements set quality.min_pass_all, survivors are
    compared, and the resolvable difference computed, on right-on-all-k per example.
    `max_output_tokens`: each candidate's max_tokens, which bounds a call's cost (see `cost`)."""
    fixed_monthly = fixed_monthly or {}
    caps = max_output_tokens or {}
    examples = examples or {}
    k = k or tries(arr)
    figs = {}
    for c in arr.candidates():
        a = arr.of(c)
        asked = set(a.example.tolist())
        figs[c] = figures(a, req, fixed_monthly.get(c, 0.0), {e: u for e, u in examples.items() if e not in asked}, k,
                          caps.get(c))
    margin = req.decision.small_difference if req.decision.equivalence == "non_inferior" else None
    on_all = rests_on_pass_all(req, k)
    comps = compare_all(quality_rows(arr), margin, k if on_all else None)
    n = len(set(arr.example.tolist()))
    res = resolution(n, comps, req.decision.small_difference)
    if on_all:
        res.on = f"right on all {k} tries"
    return figs, comps, res
