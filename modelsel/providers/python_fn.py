"""A Python function as a baseline candidate: `module:func`, e.g. the keyword rules a team has."""

from __future__ import annotations

import importlib
import inspect
import sys
import time
from typing import Any

from modelsel.providers.base import CallRequest, CallResult, Provider, ProviderError


class PythonProvider(Provider):
    default_concurrency = 4

    def __init__(self, candidate: Any, search_path: str | None = None) -> None:
        super().__init__(candidate)
        self._fn: Any = None
        self._arity = 1
        self.search_path = search_path

    def _load(self) -> Any:
        if self._fn is None:
            module, _, name = self.candidate.model.partition(":")
            if self.search_path and self.search_path not in sys.path:
                sys.path.insert(0, self.search_path)
            try:
                mod = importlib.import_module(module)
                self._fn = getattr(mod, name)
                self._arity = len(inspect.signature(self._fn).parameters)
            except (ImportError, AttributeError) as exc:
                raise ProviderError("fatal", f"cannot load {self.candidate.model}: {exc}") from None
        return self._fn

    def unavailable(self) -> str | None:
        try:
            self._load()
        except ProviderError as exc:
            return str(exc)
        return None

    async def complete(self, req: CallRequest) -> CallResult:
        fn = self._load()
        arity = self._arity
        text_in = req.example.text() if req.example is not None else req.prompt
        t0 = time.perf_counter()
        try:
            out = fn(text_in, req.example) if arity >= 2 else fn(text_in)
        except Exception as exc:  # the user's function failed: an error against this candidate
            raise ProviderError("fatal", f"{type(exc).__name__}: {exc}") from None
        latency = (time.perf_counter() - t0) * 1000
        return CallResult(text=str(out), input_tokens=None, output_tokens=None, latency_ms=latency, finish_reason="stop")
