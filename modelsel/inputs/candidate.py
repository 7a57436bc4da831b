"""A shortlisted model, resolved: everything the runner and the decision need. It sits below the
catalog, the requirements and the providers, which all use it and none of which it imports."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel

from modelsel.schema import Fact


class Candidate(BaseModel):
    """A shortlisted model, resolved: everything the runner and the decision need."""

    id: str
    provider: str
    vendor: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cached_input_per_mtok: float | None = None
    fixed_monthly_usd: float = 0.0
    instance_hour_usd: float | None = None  # self-hosting: one instance an hour, kept up all month
    instance_requests_per_s: float | None = None  # what one instance serves, when stated
    cache: dict[str, str] | None = None  # {prefix: system|tools, ttl: 5m|1h}: cache_control on the shared prefix
    batch_discount: float | None = None  # a custom price's factor in the provider's batch API (0.5: half)
    tiered: bool = False
    price_source: str = "unknown"
    price_as_of: str | None = None
    price_ref: tuple[str, str] | None = None
    facts: dict[str, Fact] = {}
    prompt: str | None = None
    system: str | None = None
    params: dict[str, Any] = {}
    concurrency: int | None = None
    endpoint_concurrency: int | None = None
    timeout_s: float | None = None
    retry_after_cap_s: float | None = None
    replay_from: str | None = None
    tier: str | None = None
    from_catalog: bool = False
    catalog_id: str | None = None  # the catalog entry it came from
    deprecation: str | None = None  # the vendor's deprecation or retirement, with its source
    shutdown_on: str | None = None  # the day the vendor stops serving it (announced)
    successor: str | None = None  # the catalog id the vendor names as its replacement
    host: str = ""  # where requests go, for outage purposes (see Provider.outage_host); "" = unknown: the vendor
    code_file: str | None = None  # a python candidate's module, found inside the requirements' folder tree
    allow_plain_http: bool = False  # the file allows sending its key over plain http to another host
    spec_index: int | None = None  # its place in the requirements' candidates list (for errors naming the line)

    def shut_down_by(self, today: date) -> bool:
        """Whether its vendor has stopped serving it by `today`."""
        return self.shutdown_on is not None and date.fromisoformat(self.shutdown_on) <= today

    @property
    def outage_host(self) -> str:
        return self.host or self.vendor

    def fact(self, name: str) -> Any:
        f = self.facts.get(name)
        return None if f is None else f.value
