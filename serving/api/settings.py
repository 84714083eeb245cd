"""The service's configuration: ``CHURN_API_<FIELD>`` environment variables, validated once at start.

Read with pydantic-settings; a variable that starts with ``CHURN_API_`` but
names no setting is an error (a misspelt setting must not be silently
ignored), and so is a service with no token unless it is explicitly open.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.errors import ConfigError
from serving.api.audit import DEFAULT_AUDIT_LOG
from serving.api.auth import TokenCheck, load_tokens
from serving.batch.bands import BandCutoffs
from serving.defaults import DEFAULT_FEATURES_DIR, DEFAULT_MODEL_TAG, DEFAULT_REPORTS_DIR, DEFAULT_STORE
from serving.errors import config_error

ENV_PREFIX = "CHURN_API_"
MODEL_TAG_ENV = f"{ENV_PREFIX}MODEL_TAG"  # read when the service module is imported: it fixes the bundle


class ServiceSettings(BaseSettings):
    """Every ``CHURN_API_*`` setting with its default; see docs/api.md."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    store: str = Field(DEFAULT_STORE, description="score store: duckdb:///FILE or a SQLAlchemy URL")
    features_dir: Path = Field(DEFAULT_FEATURES_DIR, description="the nightly feature snapshots")
    tokens: SecretStr | None = Field(None, description="NAME:SECRET or SECRET entries, comma-separated")
    tokens_file: Path | None = Field(None, description="a file of NAME:SECRET or SECRET lines")
    allow_no_auth: bool = Field(False, description="local development only: start without any token, every caller anonymous")
    audit_log: Path = Field(DEFAULT_AUDIT_LOG, description="append-only JSON lines, one per list pull")
    max_body_bytes: int = Field(8 * 2**20, gt=0, description="larger request bodies are refused with 413 before parsing")
    band_medium: float = Field(BandCutoffs().medium, description="probability from which a user is in the medium band")
    band_high: float = Field(BandCutoffs().high, description="probability from which a user is in the high band")
    snapshot_poll_seconds: float = Field(60.0, ge=0, description="how often to look for a newer feature snapshot")
    model_tag: str = Field(DEFAULT_MODEL_TAG, description="the BentoML bundle to serve (read when the module is imported)")
    reports_dir: Path = Field(DEFAULT_REPORTS_DIR, description="the nightly dashboard pages (nightly-DATE.html) served under /reports/nightly/")

    @classmethod
    def from_env(cls) -> ServiceSettings:
        """Settings from the ``CHURN_API_*`` environment variables; ConfigError naming the variable on a bad or unknown one."""
        known = {ENV_PREFIX + name.upper() for name in cls.model_fields}
        unknown = sorted(key for key in os.environ if key.upper().startswith(ENV_PREFIX) and key.upper() not in known)
        if unknown:
            raise ConfigError(f"{unknown[0]}: not a setting of the service; known: {', '.join(sorted(known, key=_field_order))}")
        try:
            settings = cls()
            settings.cutoffs()
        except ValidationError as e:
            raise config_error(e, _variable) from None
        settings.token_check()  # no token configured is an error at start, not at the first request
        return settings

    def cutoffs(self) -> BandCutoffs:
        return BandCutoffs(medium=self.band_medium, high=self.band_high)

    def token_check(self) -> TokenCheck | None:
        """The configured tokens; None when running open (``CHURN_API_ALLOW_NO_AUTH``, and no token given)."""
        tokens = load_tokens(self.tokens.get_secret_value() if self.tokens else None, self.tokens_file)
        if tokens:
            return TokenCheck(tokens)
        if self.allow_no_auth:
            return None
        raise ConfigError(
            "no API token configured: set CHURN_API_TOKENS (NAME:SECRET,...) or CHURN_API_TOKENS_FILE; "
            "for local development only, CHURN_API_ALLOW_NO_AUTH=true starts without authentication"
        )


def _variable(loc: tuple) -> str:
    """The environment variable of a validation error's location (the band cut-offs are checked together)."""
    return f"{ENV_PREFIX}{str(loc[0]).upper()}" if loc else f"{ENV_PREFIX}BAND_MEDIUM/HIGH"


def _field_order(variable: str) -> int:
    return list(ServiceSettings.model_fields).index(variable.removeprefix(ENV_PREFIX).lower())
