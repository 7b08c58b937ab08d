"""Test-wide fixtures: a clean settings and database state for every test.

The database is the embedded mongomock by default; set TEST_DATABASE_URL to run the
same suite against a real MongoDB (each test gets its own database, dropped after).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from shared.config import reset_settings
from shared.db.client import get_database, reset_database_client

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "mongomock://")

# An unset ENVIRONMENT means production; the suite runs as a developer machine, including
# session-wide fixtures (Azurite) that read settings before any per-test environment.
os.environ.setdefault("ENVIRONMENT", "development")

# The session-wide `azurite` fixture (a real Azurite started once for the run).
pytest_plugins = ["tests.azurite_server"]


@pytest.fixture(autouse=True)
def app_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Known settings for each test; tests override with monkeypatch.setenv + reset."""
    values = {
        "ENVIRONMENT": "development",
        "DEBUG": "false",
        "DATABASE_URL": TEST_DATABASE_URL,
        "DATABASE_NAME": f"rt_test_{uuid.uuid4().hex[:12]}",
        "DATABASE_TIMEOUT_MS": "2000",
        "BCRYPT_ROUNDS": "4",
        "AZURE_STORAGE_CONNECTION_STRING": "",
        "AZURE_STORAGE_ACCOUNT_URL": "",
        "CLAMD_URL": "",
        "CORS_ORIGINS": "https://app.example",
        "RATE_LIMIT_ENABLED": "true",
        "TRUSTED_PROXY_COUNT": "1",
        "SMTP_HOST": "",
        "PASSWORD_BREACH_CHECK": "false",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_database_client()
    yield
    if not TEST_DATABASE_URL.startswith("mongomock://"):
        database = get_database()
        database.client.drop_database(database.name)
    reset_settings()
    reset_database_client()


def reload_settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """Change settings mid-test: set the variables and drop every cached client."""
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_database_client()
