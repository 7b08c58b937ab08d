"""What production refuses, checkable without pydantic-settings (cheap at import time).

The Settings model applies these rules when it validates; ``refuse_unsafe_environment``
applies them to the raw environment when the worker imports the app, so a production
app with unsafe settings fails to load, naming the setting, instead of answering 500s.
"""

from __future__ import annotations

from collections.abc import Mapping

PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "changethis",
        "change-me",
        "changeme",
        "secret",
        "dev-secret-key-change-me-in-production-000000",
        "dev-data-key-change-me-in-production-0000000",
    }
)
MIN_SECRET_BYTES = 32
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})


class UnsafeProductionSettings(RuntimeError):
    """ENVIRONMENT=production with a setting that must never reach production."""


def production_problems(
    *, secret_key: str, data_encryption_key: str, database_url: str, debug: bool
) -> list[str]:
    """Every reason these production settings are unsafe; empty when they are fine."""
    problems: list[str] = []
    for name, value in (("SECRET_KEY", secret_key), ("DATA_ENCRYPTION_KEY", data_encryption_key)):
        if value.lower() in PLACEHOLDER_SECRETS or "change" in value.lower():
            problems.append(f"{name} is a placeholder; set a long random secret")
        elif len(value.encode()) < MIN_SECRET_BYTES:
            problems.append(f"{name} must be at least {MIN_SECRET_BYTES} bytes")
    if secret_key and secret_key == data_encryption_key:
        problems.append("DATA_ENCRYPTION_KEY must differ from SECRET_KEY")
    if database_url.startswith("mongomock://"):
        problems.append("DATABASE_URL must point at a real MongoDB in production")
    if debug:
        problems.append("DEBUG must be off in production")
    return problems


def refuse_unsafe_environment(environ: Mapping[str, str]) -> None:
    """Raise UnsafeProductionSettings when a production environment holds unsafe values."""
    if environ.get("ENVIRONMENT", "").strip().lower() != "production":
        return
    problems = production_problems(
        secret_key=environ.get("SECRET_KEY", ""),
        data_encryption_key=environ.get("DATA_ENCRYPTION_KEY", ""),
        database_url=environ.get("DATABASE_URL", "mongomock://"),
        debug=environ.get("DEBUG", "").strip().lower() in _TRUE,
    )
    if problems:
        raise UnsafeProductionSettings("Refusing to start: " + "; ".join(problems))
