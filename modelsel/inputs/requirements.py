"""The requirements file a PM writes: schema, loading with file:line errors, checklist lint."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from modelsel.errors import InputError, did_you_mean
from modelsel.inputs.names import MAX_ID, SAFE_ID, check_name, unsafe_id_reason
from modelsel.inputs.production import Production
from modelsel.inputs.scorers import TYPES as SCORER_TYPES
from modelsel.inputs.scorers import AnyScorer, Exact
from modelsel.inputs.textfile import MAX_REQUIREMENTS_BYTES, printable
from modelsel.inputs.usercode import inside
from modelsel.inputs.yamlsrc import Lines, first_error, line_of, load_yaml, pydantic_error


def _admits_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any:
        return True
    return any(_admits_bool(a) for a in typing.get_args(annotation))


class Strict(BaseModel):
    # No infinities or NaN where a number is expected (`.inf` in YAML is a float).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_yes_no_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """YAML reads yes/no/on/off as true/false: `monthly_budget_usd: yes` is a mistake, not 1.0."""
        if isinstance(v, bool) and info.field_name and not _admits_bool(cls.model_fields[info.field_name].annotation):
            raise ValueError("a yes/no (true/false) value where a number or text is expected")
        return v


class MaxGap(Strict):
    """The largest quality gap allowed between groups of examples (equal opportunity): the groups
    are tags, listed or named by a prefix ending in '*' (`lang:*` = every tag starting 'lang:')."""

    between: list[str] | str
    gap: float = Field(gt=0, le=1)

    @field_validator("between")
    @classmethod
    def _groups(cls, v: list[str] | str) -> list[str] | str:
        if isinstance(v, str) and not v.endswith("*"):
            raise ValueError(f"'{v}' is one tag: list two or more tags, or name a prefix ending in '*' (e.g. 'lang:*')")
        if isinstance(v, list) and len(set(v)) < 2:
            raise ValueError("a gap needs two or more groups (tags) to lie between")
        return v

    @property
    def key(self) -> str:
        return self.between if isinstance(self.between, str) else ", ".join(self.between)

    def groups(self, tags: list[str] | set[str]) -> list[str]:
        if isinstance(self.between, list):
            return list(self.between)
        prefix = self.between[:-1]
        return sorted(t for t in tags if t.startswith(prefix))


class Quality(Strict):
    min_score: float | None = Field(None, ge=0, le=1)
    min_by_tag: dict[str, float] = {}
    must_pass: list[str] = []
    # A must-pass tag whose examples all passed is a sure pass only when the failure rate the data
    # cannot rule out (exact 95% bound) is under this; with 5 examples the bound is 52%: at risk.
    must_pass_tolerance: float = Field(0.05, gt=0, lt=1)
    # The share of examples right on every one of the run's K tries (pass^k): needs run.repeats >= 2.
    min_pass_all: float | None = Field(None, ge=0, le=1)
    max_gap: list[MaxGap] = []
    unacceptable: list[str] = []

    @field_validator("max_gap", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, dict) else v


class Load(Strict):
    """The load production sends at peak: calls in flight, or requests per second (open-loop
    arrivals). The latency pass runs at it, and the record says under which load its figures hold."""

    concurrency: int | None = Field(None, ge=1, le=1000)
    rps: float | None = Field(None, gt=0, le=1000)
    calls: int | None = Field(None, ge=10, le=100_000)  # latency-pass calls per candidate (default: what the limits need)

    @model_validator(mode="after")
    def _one(self) -> Load:
        if (self.concurrency is None) == (self.rps is None):
            raise ValueError("give one of 'concurrency' (calls in flight) or 'rps' (requests per second)")
        return self

    def text(self) -> str:
        return f"{self.concurrency} calls in flight" if self.concurrency else f"{self.rps:g} requests/s (open-loop)"


class Latency(Strict):
    p50_ms: float | None = Field(None, gt=0)
    p95_ms: float | None = Field(None, gt=0)
    ttft_p50_ms: float | None = Field(None, gt=0)
    load: Load | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Latency:
        if self.p50_ms is not None and self.p95_ms is not None and self.p95_ms < self.p50_ms:
            raise ValueError(f"p95_ms ({self.p95_ms:g}) is below p50_ms ({self.p50_ms:g}): the 95th percentile of "
                             "a latency can never be under its median")
        return self


class Cost(Strict):
    # How production will run the workload: the price the decision judges cost at. `batch` only
    # when production itself sends its requests through the provider's batch API.
    processing: Literal["live", "batch"] = "live"
    max_per_request_usd: float | None = Field(None, ge=0)
    monthly_budget_usd: float | None = Field(None, ge=0)
    monthly_requests: int | None = Field(None, gt=0)  # leave it out when the volume is not known
    monthly_growth_pct: float = 0.0
    horizon_months: int = Field(12, ge=1, le=120)
    # Production's prompt-cache hit rate: the share of requests whose shared prefix (system prompt,
    # tools) is read from the provider's cache. Left out: the share `import traces` measured, else an
    # estimate from monthly_requests and the cache's lifetime (the record names which).
    cache_hit_rate: float | None = Field(None, ge=0, le=1)
    # Production's input lengths as percentiles of input tokens ({p50: 8000, p90: 150000, p99: 400000}):
    # long-context tiers are priced at production's mix, not the eval set's.
    input_tokens: dict[str, int] | None = None
    # What one failed answer costs the business: money, or the minutes someone spends putting it
    # right at an hourly rate. With it, the record shows the total a month (API + hosting + failures).
    failure_cost_usd: float | None = Field(None, ge=0)
    failure_minutes: float | None = Field(None, ge=0)
    hourly_rate_usd: float | None = Field(None, ge=0)
    # What the cost priority ranks on: the API bill, or the total with the failures' cost (the
    # default once a failure cost is stated).
    rank_on: Literal["api", "total"] | None = None

    @model_validator(mode="after")
    def _failure_cost_whole(self) -> Cost:
        if (self.failure_minutes is None) != (self.hourly_rate_usd is None):
            raise ValueError("failure_minutes and hourly_rate_usd go together (minutes a failed answer costs someone, "
                             "at that hourly rate)")
        if self.failure_cost_usd is not None and self.failure_minutes is not None:
            raise ValueError("state the failure cost once: failure_cost_usd, or failure_minutes with hourly_rate_usd")
        if self.rank_on == "total" and self.per_failure_usd is None:
            raise ValueError("rank_on: total needs a failure cost (failure_cost_usd, or failure_minutes and "
                             "hourly_rate_usd)")
        return self

    @field_validator("input_tokens")
    @classmethod
    def _percentiles(cls, v: dict[str, int] | None) -> dict[str, int] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("give at least one percentile of input tokens, e.g. {p50: 8000, p95: 120000}")
        pts = []
        for k, n in v.items():
            m = re.fullmatch(r"p(\d{1,2}(?:\.\d+)?|100)", str(k))
            if not m or isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValueError(f"'{k}: {n}' is not a percentile of input tokens (keys p1..p99, p100; values whole "
                                 "token counts)")
            pts.append((float(m.group(1)), n))
        pts.sort()
        if any(b[1] < a[1] for a, b in zip(pts, pts[1:], strict=False)):
            raise ValueError("input-token percentiles must not fall as the percentile rises")
        return v

    @property
    def per_failure_usd(self) -> float | None:
        if self.failure_cost_usd is not None:
            return self.failure_cost_usd
        if self.failure_minutes is not None and self.hourly_rate_usd is not None:
            return self.failure_minutes / 60 * self.hourly_rate_usd
        return None

    @property
    def ranks_on_total(self) -> bool:
        return (self.rank_on or ("total" if self.per_failure_usd is not None else "api")) == "total"


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
    planned_reviews: int = Field(8, ge=1, le=100)  # the drift test's false-alarm budget is split over these
    triggers: list[str] = []


TrialSignal = Literal["thumbs_down", "errors", "latency", "cost"]
RATE_SIGNALS = ("thumbs_down", "errors")


class TrialPolicy(Strict):
    """A live trial (`modelsel trial`): which requests ran the challenger, and what it must show on
    production's own signals before it replaces the incumbent."""

    primary: TrialSignal = "thumbs_down"
    # How much worse the challenger may be on the primary signal: a rate's as a share (0.02 = 2 points),
    # latency's in ms, cost's in USD per request. Default for a rate: decision.small_difference.
    margin: float | None = Field(None, gt=0)
    arm_by: str = Field("model", min_length=1, max_length=200)  # model | tag | an attribute or metadata key
    challenger: str | None = Field(None, min_length=1, max_length=500)  # a candidate id or model, a tag, a value
    incumbent: str | None = Field(None, min_length=1, max_length=500)
    confidence: float = Field(0.95, ge=0.5, lt=1)

    @model_validator(mode="after")
    def _margin_in_units(self) -> TrialPolicy:
        if self.primary in RATE_SIGNALS and self.margin is not None and self.margin >= 1:
            raise ValueError(f"margin: {self.margin:g} for a rate ({self.primary}) is a share: 0.02 means 2 points")
        if self.primary in ("latency", "cost") and self.margin is None:
            raise ValueError(f"margin: a trial judged on {self.primary} needs its margin "
                             + ("in ms (e.g. 200)" if self.primary == "latency" else "in USD per request (e.g. 0.001)"))
        return self


class Price(Strict):
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(None, ge=0)
    fixed_monthly_usd: float = Field(0.0, ge=0)
    batch_discount: float | None = Field(None, gt=0, le=1)  # what the endpoint's batch API bills, as a share
    # Self-hosting that scales: what one instance (a GPU server) costs an hour, kept up all month;
    # the instances the volume needs come from the throughput the run measured (or this stated one).
    instance_hour_usd: float | None = Field(None, ge=0)
    instance_requests_per_s: float | None = Field(None, gt=0)
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
    # An answer longer than this is cut where it passes it (about 50,000 tokens: far beyond any
    # answer a task here expects), flagged, and the rest never read or stored.
    max_answer_chars: int = Field(200_000, ge=100, le=10_000_000)
    batch: bool = False  # quality calls through the providers' batch APIs (also --batch)
    latency_sample: int = Field(30, ge=5, le=10_000)  # live calls per batched candidate, for latency
    repeats: int = Field(1, ge=1, le=20)  # independent tries per example and candidate (also --repeat)


class Output(Strict):
    """The shape the answer must take: a JSON Schema file, enforced by each API's structured-output
    parameter (strict where the API has it)."""

    json_schema: str
    strict: bool = True
    name: str = Field("output", pattern=r"^[A-Za-z0-9_-]{1,64}$")  # the schema's name, where an API asks for one


class Params(BaseModel):
    """The request parameters modelsel knows, typed so a mistake is found before any call; others
    pass through to the API as written."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, strict=True)
    max_tokens: int | None = Field(None, gt=0)
    max_output_tokens: int | None = Field(None, gt=0)
    max_completion_tokens: int | None = Field(None, gt=0)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    seed: int | None = None
    stream: bool | None = None
    stop: str | list[str] | None = None
    n_ctx: int | None = Field(None, gt=0)

    @field_validator("temperature", "top_p", mode="before")
    @classmethod
    def _int_is_a_number(cls, v: Any) -> Any:
        return float(v) if isinstance(v, int) and not isinstance(v, bool) else v


ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
KEY_PREFIX = re.compile(r"^(sk-|sk_|AIza|xai-|gsk_|hf_|ghp_|github_pat_|pk-|rk_|Bearer\s)")


def looks_like_key(v: str) -> bool:
    """A value that is a secret rather than a variable's name: a provider's key prefix, or a long
    token mixing upper case, lower case and digits (variable names are upper case by custom), or a
    long string of high entropy."""
    import math
    from collections import Counter

    if KEY_PREFIX.match(v):
        return True
    mixed = any(c.islower() for c in v) and any(c.isupper() for c in v) and any(c.isdigit() for c in v)
    if len(v) >= 24 and mixed:
        return True
    counts = Counter(v)
    entropy = -sum(n / len(v) * math.log2(n / len(v)) for n in counts.values()) if v else 0.0
    return len(v) >= 32 and entropy >= 4.2


class CacheOption(Strict):
    """Ask the provider to cache the shared prefix (Anthropic caches only what a request marks)."""

    prefix: Literal["system", "tools"] = "system"
    ttl: Literal["5m", "1h"] = "5m"


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
    cache: CacheOption | None = None  # cache_control on the shared prefix (Anthropic)
    concurrency: int | None = Field(None, ge=1, le=256)  # calls in flight for this model
    endpoint_concurrency: int | None = Field(None, ge=1, le=1024)  # cap shared by every model at its endpoint
    timeout_s: float | None = Field(None, gt=0)
    retry_after_cap_s: float | None = Field(None, ge=0)
    replay_from: str | None = None
    # Send the API key to a plain-http base_url on another host (readable by anyone on the path):
    # refused unless the file says so here. Never for link-local / cloud metadata addresses.
    allow_plain_http: bool = False

    @field_validator("id")
    @classmethod
    def _printable_id(cls, v: str | None) -> str | None:
        return None if v is None else check_name(v)

    @field_validator("base_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        from urllib.parse import urlsplit

        if v is None:
            return v
        u = urlsplit(v)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("a base_url is an http:// or https:// address with a host (e.g. http://localhost:8000/v1)")
        return v

    @field_validator("params")
    @classmethod
    def _known_params(cls, v: dict[str, Any]) -> dict[str, Any]:
        Params.model_validate(v)
        return v

    # `provider:` is checked against the registry when the candidate is resolved (catalog.models),
    # after installed packages' entry points are read: a provider from outside needs no fork.


class Requirements(Strict):
    name: str | None = None

    @field_validator("name")
    @classmethod
    def _printable_name(cls, v: str | None) -> str | None:
        return None if v is None else check_name(v)

    task: str
    owner: str | None = None
    approver: str | None = None  # who signs the decision off, beside the owner who wrote it
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
    # Empty is a normal start (right after `init` or an import): check lists it as open, eval refuses it.
    candidates: list[CandidateSpec] = []
    judge: CandidateSpec | None = None
    # Answers a person marked pass or fail (JSONL: input, answer, verdict, optional candidate): the
    # judge grades them too, so its own error is measured and carried into quality (inputs/judge_check.py).
    judge_check: str | None = Field(None, min_length=1)
    tools: str | None = None  # a JSON or YAML file of tool definitions (OpenAI's function-tool list)
    tool_choice: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")  # auto | required | none | a tool's name
    output: Output | None = None  # structured output: the answer's JSON Schema
    production: Production | None = None  # what production runs today (written by `modelsel import traces`)
    trial: TrialPolicy | None = None  # a live trial of a challenger on production traffic (`modelsel trial`)
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
    allowed: list[Path] = []  # folders --allow-path adds to the tree files may come from

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def tree(self) -> Path:
        """The folder tree files named here must come from: the requirements file's folder, or the
        project above it when that folder is `requirements/` (the layout `modelsel init` writes, with
        evalsets/ beside it)."""
        folder = self.folder.resolve()
        return folder.parent if folder.name == "requirements" else folder

    @property
    def roots(self) -> list[Path]:
        return [self.tree] + [Path(a).resolve() for a in self.allowed]

    def resolve(self, rel: str) -> Path:
        p = Path(rel).expanduser()
        return p if p.is_absolute() else (self.folder / p)

    def confined(self, rel: str, *loc: Any) -> Path:
        """`rel` resolved from the file's folder, or bad input when it lands outside the tree
        (`prompt: ../../../../etc/shadow` is refused before it is read, copied or sent)."""
        p = self.resolve(rel)
        if not inside(p, self.roots):
            raise InputError(f"'{rel}' resolves to {p.resolve()}, outside {self.tree} (the requirements file's folder "
                             "tree); files named here must live inside it, or widen it with --allow-path DIR.",
                             path=self.path, line=self.line(*loc), field=".".join(str(x) for x in loc))
        return p

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
    ("output",): Output,
    ("trial",): TrialPolicy,
}


def _key_in_place_of_a_name(data: dict[str, Any], path: Path, lines: Lines) -> None:
    """`api_key_env` names an environment variable. A value that looks like a key itself is refused,
    and never echoed: the message names the field and line only."""
    specs = [(("candidates", i), c) for i, c in enumerate(data.get("candidates") or []) if isinstance(c, dict)]
    if isinstance(data.get("judge"), dict):
        specs.append((("judge",), data["judge"]))
    for loc, c in specs:
        v = c.get("api_key_env")
        if v is None:
            continue
        looks = isinstance(v, str) and looks_like_key(v)
        if not isinstance(v, str) or not ENV_NAME.match(v) or looks:
            where = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc).replace(".[", "[")
            raise InputError(
                ("this looks like an API key itself (not shown here); api_key_env takes the *name* of the environment "
                 "variable that holds the key (e.g. OPENAI_API_KEY). Remove the key from this file and rotate it."
                 if looks else "api_key_env takes the name of an environment variable (letters, digits and _)."),
                path=path, line=line_of(lines, loc + ("api_key_env",)), field=f"{where}.api_key_env")


def load_requirements(path: str | Path, allow: list[Path] | tuple[Path, ...] = ()) -> LoadedRequirements:
    path = Path(path)
    data, lines = load_yaml(path, MAX_REQUIREMENTS_BYTES, "requirements file")
    if not isinstance(data, dict):
        raise InputError("a requirements file must be a YAML mapping (task:, evalset:, candidates:, ...).", path=path, line=1)
    _key_in_place_of_a_name(data, path, lines)
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
    specs = [(c, ("candidates", i), f"candidates[{i}]") for i, c in enumerate(req.candidates)]
    for c, at, field in specs + ([(req.judge, ("judge",), "judge")] if req.judge else []):
        cid = c.id or c.catalog or f"{c.provider}/{c.model}"
        if not SAFE_ID.fullmatch(cid):
            raise InputError(
                f"the id {printable(cid)!r} {unsafe_id_reason(cid)}; give it an 'id:' of letters, digits and "
                f". _ - / : @ + (at most {MAX_ID} characters, starting with a letter or digit).",
                path=path, line=line_of(lines, (*at, "id")), field=f"{field}.id",
            )
    for i, c in enumerate(req.candidates):
        cid = c.id or c.catalog or f"{c.provider}/{c.model}"
        if cid in seen:
            raise InputError(
                f"candidate id '{cid}' appears twice (also candidates[{seen[cid]}]); give one an 'id:'.",
                path=path, line=line_of(lines, ("candidates", i)), field=f"candidates[{i}].id",
            )
        seen[cid] = i
    if req.quality.min_pass_all is not None and req.run.repeats < 2:
        raise InputError(repeats_needed(req.run.repeats), path=path, line=line_of(lines, ("quality", "min_pass_all")),
                         field="quality.min_pass_all")
    return LoadedRequirements(req=apply_position(req), path=path, lines=lines, allowed=list(allow))


def repeats_needed(k: int) -> str:
    """Why quality.min_pass_all cannot be judged at K tries (K < 2)."""
    return (f"quality.min_pass_all asks for the share of examples right on every try, which needs two or more "
            f"independent tries per example; this run makes {k}. Set run.repeats: 3 (or more) in the requirements "
            "file, or remove quality.min_pass_all.")


# --- the selection checklist ---------------------------------------------------------------

from modelsel.inputs.starter import MARK as PLACEHOLDER  # noqa: E402 - what `modelsel init` leaves for the PM to write


def _placeholder_fields(obj: Any, where: str = "") -> list[str]:
    """The fields still holding a placeholder (`modelsel init`'s or `modelsel import`'s)."""
    if isinstance(obj, str):
        return [where] if PLACEHOLDER in obj else []
    if isinstance(obj, dict):
        return [f for k, v in obj.items() for f in _placeholder_fields(v, f"{where}.{k}" if where else str(k))]
    if isinstance(obj, list):
        return [f for i, v in enumerate(obj) for f in _placeholder_fields(v, f"{where}[{i}]")]
    return []


def checklist(lr: LoadedRequirements, n_examples: int | None, tags: set[str],
              placeholders: list[str] | None = None) -> list[tuple[str, bool, str]]:
    """Each item of the model-selection checklist: (item, done, what is missing or what was found).
    `placeholders`: ids of eval-set examples that still hold `modelsel init`'s placeholder text."""
    r = lr.req
    q, lat, cost, comp, st = r.quality, r.latency, r.cost, r.compliance, r.strategy
    items: list[tuple[str, bool, str]] = []

    def add(item: str, ok: bool, ok_text: str, missing: str) -> None:
        items.append((item, ok, ok_text if ok else missing))

    left = _placeholder_fields(r.model_dump(mode="json", exclude_defaults=True))
    add("Requirements written", not left, "no placeholders left",
        "still the template's placeholder: " + ", ".join(left) + " (write them before comparing models)")
    if placeholders is not None:
        add("Eval set is the task's own", not placeholders, "no template placeholders left",
            f"{len(placeholders)} example(s) still hold the template's placeholder text ({', '.join(placeholders[:5])}); "
            "replace them with real inputs from the task")

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
    add("Cost of a wrong answer", cost.per_failure_usd is not None,
        f"${cost.per_failure_usd:,.2f} per failed answer; cost ranks on the {'total' if cost.ranks_on_total else 'API bill'}"
        if cost.per_failure_usd is not None else "",
        "state what a failed answer costs (cost.failure_cost_usd, or failure_minutes with hourly_rate_usd): the "
        "record then ranks on the total, failures included, not on the API bill alone")
    add("Candidates shortlisted", bool(r.candidates), f"{len(r.candidates)} candidate(s)",
        f"no candidates yet: add them under candidates:, or run `modelsel shortlist {lr.path} --write`")
    return items
