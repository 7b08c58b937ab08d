"""Fixtures for in-process API tests: a client and users built through the public API."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.api.client import ApiClient

STRONG_PASSWORD = "correct horse battery staple 42"
_counter = itertools.count()


@dataclass
class Account:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str


@pytest.fixture
def client() -> ApiClient:
    return ApiClient()


def register(client: ApiClient, email: str, password: str = STRONG_PASSWORD) -> str:
    response = client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert response.status == 201, response.body
    user_id: str = response.json["id"]
    return user_id


def login(
    client: ApiClient, email: str, password: str = STRONG_PASSWORD, **extra: str
) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/login", json={"email": email, "password": password, **extra}
    )
    assert response.status == 200, response.body
    tokens: dict[str, str] = response.json
    return tokens


def _make_account(client: ApiClient, role: str) -> Account:
    email = f"{role}{next(_counter)}@example.com"
    user_id = register(client, email)
    if role != "user":
        from bson import ObjectId

        from shared.repositories import users

        users.update_user(ObjectId(user_id), {"role": role})
    tokens = login(client, email)
    return Account(user_id, email, STRONG_PASSWORD, tokens["access_token"], tokens["refresh_token"])


@pytest.fixture
def make_account(client: ApiClient) -> Callable[[str], Account]:
    """Register and sign in an account with the given role."""
    return lambda role="user": _make_account(client, role)


@pytest.fixture
def user(make_account: Callable[[str], Account]) -> Account:
    return make_account("user")


@pytest.fixture
def admin(make_account: Callable[[str], Account]) -> Account:
    return make_account("admin")


@pytest.fixture
def guest(make_account: Callable[[str], Account]) -> Account:
    return make_account("guest")
