"""The settings of API keys and rate limits (inference/access), a part of ``Settings`` (settings.py), which
reads them from the environment with the rest."""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)


def env_alias(*names: str) -> AliasChoices:
    """The environment variables a field is read from, the first set winning."""
    return AliasChoices(*names)


class AccessSettings(BaseSettings):
    """Who may call the API and how much (docs/guides/api-keys.md)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    api_key: SecretStr | None = Field(
        None,
        validation_alias=env_alias("EMB_API_KEY"),
        description="A bearer token every API call must send (`Authorization: Bearer ...`; else 401). Health "
        "probes, `/metrics` and `/openapi.json` stay open. Off when neither this nor `EMB_API_KEYS_FILE` is set "
        "(SageMaker, Azure ML and Vertex AI authenticate callers themselves: leave both unset there).",
    )
    api_keys_file: Path | None = Field(
        None,
        validation_alias=env_alias("EMB_API_KEYS_FILE"),
        description="A JSON file of named keys, each with optional `rpm` / `tpm` limits (docs/guides/api-keys.md); "
        "re-read when it changes, without a restart. Used with or instead of `EMB_API_KEY`.",
    )
    rate_limit_rpm: int = Field(
        0,
        ge=0,
        validation_alias=env_alias("EMB_RATE_LIMIT_RPM"),
        description="Requests per minute per key (per client address when keys are off), for keys that set "
        "none; past it 429 + Retry-After. Counted across the server's workers. 0: no limit.",
    )
    rate_limit_tpm: int = Field(
        0,
        ge=0,
        validation_alias=env_alias("EMB_RATE_LIMIT_TPM"),
        description="Tokens per minute per key (per client address when keys are off), as `usage` counts them, "
        "for keys that set none; whichever of the two limits is reached first answers 429. 0: no limit.",
    )

    @field_validator("api_key")
    @classmethod
    def _strip_api_key(cls, value: SecretStr | None) -> SecretStr | None:
        """A key pasted or read from a file often ends in a newline no caller sends: whitespace around it is
        removed, and logged (never the key); a key of whitespace only is refused rather than taken as unset."""
        raw = "" if value is None else value.get_secret_value()
        key = raw.strip()
        if key == raw:
            return value
        if not key:
            raise ValueError("EMB_API_KEY holds only whitespace: set a key, or leave it unset")
        log.warning("EMB_API_KEY: %d whitespace character(s) around the key removed (a trailing newline from a "
                    "file or `echo`?); callers send the key without them", len(raw) - len(key))  # fmt: skip
        return SecretStr(key)

    @property
    def keys_on(self) -> bool:
        """API keys are configured: every route but the open ones needs one."""
        return bool(self.api_key and self.api_key.get_secret_value()) or self.api_keys_file is not None

    @property
    def limits_on(self) -> bool:
        """Rate limits may apply (the server's defaults, or a key file, whose keys may set their own)."""
        return self.rate_limit_rpm > 0 or self.rate_limit_tpm > 0 or self.api_keys_file is not None
