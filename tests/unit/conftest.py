"""Unit-test fixtures: known keys for the modules that sign, hash or encrypt."""

from __future__ import annotations

import pytest

from tests.conftest import reload_settings

SECRET_KEY = "test-secret-key-0123456789abcdef0123456789"
DATA_ENCRYPTION_KEY = "test-data-key-0123456789abcdef0123456789ab"
# A second valid key, to show what depends on DATA_ENCRYPTION_KEY.
OTHER_DATA_ENCRYPTION_KEY = "another-data-key-0123456789abcdef01234567"


@pytest.fixture
def security_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Known keys and fast bcrypt, re-read from the environment for this test."""
    reload_settings(
        monkeypatch,
        SECRET_KEY=SECRET_KEY,
        DATA_ENCRYPTION_KEY=DATA_ENCRYPTION_KEY,
        BCRYPT_ROUNDS="4",
    )
