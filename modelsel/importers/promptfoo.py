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

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelsel.errors import InputError
from modelsel.starter import MARK
from modelsel.textfile import MAX_EVALSET_BYTES, MAX_REQUIREMENTS_BYTES, read_text
from modelsel.yamlsrc import Lines, line_of, parse_yaml

VAR_ONLY = re.compile(r"^\s*\{\{\s*([\w.]+)\s*\}\}\s*$")
# promptfoo provider prefixes -> (catalog vendor, modelsel provider for a custom endpoint, default base URL)
VENDORS = {"openai": ("openai", "openai", None), "anthropic": ("anthropic", "anthropic", None),
           "google": ("google", "gemini", None), "vertex": ("google", "gemini", None), "gemini": ("google", "gemini", None),
           "groq": ("groq", "openai-compatible", "https://api.groq.com/openai/v1"),
           "mistral": ("mistral", "openai-compatible", "https://api.mistral.ai/v1"),
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


class _Ctx:
    def __init__(self, path: Path, lines: Lines) -> None:
        self.path, self.lines, self.todos, self.mapped = path, lines, [], []
        self.judge_at: tuple[Any, ...] | None = None  # the first model-graded assertion

    def todo(self, loc: tuple[Any, ...], what: str) -> None:
        if loc and isinstance(loc[0], At):
            item = f"{loc[0].path}:{loc[0].line or '?'}: {what}"
        else:
            item = f"{self.path}:{line_of(self.lines, loc) or '?'}: {what}"
        if item not in self.todos:  # defaultTest's assertions are read once per test
            self.todos.append(item)

    def note(self, what: str) -> None:
        if what not in self.mapped:
            self.mapped.append(what)


@dataclass(frozen=True)
class At:
    """A place in a file the config points to (a tests CSV row), where a TODO's loc starts with one."""
    path: Path
    line: int | None


def _load_file(base: Path, ref: str, what: str) -> tuple[Any, list[int | None]]:
    """The file's content, and the line each top-level item starts on (for CSV, JSONL and YAML lists)."""
    p = (base / ref.removeprefix("file://")).resolve()
    if not p.is_file():
        raise InputError(f"{what} '{ref}' not found.", path=p)
    text = read_text(p, MAX_EVALSET_BYTES, what)
    try:
        if p.suffix in (".yaml", ".yml"):
            data, lines = parse_yaml(text, p, yaml12=True)
            return data, [lines.get((i,)) for i in range(len(data))] if isinstance(data, list) else []
        if p.suffix == ".json":
            return json.loads(text), []
        if p.suffix == ".jsonl":
            rows = [(n, x) for n, x in enumerate(text.splitlines(), 1) if x.strip()]
            return [json.loads(x) for _, x in rows], [n for n, _ in rows]
        if p.suffix == ".csv":
            reader = csv.DictReader(io.StringIO(text))
            out, starts = [], []
            for row in reader:
                out.append(row)
                starts.append(reader.line_num)  # the row's last line; a quoted cell may span several
            return out, starts
    except (ValueError, csv.Error) as exc:
        raise InputError(f"{what} cannot be read: {exc}.", path=p) from None
    return text, []


# --- prompts --------------------------------------------------------------------------------------------

def _prompts(raw: Any, ctx: _Ctx) -> list[tuple[str, str, str | None]]:
    """(label, user template, system text) for every prompt modelsel can run."""
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, p in enumerate(items):
        label, text = f"p{i + 1}", p
        if isinstance(p, dict):
            label, text = str(p.get("label") or p.get("id") or label), p.get("raw") or p.get("id")
        if not isinstance(text, str):
            ctx.todo(("prompts", i), "a prompt modelsel cannot read")
            continue
        if text.startswith("file://"):
            if text.endswith((".js", ".py", ".ts", ".mjs", ".cjs")) or ":" in text.removeprefix("file://"):
                ctx.todo(("prompts", i), f"a prompt function ({text}): write its template by hand")
                continue
            text = _load_file(ctx.path.parent, text, "prompt file")[0]
        if isinstance(text, str) and text.lstrip().startswith("["):
            try:
                text = json.loads(text)
            except ValueError:
                pass
        if isinstance(text, list):  # chat format: a system message and one user turn map; more do not
            system = "\n".join(m.get("content", "") for m in text if m.get("role") == "system") or None
            users = [m for m in text if m.get("role") != "system"]
            if len(users) != 1:
                ctx.todo(("prompts", i), f"a chat prompt with {len(users)} non-system turns: modelsel candidates take "
                                         "a system message and one user template")
                continue
            out.append((label, str(users[0].get("content", "")), system))
            continue
        for j, part in enumerate(str(text).split("\n---\n")):  # promptfoo separates prompts in one file with ---
            out.append((label if j == 0 else f"{label}-{j + 1}", part.strip(), None))
    return out


# --- providers ------------------------------------------------------------------------------------------

def _provider(p: Any, loc: tuple[Any, ...], ctx: _Ctx, catalog: set[str], what: str = "provider") -> dict[str, Any] | None:
    spec = p if isinstance(p, dict) else {"id": p}
    pid = str(spec.get("id") or "")
    cfg = spec.get("config") or {}
    label = str(spec.get("label") or pid)
    parts = pid.split(":")
    prefix = parts[0]
    model = ":".join(x for x in parts[1:] if x not in MODE_WORDS) if len(parts) > 1 else ""
    if prefix not in VENDORS or not model:
        ctx.todo(loc, f"provider '{pid}' has no modelsel equivalent (write it as a custom endpoint or a "
                                   "python candidate)")
        return None
    vendor, provider, base = VENDORS[prefix]
    if cfg.get("apiBaseUrl") and provider == "openai":  # promptfoo's openai provider at another server
        provider = "openai-compatible"
    params = {k: v for k, v in {"temperature": cfg.get("temperature"), "max_tokens": cfg.get("max_tokens"),
                                "top_p": cfg.get("top_p")}.items() if v is not None}
    base_url = cfg.get("apiBaseUrl") or cfg.get("apiHost") or base
    out: dict[str, Any] = {}
    cat_id = f"{vendor}/{model}" if vendor else None
    if cat_id in catalog and not cfg.get("apiBaseUrl"):
        out["catalog"] = cat_id
        ctx.note(f"{what} {pid} -> catalog {cat_id}")
    else:
        out.update(id=_slug(label), provider=provider, model=model)
        if base_url:
            out["base_url"] = base_url
        if cfg.get("apiKeyEnvar"):
            out["api_key_env"] = cfg["apiKeyEnvar"]
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


def _assertion(a: dict[str, Any], loc: tuple[Any, ...], vars_: dict[str, Any], ctx: _Ctx, m: Mapped) -> None:
    t = str(a.get("type", ""))
    neg = t.startswith("not-")
    base = t.removeprefix("not-")
    v, from_vars = _value(a, vars_, m)
    spec: dict[str, Any] | None = None
    if base == "equals":
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
    m.scorers.append({"type": "not", "scorer": spec} if neg else spec)


# --- the whole config ------------------------------------------------------------------------------------

def _tests(raw: Any, ctx: _Ctx) -> list[tuple[Any, tuple[Any, ...]]]:
    """Every test with where it is written: inline (`tests: [...]`), in files (`tests: file://x.csv`
    or a list of them) or both."""
    out: list[tuple[Any, tuple[Any, ...]]] = []
    for i, item in enumerate(raw if isinstance(raw, list) else [raw] if raw else []):
        if not (isinstance(item, str) and item.startswith("file://")):
            out.append((item, ("tests", i) if isinstance(raw, list) else ("tests",)))
            continue
        if any(ch in item for ch in "*?["):
            ctx.todo(("tests", i) if isinstance(raw, list) else ("tests",), f"a glob of test files ({item}): list the files")
            continue
        loaded, starts = _load_file(ctx.path.parent, item, "tests file")
        src = (ctx.path.parent / item.removeprefix("file://")).resolve()
        rows = loaded if isinstance(loaded, list) else [loaded]
        for k, r in enumerate(rows):
            if isinstance(r, dict) and "vars" not in r and "assert" not in r:  # a CSV row: vars, __expected columns
                vars_ = {c: v for c, v in r.items() if c and not c.startswith("__")}
                asserts = [_csv_expected(v) for c, v in r.items() if c and c.startswith("__expected") and v]
                r = {"vars": vars_, "assert": asserts, "description": r.get("__description")}
            out.append((r, (At(src, starts[k] if k < len(starts) else None),)))
    return out


def _csv_expected(v: str) -> dict[str, Any]:
    """promptfoo's CSV `__expected` cell: 'contains: x', 'icontains: x', 'regex: x', 'is-json', 'llm-rubric: x', or a bare value (equals)."""
    m = re.match(r"^(not-)?([a-z-]+)(?::\s*(.*))?$", v.strip(), re.S)
    if m and (m.group(2) in ("contains", "icontains", "regex", "starts-with", "is-json", "contains-json", "llm-rubric",
                             "similar", "equals", "javascript", "python", "contains-any", "contains-all")):
        return {"type": (m.group(1) or "") + m.group(2), "value": m.group(3)}
    return {"type": "equals", "value": v}


def convert(path: Path) -> Imported:
    from modelsel.catalog import load_catalog

    data, lines = parse_yaml(read_text(path, MAX_REQUIREMENTS_BYTES, "promptfoo config"), path, yaml12=True)
    if not isinstance(data, dict):
        raise InputError("a promptfoo config is a mapping (prompts:, providers:, tests:).", path=path, line=1)
    ctx = _Ctx(path, lines)
    prompts = _prompts(data.get("prompts") or ["{{input}}"], ctx)
    catalog = set(load_catalog())
    providers = [p for i, raw in enumerate(_as_list(data.get("providers"))) if (p := _provider(raw, ('providers', i), ctx, catalog))]
    default = data.get("defaultTest") or {}
    if isinstance(default, str):
        default = _load_file(path.parent, default, "defaultTest file")[0]
    for key in default:
        if key not in ("vars", "assert", "options", "metadata"):
            ctx.todo(("defaultTest", key), f"defaultTest.{key} has no modelsel equivalent")
    if (default.get("options") or {}).get("transform"):
        ctx.todo(("defaultTest", "options", "transform"), "defaultTest.options.transform: modelsel scores the raw answer")
    dm = Mapped()  # defaultTest's assertions without a test's vars: the requirements' `scoring:`
    for j, a in enumerate(default.get("assert") or []):
        _assertion(a, ("defaultTest", "assert", j), default.get("vars") or {}, ctx, dm)
    examples, judge = [], dm.judge
    latency, cost = dm.latency_ms, dm.cost_usd
    for n, (t, loc) in enumerate(_tests(data.get("tests"), ctx)):
        if not isinstance(t, dict):
            if loc and isinstance(loc[0], At):
                raise InputError("a test is a mapping (vars:, assert:).", path=loc[0].path, line=loc[0].line)
            raise InputError("a test is a mapping (vars:, assert:).", path=path, line=line_of(lines, loc), field=_field(loc))
        vars_ = {**(default.get("vars") or {}), **(t.get("vars") or {})}
        m = Mapped()
        for j, a in enumerate(list(t.get("assert") or []) + list(default.get("assert") or [])):
            here = loc + ("assert", j) if j < len(t.get("assert") or []) else ("defaultTest", "assert", j - len(t.get("assert") or []))
            _assertion(a, here, vars_, ctx, m)
        judge |= m.judge
        latency = m.latency_ms or latency
        cost = m.cost_usd or cost
        if (t.get("options") or {}).get("transform"):
            ctx.todo(loc + ("options",), "options.transform: modelsel scores the raw answer")
        ex: dict[str, Any] = {"id": f"t{n + 1}", "input": _render(prompts[0][1] if prompts else "{{input}}", vars_),
                              "vars": vars_}
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
    cands = []
    for label, template, system in prompts:
        for p in providers:
            c = dict(p)
            if len(prompts) > 1:
                c["id"] = f"{c.get('id') or c.get('catalog')}-{_slug(label)}"
            c["prompt"] = template
            if system:
                c["system"] = system
            cands.append(c)
    req: dict[str, Any] = {
        "name": str(data.get("description") or path.parent.name),
        "task": str(data.get("description") or "TODO replace: what the model must do, in words"),
        "evalset": None, "scoring": dm.scorers or [{"type": "exact"}], "pass_threshold": 1.0,
        "candidates": cands,
    }
    if latency:
        req["latency"] = {"p95_ms": latency}
    if cost:
        req["cost"] = {"max_per_request_usd": cost}
    if judge:
        grader = (default.get("options") or {}).get("provider")
        g = _provider(grader, ('defaultTest', 'options', 'provider'), ctx, catalog, "grader") if grader else None
        req["judge"] = g or {"catalog": "openai/gpt-6.1-terra"}
        if not g:
            ctx.todo(ctx.judge_at or ("tests",), "llm-rubric grader: promptfoo's default grader is an OpenAI model; the judge here "
                                       "is openai/gpt-6.1-terra: choose your own")
    return Imported(req, examples, ctx.todos, ctx.mapped)


def _field(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _as_list(x: Any) -> list[Any]:
    if x is None:
        return []
    if isinstance(x, dict) and not {"id", "config"} & set(x):  # {id: options} mapping form
        return [{"id": k, **(v or {})} for k, v in x.items()]
    return x if isinstance(x, list) else [x]


def _tags(t: dict[str, Any]) -> list[str]:
    md = t.get("metadata") or {}
    tags = md.get("tags") if isinstance(md, dict) else None
    return [str(x) for x in tags] if isinstance(tags, list) else []


def _render(template: str, vars_: dict[str, Any]) -> str:
    """A readable input for the record: the first prompt with the test's vars filled in."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    try:
        return ImmutableSandboxedEnvironment().from_string(template).render(**vars_).strip() or json.dumps(vars_)
    except Exception:
        return json.dumps(vars_, ensure_ascii=False)


def write(imp: Imported, out: Path, slug: str, source: Path) -> tuple[Path, Path]:
    """requirements/<slug>.yaml (with the TODOs as comments) and evalsets/<slug>.jsonl under `out`."""
    from modelsel.store import atomic_write

    req_path, es_path = out / "requirements" / f"{slug}.yaml", out / "evalsets" / f"{slug}.jsonl"
    for p in (req_path, es_path):
        if p.exists():
            raise InputError("exists; choose another --out or remove it first.", path=p, field="--out")
    imp.requirements["evalset"] = f"../evalsets/{slug}.jsonl"
    head = [f"# Imported from {source} by `modelsel import promptfoo`.",
            "# Write down what promptfoo had no words for before comparing models: the quality bar",
            "# (quality.min_score), latency targets, budget and monthly volume, compliance and strategy.",
            "# `modelsel check` lists each as open until it is written."]
    if imp.todos:
        head += ["#", "# Not carried over (TODO):"] + [f"#   TODO {t}" for t in imp.todos]
    body = yaml.safe_dump(imp.requirements, sort_keys=False, allow_unicode=True, width=110)
    atomic_write(req_path, "\n".join(head) + "\n" + body)
    atomic_write(es_path, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in imp.examples))
    return req_path, es_path
