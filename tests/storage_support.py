"""Storage settings for tests: containers of a test's own, and changes that keep them."""

from __future__ import annotations

import secrets

import pytest

from shared.config import Settings, get_settings, reset_settings
from shared.services.storage import clients


def own_containers() -> dict[str, str]:
    """Container settings no other test uses, so tests can share one Azurite."""
    suffix = secrets.token_hex(4)
    return {
        "UPLOADS_CONTAINER": f"uploads-{suffix}",
        "THUMBNAILS_CONTAINER": f"thumbnails-{suffix}",
        "QUARANTINE_CONTAINER": f"quarantine-{suffix}",
    }


def change_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """Change settings mid-test without dropping the database or the storage containers."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    clients.reset_storage_clients()
    return get_settings()
