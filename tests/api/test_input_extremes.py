"""Inputs at the edge of their range are 4xx problems, and filters validate ids alike."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.api.client import ApiClient, assert_problem
from tests.api.conftest import Account

AUDIT = "/api/v1/admin/audit-log"
UPLOADS = "/api/v1/uploads"


@pytest.mark.parametrize(
    "since",
    [
        "9999-12-31T23:59:59.999999-23:59",  # UTC instant in year 10000
        "9999-12-31T23:00:00-01:00",
        "0001-01-01T00:00:00+23:59",  # UTC instant in year 0
        "0001-01-01T00:30:00+01:00",
        "10000-01-01T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "not a time",
    ],
)
def test_an_audit_log_since_out_of_range_is_422(
    client: ApiClient, admin: Account, since: str
) -> None:
    response = client.get(f"{AUDIT}?since={quote(since)}", token=admin.access_token)

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    "since",
    ["9999-12-31T23:59:59.999999+00:00", "9999-12-31T23:59:59+23:59", "0001-01-02T00:00:00Z"],
)
def test_extreme_but_representable_times_are_answered(
    client: ApiClient, admin: Account, since: str
) -> None:
    response = client.get(f"{AUDIT}?since={quote(since)}", token=admin.access_token)

    assert response.status == 200, response.body


def test_since_compares_instants_whatever_the_offset(client: ApiClient, admin: Account) -> None:
    page = client.get(AUDIT, token=admin.access_token).json["items"]
    newest = page[0]["at"]  # "...Z" or "+00:00"
    from datetime import datetime, timedelta, timezone

    instant = datetime.fromisoformat(newest.replace("Z", "+00:00"))
    same_in_tokyo = instant.astimezone(timezone(timedelta(hours=9))).isoformat()
    after_it = (instant + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-5)))

    at_tokyo = client.get(f"{AUDIT}?since={quote(same_in_tokyo)}", token=admin.access_token)
    later = client.get(f"{AUDIT}?since={quote(after_it.isoformat())}", token=admin.access_token)

    assert newest in [event["at"] for event in at_tokyo.json["items"]]
    assert newest not in [event["at"] for event in later.json["items"]]


@pytest.mark.parametrize("actor_id", ["zzz", "0" * 23, "g" * 24, "0" * 25, "$ne", " " * 24])
def test_a_malformed_actor_id_filter_is_422(
    client: ApiClient, admin: Account, actor_id: str
) -> None:
    response = client.get(f"{AUDIT}?actor_id={quote(actor_id)}", token=admin.access_token)

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("owner_id", ["zz", "0" * 23, "g" * 24, " " * 24])
def test_a_malformed_owner_id_filter_is_422(
    client: ApiClient, admin: Account, owner_id: str
) -> None:
    response = client.get(f"{UPLOADS}?owner_id={quote(owner_id)}", token=admin.access_token)

    assert_problem(response, 422, "validation_error")


def test_an_actor_id_in_capitals_finds_the_same_events(client: ApiClient, admin: Account) -> None:
    lower = client.get(f"{AUDIT}?actor_id={admin.id}", token=admin.access_token)
    upper = client.get(f"{AUDIT}?actor_id={admin.id.upper()}", token=admin.access_token)

    found = [event["id"] for event in upper.json["items"]]
    assert lower.json["items"]
    assert all(event["id"] in found for event in lower.json["items"])


@pytest.mark.parametrize("action", ["a" * 101, "a" * 10_000])
def test_an_action_filter_out_of_bounds_is_422(
    client: ApiClient, admin: Account, action: str
) -> None:
    response = client.get(f"{AUDIT}?action={quote(action)}", token=admin.access_token)

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("size", [2**53, 2**63, 2**64, 10**30])
def test_a_declared_size_beyond_any_integer_store_is_422(
    client: ApiClient, user: Account, size: int
) -> None:
    response = client.post(
        UPLOADS,
        json={"filename": "a.png", "content_type": "image/png", "size_bytes": size},
        token=user.access_token,
    )

    assert response.status == 422
    assert response.content_type == "application/problem+json"
