"""A Python function as a baseline candidate: `module:func`, e.g. the keyword rules a team has.

A plain function runs in a worker thread (within the candidate's concurrency), an `async def`
is awaited on the event loop; either way its latency is measured inside the thread or
coroutine that calls it, so a slow function never holds up, or inflates the latency of, the
other candidates' calls in flight.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

from modelsel.inputs import usercode
from modelsel.providers.base import (
    CallRequest,
    CallResult,
    Provider,
    ProviderError,
    on_this_machine,
)


def returned(out: Any) -> tuple[str, list[dict[str, Any]]]:
    """What a function returned as (text, calls). Text as it is; calls as
    `{"tool_calls": [{"name": ..., "arguments": {...}}], "content": "..."}` or a list of such calls;
    a dict of arguments becomes the JSON text an API would have sent."""
    import json

    calls = None
    if isinstance(out, dict) and "tool_calls" in out:
        calls, text = out["tool_calls"], out.get("content") or ""
    elif isinstance(out, list) and out and all(isinstance(c, dict) and "name" in c for c in out):
        calls, text = out, ""
    else:
        return str(out), []
    got = []
    for i, c in enumerate(calls or []):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise ProviderError("fatal", f"call {i + 1} the function returned is not {{'name': ..., 'arguments': ...}}")
        args = c.get("arguments", {})
        got.append({"id": str(c.get("id") or f"call_{i + 1}"), "name": c["name"],
                    "arguments": args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)})
    return str(text), got


class PythonProvider(Provider):
    default_concurrency = 4
    cacheable = False  # your own code on this machine: cheaper to run again than to store and look up
    takes_tools = takes_schema = True  # a function may return calls (see `returned`); the schema is yours to follow
    def __init__(self, candidate: Any, search_path: str | None = None) -> None:
        super().__init__(candidate, search_path)
        self._fn: Any = None
        self._arity = 1
        self._is_async = False

    @classmethod
    def model_key(cls, c: Any) -> str:
        return f"python|{c.id}"

    @classmethod
    def vendor_of(cls, spec: Any) -> str:
        return "in-process code"

    @classmethod
    def own_facts(cls, spec: Any) -> tuple[dict[str, Any], str]:
        # It receives the example, images and files included (each part's .blob names its file).
        return on_this_machine("your own code, run in-process", context_window=10**9,
                               modalities=["text", "image", "pdf"])

    def _load(self) -> Any:
        if self._fn is None:
            try:
                c = self.candidate
                self._fn = usercode.load(c.model, folder=self.search_path, roots=[self.search_path] if self.search_path
                                         else None, path=c.code_file)
                self._arity = usercode.arity(self._fn)
                self._is_async = inspect.iscoroutinefunction(self._fn)
            except BaseException as exc:  # your module failed to import (or ended the process): this candidate cannot run
                if not isinstance(exc, Exception) and not usercode.user_exit(exc):
                    raise
                raise ProviderError("fatal", f"cannot load {self.candidate.model}: {usercode.describe(exc)}") from None
        return self._fn

    def unavailable(self, load_code: bool = True) -> str | None:
        """Why it cannot run; `check` passes load_code=False, so your code is found but not run."""
        try:
            if not load_code:
                if not self.candidate.code_file:
                    usercode.module_file(self.candidate.model, self.search_path,
                                         [self.search_path] if self.search_path else None)
                return None
            self._load()
        except (ProviderError, ValueError) as exc:
            return str(exc)
        return None

    def _args(self, req: CallRequest) -> tuple[Any, ...]:
        text_in = req.example.text() if req.example is not None else req.prompt
        return (text_in, req.example) if self._arity >= 2 else (text_in,)

    def _timed(self, args: tuple[Any, ...]) -> tuple[Any, float]:
        t0 = time.perf_counter()
        out = self._fn(*args)
        return out, (time.perf_counter() - t0) * 1000

    async def complete(self, req: CallRequest) -> CallResult:
        self._load()
        args = self._args(req)
        try:
            if self._is_async:
                t0 = time.perf_counter()
                out = await self._fn(*args)
                latency = (time.perf_counter() - t0) * 1000
            else:
                out, latency = await asyncio.to_thread(self._timed, args)
        except BaseException as exc:  # the user's function failed (sys.exit included): an error against this candidate
            if not isinstance(exc, Exception) and not usercode.user_exit(exc):
                raise  # the run's own cancellation or a signal's Stopped
            raise ProviderError("fatal", usercode.describe(exc)) from None
        text, calls = returned(out)
        return CallResult(text=text, input_tokens=None, output_tokens=None, latency_ms=latency,
                          finish_reason="tool_calls" if calls else "stop", tool_calls=calls)
