"""`modelsel shortlist`: which catalog models are worth an eval run, decided before any call.

Each catalog model is screened (deprecation, compliance with the fact and its source, context,
modalities, self-hosting), priced on the eval set's own token counts, dropped when even its
best case cannot fit the budget, then ranked by the PM's priorities and spread across price
tiers and vendors so that the eval can find the cheapest model that clears the bar.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from modelsel.catalog.compliance import compliance
from modelsel.catalog.models import Candidate, CatalogModel, _read_prompt, call_cost, load_catalog
from modelsel.inputs.evalset import EvalSet
from modelsel.inputs.prompting import estimate_tokens, render
from modelsel.inputs.requirements import LoadedRequirements, load_requirements
from modelsel.inputs.textfile import atomic_write

DEFAULT_TOP = 6


@dataclass
class Proposal:
    id: str
    vendor: str
    tier: str | None
    context_window: int | None
    open_weights: bool
    input_per_mtok: float | None
    output_per_mtok: float | None
    cost_per_request_usd: float | None = None
    monthly_usd: float | None = None
    included: bool = False
    shortlisted_already: bool = False
    out: list[str] = field(default_factory=list)  # why it is out (every filter it fails)
    risks: list[str] = field(default_factory=list)
    needs: str | None = None  # what must be installed to run it here
    why_in: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def as_candidate(cm: CatalogModel) -> Candidate:
    return Candidate(id=cm.id, provider=cm.provider, vendor=cm.vendor, model=cm.api_model, base_url=cm.base_url,
                     api_key_env=cm.api_key_env, input_per_mtok=cm.input_per_mtok or 0.0,
                     output_per_mtok=cm.output_per_mtok or 0.0, cached_input_per_mtok=cm.cached_input_per_mtok,
                     tiered=cm.tiered, price_ref=cm.price_ref, facts=dict(cm.facts), tier=cm.tier, from_catalog=True)


def token_profile(lr: LoadedRequirements, es: EvalSet) -> tuple[list[int], int]:
    """(input tokens per example, output tokens per request) from the eval set itself: the input
    as a shortlisted candidate's template renders it (the first catalog candidate that has one),
    the output from `expected` (or max_tokens when examples have none)."""
    spec = next((c for c in lr.req.candidates if c.prompt), None)
    probe = Candidate(id="probe", provider="openai", vendor="x", model="x")
    if spec is not None:
        probe.prompt = _read_prompt(lr, spec.prompt or "", lr.req.candidates.index(spec))
    ins = [estimate_tokens(render(probe, ex)[1]) for ex in es.examples]
    outs = [estimate_tokens(str(ex.expected)) for ex in es.examples if ex.expected is not None]
    max_tokens = next((int(c.params["max_tokens"]) for c in lr.req.candidates if "max_tokens" in c.params), 256)
    return ins, (math.ceil(sum(outs) / len(outs)) if outs else max_tokens)


def _filters(p: Proposal, cm: CatalogModel, lr: LoadedRequirements, include_deprecated: bool,
             needs: set[str] | frozenset[str] = frozenset()) -> None:
    req = lr.req
    if cm.deprecated and not include_deprecated:
        p.out.append(cm.deprecation or "deprecated by its vendor")
    out, risks = compliance(as_candidate(cm), req, needs)
    p.out += [f"compliance: {r}" for r in out]
    p.risks += risks
    if cm.input_per_mtok is None or cm.output_per_mtok is None:
        p.out.append("no price in the snapshot, so its cost cannot be projected")


def _cost(p: Proposal, cm: CatalogModel, lr: LoadedRequirements, ins: list[int], out_tokens: int,
          media: list[list[Any]] | None = None) -> None:
    """`media`: each example's images and files, their tokens estimated by the model's provider's rule."""
    from modelsel.inputs.media import estimate_media_tokens

    if p.input_per_mtok is None:
        return
    c = as_candidate(cm)
    extra = [estimate_media_tokens(cm.provider, m) for m in media] if media else [0] * len(ins)
    per = sum(call_cost(c, t + x, out_tokens) for t, x in zip(ins, extra, strict=True)) / len(ins) if ins else 0.0
    p.cost_per_request_usd = per
    cost = lr.req.cost
    if cost.monthly_requests is not None:
        p.monthly_usd = per * cost.monthly_requests  # best case: the first month, before growth
    if cost.max_per_request_usd is not None and per > cost.max_per_request_usd:
        p.out.append(f"estimated ${per:.6f} per request exceeds the limit ${cost.max_per_request_usd:.6f} "
                     f"({sum(ins) / max(1, len(ins)):.0f} input + {out_tokens} output tokens per request, from the eval set)")
    if cost.monthly_budget_usd is not None and p.monthly_usd is not None and p.monthly_usd > cost.monthly_budget_usd:
        p.out.append(f"estimated ${p.monthly_usd:,.2f}/month at {cost.monthly_requests:,} requests cannot fit the budget "
                     f"${cost.monthly_budget_usd:,.2f} even before growth")


def _rank_key(p: Proposal, priority: list[str]) -> tuple:
    """Known facts first (an unknown fact is a risk), then the PM's priorities. Before any call,
    price is the only measure there is: cost-first ranks cheap first; quality-first ranks the
    priciest first (price as a stand-in for capability, to be tested by the eval)."""
    cost = p.cost_per_request_usd or 0.0
    key: list[float] = [len(p.risks)]
    for pr in priority:
        if pr == "cost":
            key.append(cost)
        elif pr == "quality":
            key.append(-cost)
    return (*key, p.id)


def _spread(ok: list[Proposal], top: int, lr: LoadedRequirements) -> list[Proposal]:
    """Pick `top` models: a cheap, a middle and a premium option; at least two vendors when
    more than one is allowed; an open-weight option when lock-in tolerance is low."""
    picked: list[Proposal] = []

    def take(pred, why: str) -> None:  # type: ignore[no-untyped-def]
        for p in ok:
            if p not in picked and pred(p) and len(picked) < top:
                picked.append(p)
                p.why_in = why
                return

    for tier in ("cheap", "middle", "premium"):
        take(lambda p, t=tier: p.tier == t, f"the best-ranked {tier} option")
    if len({p.vendor for p in picked}) < 2:
        take(lambda p: p.vendor not in {q.vendor for q in picked}, "a second vendor, so a fallback can run elsewhere")
    if lr.req.strategy.lock_in_tolerance == "low" or lr.req.strategy.prefer_open_weights:
        if not any(p.open_weights for p in picked):
            take(lambda p: p.open_weights, "open weights (lock-in tolerance is low)")
    per_vendor_cap = max(2, math.ceil(top / 2))
    for p in ok:
        if len(picked) >= top:
            break
        if p not in picked and sum(q.vendor == p.vendor for q in picked) < per_vendor_cap:
            picked.append(p)
            p.why_in = "next by the PM's priorities"
    return picked


def propose(lr: LoadedRequirements, es: EvalSet, top: int = DEFAULT_TOP, include_deprecated: bool = False
            ) -> tuple[list[Proposal], str | None]:
    """(every catalog model with the reason it is in or out, the filter that emptied the list)."""
    cat = load_catalog()
    shortlisted = {c.catalog for c in lr.req.candidates if c.catalog}
    from modelsel.inputs.media import blobs, modalities

    ins, out_tokens = token_profile(lr, es)
    needs = modalities(es.examples)  # an eval set with images proposes only models that take them
    media = [blobs(ex) for ex in es.examples] if needs else None
    props = []
    for cm in cat.values():
        p = Proposal(id=cm.id, vendor=cm.vendor, tier=cm.tier, context_window=cm.fact("context_window"),
                     open_weights=bool(cm.fact("open_weights")), input_per_mtok=cm.input_per_mtok,
                     output_per_mtok=cm.output_per_mtok, shortlisted_already=cm.id in shortlisted, needs=cm.needs)
        _filters(p, cm, lr, include_deprecated, needs)
        if not p.out:
            _cost(p, cm, lr, ins, out_tokens, media)
        props.append(p)
    ok = sorted([p for p in props if not p.out], key=lambda p: _rank_key(p, lr.req.decision.priority))
    for p in _spread(ok, top, lr):
        p.included = True
    # A shortlisted model its vendor retires: the replacement the vendor names is proposed too.
    by_id = {p.id: p for p in props}
    for spec in lr.req.candidates:
        cm = cat.get(spec.catalog or "")
        succ = by_id.get(cm.successor) if cm is not None and cm.successor else None
        if succ is not None and not succ.out:
            succ.included = True
            succ.why_in = (f"replaces {cm.id} ({cm.deprecation})")
    emptied = None if ok else _emptying_filter(props)
    order = {id(p): i for i, p in enumerate(ok)}
    props.sort(key=lambda p: (not p.included, p.out != [], order.get(id(p), 10**9), p.id))
    return props, emptied


def _emptying_filter(props: list[Proposal]) -> str:
    """The filter that removed the most models, named as the PM would look for it."""
    from collections import Counter

    kinds = Counter()
    for p in props:
        for r in p.out:
            kinds[reason_kind(r)] += 1
    if not kinds:
        return "no catalog model"
    k, n = kinds.most_common(1)[0]
    return f"{k} (removes {n} of {len(props)} catalog models)"


def reason_kind(reason: str) -> str:
    for key, label in (("context window", "strategy.min_context_tokens"), ("regions", "compliance.allowed_regions"),
                       ("train", "compliance.require_no_training"), ("BAA", "compliance.require_baa"),
                       ("retains", "compliance.max_retention_days"), ("self-hosted", "compliance.self_hosted_only"),
                       ("does not accept", "strategy.modalities"), ("unknown", "unknown facts (strategy.position: regulated)"),
                       ("per request exceeds", "cost.max_per_request_usd"), ("cannot fit the budget", "cost.monthly_budget_usd"),
                       ("deprecated", "deprecated models"), ("retired by", "deprecated models"), ("no price", "no price")):
        if key in reason:
            return label
    return reason


def write_candidates(lr: LoadedRequirements, ids: list[str]) -> list[str]:
    """Append `- catalog: ID` entries to the file's candidates: block, keeping every comment and
    line as it is; the new file is validated before it replaces the old one."""
    have = {c.catalog for c in lr.req.candidates if c.catalog}
    new = [i for i in ids if i not in have]
    if not new:
        return []
    text = lr.path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if lr.line("candidates") is None:  # a file with no candidates: key yet (right after init or an import)
        lines = [*lines[:-1], lines[-1].rstrip("\n") + "\n"] if lines else []
        lines.append("candidates:\n")
        start = len(lines) - 1
    else:
        start = lr.line("candidates") - 1  # type: ignore[operator]
        # `candidates: []` (or `candidates:` with nothing): the block form, so items can follow
        lines[start] = re.sub(r"^(\s*candidates:)\s*(\[\s*\]|null|~)?\s*(#.*)?$", r"\1 \3", lines[start].rstrip("\n")
                              ).rstrip() + "\n"
    end = start + 1
    item_indent = None
    while end < len(lines):
        s = lines[end]
        stripped = s.strip()
        if stripped and not s.startswith((" ", "\t", "-", "#")):
            break
        if item_indent is None and stripped.startswith("-"):
            item_indent = len(s) - len(s.lstrip())
        end += 1
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1  # keep trailing blank lines and comments after the block where they are
    pad = " " * (2 if item_indent is None else item_indent)
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    add = [f"{pad}- catalog: {i}    # proposed by `modelsel shortlist`\n" for i in new]
    out = "".join(lines[:end] + add + lines[end:])
    tmp = lr.path.with_name(f".{lr.path.name}.shortlist.tmp")
    tmp.write_text(out, encoding="utf-8")
    try:
        load_requirements(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    atomic_write(lr.path, out)
    return new
