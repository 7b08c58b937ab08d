"""Fixtures for in-process API tests: a client and users built through the public API."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from shared.services.mail import MailMessage
from tests.api.client import ApiClient, Response
from tests.conftest import reload_settings

LOGIN = "/api/v1/auth/login"
FORGOT_PASSWORD = "/api/v1/auth/password/forgot"
STRONG_PASSWORD = "correct horse battery staple 42"
NEW_PASSWORD = "plum orchard telescope 1987 quietly"
# The fields of the public user object, as every user route returns it.
USER_FIELDS = {
    "id",
    "email",
    "full_name",
    "role",
    "is_active",
    "mfa_enabled",
    "created_at",
    "updated_at",
}
_counter = itertools.count()


@dataclass
class Account:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str


MakeAccount = Callable[[str], Account]


@pytest.fixture
def client() -> ApiClient:
    return ApiClient()


@pytest.fixture
def lenient_auth_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lift the auth rate limit for tests that sign in many times (the limit has its own tests)."""
    reload_settings(monkeypatch, RATE_LIMIT_AUTH_PER_MINUTE="1000")


def register(client: ApiClient, email: str, password: str = STRONG_PASSWORD) -> str:
    response = client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert response.status == 201, response.body
    user_id: str = response.json["id"]
    return user_id


def login(
    client: ApiClient, email: str, password: str = STRONG_PASSWORD, **extra: str
) -> dict[str, str]:
    response = client.post(LOGIN, json={"email": email, "password": password, **extra})
    assert response.status == 200, response.body
    tokens: dict[str, str] = response.json
    return tokens


def fail_login(client: ApiClient, email: str, times: int) -> list[Response]:
    """Sign in ``times`` times with a wrong password; the answers."""
    return [
        client.post(LOGIN, json={"email": email, "password": "definitely wrong password"})
        for _ in range(times)
    ]


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
def make_account(client: ApiClient) -> MakeAccount:
    """Register and sign in an account with the given role."""

    def make(role: str = "user") -> Account:
        return _make_account(client, role)

    return make


@pytest.fixture
def user(make_account: MakeAccount) -> Account:
    return make_account("user")


@pytest.fixture
def admin(make_account: MakeAccount) -> Account:
    return make_account("admin")


@pytest.fixture
def guest(make_account: MakeAccount) -> Account:
    return make_account("guest")


class MailSink:
    """Stands in for the mailer; the reset mail is sent from a worker thread."""

    def __init__(self) -> None:
        self.messages: queue.Queue[MailMessage] = queue.Queue()
        self.sent: list[MailMessage] = []

    def send(self, message: MailMessage) -> None:
        self.sent.append(message)
        self.messages.put(message)

    def count_to(self, to: str) -> int:
        """How many mails went to ``to`` so far (wait with nothing_sent_to first)."""
        return sum(message.to == to for message in self.sent)

    def next_message(self, to: str) -> MailMessage:
        """The next mail to ``to``, skipping any a previous test left in flight."""
        while True:
            message = self.messages.get(timeout=10)
            if message.to == to:
                return message

    def reset_token(self, to: str) -> str:
        """The token in the link of the next reset mail to ``to``."""
        text = self.next_message(to).text
        return text.split("#token=", 1)[1].split()[0]

    def nothing_sent_to(self, to: str) -> bool:
        from shared.services import auth

        # Tasks start in order; once every worker sits at this barrier at the same
        # time, no earlier send can still be running or waiting.
        workers = auth._mail_sender._max_workers
        barrier = threading.Barrier(workers, timeout=10)
        for done in [auth._mail_sender.submit(barrier.wait) for _ in range(workers)]:
            done.result()
        sent: list[MailMessage] = []
        while not self.messages.empty():
            sent.append(self.messages.get_nowait())
        return all(message.to != to for message in sent)


@pytest.fixture
def mail(monkeypatch: pytest.MonkeyPatch) -> MailSink:
    """Catch the mail the app sends instead of delivering it."""
    from shared.services import auth

    sink = MailSink()
    monkeypatch.setattr(auth, "get_mailer", lambda: sink)
    return sink


def request_reset_token(client: ApiClient, mail: MailSink, email: str) -> str:
    """Ask for a password reset for ``email``; the token from the mail it is sent."""
    client.post(FORGOT_PASSWORD, json={"email": email})
    return mail.reset_token(email)
