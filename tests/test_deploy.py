"""`modelsel deploy`: the decision as the configuration that runs it, and `review --deployed` holding a
running configuration against it. Eval through the real SDK against the fake provider, then deploy."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from modelsel.report.deploy_check import findings
from modelsel.report.deploy_schema import LiteLLMConfig, check_keys
from tests.conftest import KEYS, ROOT, cli, flat, openai_cand, oracle, write_req, wrong_on


@pytest.fixture(autouse=True)
def _dear_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEAR_KEY", "dear-secret-value-0123456789")


def _decided(tmp_path: Path, fake: Any) -> Path:
    """cheap (wrong on 2 of 12) is chosen on cost; dear (right on all, its key in DEAR_KEY) is the fallback."""
    fake.script("cheap", answer=wrong_on({"e1", "e2"}), input_tokens=500, output_tokens=5)
    fake.script("dear", answer=oracle, input_tokens=500, output_tokens=5)
    cands = [openai_cand(fake, "cheap", pin=0.1, pout=0.1, params={"temperature": 0.2, "max_tokens": 20},
                         system="Answer with one label."),
             openai_cand(fake, "dear", pin=10.0, pout=10.0, params={"temperature": 0}, api_key_env="DEAR_KEY")]
    req = write_req(tmp_path, cands, quality={"min_score": 0.5}, latency={},
                    decision={"priority": ["cost"], "max_error_rate": 0.2})
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    return tmp_path / "run"


def test_litellm_config_holds_the_chain_the_parameters_and_names_itself_in_the_record(
        tmp_path: Path, keys: dict[str, str], fake: Any) -> None:
    run = _decided(tmp_path, fake)
    res = cli("deploy", run, "--format", "litellm", "--out", tmp_path / "config.yaml")
    assert res.exit_code == 0, res.output
    text = (tmp_path / "config.yaml").read_text()
    cfg = LiteLLMConfig.model_validate(yaml.safe_load(text))
    check_keys(cfg)
    assert [d.model_name for d in cfg.model_list] == ["oa-cheap", "oa-dear"]
    cheap, dear = (d.litellm_params for d in cfg.model_list)
    assert cheap.model == "openai/cheap" and cheap.api_key == "os.environ/OPENAI_API_KEY" and cheap.api_base == fake.url + "/v1"
    assert cheap.model_dump()["temperature"] == 0.2 and cheap.model_dump()["max_tokens"] == 20
    assert dear.api_key == "os.environ/DEAR_KEY" and dear.model_dump()["temperature"] == 0
    meta = cfg.model_list[0].model_info.metadata  # type: ignore[union-attr]
    assert meta["system_prompt"] == "Answer with one label."
    assert meta["system_prompt_sha256"] == hashlib.sha256(b"Answer with one label.").hexdigest()
    assert cfg.router_settings is not None and cfg.router_settings.fallbacks == [{"oa-cheap": ["oa-dear"]}]
    assert cfg.router_settings.num_retries == 1 and cfg.router_settings.timeout and cfg.router_settings.timeout >= 1
    assert "timeout:" in text and "x 1.5" in text  # the margin is stated
    for secret in (*KEYS.values(), "dear-secret-value-0123456789"):
        assert secret not in text
    sha = hashlib.sha256(text.encode()).hexdigest()
    md = (run / "decision.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith("- Deployed as"))
    assert "config.yaml` (litellm, sha256 " in line and f"`{sha}`" in line
    assert sha in (run / "report.html").read_text()
    assert json.loads((run / "summary.json").read_text())["deployments"][0]["sha256"] == sha


def test_review_deployed_finds_another_model_other_parameters_and_a_dropped_fallback(
        tmp_path: Path, keys: dict[str, str], fake: Any) -> None:
    run = _decided(tmp_path, fake)
    path = tmp_path / "config.yaml"
    assert cli("deploy", run, "--out", path).exit_code == 0
    assert findings(run, path) == []
    cfg = yaml.safe_load(path.read_text())
    cfg["model_list"][0]["litellm_params"]["temperature"] = 0.9
    cfg["model_list"][0]["litellm_params"]["top_p"] = 0.5
    cfg["model_list"][1]["litellm_params"]["model"] = "openai/gpt-4.1"
    cfg["router_settings"].pop("fallbacks")
    path.write_text(yaml.safe_dump(cfg))
    got = findings(run, path)
    assert "'oa-cheap': 'temperature' is 0.9, measured at 0.2" in got
    assert "'oa-cheap': sends 'top_p' = 0.5, which the eval did not measure" in got
    assert "'oa-dear': the config calls openai/gpt-4.1, the decision openai/dear" in got
    assert "no fallback for 'oa-cheap' (the decision falls back to oa-dear)" in got
    # through review: the re-run holds, the deployed config does not: exit 1, each finding printed
    req = tmp_path / "req.yaml"
    res = cli("review", req, "--against", run, "--deployed", path, "--out", tmp_path / "rev")
    assert res.exit_code == 1 and "temperature' is 0.9" in flat(res.output)


def test_openrouter_body_and_env_carry_the_same_decision(tmp_path: Path, keys: dict[str, str], fake: Any) -> None:
    run = _decided(tmp_path, fake)
    assert cli("deploy", run, "--format", "openrouter", "--out", tmp_path / "or.json").exit_code == 0
    body = json.loads((tmp_path / "or.json").read_text())
    assert body["models"] == ["127.0.0.1/cheap", "127.0.0.1/dear"] or body["models"][0].endswith("/cheap")
    assert body["temperature"] == 0.2 and body["max_tokens"] == 20 and body["provider"]["require_parameters"] is True
    assert body["messages"] == [{"role": "system", "content": "Answer with one label."}]
    assert "OpenRouter sends the first's to all" in body["x-modelsel-note"]
    assert findings(run, tmp_path / "or.json") == []
    assert cli("deploy", run, "--format", "env", "--out", tmp_path / "d.env").exit_code == 0
    env = (tmp_path / "d.env").read_text()
    assert 'MODELSEL_CHAIN="oa-cheap,oa-dear"' in env and 'MODELSEL_MODEL_1_SYSTEM="Answer with one label."' in env
    assert findings(run, tmp_path / "d.env") == []
    (tmp_path / "d.env").write_text(env.replace('MODELSEL_CHAIN="oa-cheap,oa-dear"', 'MODELSEL_CHAIN="oa-dear"'))
    assert any(f.startswith("MODELSEL_CHAIN is 'oa-dear'") for f in findings(run, tmp_path / "d.env"))


def test_the_demo_decision_is_your_own_code_a_router_cannot_call(tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "demo"
    shutil.copytree(ROOT / "reports" / "decisions" / "demo", run)
    res = cli("deploy", run, "--format", "litellm")
    assert res.exit_code == 2
    assert "keyword-rules (your own code)" in flat(res.output) and "--format env" in flat(res.output)
    assert not (run / "litellm-config.yaml").exists()
    ok = cli("deploy", run, "--format", "env")
    assert ok.exit_code == 0, ok.output
    assert 'MODELSEL_CHAIN="keyword-rules,gemma-270m-fewshot"' in (run / "decision.env").read_text()


@pytest.mark.parametrize("name", ["docs_tag_routing.yaml", "docs_router.yaml"])
def test_litellms_own_documented_configs_read_with_the_strict_model(name: str) -> None:
    cfg = LiteLLMConfig.model_validate(yaml.safe_load((ROOT / "tests" / "data" / "litellm" / name).read_text()))
    assert cfg.model_list


def test_the_strict_model_refuses_what_litellm_would_misread() -> None:
    base = {"model_list": [{"model_name": "a", "litellm_params": {"model": "openai/a"}}]}
    with pytest.raises(ValidationError, match="fallback names 'b'"):
        LiteLLMConfig.model_validate({**base, "router_settings": {"fallbacks": [{"a": ["b"]}]}})
    with pytest.raises(ValidationError):  # fallbacks are a list of mappings, not a list of names
        LiteLLMConfig.model_validate({**base, "router_settings": {"fallbacks": ["a"]}})
    with pytest.raises(ValidationError, match="provider/model"):
        LiteLLMConfig.model_validate({"model_list": [{"model_name": "a", "litellm_params": {"model": "gpt-4"}}]})
    with pytest.raises(ValidationError):  # a misspelt key is not silently ignored
        LiteLLMConfig.model_validate({**base, "router_setings": {}})
    with pytest.raises(ValueError, match="os.environ"):
        check_keys(LiteLLMConfig.model_validate({"model_list": [{"model_name": "a", "litellm_params": {
            "model": "openai/a", "api_key": "sk-live-0123"}}]}))
