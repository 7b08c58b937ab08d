"""Reset links live only as long as the password they were mailed for; reset mail is rationed."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from bson import ObjectId

from shared import clock
from shared.repositories import users
from shared.security import passwords
from tests.api.client import ApiClient, assert_problem
from tests.api.conftest import (
    FORGOT_PASSWORD,
    LOGIN,
    NEW_PASSWORD,
    STRONG_PASSWORD,
    Account,
    MailSink,
    login,
    register,
    request_reset_token,
)
from tests.conftest import reload_settings

RESET = "/api/v1/auth/password/reset"
CHANGE = "/api/v1/users/me/password"
ATTACKER_PASSWORD = "attacker chosen passphrase 1999 kiwi"


@pytest.fixture(autouse=True)
def _many_auth_calls(lenient_auth_rate_limit: None) -> None:
    """These tests make more auth calls than the per-IP limit allows in a minute."""


def reset(client: ApiClient, token: str, new_password: str = ATTACKER_PASSWORD) -> int:
    return client.post(RESET, json={"token": token, "new_password": new_password}).status


def test_a_password_change_ends_a_reset_link_mailed_before_it(
    client: ApiClient, mail: MailSink, user: Account
) -> None:
    token = request_reset_token(client, mail, user.email)
    changed = client.post(
        CHANGE,
        json={"current_password": user.password, "new_password": NEW_PASSWORD},
        token=user.access_token,
    )

    response = client.post(RESET, json={"token": token, "new_password": ATTACKER_PASSWORD})

    assert changed.status == 204
    assert_problem(response, 400, "invalid_token")
    assert login(client, user.email, NEW_PASSWORD)["token_type"] == "bearer"


def test_a_link_is_bound_to_the_password_it_was_issued_against(
    client: ApiClient, mail: MailSink, user: Account
) -> None:
    """Even a change that bypasses every route (an operator's script) ends the link."""
    token = request_reset_token(client, mail, user.email)
    users.update_user(ObjectId(user.id), {"password_hash": passwords.hash_password(NEW_PASSWORD)})

    assert_problem(
        client.post(RESET, json={"token": token, "new_password": ATTACKER_PASSWORD}),
        400,
        "invalid_token",
    )
    assert login(client, user.email, NEW_PASSWORD)["token_type"] == "bearer"


def test_a_link_does_not_survive_the_account_being_deleted_and_the_email_reused(
    client: ApiClient, mail: MailSink, user: Account
) -> None:
    token = request_reset_token(client, mail, user.email)
    deleted = client.delete(
        "/api/v1/users/me", json={"password": user.password}, token=user.access_token
    )
    register(client, user.email)  # a new owner of the same address

    assert deleted.status == 204
    assert reset(client, token) == 400
    assert login(client, user.email, STRONG_PASSWORD)["token_type"] == "bearer"


def test_a_reset_ends_the_other_links_of_the_account(
    client: ApiClient, mail: MailSink, user: Account
) -> None:
    first = request_reset_token(client, mail, user.email)
    second = request_reset_token(client, mail, user.email)

    assert reset(client, first, NEW_PASSWORD) == 204
    assert reset(client, second) == 400
    assert login(client, user.email, NEW_PASSWORD)["token_type"] == "bearer"


def test_a_link_still_works_when_nothing_changed(
    client: ApiClient, mail: MailSink, user: Account
) -> None:
    token = request_reset_token(client, mail, user.email)

    assert reset(client, token, NEW_PASSWORD) == 204


# --- reset mail quota ---------------------------------------------------------------------


def forgot_many(client: ApiClient, email: str, times: int) -> list[dict[str, object]]:
    answers = [client.post(FORGOT_PASSWORD, json={"email": email}) for _ in range(times)]
    assert {a.status for a in answers} == {202}
    return [{k: v for k, v in a.json.items() if k != "request_id"} for a in answers]


def test_twenty_requests_for_one_address_send_three_mails(
    client: ApiClient, mail: MailSink, user: Account
) -> None:
    bodies = forgot_many(client, user.email, 20)

    mail.nothing_sent_to("flush@example.com")  # waits for every queued request
    assert mail.count_to(user.email) == 3
    assert all(body == bodies[0] for body in bodies), "nothing in the answer differs"


def test_the_mail_quota_is_per_address(
    client: ApiClient, mail: MailSink, make_account: object
) -> None:
    register(client, "first@example.com")
    register(client, "second@example.com")

    forgot_many(client, "first@example.com", 5)
    forgot_many(client, "second@example.com", 1)

    mail.nothing_sent_to("flush@example.com")
    assert mail.count_to("first@example.com") == 3
    assert mail.count_to("second@example.com") == 1


def test_the_mail_quota_follows_the_setting_and_refills_after_an_hour(
    client: ApiClient, mail: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    reload_settings(
        monkeypatch, PASSWORD_RESET_MAILS_PER_HOUR="1", RATE_LIMIT_AUTH_PER_MINUTE="1000"
    )
    register(client, "hourly@example.com")
    forgot_many(client, "hourly@example.com", 3)
    mail.nothing_sent_to("flush@example.com")
    first_hour = mail.count_to("hourly@example.com")

    later = clock.now() + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    forgot_many(client, "hourly@example.com", 3)
    mail.nothing_sent_to("flush@example.com")

    assert first_hour == 1
    assert mail.count_to("hourly@example.com") == 2


def test_the_answer_does_not_wait_for_the_account_lookup(
    client: ApiClient, mail: MailSink, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known and unknown addresses answer after the same work: none that touches the account."""
    from shared.services import auth

    lookup_may_finish = threading.Event()
    lookups_done = threading.Event()
    real_find = auth.users.find_by_email

    def slow_find(email: str) -> object:
        lookup_may_finish.wait(timeout=5)
        lookups_done.set()
        return real_find(email)

    monkeypatch.setattr(auth.users, "find_by_email", slow_find)
    try:
        known = client.post(FORGOT_PASSWORD, json={"email": user.email})
        unknown = client.post(FORGOT_PASSWORD, json={"email": "ghost@example.com"})
        answered_before_lookup = not lookups_done.is_set()
    finally:
        lookup_may_finish.set()

    assert answered_before_lookup
    assert known.status == unknown.status == 202
    assert "#token=" in mail.next_message(user.email).text


def test_a_locked_out_owner_can_still_get_one_mail(
    client: ApiClient, mail: MailSink, user: Account
) -> None:
    for _ in range(5):
        client.post(LOGIN, json={"email": user.email, "password": "wrong wrong wrong 1"})

    token = request_reset_token(client, mail, user.email)

    assert reset(client, token, NEW_PASSWORD) == 204
    assert login(client, user.email, NEW_PASSWORD)["token_type"] == "bearer"


def test_logging_out_a_session_less_token_ends_that_token_only(
    client: ApiClient, user: Account
) -> None:
    """Access tokens minted before sessions existed carry no sid; logout still ends them."""
    from shared.security import tokens

    legacy = tokens.create_access_token(user_id=user.id, role="user").token
    other_legacy = tokens.create_access_token(user_id=user.id, role="user").token

    logged_out = client.post("/api/v1/auth/logout", json={}, token=legacy)

    assert logged_out.status == 204
    assert_problem(client.get("/api/v1/users/me", token=legacy), 401, "invalid_token")
    assert client.get("/api/v1/users/me", token=other_legacy).status == 200
    assert client.get("/api/v1/users/me", token=user.access_token).status == 200
