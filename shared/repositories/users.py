"""All access to the ``users`` collection."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Final

from bson import ObjectId
from pymongo import ReturnDocument

from shared import clock
from shared.db import collections
from shared.db.derived import SEARCH_PREFIX_MAX, search_keys
from shared.db.records import AdmittedUser, TotalsRecord, UserRecord
from shared.repositories import counters
from shared.repositories.ids import parse_id
from shared.repositories.pages import DocumentPage, find_page

_COUNTED = {"role": 1, "is_active": 1}


def insert_user(*, email: str, password_hash: str, full_name: str | None, role: str) -> UserRecord:
    """Create a user; raises DuplicateKeyError when the normalised email exists."""
    now = clock.now()
    name_lower = full_name.casefold() if full_name else None
    document: UserRecord = {
        # The id pymongo would otherwise add on insert, named here so the record is whole.
        "_id": ObjectId(),
        "email": email,
        "full_name": full_name,
        "full_name_lower": name_lower,
        "search_keys": search_keys(email, name_lower),
        "role": role,
        "is_active": True,
        "password_hash": password_hash,
        "mfa": {"enabled": False},
        "tokens_valid_after": None,
        "spared_session_id": None,
        "revoked_access": [],
        "created_at": now,
        "updated_at": now,
    }
    collections.users().insert_one(document)
    counters.add(counters.USERS, counters.user_share(None), counters.user_share(document))
    return document


def find_by_id(user_id: str | ObjectId) -> UserRecord | None:
    oid = user_id if isinstance(user_id, ObjectId) else parse_id(user_id)
    if oid is None:
        return None
    return collections.users().find_one({"_id": oid})


def find_by_email(email: str) -> UserRecord | None:
    return collections.users().find_one({"email": email})


# What request handlers may read of the caller (the profile and second-factor state);
# the password hash, the revocation list and the search keys stay in the database.
_ADMITTED_PROJECTION = dict.fromkeys(
    ("email", "full_name", "role", "is_active", "mfa", "created_at", "updated_at", "rate"), 1
)


def admit_access_token(
    *,
    user_id: str,
    token_id: str,
    session_id: str | None,
    issued_at: datetime,
    window: int | None = None,
    limit: int = 0,
) -> AdmittedUser | None:
    """The active user behind a live access token, counting the request in one round trip.

    The filter is the whole revocation check: the account is active, neither this token
    nor its session was logged out, and the token is not older than a revoke-all (unless
    its session is the one spared). When ``window`` is given, the same update counts the
    request in the user's fixed window: a new window starts at 1, and the count stops at
    ``limit + 1``, so a refused request never pushes it further. The returned document
    carries ``rate.n``; above ``limit`` means refused. None when the token is not
    (or no longer) valid, in which case nothing was counted.
    """
    oid = parse_id(user_id)
    if oid is None:
        return None
    query: dict[str, Any] = {
        "_id": oid,
        "is_active": True,
        "revoked_access.jti": {"$ne": token_id},
    }
    # Stored times have millisecond precision and the token's iat has microseconds:
    # rounding iat up keeps "cut-off < iat" exact (a token minted later in the very
    # millisecond of a revoke-all stays valid, one minted at it does not).
    issued = _ceil_to_millisecond(issued_at)
    live = [{"tokens_valid_after": None}, {"tokens_valid_after": {"$lt": issued}}]
    if session_id is not None:
        query["revoked_access.sid"] = {"$ne": session_id}
        live.append({"spared_session_id": session_id})
    query["$or"] = live
    if window is None:
        return collections.users().find_one(query, _ADMITTED_PROJECTION)
    # An update pipeline decides the rollover inside the one atomic write.
    count = {
        "$cond": [
            {"$eq": ["$rate.w", window]},
            {"$min": [{"$add": ["$rate.n", 1]}, limit + 1]},
            1,
        ]
    }
    # The pre-image is enough to know the new count (the update is deterministic), and
    # spares the embedded database a second lookup.
    before = collections.users().find_one_and_update(
        query, [{"$set": {"rate": {"w": window, "n": count}}}], _ADMITTED_PROJECTION
    )
    if before is not None:
        rate = before.get("rate")
        seen = int(rate["n"]) if rate and rate.get("w") == window else 0
        before["rate"] = {"w": window, "n": min(seen + 1, limit + 1)}
    return before


def _ceil_to_millisecond(moment: datetime) -> datetime:
    extra = moment.microsecond % 1000
    return moment + timedelta(microseconds=1000 - extra) if extra else moment


def update_user(user_id: ObjectId, changes: dict[str, Any]) -> UserRecord | None:
    """Apply ``$set`` changes (plus updated_at) and return the new document."""
    changes = {**changes, "updated_at": clock.now()}
    users = collections.users()
    if "full_name" in changes:
        name = changes["full_name"]
        changes["full_name_lower"] = name.casefold() if name else None
        # The email never changes after sign-up, so reading it first cannot go stale.
        current = users.find_one({"_id": user_id}, {"email": 1})
        if current is None:
            return None
        changes["search_keys"] = search_keys(current["email"], changes["full_name_lower"])
    if "role" not in changes and "is_active" not in changes:
        return users.find_one_and_update(
            {"_id": user_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
    # The pre-image says exactly which transition this write made, for the totals.
    before = users.find_one_and_update(
        {"_id": user_id}, {"$set": changes}, return_document=ReturnDocument.BEFORE
    )
    if before is None:
        return None
    after = counters.applied(before, changes)
    counters.add(counters.USERS, counters.user_share(before), counters.user_share(after))
    return after


def revoke_access(
    *,
    user_id: ObjectId,
    until: datetime,
    token_id: str | None = None,
    session_id: str | None = None,
) -> None:
    """Deny one access token, or every access token of a session, until ``until``.

    ``until`` is when the denied tokens stop verifying anyway; older entries are pruned.
    """
    entry: dict[str, Any] = {"exp": until}
    if session_id is not None:
        entry["sid"] = session_id
    elif token_id is not None:
        entry["jti"] = token_id
    else:
        raise ValueError("name the token or the session to revoke")
    users = collections.users()
    users.update_one({"_id": user_id}, {"$pull": {"revoked_access": {"exp": {"$lt": clock.now()}}}})
    users.update_one({"_id": user_id}, {"$push": {"revoked_access": entry}})


def invalidate_tokens(
    user_id: ObjectId, *, at: datetime | None = None, spare_session: str | None = None
) -> None:
    """Every token issued before ``at`` (default now) stops working, but ``spare_session``'s."""
    at = at or clock.now()
    collections.users().update_one(
        {"_id": user_id},
        {
            "$set": {
                "tokens_valid_after": at,
                "spared_session_id": spare_session,
                "revoked_access": [],
            }
        },
    )


def delete_user(user_id: ObjectId) -> bool:
    removed = collections.users().find_one_and_delete({"_id": user_id}, _COUNTED)
    if removed is None:
        return False
    counters.add(counters.USERS, counters.user_share(removed), counters.user_share(None))
    return True


def list_users(
    *,
    limit: int,
    cursor: str | None,
    prefix: str | None = None,
    role: str | None = None,
    is_active: bool | None = None,
) -> DocumentPage[UserRecord]:
    """Users newest first; ``prefix`` matches the start of the email or the name.

    ``prefix`` is already a normalised email prefix; the name is matched case-folded.
    """
    query: dict[str, Any] = {}
    if role is not None:
        query["role"] = role
    if is_active is not None:
        query["is_active"] = is_active
    if prefix:
        name_prefix = prefix.casefold()
        keys = [f"e:{prefix[:SEARCH_PREFIX_MAX]}", f"n:{name_prefix[:SEARCH_PREFIX_MAX]}"]
        query["search_keys"] = {"$in": keys}
        if len(prefix) > SEARCH_PREFIX_MAX:
            # The index narrows to the first characters; the rest is checked on fetch.
            query["$or"] = [
                {"email": {"$regex": "^" + re.escape(prefix)}},
                {"full_name_lower": {"$regex": "^" + re.escape(name_prefix)}},
            ]
    return find_page(collections.users(), query, limit=limit, cursor=cursor)


def count_active_admins() -> int:
    return collections.users().count_documents({"role": "admin", "is_active": True})


def set_active(user_id: ObjectId, is_active: bool) -> None:
    """Flip the account's active flag (no other change, no updated_at)."""
    # Matching only a real flip means a concurrent flip is never counted twice.
    before = collections.users().find_one_and_update(
        {"_id": user_id, "is_active": {"$ne": is_active}},
        {"$set": {"is_active": is_active}},
        _COUNTED,
    )
    if before is not None:
        after: UserRecord = {**before, "is_active": is_active}
        counters.add(counters.USERS, counters.user_share(before), counters.user_share(after))


def stats(totals: TotalsRecord | None) -> dict[str, Any]:
    """The user figures of the dashboard, from the maintained totals."""
    totals = totals or {"_id": counters.USERS}  # none counted yet
    by_role = dict.fromkeys(counters.ROLES, 0)
    by_role.update({role: int(n) for role, n in (totals.get("by_role") or {}).items()})
    return {
        "total": int(totals.get("total", 0)),
        "active": int(totals.get("active", 0)),
        "by_role": by_role,
    }


def claim_totp_step(user_id: ObjectId, step: int) -> bool:
    """Record a used TOTP step unless an equal or later one was used (replay guard)."""
    claimed = collections.users().find_one_and_update(
        {"_id": user_id, "$or": [{"mfa.last_step": {"$lt": step}}, {"mfa.last_step": None}]},
        {"$set": {"mfa.last_step": step}},
    )
    return claimed is not None


def consume_recovery_code(user_id: ObjectId, code_hash: str) -> bool:
    """Spend one recovery code; False when it is not (or no longer) among the user's."""
    result = collections.users().update_one(
        {"_id": user_id, "mfa.recovery_codes": code_hash},
        {"$pull": {"mfa.recovery_codes": code_hash}},
    )
    return result.modified_count == 1


# Bytes kept in quarantine for an owner's blobs that no upload record accounts for: an
# upload URL outlived its record (deleted while pending) and was used. They count against
# the owner's quota like any quarantined bytes until the maintenance job purges them.
ORPHAN_QUARANTINED_BYTES: Final = "orphan_quarantined_bytes"


def hold_orphan_bytes(user_id: str, size: int) -> bool:
    """Count ``size`` quarantined bytes against the user; False when there is no such user."""
    oid = parse_id(user_id)
    if oid is None or size <= 0:
        return False
    result = collections.users().update_one(
        {"_id": oid}, {"$inc": {ORPHAN_QUARANTINED_BYTES: size}}
    )
    return result.matched_count == 1


def release_orphan_bytes(user_id: str, size: int) -> None:
    """Purged orphan bytes stop counting (never below zero)."""
    oid = parse_id(user_id)
    if oid is None or size <= 0:
        return
    collections.users().update_one(
        {"_id": oid, ORPHAN_QUARANTINED_BYTES: {"$gte": size}},
        {"$inc": {ORPHAN_QUARANTINED_BYTES: -size}},
    )


def orphan_bytes(user_id: str) -> int:
    """Quarantined bytes held for the user outside any upload record."""
    oid = parse_id(user_id)
    if oid is None:
        return 0
    found = collections.users().find_one({"_id": oid}, {ORPHAN_QUARANTINED_BYTES: 1})
    return int(found.get(ORPHAN_QUARANTINED_BYTES) or 0) if found else 0
