"""Rate-limit buckets as a client sees them: mapped IPv4 is IPv4, an IPv6 /64 is one client."""

from __future__ import annotations

import functools
import time

import pytest

from tests.api.client import ApiClient, Response, assert_problem
from tests.api.conftest import MakeAccount
from tests.conftest import reload_settings

FORGOT = "/api/v1/auth/password/forgot"


@pytest.fixture(autouse=True)
def auth_limit_of_ten(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped auth limit, inside one fixed window so no test straddles two."""
    from shared.http import ratelimit

    reload_settings(monkeypatch, RATE_LIMIT_AUTH_PER_MINUTE="10")
    mid_window = time.time() // ratelimit.WINDOW_SECONDS * ratelimit.WINDOW_SECONDS + 30
    monkeypatch.setattr(ratelimit, "hit", functools.partial(ratelimit.hit, now=mid_window))


def exhaust(client: ApiClient) -> None:
    for _ in range(10):
        assert client.post(FORGOT, json={"email": "a@example.com"}).status == 202


def next_answer(address: str) -> int:
    return ApiClient(client_ip=address).post(FORGOT, json={"email": "a@example.com"}).status


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("203.0.113.9", "::ffff:203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:db8:7:7::1", "2001:db8:7:7::2"),
        ("2001:db8:7:7::1", "[2001:db8:7:7:ffff::9]:443"),
    ],
)
def test_one_client_under_another_spelling_shares_the_bucket(first: str, then: str) -> None:
    exhaust(ApiClient(client_ip=first))

    response = ApiClient(client_ip=then).post(FORGOT, json={"email": "a@example.com"})

    assert_problem(response, 429, "rate_limited")


@pytest.mark.parametrize(
    ("first", "then"),
    [("203.0.113.9", "203.0.113.10"), ("2001:db8:7:7::1", "2001:db8:7:8::1")],
)
def test_a_neighbouring_client_keeps_its_own_bucket(first: str, then: str) -> None:
    exhaust(ApiClient(client_ip=first))

    assert next_answer(then) == 202


def test_entries_a_client_writes_itself_do_not_give_it_a_fresh_bucket() -> None:
    client = ApiClient(client_ip="2001:db8:7:7::1")
    exhaust(client)

    spoofed = client.post(
        FORGOT,
        json={"email": "a@example.com"},
        headers={"X-Forwarded-For": "198.51.100.1, 2001:db8:9::1, 2001:db8:7:7::abcd"},
    )

    assert_problem(spoofed, 429, "rate_limited")


def test_a_signed_in_users_bucket_tells_the_seconds_left_in_its_window(
    monkeypatch: pytest.MonkeyPatch, make_account: MakeAccount
) -> None:
    from shared.http import ratelimit

    reload_settings(monkeypatch, RATE_LIMIT_USER_PER_MINUTE="3")
    account = make_account("user")
    client = ApiClient()
    start = time.time() // ratelimit.WINDOW_SECONDS * ratelimit.WINDOW_SECONDS

    def read_at(seconds_in: float) -> Response:
        at = functools.partial(ratelimit.current_window, now=start + seconds_in)
        monkeypatch.setattr(ratelimit, "current_window", at)
        return client.get("/api/v1/users/me", token=account.access_token)

    allowed = [read_at(10), read_at(20), read_at(45)]
    refused = read_at(59.5)

    assert [a.headers["ratelimit-remaining"] for a in allowed] == ["2", "1", "0"]
    assert [a.headers["ratelimit-reset"] for a in allowed] == ["50", "40", "15"]
    assert_problem(refused, 429, "rate_limited")
    assert refused.headers["retry-after"] == "1"  # the last half second still says 1
