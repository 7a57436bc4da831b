"""Providers translate a request into one API's format and back, and classify its errors.

Retrying, backoff, concurrency and timing policy live in the runner, the same for all.
Built-in providers register here exactly as an outside one would: a name and "module:Class".
An installed package adds one with an entry point in the `modelsel.providers` group
(`[project.entry-points."modelsel.providers"] bedrock = "my_pkg.bedrock:BedrockProvider"`), read
the first time a provider is looked up; `register()` does the same from Python.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from modelsel.providers.base import CallRequest, CallResult, Provider, ProviderError

REGISTRY: dict[str, str] = {
    "openai": "modelsel.providers.openai_chat:OpenAIProvider",
    "openai-compatible": "modelsel.providers.openai_chat:OpenAICompatibleProvider",
    "anthropic": "modelsel.providers.anthropic_messages:AnthropicProvider",
    "gemini": "modelsel.providers.gemini:GeminiProvider",
    "local": "modelsel.providers.local_llama:LocalLlamaProvider",
    "python": "modelsel.providers.python_fn:PythonProvider",
    "replay": "modelsel.run.replay:ReplayProvider",
}


GROUP = "modelsel.providers"
_plugins_read = False


def register(name: str, target: str) -> None:
    """Add a provider from outside modelsel: `register("mine", "my_pkg.provider:MyProvider")`.
    Requirements files may then say `provider: mine`."""
    REGISTRY[name] = target


def names() -> list[str]:
    """Every provider a requirements file may name: built in, registered, or installed (entry points)."""
    global _plugins_read
    if not _plugins_read:
        _plugins_read = True
        for ep in entry_points(group=GROUP):
            REGISTRY.setdefault(ep.name, ep.value)  # a built-in name is never taken over
    return list(REGISTRY)


def provider_class(name: str) -> type[Provider]:
    """The provider's class; KeyError for a name nobody provides, ValueError in one line for a plugin
    that is broken (its module does not import, lacks the class, or it is not a Provider)."""
    if name not in names():
        raise KeyError(name)
    from modelsel.inputs.usercode import load_installed

    target = REGISTRY[name]
    cls = load_installed(target)
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ValueError(f"{target} is not a Provider (a subclass of modelsel.providers.base.Provider)")
    return cls


__all__ = ["CallRequest", "CallResult", "Provider", "ProviderError", "REGISTRY", "names", "provider_class", "register"]
