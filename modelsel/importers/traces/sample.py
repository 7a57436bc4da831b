"""From every model call read to a sample that represents production: filters (--since, --until,
--where), repeats out, the calls named by --include taken whole, the rest drawn at random (seeded)
within strata of model x input length x route, in proportion to the traffic by default. The
profile of a set of calls (input lengths, models, routes, time span) is what the requirements
record of the whole and of the sample, and what `review --traces` compares a new export with."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelsel.errors import InputError
from modelsel.importers.traces.calls import ROUTE_KEYS, TracedCall, repeat_keys

LENGTHS = ((100, "<100"), (300, "100-300"), (1_000, "300-1k"), (3_000, "1k-3k"), (10_000, "3k-10k"),
           (30_000, "10k-30k"), (100_000, "30k-100k"), (math.inf, ">=100k"))
# A route that moved is one whose share of the traffic moved this much (total variation distance);
# an input length that moved, a median this many times larger or smaller. With thousands of calls any
# change is "significant"; these are the sizes worth a new decision.
MOVED_SHARE = 0.10
MOVED_MEDIAN = 1.25
MIN_CALLS = 30  # on each side, before shares are compared
MIN_CALLS_MEDIAN = 10  # before medians are


@dataclass
class Options:
    sample: int = 100
    seed: int = 0
    since: float | None = None
    until: float | None = None
    where: list[tuple[str, str]] = field(default_factory=list)
    include: list[str] = field(default_factory=list)
    allocation: str = "proportional"
    route: str | None = None


@dataclass
class Drawn:
    calls: list[TracedCall]  # the sample, included first
    included: int  # taken whole by --include
    traffic: list[TracedCall]  # every call the filters kept (repeats too): what the sample stands for
    exact_repeats: int
    near_repeats: int
    strata: dict[str, list[int]]  # stratum -> [calls in the traffic, drawn]
    route_key: str | None
    unique: int
    left_out: Counter[str] = field(default_factory=Counter)  # distinct calls the eval set cannot hold, by reason


def attributes_used(o: Options) -> set[str]:
    """The attributes a draw can read: the route candidates, the named route, the --where keys."""
    return set(ROUTE_KEYS) | ({o.route} if o.route else set()) | {k for k, _ in o.where}


def parse_time(text: str | None, option: str) -> float | None:
    """ISO 8601 date or time, UTC when it names no zone."""
    if text is None:
        return None

    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"'{text}' is not a date or time (ISO 8601, e.g. 2026-09-01 or 2026-09-01T12:00Z).",
                         field=option) from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def length_bucket(tokens: int) -> str:
    return next(label for edge, label in LENGTHS if tokens < edge)


def route_key(calls: list[TracedCall], named: str | None) -> str | None:
    """The attribute naming the route: --stratify-by, else the first usual one most calls carry with
    2 to 50 values."""
    if named:
        return named
    for k in ROUTE_KEYS:
        vals = [c.attrs[k] for c in calls if c.attrs.get(k)]
        if calls and len(vals) >= 0.5 * len(calls) and 2 <= len(set(vals)) <= 50:
            return k
    return None


def tag(call: TracedCall, route: str | None) -> None:
    call.tags = [f"model:{call.model or 'unknown'}", f"input:{length_bucket(call.tokens_in())}"]
    if route and call.attrs.get(route):
        call.tags.append(f"route:{call.attrs[route]}")
    if call.feedback:
        call.tags.append(f"feedback:{call.feedback}")


def filtered(calls: list[TracedCall], o: Options) -> list[TracedCall]:
    out = []
    for c in calls:
        if o.since is not None and (c.start is None or c.start < o.since):
            continue
        if o.until is not None and (c.start is None or c.start >= o.until):
            continue
        if any(_attr(c, k) != v for k, v in o.where):
            continue
        out.append(c)
    return out


def _attr(c: TracedCall, key: str) -> str | None:
    if key in ("model", "gen_ai.request.model"):
        return c.model
    return c.attrs.get(key)


def dedupe(calls: list[TracedCall]) -> tuple[list[TracedCall], int, int]:
    """(unique calls, exact repeats, near-exact repeats): the earliest of each kept; near-exact means
    the same words ignoring case, spacing and punctuation. A repeat users complained about hands its
    complaint to the call kept."""
    exact: dict[str, TracedCall] = {}
    near: dict[str, TracedCall] = {}
    unique: list[TracedCall] = []
    n_exact = n_near = 0
    for c in sorted(calls, key=lambda c: (c.start or 0, c.where)):
        k1, k2 = repeat_keys(c)
        kept = exact.get(k1) or near.get(k2)
        if kept is None:
            exact[k1] = near[k2] = c
            unique.append(c)
            continue
        if k1 in exact:
            n_exact += 1
        else:
            n_near += 1
        if c.feedback == "negative":
            kept.feedback = "negative"
    return unique, n_exact, n_near


def _allocate(sizes: dict[str, int], n: int, how: str, rng: random.Random) -> dict[str, int]:
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    if how == "equal":
        alloc = dict.fromkeys(sizes, 0)
        left = n
        while left:
            open_ = [s for s in sorted(sizes) if alloc[s] < sizes[s]]
            for s in open_[:left]:
                alloc[s] += 1
            left -= min(left, len(open_))
        return alloc
    quotas = {s: n * k / total for s, k in sizes.items()}
    alloc = {s: int(q) for s, q in quotas.items()}
    # Hamilton's largest remainders; ties in a seeded order
    order = sorted(sizes, key=lambda s: (-(quotas[s] - alloc[s]), rng.random()))
    for s in order[: n - sum(alloc.values())]:
        alloc[s] += 1
    return alloc


def draw(calls: list[TracedCall], o: Options, leave_out: Callable[[TracedCall], str | None] | None = None) -> Drawn:
    """The sample; `leave_out` names why a call cannot be an example (it still counts as traffic)."""
    kept = filtered(calls, o)
    unique, n_exact, n_near = dedupe(kept)
    route = route_key(calls, o.route)  # a property of the traces, whatever the filters keep
    for c in unique:
        tag(c, route)
    n_unique = len(unique)
    left_out: Counter[str] = Counter()
    if leave_out is not None:
        fit = []
        for c in unique:
            why = leave_out(c)
            if why:
                left_out[why] += 1
            else:
                fit.append(c)
        unique = fit
    rng = random.Random(o.seed)
    wanted = set(o.include)
    included = [c for c in unique if wanted & set(c.tags)]
    rest = [c for c in unique if not (wanted & set(c.tags))]
    strata: dict[str, list[TracedCall]] = defaultdict(list)
    for c in rest:
        strata[" / ".join(t for t in c.tags if not t.startswith("feedback:"))].append(c)
    alloc = _allocate({s: len(v) for s, v in strata.items()}, max(0, o.sample - len(included)), o.allocation, rng)
    picked: list[TracedCall] = []
    for s in sorted(strata):
        picked += rng.sample(strata[s], alloc[s])
    picked.sort(key=lambda c: (c.start or 0, c.where))
    return Drawn(calls=included + picked, included=len(included), traffic=kept,
                 exact_repeats=n_exact, near_repeats=n_near, route_key=route, unique=n_unique,
                 strata={s: [len(v), alloc[s]] for s, v in sorted(strata.items())}, left_out=left_out)


def _q(x: list[float], q: float) -> float | None:
    if not x:
        return None
    x = sorted(x)
    i = (len(x) - 1) * q
    lo = math.floor(i)
    return x[lo] + (x[min(lo + 1, len(x) - 1)] - x[lo]) * (i - lo)


def _shares(values: list[str]) -> dict[str, float]:
    n = len(values)
    return {k: round(v / n, 4) for k, v in Counter(values).most_common()} if n else {}


def day(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).date().isoformat() if t is not None else None


def lengths(tokens: list[int]) -> dict[str, Any]:
    """The input-length part of a profile: how many, p50 and p95 tokens, the share of each bucket."""
    toks = [float(t) for t in tokens]
    p50, p95 = _q(toks, 0.5), _q(toks, 0.95)
    return {"calls": len(toks), "input_tokens_p50": None if p50 is None else round(p50, 1),
            "input_tokens_p95": None if p95 is None else round(p95, 1),
            "input_lengths": _shares([length_bucket(int(t)) for t in toks])}


def profile(calls: list[TracedCall], route: str | None) -> dict[str, Any]:
    """What a set of calls looks like: size, input tokens (p50, p95), the share of each length bucket,
    model and route, the time span."""
    starts = [c.start for c in calls if c.start is not None]
    return {**lengths([c.tokens_in() for c in calls]),
            "models": _shares([c.model or "unknown" for c in calls]),
            "routes": _shares([c.attrs.get(route, "(none)") for c in calls]) if route else {},
            "from": day(min(starts)) if starts else None, "to": day(max(starts)) if starts else None}


def tvd(a: dict[str, float], b: dict[str, float]) -> float:
    """Total variation distance: the share of traffic that would have to move to turn one mix into the other."""
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


def comparable(before: dict[str, Any], now: dict[str, Any]) -> bool:
    """Enough calls on both sides to say whether the median moved."""
    return min(before.get("calls", 0), now.get("calls", 0)) >= MIN_CALLS_MEDIAN


def moved(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """How production's inputs moved between two profiles, in words; empty when they did not (or
    too few calls to tell: see `comparable`)."""
    if not comparable(before, now):
        return []
    out = []
    b50, n50 = before.get("input_tokens_p50"), now.get("input_tokens_p50")
    if b50 and n50 and max(n50 / b50, b50 / n50) >= MOVED_MEDIAN:
        out.append(f"the median input went from {b50:,.0f} to {n50:,.0f} tokens")
    if min(before.get("calls", 0), now.get("calls", 0)) < MIN_CALLS:
        return out  # shares of a few calls move by chance
    for key, what in (("input_lengths", "input lengths"), ("models", "models"), ("routes", "routes")):
        d = tvd(before.get(key) or {}, now.get(key) or {})
        if d >= MOVED_SHARE and (before.get(key) or now.get(key)):
            grew = max(set(before.get(key) or {}) | set(now.get(key) or {}),
                       key=lambda k: (now.get(key) or {}).get(k, 0) - (before.get(key) or {}).get(k, 0))
            out.append(f"{d:.0%} of the traffic moved between {what} ('{grew}' now "
                       f"{(now.get(key) or {}).get(grew, 0):.0%}, was {(before.get(key) or {}).get(grew, 0):.0%})")
    return out
