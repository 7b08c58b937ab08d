"""Fixed-window rate limits kept in MongoDB, shared by every instance of the app.

One atomic upsert per request: the counter document for (bucket, window) is created
on first hit and removed by the TTL index after its window, so nothing else ever
has to clean up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.db import collections

WINDOW_SECONDS = 60
_COUNT_ONLY = {"count": 1, "_id": 0}


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_seconds: int

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0

    def headers(self) -> dict[str, str]:
        """The RateLimit-* headers (draft IETF names) for this state."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(self.reset_seconds),
        }


def current_window(now: float | None = None) -> tuple[int, int]:
    """The start of the window ``now`` falls in, and the seconds until it ends (at least 1)."""
    now = time.time() if now is None else now
    window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    return window_start, max(1, int(window_start + WINDOW_SECONDS - now))


def hit(bucket: str, limit: int, *, now: float | None = None) -> RateLimitState:
    """Count one request against ``bucket`` and report what is left of its window."""
    now = time.time() if now is None else now
    window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    window_end = window_start + WINDOW_SECONDS
    key = f"{bucket}:{window_start}"
    update = {
        "$inc": {"count": 1},
        "$setOnInsert": {"expires_at": datetime.fromtimestamp(window_end, UTC)},
    }
    # The pre-image is enough (our hit is +1) and spares a read where the server, or
    # the embedded database, would otherwise fetch the document again.
    try:
        before = collections.rate_limits().find_one_and_update(
            {"_id": key}, update, _COUNT_ONLY, upsert=True, return_document=ReturnDocument.BEFORE
        )
    except DuplicateKeyError:
        # Two first hits raced to insert the window; the loser simply increments.
        before = collections.rate_limits().find_one_and_update(
            {"_id": key}, update, _COUNT_ONLY, upsert=True, return_document=ReturnDocument.BEFORE
        )
    count = int(before["count"]) + 1 if before else 1
    return RateLimitState(
        limit=limit,
        remaining=limit - count,
        reset_seconds=max(1, int(window_end - now)),
    )
