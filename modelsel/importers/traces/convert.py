"""Traces -> a requirements file and an eval set: the sample's calls become examples (production's
answer kept as `reference`, or as `expected` with --expected-from-output), the traced models become
candidates with the system prompt found in the traces, and the requirements' `production:` block
records what production runs today (latency from span times, token usage) and how the sample
compares with the whole traffic."""

from __future__ import annotations

import json
import math
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
from modelsel.importers.traces.calls import Read, TracedCall
from modelsel.importers.traces.otlp import NO_CONTENT
from modelsel.importers.traces.pii import DETECTED, KINDS, Redactor
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


def _traced_models(calls: list[TracedCall], candidates: dict[str, str], canon: dict[str, str]) -> dict[str, TracedModel]:
    """Per traced model (an alias and its dated snapshots as one: `canon`), what production saw."""
    by_model: dict[str, list[TracedCall]] = {}
    for c in calls:
        by_model.setdefault(canon.get(c.model or "unknown", c.model or "unknown"), []).append(c)
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


def _canon(calls: list[TracedCall], catalog: dict[str, Any]) -> dict[str, str]:
    """Traced model name -> the catalog model it is (an alias and its dated snapshots alike)."""
    out: dict[str, str] = {}
    for c in calls:
        m = c.model or "unknown"
        if m not in out:
            cat = catalog_id_for(vendor_of(c), m, catalog) if m != "unknown" else None
            out[m] = cat.split("/", 1)[1] if cat else m
    return out


def _candidates(sample: list[TracedCall], catalog: dict[str, Any], todos: list[str],
                redact: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """A candidate per catalog model the sample's calls ran on (an alias and its dated snapshot are
    one candidate). No `system:`: the system prompt belongs to each example, where a route's own
    prompt stays with its calls whichever model served them."""
    cands, ids = [], {}
    by_model: dict[str, list[TracedCall]] = {}
    for c in sample:
        by_model.setdefault(c.model or "unknown", []).append(c)
    for model, cs in sorted(by_model.items(), key=lambda kv: -len(kv[1])):
        cat = catalog_id_for(vendor_of(cs[0]), model, catalog) if model != "unknown" else None
        if cat is None:
            todos.append(f"{redact(cs[0].where)}: the traced model '{redact(model)}' (provider "
                         f"'{redact(cs[0].vendor or '?')}') is not in the catalog: add it as a custom candidate (provider, "
                         "model, base_url, price) to compare with it")
            continue
        cid = f"today-{cat.split('/', 1)[1]}"
        if cid not in {c["id"] for c in cands}:
            cands.append({"id": cid, "catalog": cat})
        ids[model] = cid
    return cands, ids


def _example(i: int, c: TracedCall, redact: Any, expected: bool) -> dict[str, Any]:
    """One call as an example: its own system prompt first, then its turns; production's answer as
    `reference` (never an empty one). Every text field from the trace goes through `redact`."""
    msgs = [{"role": m["role"], "content": redact(m.get("content") or "") or ""} for m in c.messages]
    if c.system:
        msgs.insert(0, {"role": "system", "content": redact(c.system) or ""})
    one_turn = len(msgs) == 1 and msgs[0]["role"] == "user"
    ex: dict[str, Any] = {"id": f"trace-{i:04d}", "input": msgs[0]["content"] if one_turn else msgs}
    out = redact(c.output) if c.output is not None and c.output.strip() else None
    if expected and out is not None:
        ex["expected"] = out
    if out is not None:
        ex["reference"] = out
    ex["tags"] = [spelled(redact(t) or t) for t in c.tags]  # a tag is a name: one printable line
    ex["meta"] = {k: redact(v) if isinstance(v, str) else v for k, v in {
        "trace_id": c.trace_id, "span_id": c.span_id, "source": c.where, "model": c.model,
        "latency_ms": round(c.seconds * 1000, 1) if c.seconds is not None else None,
        "input_tokens": c.input_tokens, "output_tokens": c.output_tokens}.items() if v not in (None, "")}
    return ex


TOOLS_LEFT_OUT = "calls with tool calls left out: tools cannot be carried yet"
NO_ANSWER_LEFT_OUT = "calls without an answer left out (--expected-from-output needs one)"


def _why_out(expected: bool) -> Any:
    """Why a call cannot be an example yet: its request, conversation or answer has tools (which an
    eval set cannot carry yet: judged without them, a candidate would be judged on another task), or
    it has no answer to expect."""
    def why(c: TracedCall) -> str | None:
        if c.tooled:
            return TOOLS_LEFT_OUT
        if expected and not c.answered:
            return NO_ANSWER_LEFT_OUT
        return None
    return why


CAPTURE_HINT = ("turn content capture on: opentelemetry-instrumentation-openai-v2 with "
                "OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental wants "
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY, EVENT_ONLY or SPAN_AND_EVENT (`true` works "
                "only on its older conventions, and the latest ignore it); OpenLLMetry: TRACELOOP_TRACE_CONTENT=true; "
                "OpenInference records them unless OPENINFERENCE_HIDE_INPUTS / OPENINFERENCE_HIDE_OUTPUTS is set")


def _why_nothing(r: Read) -> str:
    """Why no call with its messages was read, and what to do, by what the files held."""
    if r.log_records and not r.span_ids and not r.skipped:
        return (f"these are {r.log_records:,} OTLP log records only: the spans they belong to are in the traces file "
                "the same exporter wrote; pass both files (e.g. spans.jsonl logs.jsonl)")
    if r.skipped.get(NO_CONTENT):
        if r.no_content_events:
            return "the spans' events were read but hold no message text: content capture was off; " + CAPTURE_HINT
        if not r.log_records:
            return ("the model spans carry no messages. If the instrumentation wrote them as events (log records), pass "
                    "the logs file beside the spans file; if content capture was off (the default), " + CAPTURE_HINT)
        return "the model spans and the log records read carry no messages; " + CAPTURE_HINT
    return "traces need the prompts and answers recorded; " + CAPTURE_HINT


def convert(paths: list[Path], o: Options, *, keep_pii: bool = False, expected_from_output: bool = False,
            phone_region: str = "US", feedback: list[Path] | None = None) -> Imported:
    r = read_traces(paths, slim=attributes_used(o), feedback=feedback)
    spans = len(r.calls) + sum(r.skipped.values())
    redact = Redactor(phone_region) if not keep_pii else Redactor(phone_region, secrets_only=True)
    if not r.calls:
        raise InputError(f"no model calls with their messages in {spans:,} span(s) read"
                         + (f" ({_kinds(r.skipped, redact)})" if r.skipped else "") + f"; nothing was written: "
                         f"{_why_nothing(r)}.", path=paths[0])
    d = draw(r.calls, o, _why_out(expected_from_output))
    traffic = d.traffic
    if not traffic:
        raise InputError(f"none of the {len(r.calls):,} model calls passes --since/--until/--where; nothing was written.",
                         path=paths[0], field="--where")
    if not d.calls:
        raise InputError(f"none of the {d.unique:,} distinct model calls can be an example ("
                         + "; ".join(f"{n:,} {k}" for k, n in d.left_out.items()) + "); nothing was written.", path=paths[0])
    d.calls = whole(paths, d.calls)
    todos: list[str] = []
    if d.included > o.sample:
        todos.append(f"--include took {d.included} calls, more than --sample {o.sample}: every one is in the eval set")
    catalog = load_catalog()
    cands, ids = _candidates(d.calls, catalog, todos, redact)
    canon = _canon(traffic, catalog)
    for m, cid in list(ids.items()):
        ids.setdefault(canon.get(m, m), cid)
    examples = [_example(i + 1, c, redact, expected_from_output) for i, c in enumerate(d.calls)]
    prod = _production(paths, r.skipped, traffic, d, o, ids, redact, keep_pii, expected_from_output, len(r.calls), canon)
    req = _requirements(paths, cands, prod, o, expected_from_output, todos)
    if "judge" in req:
        todos.append(f"the judge is {req['judge']['catalog']}, today's model: a judge that is also a candidate tends to "
                     "favour its own answers; choose another judge (or write `expected` answers and an exact scorer)")
    mapped = [f"{len(r.calls):,} model calls read ({'; '.join(r.formats)}), {sum(r.skipped.values()):,} other spans "
              f"skipped" + (f" ({_kinds(r.skipped, redact)})" if r.skipped else "")]
    mapped += [f"{n:,} {k.replace('calls ', 'call ', 1) if n == 1 else k}" for k, n in d.left_out.items()]
    if r.orphan_logs:
        mapped.append(f"{r.orphan_logs:,} span(s) named by log records are in none of the files read: pass the spans "
                      "file the same exporter wrote")
    mapped += [
              f"{d.exact_repeats:,} exact and {d.near_repeats:,} near-exact repeats removed; {d.unique:,} distinct calls",
              f"sample of {len(d.calls)}: " + (f"{d.included} taken whole by --include ({', '.join(o.include)}), " if o.include else "")
              + f"{len(d.calls) - d.included} drawn {o.allocation}ly within {len(d.strata)} strata (model x input length"
              + (f" x {d.route_key}" if d.route_key else "") + f"), seed {o.seed}"]
    mapped += [f"production today: {m} ({t.share:.0%} of calls) -> candidate {t.candidate}" for m, t in prod.models.items() if t.candidate]
    if not keep_pii:
        mapped.append("personal data redacted: " + (", ".join(f"{n} {k}" for k, n in prod.pii_redacted.items() if n)
                                                   or "none found") + f" (looked for: {', '.join(DETECTED)})")
    else:
        mapped.append("personal data kept (--keep-pii); secrets (API keys, tokens, private keys) are masked all the same"
                      + (f": {redact.counts['secret']}" if redact.counts.get("secret") else ""))
    return Imported(req, examples, todos, mapped, prod)


def _kinds(c: Counter[str], redact: Any = None) -> str:
    return ", ".join(f"{redact(k) if redact else k} {n:,}" for k, n in c.most_common())


def _profile(p: dict[str, Any], redact: Any) -> dict[str, Any]:
    """A profile with the route values and model names (outside text) redacted."""
    out = dict(p)
    for k in ("routes", "models"):
        if isinstance(out.get(k), dict):
            merged: dict[str, float] = {}
            for name, share in out[k].items():
                key = redact(name) or name
                merged[key] = round(merged.get(key, 0.0) + share, 4)
            out[k] = merged
    return out


def _production(paths: list[Path], skipped: Counter[str], traffic: list[TracedCall], d: Drawn, o: Options,
                ids: dict[str, str], redact: Any, keep_pii: bool, expected: bool, model_calls: int,
                canon: dict[str, str]) -> Production:
    proportional = d.calls[d.included:]
    sample = _profile(profile(d.calls, d.route_key), redact) | {
        "size": len(d.calls), "included": d.included, "include": list(o.include), "proportional": len(proportional),
        "proportional_profile": _profile(profile(proportional, d.route_key), redact) if d.included else None,
        "allocation": o.allocation, "seed": o.seed, "route_key": d.route_key, "strata": len(d.strata),
        "distinct_calls": d.unique, "exact_repeats": d.exact_repeats, "near_repeats": d.near_repeats}
    total = model_calls + sum(skipped.values())
    return Production(
        source=[str(p) for p in paths],
        models={redact(m) or m: t for m, t in _traced_models(traffic, ids, canon).items()},
        whole=_profile(profile(traffic, d.route_key), redact),
        sample=sample, skipped={redact(k) or k: n for k, n in skipped.most_common()}, model_calls=model_calls,
        left_out=dict(d.left_out),
        filters={k: v for k, v in {"since": _iso(o.since), "until": _iso(o.until),
                                   "where": [f"{k}={v}" for k, v in o.where] or None}.items() if v},
        pii_redacted={k: redact.counts.get(k, 0) for k in KINDS} if not keep_pii else {},
        pii_detected=list(DETECTED) if not keep_pii else [], pii_kept=keep_pii, expected_from_output=expected) if total else None  # type: ignore[return-value]


def _iso(t: float | None) -> str | None:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z") if t is not None else None


def _requirements(paths: list[Path], cands: list[dict[str, Any]], prod: Production, o: Options, expected: bool,
                  todos: list[str]) -> dict[str, Any]:
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
        # Today's p95 exactly would fail today's own model on a re-run by a few ms: the bar gets room.
        p95 = today[1].latency.p95_ms
        bar = math.ceil(max(p95 * (1 + LATENCY_ROOM), today[1].latency.p95_hi_ms or 0))
        req["latency"] = {"p95_ms": bar}
        todos.append(f"latency.p95_ms is {bar:,} ms: today's p95 ({p95:,.0f} ms as the application saw it) with "
                     f"{LATENCY_ROOM:.0%} room (or its interval's upper end, if higher), so that today's own model does "
                     "not fail a re-run by a few ms; set the bar your users need")
    req["production"] = json.loads(prod.model_dump_json(exclude_defaults=False))
    return req


LATENCY_ROOM = 0.2


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
    head.append("# Each example carries the system prompt it was sent with: a candidate you add needs no `system:`.")
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
    d = draw(r.calls, o, _why_out(False))
    d.calls = whole(paths, d.calls)
    redact = Redactor(secrets_only=True) if prod and prod.pii_kept else Redactor()
    examples = [_example(i + 1, c, redact, False) for i, c in enumerate(d.calls)]
    return profile(d.traffic, d.route_key), examples


def evalset_profile(texts: list[str]) -> dict[str, Any]:
    """The lengths of an eval set written by hand, as a profile (4 characters a token)."""
    return {**lengths([max(1, len(t) // 4) for t in texts]), "models": {}, "routes": {}}
