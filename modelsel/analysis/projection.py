"""The month as production will be billed, not as the eval happened to run.

Each answered call is repriced for production: its shared prefix (the tokens the provider read
from or wrote to its prompt cache) read at production's hit rate and written otherwise, at
production's input lengths when they are stated, at the tier the candidate asks for, and each
month of the horizon at the prices in force then. The eval's own hit rate (set by its order, its
concurrency and its cache luck) never reaches the monthly figure; it is shown beside it.

Per call, the production cost is linear in the hit rate h: A + h * B, where A is the call with its
prefix written (a miss) and B what a read saves over a write. Fields the token counts do not carry
(audio, tool-use and image tokens priced from the API's own usage object) stay as billed.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from modelsel.catalog import prices
from modelsel.catalog.models import call_cost, tier_price_source, tier_text
from modelsel.inputs.candidate import Candidate
from modelsel.inputs.requirements import Requirements
from modelsel.run.calls import CallArrays

MONTH_S = 30 * 86400  # a 30-day month
HOURS_A_MONTH = 30 * 24
LENGTH_GRID = 40  # production input lengths priced per call: the midpoints of 40 equal shares
# How long a provider keeps a cached prefix after its last use. A read refreshes it.
LIFETIME_S = {"5m": 300.0, "1h": 3600.0}
LIFETIME_SOURCE = {
    "anthropic": "Anthropic keeps a cached prefix 5 minutes after its last use (1 hour with ttl: 1h)",
    "openai": "OpenAI keeps a cached prefix 5-10 minutes after its last use (5 taken)",
    "gemini": "Gemini's implicit cache lifetime is not documented (5 minutes assumed)",
}


@dataclass
class HitRate:
    value: float | None
    source: str  # stated | production traces | estimated | none
    text: str


@dataclass
class Projection:
    """One candidate's production costs: per call (month 1) and per month of the horizon."""

    candidate: str
    per_call: np.ndarray  # production cost of each answered call, month 1
    output_part: np.ndarray  # of it, the output tokens' cost (the skewed part)
    per_request_by_month: list[float] = field(default_factory=list)
    volume_by_month: list[float] = field(default_factory=list)
    fixed_by_month: list[float] = field(default_factory=list)
    hit: HitRate | None = None
    eval_hit_rate: float | None = None
    prefix_tokens: int = 0
    tier: str | None = None
    tier_price: str | None = None
    lengths: str | None = None  # where the input lengths came from
    long_share_production: float | None = None
    long_share_eval: float | None = None
    tier_start: int | None = None
    price_changes: list[str] = field(default_factory=list)
    instances: int | None = None
    instance_note: str | None = None


def poisson_hit_rate(monthly_requests: float, lifetime_s: float) -> float:
    """The share of requests that find the prefix still cached when requests arrive at random
    (a Poisson process) at the month's average rate: the previous request came within the cache's
    lifetime, P = 1 - exp(-rate * lifetime). Bursty traffic hits more, a quiet night less."""
    return 1.0 - math.exp(-monthly_requests / MONTH_S * lifetime_s)


def ttl_of(c: Candidate, w: np.ndarray, w1h: np.ndarray) -> str:
    if c.cache and c.cache.get("ttl") == "1h":
        return "1h"
    return "1h" if w.sum() and w1h.sum() * 2 >= w.sum() else "5m"


def hit_rate(c: Candidate, req: Requirements, ttl: str, volume: float | None) -> HitRate:
    """Production's hit rate: stated, measured in production's traces, or estimated (named)."""
    if req.cost.cache_hit_rate is not None:
        return HitRate(req.cost.cache_hit_rate, "stated", f"{req.cost.cache_hit_rate:.0%} (cost.cache_hit_rate)")
    prod = req.production
    measured = (prod.whole or {}).get("cache_hit_rate") if prod is not None else None
    if isinstance(measured, int | float) and 0 <= measured <= 1:
        return HitRate(float(measured), "production traces", f"{measured:.0%} (measured in production's traces)")
    if volume is None:
        return HitRate(None, "none", "no production hit rate: cost.monthly_requests, cost.cache_hit_rate or traces "
                                     "are needed; the eval's own hits are priced as they happened")
    life = LIFETIME_S[ttl]
    h = poisson_hit_rate(volume, life)
    src = LIFETIME_SOURCE.get(c.provider, f"a {ttl} cache lifetime assumed")
    if c.provider == "anthropic" and ttl == "1h":
        src = "Anthropic keeps a 1-hour cache entry an hour after its last use"
    return HitRate(h, "estimated", f"{h:.0%} estimated: {volume:,.0f} requests a month arriving at random (Poisson) "
                                   f"share one prefix; {src}")


def quantile_grid(points: dict[str, int], m: int = LENGTH_GRID) -> list[float]:
    """Input lengths at the midpoints of m equal shares of production, read off stated percentiles
    (linear between them, flat beyond the first and last)."""
    pts = sorted((float(k[1:]) / 100, float(v)) for k, v in points.items())
    qs, vs = [p for p, _ in pts], [v for _, v in pts]
    return [float(np.interp((j + 0.5) / m, qs, vs)) for j in range(m)]


def production_lengths(req: Requirements) -> tuple[list[float] | None, str | None]:
    if req.cost.input_tokens:
        return quantile_grid(req.cost.input_tokens), "cost.input_tokens"
    whole = req.production.whole if req.production is not None else {}
    pts = whole.get("input_tokens_percentiles")
    if isinstance(pts, dict) and pts:
        return quantile_grid({k: int(v) for k, v in pts.items()}), "the production: profile (import traces)"
    p50, p95 = whole.get("input_tokens_p50"), whole.get("input_tokens_p95")
    if isinstance(p50, int | float) and isinstance(p95, int | float):
        return quantile_grid({"p50": int(p50), "p95": int(p95)}), "the production: profile's p50 and p95 (import traces)"
    return None, None


def _prefix(read: np.ndarray, write: np.ndarray) -> int:
    """The shared prefix: the most common size read or written."""
    seen = Counter(int(x) for x in (read + write).tolist() if x > 0)
    return seen.most_common(1)[0][0] if seen else 0


@dataclass(frozen=True)
class Rates:
    """USD per token of each class, at one input length's tier: a bill is linear in the tokens of
    each class once the tier (set by the call's whole input) is known."""

    input: float
    read: float
    write_5m: float
    write_1h: float
    output: float


class Pricer:
    """One candidate's per-token rates by tier, from genai-prices (or the stated price) through
    `call_cost`: five probes per tier and date instead of a full price calculation per call."""

    def __init__(self, c: Candidate, processing: str) -> None:
        self.c, self.processing = c, processing
        self.starts = (prices.all_tier_starts(c.price_ref[0], c.price_ref[1]) if c.price_ref else [])
        self.memo: dict[tuple[int, datetime | None], Rates] = {}

    def rates(self, length: int, when: datetime | None) -> Rates:
        k = sum(1 for s in self.starts if length > s)
        if (k, when) not in self.memo:
            L = self.starts[k - 1] + 1 if k else (min(self.starts[0], 1000) if self.starts else 1000)
            c, pr = self.c, self.processing
            base = call_cost(c, L, 0, 0, 0, when, pr)
            self.memo[(k, when)] = Rates(
                input=base / L, read=call_cost(c, L, 0, L, 0, when, pr) / L,
                write_5m=call_cost(c, L, 0, 0, L, when, pr) / L,
                write_1h=call_cost(c, L, 0, 0, L, when, pr, cache_write_1h_tokens=L) / L,
                output=(call_cost(c, L, 1_000_000, 0, 0, when, pr) - base) / 1_000_000)
        return self.memo[(k, when)]

    def columns(self, lengths: np.ndarray, when: datetime | None) -> dict[str, np.ndarray]:
        rs = [self.rates(int(L), when) for L in lengths.tolist()]
        return {f: np.array([getattr(r, f) for r in rs]) for f in ("input", "read", "write_5m", "write_1h", "output")}

    def bill(self, tin: np.ndarray, out: np.ndarray, read: np.ndarray, write: np.ndarray, w1h: np.ndarray,
             when: datetime | None) -> np.ndarray:
        r = self.columns(tin, when)
        return (r["input"] * (tin - read - write) + r["read"] * read + r["write_5m"] * (write - w1h)
                + r["write_1h"] * w1h + r["output"] * out)


def _month_ab(pricer: Pricer, a: CallArrays, actual: np.ndarray, P: int, lengths: list[float] | None,
              w1h_share: float, when: datetime | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per call: A (the prefix written), B (what a read saves over a write: negative) and the
    output tokens' part, averaged over production's input lengths when they are stated."""
    tin = a.input_tokens.astype(float)
    out = a.output_tokens.astype(float)
    read, write, w1 = (a.cache_read.astype(float), a.cache_write.astype(float), a.cache_write_1h.astype(float))
    pref = np.where(read + write > 0, read + write, np.minimum(P, tin))
    # What the API's own usage object priced beyond the token counts (media, tool-use fields), as billed
    residue = actual - pricer.bill(tin, out, read, write, w1, None)
    grid = tin[:, None] if lengths is None else np.broadcast_to(np.array(lengths, dtype=float), (len(tin), len(lengths)))
    flat = np.rint(grid).ravel()
    r = pricer.columns(np.unique(flat), when)
    idx = np.searchsorted(np.unique(flat), flat).reshape(grid.shape)
    rate = {k: v[idx] for k, v in r.items()}
    p = np.minimum(pref[:, None], grid)
    write_rate = (1 - w1h_share) * rate["write_5m"] + w1h_share * rate["write_1h"]
    plain = rate["input"] * (grid - p) + rate["output"] * out[:, None]
    miss = plain + write_rate * p
    hit = plain + rate["read"] * p
    out_part = (rate["output"] * out[:, None]).mean(axis=1)
    return residue + miss.mean(axis=1), (hit - miss).mean(axis=1), out_part


def _instances(c: Candidate, a: CallArrays, req: Requirements, volume: float) -> tuple[int, float, str] | None:
    """Instances a self-hosted candidate needs for the volume (and the stated load), from one
    instance's throughput: stated, else what the run measured (calls in flight / mean latency)."""
    if c.instance_hour_usd is None:
        return None
    lat = a.latency_ms[~a.error & ~np.isnan(a.latency_ms)]
    if c.instance_requests_per_s:
        per, how = c.instance_requests_per_s, f"{c.instance_requests_per_s:g} requests/s an instance (stated)"
    elif len(lat):
        inflight = c.concurrency or 8
        per = inflight / (float(lat.mean()) / 1000)
        how = (f"{per:.2f} requests/s an instance, measured ({inflight} calls in flight / mean latency "
               f"{lat.mean():.0f} ms)")
    else:
        return None
    load = req.latency.load
    peak = max(volume / MONTH_S, load.rps if load is not None and load.rps else 0.0)
    n = max(1, math.ceil(peak / per))
    return n, n * c.instance_hour_usd * HOURS_A_MONTH, how


def project(c: Candidate, a: CallArrays, req: Requirements, today: datetime | None = None) -> Projection | None:
    """Production's cost of one candidate's answered calls, month by month over the horizon."""
    ok = ~a.error
    if not ok.any():
        return None
    a = a.take(ok)
    cost = req.cost
    processing = cost.processing
    actual = a.cost_batch_usd if processing == "batch" else a.cost_live_usd
    today = today or datetime.now(UTC)
    P = _prefix(a.cache_read, a.cache_write)
    ttl = ttl_of(c, a.cache_write, a.cache_write_1h)
    w1h_share = 1.0 if ttl == "1h" else 0.0
    lengths, lsrc = production_lengths(req)
    vol = cost.monthly_requests
    g = 1 + cost.monthly_growth_pct / 100
    months = cost.horizon_months
    vols = [float(vol) * g**k for k in range(months)] if vol is not None else [0.0] * months
    hit = hit_rate(c, req, ttl, vol) if P else None
    proj = Projection(candidate=c.id, per_call=actual.copy(), output_part=np.full(len(actual), np.nan),
                      hit=hit, prefix_tokens=P, tier=tier_text(c), tier_price=tier_price_source(c),
                      lengths=lsrc)
    if P:
        pref = np.where(a.cache_read + a.cache_write > 0, a.cache_read + a.cache_write,
                        np.minimum(P, a.input_tokens))
        proj.eval_hit_rate = float(a.cache_read.sum() / pref.sum()) if pref.sum() else None
    if c.price_ref is not None:
        starts = prices.input_tier_starts(c.price_ref[0], c.price_ref[1], today)
        if starts:
            proj.tier_start = starts[0]
            proj.long_share_eval = float((a.input_tokens > starts[0]).mean())
            if lengths is not None:
                proj.long_share_production = float(np.mean([L > starts[0] for L in lengths]))
    if not P and lengths is None and not _changes(c, today, months):
        proj.output_part = _month_ab(Pricer(c, processing), a, actual, 0, None, 0.0, None)[2]
        _months(proj, c, a, req, vols, [proj.per_call] * months)
        return proj
    segments = (prices.month_segments(c.price_ref[0], c.price_ref[1], today, months) if c.price_ref
                else [[(today, 1.0)] for _ in range(months)])
    by_date: dict[datetime, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    pricer = Pricer(c, processing)

    def ab(when: datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if when not in by_date:
            by_date[when] = _month_ab(pricer, a, actual, P, lengths, w1h_share, when)
        return by_date[when]

    per_month_calls = []
    for k in range(months):
        h = _h_at(hit, c, ttl, vols[k], proj.eval_hit_rate)
        per_month_calls.append(sum(share * (ab(w)[0] + h * ab(w)[1]) for w, share in segments[k]))
    proj.output_part = ab(today)[2]
    changed = [k for k, segs in enumerate(segments) if any(w != today for w, _ in segs)]
    if changed:
        first = changed[0]
        when = next(w for w, _ in segments[first] if w != today)
        proj.price_changes.append(
            f"the price in force changes on {when.date().isoformat()} (an introductory price ends, or a dated change "
            f"in the snapshot): months {first + 1}-{months} of the horizon are priced by the day at the prices in "
            "force then, not at today's")
    _months(proj, c, a, req, vols, per_month_calls)
    return proj


def _changes(c: Candidate, today: datetime, months: int) -> list[int]:
    return prices.price_changes(c.price_ref[0], c.price_ref[1], today, months) if c.price_ref else []


def _h_at(hit: HitRate | None, c: Candidate, ttl: str, volume: float, eval_rate: float | None) -> float:
    if hit is None:
        return 0.0  # no cached prefix: a read saves nothing
    if hit.value is None:
        return eval_rate if eval_rate is not None else 0.0  # nothing to go on but the eval's own hits
    if hit.source == "estimated":
        return poisson_hit_rate(volume, LIFETIME_S[ttl])  # more requests a month, warmer cache
    return hit.value


def _months(proj: Projection, c: Candidate, a: CallArrays, req: Requirements, vols: list[float],
            per_month_calls: list[np.ndarray]) -> None:
    proj.per_call = per_month_calls[0]
    proj.per_request_by_month = [float(x.mean()) for x in per_month_calls]
    proj.volume_by_month = vols
    fixed = []
    for v in vols:
        inst = _instances(c, a, req, v) if req.cost.monthly_requests is not None else None
        fixed.append(c.fixed_monthly_usd + (inst[1] if inst else 0.0))
        if inst and proj.instances is None:
            proj.instances = inst[0]
            proj.instance_note = (f"{inst[0]} instance{'s' if inst[0] > 1 else ''} at ${c.instance_hour_usd:g}/hour "
                                  f"all month for {v:,.0f} requests/month ({inst[2]})")
    proj.fixed_by_month = fixed


def project_all(arr: CallArrays, cands: list[Candidate], req: Requirements,
                today: datetime | None = None) -> dict[str, Projection]:
    out = {}
    for c in cands:
        mine = arr.of(c.id)
        if len(mine):
            p = project(c, mine, req, today)
            if p is not None:
                out[c.id] = p
    return out


def with_production_costs(arr: CallArrays, projections: dict[str, Projection], processing: str) -> CallArrays:
    """The calls with each answered call's production-price column replaced by its production cost
    (month 1) and its output part filled: what the figures, checks and strategies read."""
    live, batch, outp = arr.cost_live_usd.copy(), arr.cost_batch_usd.copy(), arr.cost_output_usd.copy()
    col = batch if processing == "batch" else live
    for cid, p in projections.items():
        idx = np.flatnonzero((arr.candidate == cid) & ~arr.error)
        col[idx] = p.per_call
        outp[idx] = p.output_part
    return replace(arr, cost_live_usd=live, cost_batch_usd=batch, cost_output_usd=outp)


def fixed_month_one(projections: dict[str, Projection], cands: list[Candidate]) -> dict[str, float]:
    return {c.id: (projections[c.id].fixed_by_month[0] if c.id in projections and projections[c.id].fixed_by_month
                   else c.fixed_monthly_usd) for c in cands}


def break_even(fixed: float, per_request: float, api_per_request: float) -> float | None:
    """Monthly requests above which a fixed-cost candidate is cheaper than one billed per request."""
    gap = api_per_request - per_request
    return None if gap <= 0 else fixed / gap


def summary_fields(p: Projection) -> dict[str, Any]:
    """What the record shows of a projection (CostFigures fields)."""
    return {
        "cache_hit_rate": None if p.hit is None else p.hit.value,
        "cache_hit_rate_source": None if p.hit is None else p.hit.source,
        "cache_hit_rate_text": None if p.hit is None else p.hit.text,
        "eval_cache_hit_rate": p.eval_hit_rate, "cache_prefix_tokens": p.prefix_tokens or None,
        "service_tier": p.tier, "service_tier_price": p.tier_price, "input_lengths_source": p.lengths, "long_context_from_tokens": p.tier_start,
        "long_context_share": p.long_share_production, "eval_long_context_share": p.long_share_eval,
        "price_changes": p.price_changes, "instances": p.instances, "instances_note": p.instance_note,
    }


def annotate(cost: Any, p: Projection, req: Requirements) -> None:
    """Fill a candidate's CostFigures with the projection: the month at production's hit rate, tier and
    lengths, each month of the horizon at its volume, hit rate, prices and instances."""
    for k, v in summary_fields(p).items():
        setattr(cost, k, v)
    if req.cost.monthly_requests is None or not p.per_request_by_month:
        return
    bills = [per * v + f for per, v, f in zip(p.per_request_by_month, p.volume_by_month, p.fixed_by_month, strict=True)]
    cost.monthly_usd_at_horizon = round(bills[-1], 12)
    cost.horizon_total_usd = round(sum(bills), 12)


def annotate_all(figs: dict[str, Any], projections: dict[str, Projection], cands: list[Candidate],
                 req: Requirements) -> None:
    """Every candidate's projection into its figures, and each fixed-cost candidate's break-even
    with every candidate billed per request."""
    for cid, p in projections.items():
        if cid in figs:
            annotate(figs[cid].cost, p, req)
    for c in cands:
        f = figs.get(c.id)
        if f is None or not f.cost.fixed_monthly_usd:
            continue
        own = f.cost.api_per_request_usd or 0.0
        for o in cands:
            of = figs.get(o.id)
            if o.id == c.id or of is None or of.cost.fixed_monthly_usd or of.cost.api_per_request_usd is None:
                continue
            v = break_even(f.cost.fixed_monthly_usd, own, of.cost.api_per_request_usd)
            if v is not None:
                f.cost.break_even[o.id] = round(v)
