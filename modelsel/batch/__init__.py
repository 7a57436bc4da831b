"""Quality calls through the providers' batch APIs, at their batch price.

A batch says nothing about latency: latency is measured on a live sample of each batched
candidate's calls (`run.latency_sample`). Each provider's batch API is an adapter here that
translates modelsel's requests into its wire format and its results back into CallResults; the
orchestration (submit once, save the id before waiting, poll with back-off, collect into the
cache, retry failed lines live) is in `modelsel.batch.run`.
"""

from __future__ import annotations

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


class BatchApi:
    """One provider's batch endpoint, driven through its official SDK client."""

    name = "batch"

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def client(self) -> Any:
        return self.provider.client(60.0)  # type: ignore[attr-defined]

    async def submit(self, items: list[tuple[str, CallRequest]]) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    async def status(self, batch_id: str) -> Status:  # pragma: no cover - interface
        raise NotImplementedError

    async def results(self, batch_id: str) -> dict[str, CallResult | ProviderError]:  # pragma: no cover - interface
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
