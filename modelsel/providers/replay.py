"""Replay: answer with the outputs recorded in an earlier run (CI without keys, or a new
scorer on old answers). Every record it makes is flagged `replayed`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelsel.providers.base import CallRequest, CallResult, Provider, ProviderError


class ReplayProvider(Provider):
    default_concurrency = 16

    def __init__(self, candidate: Any) -> None:
        super().__init__(candidate)
        self._records: dict[tuple[str, int], dict[str, Any]] | None = None

    def _load(self) -> dict[tuple[str, int], dict[str, Any]]:
        if self._records is None:
            folder = Path(self.candidate.replay_from or "")
            path = folder / "records.jsonl"
            if not path.exists():
                raise ProviderError("fatal", f"no records.jsonl in {folder}")
            recs: dict[tuple[str, int], dict[str, Any]] = {}
            for line in path.read_text(encoding="utf-8").splitlines():
                r = json.loads(line)
                if r.get("candidate") == self.candidate.model and not r.get("error"):
                    recs[(r["example_id"], r.get("repeat", 0))] = r
            self._records = recs
        return self._records

    def unavailable(self) -> str | None:
        try:
            recs = self._load()
        except ProviderError as exc:
            return str(exc)
        if not recs:
            return f"the run {self.candidate.replay_from} has no answers from candidate '{self.candidate.model}'"
        return None

    async def complete(self, req: CallRequest) -> CallResult:
        assert req.example is not None
        rec = self._load().get((req.example.id, req.repeat)) or self._load().get((req.example.id, 0))
        if rec is None:
            raise ProviderError("fatal", f"no recorded answer for example '{req.example.id}'")
        return CallResult(
            text=rec.get("output") or "", input_tokens=rec.get("input_tokens"), output_tokens=rec.get("output_tokens"),
            latency_ms=rec.get("latency_ms") or 0.0, ttft_ms=rec.get("ttft_ms"), finish_reason=rec.get("finish_reason"),
            extra={"replayed_from": str(self.candidate.replay_from)},
        )
