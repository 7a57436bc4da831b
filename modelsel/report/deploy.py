"""`modelsel deploy`: the decision as the configuration that runs it (LiteLLM's proxy config.yaml, an
OpenRouter request body, or plain environment variables), made from the run's own summary so that what
production sends is what was measured: the chosen model first, then the fallback chain the record
names; per model the exact parameters, system prompt and template it was evaluated with; a timeout
from the measured p95 with a stated margin; retries from the error classes seen; the route table
when a routing strategy was recommended; a context-window fallback where the eval's inputs came near
a model's limit. A config that sends other parameters than were measured is not this decision:
`review --deployed FILE` holds a running config against it (deploy_check.py)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from modelsel.errors import InputError
from modelsel.schema import Summary

FORMATS = ("litellm", "openrouter", "env")
TIMEOUT_MARGIN = 1.5  # the timeout is the p95's upper bound times this: a slow answer is not cut at its p95
NEAR_LIMIT = 0.8  # inputs over this share of a model's context window get a context-window fallback
KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}
LITELLM_PREFIX = {"openai": "openai", "anthropic": "anthropic", "gemini": "gemini", "openai-compatible": "openai"}
RETRIED_KINDS = ("rate_limit", "server", "timeout", "connection", "stream_cut", "empty")


@dataclass
class Model:
    """One model of the decision as production must call it."""
    id: str
    provider: str
    model: str
    vendor: str
    base_url: str | None
    key_env: str | None
    params: dict[str, Any]
    system: str | None
    template: str | None
    p95_ms: float | None
    p95_bounded: bool
    context_window: int | None
    max_input_tokens: int | None
    retried: dict[str, int] = field(default_factory=dict)

    @property
    def routable(self) -> bool:
        """Whether a router can call it: your own code and the embedded model run in your application."""
        return self.provider in LITELLM_PREFIX


@dataclass
class Plan:
    run: str
    summary_sha256: str
    chain: list[Model]  # chosen first, then the fallbacks in order
    routes: dict[str, str] | None  # tag -> candidate id, when a routing strategy was recommended
    timeout_s: float | None
    timeout_why: str
    retries: int
    retries_why: str
    context_fallbacks: dict[str, list[str]]

    @property
    def chosen(self) -> Model:
        return self.chain[0]


def _sha(text: str | None) -> str | None:
    return hashlib.sha256(text.encode()).hexdigest() if text else None


def _spec(s: Summary, cid: str) -> dict[str, Any]:
    for c in s.requirements.get("candidates") or []:
        if isinstance(c, dict) and (c.get("id") == cid or (c.get("id") is None and c.get("catalog", "").split("/")[-1] == cid)):
            return c
    return {}


def _model(s: Summary, cid: str, max_input: dict[str, int]) -> Model:
    c = s.candidates[cid]
    cw = c.facts.get("context_window")
    p95 = c.latency.p95
    key = _spec(s, cid).get("api_key_env") or KEY_ENV.get(c.provider)
    return Model(id=cid, provider=c.provider, model=c.model, vendor=c.vendor, base_url=c.base_url, key_env=key,
                 params=dict(c.params), system=c.system, template=c.prompt,
                 p95_ms=(p95.hi if p95.hi is not None else p95.value), p95_bounded=p95.hi is not None,
                 context_window=int(cw.value) if cw is not None and isinstance(cw.value, int | float) else None,
                 max_input_tokens=max_input.get(cid), retried=dict(c.retry_kinds))


def plan(s: Summary, run: str, summary_text: str, max_input: dict[str, int]) -> Plan:
    """What to deploy, from the record: refused (InputError) when nothing was chosen."""
    d = s.decision
    if not d.chosen:
        raise InputError("no model was chosen in this run: there is no decision to deploy.", field="decision.chosen")
    order = [d.chosen] + ([d.fallback] if d.fallback else [])
    rec = s.strategies.recommended
    routes = None
    for st in s.strategies.strategies:
        if st.name == rec and st.kind == "fallback_chain":
            order = list(dict.fromkeys(st.members))
        if st.name == rec and st.kind == "routing" and st.table:
            routes = dict(st.table)
            order = list(dict.fromkeys([d.chosen, *st.table.values(), *order]))
    chain = [_model(s, cid, max_input) for cid in order if cid in s.candidates]
    bounds = [m.p95_ms for m in chain if m.p95_ms is not None]
    if bounds:
        worst = max(bounds)
        timeout = max(1.0, math.ceil(worst * TIMEOUT_MARGIN / 100) / 10)
        open_end = any(not m.p95_bounded for m in chain)
        why = (f"the slowest model's p95 {'estimate (too few calls to bound it)' if open_end else 'upper bound'} "
               f"{worst:,.0f} ms x {TIMEOUT_MARGIN:g}")
    else:
        timeout, why = None, "no latency was measured: set one from production"
    seen = {k: n for m in chain for k, n in m.retried.items() if k in RETRIED_KINDS and n}
    retries = 2 if seen else 1
    rwhy = (f"retryable errors seen in the eval ({', '.join(f'{k} {n}' for k, n in sorted(seen.items()))})" if seen
            else "no retryable error in the eval: one retry for the unseen")
    ctx: dict[str, list[str]] = {}
    for m in chain:
        if m.context_window and m.max_input_tokens and m.max_input_tokens >= NEAR_LIMIT * m.context_window:
            wider = [o.id for o in chain if o is not m and (o.context_window or 0) > m.context_window]
            if wider:
                ctx[m.id] = wider
    return Plan(run=run, summary_sha256=hashlib.sha256(summary_text.encode()).hexdigest(), chain=chain, routes=routes,
                timeout_s=timeout, timeout_why=why, retries=retries, retries_why=rwhy, context_fallbacks=ctx)


def _unroutable(p: Plan, fmt: str) -> None:
    bad = [m for m in p.chain if not m.routable]
    if bad:
        what = "; ".join(f"{m.id} ({'your own code' if m.provider == 'python' else 'the embedded model'})" for m in bad)
        raise InputError(f"{what} runs in your application, not behind a router: a {fmt} config cannot call it. "
                         "Use --format env, which names every model of the decision for your own code to read.",
                         field="--format")


def _metadata(m: Model, p: Plan) -> dict[str, Any]:
    """What the app must send with the model for it to be the model that was measured."""
    out: dict[str, Any] = {"modelsel_run": p.run, "modelsel_candidate": m.id}
    if m.system:
        out["system_prompt"], out["system_prompt_sha256"] = m.system, _sha(m.system)
    if m.template:
        out["prompt_template"], out["prompt_template_sha256"] = m.template, _sha(m.template)
    return out


def litellm(p: Plan) -> dict[str, Any]:
    """LiteLLM proxy config.yaml: one deployment per model (keys as os.environ/VAR), the fallbacks and
    context-window fallbacks in router_settings, tags for the route table."""
    _unroutable(p, "LiteLLM")
    public = p.chosen.id
    model_list = []
    for m in p.chain:
        lp: dict[str, Any] = {"model": f"{LITELLM_PREFIX[m.provider]}/{m.model}", **m.params}
        if m.key_env:
            lp["api_key"] = f"os.environ/{m.key_env}"
        if m.base_url:
            lp["api_base"] = m.base_url
        if p.timeout_s is not None:
            lp["timeout"] = p.timeout_s
        name = m.id
        if p.routes is not None:
            lp["tags"] = sorted({t for t, cid in p.routes.items() if cid == m.id}) or ["default"]
            name = public
        model_list.append({"model_name": name, "litellm_params": lp,
                           "model_info": {"id": m.id, "mode": "chat", "metadata": _metadata(m, p)}})
    rs: dict[str, Any] = {"num_retries": p.retries}
    if p.timeout_s is not None:
        rs["timeout"] = p.timeout_s
    if p.routes is not None:
        rs["enable_tag_filtering"] = True
    elif len(p.chain) > 1:
        rs["fallbacks"] = [{p.chain[0].id: [m.id for m in p.chain[1:]]}]
    if p.context_fallbacks and p.routes is None:
        rs["context_window_fallbacks"] = [{k: v} for k, v in p.context_fallbacks.items()]
    return {"model_list": model_list, "router_settings": rs}


def openrouter(p: Plan) -> dict[str, Any]:
    """An OpenRouter chat request body: `models` for the fallbacks, `provider` preferences that keep
    the measured parameters (require_parameters) and the requirements' data rules."""
    _unroutable(p, "OpenRouter")
    first = p.chosen
    body: dict[str, Any] = {"models": [f"{m.vendor}/{m.model}" for m in p.chain], **first.params,
                            "provider": {"require_parameters": True, "allow_fallbacks": len(p.chain) > 1}}
    if first.system:
        body["messages"] = [{"role": "system", "content": first.system}]
    others = {m.id: m.params for m in p.chain[1:] if m.params != first.params}
    if others:  # OpenRouter sends one set of parameters to every model in `models`: say so, don't hide it
        body["x-modelsel-note"] = ("the fallbacks were measured with other parameters (" + "; ".join(
            f"{k}: {json.dumps(v, sort_keys=True)}" for k, v in others.items()) + "): OpenRouter sends the first's to all")
    return body


def env(p: Plan) -> list[tuple[str, str]]:
    """Plain variables for an app that reads its own: every model of the chain with its parameters,
    system prompt and template, the timeout and the retries."""
    out = [("MODELSEL_RUN", p.run), ("MODELSEL_SUMMARY_SHA256", p.summary_sha256),
           ("MODELSEL_CHAIN", ",".join(m.id for m in p.chain))]
    for i, m in enumerate(p.chain, 1):
        pre = f"MODELSEL_MODEL_{i}"
        out += [(f"{pre}_ID", m.id), (f"{pre}_PROVIDER", m.provider), (f"{pre}_MODEL", m.model),
                (f"{pre}_PARAMS", json.dumps(m.params, sort_keys=True))]
        if m.base_url:
            out.append((f"{pre}_BASE_URL", m.base_url))
        if m.key_env:
            out.append((f"{pre}_KEY_ENV", m.key_env))
        if m.system:
            out.append((f"{pre}_SYSTEM", m.system))
        if m.template:
            out.append((f"{pre}_TEMPLATE", m.template))
    if p.timeout_s is not None:
        out.append(("MODELSEL_TIMEOUT_S", f"{p.timeout_s:g}"))
    out.append(("MODELSEL_RETRIES", str(p.retries)))
    if p.routes:
        out.append(("MODELSEL_ROUTES", json.dumps(p.routes, sort_keys=True)))
    return out


def env_text(pairs: list[tuple[str, str]], comments: list[str]) -> str:
    """A .env file: each value double-quoted with JSON's escapes (dotenv readers expand \\n there)."""
    from modelsel.inputs.textfile import spelled

    head = "".join(f"# {spelled(c)}\n" for c in comments)
    return head + "".join(f"{k}={json.dumps(v, ensure_ascii=True)}\n" for k, v in pairs)


def comments(p: Plan, fmt: str) -> list[str]:
    return [f"modelsel deploy --format {fmt}: the decision of run {p.run} (summary.json sha256 {p.summary_sha256[:16]})",
            f"chain: {' -> '.join(m.id for m in p.chain)}",
            f"timeout: {p.timeout_s:g} s, {p.timeout_why}" if p.timeout_s is not None else f"timeout: {p.timeout_why}",
            f"retries: {p.retries}, {p.retries_why}",
            "parameters, system prompt and template are those the eval measured: change them and this is not the decision"]


def _max_inputs(records: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        if r.input_tokens:
            out[r.candidate] = max(out.get(r.candidate, 0), int(r.input_tokens))
    return out


def render(p: Plan, fmt: str) -> str:
    """The file's text, checked before it is written (the LiteLLM config against the strict model)."""
    if fmt == "litellm":
        from modelsel.inputs.yamlsrc import yaml_text
        from modelsel.report.deploy_schema import LiteLLMConfig, check_keys

        data = litellm(p)
        check_keys(LiteLLMConfig.model_validate(data))
        return yaml_text(data, comments(p, fmt))
    if fmt == "openrouter":
        return json.dumps(openrouter(p), indent=2, ensure_ascii=False) + "\n"
    if fmt == "env":
        return env_text(env(p), comments(p, fmt))
    raise InputError(f"unknown format '{fmt}' (choose from {', '.join(FORMATS)}).", field="--format")


def load_plan(folder: Any) -> tuple[Any, Plan]:
    from modelsel.run.rundir import SUMMARY, RunDir

    rd = RunDir.open(folder)
    s = rd.summary()
    return rd, plan(s, str(rd.path), (rd.path / SUMMARY).read_text(encoding="utf-8"), _max_inputs(rd.records()))


def deploy(folder: Any, fmt: str, out: Any | None) -> tuple[Any, str]:
    """Write the config (default: deploy.<format ending> in the run folder) and name it in the record:
    summary.json's `deployments`, decision.md and report.html re-rendered. Returns (path, sha256)."""
    from datetime import UTC, datetime
    from pathlib import Path

    from modelsel.inputs.textfile import atomic_write, write_json
    from modelsel.report.rerender import rerender
    from modelsel.run.rundir import SUMMARY

    rd, p = load_plan(folder)
    text = render(p, fmt)
    path = Path(out) if out is not None else rd.path / {"litellm": "litellm-config.yaml", "openrouter":
                                                       "openrouter-request.json", "env": "decision.env"}[fmt]
    atomic_write(path, text)
    sha = hashlib.sha256(text.encode()).hexdigest()
    raw = rd.raw_summary()
    raw["deployments"] = [d for d in raw.get("deployments") or [] if d.get("file") != str(path)] + [
        {"format": fmt, "file": str(path), "sha256": sha, "at": datetime.now(UTC).isoformat(timespec="seconds")}]
    write_json(rd.path / SUMMARY, raw)
    rerender(rd.path, ("md", "html"), False)
    return path, sha
