"""The shape of summary.json (schema_version 2): what metrics, `decide` and `simulate` return
and what every report and `review` read. Attribute access a type checker can follow, one
meaning per field. The README's schema section is checked against these models by a test.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION = 2


class Model(BaseModel):
    # Files written by a later modelsel may carry fields this one does not know: ignore them.
    model_config = ConfigDict(extra="ignore")


# --- figures of one candidate (or one simulated strategy) -------------------------------------

class PassK(Model):
    """A share of examples over their K independent tries (run.repeats / --repeat): right on all k tries
    (pass^k) or on at least one (pass@k), with its 95% interval over examples."""

    value: float | None = None
    lo: float | None = None
    hi: float | None = None
    n: int = 0  # examples asked at least k times
    k: int = 0
    clusters: int | None = None  # independent units when examples share clusters
    missing: int = 0  # examples asked fewer than k times (or never): lo/hi count them as anything from 0 to 1


class Flips(Model):
    """Examples right on some tries and wrong on others, counted, named, and as a share with its interval."""

    count: int = 0
    n: int = 0  # examples asked at least k times
    k: int = 0
    value: float | None = None  # count / n
    lo: float | None = None
    hi: float | None = None
    ids: list[str] = []  # every flipping example, in eval-set order


class QualityFigures(Model):
    mean: float | None = None
    lo: float | None = None
    hi: float | None = None
    n: int = 0  # examples scored (repeats pooled per example)
    method: Literal["exact", "exact_clustered", "bounded_betting", "cluster_betting", "bootstrap_t", "t", "cluster_t",
                    "judge_rogan_gladen", "none"] = "none"  # analysis/methods.py names each
    pass_rate: float | None = None
    pass_lo: float | None = None
    pass_hi: float | None = None
    calls: int = 0  # calls with this tag, errors included
    failed: int = 0  # calls that failed the pass threshold or errored
    failed_ids: list[str] = []  # the first few, for must_pass reasons
    clusters: int | None = None  # independent units: distinct clusters (an example without one is its own)
    answered_mean: float | None = None  # quality of answered calls only (errors left out): shown, never judged
    answered_n: int = 0
    missing: int = 0  # examples never asked (deadline, budget, stop): lo/hi count them as anything from 0 to 1
    conf: float | None = None  # the interval's level when not 95% (a group of quality.max_gap: simultaneous)
    # With K >= 2 independent tries per example (run.repeats): right on all K, on at least one, and the flips.
    pass_all: PassK | None = None
    pass_at_k: PassK | None = None
    flips: Flips | None = None


class GapFigures(Model):
    """quality.max_gap: the largest quality gap between groups, with a 95% interval for all pairs at once."""

    groups: list[str] = []
    value: float | None = None  # highest group's quality - lowest group's
    lo: float | None = None
    hi: float | None = None
    worst: list[str] = []  # [highest group, lowest group]
    by_group: dict[str, QualityFigures] = {}  # each at 1 - 0.05/m, m pairs
    missing: list[str] = []  # groups with no answered example
    partial: bool = False  # a group has examples never asked


class Quantile(Model):
    value: float | None = None
    lo: float | None = None  # None: the data cannot bound it at 95%
    hi: float | None = None  # None: no 95% upper bound (p95 below n = 59)
    n: int = 0


class LatencyBucket(Model):
    """Latency of calls whose input falls in one size bucket."""

    n: int = 0
    p50: Quantile = Quantile()
    p95: Quantile = Quantile()
    ttft_p50: Quantile | None = None
    output_tokens_per_s: float | None = None


class LatencyFigures(Model):
    n: int = 0  # calls the percentiles use
    cold_excluded: int = 0
    method: str = "order statistics (distribution-free, 95%)"
    p50: Quantile = Quantile()
    p95: Quantile = Quantile()
    p99: Quantile = Quantile()
    mean_ms: float | None = None
    ttft_p50: Quantile | None = None
    ttft_p95: Quantile | None = None
    attempt_p50: Quantile | None = None  # the successful attempt alone (when some requests were retried)
    attempt_p95: Quantile | None = None
    output_tokens_per_s: float | None = None
    # Where the judged figures come from, under which load, and how far this machine may have moved them
    source: str = "quality pass"  # quality pass | quality pass + extra calls | quiet pass | load pass
    load: str | None = None  # the load the figures hold under (latency.load), else the quality pass's concurrency
    extra_calls: int = 0  # latency-only calls added so a percentile could be bounded (never counted for quality)
    extra_declined: bool = False  # --no-extra-calls: a percentile without enough calls is not judged
    extra_stopped: str | None = None  # why the latency-only calls stopped early (a provider's Retry-After over the cap)
    extra_dropped: int = 0  # latency-only calls that failed after their one retry (optional: left out)
    machine_added_p50_ms: float | None = None  # what this machine added to the control's calls meanwhile (control.py)
    machine_added_p95_ms: float | None = None
    machine_added_n: int = 0
    machine_floor_ms: float | None = None  # a call alone on this machine (the control, nothing else in flight)
    sustained_rps: float | None = None  # latency.load.rps: answered per second over the pass
    load_problem: str | None = None  # the stated load was not sustained (rate limits, errors, queueing)
    not_judged: str | None = None  # why the quiet or load pass judges nothing (the machine, the deadline)
    by_input: dict[str, LatencyBucket] = {}  # by input tokens (< 1k, 1k-10k, 10k-100k, >= 100k), when the set spans two


class CostFigures(Model):
    per_request_usd: float | None = None
    per_request_lo: float | None = None
    per_request_hi: float | None = None
    p95_per_request_usd: float | None = None
    input_tokens_mean: float | None = None
    output_tokens_mean: float | None = None
    reasoning_tokens_mean: float | None = None  # of the output tokens, thinking (billed as output)
    n: int = 0  # answered examples the cost rests on (quality calls; an example's repeats are one draw)
    # Where the examples carry images or PDFs: a call's cost shared over its images (its pages),
    # the mean over answered calls that sent any, with its 95% interval and n.
    per_image_usd: float | None = None
    per_image_lo: float | None = None
    per_image_hi: float | None = None
    per_image_n: int = 0
    per_page_usd: float | None = None
    per_page_lo: float | None = None
    per_page_hi: float | None = None
    per_page_n: int = 0
    fixed_monthly_usd: float = 0.0
    monthly_usd: float | None = None
    monthly_lo: float | None = None
    monthly_hi: float | None = None
    monthly_usd_at_horizon: float | None = None
    horizon_total_usd: float | None = None
    horizon_months: int | None = None
    # With a failure cost in the requirements: failed answers a month (failure rate x volume), what
    # they cost, and the total a month (API + hosting + failures), each with its 95% interval.
    failures_monthly: float | None = None
    failures_monthly_lo: float | None = None
    failures_monthly_hi: float | None = None
    failure_cost_monthly_usd: float | None = None
    total_monthly_usd: float | None = None
    total_monthly_lo: float | None = None
    total_monthly_hi: float | None = None
    # How the month was projected as production will be billed (analysis/projection.py)
    api_per_request_usd: float | None = None  # the API bill alone, before the fixed cost's share
    fixed_per_request_usd: float | None = None  # fixed monthly cost / monthly requests (counted in per_request_usd)
    interval_method: str | None = None
    cache_hit_rate: float | None = None  # production's prompt-cache hit rate the month is priced at
    cache_hit_rate_source: str | None = None  # stated | production traces | estimated | none
    cache_hit_rate_text: str | None = None  # the figure and its assumption, in words
    eval_cache_hit_rate: float | None = None  # the eval's own hits (its order and concurrency): shown, never projected
    cache_prefix_tokens: int | None = None  # the shared prefix read from or written to the cache
    service_tier: str | None = None  # the tier the candidate asks for (flex, priority, speed fast), priced at its rate
    service_tier_price: str | None = None  # where that tier's price comes from
    input_lengths_source: str | None = None  # production's input lengths priced (cost.input_tokens, production:)
    long_context_from_tokens: int | None = None  # the input length above which the long-context rates apply
    long_context_share: float | None = None  # production's share of calls above it
    eval_long_context_share: float | None = None  # the eval set's share
    price_changes: list[str] = []  # a dated price change inside the horizon
    instances: int | None = None  # self-hosting: instances the volume needs
    instances_note: str | None = None
    break_even: dict[str, float] = {}  # API candidate -> monthly requests above which this fixed-cost one is cheaper


class Rate(Model):
    value: float | None = None
    lo: float | None = None
    hi: float | None = None
    n: int = 0


class JudgeAgreement(Model):
    """The judge against people on the judge_check set, for one candidate's answers: the rows that
    name it and the rows that name no candidate. Each rate with its exact 95% interval and n."""

    n: int = 0  # rows the judge graded
    own: int = 0  # of them, rows naming this candidate
    agreement: Rate = Rate()  # the judge's verdict is the person's
    sensitivity: Rate = Rate()  # of the answers people passed, the share the judge passed
    specificity: Rate = Rate()  # of the answers people failed, the share the judge failed
    corrected: bool = False  # quality's mean and interval carry the judge's measured error
    # The quality the judge's verdicts gave before the correction (what the record showed without it).
    judged_mean: float | None = None
    judged_lo: float | None = None
    judged_hi: float | None = None
    note: str = ""  # why quality was not corrected, when it was not


class ToolUse(Model):
    """What a candidate did on tool-call examples (the tool_call scorer's verdicts, repeats counted as
    calls; a request that ended in an error is neither right nor an unwanted call)."""

    right: Rate = Rate()  # the right tool with the right arguments, of the calls on examples that expect a call
    unexpected: Rate = Rate()  # a call made, of the calls on examples that expect none ({"tool_calls": []})
    verdicts: dict[str, int] = {}  # every verdict (scoring.tools.VERDICTS) and how often


class Figures(Model):
    """Everything measured for one candidate or strategy, each sample figure with its n and interval."""

    n: int = 0  # examples with at least one call
    n_calls: int = 0
    errors: int = 0
    answered: int = 0
    error_rate: Rate = Rate()
    error_kinds: dict[str, int] = {}
    retries: int = 0
    retried_requests: int = 0  # requests that needed more than one attempt (their wait is in the latency)
    retry_kinds: dict[str, int] = {}  # why: requests that met each kind of failed attempt
    cached: int = 0
    truncated: int = 0  # answers cut at run.max_answer_chars (their cost is a lower bound)
    replayed: int = 0
    quality: QualityFigures = QualityFigures()
    by_tag: dict[str, QualityFigures] = {}
    gaps: dict[str, GapFigures] = {}  # quality.max_gap, by its key (the groups as written)
    latency: LatencyFigures = LatencyFigures()
    cost: CostFigures = CostFigures()
    judge_cost_usd: float = 0.0
    tool_use: ToolUse | None = None  # with tool-call examples only
    judge: JudgeAgreement | None = None  # with a judge_check set only


class Check(Model):
    """One hard requirement judged on one candidate's figures (see modelsel/analysis/limits.py)."""

    requirement: str  # e.g. latency.p95_ms
    status: Literal["pass", "at_risk", "fail", "unmeasured"]
    measured: float | None = None
    lo: float | None = None
    hi: float | None = None
    limit: float | None = None
    higher_is_better: bool = True
    text: str = ""
    move_limit_to: float | None = None
    by: float | None = None


# --- comparisons --------------------------------------------------------------------------------

class Comparison(Model):
    a: str
    b: str
    n: int
    diff: float  # mean of a - b over the shared examples
    lo: float | None = None
    hi: float | None = None
    p_value: float = 1.0
    p_holm: float | None = None  # within the family named in decision.multiplicity
    test: str = "none"  # tango_score | paired_t | cluster_signflip | bounded_betting | welch_t | none
    significant: bool = False  # 95% interval excludes 0 (equivalently p < 0.05)
    sd_diff: float | None = None
    discordant: int | None = None
    a_only: int | None = None
    b_only: int | None = None
    clusters: int | None = None  # the independent units when examples share clusters (sign-flip test)
    n_eff: float | None = None
    se: float | None = None
    df: float | None = None
    margin: float | None = None  # decision.small_difference the non-inferiority p-values test
    p_b_noninferior: float | None = None  # one-sided p of 'a - b >= margin' (b worse by the margin or more)
    p_a_noninferior: float | None = None  # one-sided p of 'b - a >= margin', by the same test as the interval


class Resolution(Model):
    n_examples: int = 0
    clusters: int | None = None
    n_effective: float | None = None
    design_effect: float | None = None
    sd_of_paired_differences: float | None = None
    sd_source: str = ""
    resolvable_difference: float | None = None
    minimum_detectable_difference_80pct_power: float | None = None
    small_difference: float | None = None
    n_to_detect_small_difference: int | None = None
    family: int = 1  # comparisons in the Holm family: the pair is tested at 0.05 / family at the strictest step
    alpha_per_pair: float | None = None
    test: str | None = None  # the test the figures are for
    can_show: bool = True  # False: the design cannot show any difference (too few clusters for the sign-flip test)
    clusters_needed: int | None = None  # the fewest clusters with which a difference could be shown
    on: str = "mean score"  # what the paired comparisons compare per example (quality.min_pass_all: right on all K)


# --- the decision -------------------------------------------------------------------------------

class Verdict(Model):
    """How one survivor stands against the best-scoring survivor."""

    candidate: str
    versus: str
    comparison: Comparison | None = None  # best - candidate
    verdict: Literal["worse", "not_distinguishable", "equivalent", "non_inferior", "not_shown_non_inferior", "not_comparable"]
    text: str


class NearMiss(Model):
    candidate: str
    n_failed: int
    relative_gap: float
    failed: list[Check]


class FallbackCost(Model):
    quality_diff: float
    p95_ms_diff: float
    monthly_usd_diff: float | None = None  # None: the monthly volume is not stated
    per_request_usd_diff: float | None = None


class BreakEven(Model):
    candidate: str
    monthly_requests: int
    fixed_monthly_usd: float


class ReviewPlan(Model):
    next_review_date: str
    every_days: int
    triggers: list[str]


class Decision(Model):
    chosen: str | None = None
    fallback: str | None = None
    fallback_same_vendor: bool = False
    fallback_note: str | None = None
    rule: str | None = None
    policy: Literal["not_distinguishable", "non_inferior"] = "not_distinguishable"
    best: str | None = None  # highest mean quality among survivors
    reasons: list[str] = []
    pool: list[str] = []  # survivors the choice was made among (the policy decides who is in)
    verdicts: list[Verdict] = []
    multiplicity: str = ""
    survivors: list[str] = []
    eliminated: dict[str, list[str]] = {}
    failures: dict[str, list[Check]] = {}
    at_risk: dict[str, list[str]] = {}
    not_evaluated: dict[str, str] = {}
    nearest_misses: list[NearMiss] = []
    trade_offs: list[str] = []
    fallback_cost: FallbackCost | None = None
    extra_quality_monthly_usd: float | None = None
    self_hosting_break_even: BreakEven | None = None
    review: ReviewPlan | None = None
    partial_data: str | None = None
    evidence_missing: str | None = None  # the design cannot separate the survivors: no choice on price among them
    lifecycle: list[str] = []  # the chosen model's or fallback's announced shutdown, set against the next review


# --- strategies ---------------------------------------------------------------------------------

class StrategyResult(Model):
    name: str
    kind: Literal["routing", "cascade", "oracle_cascade", "fallback_chain", "ensemble"]
    members: list[str]
    figures: Figures | None = None  # out of sample where the strategy learns from the data
    in_sample_quality: QualityFigures | None = None  # routing: the table scored on the examples that chose it
    checks: list[Check] = []
    vs_single: Comparison | None = None
    upper_bound: bool = False  # needs the answer key: shown as a ceiling, never recommended
    recommendable: bool = False
    worth_trial: bool = False  # gains on the first priority but not shown non-inferior: a trial could settle it
    why_not: str | None = None
    detail: str = ""
    table: dict[str, str] | None = None
    table_stability: float | None = None  # share of folds whose table equals the final one
    share: dict[str, float] | None = None
    signal: str | None = None  # what a cascade escalates on, known at request time
    escalation_rate: float | None = None
    availability_single: float | None = None
    availability_chain: float | None = None
    availability_single_lo: float | None = None  # 95% lower bounds from the calls (exact binomial)
    availability_chain_lo: float | None = None
    assumes: str | None = None
    latency_when_falling_back_ms: float | None = None


class ABTest(Model):
    a: str
    b: str
    observed_difference: float
    samples_per_arm: int | None
    note: str


class Strategies(Model):
    single: str | None = None
    strategies: list[StrategyResult] = []
    ab_test: ABTest | None = None
    recommended: str | None = None
    why: str = ""


# --- the whole summary --------------------------------------------------------------------------

class PriceSnapshot(Model):
    source: str
    version: str | None = None
    as_of: str | None = None
    age_days: int | None = None
    stale: bool = False
    known: bool = True  # False: not a snapshot this release has a date for (see `warning`)
    warning: str | None = None


class BatchCandidate(Model):
    mode: Literal["batch", "live"]
    why_live: str | None = None  # why it ran live in a batch run (no batch API)
    api: str | None = None
    batch_id: str | None = None
    items: int = 0  # quality calls (examples x repeats)
    from_batch: int = 0
    from_cache: int = 0  # answered by an earlier batch
    retried_live: int = 0  # errored, expired or cancelled inside the batch, then made live
    resumed: bool = False  # a batch submitted earlier (a killed run) was collected, none submitted
    state: str | None = None
    rejected: str | None = None  # the provider's message when it rejected the batch
    waited_s: float = 0.0
    billed_usd: float = 0.0  # the batch lines at the batch price
    at_live_usd: float = 0.0  # the same tokens at the standard price
    live_sample: int = 0  # live calls its latency rests on
    problems: list[str] = []  # what was wrong in the results file, line by line (read on past each)
    bad_usage: int = 0  # lines whose token usage could not be true: errors, not billed as reported
    left_out: int = 0  # requests the results file answered twice differently, or that could not be read: no figure


class BatchRun(Model):
    processing: Literal["live", "batch"] = "live"  # the price the decision judged (cost.processing)
    latency_sample: int = 30
    candidates: dict[str, BatchCandidate] = {}
    billed_usd: float = 0.0
    at_live_usd: float = 0.0
    saving_usd: float = 0.0


class LoopLag(Model):
    """How late the event loop woke (every 10 ms asked) while calls were in flight."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    n: int
    flagged: bool = False  # p95 over 5 ms: the machine itself queued answers before their clocks stopped


class MachineAdded(Model):
    """What this machine added to the control endpoint's calls (client time minus the server's own)."""

    n: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    lag_p50_ms: float | None = None  # how late the event loop woke meanwhile (sampled beside the control's calls)
    lag_p95_ms: float | None = None
    floor_ms: float | None = None  # the control alone after the quality pass (measured when its median was over the threshold)
    quiet_pass: bool = False  # over the threshold: the judged latency comes from a quiet pass


class EvalsetMedia(Model):
    """What the eval set sends beyond text (each file's name, size and sha256 are in the records)."""

    images: int = 0
    documents: int = 0
    pages: int = 0
    bytes: int = 0
    examples: int = 0  # examples that carry at least one
    files: list[str] = []  # the first few names, as the eval set writes them


class RunInfo(Model):
    started_at: str
    finished_at: str
    requirements: str
    requirements_sha256: str | None = None
    evalset: str
    evalset_rel: str | None = None  # as the requirements file names it
    evalset_sha256: str | None = None
    n_examples: int
    media: EvalsetMedia | None = None  # the eval set's images and documents, when it has any
    repeat: int = 1
    spent_usd: float = 0.0
    budget_usd: float | None = None
    budget_stopped: bool = False
    budget_reserved_usd: float | None = None  # held for calls in flight when the guard refused the next call
    calls_not_made: int = 0
    not_judged: int = 0
    not_run: int = 0  # calls not started when the run's deadline passed
    deadline_minutes: float | None = None
    deadline_hit: bool = False
    replayed: bool = False
    timeout_s: float = 60.0
    rescored_at: str | None = None
    rescored_from: str | None = None  # the run folder whose answers were scored again (left untouched)
    rescored_with: str | None = None  # the requirements file whose scorers were used
    catalog_as_of: str | None = None
    catalog_ids: list[str] | None = None  # the catalog when the decision was made: review names what is new since
    prices: PriceSnapshot | None = None
    loop_lag: LoopLag | None = None
    machine: MachineAdded | None = None  # the control endpoint during the quality pass
    batch: BatchRun | None = None  # quality through provider batches (--batch): what ran how


class Price(Model):
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cached_input_per_mtok: float | None = None
    fixed_monthly_usd: float = 0.0
    tiered: bool = False
    source: str = "unknown"
    as_of: str | None = None


class Fact(Model):
    """A fact about a model (a price, a policy, a context window), with where and when it was true."""

    value: Any = None
    source: str = "unknown"
    as_of: str | None = None


class CandidateEntry(Figures):
    provider: str
    vendor: str
    model: str
    base_url: str | None = None
    params: dict[str, Any] = {}
    prompt: str | None = None
    system: str | None = None
    from_catalog: bool = False
    price: Price = Price()
    facts: dict[str, Fact] = {}
    status: Literal["evaluated", "eliminated", "not_evaluated"] = "evaluated"
    reasons: list[str] = []
    at_risk: list[str] = []
    checks: list[Check] = []


class ChecklistItem(Model):
    item: str
    done: bool
    detail: str


class JudgeInfo(Model):
    model: str
    cost_usd: float
    check: str | None = None  # the judge_check file, as the requirements name it
    check_rows: int = 0
    check_not_graded: int = 0  # rows the judge could not grade (failed call, budget guard): left out
    check_cost_usd: float = 0.0  # the judge grading the check set (not in any candidate's cost)
    note: str = ""  # how the judge's own error enters the figures, or that it does not


class Versus(Model):
    """The chosen candidate against a baseline, example by example (the PM's 'what changes')."""

    baseline: str
    why: str  # "the fallback", "the runner-up", "what runs today"
    chosen_only: list[str] = []  # examples the chosen one gets right and the baseline gets wrong
    baseline_only: list[str] = []  # the reverse
    both_right: int = 0
    both_wrong: int = 0


class Unacceptable(Model):
    rule: str  # the requirements' own words
    checked: bool  # whether modelsel can check it (an answer outside the label set, or JSON that does not parse)
    counts: dict[str, int] = {}  # per candidate: answers that broke it
    n: dict[str, int] = {}
    examples: dict[str, list[str]] = {}  # the first few example ids


class Evidence(Model):
    """What the record's plain opening, status and risks rest on, per example where it matters."""

    status: Literal["decided", "provisional", "none"] = "none"
    provisional_because: list[str] = []
    must_not: list[str] = []  # sentences of the Context that say what must not happen
    unacceptable: list[Unacceptable] = []
    tag_failures: dict[str, dict[str, list[str]]] = {}  # candidate -> tag -> failed example ids (must_pass, adversarial)
    tag_tested: dict[str, dict[str, int]] = {}  # candidate -> tag -> examples with that tag
    risks: list[str] = []  # one line each, the file's own words first, no line twice
    versus: Versus | None = None
    confusion: dict[str, dict[str, dict[str, int]]] = {}  # candidate -> expected -> answered -> count (label tasks)


class Supersedes(Model):
    folder: str
    date: str
    chosen: str | None = None
    changes: list[str] = []


class DeployedFile(Model):
    """A runtime configuration `modelsel deploy` wrote from this decision."""
    format: Literal["litellm", "openrouter", "env"]
    file: str
    sha256: str
    at: str  # when it was written (UTC)


class Summary(Model):
    schema_version: int = SCHEMA_VERSION
    modelsel_version: str
    run: RunInfo
    requirements: dict[str, Any]
    candidates: dict[str, CandidateEntry]
    comparisons: list[Comparison] = []
    resolution: Resolution = Resolution()
    decision: Decision = Decision()
    strategies: Strategies = Strategies()
    checklist: list[ChecklistItem] = []
    judge: JudgeInfo | None = None
    evidence: Evidence = Evidence()
    supersedes: Supersedes | None = None  # the last record for the same requirements, and what changed since
    deployments: list[DeployedFile] = []  # `modelsel deploy`: the configs written from this decision

    def figures(self, cid: str) -> CandidateEntry:
        return self.candidates[cid]
