"""What production runs today, as `modelsel import traces` found it in the traces: the requirements'
`production:` block. The record compares the candidates with it; `check` prints how the sample
compares with the whole traffic; `review --traces` compares a new export with `whole`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Timing(Strict):
    n: int = Field(ge=0)
    p50_ms: float | None = None
    p95_ms: float | None = None
    p95_lo_ms: float | None = None  # the 95% interval of the p95 (order statistics); None: too few calls
    p95_hi_ms: float | None = None
    ttft_p50_ms: float | None = None


class TracedModel(Strict):
    candidate: str | None = None  # the candidate that runs it here
    calls: int = Field(ge=0)
    share: float = Field(ge=0, le=1)
    latency: Timing  # span times: what the application waited, its network and queueing included
    by_input: dict[str, Timing] = {}  # the latency buckets of `latency.by_input`
    input_tokens_mean: float | None = None
    output_tokens_mean: float | None = None
    system_prompts: int = 0  # distinct system prompts seen with this model


class Production(Strict):
    source: list[str]  # the trace files
    models: dict[str, TracedModel]
    whole: dict[str, Any]  # profile of every model call the filters kept (sample.profile)
    sample: dict[str, Any]  # profile of the sample, with how it was drawn
    skipped: dict[str, int] = {}  # spans that were not model calls (or not text chats), by kind
    model_calls: int = 0
    filters: dict[str, Any] = {}
    pii_redacted: dict[str, int] = {}
    pii_detected: list[str] = []  # the kinds of personal data the import looked for
    pii_kept: bool = False
    left_out: dict[str, int] = {}  # distinct calls the eval set cannot hold (tool calls ...), by reason
    expected_from_output: bool = False  # quality is agreement with production's answers, not correctness

    def today(self) -> tuple[str, TracedModel] | None:
        """The model serving most of the traffic."""
        return max(self.models.items(), key=lambda kv: kv[1].calls) if self.models else None


def from_requirements(req: dict[str, Any] | None) -> Production | None:
    """The block from a dumped requirements mapping (a run's summary), or None."""
    raw = (req or {}).get("production")
    return Production.model_validate(raw) if raw else None
