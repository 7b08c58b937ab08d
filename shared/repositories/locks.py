"""Named leases in the ``locks`` collection: one holder at a time, across instances.

A lease is one document per name; taking it is a single conditional upsert, so two
instances asking at once cannot both win. It expires on its own, so a holder that
crashed blocks others only until ``lease_until``.
"""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.db import collections


def acquire(name: str, *, holder: str, now: datetime, until: datetime) -> bool:
    """Take (or renew) the lease ``name`` for ``holder`` until ``until``; False if held."""
    try:
        document = collections.locks().find_one_and_update(
            {"_id": name, "$or": [{"lease_until": {"$lte": now}}, {"holder": holder}]},
            {"$set": {"holder": holder, "lease_until": until, "acquired_at": now}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
    except DuplicateKeyError:
        # The lease exists and is live: the upsert tried to insert a second one.
        return False
    return document is not None and document["holder"] == holder


def release(name: str, *, holder: str, now: datetime) -> bool:
    """End ``holder``'s lease now; False when it had already lost it."""
    result = collections.locks().update_one(
        {"_id": name, "holder": holder}, {"$set": {"lease_until": now}}
    )
    return result.matched_count == 1
