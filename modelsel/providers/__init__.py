"""Providers translate a request into one API's format and back, and classify its errors.

Retrying, backoff, concurrency and timing policy live in the runner, the same for all.
Built-in providers register here exactly as an outside one would: a name and "module:Class".
"""

from __future__ import annotations

import importlib

from modelsel.providers.base import CallRequest, CallResult, Provider, ProviderError

REGISTRY: dict[str, str] = {
    "openai": "modelsel.providers.openai_chat:OpenAIProvider",
    "openai-compatible": "modelsel.providers.openai_chat:OpenAICompatibleProvider",
    "anthropic": "modelsel.providers.anthropic_messages:AnthropicProvider",
    "gemini": "modelsel.providers.gemini:GeminiProvider",
    "local": "modelsel.providers.local_llama:LocalLlamaProvider",
    "python": "modelsel.providers.python_fn:PythonProvider",
    "replay": "modelsel.providers.replay:ReplayProvider",
}


def register(name: str, target: str) -> None:
    """Add a provider from outside modelsel: `register("mine", "my_pkg.provider:MyProvider")`.
    Requirements files may then say `provider: mine`."""
    REGISTRY[name] = target


def provider_class(name: str) -> type[Provider]:
    module, _, cls = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), cls)


__all__ = ["CallRequest", "CallResult", "Provider", "ProviderError", "REGISTRY", "provider_class", "register"]
