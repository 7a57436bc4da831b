"""Traces -> a requirements file and an eval set: the sample's calls become examples (production's
answer kept as `reference`, or as `expected` with --expected-from-output), the traced models become
candidates with the system prompt found in the traces, and the requirements' `production:` block
records what production runs today (latency from span times, token usage) and how the sample
compares with the whole traffic."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelsel.analysis.metrics import BUCKETS
from modelsel.analysis.stats import quantile_ci
from modelsel.catalog.models import catalog_id_for, load_catalog
from modelsel.errors import InputError
from modelsel.importers import write_project
from modelsel.importers.traces.calls import TracedCall
from modelsel.importers.traces.pii import KINDS, Redactor
from modelsel.importers.traces.read import read_traces
from modelsel.importers.traces.sample import (
    Drawn,
    Options,
    attributes_used,
    draw,
    lengths,
    profile,
)
from modelsel.inputs.production import Production, Timing, TracedModel
from modelsel.inputs.textfile import spelled

# gen_ai.provider.name / gen_ai.system / llm.provider values -> catalog vendors
VENDORS = {"openai": "openai", "azure.ai.openai": "openai", "az.ai.openai": "openai", "anthropic": "anthropic",
           "gcp.gemini": "google", "gcp.vertex_ai": "google", "gcp.gen_ai": "google", "vertex_ai": "google",
           "gemini": "google", "google": "google", "mistral_ai": "mistral", "mistralai": "mistral", "mistral": "mistral",
           "groq": "groq", "deepseek": "deepseek", "x_ai": "x-ai", "xai": "x-ai", "together": "together",
           "fireworks": "fireworks", "cerebras": "cerebras"}
_BY_NAME = (("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"), ("claude", "anthropic"),
            ("gemini", "google"), ("mistral", "mistral"), ("grok", "x-ai"), ("deepseek", "deepseek"))


@dataclass
class Imported:
    requirements: dict[str, Any]
    examples: list[dict[str, Any]]
    todos: list[str] = field(default_factory=list)
    mapped: list[str] = field(default_factory=list)
    production: Production | None = None


def vendor_of(call: TracedCall) -> str | None:
    v = VENDORS.get(str(call.vendor or "").lower())
    if v:
        return v
    name = (call.model or "").lower().split("/")[-1]
    return next((v for prefix, v in _BY_NAME if name.startswith(prefix)), None)


def _timing(seconds: list[float], ttft: list[float] | None = None) -> Timing:
    x = np.array(seconds) * 1000
    if not len(x):
        return Timing(n=0)
    p95 = quantile_ci(x, 95)  # with its distribution-free interval, as the candidates' p95 is given
    return Timing(n=len(x), p50_ms=round(float(np.percentile(x, 50)), 1), p95_ms=round(float(p95.value or 0), 1),
                  p95_lo_ms=None if p95.lo is None else round(p95.lo, 1), p95_hi_ms=None if p95.hi is None else round(p95.hi, 1),
                  ttft_p50_ms=round(float(np.median(ttft)) * 1000, 1) if ttft else None)


def _traced_models(calls: list[TracedCall], candidates: dict[str, str]) -> dict[str, TracedModel]:
    by_model: dict[str, list[TracedCall]] = {}
    for c in calls:
        by_model.setdefault(c.model or "unknown", []).append(c)
    out = {}
    edges = [0] + [e for e, _ in BUCKETS]
    for m, cs in sorted(by_model.items(), key=lambda kv: -len(kv[1])):
        timed = [c for c in cs if c.seconds is not None]
        buckets = {}
        for lo, (hi, label) in zip(edges, BUCKETS, strict=False):
            inb = [c.seconds for c in timed if lo <= c.tokens_in() < hi]
            if inb:
                buckets[label] = _timing(inb)  # type: ignore[arg-type]
        tin = [c.input_tokens for c in cs if c.input_tokens is not None and c.input_tokens >= 0]
        tout = [c.output_tokens for c in cs if c.output_tokens is not None and c.output_tokens >= 0]
        ttft = [c.first_token - c.start for c in timed if c.first_token is not None and c.start is not None
                and c.first_token >= c.start]
        out[m] = TracedModel(candidate=candidates.get(m), calls=len(cs), share=round(len(cs) / len(calls), 4),
                             latency=_timing([c.seconds for c in timed], ttft),  # type: ignore[misc]
                             by_input=buckets if len(buckets) > 1 else {},
                             input_tokens_mean=round(sum(tin) / len(tin), 1) if tin else None,
                             output_tokens_mean=round(sum(tout) / len(tout), 1) if tout else None,
                             system_prompts=len({c.system_key if c.system_key is not None else c.system for c in cs}))
    return out


def _candidates(sample: list[TracedCall], catalog: dict[str, Any], todos: list[str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """A candidate per traced model in the sample; its system prompt when every sampled call of it had the same."""
    cands, ids = [], {}
    by_model: dict[str, list[TracedCall]] = {}
    for c in sample:
        by_model.setdefault(c.model or "unknown", []).append(c)
    for model, cs in sorted(by_model.items(), key=lambda kv: -len(kv[1])):
        cat = catalog_id_for(vendor_of(cs[0]), model, catalog) if model != "unknown" else None
        if cat is None:
            todos.append(f"{cs[0].where}: the traced model '{model}' (provider '{cs[0].vendor or '?'}') is not in the "
                         "catalog: add it as a custom candidate (provider, model, base_url, price) to compare with it")
            continue
        spec: dict[str, Any] = {"id": f"today-{cat.split('/', 1)[1]}", "catalog": cat}
        systems = Counter(c.system for c in cs)
        if len(systems) == 1 and next(iter(systems)):
            spec["system"] = next(iter(systems))
        cands.append(spec)
        ids[model] = spec["id"]
    return cands, ids


def _example(i: int, c: TracedCall, template: str | None, redact: Redactor, expected: bool) -> dict[str, Any]:
    msgs = [{"role": m["role"], "content": redact(m["content"]) or ""} for m in c.messages]
    if c.system and c.system != template:
        msgs.insert(0, {"role": "system", "content": redact(c.system) or ""})
    one_turn = len(msgs) == 1 and msgs[0]["role"] == "user"
    ex: dict[str, Any] = {"id": f"trace-{i:04d}", "input": msgs[0]["content"] if one_turn else msgs}
    out = redact(c.output) if c.output is not None else None
    if expected and out is not None:
        ex["expected"] = out
    if out is not None:
        ex["reference"] = out
    ex["tags"] = [spelled(redact(t) or t) for t in c.tags]  # a tag is a name: one printable line
    ex["meta"] = {k: v for k, v in {"trace_id": c.trace_id, "span_id": c.span_id, "source": c.where,
                                    "model": c.model, "latency_ms": round(c.seconds * 1000, 1) if c.seconds is not None else None,
                                    "input_tokens": c.input_tokens, "output_tokens": c.output_tokens}.items()
                  if v not in (None, "")}
    return ex


def convert(paths: list[Path], o: Options, *, keep_pii: bool = False, expected_from_output: bool = False,
            phone_region: str = "US") -> Imported:
    r = read_traces(paths, slim=attributes_used(o))
    spans = len(r.calls) + sum(r.skipped.values())
    if not r.calls:
        raise InputError(f"no model calls with their messages in {spans:,} span(s) read"
                         + (f" ({_kinds(r.skipped)})" if r.skipped else "") + "; nothing was written. Traces need the "
                         "prompts and answers recorded (e.g. OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true).",
                         path=paths[0])
    d = draw(r.calls, o)
    traffic = d.traffic
    if not traffic:
        raise InputError(f"none of the {len(r.calls):,} model calls passes --since/--until/--where; nothing was written.",
                         path=paths[0], field="--where")
    d.calls = whole(paths, d.calls)
    todos: list[str] = []
    if d.included > o.sample:
        todos.append(f"--include took {d.included} calls, more than --sample {o.sample}: every one is in the eval set")
    cands, ids = _candidates(d.calls, load_catalog(), todos)
    redact = Redactor(phone_region) if not keep_pii else (lambda s: s)
    templates = {c["id"]: c.get("system") for c in cands}
    examples = [_example(i + 1, c, templates.get(ids.get(c.model or "unknown", "")), redact, expected_from_output)  # type: ignore[arg-type]
                for i, c in enumerate(d.calls)]
    for spec in cands:
        if spec.get("system"):
            spec["system"] = redact(spec["system"])
    prod = _production(paths, r.skipped, traffic, d, o, ids, redact, keep_pii, expected_from_output, len(r.calls))
    req = _requirements(paths, cands, prod, o, expected_from_output)
    if "judge" in req:
        todos.append(f"the judge is {req['judge']['catalog']}, today's model: a judge that is also a candidate tends to "
                     "favour its own answers; choose another judge (or write `expected` answers and an exact scorer)")
    mapped = [f"{len(r.calls):,} model calls read ({'; '.join(r.formats)}), {sum(r.skipped.values()):,} other spans "
              f"skipped" + (f" ({_kinds(r.skipped)})" if r.skipped else ""),
              f"{d.exact_repeats:,} exact and {d.near_repeats:,} near-exact repeats removed; {d.unique:,} distinct calls",
              f"sample of {len(d.calls)}: " + (f"{d.included} taken whole by --include ({', '.join(o.include)}), " if o.include else "")
              + f"{len(d.calls) - d.included} drawn {o.allocation}ly within {len(d.strata)} strata (model x input length"
              + (f" x {d.route_key}" if d.route_key else "") + f"), seed {o.seed}"]
    mapped += [f"production today: {m} ({t.share:.0%} of calls) -> candidate {t.candidate}" for m, t in prod.models.items() if t.candidate]
    if not keep_pii:
        mapped.append("personal data redacted: " + (", ".join(f"{n} {k}" for k, n in prod.pii_redacted.items() if n) or "none found"))
    return Imported(req, examples, todos, mapped, prod)


def _kinds(c: Counter[str]) -> str:
    return ", ".join(f"{k} {n:,}" for k, n in c.most_common())


def _production(paths: list[Path], skipped: Counter[str], traffic: list[TracedCall], d: Drawn, o: Options,
                ids: dict[str, str], redact: Any, keep_pii: bool, expected: bool, model_calls: int) -> Production:
    proportional = d.calls[d.included:]
    sample = profile(d.calls, d.route_key) | {
        "size": len(d.calls), "included": d.included, "include": list(o.include), "proportional": len(proportional),
        "proportional_profile": profile(proportional, d.route_key) if d.included else None,
        "allocation": o.allocation, "seed": o.seed, "route_key": d.route_key, "strata": len(d.strata),
        "distinct_calls": d.unique, "exact_repeats": d.exact_repeats, "near_repeats": d.near_repeats}
    total = model_calls + sum(skipped.values())
    return Production(
        source=[str(p) for p in paths], models=_traced_models(traffic, ids), whole=profile(traffic, d.route_key),
        sample=sample, skipped=dict(skipped.most_common()), model_calls=model_calls,
        filters={k: v for k, v in {"since": _iso(o.since), "until": _iso(o.until),
                                   "where": [f"{k}={v}" for k, v in o.where] or None}.items() if v},
        pii_redacted={k: redact.counts.get(k, 0) for k in KINDS} if not keep_pii else {},
        pii_kept=keep_pii, expected_from_output=expected) if total else None  # type: ignore[return-value]


def _iso(t: float | None) -> str | None:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z") if t is not None else None


def _requirements(paths: list[Path], cands: list[dict[str, Any]], prod: Production, o: Options, expected: bool) -> dict[str, Any]:
    today = prod.today()
    scoring: list[dict[str, Any]] = [{"type": "exact"}] if expected else [
        {"type": "judge", "rubric": "TODO replace: what makes an answer right for this task"}]
    req: dict[str, Any] = {
        "name": f"From production traces ({Path(paths[0]).stem})",
        "task": "TODO replace: what the model must do, in words",
        "evalset": None, "scoring": scoring, "pass_threshold": 0.5 if not expected else 1.0, "candidates": cands,
    }
    if not expected and cands:
        # A judge is needed to score free answers; today's model is the one catalog model sure to be reachable.
        req["judge"] = {"catalog": cands[0]["catalog"]}
    if today and today[1].latency.p95_ms:
        req["latency"] = {"p95_ms": round(today[1].latency.p95_ms)}  # today's figure as the bar to hold; the PM may move it
    req["production"] = json.loads(prod.model_dump_json(exclude_defaults=False))
    return req


def write(imp: Imported, out: Path, slug: str, sources: list[Path]) -> tuple[Path, Path]:
    """requirements/<slug>.yaml (TODOs and how the sample was drawn as comments) and evalsets/<slug>.jsonl."""
    prod = imp.production
    head = [f"# Imported from {', '.join(str(s) for s in sources)} by `modelsel import traces`.",
            "# The examples are production's own requests; `production:` below records what runs today and how the",
            "# sample compares with the whole traffic (`modelsel check` prints it). Write down the quality bar,",
            "# budget, volume and compliance before comparing models; `modelsel check` lists each as open."]
    if prod and prod.whole.get("from") and prod.whole.get("to"):
        head.append(f"# The traces span {prod.whole['from']} to {prod.whole['to']} ({prod.whole['calls']:,} model calls): "
                    "set cost.monthly_requests from your real volume.")
    if any(c.get("system") for c in imp.requirements["candidates"]):
        head.append("# A candidate you add needs the same `system:` prompt as the traced one to be compared fairly.")
    if prod and prod.expected_from_output:
        head.append("# expected = production's answers (--expected-from-output): quality is agreement with production, "
                    "not correctness.")
    return write_project(out, slug, head, imp.todos, imp.requirements, imp.examples)


def whole(paths: list[Path], sample: list[TracedCall]) -> list[TracedCall]:
    """The sampled calls read again with their text (the first pass kept none), in the sample's
    order, with the tags and feedback the draw gave them."""
    found = {c.key: c for c in read_traces(paths, wanted={c.key for c in sample}).calls}
    out = []
    for c in sample:
        full = found[c.key]
        full.tags, full.feedback = c.tags, c.feedback
        out.append(full)
    return out


def fresh_sample(paths: list[Path], prod: Production | None, size: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """For `review --traces`: a new sample drawn the way the recorded one was (seed, allocation,
    --include, route, --where; not the old time window), redacted unless the import kept personal
    data; returns the profile of the new traffic and the sample's examples."""
    s, f = (prod.sample, prod.filters) if prod else ({}, {})
    o = Options(sample=int(s.get("size") or size), seed=int(s.get("seed") or 0), allocation=s.get("allocation") or "proportional",
                include=list(s.get("include") or []), route=s.get("route_key"),
                where=[tuple(w.split("=", 1)) for w in f.get("where") or []])  # type: ignore[misc]
    r = read_traces(paths, slim=attributes_used(o))
    if not r.calls:
        raise InputError("no model calls with their messages in these traces.", path=paths[0], field="--traces")
    d = draw(r.calls, o)
    d.calls = whole(paths, d.calls)
    redact = (lambda x: x) if prod and prod.pii_kept else Redactor()
    examples = [_example(i + 1, c, None, redact, False) for i, c in enumerate(d.calls)]  # type: ignore[arg-type]
    return profile(d.traffic, d.route_key), examples


def evalset_profile(texts: list[str]) -> dict[str, Any]:
    """The lengths of an eval set written by hand, as a profile (4 characters a token)."""
    return {**lengths([max(1, len(t) // 4) for t in texts]), "models": {}, "routes": {}}
