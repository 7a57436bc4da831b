"""One record per call: the unit every later stage reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel


class Record(BaseModel):
    candidate: str
    example_id: str
    repeat: int = 0
    tags: list[str] = []
    cluster: str | None = None
    input: str = ""
    expected: Any = None
    output: str | None = None
    latency_ms: float | None = None  # the request itself; never queueing, backoff or cache lookup
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float = 0.0
    error: str | None = None
    error_kind: str | None = None
    attempts: int = 0
    retry_wait_s: float = 0.0
    cached: bool = False
    cold: bool = False  # started before its endpoint had answered once (SDK cold start, new connections)
    replayed: bool = False
    finish_reason: str | None = None
    params: dict[str, Any] = {}
    started_at: str | None = None
    # filled by scoring
    score: float | None = None
    passed: bool | None = None
    reason: str | None = None
    scores: list[dict[str, Any]] = []
    judge_cost_usd: float = 0.0


def read_records(path: Path) -> list[Record]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(Record.model_validate_json(line))
            except ValueError:
                continue  # a line cut by a crash mid-write: the cache still has the call
    return out


def dumps(rec: Record) -> str:
    return json.dumps(rec.model_dump(mode="json"), ensure_ascii=False)
