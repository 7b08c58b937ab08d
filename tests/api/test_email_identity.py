"""One mailbox, one account: an IDNA domain in Unicode and in punycode is the same address."""

from __future__ import annotations

import logging

import pytest

from shared.db import collections
from shared.db.client import get_database
from shared.db.migrations import MIGRATIONS
from shared.security import passwords
from tests.api.client import ApiClient, assert_problem
from tests.api.conftest import (
    FORGOT_PASSWORD,
    LOGIN,
    STRONG_PASSWORD,
    Account,
    MailSink,
    login,
    register,
)

REGISTER = "/api/v1/auth/register"
UNICODE = "x@bücher-qa.com"
PUNYCODE = "x@xn--bcher-qa-65a.com"


@pytest.fixture(autouse=True)
def _many_auth_calls(lenient_auth_rate_limit: None) -> None:
    """These tests sign in more often than the per-IP limit allows in a minute."""


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (UNICODE, PUNYCODE),
        (PUNYCODE, UNICODE),
        (UNICODE, "X@BÜCHER-QA.COM"),
        (PUNYCODE, "x@xn--BCHER-QA-65A.com"),
        ("ann@example.com", "\uff21NN@example.com"),  # a full-width A folds with NFKC
    ],
)
def test_the_same_mailbox_in_another_form_is_email_taken(
    client: ApiClient, first: str, second: str
) -> None:
    register(client, first)

    again = client.post(REGISTER, json={"email": second, "password": STRONG_PASSWORD})

    assert_problem(again, 409, "email_taken")


@pytest.mark.parametrize("typed", [UNICODE, PUNYCODE, "X@Bücher-QA.com"])
def test_login_works_with_either_form(client: ApiClient, typed: str) -> None:
    register(client, UNICODE)

    assert login(client, typed)["token_type"] == "bearer"


def test_the_address_is_stored_and_shown_in_its_ascii_form(client: ApiClient) -> None:
    response = client.post(REGISTER, json={"email": UNICODE, "password": STRONG_PASSWORD})

    assert response.json["email"] == PUNYCODE


def test_admin_create_refuses_the_other_form(client: ApiClient, admin: Account) -> None:
    register(client, PUNYCODE)

    created = client.post(
        "/api/v1/users",
        json={"email": UNICODE, "password": STRONG_PASSWORD},
        token=admin.access_token,
    )

    assert_problem(created, 409, "email_taken")


def test_recovery_with_the_other_form_mails_the_account(client: ApiClient, mail: MailSink) -> None:
    register(client, UNICODE)

    client.post(FORGOT_PASSWORD, json={"email": UNICODE})

    assert "#token=" in mail.next_message(PUNYCODE).text


def test_the_lockout_counts_both_forms_together(client: ApiClient) -> None:
    register(client, PUNYCODE)
    for typed in [UNICODE, PUNYCODE] * 3:
        client.post(LOGIN, json={"email": typed, "password": "wrong wrong wrong 1"})

    locked = client.post(LOGIN, json={"email": PUNYCODE, "password": STRONG_PASSWORD})

    assert_problem(locked, 429, "login_locked")


def _stored_user(email: str) -> None:
    collections.users().insert_one(
        {
            "email": email,
            "full_name": None,
            "role": "user",
            "is_active": True,
            "password_hash": passwords.hash_password(STRONG_PASSWORD),
            "mfa": {"enabled": False},
            "revoked_access": [],
            "created_at": None,
            "updated_at": None,
        }
    )


def _rerun_email_migration() -> None:
    migration = next(m for m in MIGRATIONS if "canonical email" in m.description)
    migration.apply(get_database())


def test_the_migration_rewrites_stored_unicode_domains(client: ApiClient) -> None:
    _stored_user(UNICODE)  # as the previous version stored it

    _rerun_email_migration()

    assert collections.users().find_one({"email": PUNYCODE}) is not None
    assert login(client, UNICODE)["token_type"] == "bearer"
    assert_problem(
        client.post(REGISTER, json={"email": PUNYCODE, "password": STRONG_PASSWORD}),
        409,
        "email_taken",
    )


def test_the_migration_leaves_a_clash_for_an_operator(caplog: pytest.LogCaptureFixture) -> None:
    _stored_user(UNICODE)
    _stored_user(PUNYCODE)

    with caplog.at_level(logging.WARNING, logger="shared.db.migrations"):
        _rerun_email_migration()

    stored = sorted(doc["email"] for doc in collections.users().find({}, {"email": 1}))
    assert stored == sorted([UNICODE, PUNYCODE])
    assert "canonical form" in caplog.text


def test_an_invalid_address_is_422_saying_what_is_wrong_with_it(client: ApiClient) -> None:
    response = client.post(
        REGISTER, json={"email": "alice@example..com", "password": STRONG_PASSWORD}
    )

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "email"]
    assert "two periods in a row" in problem["errors"][0]["msg"]
