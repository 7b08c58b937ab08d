"""How many reset mails each address asked for in the current window.

Fixed windows in the ``rate_limits`` collection (its TTL index removes a counter once
its window is over). Keyed by a hash of the canonical address, known or not, so the
count itself says nothing about who has an account.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared import clock
from shared.db import collections


def take(email: str, *, limit: int, window: timedelta) -> bool:
    """Count one request for ``email``; True while the window holds at most ``limit``."""
    now = clock.now()
    seconds = int(window.total_seconds())
    window_start = int(now.timestamp()) // seconds * seconds
    digest = hashlib.sha256(email.encode()).hexdigest()
    key = f"reset-mail:{digest}:{window_start}"
    update = {
        "$inc": {"count": 1},
        "$setOnInsert": {"expires_at": datetime.fromtimestamp(window_start + seconds, UTC)},
    }
    counters = collections.rate_limits()
    try:
        after = counters.find_one_and_update(
            {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER
        )
    except DuplicateKeyError:  # two first requests raced to insert the window
        after = counters.find_one_and_update(
            {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER
        )
    return after is not None and int(after["count"]) <= limit
