"""One record per call: the unit every later stage reads."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Record(BaseModel):
    candidate: str
    example_id: str
    repeat: int = 0
    tags: list[str] = []
    cluster: str | None = None
    input: str = ""
    media: list[dict[str, Any]] = []  # the images and files sent: name, media_type, size, sha256 (never their bytes)
    expected: Any = None
    output: str | None = None
    output_truncated: bool = False  # cut at run.max_answer_chars: the rest was never read (its cost is a lower bound)
    output_chars: int | None = None  # characters read before the cut (when cut)
    # What the user's request waited: from the first attempt to the answer, failed attempts and
    # back-off included (never our own queue or cache lookup). On an error: until it was given up.
    latency_ms: float | None = None
    attempt_latency_ms: float | None = None  # the successful attempt alone
    ttft_ms: float | None = None  # from the first attempt, like latency_ms
    input_tokens: int | None = None  # every input token, cached ones included
    output_tokens: int | None = None  # every billed output token, reasoning/thinking included
    reasoning_tokens: int | None = None  # of the output tokens, those spent thinking (billed at the output rate)
    cached_input_tokens: int | None = None  # billed at the cached-input rate
    cache_write_tokens: int | None = None  # written to the prompt cache (billed at the write rate)
    cache_write_1h_tokens: int | None = None  # of those, kept an hour (Anthropic: twice the input rate)
    usage: dict[str, Any] | None = None  # the usage object as the API sent it: what the cost was priced from
    service_tier: str | None = None  # the tier the API says served the call, where it says
    cost_usd: float = 0.0  # as the provider billed it (see catalog.call_cost): the batch price for a batch answer
    cost_live_usd: float | None = None  # the same tokens at the standard (live) price
    cost_batch_usd: float | None = None  # the same tokens at the provider's batch price
    batch: bool = False  # answered inside a provider batch: no latency, billed at the batch price
    latency_sample: bool = False  # a live call made only to measure latency (batch sample, extra or latency pass): not in quality
    latency_pass: str | None = None  # "extra" (more calls for a percentile), "quiet" or "load" (the judged latency pass)
    error: str | None = None
    error_kind: str | None = None
    status: int | None = None  # HTTP status of the last failed attempt
    attempts: int = 0
    retry_wait_s: float = 0.0
    retry_kinds: list[str] = []  # why each failed attempt before the last one failed (rate_limit, server, ...)
    retry_after_asked_s: float | None = None  # a Retry-After longer than the cap (the cap was waited)
    cached: bool = False
    cold: bool = False  # started before its endpoint had answered once (SDK cold start, new connections)
    replayed: bool = False
    finish_reason: str | None = None
    # What the model did besides writing: its calls, each {"id", "name", "arguments": the raw text it
    # sent} (None: no tools were offered and none was called).
    tool_calls: list[dict[str, Any]] | None = None
    params: dict[str, Any] = {}
    started_at: str | None = None
    # filled by scoring
    score: float | None = None
    passed: bool | None = None
    reason: str | None = None
    scores: list[dict[str, Any]] = []
    judge_cost_usd: float = 0.0
    # Known at request time, without the answer key (what a production cascade may escalate on):
    valid: bool | None = None  # the answer passes the format check (a label from the set, JSON that parses)
    label: str | None = None  # the label a choice scorer read from the answer
    tool_verdict: str | None = None  # a tool_call scorer's verdict (scoring.tools.VERDICTS), None without one


def dumps(rec: Record) -> str:
    return rec.model_dump_json()  # pydantic-core's serializer: a fifth of json.dumps(model_dump()) per record
