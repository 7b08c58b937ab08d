"""An authenticated read is one database round trip, rate limit and revocation included."""

from __future__ import annotations

import time

import pytest

from shared.db import collections
from shared.repositories import users
from tests.api.client import ApiClient, assert_problem
from tests.api.conftest import Account, MakeAccount
from tests.conftest import reload_settings
from tests.database_calls import database_calls, install_listener

ME = "/api/v1/users/me"


@pytest.fixture(autouse=True)
def listener() -> None:
    install_listener()  # before the first request creates this test's MongoClient


def test_an_authenticated_read_makes_one_round_trip(client: ApiClient, user: Account) -> None:
    client.get(ME, token=user.access_token)  # warm: nothing left to set up lazily

    with database_calls() as calls:
        responses = [client.get(ME, token=user.access_token) for _ in range(3)]

    assert [r.status for r in responses] == [200] * 3
    assert len(calls.labels) == 3, calls.labels
    assert responses[-1].headers["ratelimit-limit"] == "300"


def test_the_user_limit_refuses_with_429_and_a_refusal_does_not_count(
    client: ApiClient, monkeypatch: pytest.MonkeyPatch, make_account: MakeAccount
) -> None:
    reload_settings(monkeypatch, RATE_LIMIT_USER_PER_MINUTE="3")
    account = make_account("user")
    answers = [client.get(ME, token=account.access_token) for _ in range(5)]

    assert [r.status for r in answers[:3]] == [200] * 3
    assert [a.headers["ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    refused = assert_problem(answers[3], 429, "rate_limited")
    assert refused["status"] == 429
    assert 0 < int(answers[4].headers["retry-after"]) <= 60
    stored = collections.users().find_one({"email": account.email})
    assert stored is not None
    assert stored["rate"]["n"] == 4  # parked one above the limit, however often refused


def test_a_revoked_token_counts_against_the_address_not_the_owner(
    client: ApiClient, user: Account
) -> None:
    first = client.get(ME, token=user.access_token)
    old_token = user.access_token
    assert client.post("/api/v1/auth/logout-all", token=old_token).status == 204
    fresh = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    ).json["access_token"]

    refused = client.get(ME, token=old_token)
    after = client.get(ME, token=fresh)

    assert_problem(refused, 401, "invalid_token")
    assert refused.headers["ratelimit-limit"] == "60"  # the anonymous, per-address bucket
    # Between the two good reads the owner's window counted the logout, and nothing else.
    spent = int(first.headers["ratelimit-remaining"]) - int(after.headers["ratelimit-remaining"])
    assert spent == 2


def test_a_deactivated_account_is_refused_and_charged_to_the_address(
    client: ApiClient, user: Account
) -> None:
    before = client.get(ME, token=user.access_token)
    stored = users.find_by_email(user.email)
    assert stored is not None
    users.set_active(stored["_id"], False)

    refused = client.get(ME, token=user.access_token)

    assert before.status == 200
    assert_problem(refused, 401, "invalid_token")
    assert refused.headers["ratelimit-limit"] == "60"
    after = collections.users().find_one({"_id": stored["_id"]})
    assert after is not None
    assert after["rate"]["n"] == 1  # only the read made while active


def test_the_user_window_rolls_over_in_the_same_update(user: Account) -> None:
    from shared.services import sessions

    claims = sessions.verify_access_token(user.access_token)
    window = int(time.time() // 60) * 60 + 600  # a future window nothing else has touched

    in_window = [sessions.admit(claims, window=window, limit=2).count for _ in range(4)]
    next_window = sessions.admit(claims, window=window + 60, limit=2).count
    uncounted = sessions.admit(claims, window=None).count

    assert in_window == [1, 2, 3, 3]  # parked at limit + 1 once over
    assert next_window == 1
    assert uncounted is None
    stored = collections.users().find_one({"email": user.email})
    assert stored is not None
    assert stored["rate"] == {"w": window + 60, "n": 1}


def test_a_token_minted_later_in_the_millisecond_of_a_revoke_all_stays_valid(
    user: Account,
) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from bson import ObjectId

    from shared.errors import Unauthorized
    from shared.services import sessions

    claims = sessions.verify_access_token(user.access_token)
    cutoff = datetime(2030, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)  # stored to the millisecond
    users.invalidate_tokens(ObjectId(user.id), at=cutoff)
    later_that_millisecond = replace(claims, issued_at=cutoff + timedelta(microseconds=500))
    at_the_cutoff = replace(claims, issued_at=cutoff)

    admitted = sessions.admit(later_that_millisecond, window=None)

    assert admitted.principal.user_id == user.id
    with pytest.raises(Unauthorized):
        sessions.admit(at_the_cutoff, window=None)
