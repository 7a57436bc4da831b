"""A strict model of the part of LiteLLM's proxy config.yaml that `modelsel deploy` writes and `review
--deployed` reads (model_list, router_settings), from LiteLLM's own documentation (docs.litellm.ai:
proxy/configs, proxy/reliability, proxy/tag_routing, router configuration). modelsel does not depend
on the litellm package: this model is what a written config is checked against before it is
written, and what a running config is read with. The other sections a team keeps in the same file
(litellm_settings, general_settings, environment_variables) are carried as they are."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LiteLLMParams(BaseModel):
    """litellm_params: the model string, its key and endpoint, and any litellm.completion() parameter
    (temperature, max_tokens, stop, reasoning_effort, ...), which LiteLLM passes on: hence open."""
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1)
    api_key: str | None = None
    api_base: str | None = None
    api_version: str | None = None
    timeout: float | None = Field(None, gt=0)
    stream_timeout: float | None = Field(None, gt=0)
    max_retries: int | None = Field(None, ge=0)
    tags: list[str] | None = None
    rpm: int | None = Field(None, ge=0)
    tpm: int | None = Field(None, ge=0)

    @field_validator("model")
    @classmethod
    def _provider_prefix(cls, v: str) -> str:
        if "/" not in v:
            raise ValueError("a model string names its provider: provider/model (openai/gpt-4.1-mini)")
        return v


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    mode: Literal["chat", "completion", "embedding", "image_generation", "audio_transcription", "responses"] | None = None
    base_model: str | None = None
    metadata: dict[str, Any] | None = None


class Deployment(_Strict):
    model_name: str = Field(min_length=1)
    litellm_params: LiteLLMParams
    model_info: ModelInfo | None = None
    rpm: int | None = Field(None, ge=0)
    tpm: int | None = Field(None, ge=0)


Fallbacks = list[dict[str, list[str]]]


class RouterSettings(_Strict):
    routing_strategy: str | None = None
    routing_strategy_args: dict[str, Any] | None = None
    model_group_alias: dict[str, Any] | None = None
    num_retries: int | None = Field(None, ge=0)
    timeout: float | None = Field(None, gt=0)
    allowed_fails: int | None = Field(None, ge=0)
    cooldown_time: float | None = Field(None, ge=0)
    retry_after: float | None = Field(None, ge=0)
    fallbacks: Fallbacks | None = None
    context_window_fallbacks: Fallbacks | None = None
    content_policy_fallbacks: Fallbacks | None = None
    default_fallbacks: list[str] | None = None
    enable_tag_filtering: bool | None = None
    redis_host: str | None = None
    redis_port: int | str | None = None
    redis_password: str | None = None


class LiteLLMConfig(_Strict):
    model_list: list[Deployment] = Field(min_length=1)
    router_settings: RouterSettings | None = None
    litellm_settings: dict[str, Any] | None = None
    general_settings: dict[str, Any] | None = None
    environment_variables: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _fallbacks_name_models(self) -> LiteLLMConfig:
        names = {d.model_name for d in self.model_list}
        rs = self.router_settings
        for group in ((rs.fallbacks or []) + (rs.context_window_fallbacks or [])) if rs else []:
            for k, v in group.items():
                for name in (k, *v):
                    if name not in names:
                        raise ValueError(f"a fallback names '{name}', which is no model_name in model_list")
        return self


def check_keys(cfg: LiteLLMConfig) -> None:
    """A config modelsel writes carries keys only as os.environ/VAR, never a key itself."""
    for d in cfg.model_list:
        k = d.litellm_params.api_key
        if k is not None and not k.startswith("os.environ/"):
            raise ValueError(f"'{d.model_name}': api_key must be os.environ/VAR, never a key written in the file")
