"""Model facts: which API serves a model, its prices, context, modalities, compliance, open weights.

The model list, context windows, prices and deprecation flags come from the genai-prices
snapshot; catalog.yaml adds what the snapshot does not know (per-vendor policies, modalities,
open weights per model family), each fact with its source and date. Nothing here touches the
network. Two names, the same everywhere: `provider` is the API modelsel speaks (a registered
provider: openai, anthropic, gemini, openai-compatible, local, python, replay); `vendor` is
who runs the model (openai, google, groq, self-hosted, ...).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel

from modelsel.catalog import prices
from modelsel.errors import InputError, did_you_mean
from modelsel.inputs.candidate import Candidate
from modelsel.inputs.requirements import CandidateSpec, LoadedRequirements
from modelsel.inputs.textfile import MAX_REQUIREMENTS_BYTES, read_text
from modelsel.providers import names, provider_class
from modelsel.schema import Fact

POLICY_FACTS = ("trains_on_data", "retention_days", "baa_available", "regions")
NON_TEXT_OUTPUT = ("output_audio_mtok", "output_image_mtok", "output_video_mtok", "audio_hours", "input_image_mtok")


class CatalogModel(BaseModel):
    id: str
    vendor: str
    provider: str
    api_model: str
    base_url: str | None = None
    api_key_env: str | None = None
    input_per_mtok: float | None = None  # base tier
    output_per_mtok: float | None = None
    cached_input_per_mtok: float | None = None
    tiered: bool = False
    tier_note: str | None = None
    price_source: str = "unknown"
    price_as_of: str | None = None
    price_ref: tuple[str, str] | None = None  # (genai-prices provider, model id): per-call pricing as billed
    deprecated: bool = False
    deprecation: str | None = None  # why it is deprecated, with the source
    needs: str | None = None  # what must be installed to run it here (a local model's extra)
    retired_on: str | None = None  # the day the vendor stopped serving it, where curated
    shutdown_on: str | None = None  # the day it stops (or stopped) being served, where the vendor announced one
    shutdown_source: str | None = None
    successor: str | None = None  # the catalog id of the replacement the vendor names
    name: str | None = None
    facts: dict[str, Fact] = {}
    tier: str | None = None  # cheap | middle | premium, by blended price within the catalog

    def fact(self, name: str) -> Any:
        f = self.facts.get(name)
        return None if f is None else f.value


@functools.cache
def _raw() -> dict[str, Any]:
    return yaml.safe_load(resources.files("modelsel").joinpath("catalog.yaml").read_text())


def snapshot_info() -> Any:
    known = tuple((v, d["as_of"], d["source"]) for v, d in (_raw().get("price_snapshots") or {}).items())
    return prices.snapshot_info(known)


def _pattern_fact(rules: list[dict[str, Any]] | None, model_id: str) -> Fact | None:
    for r in rules or []:
        if re.search(r["match"], model_id, re.I):
            return Fact(value=r.get("value", True), source=r["source"], as_of=r.get("as_of"))
    return None


def is_chat_model(m: Any, keys: set[str], words: list[str]) -> bool:
    """A text chat model, judged by what the snapshot says: it prices input and output tokens,
    prices no audio/image/video output, and its id and name name no other kind (descriptions
    are left out: a chat model's says "supports image inputs")."""
    if "input_mtok" not in keys or "output_mtok" not in keys or keys & set(NON_TEXT_OUTPUT):
        return False
    if ":" in m.id or m.id.endswith("-"):  # a price pattern (fine-tunes, ':free' variants), not an API model name
        return False
    text = " ".join(x for x in (m.id, m.name or "") if x).lower()
    return not any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", text) for w in words)


def _lifecycle(vid: str, v: dict[str, Any], m: Any, today: date) -> dict[str, Any]:
    """Deprecation and shutdown: a date curated in catalog.yaml from the vendor's deprecations page
    (the snapshot keeps pricing models their vendor no longer serves), else the snapshot's flag."""
    r = next((r for r in v.get("retired") or [] if re.search(r["match"], m.id)), None)
    if r is not None:
        on = str(r["date"])
        succ = f"; the vendor names {r['successor']} as its replacement" if r.get("successor") else ""
        common = {"deprecated": True, "shutdown_on": on, "shutdown_source": r["source"], "successor": r.get("successor")}
        if date.fromisoformat(on) <= today:
            return {**common, "deprecation": f"retired by {vid} on {on} (source: {r['source']}){succ}", "retired_on": on}
        return {**common, "deprecation": f"deprecated by {vid}: shuts down on {on} (source: {r['source']}){succ}"}
    if m.deprecated:
        return {"deprecated": True, "deprecation": "deprecated by its vendor (genai-prices snapshot)"}
    return {}


def _vendor_models(vid: str, v: dict[str, Any], snap: Any, info: Any, words: list[str], now: datetime) -> list[CatalogModel]:
    prov = next((p for p in snap.providers if p.id == v["genai_prices"]), None)
    if prov is None:
        return []
    policy = {k: Fact(**v["policy"][k]) for k in POLICY_FACTS}
    src = f"genai-prices {info.version} snapshot"
    out = []
    for m in prov.models:
        if v.get("only") and not re.search(v["only"], m.id):
            continue
        keys = prices.price_keys(m, now)
        if not is_chat_model(m, keys, words) or (v.get("not_chat") and re.search(v["not_chat"]["match"], m.id)):
            continue
        life = _lifecycle(vid, v, m, now.date())
        bp = prices.base_price(m, now)
        facts = dict(policy)
        facts["context_window"] = Fact(value=m.context_window, source=src, as_of=info.as_of)
        mods = _pattern_fact(v.get("modalities"), m.id) or Fact(value=None, source=f"{vid}: modalities not curated in modelsel's catalog")
        if mods.value is not None and "input_audio_mtok" in keys and "audio" not in mods.value:
            mods = mods.model_copy(update={"value": [*mods.value, "audio"]})
        facts["modalities"] = mods
        ow = _pattern_fact(v.get("open_weights"), m.id)
        checked = _raw().get("checked")
        facts["open_weights"] = ow or Fact(value=False, source=f"{vid}: no open-weight release listed in modelsel's catalog",
                                           as_of=checked)
        facts["standard_api"] = Fact(value=bool(v.get("standard_api")), source="modelsel catalog (API kind)", as_of=checked)
        facts["self_hosted"] = Fact(value=False, source="served by the vendor's API", as_of=checked)
        out.append(CatalogModel(
            id=f"{vid}/{m.id}", vendor=vid, provider=v["provider"], api_model=v.get("model_prefix", "") + m.id,
            base_url=v.get("base_url"), api_key_env=v.get("api_key_env"), input_per_mtok=bp.input_per_mtok,
            output_per_mtok=bp.output_per_mtok, cached_input_per_mtok=bp.cached_input_per_mtok, tiered=bp.tiered,
            tier_note=bp.tier_note, price_source=f"{src} ({prov.id}/{m.id})", price_as_of=info.as_of,
            price_ref=(prov.id, m.id), name=m.name, facts=facts, **life))
    return out


DATED = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2})$")  # a dated snapshot: claude-3-7-sonnet-20250219, gpt-4o-2024-11-20


def catalog_id_for(vendor: str | None, model: str, catalog: dict[str, Any]) -> str | None:
    """The catalog entry a provider and model name: as written, else without its snapshot date."""
    if not vendor:
        return None
    model = model.removeprefix("models/")
    for m in (model, DATED.sub("", model)):
        if f"{vendor}/{m}" in catalog:
            return f"{vendor}/{m}"
    return None


@functools.cache
def load_catalog() -> dict[str, CatalogModel]:
    """Every chat model of the vendors modelsel can call, deprecated ones flagged."""
    raw = _raw()
    snap, info, now = prices.snapshot(), snapshot_info(), datetime.now(UTC)
    out: dict[str, CatalogModel] = {}
    for vid, v in raw["vendors"].items():
        if v.get("genai_prices"):
            for m in _vendor_models(vid, v, snap, info, raw["not_chat_words"], now):
                out[m.id] = m
    for lm in raw.get("local_models", []):
        v = raw["vendors"][lm["vendor"]]
        facts = {k: Fact(**v["policy"][k]) for k in POLICY_FACTS}
        facts.update(context_window=Fact(**lm["context_window"]), modalities=Fact(**lm["modalities"]),
                     open_weights=Fact(**lm["open_weights"]),
                     standard_api=Fact(value=True, source="runs on this machine", as_of=raw.get("checked")),
                     self_hosted=Fact(value=True, source="runs on this machine", as_of=raw.get("checked")))
        p = lm["price"]
        out[lm["id"]] = CatalogModel(id=lm["id"], vendor=lm["vendor"], provider=v["provider"], api_model=lm["api_model"],
                                     input_per_mtok=p["input_per_mtok"], output_per_mtok=p["output_per_mtok"],
                                     needs=lm.get("needs"),
                                     price_source=p["source"], price_as_of=p["as_of"], facts=facts)
    _assign_tiers(out)
    return out


def _blended(m: CatalogModel) -> float | None:
    if m.input_per_mtok is None or m.output_per_mtok is None:
        return None
    return (3 * m.input_per_mtok + m.output_per_mtok) / 4  # chat traffic is mostly input


def _assign_tiers(cat: dict[str, CatalogModel]) -> None:
    vals = sorted(b for m in cat.values() if not m.deprecated and (b := _blended(m)) is not None and b > 0)
    if not vals:
        return
    lo, hi = vals[len(vals) // 3], vals[2 * len(vals) // 3]
    for m in cat.values():
        b = _blended(m)
        if b is not None:
            m.tier = "cheap" if b <= lo else ("middle" if b <= hi else "premium")


# --- resolving the requirements' candidates ---------------------------------------------------

def _custom_facts(spec: CandidateSpec, cls: Any) -> dict[str, Fact]:
    own = cls.own_facts(spec)
    if own is not None:
        values, src = own
        facts = {k: Fact(value=v, source=src) for k, v in values.items()}
    else:
        facts = {k: Fact(source="not stated for this custom candidate") for k in POLICY_FACTS}
        facts["standard_api"] = Fact(value=cls.standard_api, source="provider API kind")
    if spec.facts:
        for k, v in spec.facts.model_dump(exclude={"source"}).items():
            if v is not None:
                facts[k] = Fact(value=v, source=spec.facts.source)
    return facts


def _at(i: int) -> tuple[tuple[Any, ...], str]:
    """Where a spec sits in the file: candidates[i], or the judge (i = -1)."""
    return (("candidates", i), f"candidates[{i}]") if i >= 0 else (("judge",), "judge")


def _from_catalog(spec: CandidateSpec, i: int, lr: LoadedRequirements) -> Candidate:
    cat = load_catalog()
    cm = cat.get(spec.catalog or "")
    if cm is None:
        loc, where = _at(i)
        raise InputError(
            f"unknown catalog id '{spec.catalog}'.", path=lr.path, line=lr.line(*loc), field=where,
            hint=(did_you_mean(spec.catalog or "", set(cat)) or "") + " Run `modelsel models` to list the catalog.")
    c = Candidate(
        id=spec.id or cm.id, provider=spec.provider or cm.provider, vendor=cm.vendor, model=spec.model or cm.api_model,
        base_url=spec.base_url or cm.base_url, api_key_env=spec.api_key_env or cm.api_key_env,
        input_per_mtok=cm.input_per_mtok or 0.0, output_per_mtok=cm.output_per_mtok or 0.0,
        cached_input_per_mtok=cm.cached_input_per_mtok, tiered=cm.tiered, price_source=cm.price_source,
        price_as_of=cm.price_as_of, price_ref=cm.price_ref, facts=dict(cm.facts), tier=cm.tier, from_catalog=True,
        catalog_id=cm.id, deprecation=cm.deprecation, shutdown_on=cm.shutdown_on, successor=cm.successor)
    if cm.input_per_mtok is None and not spec.price:
        c.price_source = "unknown: no price in the catalog; cost figures are 0"
    if spec.facts:
        c.facts.update({k: Fact(value=v, source=spec.facts.source)
                        for k, v in spec.facts.model_dump(exclude={"source"}).items() if v is not None})
    return c


def _custom(spec: CandidateSpec, i: int, lr: LoadedRequirements) -> Candidate:
    assert spec.provider and spec.model
    loc, where = _at(i)
    if spec.provider not in (known := names()):
        raise InputError(f"unknown provider '{spec.provider}' (registered: {', '.join(known)}).", path=lr.path,
                         line=lr.line(*loc, "provider") or lr.line(*loc), field=f"{where}.provider",
                         hint=did_you_mean(spec.provider, set(known)))
    try:
        cls = provider_class(spec.provider)
    except ValueError as exc:  # an installed plugin that is broken: named in one line, not a traceback
        raise InputError(f"the provider '{spec.provider}' cannot be used: {exc}.", path=lr.path,
                         line=lr.line(*loc, "provider") or lr.line(*loc), field=f"{where}.provider") from None
    problem = cls.spec_problem(spec)
    if problem:
        raise InputError(problem[0], path=lr.path, line=lr.line(*loc), field=f"{where}.{problem[1]}")
    local = cls.own_facts(spec) is not None
    return Candidate(
        id=spec.id or f"{spec.provider}/{spec.model}", provider=spec.provider, vendor=cls.vendor_of(spec),
        model=spec.model, base_url=spec.base_url, api_key_env=spec.api_key_env, facts=_custom_facts(spec, cls),
        price_source="free: runs on this machine" if local else "unknown: no price given")


def resolve_candidates(lr: LoadedRequirements) -> list[Candidate]:
    return [resolve(spec, i, lr) for i, spec in enumerate(lr.req.candidates)]


def resolve(spec: CandidateSpec, i: int, lr: LoadedRequirements) -> Candidate:
    c = _from_catalog(spec, i, lr) if spec.catalog else _custom(spec, i, lr)
    if spec.price:
        c.input_per_mtok, c.output_per_mtok = spec.price.input_per_mtok, spec.price.output_per_mtok
        c.cached_input_per_mtok = spec.price.cached_input_per_mtok
        c.fixed_monthly_usd, c.price_source, c.price_ref, c.tiered = spec.price.fixed_monthly_usd, spec.price.source, None, False
        c.batch_discount = spec.price.batch_discount
        c.instance_hour_usd, c.instance_requests_per_s = spec.price.instance_hour_usd, spec.price.instance_requests_per_s
        c.price_as_of = None
    c.prompt = _read_prompt(lr, spec.prompt, i) if spec.prompt else None
    c.system, c.params = _read_prompt(lr, spec.system, i, "system") if spec.system else None, dict(spec.params)
    c.cache = spec.cache.model_dump() if spec.cache else None
    c.concurrency, c.endpoint_concurrency, c.timeout_s = spec.concurrency, spec.endpoint_concurrency, spec.timeout_s
    c.retry_after_cap_s, c.allow_plain_http = spec.retry_after_cap_s, spec.allow_plain_http
    c.spec_index = i if i >= 0 else None
    c.replay_from = str(lr.resolve(spec.replay_from)) if spec.replay_from else None

    c.host = provider_class(c.provider).outage_host(c)
    return c


def _read_prompt(lr: LoadedRequirements, prompt: str, i: int, key: str = "prompt") -> str:
    """A prompt (or a system prompt, key="system") is inline text, or a path to a file holding it."""
    if "{{" in prompt or "\n" in prompt:
        return prompt
    p = lr.resolve(prompt)
    if p.suffix in PROMPT_SUFFIXES or p.exists():
        p = lr.confined(prompt, "candidates", i, key)
        if not p.exists():
            loc, where = _at(i)
            raise InputError(f"{key} file '{p}' not found.", path=lr.path, line=lr.line(*loc, key),
                             field=f"{where}.{key}")

        return read_text(p, MAX_REQUIREMENTS_BYTES, f"{key} file")
    return prompt


def tier_of(c: Candidate) -> tuple[str | None, str | None]:
    """(service tier, speed) the candidate asks for in its parameters: OpenAI's and Gemini's
    `service_tier` (flex, priority), Anthropic's `speed` (fast). None: the standard price."""
    tier, speed = c.params.get("service_tier"), c.params.get("speed")
    tier = str(getattr(tier, "value", tier)).lower() if tier is not None else None
    return (None if tier in (None, "auto", "default", "standard", "unspecified") else tier,
            None if speed in (None, "standard") else str(speed))


def tier_text(c: Candidate) -> str | None:
    """The tier a candidate's row names: 'flex', 'priority', 'speed fast'; None for the standard tier."""
    tier, speed = tier_of(c)
    return ", ".join(x for x in (tier, f"speed {speed}" if speed else None) if x) or None


def tier_factor(c: Candidate) -> tuple[float, str] | None:
    """(factor of the standard price, source and date) for a service tier the snapshot has no
    price for, from catalog.yaml's service_tiers; None when the snapshot prices it or no one does."""
    tier, _ = tier_of(c)
    if tier is None or c.price_ref is None:
        return None
    if _snapshot_has(c.price_ref[0], c.price_ref[1], tier):
        return None
    row = ((_raw().get("service_tiers") or {}).get(c.price_ref[0]) or {}).get(tier)
    return None if row is None else (float(row["factor"]), f"{row['source']} (as of {row['as_of']})")


@functools.cache
def _snapshot_has(provider_id: str, model_ref: str, tier: str) -> bool:
    return prices.has_variant(provider_id, model_ref, {"service_tier": tier})


def tier_price_source(c: Candidate) -> str | None:
    """Where a candidate's tier price comes from, in words (None: the standard tier)."""
    tier, speed = tier_of(c)
    if tier is None and speed is None:
        return None
    if c.price_ref is None:
        return "the stated price (a custom price has no tiers)"
    f = tier_factor(c)
    if f is not None:
        return f"{f[0]:g}x the standard price: {f[1]}"
    ctx = prices.price_context("live", tier, speed) or {}
    if prices.has_variant(c.price_ref[0], c.price_ref[1], ctx):
        return "genai-prices' price for the tier"
    return "no price for this tier is known: priced at the standard rate"


PROMPT_SUFFIXES = (".txt", ".j2", ".md", ".jinja")


def live_and_batch_cost(c: Candidate, input_tokens: int | None, output_tokens: int | None, cached_input_tokens: int = 0,
                        cache_write_tokens: int = 0, when: datetime | None = None, usage: dict[str, Any] | None = None,
                        cache_write_1h_tokens: int = 0) -> tuple[float, float]:
    """One call's cost live and through a batch (a record carries both: the decision judges the
    production price, the run's spend is what this run was billed)."""
    args = (c, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, when)
    return (call_cost(*args, usage=usage, cache_write_1h_tokens=cache_write_1h_tokens),
            call_cost(*args, processing="batch", usage=usage, cache_write_1h_tokens=cache_write_1h_tokens))


def caches_prefix(c: Candidate) -> bool:
    """Whether the provider caches a shared prefix for this candidate: Anthropic only when asked
    (`cache:`), OpenAI and Gemini on their own (prefixes of 1,024 tokens and more)."""
    return c.cache is not None if c.provider == "anthropic" else c.provider in ("openai", "gemini")


def expected_call_cost(c: Candidate, input_tokens: int, output_tokens: int, prefix_tokens: int = 0,
                       hit_rate: float = 0.0, ttl: str = "5m", when: datetime | None = None,
                       processing: str = "live") -> float:
    """What one request is expected to cost when its first `prefix_tokens` (system prompt, tools)
    are shared: read from the provider's cache at `hit_rate`, written otherwise (at the 5-minute or
    1-hour write rate; a provider without write prices bills a write as plain input). For
    estimates before any call (`--dry-run`) and the monthly projection alike."""
    p = min(prefix_tokens, input_tokens)
    hit = call_cost(c, input_tokens, output_tokens, p, 0, when, processing)
    miss = call_cost(c, input_tokens, output_tokens, 0, p, when, processing, cache_write_1h_tokens=p if ttl == "1h" else 0)
    return hit_rate * hit + (1 - hit_rate) * miss


def call_cost(c: Candidate, input_tokens: int | None, output_tokens: int | None, cached_input_tokens: int = 0,
              cache_write_tokens: int = 0, when: datetime | None = None, processing: str = "live",
              usage: dict[str, Any] | None = None, cache_write_1h_tokens: int = 0) -> float:
    """What one call costs as the provider bills it. A catalog model: genai-prices, reading the
    usage object the API returned with its own extractor when there is one (every cache, tool-use
    and media field it knows), else the token counts; tiers by the call's own input, cache writes
    at their 5-minute or 1-hour rate, the candidate's service tier or speed and the batch price
    where the snapshot has them. A stated price: flat, times the stated batch_discount in a batch."""
    tin, tout = input_tokens or 0, output_tokens or 0
    if c.price_ref is not None and (tin or tout):
        tier, speed = tier_of(c)
        ctx = prices.price_context(processing, tier, speed)
        try:
            u = prices.extracted_usage(c.price_ref[0], c.provider, usage)
            if u is None:
                u = prices.Tokens(tin, tout, min(cached_input_tokens, tin), min(cache_write_tokens, tin),
                                  min(cache_write_1h_tokens, cache_write_tokens))
            f = tier_factor(c)
            if f is not None:  # the snapshot has no price for the tier: the catalog's factor of the standard one
                return prices.bill(c.price_ref[0], c.price_ref[1], u, when, prices.price_context(processing)) * f[0]
            return prices.bill(c.price_ref[0], c.price_ref[1], u, when, ctx)
        except Exception:  # pragma: no cover - the snapshot lost the model: fall back to the base price
            pass
    cached = min(cached_input_tokens, tin) if c.cached_input_per_mtok is not None else 0
    flat = ((tin - cached) * c.input_per_mtok + cached * (c.cached_input_per_mtok or 0.0)
            + tout * c.output_per_mtok) / 1_000_000
    return flat * (c.batch_discount if processing == "batch" and c.batch_discount is not None else 1.0)
