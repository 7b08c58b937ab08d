"""Consecutive login failures per email, kept whether or not the account exists.

Keying by a hash of the normalised email (not by user) means an unknown address
locks exactly like a real one, so the 429 reveals nothing about who has an account.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from pymongo import ReturnDocument

from shared import clock
from shared.db import collections
from shared.db.client import Document


def key_for(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


def find(email: str) -> Document | None:
    return collections.login_throttle().find_one({"_id": key_for(email)})


def record_failure(email: str, *, max_failures: int, lockout: timedelta) -> Document:
    """Count a failure; the one that reaches ``max_failures`` locks the email for ``lockout``."""
    now = clock.now()
    key = key_for(email)
    throttle = collections.login_throttle()
    # A lock that has run out starts a fresh count; otherwise the count stays above the
    # limit with no lock ahead, and every later guess would go unthrottled.
    throttle.delete_one({"_id": key, "locked_until": {"$lte": now}})
    doc = throttle.find_one_and_update(
        {"_id": key},
        {"$inc": {"failures": 1}, "$set": {"expires_at": now + lockout + timedelta(days=1)}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    if doc is not None and doc["failures"] >= max_failures and not doc.get("locked_until"):
        throttle.update_one(
            {"_id": key, "locked_until": {"$exists": False}},
            {"$set": {"locked_until": now + lockout}},
        )
        doc["locked_until"] = now + lockout
    return doc or {}


def locked_until(doc: Document | None) -> datetime | None:
    """When the lock ends, if the email is locked now."""
    if doc is None or not doc.get("locked_until"):
        return None
    until: datetime = doc["locked_until"]
    return until if until > clock.now() else None


def clear(email: str) -> None:
    collections.login_throttle().delete_one({"_id": key_for(email)})
