"""Prices from the genai-prices package's bundled snapshot: what a call costs as the provider
bills it (the call's own tokens, so tiers and cached-input rates apply), the base-tier figures
a catalog shows, and the snapshot's own date. Nothing is fetched.

genai-prices takes a quarter of a second to import, so this module imports it only when a
catalog model is priced or listed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

STALE_DAYS = 60


@dataclass(frozen=True)
class BasePrice:
    input_per_mtok: float | None
    output_per_mtok: float | None
    cached_input_per_mtok: float | None
    tiered: bool
    tier_note: str | None


@dataclass(frozen=True)
class SnapshotInfo:
    version: str
    as_of: str | None
    source: str
    known: bool = True  # False: this version is not in catalog.yaml's table, its date is a guess

    def warning(self) -> str | None:
        """What a user must be told when the installed snapshot is not one this release knows."""
        if self.known:
            return None
        return (f"genai-prices {self.version} is not a snapshot this release of modelsel was checked "
                f"against: prices and the catalog may differ from the record's, and its date is unknown "
                f"(its data names nothing newer than {self.as_of or 'no date'}). Install modelsel's "
                "pinned genai-prices, or run `make update-lock` to record this snapshot's date.")

    def age_days(self, today: date) -> int | None:
        return None if self.as_of is None else (today - date.fromisoformat(self.as_of)).days

    def stale(self, today: date) -> bool:
        age = self.age_days(today)
        return age is not None and age > STALE_DAYS


def version() -> str:
    from importlib.metadata import version as v

    return v("genai-prices")


@functools.cache
def snapshot_info(known: tuple[tuple[str, str, str], ...]) -> SnapshotInfo:
    """When the installed snapshot's data was true: the publication date recorded for this
    version in catalog.yaml, else the newest date the data names (a lower bound)."""
    ver = version()
    for v, as_of, source in known:
        if v == ver:
            return SnapshotInfo(ver, as_of, source)
    from genai_prices import data as gp_data

    text = open(gp_data.__file__, encoding="utf-8").read()
    dates = re.findall(r"(?:as of|Launched[^0-9]{0,60})(20\d\d-\d\d-\d\d)", text)
    newest = max(dates) if dates else None
    return SnapshotInfo(ver, newest, f"genai-prices {ver} is not in modelsel's table of snapshot dates; "
                                     "the newest launch or 'as of' date its data names (a lower bound)",
                        known=False)


def snapshot() -> Any:
    from genai_prices import data_snapshot

    return data_snapshot.get_snapshot()


def _dec(x: Any) -> float | None:
    if x is None:
        return None
    if isinstance(x, Decimal | int | float):
        return float(x)
    base = getattr(x, "base", None)
    return None if base is None else float(base)


def current_prices(model: Any, when: datetime | None = None) -> Any:
    """The model's price entry in force at `when` (default now)."""
    return model.get_prices(when or datetime.now(UTC))


def base_price(model: Any, when: datetime | None = None) -> BasePrice:
    p = current_prices(model, when)
    inp, out, cached = (getattr(p, k, None) for k in ("input_mtok", "output_mtok", "cache_read_mtok"))
    tiered = any(hasattr(x, "tiers") for x in (inp, out, cached) if x is not None)
    note = None
    if tiered:
        parts = []
        for label, x in (("input", inp), ("output", out)):
            for t in getattr(x, "tiers", []) or []:
                parts.append(f"{label} ${float(t.price):g}/Mtok above {t.start:,} input tokens")
        note = "; ".join(parts) or "tiered"
    return BasePrice(_dec(inp), _dec(out), _dec(cached), tiered, note)


def price_keys(model: Any, when: datetime | None = None) -> set[str]:
    p = current_prices(model, when)
    return {k for k, v in p.__dict__.items() if v is not None and not k.startswith("_")}


def call_cost(provider_id: str, model_ref: str, input_tokens: int, output_tokens: int,
              cached_input_tokens: int = 0, cache_write_tokens: int = 0, when: datetime | None = None,
              processing: str = "live") -> float:
    """What the provider bills for one call: genai-prices with the call's real token counts, so a
    long prompt pays its tier and cached input its cached rate. `input_tokens` counts every
    input token, cached ones included. processing="batch": the provider's batch price."""
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens,
                  cache_read_tokens=cached_input_tokens or None, cache_write_tokens=cache_write_tokens or None)
    ctx = {"processing": "batch"} if processing == "batch" else None
    return float(calc_price(usage, model_ref, provider_id=provider_id, genai_request_timestamp=when,
                            price_context=ctx).total_price)  # type: ignore[arg-type]


# --- a call's usage as the API reported it, priced as billed ------------------------------------

# Where each API modelsel speaks puts its usage in a response, and the name of genai-prices'
# extractor for it. The provider keeps the usage object as the API sent it (its own field
# names), so genai-prices' own extractor reads every field it knows: cache reads and writes with
# their 5-minute / 1-hour split, tool-use prompt tokens, audio and image tokens.
USAGE_ROOT: dict[str, tuple[str, str]] = {
    "openai": ("usage", "chat"), "openai-compatible": ("usage", "chat"),
    "anthropic": ("usage", "default"), "gemini": ("usageMetadata", "default"),
}


@dataclass(frozen=True)
class Tokens:
    """One call's tokens in the classes prices tell apart. `input` counts every input token (cached,
    written, tool-use and media ones included); `cache_write_1h` is the part of `cache_write` kept an
    hour (Anthropic bills it at its own rate)."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0

    def usage(self) -> Any:
        from genai_prices import Usage

        kw: dict[str, int] = {"input_tokens": self.input, "output_tokens": self.output}
        if self.cache_read:
            kw["cache_read_tokens"] = self.cache_read
        if self.cache_write:
            kw["cache_write_tokens"] = self.cache_write
            kw["cache_write_1h_tokens"] = self.cache_write_1h
            kw["cache_write_5m_tokens"] = self.cache_write - self.cache_write_1h
        return Usage(**kw)


def extracted_usage(gp_provider: str, api: str, usage: dict[str, Any] | None) -> Any | None:
    """genai-prices' Usage read from the usage object an API returned, by genai-prices' own
    extractor; None when there is none or it cannot read it (then the token counts are priced)."""
    where = USAGE_ROOT.get(api)
    if where is None or not usage:
        return None
    from genai_prices import extract_usage

    try:
        return extract_usage({where[0]: usage}, provider_id=gp_provider, api_flavor=where[1]).usage
    except (ValueError, LookupError, TypeError):
        return None


def price_context(processing: str = "live", tier: str | None = None, speed: str | None = None) -> dict[str, str] | None:
    """genai-prices' price context: the batch price, a service tier (flex, priority), a speed (fast)."""
    ctx: dict[str, str] = {}
    if processing == "batch":
        ctx["processing"] = "batch"
    if tier and tier not in ("auto", "default", "standard", "unspecified"):
        ctx["service_tier"] = tier
    if speed and speed != "standard":
        ctx["speed"] = speed
    return ctx or None


def bill(provider_id: str, model_ref: str, usage: Any, when: datetime | None = None,
         context: dict[str, str] | None = None) -> float:
    """What a usage (genai-prices' Usage, or Tokens) is billed: tiers by the call's own input, the
    context's variant (batch, service tier, speed) where the snapshot has it."""
    from genai_prices import calc_price

    u = usage.usage() if isinstance(usage, Tokens) else usage
    return float(calc_price(u, model_ref, provider_id=provider_id, genai_request_timestamp=when,
                            price_context=context).total_price)  # type: ignore[arg-type]


def has_variant(provider_id: str, model_ref: str, context: dict[str, str], when: datetime | None = None) -> bool:
    """Whether the snapshot prices this model differently in this context (else the standard price applies)."""
    try:
        _, model = snapshot().find_provider_model(model_ref, None, provider_id, None)
    except Exception:
        return False
    when = when or datetime.now(UTC)
    return model.get_prices(when, context) != model.get_prices(when)


def month_segments(provider_id: str, model_ref: str, start: datetime, months: int
                   ) -> list[list[tuple[datetime, float]]]:
    """Each 30-day month of a horizon as the prices in force on its days: [(a day the price holds
    from, share of the month's days)]. One segment at `start` for a month priced as today; an
    introductory price that ends mid-month splits that month by days."""
    from datetime import timedelta

    try:
        _, model = snapshot().find_provider_model(model_ref, None, provider_id, None)
    except Exception:
        return [[(start, 1.0)] for _ in range(months)]
    today = model.get_prices(start)
    out = []
    for k in range(months):
        segs: list[tuple[datetime, Any, int]] = []
        for d in range(30):
            when = start + timedelta(days=30 * k + d)
            p = model.get_prices(when)
            if segs and segs[-1][1] == p:
                segs[-1] = (segs[-1][0], p, segs[-1][2] + 1)
            else:
                segs.append((start if p == today else when, p, 1))
        out.append([(w, n / 30) for w, _, n in segs])
    return out


def price_changes(provider_id: str, model_ref: str, start: datetime, months: int) -> list[int]:
    """The months (0 = the first) with a day priced otherwise than today: an introductory price
    that ends, a dated change the snapshot knows."""
    return [k for k, segs in enumerate(month_segments(provider_id, model_ref, start, months))
            if any(w != start for w, _ in segs)]


def input_tier_starts(provider_id: str, model_ref: str, when: datetime | None = None) -> list[int]:
    """The input lengths (tokens) above which the model's long-context rates apply; [] when flat."""
    try:
        _, model = snapshot().find_provider_model(model_ref, None, provider_id, None)
    except Exception:
        return []
    p = model.get_prices(when or datetime.now(UTC))
    return sorted({int(t.start) for x in (getattr(p, "input_mtok", None),) for t in (getattr(x, "tiers", None) or [])})


def all_tier_starts(provider_id: str, model_ref: str) -> list[int]:
    """Every input length at which any of the model's prices (on any date, tier or variant) changes
    rate: between two of them a bill is linear in each class of tokens."""
    try:
        _, model = snapshot().find_provider_model(model_ref, None, provider_id, None)
    except Exception:
        return []
    entries = [model.prices] if not isinstance(model.prices, list) else [cp.prices for cp in model.prices]
    entries += [v.prices for v in model.price_variants or []]
    return sorted({int(t.start) for e in entries for x in e.__dict__.values() for t in (getattr(x, "tiers", None) or [])})
