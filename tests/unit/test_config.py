"""Settings: parsing, defaults and the production safety net."""

from __future__ import annotations

import pytest

from shared.config import Environment, SettingsError, load_settings

STRONG = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": "f" * 48,
    "DATA_ENCRYPTION_KEY": "e" * 48,
    "DATABASE_URL": "mongodb+srv://cluster.example.net/",
    "DEBUG": "false",
}


def production(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> None:
    for name, value in {**STRONG, **overrides}.items():
        monkeypatch.setenv(name, value)


def test_defaults_are_safe_for_development() -> None:
    settings = load_settings()
    assert settings.ENVIRONMENT is Environment.DEVELOPMENT
    assert settings.ACCESS_TOKEN_EXPIRE_MINUTES == 15
    assert settings.RATE_LIMIT_AUTH_PER_MINUTE == 10
    assert settings.LOGIN_MAX_FAILURES == 5
    assert "image/jpeg" in settings.UPLOAD_ALLOWED_TYPES


@pytest.mark.parametrize(
    "raw", ['["https://a.example", "https://b.example"]', "https://a.example, https://b.example"]
)
def test_cors_origins_accept_json_or_comma_list(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("CORS_ORIGINS", raw)
    assert load_settings().CORS_ORIGINS == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize("origin", ["*", "https://a.example/", "a.example"])
def test_cors_origins_must_be_exact(monkeypatch: pytest.MonkeyPatch, origin: str) -> None:
    monkeypatch.setenv("CORS_ORIGINS", origin)
    with pytest.raises(SettingsError, match="CORS_ORIGINS"):
        load_settings()


def test_strong_production_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    assert load_settings().is_production


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"SECRET_KEY": "short-secret"}, "SECRET_KEY"),
        ({"SECRET_KEY": "dev-secret-key-change-me-in-production-000000"}, "SECRET_KEY"),
        ({"DATA_ENCRYPTION_KEY": "changethis"}, "DATA_ENCRYPTION_KEY"),
        ({"DATA_ENCRYPTION_KEY": "f" * 48}, "DATA_ENCRYPTION_KEY"),
        ({"DATABASE_URL": "mongomock://"}, "DATABASE_URL"),
        ({"DEBUG": "true"}, "DEBUG"),
    ],
)
def test_production_refuses_unsafe_values_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, override: dict[str, str], named: str
) -> None:
    production(monkeypatch, **override)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_invalid_number_is_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_USER_PER_MINUTE", "lots")
    with pytest.raises(SettingsError, match="RATE_LIMIT_USER_PER_MINUTE"):
        load_settings()


def test_error_message_never_contains_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, SECRET_KEY="tiny-but-secret")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "tiny-but-secret" not in str(raised.value)
