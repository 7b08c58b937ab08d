"""One guard for every check of an account's secrets: reserve the attempt, then verify.

Used by sign-in (password and one-time code) and by every step-up check (password
change, account deletion, turning MFA off). All of them draw from one count per
email, so a stolen access token buys no more guesses than the sign-in form does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from shared import clock
from shared.config import get_settings
from shared.db.records import UserRecord
from shared.errors import BadRequest, TooManyRequests
from shared.identity import Caller
from shared.repositories import login_throttle
from shared.security import passwords
from shared.services import audit


@contextmanager
def reserved_attempt(
    email: str, *, caller: Caller, target_id: str | None, refused_action: str
) -> Iterator[None]:
    """Reserve one attempt for ``email`` (429 login_locked when none is left).

    The block runs the check; leaving it normally clears the count, leaving it with an
    exception (a wrong secret) leaves the attempt counted.
    """
    settings = get_settings()
    lock_end = login_throttle.reserve(
        email,
        max_attempts=settings.LOGIN_MAX_FAILURES,
        window=timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES),
    )
    if lock_end is not None:
        retry_after = max(1, math.ceil((lock_end - clock.now()).total_seconds()))
        audit.record(
            refused_action, caller=caller, target_id=target_id, details={"reason": "locked"}
        )
        raise TooManyRequests(
            "Too many failed attempts; try again later",
            code="login_locked",
            headers={"Retry-After": str(retry_after)},
        )
    yield
    login_throttle.clear(email)


@contextmanager
def step_up(
    user: UserRecord, password: str, *, caller: Caller, detail: str = "The password is not correct"
) -> Iterator[None]:
    """Confirm a signed-in user's password under the account's attempt limit.

    Reserves the attempt first (429 login_locked past the limit), then checks the password
    (400 invalid_password); the ``with`` body may check more secrets inside the same attempt.
    """
    with reserved_attempt(
        user["email"],
        caller=caller,
        target_id=str(user["_id"]),
        refused_action="user.step_up_refused",
    ):
        if not passwords.verify_password(password, user["password_hash"]):
            raise BadRequest(detail, code="invalid_password")
        yield


def confirm_password(
    user: UserRecord, password: str, *, caller: Caller, detail: str = "The password is not correct"
) -> None:
    """`step_up` when the password is the only secret to check."""
    with step_up(user, password, caller=caller, detail=detail):
        return
