"""`review --deployed FILE`: does the configuration production runs still say what was decided? The
file (a LiteLLM config.yaml, an OpenRouter request body or a .env that `modelsel deploy` wrote, or one
a team edited since) is read like any input and held against what deploy writes from the decision:
the same models in the same order, the same measured parameters, no fallback dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelsel.report import deploy as dp

_PLACE = {"api_key", "api_base", "timeout", "tags", "stream_timeout", "max_retries", "rpm", "tpm"}  # where, not what


def _kind(path: Path, text: str) -> str:
    if path.suffix in (".yaml", ".yml"):
        return "litellm"
    if path.suffix == ".json" or text.lstrip().startswith("{"):
        return "openrouter"
    return "env"


def _params(expected: dict[str, Any], actual: dict[str, Any], who: str) -> list[str]:
    out = []
    for k in sorted(set(expected) | set(actual)):
        if k in _PLACE or k == "model":
            continue
        if k not in actual:
            out.append(f"{who}: '{k}' was measured at {json.dumps(expected[k])} and is not sent")
        elif k not in expected:
            out.append(f"{who}: sends '{k}' = {json.dumps(actual[k])}, which the eval did not measure")
        elif actual[k] != expected[k]:
            out.append(f"{who}: '{k}' is {json.dumps(actual[k])}, measured at {json.dumps(expected[k])}")
    return out


def _litellm(p: dp.Plan, text: str) -> list[str]:
    import yaml
    from pydantic import ValidationError

    from modelsel.report.deploy_schema import LiteLLMConfig

    try:
        cfg = LiteLLMConfig.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        return [f"not a LiteLLM config modelsel can read: {str(exc).splitlines()[0][:200]}"]
    want = LiteLLMConfig.model_validate(dp.litellm(p))
    out: list[str] = []
    for w in want.model_list:
        wid = (w.model_info.id if w.model_info else None) or w.model_name
        got = next((d for d in cfg.model_list if d.model_info and d.model_info.id == wid), None) or \
            next((d for d in cfg.model_list if d.model_name == w.model_name), None)
        if got is None:
            out.append(f"'{wid}' of the decision is not in the config")
            continue
        if got.litellm_params.model != w.litellm_params.model:
            out.append(f"'{wid}': the config calls {got.litellm_params.model}, the decision {w.litellm_params.model}")
        out += _params(w.litellm_params.model_dump(exclude_none=True), got.litellm_params.model_dump(exclude_none=True),
                       f"'{wid}'")
    wf = (want.router_settings.fallbacks if want.router_settings else None) or []
    gf = (cfg.router_settings.fallbacks if cfg.router_settings else None) or []
    for group in wf:
        for primary, chain in group.items():
            have = next((g[primary] for g in gf if primary in g), None)
            if have is None:
                out.append(f"no fallback for '{primary}' (the decision falls back to {', '.join(chain)})")
                continue
            out += [f"the fallback from '{primary}' to '{f}' was dropped" for f in chain if f not in have]
            if [f for f in have if f in chain] != [f for f in chain if f in have]:
                out.append(f"the fallbacks of '{primary}' are in another order than decided ({', '.join(chain)})")
    if wf and gf and next(iter(gf[0])) != next(iter(wf[0])):
        out.append(f"the config falls back from '{next(iter(gf[0]))}', the decision from '{next(iter(wf[0]))}'")
    return out


def _openrouter(p: dp.Plan, text: str) -> list[str]:
    try:
        got = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"not a JSON request body ({exc.msg})"]
    want = dp.openrouter(p)
    out = []
    if got.get("models") != want["models"]:
        out.append(f"models {got.get('models')} where the decision is {want['models']}")
    keep = {"models", "provider", "messages", "x-modelsel-note"}
    out += _params({k: v for k, v in want.items() if k not in keep}, {k: v for k, v in got.items() if k not in keep},
                   "the request")
    if want.get("messages") != got.get("messages"):
        out.append("the system prompt is not the one the eval measured")
    return out


def _env(p: dp.Plan, text: str) -> list[str]:
    got: dict[str, str] = {}
    for line in text.split("\n"):
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            try:
                got[k.strip()] = json.loads(v) if v.startswith('"') else v
            except json.JSONDecodeError:
                got[k.strip()] = v
    return [f"{k} is {got.get(k)!r}, decided {v!r}" if k in got else f"{k} is missing"
            for k, v in dp.env(p) if k not in ("MODELSEL_RUN", "MODELSEL_SUMMARY_SHA256") and got.get(k) != v]


def findings(folder: Path, file: Path) -> list[str]:
    """What in `file` is not the decision of the run in `folder` (empty: it is)."""
    from modelsel.errors import InputError
    from modelsel.inputs.textfile import MAX_REQUIREMENTS_BYTES, read_text

    text = read_text(file, MAX_REQUIREMENTS_BYTES, "deployed config")
    _, p = dp.load_plan(folder)
    kind = _kind(file, text)
    try:
        return {"litellm": _litellm, "openrouter": _openrouter, "env": _env}[kind](p, text)
    except InputError as exc:
        return [f"{exc}"]
