"""Rule 1: compliance, decided before any call from each candidate's facts and their sources.
Kept apart from the rest of the rules so that screening needs none of the statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelsel.inputs.candidate import Candidate
from modelsel.inputs.requirements import Requirements


@dataclass
class Screening:
    """What rule 1 and the machine decided before any call."""

    not_evaluated: dict[str, str] = field(default_factory=dict)
    compliance_out: dict[str, list[str]] = field(default_factory=dict)
    compliance_risks: dict[str, list[str]] = field(default_factory=dict)


# --- rule 1: compliance, before any call -----------------------------------------------------

def _src(c: Candidate, fact: str) -> str:
    f = c.facts.get(fact)
    if f is None:
        return "no source"
    return f"source: {f.source}" + (f", as of {f.as_of}" if f.as_of else "")


_NAMES = {"image": "images", "pdf": "PDF documents"}


def compliance(c: Candidate, req: Requirements, evalset_needs: set[str] | frozenset[str] = frozenset()
               ) -> tuple[list[str], list[str]]:
    """(reasons to eliminate, risks) for one candidate, before any call is made. `evalset_needs`:
    the modalities the eval set's examples carry (image, pdf), needed like strategy.modalities.
    An unknown fact is a risk, never silently compliant; under `strategy.position: regulated`
    an unknown fact eliminates."""
    comp, st = req.compliance, req.strategy
    out: list[str] = []
    risks: list[str] = []
    strict = req.unknown_facts_eliminate

    def unknown(fact: str, need: str) -> None:
        text = f"{fact} unknown ({need}); {_src(c, fact)}"
        (out if strict else risks).append(text + (" — unknown facts eliminate under position: regulated" if strict else ""))

    if comp.allowed_regions is not None:
        regions = c.fact("regions")
        if regions is None:
            unknown("regions", f"allowed: {', '.join(comp.allowed_regions)}")
        elif "any" not in regions and not set(map(str.lower, regions)) & set(map(str.lower, comp.allowed_regions)):
            out.append(f"processes data in {', '.join(regions)}, not in the allowed regions "
                       f"{', '.join(comp.allowed_regions)} ({_src(c, 'regions')})")
    if comp.require_no_training:
        v = c.fact("trains_on_data")
        if v is None:
            unknown("trains_on_data", "no training on data is required")
        elif v:
            out.append(f"may train on submitted data ({_src(c, 'trains_on_data')})")
    if comp.require_baa:
        v = c.fact("baa_available")
        if v is None:
            unknown("baa_available", "a HIPAA BAA is required")
        elif not v:
            out.append(f"no HIPAA BAA available ({_src(c, 'baa_available')})")
    if comp.max_retention_days is not None:
        v = c.fact("retention_days")
        if v is None:
            unknown("retention_days", f"at most {comp.max_retention_days} days allowed")
        elif v > comp.max_retention_days:
            out.append(f"retains data {v} days, more than the allowed {comp.max_retention_days} ({_src(c, 'retention_days')})")
    if comp.self_hosted_only and not c.fact("self_hosted"):
        out.append(f"not self-hosted, and the requirements allow only self-hosted models ({_src(c, 'self_hosted')})")
    need_mod = (set(st.modalities) | set(evalset_needs)) - {"text"}
    if need_mod:
        mods = c.fact("modalities")
        if mods is None:
            unknown("modalities", f"needs {', '.join(sorted(need_mod))}")
        elif need_mod - set(mods):
            missing = sorted(need_mod - set(mods))
            why = [_NAMES.get(m, m) for m in missing if m in evalset_needs]
            out.append(f"does not accept {', '.join(missing)} ({_src(c, 'modalities')})"
                       + (f": the eval set has {' and '.join(why)}" if why else ""))
    if st.min_context_tokens:
        ctx = c.fact("context_window")
        if ctx is None:
            unknown("context_window", f"needs {st.min_context_tokens:,} tokens")
        elif ctx < st.min_context_tokens:
            out.append(f"context window {ctx:,} tokens, below the {st.min_context_tokens:,} needed ({_src(c, 'context_window')})")
    return out, risks
