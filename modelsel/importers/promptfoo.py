"""`modelsel import promptfoo promptfooconfig.yaml`: a promptfoo config (OpenAI Evals exports
included, which are promptfoo configs) as a requirements file and an eval set.

- tests and their vars become examples (the vars feed the candidate's prompt template, which is
  promptfoo's own `{{var}}` syntax); defaultTest's vars and assertions apply to every test;
- each prompt x provider becomes a candidate: a catalog id where the provider names a model the
  catalog knows, a custom endpoint otherwise (Ollama, an OpenAI-compatible apiBaseUrl);
- assertions become scorers where one fits (equals, contains, icontains, contains-any/all, regex,
  starts-with, is-json, contains-json, similar, llm-rubric and model-graded-closedqa through a
  judge, their not- forms), latency and cost thresholds become requirements;
- what cannot be mapped (javascript, python and webhook assertions, providers modelsel cannot
  call, prompt functions) is listed with its file and line and left as a commented TODO in the
  requirements file. The requirements promptfoo has no words for (the quality bar, budget,
  volume, compliance) are left for the PM; `modelsel check` lists them as open.
"""

from __future__ import annotations

import copy
import csv
import glob
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelsel.catalog.models import catalog_id_for, load_catalog
from modelsel.errors import InputError
from modelsel.importers import promptfoo_tools as pt
from modelsel.importers import write_project
from modelsel.inputs.prompting import compile_template
from modelsel.inputs.starter import MARK
from modelsel.inputs.textfile import (
    MAX_EVALSET_BYTES,
    MAX_REQUIREMENTS_BYTES,
    jsonl_rows,
    read_text,
)
from modelsel.inputs.usercode import inside
from modelsel.inputs.yamlsrc import Lines, line_of, parse_yaml
from modelsel.providers.base import key_exposure

VAR_ONLY = re.compile(r"^\s*\{\{\s*([\w.]+)\s*\}\}\s*$")
# promptfoo provider prefixes -> (catalog vendor, modelsel provider for a custom endpoint, default base URL)
VENDORS = {"openai": ("openai", "openai", None), "anthropic": ("anthropic", "anthropic", None),
           "google": ("google", "gemini", None), "vertex": ("google", "gemini", None), "gemini": ("google", "gemini", None),
           "groq": ("groq", "openai-compatible", "https://api.groq.com/openai/v1"),
           "mistral": ("mistral", "openai-compatible", "https://api.mistral.ai/v1"),
           "cerebras": ("cerebras", "openai-compatible", "https://api.cerebras.ai/v1"),
           "deepseek": ("deepseek", "openai-compatible", "https://api.deepseek.com/v1"),
           "xai": ("x-ai", "openai-compatible", "https://api.x.ai/v1"),
           "togetherai": ("together", "openai-compatible", "https://api.together.xyz/v1"),
           "fireworks": ("fireworks", "openai-compatible", "https://api.fireworks.ai/inference/v1"),
           "ollama": (None, "openai-compatible", "http://localhost:11434/v1"),
           "vllm": (None, "openai-compatible", "http://localhost:8000/v1"),
           "localai": (None, "openai-compatible", "http://localhost:8080/v1")}
MODE_WORDS = {"chat", "messages", "completion", "responses"}


@dataclass
class Imported:
    requirements: dict[str, Any]
    examples: list[dict[str, Any]]
    todos: list[str] = field(default_factory=list)  # "file:line: what was not mapped, and why"
    mapped: list[str] = field(default_factory=list)  # what became what, for the terminal
    files: dict[str, str] = field(default_factory=dict)  # python modules for code providers, beside the requirements
    media: dict[str, Path] = field(default_factory=dict)  # image and PDF vars: copied beside the eval set, by name
    tooling: pt.Found = field(default_factory=pt.Found)  # tools, tool_choice and output schema the config sets


class _Ctx:
    def __init__(self, path: Path, lines: Lines) -> None:
        self.path, self.lines, self.todos, self.mapped = path, lines, [], []
        self.judge_at: tuple[Any, ...] | None = None  # the first model-graded assertion
        self.files: dict[str, str] = {}  # python modules written beside the requirements (echo, adapters)
        self.data: Any = None  # the whole config, for `$ref` pointers
        self.media: dict[str, Path] = {}  # image and PDF vars (file://x.png): name in the project -> the file
        self.tooling = pt.Found()  # the tools and output schema providers and prompts set

    def todo(self, loc: tuple[Any, ...], what: str) -> None:
        if loc and isinstance(loc[0], At):
            item = f"{loc[0].path}:{loc[0].line_of(tuple(loc[1:])) or '?'}: {what}"
        else:
            item = f"{self.path}:{line_of(self.lines, loc) or '?'}: {what}"
        if item not in self.todos:  # defaultTest's assertions are read once per test
            self.todos.append(item)

    def note(self, what: str) -> None:
        if what not in self.mapped:
            self.mapped.append(what)


@dataclass(frozen=True)
class At:
    """An item in a file the config points to (a tests CSV row, a test in a YAML list): a TODO's
    loc starting with one names that file; for YAML, the rest of the loc finds the exact line."""
    path: Path
    line: int | None
    lines: Any = None  # the YAML file's key lines, and this item's place in it
    prefix: tuple[Any, ...] = ()

    def line_of(self, rest: tuple[Any, ...]) -> int | None:
        return (line_of(self.lines, self.prefix + rest) if self.lines and rest else None) or self.line


# Where files a config points to may be read from: the config's folder tree, and folders the user
# names with --allow-path. Set by convert(), read by every file:// reference (imports are input).
_ROOTS: list[Path] = []


def _confined(p: Path, ref: str, what: str) -> Path:
    """`p`, or bad input when it lies outside the config's folder tree (a config from elsewhere must
    not make its own prompt out of /etc/passwd or ~/.ssh)."""
    if _ROOTS and not inside(p, _ROOTS):
        raise InputError(f"{what} '{ref}' is outside the config's folder tree ({_ROOTS[0]}); nothing was read. "
                         "Copy it into that folder, or widen the tree with --allow-path.", path=p)
    return p


def _glob(ctx: _Ctx, ref: str, what: str) -> list[Path]:
    """The files a `file://` glob matches, relative to the config: the folder the pattern starts from
    and every match must lie inside the tree (so `file:///etc/*` is refused even where nothing matches)."""
    rel = ref.removeprefix("file://")
    prefix = re.split(r"[*?\[]", rel)[0]
    root = prefix if prefix.endswith("/") or not prefix else os.path.dirname(prefix)
    _confined(Path(os.path.normpath(ctx.path.parent / (root or "."))), ref, f"{what} glob")
    return sorted(_confined(Path(os.path.normpath(m)), ref, what)
                  for m in glob.glob(str(ctx.path.parent / rel), recursive=True) if Path(m).is_file())


def _load_file(base: Path, ref: str, what: str) -> tuple[Any, list[int | None], Lines | None]:
    """The file's content, the line each top-level item starts on (for CSV, JSONL and YAML lists)
    and, for YAML, the line of every key."""
    p = _confined(Path(os.path.normpath(base / ref.removeprefix("file://"))), ref, what)
    if not p.is_file():
        raise InputError(f"{what} '{ref}' not found.", path=p)
    text = read_text(p, MAX_EVALSET_BYTES, what)
    try:
        if p.suffix in (".yaml", ".yml"):
            data, lines = parse_yaml(text, p, yaml12=True)
            return data, [lines.get((i,)) for i in range(len(data))] if isinstance(data, list) else [], lines
        if p.suffix == ".json":
            return json.loads(text), [], None
        if p.suffix == ".jsonl":
            rows = [(n, x) for n, x in enumerate(jsonl_rows(text), 1) if x.strip()]
            return [json.loads(x) for _, x in rows], [n for n, _ in rows], None
        if p.suffix == ".csv":
            reader = csv.DictReader(io.StringIO(text))
            out, starts = [], []
            for row in reader:
                out.append(row)
                starts.append(reader.line_num)  # the row's last line; a quoted cell may span several
            return out, starts, None
    except (ValueError, csv.Error) as exc:
        raise InputError(f"{what} cannot be read: {exc}.", path=p) from None
    return text, [], None


# --- prompts --------------------------------------------------------------------------------------------

def _listed(raw: Any, key: str, ctx: _Ctx) -> list[tuple[Any, tuple[Any, ...]]]:
    """`prompts:` or `providers:` items with where each is written: inline, or a YAML/JSON file
    holding the list (`prompts: file://configs/prompts.yaml`)."""
    if isinstance(raw, str) and raw.startswith("file://") and raw.endswith((".yaml", ".yml")) or (
            key == "providers" and isinstance(raw, str) and raw.startswith("file://") and raw.endswith(".json")):
        loaded, starts, lines = _load_file(ctx.path.parent, raw, f"{key} file")
        src = Path(os.path.normpath(ctx.path.parent / raw.removeprefix("file://")))
        items = loaded if isinstance(loaded, list) else [loaded]
        return [(x, (At(src, starts[k] if k < len(starts) else None, lines, (k,) if isinstance(loaded, list) else ()),))
                for k, x in enumerate(items)]
    if key == "prompts" and isinstance(raw, dict):  # the older {path: label} form
        return [({"id": k if str(k).startswith("file://") else f"file://{k}", "label": v}, (key, k))
                for k, v in raw.items()]
    items = raw if isinstance(raw, list) else [raw]
    return [(x, (key, i) if isinstance(raw, list) else (key,)) for i, x in enumerate(items)]


def _is_chat(x: Any) -> bool:
    return isinstance(x, list) and all(isinstance(m, dict) and "role" in m for m in x)


def _prompts(raw: Any, ctx: _Ctx) -> list[tuple[str, str, str | None, tuple[Any, ...]]]:
    """(label, user template, system text, where) for every prompt modelsel can run."""
    out = []
    for i, (p, loc) in enumerate(_listed(raw, "prompts", ctx)):
        label, text = f"p{i + 1}", p
        if isinstance(p, dict):
            label, text = str(p.get("label") or p.get("id") or label), p.get("raw") or p.get("id")
            for k, v in (p.get("config") or {}).items() if isinstance(p.get("config"), dict) else ():
                if k in pt.TOOL_KEYS:
                    pt.take(ctx.tooling, k, v, loc + ("config", k), f"prompt '{label}'", ctx, _load_file)
        if not isinstance(text, str):
            ctx.todo(loc, "a prompt modelsel cannot read")
            continue
        if (not text.startswith("file://") and re.fullmatch(r"[\w./-]+\.(txt|md|j2|jinja|json|ya?ml|csv)", text)
                and (ctx.path.parent / text).is_file()):
            text = "file://" + text  # promptfoo reads an existing file named without file:// too
        if text.startswith("file://") and text.endswith(".csv"):
            rows, _, _ = _load_file(ctx.path.parent, text, "prompts CSV")
            for k, row in enumerate(rows if isinstance(rows, list) else []):
                body = row.get("prompt") or next(iter(row.values()), None) if isinstance(row, dict) else None
                if body:
                    out.append((str(row.get("label") or f"{label}-{k + 1}"), str(body).strip(), None, loc))
            continue
        if text.startswith("file://"):
            if text.endswith((".js", ".py", ".ts", ".mjs", ".cjs")) or ":" in text.removeprefix("file://"):
                ctx.todo(loc, f"a prompt function ({text}): write its template by hand")
                continue
            if any(ch in text for ch in "*?["):  # one prompt per file, labelled by its name
                found = _glob(ctx, text, "prompt file")
                for f in found:
                    body = _load_file(ctx.path.parent, os.path.relpath(f, ctx.path.parent), "prompt file")[0]
                    if isinstance(body, str):
                        out.append((Path(f).name, body.strip(), None, loc))
                if not found:
                    ctx.todo(loc, f"no prompt file matches {text}")
                continue
            text = _load_file(ctx.path.parent, text, "prompt file")[0]
        if isinstance(text, str) and text.lstrip().startswith("["):
            try:
                text = json.loads(text)
            except ValueError:
                pass
        if _is_chat(text):  # chat format: a system message and one user turn map; more do not
            system = "\n".join(str(m.get("content", "")) for m in text if m.get("role") == "system") or None
            users = [m for m in text if m.get("role") != "system"]
            if len(users) != 1:
                ctx.todo(loc, f"a chat prompt with {len(users)} non-system turns: modelsel candidates take "
                              "a system message and one user template")
                continue
            out.append((label, str(users[0].get("content", "")), system, loc))
            continue
        if not isinstance(text, str):
            ctx.todo(loc, "a prompt modelsel cannot read")
            continue
        for j, part in enumerate(text.split("\n---\n")):  # promptfoo separates prompts in one file with ---
            out.append((label if j == 0 else f"{label}-{j + 1}", part.strip(), None, loc))
    return out


# --- providers ------------------------------------------------------------------------------------------

# Provider settings carried into a candidate's params as the API takes them (promptfoo's name -> ours).
PARAMS = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_tokens",
          "max_completion_tokens": "max_completion_tokens", "max_output_tokens": "max_output_tokens",
          "maxOutputTokens": "max_output_tokens", "seed": "seed", "stop": "stop", "reasoning_effort": "reasoning_effort",
          "thinking": "thinking", "generationConfig": "generation_config", "frequency_penalty": "frequency_penalty",
          "presence_penalty": "presence_penalty"}


def _params(cfg: dict[str, Any], spec: dict[str, Any], ctx: _Ctx, loc: tuple[Any, ...]) -> tuple[dict[str, Any], str | None]:
    """(params, system text) from a provider's settings; the ones modelsel cannot send are TODOs."""
    params: dict[str, Any] = {}
    for k, v in cfg.items():
        if k in pt.TOOL_KEYS and v is not None:  # the requirements' tools file, tool_choice and output schema
            pt.take(ctx.tooling, k, v, loc + ("config", k), f"provider '{spec.get('id')}'", ctx, _load_file)
        elif k in PARAMS and v is not None:
            params[PARAMS[k]] = v
        elif k not in ("apiBaseUrl", "apiHost", "apiKeyEnvar", "apiKey", "systemInstruction", "system"):
            ctx.todo(loc + ("config", k), f"provider setting '{k}' of '{spec.get('id')}' is not carried over")
    if isinstance(params.get("generation_config"), dict):  # Gemini's own block: its fields are the API's
        gc = params.pop("generation_config")
        params.update({PARAMS.get(k, k): v for k, v in gc.items()})
    if isinstance(cfg.get("apiKey"), str):
        ctx.todo(loc + ("config", "apiKey"), f"'{spec.get('id')}' has a key written in the config: modelsel reads keys "
                                             "from the environment only (set api_key_env); the key was not copied")
    system = cfg.get("systemInstruction") or cfg.get("system")
    if isinstance(system, dict):  # Gemini's {parts: [{text}]}
        system = " ".join(str(p.get("text", "")) for p in system.get("parts", []) if isinstance(p, dict))
    if isinstance(system, str) and system.startswith("file://"):  # the file's text, as promptfoo sends it
        key = "systemInstruction" if cfg.get("systemInstruction") else "system"
        try:
            body = _load_file(ctx.path.parent, system, "system instruction file")[0]
        except InputError as exc:
            ctx.todo(loc + ("config", key), f"'{spec.get('id')}': {exc}")
            body = None
        system = body.strip() if isinstance(body, str) else None
    return params, (str(system) if system else None)


def _code_provider(pid: str, label: str, loc: tuple[Any, ...], ctx: _Ctx) -> dict[str, Any] | None:
    """promptfoo's `echo` and `python:file.py` providers as python candidates (the module is
    written beside the requirements file by `write`)."""
    if pid == "echo":
        ctx.files["promptfoo_echo.py"] = ('"""promptfoo\'s echo provider: the prompt back (written by modelsel import)."""\n\n\n'
                                          "def echo(text):\n    return text\n")
        ctx.note(f"provider {pid} -> python candidate promptfoo_echo:echo")
        return {"id": _slug(label), "provider": "python", "model": "promptfoo_echo:echo"}
    if pid.startswith(("python:", "file://")) and pid.removeprefix("file://").removeprefix("python:").split(":")[0].endswith(".py"):
        ref = pid.removeprefix("file://").removeprefix("python:")
        file, _, fn = ref.partition(":")
        src = _confined(Path(os.path.normpath(ctx.path.parent / file)), pid, "python provider")
        name = "promptfoo_" + _slug(Path(file).stem).replace("-", "_")
        ctx.files[f"{name}.py"] = (
            # The file name is outside text: it appears only as a repr'd constant, never inside the docstring.
            '"""Calls promptfoo\'s python provider _SRC the way promptfoo does (call_api(prompt, options, context)\n'
            'returning {"output": ...}), as a modelsel python candidate (written by modelsel import)."""\n\n'
            "import importlib.util\nfrom pathlib import Path\n\n"
            f"_SRC = Path({str(src)!r})\n\n\n"
            "def call(text):\n"
            "    spec = importlib.util.spec_from_file_location('promptfoo_provider', _SRC)\n"
            "    mod = importlib.util.module_from_spec(spec)\n    spec.loader.exec_module(mod)\n"
            f"    out = getattr(mod, {fn or 'call_api'!r})(text, {{'config': {{}}}}, {{'vars': {{}}}})\n"
            "    return out.get('output', '') if isinstance(out, dict) else str(out)\n")
        ctx.note(f"provider {pid} -> python candidate {name}:call (an adapter to promptfoo's call_api)")
        if not src.is_file():
            ctx.todo(loc, f"provider '{pid}': {file} is not there; copy it beside the config before eval")
        return {"id": _slug(label), "provider": "python", "model": f"{name}:call"}
    return None


def _catalog_model(cat_id: str, catalog: dict[str, Any], loc: tuple[Any, ...], ctx: _Ctx) -> str:
    """The catalog id to write: a model shut down with a named successor becomes the successor (the
    config predates the shutdown), with a TODO saying so; a retired or deprecated one gets a TODO."""
    cm = catalog[cat_id]
    if cm.retired_on and cm.successor:
        ctx.todo(loc, f"{cat_id} was shut down on {cm.retired_on} ({cm.deprecation}); imported as {cm.successor}, "
                      "the replacement its vendor names: compare the two before relying on old results")
        return cm.successor
    if cm.retired_on:
        ctx.todo(loc, f"{cat_id} was shut down on {cm.retired_on} ({cm.deprecation}); eval refuses it: run "
                      "`modelsel shortlist REQ --write` for current models, then remove it")
    elif cm.shutdown_on:
        ctx.todo(loc, f"{cat_id}: {cm.deprecation}")
    return cat_id


def _provider(p: Any, loc: tuple[Any, ...], ctx: _Ctx, catalog: dict[str, Any], what: str = "provider") -> dict[str, Any] | None:
    spec = p if isinstance(p, dict) else {"id": p}
    pid = str(spec.get("id") or spec.get("model") or "")
    cfg = spec.get("config") or {}
    label = str(spec.get("label") or pid)
    if (code := _code_provider(pid, label, loc, ctx)) is not None:
        return code
    parts = pid.split(":")
    prefix = parts[0]
    model = ":".join(x for x in parts[1:] if x not in MODE_WORDS) if len(parts) > 1 else ""
    if prefix not in VENDORS or not model:
        ctx.todo(loc, (f"{what} '{pid}' has no modelsel equivalent (write it as a custom endpoint or a python "
                       "candidate)") if pid else f"a {what} entry without an id or model: modelsel cannot tell what "
                                                 "it calls")
        return None
    vendor, provider, base = VENDORS[prefix]
    if cfg.get("apiBaseUrl") and provider == "openai":  # promptfoo's openai provider at another server
        provider = "openai-compatible"
    params, system = _params(cfg if isinstance(cfg, dict) else {}, spec, ctx, loc)
    base_url = cfg.get("apiBaseUrl") or cfg.get("apiHost") or base
    out: dict[str, Any] = {}
    cat_id = catalog_id_for(vendor, model, catalog)
    if cat_id is not None and cat_id != f"{vendor}/{model}":
        ctx.note(f"{what} {pid}: the dated snapshot is catalog {cat_id}")
    if spec.get("label"):
        out["id"] = _slug(label)
    if system:
        out["system"] = system
    if cat_id in catalog and not cfg.get("apiBaseUrl"):
        out["catalog"] = _catalog_model(cat_id, catalog, loc, ctx)
        ctx.note(f"{what} {pid} -> catalog {out['catalog']}")
    else:
        if vendor and not cfg.get("apiBaseUrl"):
            ctx.todo(loc, f"'{pid}': {vendor}/{model} is not in modelsel's catalog (retired, renamed or newer than "
                          "the price snapshot): imported as a custom endpoint; check the id and state its price")
        out.update(id=_slug(label), provider=provider, model=model)
        if base_url:
            out["base_url"] = base_url
        if cfg.get("apiKeyEnvar"):
            out["api_key_env"] = cfg["apiKeyEnvar"]

        risk = key_exposure(str(base_url) if base_url else None, True, False)
        if risk is not None:  # imported as written, and said: check lists it, eval refuses it
            ctx.todo(loc, f"'{pid}': {risk}")
        out["price"] = {"input_per_mtok": 0, "output_per_mtok": 0, "source": f"{MARK}: the endpoint's price per Mtok"}
        ctx.note(f"{what} {pid} -> custom {provider} endpoint {base_url or '(default)'}")
        ctx.todo(loc, f"'{pid}': state its price and compliance facts (regions, training, retention)")
    if params:
        out["params"] = params
    return out


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-") or "candidate"


# --- assertions -----------------------------------------------------------------------------------------

@dataclass
class Mapped:
    scorers: list[dict[str, Any]] = field(default_factory=list)
    expected: Any = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    judge: bool = False


def _value(a: dict[str, Any], vars_: dict[str, Any], m: Mapped) -> tuple[Any, bool]:
    """The assertion's value with the test's vars filled in, and whether it is the test's expected
    answer (a `{{var}}` alone: the scorer then compares with `expected`, as modelsel's scorers do)."""
    v = a.get("value")
    if isinstance(v, str) and (mm := VAR_ONLY.match(v)) and mm.group(1) in vars_:
        val = vars_[mm.group(1)]
        if m.expected is None or m.expected == val:
            m.expected = val
            return None, True
        return val, False  # a second var compared with: its value, written out
    if isinstance(v, str) and "{{" in v:
        return _render(v, vars_), False
    return v, False


def _readable(a: Any, loc: tuple[Any, ...], ctx: _Ctx) -> dict[str, Any] | None:
    """The assertion with a `$ref: '#/assertionTemplates/x'` resolved, or None (and a TODO) when it
    cannot be read, has no type, or checks a transformed answer (scoring the raw one would be a
    different test)."""
    if isinstance(a, dict) and isinstance(a.get("$ref"), str):
        target: Any = ctx.data if a["$ref"].startswith("#/") else None
        for part in a["$ref"][2:].split("/") if target is not None else []:
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            ctx.todo(loc, f"assertion $ref {a['$ref']!r} does not name an assertion in this config")
            return None
        a = {**target, **{k: v for k, v in a.items() if k != "$ref"}}
    if not isinstance(a, dict):
        ctx.todo(loc, "an assertion modelsel cannot read")
        return None
    t = str(a.get("type", ""))
    if not t:
        ctx.todo(loc, "an assertion without a type")
        return None
    if a.get("transform"):
        ctx.todo(loc, f"assertion '{t}' checks a transformed answer (transform: {str(a['transform'])[:60]}); "
                      "port it as a python scorer")
        return None
    return a


def _assertion(a: dict[str, Any], loc: tuple[Any, ...], vars_: dict[str, Any], ctx: _Ctx, m: Mapped) -> None:
    """One promptfoo assertion as a modelsel scorer (or a requirement, or a TODO), into `m`."""
    got = _readable(a, loc, ctx)
    if got is None:
        return
    a, t = got, str(got["type"])
    neg = t.startswith("not-")
    base = t.removeprefix("not-")
    v, from_vars = _value(a, vars_, m)
    spec: dict[str, Any] | None = pt.assertion(base, v, a, ctx.tooling, m, ctx, loc, _load_file)
    if spec is not None:
        ctx.note(f"assertion '{base}' -> {spec['type']} scorer")
    elif base == "equals":
        spec = {"type": "exact"} if from_vars else {"type": "exact", "value": v}
        if not from_vars and not neg:
            m.expected = v if m.expected is None else m.expected
    elif base in ("contains", "icontains"):
        spec = {"type": "contains", "case_sensitive": base == "contains", **({} if from_vars else {"value": v})}
    elif base in ("contains-any", "icontains-any", "contains-all", "icontains-all"):
        kind = "contains_any" if base.endswith("any") else "contains_all"
        vals = v if isinstance(v, list) else [x.strip() for x in str(v).split(",")] if v is not None else None
        spec = {"type": kind, "case_sensitive": not base.startswith("i"), **({"values": vals} if vals else {})}
    elif base == "regex":
        spec = {"type": "regex", "ignore_case": False, **({} if from_vars else {"pattern": str(v)})}
    elif base == "starts-with" and not from_vars:
        spec = {"type": "regex", "pattern": "^" + re.escape(str(v)), "ignore_case": False}
    elif base in ("is-json", "contains-json"):
        spec = {"type": "json", **({"schema": v} if isinstance(v, dict) else {})}
    elif base == "similar":
        spec = {"type": "similarity", **({} if from_vars else {"value": v})}
        if a.get("threshold") is not None:
            spec["threshold"] = float(a["threshold"])
    elif base in ("llm-rubric", "model-graded-closedqa") and not neg:
        spec = {"type": "judge", "rubric": str(v)}
        m.judge = True
        ctx.judge_at = ctx.judge_at or loc
    elif base == "latency" and not neg:
        m.latency_ms = float(a.get("threshold") or 0) or None
        ctx.note(f"latency threshold {a.get('threshold')} ms -> latency.p95_ms")
        return
    elif base == "cost" and not neg:
        m.cost_usd = float(a.get("threshold") or 0) or None
        ctx.note(f"cost threshold ${a.get('threshold')} -> cost.max_per_request_usd")
        return
    if spec is None:
        ctx.todo(loc, f"assertion '{t}' has no modelsel scorer" + (
            " (a javascript/python check: port it as a python scorer, `type: python, function: module:func`)"
            if base in ("javascript", "python", "webhook") else ""))
        return
    if a.get("weight") is not None:
        spec["weight"] = float(a["weight"])
    if a.get("metric"):
        spec["metric"] = str(a["metric"])
    if a.get("threshold") is not None and "threshold" not in spec:
        ctx.todo(loc, f"assertion '{t}' threshold {a['threshold']}: modelsel scores it pass/fail (the run's "
                      "pass_threshold applies); set a scorer that takes a threshold if the partial score matters")
    m.scorers.append({"type": "not", "scorer": spec} if neg else spec)


# --- the whole config ------------------------------------------------------------------------------------

TEST_SUFFIXES = (".csv", ".yaml", ".yml", ".json", ".jsonl")


def _tests(raw: Any, ctx: _Ctx) -> list[tuple[Any, tuple[Any, ...]]]:
    """Every test with where it is written: inline (`tests: [...]`), in files (`tests: file://x.csv`,
    a folder of them, a glob, or a list of any of these) or both."""
    out: list[tuple[Any, tuple[Any, ...]]] = []
    for i, item in enumerate(raw if isinstance(raw, list) else [raw] if raw else []):
        here = ("tests", i) if isinstance(raw, list) else ("tests",)
        if not isinstance(item, str):
            out.append((item, here))
            continue
        if not item.startswith("file://") or item.endswith((".js", ".ts", ".py", ".mjs", ".cjs")) or ":" in item[7:]:
            ctx.todo(here, f"tests from '{item}' (a generator or a remote dataset): export them to a CSV or YAML file")
            continue
        rel = item.removeprefix("file://")
        target = ctx.path.parent / rel
        if any(ch in rel for ch in "*?["):
            files = [f for f in _glob(ctx, item, "tests file") if f.suffix in TEST_SUFFIXES]
        elif target.is_dir():
            _confined(Path(os.path.normpath(target)), item, "tests folder")
            files = sorted(p for p in target.iterdir() if p.suffix in TEST_SUFFIXES)
        else:
            files = [target]
        if not files:
            ctx.todo(here, f"no test file matches '{item}'")
        for f in files:
            loaded, starts, lines = _load_file(ctx.path.parent, str(f.relative_to(ctx.path.parent) if f.is_relative_to(
                ctx.path.parent) else f), "tests file")
            src = Path(os.path.normpath(f))
            rows = loaded if isinstance(loaded, list) else [loaded]
            for k, r in enumerate(rows):
                if isinstance(r, dict) and "vars" not in r and "assert" not in r:  # a CSV row: vars, __expected columns
                    vars_ = {c: v for c, v in r.items() if c and not c.startswith("__")}
                    asserts = [_csv_expected(v) for c, v in r.items() if c and c.startswith("__expected") and v]
                    if r.get("__threshold"):  # promptfoo's per-row threshold, for the row's similarity checks
                        asserts = [{**a, "threshold": float(r["__threshold"])} if a["type"].endswith("similar") else a
                                   for a in asserts]
                    md: dict[str, Any] = {}
                    for c, v in r.items():
                        if c and c.startswith("__metadata:") and v:
                            key = c.split(":", 1)[1]
                            # `key[]`: a list, comma separated, `\,` a comma inside a value
                            md[key.removesuffix("[]")] = ([x.replace("\\,", ",").strip() for x in re.split(r"(?<!\\),", v)]
                                                          if key.endswith("[]") else v)
                    r = {"vars": vars_, "assert": asserts, "description": r.get("__description"),
                         **({"metadata": md} if md else {})}
                out.append((r, (At(src, starts[k] if k < len(starts) else None, lines,
                                    (k,) if isinstance(loaded, list) else ()),)))
    return out


def _scenarios(raw: Any, ctx: _Ctx) -> list[tuple[Any, tuple[Any, ...]]]:
    """promptfoo's scenarios: every test of a scenario runs once for each of its var sets."""
    out: list[tuple[Any, tuple[Any, ...]]] = []
    for i, sc in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(sc, dict):
            ctx.todo(("scenarios", i), "a scenario modelsel cannot read")
            continue
        sets = sc.get("config") or [{}]
        for j, t in enumerate(sc.get("tests") or []):
            for k, cfg in enumerate(sets if isinstance(sets, list) else [sets]):
                if not isinstance(t, dict) or not isinstance(cfg, dict):
                    continue
                merged = {**t, "vars": {**(cfg.get("vars") or {}), **(t.get("vars") or {})}}
                if sc.get("description") or t.get("description"):
                    merged["description"] = " / ".join(str(x) for x in (sc.get("description"), t.get("description"),
                                                                         f"set {k + 1}") if x)
                out.append((merged, ("scenarios", i, "tests", j)))
    return out


def _var_values(name: str, v: Any, loc: tuple[Any, ...], ctx: _Ctx) -> list[Any]:
    """What promptfoo makes of one var: a list is one test per value; `file://x.txt` is the file's
    text, a glob one test per file; code files are TODOs."""
    if isinstance(v, list):
        return [x for item in v for x in _var_values(name, item, loc, ctx)] or [v]
    if not (isinstance(v, str) and v.startswith("file://")):
        return [v]
    ref = v.removeprefix("file://")
    if ref.lower().endswith(MEDIA_SUFFIXES):
        found = _glob(ctx, v, f"var '{name}' file") if any(ch in ref for ch in "*?[") else [
            _confined(Path(os.path.normpath(ctx.path.parent / ref)), v, f"var '{name}' file")]
        if not found or not all(f.is_file() for f in found):
            raise InputError(f"var '{name}' file '{v}' not found.", path=ctx.path, line=line_of(ctx.lines, loc + ("vars", name)))
        return [_media_var(f, ctx) for f in found]
    if ref.endswith((".py", ".js", ".ts", ".mjs", ".cjs")):
        ctx.todo(loc + ("vars", name), f"var '{name}' comes from code ({v}): write its values into the eval set")
        return [v]
    if any(ch in ref for ch in "*?["):
        texts = [_load_file(ctx.path.parent, os.path.relpath(f, ctx.path.parent), f"var '{name}' file")[0]
                 for f in _glob(ctx, v, f"var '{name}' file")]
        if not texts:
            ctx.todo(loc + ("vars", name), f"var '{name}': no file matches {v}")
        return [t if isinstance(t, str) else json.dumps(t) for t in texts] or [v]
    text = _load_file(ctx.path.parent, v, f"var '{name}' file")[0]
    return [text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)]


MEDIA_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".pdf")


@dataclass(frozen=True)
class MediaVar:
    """An image or PDF var (`file://receipt.png`): sent as an image or file part of the example,
    the file copied beside the eval set under `name`."""

    name: str

    def __str__(self) -> str:  # where a template names the var, its file's name stands
        return self.name


def _media_var(f: Path, ctx: _Ctx) -> MediaVar:
    try:
        rel = f.resolve().relative_to(ctx.path.parent.resolve()).as_posix()
    except ValueError:  # from an --allow-path folder
        rel = f"outside/{f.name}"
    ctx.media[rel] = f
    ctx.note("image and PDF vars (file://) -> image and file parts of the example's message, the files copied beside "
             "the eval set")
    return MediaVar(rel)


def _media_input(text: str, vars_: dict[str, Any]) -> Any:
    """The example's input: its text, followed by its image and PDF vars as parts."""
    media = [v for v in vars_.values() if isinstance(v, MediaVar)]
    if not media:
        return text
    text = re.sub(r"data:[\w/+.-]+;base64,", "", text)  # a data URL the prompt built around the var
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for m in media:
        kind = "file" if m.name.lower().endswith(".pdf") else "image"
        parts.append({"type": kind, "path": m.name})
    return [{"role": "user", "content": parts}]


def _expanded(tests: list[tuple[Any, tuple[Any, ...]]], default_vars: dict[str, Any], ctx: _Ctx
              ) -> list[tuple[Any, tuple[Any, ...]]]:
    """Each test once per combination of its vars' values, as promptfoo runs them (a 5-language x
    5-input test is 25 tests), with defaultTest's vars under its own."""
    import itertools

    out: list[tuple[Any, tuple[Any, ...]]] = []
    for t, loc in tests:
        if not isinstance(t, dict):
            out.append((t, loc))
            continue
        vars_ = {**default_vars, **(t.get("vars") or {})} if isinstance(t.get("vars") or {}, dict) else {}
        names = list(vars_)
        choices = [_var_values(k, vars_[k], loc, ctx) for k in names]
        for combo in itertools.product(*choices):
            out.append(({**t, "vars": dict(zip(names, combo, strict=True))}, loc))
    return out


def _csv_expected(v: str) -> dict[str, Any]:
    """promptfoo's CSV `__expected` cell: 'contains: x', 'icontains: x', 'regex: x', 'is-json', 'llm-rubric: x', or a bare value (equals)."""
    m = re.match(r"^(not-)?([a-z-]+)(?::\s*(.*))?$", v.strip(), re.S)
    if m and (m.group(2) in ("contains", "icontains", "regex", "starts-with", "is-json", "contains-json", "llm-rubric",
                             "similar", "equals", "javascript", "python", "contains-any", "contains-all")):
        return {"type": (m.group(1) or "") + m.group(2), "value": m.group(3)}
    return {"type": "equals", "value": v}


def convert(path: Path, allow: tuple[Path, ...] = ()) -> Imported:
    """A promptfoo config as a requirements mapping and an eval set, with the TODOs that did not carry over."""
    _ROOTS[:] = [path.resolve().parent, *(Path(a).resolve() for a in allow)]

    data, lines = parse_yaml(read_text(path, MAX_REQUIREMENTS_BYTES, "promptfoo config"), path, yaml12=True)
    if not isinstance(data, dict):
        raise InputError("a promptfoo config is a mapping (prompts:, providers:, tests:).", path=path, line=1)
    ctx = _Ctx(path, lines)
    ctx.data = data
    prompts = _prompts(data.get("prompts") or ["{{input}}"], ctx)
    catalog = load_catalog()
    providers = [(p, _prompt_filter(raw, [x[0] for x in prompts]))
                 for raw, loc in _providers(data.get("providers"), ctx) if (p := _provider(raw, loc, ctx, catalog))]
    if not providers:
        ctx.todo(("providers",), "no provider modelsel can call: add candidates, or run `modelsel shortlist REQ --write`")
    default, dloc = _default_test(data, path, ctx)
    dm = Mapped()  # defaultTest's assertions without a test's vars: the requirements' `scoring:`
    for j, a in enumerate(default.get("assert") or []):
        _assertion(a, dloc + ("assert", j), default.get("vars") or {}, ctx, dm)
    examples, found = _examples(data, path, lines, ctx, prompts, default, dloc, dm)
    req: dict[str, Any] = {
        "name": str(data.get("description") or path.parent.name),
        "task": str(data.get("description") or "TODO replace: what the model must do, in words"),
        "evalset": None, "scoring": dm.scorers or [{"type": "exact"}], "pass_threshold": 1.0,
        "candidates": _candidates(prompts, providers, examples, ctx),
    }
    if found.latency_ms:
        req["latency"] = {"p95_ms": found.latency_ms}
    if found.cost_usd:
        req["cost"] = {"max_per_request_usd": found.cost_usd}
    if found.judge:
        req["judge"] = _grader(default, dloc, ctx, catalog)
    if not examples:  # nothing to evaluate: refuse rather than write a project check rejects
        raise InputError("no tests could be read from this config" + (
            f" ({'; '.join(t.split(': ', 1)[-1] for t in ctx.todos if 'tests' in t or 'dataset' in t)[:300]})"
            if ctx.todos else "") + ": export the tests to a CSV or YAML file beside the config and import again; "
            "nothing was written.", path=path, field="tests")
    return Imported(req, examples, ctx.todos, ctx.mapped, ctx.files, ctx.media, ctx.tooling)


def _default_test(data: dict[str, Any], path: Path, ctx: _Ctx) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """defaultTest (inline or a file://), with a TODO for each key modelsel has no equivalent of."""
    default = data.get("defaultTest") or {}
    dloc: tuple[Any, ...] = ("defaultTest",)
    if isinstance(default, str):
        ref = default
        default, _, dlines = _load_file(path.parent, ref, "defaultTest file")
        dloc = (At(Path(os.path.normpath(path.parent / ref.removeprefix("file://"))), 1, dlines),)
        if not isinstance(default, dict):
            raise InputError("defaultTest is a mapping (vars:, assert:, options:).", path=dloc[0].path, line=1)
    for key in default:
        if key not in ("vars", "assert", "options", "metadata"):
            ctx.todo(dloc + (key,), f"defaultTest.{key} has no modelsel equivalent")
    if (default.get("options") or {}).get("transform"):
        ctx.todo(dloc + ("options", "transform"), "defaultTest.options.transform: modelsel scores the raw answer")
    return default, dloc


def _examples(data: dict[str, Any], path: Path, lines: Any, ctx: _Ctx, prompts: list[Any], default: dict[str, Any],
              dloc: tuple[Any, ...], dm: Mapped) -> tuple[list[dict[str, Any]], Mapped]:
    """Each test (and scenario) as an example, with its assertions as scorers; and what the
    assertions said about latency, cost and a judge, over all of them."""
    examples: list[dict[str, Any]] = []
    found = Mapped()
    found.judge, found.latency_ms, found.cost_usd = dm.judge, dm.latency_ms, dm.cost_usd
    for n, (t, loc) in enumerate(_expanded(_tests(data.get("tests"), ctx) + _scenarios(data.get("scenarios"), ctx),
                                           default.get("vars") or {}, ctx)):
        if not isinstance(t, dict):
            if loc and isinstance(loc[0], At):
                raise InputError("a test is a mapping (vars:, assert:).", path=loc[0].path, line=loc[0].line)
            raise InputError("a test is a mapping (vars:, assert:).", path=path, line=line_of(lines, loc), field=_field(loc))
        vars_ = t["vars"]
        m = Mapped()
        own = list(t.get("assert") or [])
        for j, a in enumerate(own + list(default.get("assert") or [])):
            _assertion(a, loc + ("assert", j) if j < len(own) else dloc + ("assert", j - len(own)), vars_, ctx, m)
        found.judge |= m.judge
        found.latency_ms = m.latency_ms or found.latency_ms
        found.cost_usd = m.cost_usd or found.cost_usd
        if (t.get("options") or {}).get("transform"):
            ctx.todo(loc + ("options",), "options.transform: modelsel scores the raw answer")
        ex: dict[str, Any] = {"id": f"t{n + 1}",
                              "input": _media_input(_render(prompts[0][1] if prompts else "{{input}}", vars_), vars_),
                              "vars": {k: str(v) if isinstance(v, MediaVar) else v for k, v in vars_.items()}}
        if tags := _tags(t):
            ex["tags"] = tags
        if m.expected is not None:
            ex["expected"] = m.expected
        if m.scorers:
            ex["scorer"] = m.scorers
        elif not dm.scorers:  # a placeholder `check` lists as open, never a silent pass
            ctx.todo(loc, f"test {n + 1} has no assertion modelsel can score: write its `scorer:` or `expected:` in "
                          "the eval set")
            ex.setdefault("expected", f"{MARK}: the answer test {n + 1} must give (its assertion did not carry over)")
        if t.get("description"):
            ex["meta"] = {"description": str(t["description"])}
        examples.append(ex)
    return examples, found


def _candidates(prompts: list[Any], providers: list[Any], examples: list[dict[str, Any]], ctx: _Ctx
                ) -> list[dict[str, Any]]:
    """A candidate per provider and prompt (a provider's own `prompts:` filter applied), each id unique."""
    cands: list[dict[str, Any]] = []
    _try_templates(prompts, examples, ctx)
    for label, template, system, _ in prompts:
        for p, allowed in providers:
            if allowed is not None and label not in allowed:
                continue
            c = copy.deepcopy(p)  # one mapping per candidate: YAML would write shared ones as &anchors
            if len(prompts) > 1:
                c["id"] = f"{c.get('id') or c.get('catalog')}-{_slug(label)}"
            c["prompt"] = template
            if system:
                c["system"] = c.get("system", "") + ("\n" if c.get("system") else "") + system
            cands.append(c)
    seen: dict[str, int] = {}
    for c in cands:  # two providers of one model (other settings, no label) get ids of their own
        cid = str(c.get("id") or c.get("catalog"))
        seen[cid] = seen.get(cid, 0) + 1
        if seen[cid] > 1:
            c["id"] = f"{cid}-{seen[cid]}"
    return cands


def _grader(default: dict[str, Any], dloc: tuple[Any, ...], ctx: _Ctx, catalog: Any) -> dict[str, Any]:
    """The judge for llm-rubric assertions: defaultTest.options.provider, else a catalog default and a TODO."""
    grader = (default.get("options") or {}).get("provider")
    gloc = dloc + ("options", "provider")
    if isinstance(grader, dict) and isinstance(grader.get("text"), dict | str):  # {text: ..., embedding: ...}
        grader, gloc = grader["text"], gloc + ("text",)
    g = _provider(grader, gloc, ctx, catalog, "grader") if grader else None
    if not g:
        ctx.todo(ctx.judge_at or ("tests",), "llm-rubric grader: promptfoo's default grader is an OpenAI model; the judge "
                                             "here is openai/gpt-6.1-terra: choose your own")
    return g or {"catalog": "openai/gpt-6.1-terra"}


def _prompt_filter(raw: Any, labels: list[str]) -> set[str] | None:
    """The labels of the prompts a provider runs (its `prompts:` list; ids or labels), None: all."""
    want = raw.get("prompts") if isinstance(raw, dict) else None
    if not want:
        return None
    want = [str(w) for w in (want if isinstance(want, list) else [want])]
    return {lab for lab in labels if lab in want}


def _field(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _try_templates(prompts: list[tuple[str, str, str | None, tuple[Any, ...]]], examples: list[dict[str, Any]],
                   ctx: _Ctx) -> None:
    """Render every prompt with every test's vars as a run will (Jinja, sandboxed, strict): a
    template that fails here (a Nunjucks-only filter, a var a test lacks) is a TODO now, not an
    error at the first call."""
    for label, template, _, loc in prompts:
        for ex in examples:
            try:
                compile_template(template).render({"input": ex["input"], "expected": ex.get("expected"), "tags": [],
                                            **ex["vars"]})
            except Exception as exc:  # jinja's TemplateError, or a filter's own error on this test's value
                ctx.todo(loc, f"prompt '{label}' does not render for test {ex['id']} ({type(exc).__name__}: "
                              f"{str(exc)[:80]}): modelsel templates are Jinja; rewrite what promptfoo's Nunjucks "
                              "allows and Jinja does not")
                break


def _providers(raw: Any, ctx: _Ctx) -> list[tuple[Any, tuple[Any, ...]]]:
    """Provider entries with where each is written; the `{id: options}` mapping form included."""
    if isinstance(raw, dict) and not {"id", "config"} & set(raw):
        return [({"id": k, **(v or {})}, ("providers", k)) for k, v in raw.items()]
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [(raw, ("providers",))]
    return _listed(raw, "providers", ctx)


def _tags(t: dict[str, Any]) -> list[str]:
    """metadata.tags as they are; every other metadata field as a `key:value` tag (min_by_tag can use it)."""
    md = t.get("metadata") or {}
    if not isinstance(md, dict):
        return []
    tags = [str(x) for x in md["tags"]] if isinstance(md.get("tags"), list) else []
    return tags + [f"{k}:{v}" for k, v in md.items() if k != "tags" and isinstance(v, str | int | float) and v != ""]


def _render(template: str, vars_: dict[str, Any]) -> str:
    """A readable input for the record: the first prompt with the test's vars filled in (the vars
    themselves where it does not render; `_try_templates` says why)."""
    try:
        return compile_template(template).render(vars_).strip() or json.dumps(vars_, ensure_ascii=False)
    except Exception:
        return json.dumps(vars_, ensure_ascii=False)


def write(imp: Imported, out: Path, slug: str, source: Path) -> tuple[Path, Path]:
    """requirements/<slug>.yaml (with the TODOs as comments) and evalsets/<slug>.jsonl under `out`."""
    head = [f"# Imported from {source} by `modelsel import promptfoo`.",
            "# Write down what promptfoo had no words for before comparing models: the quality bar",
            "# (quality.min_score), latency targets, budget and monthly volume, compliance and strategy.",
            "# `modelsel check` lists each as open until it is written."]
    folder = f"{slug}-files"  # image and PDF vars, beside the eval set
    for ex in imp.examples:
        if isinstance(ex["input"], list):
            for m in ex["input"]:
                for part in m["content"] if isinstance(m.get("content"), list) else []:
                    if "path" in part:
                        part["path"] = f"{folder}/{part['path']}"
    files = dict(imp.files)
    pt.into_project(imp.tooling, slug, imp.requirements, files)
    return write_project(out, slug, head, imp.todos, imp.requirements, imp.examples, files,
                         {f"{folder}/{rel}": src for rel, src in imp.media.items()})
