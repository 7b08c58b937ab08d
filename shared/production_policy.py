"""What a deployed app refuses, checkable without pydantic-settings (cheap at import time).

The Settings model applies these rules when it validates; ``refuse_unsafe_environment``
applies them to the raw environment when the worker imports the app, so an app with
unsafe settings fails to load, naming the setting, instead of answering 500s.

An unset ENVIRONMENT means production: a setting forgotten on Azure must make the app
stricter, never looser. Only an explicit ``ENVIRONMENT=development`` allows the embedded
database, placeholder secrets and the development-only routes.
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


ENVIRONMENTS = ("development", "staging", "production")
DEFAULT_ENVIRONMENT = "production"
EMBEDDED_DATABASE = "mongomock://"


class UnsafeProductionSettings(RuntimeError):
    """A deployed environment with a setting that must never reach it."""


def environment_of(environ: Mapping[str, str]) -> str:
    """The ENVIRONMENT setting, lower-cased; unset or blank means production."""
    return environ.get("ENVIRONMENT", "").strip().lower() or DEFAULT_ENVIRONMENT


def database_problems(*, environment: str, database_url: str) -> list[str]:
    """Why this DATABASE_URL cannot serve this environment; empty when it can."""
    url = database_url.strip()
    if environment == "development":
        if (not url or url.startswith(EMBEDDED_DATABASE)) and not _embedded_available():
            return [
                "DATABASE_URL is unset or mongomock://, and the embedded database needs "
                "mongomock, a development package (pip install -r requirements-dev.txt), "
                "or set DATABASE_URL to a mongodb:// URL"
            ]
        return []
    if not url:
        return [f"DATABASE_URL must be set to a MongoDB URL when ENVIRONMENT={environment}"]
    if url.startswith(EMBEDDED_DATABASE):
        return [f"DATABASE_URL must point at a real MongoDB when ENVIRONMENT={environment}"]
    return []


def _embedded_available() -> bool:
    from importlib.util import find_spec  # finds the package without importing it

    return find_spec("mongomock") is not None


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
    problems += database_problems(environment="production", database_url=database_url)
    if debug:
        problems.append("DEBUG must be off in production")
    return problems


def refuse_unsafe_environment(environ: Mapping[str, str]) -> None:
    """Raise UnsafeProductionSettings when this environment's settings are unsafe for it."""
    environment = environment_of(environ)
    if environment not in ENVIRONMENTS:
        raise UnsafeProductionSettings(
            f"Refusing to start: ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}"
        )
    database_url = environ.get("DATABASE_URL", "")
    if environment == "production":
        problems = production_problems(
            secret_key=environ.get("SECRET_KEY", ""),
            data_encryption_key=environ.get("DATA_ENCRYPTION_KEY", ""),
            database_url=database_url,
            debug=environ.get("DEBUG", "").strip().lower() in _TRUE,
        )
    else:
        problems = database_problems(environment=environment, database_url=database_url)
    if problems:
        raise UnsafeProductionSettings("Refusing to start: " + "; ".join(problems))
