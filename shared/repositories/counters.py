"""Running totals for the admin dashboard, kept so reading them costs O(1).

Every write that creates, deletes or changes the role, activation or status of a user
or an upload adds its difference here with one atomic ``$inc``, computed from the
pre-image that write returned, so concurrent changes never count twice. Migration 5
builds the totals from existing data (shared.db.derived has that recount); the
maintenance job recounts them (``recount_*``) and corrects any drift, such as a write
whose process died between its change and its ``$inc``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from shared.db import collections, names
from shared.db.derived import UPLOAD_TOTALS, USER_TOTALS
from shared.db.records import TotalsRecord, UploadRecord, UserRecord

USERS = USER_TOTALS
UPLOADS = UPLOAD_TOTALS
ROLES = ("guest", "user", "admin")
# Every status an upload record can have (shared.repositories.uploads names them).
UPLOAD_STATUSES = ("pending", "processing", "ready", "rejected", "failed")

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


def flat(totals: TotalsRecord | None) -> Counter[str]:
    """A stored totals document as dotted keys (``by_role.user``), the shape ``add`` takes."""
    if totals is None:
        return Counter()
    found = Counter(
        {
            "total": totals.get("total", 0),
            "active": totals.get("active", 0),
            "bytes": totals.get("bytes", 0),
        }
    )
    found.update({f"by_role.{name}": n for name, n in totals.get("by_role", {}).items()})
    found.update({f"by_status.{name}": n for name, n in totals.get("by_status", {}).items()})
    return found


def recount_users() -> Counter[str]:
    """The user totals counted from the users, as dotted keys.

    The ``$in`` on every role lets the (role, _id) index serve the scan on MongoDB; a
    role outside ROLES (which no write sets) would not be counted.
    """
    totals: Counter[str] = Counter()
    pipeline: list[dict[str, Any]] = [
        {"$match": {"role": {"$in": list(ROLES)}}},
        {"$group": {"_id": {"role": "$role", "active": "$is_active"}, "n": {"$sum": 1}}},
    ]
    # The rows of a $group are not user records: the untyped accessor reads them.
    for row in collections.collection(names.USERS).aggregate(pipeline):
        n = int(row["n"])
        totals["total"] += n
        totals[f"by_role.{row['_id']['role']}"] += n
        if row["_id"].get("active"):
            totals["active"] += n
    return totals


def recount_uploads() -> Counter[str]:
    """The upload totals counted from the upload records (the (status, _id) index serves it)."""
    totals: Counter[str] = Counter()
    pipeline: list[dict[str, Any]] = [
        {"$match": {"status": {"$in": list(UPLOAD_STATUSES)}}},
        {"$group": {"_id": "$status", "n": {"$sum": 1}, "bytes": {"$sum": "$size_bytes"}}},
    ]
    for row in collections.collection(names.UPLOADS).aggregate(pipeline):
        n = int(row["n"])
        totals["total"] += n
        totals["bytes"] += int(row["bytes"] or 0)
        totals[f"by_status.{row['_id']}"] += n
    return totals
