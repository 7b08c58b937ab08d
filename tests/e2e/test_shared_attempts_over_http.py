"""Two local hosts, two processes, one MongoDB: an account's attempt count is shared.

The in-process version (tests/api/test_shared_attempt_count.py) runs everywhere; this one
needs a database two processes can reach, so it runs when TEST_DATABASE_URL names a
MongoDB (the embedded database lives inside one process). Wrong secrets sent at once, half
to each host, are evaluated at most LOGIN_MAX_FAILURES times in all, and the right one
after them is 429 login_locked on both hosts.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import TEST_DATABASE_URL
from tests.e2e.conftest import Answer, LocalHost

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        TEST_DATABASE_URL.startswith("mongomock://"),
        reason="two processes need a shared MongoDB: set TEST_DATABASE_URL",
    ),
]

PASSWORD = "correct horse battery staple 42"
NEW_PASSWORD = "plum orchard telescope 1987 quietly"
WRONG = "definitely not the password 7"
LIMIT = 5
PER_HOST = 8  # more than the limit on each host alone


@pytest.fixture
def hosts(start_local_host: Callable[..., LocalHost]) -> Iterator[tuple[LocalHost, LocalHost]]:
    """Two local hosts on one MongoDB database, dropped afterwards."""
    name = f"rt_shared_{uuid.uuid4().hex[:12]}"
    env = {
        "DATABASE_URL": TEST_DATABASE_URL,
        "DATABASE_NAME": name,
        "LOGIN_MAX_FAILURES": str(LIMIT),
        "LOGIN_LOCKOUT_MINUTES": "15",
    }
    yield start_local_host(env), start_local_host(env)
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]]
    with MongoClient(TEST_DATABASE_URL) as client:
        client.drop_database(name)


def call(host: LocalHost, path: str, payload: object, token: str | None = None) -> Answer:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return host.request("POST", path, headers=headers, body=json.dumps(payload).encode())


def burst(sends: list[Callable[[], Answer]]) -> list[Answer]:
    """Send every request at once (released together by a barrier); the answers."""
    gate = threading.Barrier(len(sends))

    def released(send: Callable[[], Answer]) -> Answer:
        gate.wait()
        return send()

    with ThreadPoolExecutor(max_workers=len(sends)) as pool:
        return [f.result() for f in [pool.submit(released, send) for send in sends]]


def assert_locked(answer: Answer) -> None:
    assert answer.status == 429, answer.body
    assert answer.json()["code"] == "login_locked"
    assert 0 < int(answer.headers["Retry-After"]) <= 15 * 60


def sign_in(host: LocalHost, email: str, password: str = PASSWORD) -> Answer:
    return call(host, "/api/v1/auth/login", {"email": email, "password": password})


def register(host: LocalHost, email: str) -> None:
    answer = call(host, "/api/v1/auth/register", {"email": email, "password": PASSWORD})
    assert answer.status == 201, answer.body


def test_wrong_passwords_split_across_two_hosts_are_evaluated_five_times_in_all(
    hosts: tuple[LocalHost, LocalHost],
) -> None:
    first, second = hosts
    register(first, "two-hosts@example.com")

    answers = burst(
        [lambda: sign_in(first, "two-hosts@example.com", WRONG)] * PER_HOST
        + [lambda: sign_in(second, "two-hosts@example.com", WRONG)] * PER_HOST
    )

    counts = Counter(answer.status for answer in answers)
    assert counts[401] <= LIMIT, counts
    assert counts[401] + counts[429] == 2 * PER_HOST, counts
    assert_locked(sign_in(first, "two-hosts@example.com"))
    assert_locked(sign_in(second, "two-hosts@example.com"))


def test_wrong_step_up_passwords_split_across_two_hosts_share_the_limit(
    hosts: tuple[LocalHost, LocalHost],
) -> None:
    first, second = hosts
    register(first, "two-hosts-step-up@example.com")
    signed_in = sign_in(first, "two-hosts-step-up@example.com")
    assert signed_in.status == 200, signed_in.body
    token = str(signed_in.json()["access_token"])

    def change(host: LocalHost, current: str) -> Answer:
        body = {"current_password": current, "new_password": NEW_PASSWORD}
        return call(host, "/api/v1/users/me/password", body, token)

    answers = burst(
        [lambda: change(first, WRONG)] * PER_HOST + [lambda: change(second, WRONG)] * PER_HOST
    )

    counts = Counter(answer.status for answer in answers)
    assert counts[400] <= LIMIT, counts
    assert counts[400] + counts[429] == 2 * PER_HOST, counts
    assert_locked(change(second, PASSWORD))
    assert_locked(change(first, PASSWORD))
    assert_locked(sign_in(second, "two-hosts-step-up@example.com"))
