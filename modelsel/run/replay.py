"""Replay: answer with the outputs recorded in an earlier run (CI without keys, or a new
scorer on old answers). Every record it makes is flagged `replayed`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelsel.providers.base import (
    CallRequest,
    CallResult,
    Provider,
    ProviderError,
    on_this_machine,
)
from modelsel.run.records import Record
from modelsel.run.rundir import RECORDS, iter_jsonl_records


class ReplayProvider(Provider):
    default_concurrency = 16
    cacheable = False  # the recorded run is the answer; nothing new to store
    takes_tools = takes_schema = True  # the recorded calls come back as they were made
    default_host = "a recorded run"

    def __init__(self, candidate: Any, search_path: str | None = None) -> None:
        super().__init__(candidate, search_path)
        self._records: dict[tuple[str, int], Record] | None = None

    @classmethod
    def model_key(cls, c: Any) -> str:
        return f"replay|{c.id}"

    @classmethod
    def vendor_of(cls, spec: Any) -> str:
        return "self-hosted"

    @classmethod
    def own_facts(cls, spec: Any) -> tuple[dict[str, Any], str]:
        return on_this_machine("recorded answers replayed on this machine")

    @classmethod
    def spec_problem(cls, spec: Any) -> tuple[str, str] | None:
        return None if spec.replay_from else ("a replay candidate needs replay_from: a run folder.", "replay_from")

    def _load(self) -> dict[tuple[str, int], Record]:
        if self._records is None:
            folder = Path(self.candidate.replay_from or "")
            path = folder / RECORDS
            if not path.exists():
                raise ProviderError("fatal", f"no records.jsonl in {folder}")
            self._records = {(r.example_id, r.repeat): r for r in iter_jsonl_records(path)
                             if r.candidate == self.candidate.model and not r.error}
        return self._records

    def unavailable(self, load_code: bool = True) -> str | None:
        try:
            recs = self._load()
        except ProviderError as exc:
            return str(exc)
        if not recs:
            return f"the run {self.candidate.replay_from} has no answers from candidate '{self.candidate.model}'"
        return None

    async def complete(self, req: CallRequest) -> CallResult:
        assert req.example is not None
        # Try k replays try k: one recorded answer is never counted as k independent tries.
        rec = self._load().get((req.example.id, req.repeat))
        if rec is None:
            raise ProviderError("fatal", f"no recorded answer for example '{req.example.id}'" +
                                (f" on try {req.repeat + 1} (the recorded run made fewer tries)" if req.repeat else ""))
        return CallResult(text=rec.output or "", input_tokens=rec.input_tokens, output_tokens=rec.output_tokens,
                          latency_ms=rec.latency_ms or 0.0, ttft_ms=rec.ttft_ms, finish_reason=rec.finish_reason,
                          extra={"replayed_from": str(self.candidate.replay_from)}, tool_calls=rec.tool_calls or [])
