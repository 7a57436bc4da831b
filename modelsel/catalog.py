"""Model facts: provider, API id, prices, context, modalities, compliance, open weights.

Every fact carries its source and date. Prices come from genai-prices' bundled snapshot
where it has the model; nothing here touches the network.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from modelsel.errors import InputError, did_you_mean
from modelsel.requirements import CandidateSpec, LoadedRequirements

POLICY_FACTS = ("trains_on_data", "retention_days", "baa_available", "regions")
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}
LOCAL_API = {"local", "python", "replay"}


class Fact(BaseModel):
    value: Any = None
    source: str = "unknown"
    as_of: str | None = None


class Candidate(BaseModel):
    """A shortlisted model, resolved: everything the runner and the decision need."""

    id: str
    provider: str  # the API it speaks: openai, anthropic, gemini, openai-compatible, local, python, replay
    vendor: str  # who runs it: openai, anthropic, google, groq, self-hosted, custom
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    fixed_monthly_usd: float = 0.0
    price_source: str = "unknown"
    price_as_of: str | None = None
    facts: dict[str, Fact] = {}
    prompt: str | None = None
    system: str | None = None
    params: dict[str, Any] = {}
    concurrency: int | None = None
    timeout_s: float | None = None
    replay_from: str | None = None
    released: str | None = None
    tier: str | None = None
    from_catalog: bool = False

    def fact(self, name: str) -> Any:
        f = self.facts.get(name)
        return None if f is None else f.value


class CatalogModel(BaseModel):
    id: str
    provider: str
    api: str
    api_model: str
    base_url: str | None
    api_key_env: str | None
    released: str | None
    tier: str | None
    input_per_mtok: float | None
    output_per_mtok: float | None
    price_source: str
    price_as_of: str | None
    facts: dict[str, Fact]


def _genai_price(provider: str, model: str) -> tuple[float, float, str, str | None] | None:
    from genai_prices import Usage, calc_price, data_snapshot

    try:
        p = calc_price(Usage(input_tokens=1_000_000, output_tokens=1_000_000), model_ref=model, provider_id=provider)
    except Exception:  # the snapshot does not know this model
        return None
    stamp = data_snapshot.get_snapshot().timestamp
    import genai_prices

    version = getattr(genai_prices, "__version__", None)
    if version is None:
        from importlib.metadata import version as _v

        version = _v("genai-prices")
    src = f"genai-prices {version} snapshot ({provider}/{p.model.id})"
    return float(p.input_price), float(p.output_price), src, stamp.date().isoformat() if stamp else None


@functools.cache
def load_catalog(path: str | None = None) -> dict[str, CatalogModel]:
    text = Path(path).read_text() if path else resources.files("modelsel").joinpath("catalog.yaml").read_text()
    raw = yaml.safe_load(text)
    providers = raw["providers"]
    out: dict[str, CatalogModel] = {}
    for m in raw["models"]:
        prov = providers[m["provider"]]
        facts = {k: Fact(**prov["policy"][k]) for k in POLICY_FACTS}
        for k in ("context_window", "modalities"):
            facts[k] = Fact(**m[k])
        facts["open_weights"] = Fact(value=m.get("open_weights", False), source="modelsel catalog (model licence)", as_of=raw["as_of"])
        facts["standard_api"] = Fact(value=prov.get("standard_api", False), source="modelsel catalog", as_of=raw["as_of"])
        facts["self_hosted"] = Fact(value=prov["api"] == "local", source="modelsel catalog", as_of=raw["as_of"])
        price = m["price"]
        pin = pout = None
        psrc, pdate = "unknown", None
        if "genai_prices" in price:
            got = _genai_price(*price["genai_prices"])
            if got:
                pin, pout, psrc, pdate = got
        if pin is None and "value" in price:
            pin, pout = price["value"]["input_per_mtok"], price["value"]["output_per_mtok"]
            psrc, pdate = price["source"], price["as_of"]
        out[m["id"]] = CatalogModel(
            id=m["id"], provider=m["provider"], api=prov["api"], api_model=m["api_model"],
            base_url=prov.get("base_url"), api_key_env=prov.get("api_key_env"), released=m.get("released"),
            tier=m.get("tier"), input_per_mtok=pin, output_per_mtok=pout, price_source=psrc,
            price_as_of=pdate, facts=facts,
        )
    return out


def _custom_vendor(spec: CandidateSpec) -> str:
    """Who runs it, for the fallback rule: a different vendor fails independently."""
    if spec.provider == "python":
        return "in-process code"
    if spec.provider in ("local", "replay"):
        return "self-hosted"
    return spec.base_url or spec.provider or "custom"


def _custom_facts(spec: CandidateSpec) -> dict[str, Fact]:
    if spec.provider in ("local", "python", "replay"):
        src = "runs on this machine" if spec.provider != "python" else "your own code, run in-process"
        facts = {
            "trains_on_data": Fact(value=False, source=src), "retention_days": Fact(value=0, source=src),
            "baa_available": Fact(value=True, source=src), "regions": Fact(value=["any"], source=src),
            "self_hosted": Fact(value=True, source=src), "open_weights": Fact(value=True, source=src),
            "standard_api": Fact(value=True, source=src), "modalities": Fact(value=["text"], source=src),
        }
        if spec.provider == "local":
            n_ctx = int(spec.params.get("n_ctx", 2048))
            facts["context_window"] = Fact(value=n_ctx, source="llama.cpp context size (params.n_ctx, default 2048)")
        elif spec.provider == "python":
            facts["context_window"] = Fact(value=10**9, source="your own code: no context window")
    else:
        facts = {k: Fact(source="not stated for this custom candidate") for k in POLICY_FACTS}
        facts["standard_api"] = Fact(value=spec.provider == "openai-compatible", source="provider API kind")
    if spec.facts:
        for k, v in spec.facts.model_dump(exclude={"source"}).items():
            if v is not None:
                facts[k] = Fact(value=v, source=spec.facts.source)
    return facts


def resolve_candidates(lr: LoadedRequirements, catalog: dict[str, CatalogModel] | None = None) -> list[Candidate]:
    catalog = catalog if catalog is not None else load_catalog()
    out: list[Candidate] = []
    for i, spec in enumerate(lr.req.candidates):
        where = {"path": lr.path, "line": lr.line("candidates", i)}
        prompt = _read_prompt(lr, spec.prompt, i) if spec.prompt else None
        if spec.catalog:
            cm = catalog.get(spec.catalog)
            if cm is None:
                raise InputError(
                    f"unknown catalog id '{spec.catalog}'.", **where, field=f"candidates[{i}]",
                    hint=(did_you_mean(spec.catalog, set(catalog)) or "") + " Run `modelsel models` to list the catalog.",
                )
            c = Candidate(
                id=spec.id or cm.id, provider=spec.provider or cm.api, vendor=cm.provider,
                model=spec.model or cm.api_model, base_url=spec.base_url or cm.base_url,
                api_key_env=spec.api_key_env or cm.api_key_env, input_per_mtok=cm.input_per_mtok or 0.0,
                output_per_mtok=cm.output_per_mtok or 0.0, price_source=cm.price_source,
                price_as_of=cm.price_as_of, facts=dict(cm.facts), released=cm.released, tier=cm.tier,
                from_catalog=True,
            )
            if cm.input_per_mtok is None and not spec.price:
                c.price_source = "unknown: no price in the catalog; cost figures are 0"
            if spec.facts:
                c.facts.update({k: Fact(value=v, source=spec.facts.source)
                                for k, v in spec.facts.model_dump(exclude={"source"}).items() if v is not None})
        else:
            assert spec.provider and spec.model
            c = Candidate(
                id=spec.id or f"{spec.provider}/{spec.model}", provider=spec.provider,
                vendor=_custom_vendor(spec),
                model=spec.model, base_url=spec.base_url,
                api_key_env=spec.api_key_env or DEFAULT_KEY_ENV.get(spec.provider),
                facts=_custom_facts(spec),
                price_source="free: runs on this machine" if spec.provider in LOCAL_API else "unknown: no price given",
            )
            if spec.provider == "openai-compatible" and not spec.base_url:
                raise InputError("an openai-compatible candidate needs a base_url (e.g. http://localhost:8000/v1).",
                                 **where, field=f"candidates[{i}].base_url")
        if spec.price:
            c.input_per_mtok, c.output_per_mtok = spec.price.input_per_mtok, spec.price.output_per_mtok
            c.fixed_monthly_usd, c.price_source = spec.price.fixed_monthly_usd, spec.price.source
        c.prompt, c.system, c.params = prompt, spec.system, dict(spec.params)
        c.concurrency, c.timeout_s = spec.concurrency, spec.timeout_s
        c.replay_from = str(lr.resolve(spec.replay_from)) if spec.replay_from else None
        if c.provider == "replay" and not c.replay_from:
            raise InputError("a replay candidate needs replay_from: a run folder.", **where, field=f"candidates[{i}].replay_from")
        out.append(c)
    return out


def _read_prompt(lr: LoadedRequirements, prompt: str, i: int) -> str:
    """A prompt is inline text with {{ input }}, or a path to a file holding it."""
    if "{{" in prompt or "\n" in prompt:
        return prompt
    p = lr.resolve(prompt)
    if p.suffix in (".txt", ".j2", ".md", ".jinja") or p.exists():
        if not p.exists():
            raise InputError(f"prompt file '{p}' not found.", path=lr.path, line=lr.line("candidates", i, "prompt"),
                             field=f"candidates[{i}].prompt")
        return p.read_text(encoding="utf-8")
    return prompt
