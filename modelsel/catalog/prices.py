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
