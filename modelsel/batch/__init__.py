"""Quality calls through the providers' batch APIs, at their batch price.

A batch says nothing about latency: latency is measured on a live sample of each batched
candidate's calls (`run.latency_sample`). Each provider's batch API is an adapter here that
translates modelsel's requests into its wire format and its results back into CallResults; the
orchestration (submit once, save the id before waiting, poll with back-off, collect into the
cache, retry failed lines live) is in `modelsel.batch.run`. An adapter is imported when a batch
of its provider is made: each imports this module's types, and only the SDK it needs loads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from modelsel.providers.base import CallRequest, CallResult, Provider, ProviderError


@dataclass
class Status:
    state: Literal["running", "done", "failed", "cancelled"]
    total: int = 0
    finished: int = 0  # requests the provider reports done (answered or failed)
    failed: int = 0
    message: str | None = None  # why the provider rejected the batch


MAX_RESULT_BYTES = 1024 * 1024 * 1024  # a results file read past this is cut (stated in the README)
COMPLETION_WINDOW_S = 24 * 3600  # every provider's batch window; past it (and a grace) the wait stops


class Results:
    """A batch's results, read line by line and checked. A line that cannot be read costs that line
    alone (its request has no result, so it is made again live); an answer from another model or an
    id this batch never sent is that request's error, said, never silently kept; a file past
    MAX_RESULT_BYTES is read no further. A line repeated word for word is read once (said); a
    custom_id answered twice with different answers is a fault of the file, not of the model: neither
    answer is used, the request is left out of every figure (not made live: the batch billed it) and
    billed at the dearer of the two."""

    def __init__(self, model: str, sent: set[str]) -> None:
        self.model = model.removeprefix("models/")
        self.sent = sent
        self.got: dict[str, CallResult | ProviderError] = {}
        self.final: set[str] = set()  # errors that are not made live again (the provider billed them)
        self.conflicting: dict[str, list[CallResult]] = {}  # answered twice, differently: the file's fault
        self.lines: dict[str, tuple[int, bytes]] = {}  # custom_id -> (line, what it said), to tell a repeat
        self.problems: list[str] = []
        self.read_bytes = 0
        self.cut = False

    def over_cap(self, size: int) -> bool:
        self.read_bytes += size
        if self.read_bytes > MAX_RESULT_BYTES and not self.cut:
            self.cut = True
            self.problems.append(f"the results passed {MAX_RESULT_BYTES // (1024 * 1024):,} MB and were read no "
                                 "further; requests without a result there are errors, not made again")
        return self.cut

    async def rows(self, lines: Any, what: str = "") -> Any:
        """(line number, JSON object) for each line of a streamed results file that is one; blank
        lines skipped, a line that is not a JSON object said and skipped, the size cap kept."""
        import json

        n = 0
        async for line in lines:
            n += 1
            if self.over_cap(len(line) + 1):
                return
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                self.bad_line(n, f"{what}not JSON")
                continue
            if not isinstance(row, dict):
                self.bad_line(n, f"{what}not a JSON object")
                continue
            yield n, row

    def bad_line(self, n: int, why: str) -> None:
        self.problems.append(f"line {n}: {why}; that line's request is made again live")

    def add(self, cid: Any, res: CallResult | ProviderError, model_seen: str | None, n: int) -> None:
        if not isinstance(cid, str) or not cid:
            self.bad_line(n, "no custom_id")
            return
        if cid not in self.sent:
            self.problems.append(f"line {n}: custom_id {cid[:60]!r} was not sent in this batch; ignored")
            return
        said = hashlib.blake2b(repr((res, model_seen)).encode(), digest_size=16).digest()
        if cid in self.conflicting:
            if isinstance(res, CallResult):
                self.conflicting[cid].append(res)
            return
        if cid in self.lines:
            first, before = self.lines[cid]
            if before == said:  # the same line again: read once
                self.problems.append(f"line {n}: repeats line {first} (custom_id {cid}) word for word; read once")
                return
            earlier = self.got.pop(cid, None)
            self.final.discard(cid)
            self.conflicting[cid] = [r for r in (earlier, res) if isinstance(r, CallResult)]
            self.problems.append(f"line {n}: custom_id {cid} answered twice (lines {first} and {n}) with different "
                                 "answers; neither used, the request is left out (a fault of the file, not the model)")
            return
        self.lines[cid] = (n, said)
        seen = (model_seen or "").removeprefix("models/")
        if isinstance(res, CallResult) and seen and seen != self.model and not seen.startswith(self.model + "-"):
            res = ProviderError("malformed", f"the batch line was answered by model {seen[:80]!r}, not "
                                f"{self.model!r}; not scored as this candidate's answer")
            self.final.add(cid)
            self.problems.append(f"line {n}: answered by {seen[:80]!r}, not {self.model!r}")
        self.got[cid] = res

    def missing_is_final(self) -> bool:
        return self.cut


class BatchApi:
    """One provider's batch endpoint, driven through its official SDK client."""

    name = "batch"

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def client(self) -> Any:
        return self.provider.client(60.0)  # type: ignore[attr-defined]

    async def submit(self, items: list[tuple[str, CallRequest]], tag: str) -> str:  # pragma: no cover - interface
        """Submit the batch, tagged with `tag` (the run's batch key) where the API keeps metadata."""
        raise NotImplementedError

    async def find(self, tag: str, since: float | None = None, n: int = 0) -> str | None:
        """A live batch (not failed, cancelled or expired) this run's key already tagged: one a killed run
        submitted but never saved. Where the API keeps no metadata to find it by, `since` (when the
        intent to create it was saved) and `n` (its requests) find it; None when nothing matches."""
        return None

    async def status(self, batch_id: str) -> Status:  # pragma: no cover - interface
        raise NotImplementedError

    async def results(self, batch_id: str, out: Results) -> None:  # pragma: no cover - interface
        """Read the batch's results into `out`, line by line."""
        raise NotImplementedError

    async def cancel(self, batch_id: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def api_for(provider: Provider) -> BatchApi | None:
    """The batch adapter for this provider's API, or None when it has none."""
    from modelsel.providers.anthropic_messages import AnthropicProvider
    from modelsel.providers.gemini import GeminiProvider
    from modelsel.providers.openai_chat import OpenAIProvider

    if isinstance(provider, OpenAIProvider):
        from modelsel.batch.openai import OpenAIBatch

        return OpenAIBatch(provider)
    if isinstance(provider, AnthropicProvider):
        from modelsel.batch.anthropic import AnthropicBatch

        return AnthropicBatch(provider)
    if isinstance(provider, GeminiProvider):
        from modelsel.batch.gemini import GeminiBatch

        return GeminiBatch(provider)
    return None


async def unsupported(provider: Provider) -> str | None:
    """Why this candidate cannot run through a batch, or None. An OpenAI-compatible endpoint is
    asked whether it serves /v1/batches (vLLM and Ollama do not; some gateways do)."""
    api = api_for(provider)
    if api is None:
        return f"the {provider.candidate.provider} provider has no batch API"
    if provider.candidate.provider == "openai-compatible":
        try:
            await api.client().batches.list(limit=1)
        except Exception as exc:  # 404 from a server without /v1/batches, or no server at all
            return f"its endpoint does not serve /v1/batches ({type(exc).__name__})"
    return None
