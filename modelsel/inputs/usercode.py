"""Your own Python (a `python` candidate, a `python` scorer), named as `module:function`: found as a
file inside the requirements file's folder tree (or a folder `--allow-path` adds) and loaded from
that file. Never from the interpreter's path: `os:system` is not a module file beside your
requirements, so it is refused, not run."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

_ROOTS: list[Path] = []
_FOLDER: Path | None = None
_LOADED: dict[Path, Any] = {}


def configure(folder: Path, roots: list[Path]) -> None:
    """Where `module:function` references are looked for (folder) and may live (roots)."""
    global _FOLDER
    _FOLDER = Path(folder).resolve()
    _ROOTS[:] = [Path(r).resolve() for r in roots]


def inside(path: Path, roots: list[Path]) -> bool:
    p = Path(path).resolve()
    return any(p == r or r in p.parents for r in roots)


def module_file(ref: str, folder: Path | None = None, roots: list[Path] | None = None) -> Path:
    """The file a `module:function` reference names, or ValueError saying why not."""
    folder = Path(folder).resolve() if folder is not None else _FOLDER
    roots = [Path(r).resolve() for r in roots] if roots is not None else list(_ROOTS)
    module, sep, name = ref.partition(":")
    if not sep or not module or not name.isidentifier() or not all(p.isidentifier() for p in module.split(".")):
        raise ValueError(f"'{ref}' is not module:function (e.g. my_rules:classify)")
    if folder is None:
        raise ValueError("no folder to look for Python code in")
    base = folder.joinpath(*module.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            if not inside(cand, roots or [folder]):
                raise ValueError(f"{cand} is outside the requirements file's folder tree (widen it with --allow-path)")
            return cand.resolve()
    raise ValueError(f"no file {module.replace('.', '/')}.py in {folder} (Python code is loaded from the requirements "
                     "file's folder, never from installed modules)")


def load(ref: str, folder: Path | None = None, roots: list[Path] | None = None, path: Path | None = None) -> Any:
    """The function itself, its module loaded once from its file (`path` when already found)."""
    path = Path(path) if path is not None else module_file(ref, folder, roots)
    mod = _LOADED.get(path)
    if mod is None:
        name = "modelsel_user_" + "_".join(path.with_suffix("").parts[-3:]).replace("-", "_").replace(".", "_")
        spec = importlib.util.spec_from_file_location(name, path,
                                                      submodule_search_locations=[str(path.parent)]
                                                      if path.name == "__init__.py" else None)
        if spec is None or spec.loader is None:
            raise ValueError(f"cannot load {path}")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        if str(path.parent) not in sys.path:  # the module may import its siblings
            sys.path.insert(0, str(path.parent))
        spec.loader.exec_module(mod)
        _LOADED[path] = mod
    fn = getattr(mod, ref.partition(":")[2], None)
    if fn is None or not callable(fn):
        raise ValueError(f"{path} has no function '{ref.partition(':')[2]}'")
    return fn


def user_exit(exc: BaseException) -> bool:
    """A way out of the process that user code took (`sys.exit(0)`, `sys.exit(3)`, `raise
    KeyboardInterrupt`, `GeneratorExit`): that code's error, never the run's end. A signal's Stopped
    is modelsel's own (SIGTERM, SIGHUP) and ends the run as Ctrl-C does."""
    from modelsel.errors import Stopped

    return isinstance(exc, (SystemExit, KeyboardInterrupt, GeneratorExit)) and not isinstance(exc, Stopped)


def describe(exc: BaseException) -> str:
    """`Type: message`, and for a way out of the process what it was (`SystemExit(3)`)."""
    if isinstance(exc, SystemExit):
        return f"the code tried to end the process (SystemExit({exc.code!r}))"
    if user_exit(exc):
        return f"the code raised {type(exc).__name__}" + (f": {exc}" if str(exc) else "")
    return f"{type(exc).__name__}: {exc}"


def one_line(exc: BaseException) -> str:
    """`Type: message` on one line, every control character spelled out (a newline as \\n, ESC as \\x1b):
    an exception's text is outside text."""
    from modelsel.inputs.textfile import printable

    text = describe(exc)
    return printable(text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t"))


def load_installed(target: str) -> Any:
    """What an installed package's entry point names (`module:attribute`), imported; ValueError in one
    line when its module does not import (whatever it raises, sys.exit included) or lacks the attribute."""
    module, _, attr = target.split("[")[0].strip().partition(":")
    try:
        obj = importlib.import_module(module)
    except BaseException as exc:
        if not isinstance(exc, Exception) and not user_exit(exc):
            raise
        raise ValueError(f"{printable_ref(target)} does not import ({one_line(exc)})") from None
    for part in attr.split(".") if attr else []:
        try:
            obj = getattr(obj, part)
        except BaseException as exc:  # a module's __getattr__ is code too
            if not isinstance(exc, Exception) and not user_exit(exc):
                raise
            raise ValueError(f"{printable_ref(module)} has no '{printable_ref(attr)}'") from None
    return obj


def printable_ref(text: str) -> str:
    from modelsel.inputs.textfile import printable

    return printable(text.replace("\n", "\\n").replace("\r", "\\r"))


def arity(fn: Any) -> int:
    return len(inspect.signature(fn).parameters)
