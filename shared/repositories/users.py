"""All access to the ``users`` collection."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from shared import clock
from shared.db import collections
from shared.db.client import Document
from shared.repositories.ids import parse_id
from shared.repositories.pages import DocumentPage, find_page


def insert_user(*, email: str, password_hash: str, full_name: str | None, role: str) -> Document:
    """Create a user; raises DuplicateKeyError when the normalised email exists."""
    now = clock.now()
    document: Document = {
        "email": email,
        "full_name": full_name,
        "full_name_lower": full_name.casefold() if full_name else None,
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
    result = collections.users().insert_one(document)
    document["_id"] = result.inserted_id
    return document


def find_by_id(user_id: str | ObjectId) -> Document | None:
    oid = user_id if isinstance(user_id, ObjectId) else parse_id(user_id)
    if oid is None:
        return None
    return collections.users().find_one({"_id": oid})


def find_by_email(email: str) -> Document | None:
    return collections.users().find_one({"email": email})


def find_for_access_token(
    *, user_id: str, token_id: str, session_id: str | None
) -> Document | None:
    """The user behind an access token, unless the token or its session was logged out.

    One round trip: the denial list lives in the user document itself.
    """
    oid = parse_id(user_id)
    user = collections.users().find_one({"_id": oid}) if oid is not None else None
    if user is None:
        return None
    # Checked here rather than in the query: a plain _id lookup is the cheapest read.
    for entry in user.get("revoked_access", ()):
        if entry.get("jti") == token_id or (session_id and entry.get("sid") == session_id):
            return None
    return user


def update_user(user_id: ObjectId, changes: dict[str, Any]) -> Document | None:
    """Apply ``$set`` changes (plus updated_at) and return the new document."""
    changes = {**changes, "updated_at": clock.now()}
    if "full_name" in changes:
        name = changes["full_name"]
        changes["full_name_lower"] = name.casefold() if name else None
    return collections.users().find_one_and_update(
        {"_id": user_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
    )


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
    return collections.users().delete_one({"_id": user_id}).deleted_count == 1


def list_users(
    *,
    limit: int,
    cursor: str | None,
    prefix: str | None = None,
    role: str | None = None,
    is_active: bool | None = None,
) -> DocumentPage:
    """Users newest first; ``prefix`` matches the start of the email or the name."""
    query: dict[str, Any] = {}
    if role is not None:
        query["role"] = role
    if is_active is not None:
        query["is_active"] = is_active
    if prefix:
        # Anchored, escaped prefixes can use the email and name indexes.
        pattern = "^" + re.escape(prefix)
        query["$or"] = [
            {"email": {"$regex": pattern}},
            {"full_name_lower": {"$regex": "^" + re.escape(prefix.casefold())}},
        ]
    return find_page(collections.users(), query, limit=limit, cursor=cursor)


def count_active_admins() -> int:
    return collections.users().count_documents({"role": "admin", "is_active": True})


def set_active(user_id: ObjectId, is_active: bool) -> None:
    """Flip the account's active flag (no other change, no updated_at)."""
    collections.users().update_one({"_id": user_id}, {"$set": {"is_active": is_active}})


def stats() -> dict[str, Any]:
    """Totals for the admin dashboard, in one aggregation."""
    pipeline: list[dict[str, Any]] = [
        {"$group": {"_id": {"role": "$role", "active": "$is_active"}, "count": {"$sum": 1}}}
    ]
    total, active, by_role = 0, 0, {"guest": 0, "user": 0, "admin": 0}
    for row in collections.users().aggregate(pipeline):
        count = int(row["count"])
        total += count
        if row["_id"]["active"]:
            active += count
        by_role[row["_id"]["role"]] = by_role.get(row["_id"]["role"], 0) + count
    return {"total": total, "active": active, "by_role": by_role}


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
