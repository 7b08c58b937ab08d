"""The attempt count of an account is one count for every instance of the app.

Two app instances share only the database (tests/app_instance.py explains what an
instance keeps to itself and how the second one is made). Wrong secrets sent at once,
half to each instance, are evaluated no more than LOGIN_MAX_FAILURES times in all; the
right secret after them is 429 login_locked on both instances until the lock ends. A
count kept per instance would let each instance evaluate its own five.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import pytest

from shared import clock
from shared.db.client import get_database
from tests.api.client import ApiClient, Response, assert_problem
from tests.api.conftest import LOGIN, NEW_PASSWORD, STRONG_PASSWORD, login, register
from tests.app_instance import AppInstance, load_instance
from tests.conftest import TEST_DATABASE_URL, reload_settings

LIMIT = 5
LOCKOUT = timedelta(minutes=15)
PER_INSTANCE = 8  # more than the limit on each instance alone
WRONG = "definitely not the password 7"
CHANGE_PASSWORD = "/api/v1/users/me/password"
_real_now = clock.now


@dataclass
class TwoInstances:
    """Clients of this process's app and of a second instance of it, over one database."""

    first: ApiClient
    second: ApiClient
    second_app: AppInstance

    def move_clocks(self, monkeypatch: pytest.MonkeyPatch, delta: timedelta) -> None:
        """Shift the clock of both instances (each reads its own `shared.clock`)."""
        moved = lambda: _real_now() + delta  # noqa: E731
        monkeypatch.setattr(clock, "now", moved)
        monkeypatch.setattr(self.second_app.module("shared.clock"), "now", moved)


@pytest.fixture
def instances(monkeypatch: pytest.MonkeyPatch) -> Iterator[TwoInstances]:
    reload_settings(
        monkeypatch,
        LOGIN_MAX_FAILURES=str(LIMIT),
        LOGIN_LOCKOUT_MINUTES="15",
        RATE_LIMIT_AUTH_PER_MINUTE="1000",  # the per-IP limit is not what this is about
    )
    embedded = TEST_DATABASE_URL.startswith("mongomock://")
    # MongoDB: the copy connects on its own. Embedded: the data lives in one client object.
    second_app = load_instance(database=get_database() if embedded else None)
    assert second_app.module("shared.clock") is not clock, "the copy has modules of its own"
    yield TwoInstances(ApiClient(), ApiClient(routes=second_app.routes), second_app)
    second_app.unload()


def burst(sends: list[Callable[[], Response]]) -> list[Response]:
    """Run every request at once, each in its own thread, released together."""
    gate = threading.Barrier(len(sends))

    def released(send: Callable[[], Response]) -> Response:
        gate.wait()
        return send()

    with ThreadPoolExecutor(max_workers=len(sends)) as pool:
        return [f.result() for f in [pool.submit(released, send) for send in sends]]


def assert_locked(response: Response) -> None:
    assert_problem(response, 429, "login_locked")
    assert 0 < int(response.headers["retry-after"]) <= LOCKOUT.total_seconds()


def test_wrong_passwords_split_across_two_instances_are_evaluated_five_times_in_all(
    instances: TwoInstances, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = instances.first, instances.second
    register(first, "shared-count@example.com")
    wrong = {"email": "shared-count@example.com", "password": WRONG}
    right = {"email": "shared-count@example.com", "password": STRONG_PASSWORD}

    answers = burst(
        [lambda: first.post(LOGIN, json=wrong)] * PER_INSTANCE
        + [lambda: second.post(LOGIN, json=wrong)] * PER_INSTANCE
    )

    counts = Counter(answer.status for answer in answers)
    assert counts[401] <= LIMIT, counts  # a count per instance would evaluate up to ten
    assert counts[401] + counts[429] == 2 * PER_INSTANCE, counts
    for answer in answers:
        if answer.status == 429:
            assert_locked(answer)
    assert_locked(first.post(LOGIN, json=right))
    assert_locked(second.post(LOGIN, json=right))

    instances.move_clocks(monkeypatch, LOCKOUT - timedelta(seconds=1))
    assert_locked(second.post(LOGIN, json=right))
    assert_locked(first.post(LOGIN, json=right))

    instances.move_clocks(monkeypatch, LOCKOUT + timedelta(seconds=1))
    assert second.post(LOGIN, json=right).status == 200
    assert first.post(LOGIN, json=right).status == 200


def test_wrong_step_up_passwords_split_across_two_instances_share_the_limit(
    instances: TwoInstances, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = instances.first, instances.second
    register(first, "shared-step-up@example.com")
    token = login(first, "shared-step-up@example.com")["access_token"]

    def change(client: ApiClient, current: str) -> Response:
        body = {"current_password": current, "new_password": NEW_PASSWORD}
        return client.post(CHANGE_PASSWORD, json=body, token=token)

    answers = burst(
        [lambda: change(first, WRONG)] * PER_INSTANCE
        + [lambda: change(second, WRONG)] * PER_INSTANCE
    )

    counts = Counter(answer.status for answer in answers)
    assert counts[400] <= LIMIT, counts
    assert counts[400] + counts[429] == 2 * PER_INSTANCE, counts
    for answer in answers:
        if answer.status == 400:
            assert_problem(answer, 400, "invalid_password")
        else:
            assert_locked(answer)
    assert_locked(change(first, STRONG_PASSWORD))
    signing_in = {"email": "shared-step-up@example.com", "password": STRONG_PASSWORD}
    assert_locked(second.post(LOGIN, json=signing_in))  # one count for sign-in and step-up

    instances.move_clocks(monkeypatch, LOCKOUT - timedelta(seconds=1))
    assert_locked(change(second, STRONG_PASSWORD))

    instances.move_clocks(monkeypatch, LOCKOUT + timedelta(seconds=1))
    changed = change(second, STRONG_PASSWORD)
    assert changed.status == 204, changed.body
    login(first, "shared-step-up@example.com", NEW_PASSWORD)
