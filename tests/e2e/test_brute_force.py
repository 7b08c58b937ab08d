"""Guessing limits under real concurrency: bursts of requests over HTTP at bcrypt cost 12.

Each test counts how many guesses the app *evaluated* (answered 401/400 after checking
the secret) out of a burst released at once: never more than LOGIN_MAX_FAILURES (5),
every other one answered 429 `login_locked` with Retry-After, the right secret included.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest

from tests.e2e.conftest import Answer, LocalHost, assert_stopped_cleanly, launch_local_host

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple 42"
WRONG = "definitely not the password 7"
NEW_PASSWORD = "plum orchard telescope 1987 quietly"
LIMIT = 5
BURST = 16


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHost]:
    """The real app at the production bcrypt cost, its throttle at the shipped defaults."""
    settings = tmp_path_factory.mktemp("brute-force") / "local.settings.json"
    started = launch_local_host(
        settings=settings,
        env={
            "BCRYPT_ROUNDS": "12",
            "LOGIN_MAX_FAILURES": str(LIMIT),
            "LOGIN_LOCKOUT_MINUTES": "15",
        },
    )
    yield started
    assert_stopped_cleanly(started)


def call(
    host: LocalHost, method: str, path: str, payload: object, token: str | None = None
) -> Answer:
    """One request, with room for bcrypt at cost 12 on a busy two-core machine."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    address = urlsplit(host.base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=120)
    try:
        connection.request(method, path, body=json.dumps(payload).encode(), headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def burst(requests: list[Callable[[], Answer]]) -> list[Answer]:
    """Send every request at once (released together by a barrier); the answers in order."""
    gate = threading.Barrier(len(requests))

    def released(send: Callable[[], Answer]) -> Answer:
        gate.wait()
        return send()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return [f.result() for f in [pool.submit(released, send) for send in requests]]


def statuses(answers: list[Answer]) -> Counter[int]:
    return Counter(answer.status for answer in answers)


def assert_locked(answer: Answer) -> None:
    assert answer.status == 429, answer.body
    assert answer.json()["code"] == "login_locked"
    assert 0 < int(answer.headers["Retry-After"]) <= 15 * 60


def register(host: LocalHost, email: str) -> str:
    answer = call(host, "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD})
    assert answer.status == 201, answer.body
    return str(answer.json()["id"])


def sign_in(host: LocalHost, email: str, **extra: str) -> str:
    answer = call(
        host, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD, **extra}
    )
    assert answer.status == 200, answer.body
    return str(answer.json()["access_token"])


def guess_login(host: LocalHost, email: str, password: str = WRONG, **extra: str) -> Answer:
    return call(host, "POST", "/api/v1/auth/login", {"email": email, "password": password, **extra})


def test_sixteen_concurrent_wrong_passwords_evaluate_at_most_five(host: LocalHost) -> None:
    register(host, "burst@example.com")

    answers = burst([lambda: guess_login(host, "burst@example.com")] * BURST)
    right_after = guess_login(host, "burst@example.com", PASSWORD)

    counts = statuses(answers)
    assert counts[401] <= LIMIT, counts
    assert counts[401] + counts[429] == BURST, counts
    for answer in answers:
        if answer.status == 429:
            assert_locked(answer)
    assert_locked(right_after)


def test_an_unknown_email_under_a_burst_locks_the_same_way(host: LocalHost) -> None:
    answers = burst([lambda: guess_login(host, "nobody-burst@example.com")] * BURST)

    counts = statuses(answers)
    assert counts[401] <= LIMIT, counts
    assert counts[401] + counts[429] == BURST, counts


def test_the_right_password_sent_inside_a_burst_is_refused(host: LocalHost) -> None:
    register(host, "inside@example.com")
    gate = threading.Barrier(BURST)

    def wrong_guess() -> Answer:
        gate.wait()
        return guess_login(host, "inside@example.com")

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        guesses: list[Future[Answer]] = [pool.submit(wrong_guess) for _ in range(BURST)]
        first = next(_as_completed(guesses))  # the others are still being checked
        right = guess_login(host, "inside@example.com", PASSWORD)
        answers = [g.result() for g in guesses]

    assert first.status in (401, 429)
    assert_locked(right)
    assert statuses(answers)[401] <= LIMIT


def _as_completed(futures: list[Future[Answer]]) -> Iterator[Answer]:
    from concurrent.futures import as_completed

    for done in as_completed(futures):
        yield done.result()


def _enable_mfa(host: LocalHost, email: str) -> tuple[pyotp.TOTP, str]:
    """Turn on MFA for the account; its authenticator and a signed-in access token."""
    token = sign_in(host, email)
    secret = call(host, "POST", "/api/v1/auth/mfa/setup", {}, token).json()["secret"]
    totp = pyotp.TOTP(secret)
    enabled = call(host, "POST", "/api/v1/auth/mfa/enable", {"otp": totp.now()}, token)
    assert enabled.status == 200, enabled.body
    return totp, token


def _wrong_code(totp: pyotp.TOTP) -> str:
    now = datetime.now(UTC)
    near = {totp.at(now, counter_offset=offset) for offset in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in near)


def test_concurrent_wrong_codes_with_the_right_password_evaluate_at_most_five(
    host: LocalHost,
) -> None:
    register(host, "codes@example.com")
    totp, _ = _enable_mfa(host, "codes@example.com")
    code = _wrong_code(totp)

    answers = burst([lambda: guess_login(host, "codes@example.com", PASSWORD, otp=code)] * 14)
    right_after = guess_login(host, "codes@example.com", PASSWORD, otp=totp.now())

    counts = statuses(answers)
    assert counts[401] <= LIMIT, counts
    assert counts[401] + counts[429] == 14, counts
    assert all(a.json()["code"] == "mfa_invalid" for a in answers if a.status == 401)
    assert_locked(right_after)


StepUp = Callable[[LocalHost, str, str], Answer]


def _change_password(host: LocalHost, token: str, current: str) -> Answer:
    body = {"current_password": current, "new_password": NEW_PASSWORD}
    return call(host, "POST", "/api/v1/users/me/password", body, token)


def _delete_account(host: LocalHost, token: str, password: str) -> Answer:
    return call(host, "DELETE", "/api/v1/users/me", {"password": password}, token)


@pytest.mark.parametrize(
    "step_up", [_change_password, _delete_account], ids=["password-change", "account-deletion"]
)
def test_concurrent_wrong_step_up_passwords_then_the_right_one_is_429(
    host: LocalHost, step_up: StepUp, request: pytest.FixtureRequest
) -> None:
    email = f"stepup-{request.node.callspec.id}@example.com"
    register(host, email)
    token = sign_in(host, email)

    answers = burst([lambda: step_up(host, token, WRONG)] * 8)
    right = step_up(host, token, PASSWORD)

    counts = statuses(answers)
    assert counts[400] <= LIMIT, counts
    assert counts[400] + counts[429] == 8, counts
    assert all(a.json()["code"] == "invalid_password" for a in answers if a.status == 400)
    assert_locked(right)
    still_there = host.request(
        "GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert still_there.status == 200, "the session and the account are untouched"


def test_concurrent_wrong_mfa_disable_attempts_then_the_right_ones_are_429(
    host: LocalHost,
) -> None:
    register(host, "disable@example.com")
    totp, token = _enable_mfa(host, "disable@example.com")

    def disable(password: str, otp: str) -> Answer:
        return call(
            host, "POST", "/api/v1/auth/mfa/disable", {"password": password, "otp": otp}, token
        )

    answers = burst([lambda: disable(WRONG, "123456")] * 8)
    right = disable(PASSWORD, totp.now())

    counts = statuses(answers)
    assert counts[400] <= LIMIT, counts
    assert counts[400] + counts[429] == 8, counts
    assert_locked(right)
    me: dict[str, Any] = host.request(
        "GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert me["mfa_enabled"] is True
