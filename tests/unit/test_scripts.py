"""The operator scripts: init_db and create_superuser."""

from __future__ import annotations

import io

import pytest

from scripts import create_superuser, init_db
from shared.db import collections
from tests.conftest import reload_settings

ADMIN_PASSWORD = "an admin passphrase for tests 77"


def test_init_db_is_idempotent_and_creates_the_first_superuser_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reload_settings(
        monkeypatch,
        FIRST_SUPERUSER_EMAIL="Root@Example.com",
        FIRST_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
    )
    assert init_db.main(["--skip-containers"]) == 0
    assert "first superuser: created" in capsys.readouterr().out
    assert init_db.main(["--skip-containers"]) == 0
    assert "first superuser: exists" in capsys.readouterr().out
    admins = list(collections.users().find({"role": "admin"}))
    assert [a["email"] for a in admins] == ["root@example.com"]
    assert ADMIN_PASSWORD not in str(admins[0])


def test_init_db_refuses_a_weak_first_superuser_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reload_settings(
        monkeypatch,
        FIRST_SUPERUSER_EMAIL="root@example.com",
        FIRST_SUPERUSER_PASSWORD="password123",
    )
    assert init_db.main(["--skip-containers"]) == 1
    assert "error" in capsys.readouterr().err
    assert collections.users().count_documents({}) == 0


def test_init_db_reports_unsafe_production_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reload_settings(monkeypatch, ENVIRONMENT="production")
    assert init_db.main(["--skip-containers"]) == 2
    assert "SECRET_KEY" in capsys.readouterr().err


def test_create_superuser_from_flags_and_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PASSWORD + "\n"))
    assert create_superuser.main(["--email", "ops@example.com", "--password-stdin"]) == 0
    assert "admin ops@example.com created" in capsys.readouterr().out
    assert collections.users().find_one({"email": "ops@example.com"})["role"] == "admin"


def test_create_superuser_prompts_and_refuses_a_weak_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("builtins.input", lambda _prompt: "weak@example.com")
    monkeypatch.setattr("getpass.getpass", lambda _prompt: "qwertyuiop123")
    assert create_superuser.main([]) == 1
    assert "error" in capsys.readouterr().err
    assert collections.users().count_documents({}) == 0


def test_create_superuser_refuses_an_existing_email(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PASSWORD + "\n"))
        result = create_superuser.main(["--email", "dup@example.com", "--password-stdin"])
    assert result == 1
    assert "already exists" in capsys.readouterr().err
