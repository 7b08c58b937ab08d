"""Application settings, read once per process from the environment.

Importing pydantic-settings costs about a third of the worker's cold start, so
modules loaded at indexing time (the pipeline, blueprints) import this module
inside functions; services, loaded on first call, import it normally.
"""

from __future__ import annotations

import json
import threading
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.production_policy import (
    EMBEDDED_DATABASE,
    database_problems,
    production_problems,
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class TriggerSource(StrEnum):
    EVENT_GRID = "EventGrid"
    LOGS_AND_CONTAINER_SCAN = "LogsAndContainerScan"


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Every setting, with its safe default; documented in local.settings.json.example."""

    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", frozen=True, validate_default=True
    )

    # Unset means production: a forgotten app setting must make the app stricter.
    ENVIRONMENT: Environment = Environment.PRODUCTION
    DEBUG: bool = False
    LOG_LEVEL: str = "INFO"
    APP_VERSION: str = "1.0.0"

    # Development-only defaults; production refuses them (see _refuse_unsafe_production).
    SECRET_KEY: str = "dev-secret-key-change-me-in-production-000000"  # noqa: S105
    DATA_ENCRYPTION_KEY: str = "dev-data-key-change-me-in-production-0000000"
    ACCESS_TOKEN_EXPIRE_MINUTES: Annotated[int, Field(ge=1, le=1440)] = 15
    REFRESH_TOKEN_EXPIRE_DAYS: Annotated[int, Field(ge=1, le=365)] = 30
    JWT_ISSUER: str = "runtime-traitors"
    JWT_AUDIENCE: str = "runtime-traitors-api"
    BCRYPT_ROUNDS: Annotated[int, Field(ge=4, le=16)] = 12

    DATABASE_URL: str = ""  # development: unset means the embedded database
    DATABASE_NAME: str = "runtime_traitors"
    DATABASE_TIMEOUT_MS: Annotated[int, Field(ge=100, le=30000)] = 3000

    AZURE_STORAGE_CONNECTION_STRING: str = ""
    AZURE_STORAGE_ACCOUNT_URL: str = ""
    UPLOADS_CONTAINER: str = "uploads"
    THUMBNAILS_CONTAINER: str = "thumbnails"
    QUARANTINE_CONTAINER: str = "quarantine"
    # Processed files are served from here: a container the upload URL cannot write
    # and the blob trigger does not watch, so the processor never triggers itself.
    FILES_CONTAINER: str = "files"
    UPLOAD_MAX_BYTES: Annotated[int, Field(ge=1)] = 50 * 1024 * 1024
    UPLOAD_ALLOWED_TYPES: Annotated[list[str], NoDecode] = [
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "application/pdf",
    ]
    UPLOAD_QUOTA_BYTES: Annotated[int, Field(ge=1)] = 1024 * 1024 * 1024
    UPLOAD_URL_TTL_SECONDS: Annotated[int, Field(ge=60, le=3600)] = 900
    # How long an upload may stay pending (its owner can fetch fresh upload URLs meanwhile);
    # then the maintenance job expires it.
    UPLOAD_PENDING_HOURS: Annotated[int, Field(ge=1, le=720)] = 24
    # Rejected uploads stay in quarantine (and count against the quota) this long; then the
    # maintenance job purges them, audited.
    QUARANTINE_RETENTION_DAYS: Annotated[int, Field(ge=1, le=3650)] = 30
    UPLOADS_TRIGGER_SOURCE: TriggerSource = TriggerSource.EVENT_GRID
    CLAMD_URL: str = ""
    MAINTENANCE_SCHEDULE: str = "0 */15 * * * *"

    CORS_ORIGINS: Annotated[list[str], NoDecode] = []
    RATE_LIMIT_ENABLED: bool = True
    RATE_LIMIT_AUTH_PER_MINUTE: Annotated[int, Field(ge=1)] = 10
    RATE_LIMIT_USER_PER_MINUTE: Annotated[int, Field(ge=1)] = 300
    RATE_LIMIT_ANON_PER_MINUTE: Annotated[int, Field(ge=1)] = 60
    TRUSTED_PROXY_COUNT: Annotated[int, Field(ge=0, le=10)] = 1
    MAX_BODY_BYTES: Annotated[int, Field(ge=1024)] = 1024 * 1024

    LOGIN_MAX_FAILURES: Annotated[int, Field(ge=1)] = 5
    LOGIN_LOCKOUT_MINUTES: Annotated[int, Field(ge=1)] = 15
    PASSWORD_RESET_MAILS_PER_HOUR: Annotated[int, Field(ge=1, le=100)] = 3
    ALLOW_REGISTRATION: bool = True
    FIRST_SUPERUSER_EMAIL: str = ""
    FIRST_SUPERUSER_PASSWORD: str = ""
    PASSWORD_BREACH_CHECK: bool = False
    PASSWORD_BREACH_API_URL: str = "https://api.pwnedpasswords.com/range/"  # noqa: S105

    SMTP_HOST: str = ""
    SMTP_PORT: Annotated[int, Field(ge=1, le=65535)] = 587
    SMTP_USER: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_STARTTLS: bool = True
    SMTP_FROM: str = "Runtime Traitors <no-reply@runtime-traitors.local>"
    SMTP_TIMEOUT_SECONDS: Annotated[float, Field(gt=0, le=60)] = 10.0
    FRONTEND_URL: str = "http://127.0.0.1:7071"

    # Read by shared.telemetry straight from the environment (it must stay cheap to
    # import); declared here so the setting is documented and validated like the rest.
    APPLICATIONINSIGHTS_CONNECTION_STRING: str = ""
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: str = ""

    @field_validator("CORS_ORIGINS", "UPLOAD_ALLOWED_TYPES", mode="before")
    @classmethod
    def _accept_comma_lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("CORS_ORIGINS")
    @classmethod
    def _origins_are_exact(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*" or origin.endswith("/") or "://" not in origin:
                raise ValueError(
                    f"entry {origin!r} must be an exact origin such as "
                    "https://app.example.com (no wildcard, no path)"
                )
        return origins

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.ENVIRONMENT is not Environment.PRODUCTION:
            problems = database_problems(
                environment=self.ENVIRONMENT.value, database_url=self.DATABASE_URL
            )
            if problems:
                raise ValueError("; ".join(problems))
            return self
        problems = production_problems(
            secret_key=self.SECRET_KEY,
            data_encryption_key=self.DATA_ENCRYPTION_KEY,
            database_url=self.DATABASE_URL,
            debug=self.DEBUG,
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def is_production(self) -> bool:
        return self.ENVIRONMENT is Environment.PRODUCTION

    @property
    def database_url(self) -> str:
        """DATABASE_URL, or the embedded database where development leaves it unset."""
        return self.DATABASE_URL.strip() or EMBEDDED_DATABASE


class SettingsError(RuntimeError):
    """Raised when the environment holds an invalid or unsafe setting."""


_lock = threading.Lock()
_settings: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, validated on first use."""
    global _settings
    if _settings is None:
        with _lock:
            if _settings is None:
                _settings = load_settings()
    return _settings


def load_settings(**overrides: Any) -> Settings:
    """Validate the environment (plus overrides) into a fresh Settings object."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"Invalid settings: {problems}") from None
    return settings


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    global _settings
    with _lock:
        _settings = None
