"""Running totals for the admin dashboard, kept so reading them costs O(1).

Every write that creates, deletes or changes the role, activation or status of a user
or an upload adds its difference here with one atomic ``$inc``, computed from the
pre-image that write returned, so concurrent changes never count twice. Migration 5
builds the totals from existing data (shared.db.derived has that recount).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from shared.db import collections
from shared.db.derived import UPLOAD_TOTALS, USER_TOTALS
from shared.db.records import TotalsRecord, UploadRecord, UserRecord

USERS = USER_TOTALS
UPLOADS = UPLOAD_TOTALS
ROLES = ("guest", "user", "admin")

RecordT = TypeVar("RecordT", bound=Mapping[str, Any])


def user_share(user: UserRecord | None) -> Counter[str]:
    """What one user document contributes to the user totals."""
    if user is None:
        return Counter()
    share = Counter({"total": 1, f"by_role.{user['role']}": 1})
    if user["is_active"]:
        share["active"] = 1
    return share


def upload_share(upload: UploadRecord | None) -> Counter[str]:
    """What one upload record contributes to the upload totals."""
    if upload is None:
        return Counter()
    size = int(upload["size_bytes"] or 0)
    return Counter({"total": 1, "bytes": size, f"by_status.{upload['status']}": 1})


def applied(
    document: RecordT, set_: dict[str, Any], unset: dict[str, Any] | None = None
) -> RecordT:
    """``document`` as ``{"$set": set_, "$unset": unset}`` leaves it (dotted paths too)."""
    result: dict[str, Any] = dict(document)
    for path, value in [*set_.items(), *((p, _UNSET) for p in unset or {})]:
        *parents, leaf = path.split(".")
        target = result
        for part in parents:
            target[part] = dict(target.get(part) or {})
            target = target[part]
        if value is _UNSET:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    # The write's after-image: the same record, as the update left it.
    return cast("RecordT", result)


_UNSET = object()


def add(name: str, before: Counter[str], after: Counter[str]) -> None:
    """Add the difference between two shares to the totals called ``name``."""
    delta = {key: after[key] - before[key] for key in before.keys() | after.keys()}
    delta = {key: value for key, value in delta.items() if value}
    if delta:
        collections.counters().update_one({"_id": name}, {"$inc": delta}, upsert=True)


def read() -> dict[str, TotalsRecord]:
    """Both totals documents, in one round trip."""
    found = collections.counters().find({"_id": {"$in": [USERS, UPLOADS]}})
    return {str(doc["_id"]): doc for doc in found}
