"""The requirements file a PM writes: schema, loading with file:line errors, checklist lint."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from modelsel.errors import InputError, did_you_mean
from modelsel.scoring.specs import TYPES as SCORER_TYPES
from modelsel.scoring.specs import AnyScorer, Exact
from modelsel.yamlsrc import Lines, first_error, line_of, load_yaml, pydantic_error


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Quality(Strict):
    min_score: float | None = Field(None, ge=0, le=1)
    min_by_tag: dict[str, float] = {}
    must_pass: list[str] = []
    unacceptable: list[str] = []


class Latency(Strict):
    p50_ms: float | None = Field(None, gt=0)
    p95_ms: float | None = Field(None, gt=0)
    ttft_p50_ms: float | None = Field(None, gt=0)


class Cost(Strict):
    max_per_request_usd: float | None = Field(None, ge=0)
    monthly_budget_usd: float | None = Field(None, ge=0)
    monthly_requests: int | None = Field(None, ge=0)
    monthly_growth_pct: float = 0.0
    horizon_months: int = Field(12, ge=1, le=120)


class Compliance(Strict):
    data_sensitivity: Literal["public", "internal", "confidential", "pii", "phi"] | None = None
    allowed_regions: list[str] | None = None
    require_no_training: bool = False
    require_baa: bool = False
    max_retention_days: int | None = Field(None, ge=0)
    self_hosted_only: bool = False


Position = Literal["commodity", "competitive", "regulated"]


class Strategy(Strict):
    position: Position | None = None  # sets defaults for priority, small_difference, lock-in, review cadence
    lock_in_tolerance: Literal["low", "medium", "high"] = "medium"
    prefer_open_weights: bool = False
    fine_tuning_needed: bool = False
    modalities: list[Literal["text", "image", "audio", "video", "pdf"]] = ["text"]
    min_context_tokens: int | None = Field(None, gt=0)


class DecisionPolicy(Strict):
    small_difference: float = Field(0.05, ge=0, le=1)
    # not_distinguishable: survivors the paired test cannot tell from the best are chosen among on priority.
    # non_inferior: a survivor joins only when its paired interval shows it at most small_difference worse.
    equivalence: Literal["not_distinguishable", "non_inferior"] = "not_distinguishable"
    priority: list[Literal["cost", "latency", "quality"]] = ["cost", "latency"]
    max_error_rate: float = Field(0.05, ge=0, le=1)
    review_every_days: int = Field(90, ge=1)
    triggers: list[str] = []


class Price(Strict):
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(None, ge=0)
    fixed_monthly_usd: float = Field(0.0, ge=0)
    source: str = "stated in the requirements file"


class CustomFacts(Strict):
    regions: list[str] | None = None
    trains_on_data: bool | None = None
    baa_available: bool | None = None
    retention_days: int | None = None
    self_hosted: bool | None = None
    open_weights: bool | None = None
    context_window: int | None = None
    modalities: list[str] | None = None
    source: str = "stated in the requirements file"


class RunPolicy(Strict):
    max_minutes: float | None = Field(None, gt=0)  # a deadline for the whole run
    retry_after_cap_s: float = Field(60.0, ge=0)  # the longest Retry-After honoured; longer asks wait this long


class CandidateSpec(Strict):
    """A candidate: a catalog id (with optional overrides) or a custom model."""

    id: str | None = None
    catalog: str | None = None
    provider: str | None = None  # a registered provider (modelsel.providers.REGISTRY)
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    price: Price | None = None
    facts: CustomFacts | None = None
    prompt: str | None = None
    system: str | None = None
    params: dict[str, Any] = {}
    concurrency: int | None = Field(None, ge=1, le=256)  # calls in flight for this model
    endpoint_concurrency: int | None = Field(None, ge=1, le=1024)  # cap shared by every model at its endpoint
    timeout_s: float | None = Field(None, gt=0)
    retry_after_cap_s: float | None = Field(None, ge=0)
    replay_from: str | None = None

    @field_validator("provider")
    @classmethod
    def _registered(cls, v: str | None) -> str | None:
        from modelsel.providers import REGISTRY

        if v is not None and v not in REGISTRY:
            hint = did_you_mean(v, set(REGISTRY)) or ""
            raise ValueError(f"unknown provider '{v}' (registered: {', '.join(REGISTRY)}). {hint}".strip())
        return v


class Requirements(Strict):
    name: str | None = None
    task: str
    owner: str | None = None
    evalset: str
    scoring: list[AnyScorer] = Field(default_factory=lambda: [Exact(type="exact")])
    pass_threshold: float = Field(0.5, ge=0, le=1)
    quality: Quality = Quality()
    latency: Latency = Latency()
    cost: Cost = Cost()
    compliance: Compliance = Compliance()
    strategy: Strategy = Strategy()
    decision: DecisionPolicy = DecisionPolicy()
    run: RunPolicy = RunPolicy()
    candidates: list[CandidateSpec] = Field(min_length=1)
    judge: CandidateSpec | None = None
    # Filled when loading: which defaults `strategy.position` set (the record says so).
    _position_defaults: list[str] = PrivateAttr(default_factory=list)

    @property
    def position_defaults(self) -> list[str]:
        return self._position_defaults

    @property
    def unknown_facts_eliminate(self) -> bool:
        return self.strategy.position == "regulated"

    @field_validator("candidates", mode="before")
    @classmethod
    def _ids_as_specs(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"catalog": c} if isinstance(c, str) else c for c in v]
        return v


class LoadedRequirements(BaseModel):
    """Requirements plus where they came from, so later stages can point back at lines."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    req: Requirements
    path: Path
    lines: Lines

    @property
    def folder(self) -> Path:
        return self.path.parent

    def resolve(self, rel: str) -> Path:
        p = Path(rel).expanduser()
        return p if p.is_absolute() else (self.folder / p)

    def line(self, *loc: Any) -> int | None:
        return line_of(self.lines, loc)


# What a strategic position means, as defaults a PM can still override field by field.
POSITION_DEFAULTS: dict[str, dict[tuple[str, str], Any]] = {
    "commodity": {("decision", "priority"): ["cost", "latency"], ("decision", "small_difference"): 0.05,
                  ("decision", "equivalence"): "non_inferior", ("strategy", "lock_in_tolerance"): "high",
                  ("decision", "review_every_days"): 90},
    "competitive": {("decision", "priority"): ["quality", "latency", "cost"], ("decision", "small_difference"): 0.02,
                    ("strategy", "lock_in_tolerance"): "high", ("decision", "review_every_days"): 90},
    "regulated": {("decision", "priority"): ["cost", "latency"], ("decision", "small_difference"): 0.05,
                  ("strategy", "lock_in_tolerance"): "low", ("decision", "review_every_days"): 30,
                  ("compliance", "require_no_training"): True},
}


def apply_position(req: Requirements) -> Requirements:
    """Fill what the position implies into every field the file leaves unset, and note each."""
    pos = req.strategy.position
    if pos is None:
        return req
    notes = []
    for (block, name), value in POSITION_DEFAULTS[pos].items():
        sub = getattr(req, block)
        if name in sub.model_fields_set:
            continue  # the PM wrote it: their value stands
        setattr(sub, name, value)
        notes.append(f"{block}.{name} = {value} (from strategy.position: {pos})")
    if pos == "regulated":
        notes.append("unknown compliance facts eliminate a candidate (from strategy.position: regulated)")
    req._position_defaults = notes
    return req


_FIELDS = {
    (): Requirements,
    ("quality",): Quality,
    ("latency",): Latency,
    ("cost",): Cost,
    ("compliance",): Compliance,
    ("strategy",): Strategy,
    ("decision",): DecisionPolicy,
    ("run",): RunPolicy,
}


def load_requirements(path: str | Path) -> LoadedRequirements:
    path = Path(path)
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise InputError("a requirements file must be a YAML mapping (task:, evalset:, candidates:, ...).", path=path, line=1)
    try:
        req = Requirements.model_validate(data)
    except ValidationError as exc:
        err = pydantic_error(exc, path, lines)
        first = first_error(exc)
        if first["type"] == "union_tag_invalid" and first["loc"][:1] == ("scoring",):
            given = first["input"].get("type") if isinstance(first.get("input"), dict) else None
            err.message = f"unknown scorer '{given}'."
            err.field = f"scoring[{first['loc'][1]}].type"
            err.hint = did_you_mean(str(given), set(SCORER_TYPES)) or f"Known scorers: {', '.join(SCORER_TYPES)}."
        if first["type"] == "extra_forbidden":
            loc = tuple(first["loc"])
            model = _FIELDS.get(loc[:-1])
            if model is None and len(loc) >= 3 and loc[0] in ("candidates",):
                model = CandidateSpec
            if model is not None:
                err.hint = did_you_mean(str(loc[-1]), set(model.model_fields))
        raise err from None
    for i, c in enumerate(req.candidates):
        if not c.catalog and not (c.provider and c.model):
            raise InputError(
                "a candidate needs either a catalog id (e.g. 'openai/gpt-5-mini') or both 'provider' and 'model'.",
                path=path, line=line_of(lines, ("candidates", i)), field=f"candidates[{i}]",
            )
    seen: dict[str, int] = {}
    for i, c in enumerate(req.candidates):
        cid = c.id or c.catalog or f"{c.provider}/{c.model}"
        if cid in seen:
            raise InputError(
                f"candidate id '{cid}' appears twice (also candidates[{seen[cid]}]); give one an 'id:'.",
                path=path, line=line_of(lines, ("candidates", i)), field=f"candidates[{i}].id",
            )
        seen[cid] = i
    return LoadedRequirements(req=apply_position(req), path=path, lines=lines)


# --- the selection checklist ---------------------------------------------------------------

def checklist(lr: LoadedRequirements, n_examples: int | None, tags: set[str]) -> list[tuple[str, bool, str]]:
    """Each item of the model-selection checklist: (item, done, what is missing or what was found)."""
    r = lr.req
    q, lat, cost, comp, st = r.quality, r.latency, r.cost, r.compliance, r.strategy
    items: list[tuple[str, bool, str]] = []

    def add(item: str, ok: bool, ok_text: str, missing: str) -> None:
        items.append((item, ok, ok_text if ok else missing))

    add("Quality bar defined", q.min_score is not None,
        f"min_score {q.min_score}" + (f", must_pass {q.must_pass}" if q.must_pass else ""),
        "set quality.min_score (mean score a model must reach, 0-1)")
    add("Latency targets", lat.p50_ms is not None and lat.p95_ms is not None,
        f"p50 <= {lat.p50_ms} ms, p95 <= {lat.p95_ms} ms",
        "set latency.p50_ms and latency.p95_ms")
    add("Cost budget and volume",
        cost.monthly_requests is not None and (cost.monthly_budget_usd is not None or cost.max_per_request_usd is not None),
        f"{cost.monthly_requests:,} requests/month, budget {cost.monthly_budget_usd} USD/month" if cost.monthly_requests else "",
        "set cost.monthly_requests and cost.monthly_budget_usd (or max_per_request_usd)")
    privacy_set = comp.data_sensitivity is not None or comp.allowed_regions is not None or comp.require_no_training or comp.self_hosted_only
    add("Privacy and compliance", privacy_set,
        f"sensitivity {comp.data_sensitivity or 'unstated'}, regions {comp.allowed_regions or 'any'}, "
        f"no-training {comp.require_no_training}, BAA {comp.require_baa}",
        "set compliance.data_sensitivity and the rules that follow from it (regions, no training, retention, BAA)")
    strategic = "strategy" in {k[0] for k in lr.lines if k}
    add("Strategic considerations", strategic,
        f"lock-in tolerance {st.lock_in_tolerance}, open weights preferred {st.prefer_open_weights}, fine-tuning {st.fine_tuning_needed}",
        "write a strategy: block (lock-in tolerance, fine-tuning, modalities, context)")
    if n_examples is None:
        add("Eval set of 50-100 examples", False, "", "eval set could not be read")
    else:
        add("Eval set of 50-100 examples", 50 <= n_examples <= 100, f"{n_examples} examples",
            f"{n_examples} examples; 50-100 are needed to resolve large differences")
        missing = {"edge", "adversarial"} - tags
        add("Edge and adversarial cases", not missing, "tagged edge and adversarial",
            "no examples tagged " + " or ".join(sorted(missing)))
    add("Review cadence", True, f"every {r.decision.review_every_days} days", "")
    return items
