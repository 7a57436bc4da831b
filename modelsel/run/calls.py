"""The figures of every call as columns: what metrics, decision and strategies read.

A run of 10,000 examples x 5 candidates is 50,000 calls; held as Record objects (input,
output, scorer details) it takes hundreds of megabytes. Statistics need only a few numbers
per call, so the runner streams each Record to disk and keeps one row here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from modelsel.run.records import Record

if TYPE_CHECKING:
    import numpy as np


@dataclass
class Calls:
    """One row per call. Lists while a run grows; `arrays()` freezes them for statistics."""

    candidate: list[str] = field(default_factory=list)
    example: list[str] = field(default_factory=list)
    repeat: list[int] = field(default_factory=list)
    tags: list[tuple[str, ...]] = field(default_factory=list)
    cluster: list[str] = field(default_factory=list)
    # A request that ended in an error is a failed answer: score 0, passed 0. nan / -1: an answer
    # left unscored (the budget guard stopped the judge).
    score: list[float] = field(default_factory=list)
    passed: list[int] = field(default_factory=list)  # 1, 0, or -1 when unscored
    latency_ms: list[float] = field(default_factory=list)  # first attempt to answer, back-off included; nan on error
    elapsed_ms: list[float] = field(default_factory=list)  # the same, errors included: how long the request took
    attempt_ms: list[float] = field(default_factory=list)  # the successful attempt alone; nan on error
    ttft_ms: list[float] = field(default_factory=list)
    cost_usd: list[float] = field(default_factory=list)  # as billed
    cost_live_usd: list[float] = field(default_factory=list)  # at the standard price
    cost_batch_usd: list[float] = field(default_factory=list)  # at the batch price
    batch: list[bool] = field(default_factory=list)  # answered inside a provider batch
    sample: list[bool] = field(default_factory=list)  # a live latency-only call (batch sample, extra, latency pass)
    lpass: list[str] = field(default_factory=list)  # "" | "extra" | "quiet" | "load" (Record.latency_pass)
    input_tokens: list[int] = field(default_factory=list)
    output_tokens: list[int] = field(default_factory=list)
    reasoning_tokens: list[int] = field(default_factory=list)  # -1: the API did not say
    error: list[bool] = field(default_factory=list)
    error_kind: list[str] = field(default_factory=list)  # "" when no error
    error_msg: list[str] = field(default_factory=list)  # the provider's message (redacted), "" when no error
    attempts: list[int] = field(default_factory=list)
    retry_kinds: list[str] = field(default_factory=list)  # kinds of the failed attempts that were retried, "a,b"
    cached: list[bool] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)  # the answer was cut at run.max_answer_chars
    cold: list[bool] = field(default_factory=list)
    replayed: list[bool] = field(default_factory=list)
    judge_cost_usd: list[float] = field(default_factory=list)
    valid: list[int] = field(default_factory=list)  # 1 / 0, or -1 when no format check applies
    label: list[str] = field(default_factory=list)  # "" when no label was read
    images: list[int] = field(default_factory=list)  # images the request sent
    pages: list[int] = field(default_factory=list)  # PDF pages the request sent
    tool_expect: list[str] = field(default_factory=list)  # "call" | "none" (expects no call) | "" (no expected calls)
    tool_verdict: list[str] = field(default_factory=list)  # the tool_call scorer's verdict, "" without one
    cache_read: list[int] = field(default_factory=list)  # input tokens read from the prompt cache
    cache_write: list[int] = field(default_factory=list)  # input tokens written to it
    cache_write_1h: list[int] = field(default_factory=list)  # of those, kept an hour
    # The output tokens' part of the production cost (nan until analysis.projection prices it): the
    # skewed part the cost interval treats apart.
    cost_output_usd: list[float] = field(default_factory=list)
    _interned: dict[str, str] = field(default_factory=dict, repr=False)

    def _i(self, s: str) -> str:
        # Ids repeat once per candidate and repeat: keep one string object for each.
        return self._interned.setdefault(s, s)

    def add(self, r: Record) -> None:
        self.candidate.append(self._i(r.candidate))
        self.example.append(self._i(r.example_id))
        self.repeat.append(r.repeat)
        self.tags.append(tuple(self._i(t) for t in r.tags))
        self.cluster.append(self._i(r.cluster or r.example_id))
        failed = bool(r.error)
        self.score.append(0.0 if failed else (math.nan if r.score is None else float(r.score)))
        self.passed.append(0 if failed else (-1 if r.passed is None else int(bool(r.passed))))
        lat = math.nan if r.latency_ms is None else float(r.latency_ms)
        self.latency_ms.append(math.nan if failed else lat)
        self.elapsed_ms.append(lat)
        att = r.attempt_latency_ms if r.attempt_latency_ms is not None else r.latency_ms  # older records: one figure
        self.attempt_ms.append(math.nan if att is None or failed else float(att))
        self.ttft_ms.append(math.nan if r.ttft_ms is None or failed else float(r.ttft_ms))
        billed = float(r.cost_usd or 0.0)
        self.cost_usd.append(billed)
        self.cost_live_usd.append(billed if r.cost_live_usd is None else float(r.cost_live_usd))
        self.cost_batch_usd.append(billed if r.cost_batch_usd is None else float(r.cost_batch_usd))
        self.batch.append(bool(r.batch))
        self.sample.append(bool(r.latency_sample))
        self.lpass.append(self._i(r.latency_pass or ""))
        self.input_tokens.append(int(r.input_tokens or 0))
        self.output_tokens.append(int(r.output_tokens or 0))
        self.reasoning_tokens.append(-1 if r.reasoning_tokens is None else int(r.reasoning_tokens))
        self.error.append(bool(r.error))
        self.error_kind.append(self._i(r.error_kind or ("error" if r.error else "")))
        self.error_msg.append(self._i((r.error or "")[:300]))
        self.attempts.append(int(r.attempts))
        self.retry_kinds.append(self._i(",".join(sorted(set(r.retry_kinds)))))
        self.cached.append(bool(r.cached))
        self.truncated.append(bool(r.output_truncated))
        self.cold.append(bool(r.cold))
        self.replayed.append(bool(r.replayed))
        self.judge_cost_usd.append(float(r.judge_cost_usd or 0.0))
        self.valid.append(-1 if r.valid is None else int(r.valid))
        self.label.append(self._i((r.label or "").lower()))
        self.images.append(sum(m.get("kind") == "image" for m in r.media))
        self.pages.append(sum(int(m.get("pages") or 1) for m in r.media if m.get("kind") == "file"))
        e = r.expected
        calls = e.get("tool_calls") if isinstance(e, dict) and set(e) == {"tool_calls"} else None
        self.tool_expect.append("" if not isinstance(calls, list) else "call" if calls else "none")
        self.tool_verdict.append(self._i(r.tool_verdict or ""))
        self.cache_read.append(int(r.cached_input_tokens or 0))
        self.cache_write.append(int(r.cache_write_tokens or 0))
        self.cache_write_1h.append(int(r.cache_write_1h_tokens or 0))
        self.cost_output_usd.append(math.nan)

    @classmethod
    def from_records(cls, records: Iterable[Record]) -> Calls:
        c = cls()
        for r in records:
            c.add(r)
        return c

    def __len__(self) -> int:
        return len(self.candidate)

    def candidates(self) -> list[str]:
        return list(dict.fromkeys(self.candidate))

    def arrays(self) -> CallArrays:
        import numpy as np  # loaded when statistics start, not before the first call

        return CallArrays(
            candidate=np.array(self.candidate, dtype=object), example=np.array(self.example, dtype=object),
            repeat=np.array(self.repeat, dtype=np.int32), tags=self.tags, cluster=np.array(self.cluster, dtype=object),
            score=np.array(self.score, dtype=float), passed=np.array(self.passed, dtype=np.int8),
            latency_ms=np.array(self.latency_ms, dtype=float), elapsed_ms=np.array(self.elapsed_ms, dtype=float),
            attempt_ms=np.array(self.attempt_ms, dtype=float), ttft_ms=np.array(self.ttft_ms, dtype=float),
            cost_usd=np.array(self.cost_usd, dtype=float), cost_live_usd=np.array(self.cost_live_usd, dtype=float),
            cost_batch_usd=np.array(self.cost_batch_usd, dtype=float), batch=np.array(self.batch, dtype=bool),
            sample=np.array(self.sample, dtype=bool), lpass=np.array(self.lpass, dtype=object), input_tokens=np.array(self.input_tokens, dtype=np.int64),
            output_tokens=np.array(self.output_tokens, dtype=np.int64),
            reasoning_tokens=np.array(self.reasoning_tokens, dtype=np.int64), error=np.array(self.error, dtype=bool),
            error_kind=np.array(self.error_kind, dtype=object), error_msg=np.array(self.error_msg, dtype=object),
            attempts=np.array(self.attempts, dtype=np.int32),
            retry_kinds=np.array(self.retry_kinds, dtype=object),
            cached=np.array(self.cached, dtype=bool), truncated=np.array(self.truncated, dtype=bool),
            cold=np.array(self.cold, dtype=bool),
            replayed=np.array(self.replayed, dtype=bool), judge_cost_usd=np.array(self.judge_cost_usd, dtype=float),
            valid=np.array(self.valid, dtype=np.int8), label=np.array(self.label, dtype=object),
            images=np.array(self.images, dtype=np.int32), pages=np.array(self.pages, dtype=np.int32),
            tool_expect=np.array(self.tool_expect, dtype=object), tool_verdict=np.array(self.tool_verdict, dtype=object),
            cache_read=np.array(self.cache_read, dtype=np.int64), cache_write=np.array(self.cache_write, dtype=np.int64),
            cache_write_1h=np.array(self.cache_write_1h, dtype=np.int64),
            cost_output_usd=np.array(self.cost_output_usd, dtype=float),
        )


@dataclass
class CallArrays:
    """Frozen columns; `of(cid)` selects one candidate's rows."""

    candidate: np.ndarray
    example: np.ndarray
    repeat: np.ndarray
    tags: list[tuple[str, ...]]
    cluster: np.ndarray
    score: np.ndarray
    passed: np.ndarray
    latency_ms: np.ndarray
    elapsed_ms: np.ndarray
    attempt_ms: np.ndarray
    ttft_ms: np.ndarray
    cost_usd: np.ndarray
    cost_live_usd: np.ndarray
    cost_batch_usd: np.ndarray
    batch: np.ndarray
    sample: np.ndarray
    lpass: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    reasoning_tokens: np.ndarray
    error: np.ndarray
    error_kind: np.ndarray
    error_msg: np.ndarray
    attempts: np.ndarray
    retry_kinds: np.ndarray
    cached: np.ndarray
    truncated: np.ndarray
    cold: np.ndarray
    replayed: np.ndarray
    judge_cost_usd: np.ndarray
    valid: np.ndarray
    label: np.ndarray
    images: np.ndarray
    pages: np.ndarray
    tool_expect: np.ndarray
    tool_verdict: np.ndarray
    cache_read: np.ndarray
    cache_write: np.ndarray
    cache_write_1h: np.ndarray
    cost_output_usd: np.ndarray

    def __len__(self) -> int:
        return len(self.candidate)

    def take(self, mask: np.ndarray) -> CallArrays:
        import numpy as np

        return self._pick(np.flatnonzero(mask))

    def _pick(self, idx: np.ndarray) -> CallArrays:
        return CallArrays(**{k: ([v[i] for i in idx] if k == "tags" else v[idx]) for k, v in self.__dict__.items()})

    def ordered(self, candidates: list[str], examples: list[str]) -> CallArrays:
        """Rows in candidate, eval-set and repeat order (calls arrive in the order they finish)."""
        import numpy as np

        cpos = {c: i for i, c in enumerate(candidates)}
        epos = {e: i for i, e in enumerate(examples)}
        keys = [(cpos.get(c, len(cpos)), epos.get(e, len(epos)), r)
                for c, e, r in zip(self.candidate.tolist(), self.example.tolist(), self.repeat.tolist(), strict=True)]
        return self._pick(np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64))

    def of(self, cid: str) -> CallArrays:
        return self.take(self.candidate == cid)

    def with_tag(self, tag: str) -> CallArrays:
        import numpy as np

        return self.take(np.array([tag in t for t in self.tags], dtype=bool))

    def candidates(self) -> list[str]:
        return list(dict.fromkeys(self.candidate.tolist()))

    def per_example_scores(self) -> dict[str, float]:
        """Scores pooled over repeats: one figure per example (repeats are not independent)."""
        import numpy as np

        ok = ~np.isnan(self.score)
        if not ok.any():
            return {}
        ex = self.example[ok]
        keys, inv = np.unique(ex, return_inverse=True)
        sums = np.bincount(inv, weights=self.score[ok])
        counts = np.bincount(inv)
        return dict(zip(keys.tolist(), (sums / counts).tolist(), strict=True))

    def rows(self) -> Iterator[int]:
        return iter(range(len(self)))

    def row(self, i: int) -> dict[str, object]:
        """Call i as plain values, keyed like the columns of `Calls` (a strategy copies it)."""
        return {k: (v[i] if k == "tags" else v[i].item() if hasattr(v[i], "item") else v[i])
                for k, v in self.__dict__.items()}
