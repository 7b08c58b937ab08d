"""Attempts at an account's secrets, reserved before each check, per email.

Every check of a secret (a sign-in, a step-up check of a signed-in user) first
reserves its attempt here with one conditional update, and only then spends the
bcrypt time. The database hands out at most ``max_attempts`` reservations per
window, so concurrent guesses cannot all slip past a check made before the slow
verification, and every instance of the app shares the count. A success deletes
the record; a failure simply leaves its reservation counted.

Keying by a hash of the canonical email (not by user) means an unknown address
locks exactly like a real one, so the 429 reveals nothing about who has an account.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from shared import clock
from shared.db import collections
from shared.db.records import LoginThrottleRecord

# Two racing first attempts: the loser of the insert goes round once more.
_RESERVE_TRIES = 3


def key_for(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


def find(email: str) -> LoginThrottleRecord | None:
    return collections.login_throttle().find_one({"_id": key_for(email)})


def reserve(email: str, *, max_attempts: int, window: timedelta) -> datetime | None:
    """Reserve one attempt: None when granted, else the time the lock ends.

    The record keeps the number of attempts and when the last one was reserved; once
    ``max_attempts`` are taken, nothing more is granted until ``window`` after the
    last of them. A record whose last attempt is a whole window old counts afresh.
    """
    now = clock.now()
    stale = now - window
    key = key_for(email)
    throttle = collections.login_throttle()
    fresh = {"last_at": now, "expires_at": now + window}
    for _ in range(_RESERVE_TRIES):
        restarted = throttle.update_one(
            {"_id": key, "last_at": {"$lte": stale}}, {"$set": {"attempts": 1, **fresh}}
        )
        if restarted.matched_count:
            return None
        try:
            # Matches only below the limit; at the limit the upsert collides with the
            # existing _id, which is how a refusal shows up in a single round trip.
            throttle.update_one(
                {"_id": key, "attempts": {"$lt": max_attempts}},
                {"$inc": {"attempts": 1}, "$set": fresh},
                upsert=True,
            )
            return None
        except DuplicateKeyError:
            doc = throttle.find_one({"_id": key})
        if doc is not None and doc["attempts"] >= max_attempts and doc["last_at"] > stale:
            return doc["last_at"] + window
    return now + window  # still contended after every try: refuse rather than guess


def clear(email: str) -> None:
    """Forget the attempts of this email (a success, a reset, an admin's unlock)."""
    collections.login_throttle().delete_one({"_id": key_for(email)})
