"""Refresh tokens, stored only as SHA-256 hashes and grouped into rotation families."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ReturnDocument

from shared import clock
from shared.db import collections
from shared.db.records import RefreshTokenRecord


def insert(
    *,
    token_hash: str,
    user_id: ObjectId,
    family_id: str,
    expires_at: datetime,
    family_expires_at: datetime,
) -> None:
    collections.refresh_tokens().insert_one(
        {
            "_id": ObjectId(),  # what pymongo would add on insert, named for the record type
            "token_hash": token_hash,
            "user_id": user_id,
            "family_id": family_id,
            "created_at": clock.now(),
            "expires_at": expires_at,
            "family_expires_at": family_expires_at,
            "used_at": None,
            "revoked_at": None,
        }
    )


def consume(token_hash: str) -> RefreshTokenRecord | None:
    """Atomically mark an unused, unrevoked, unexpired token used; None when it is not."""
    now = clock.now()
    return collections.refresh_tokens().find_one_and_update(
        {"token_hash": token_hash, "used_at": None, "revoked_at": None, "expires_at": {"$gt": now}},
        {"$set": {"used_at": now}},
        return_document=ReturnDocument.AFTER,
    )


def find(token_hash: str) -> RefreshTokenRecord | None:
    return collections.refresh_tokens().find_one({"token_hash": token_hash})


def revoke_family(family_id: str) -> int:
    result = collections.refresh_tokens().update_many(
        {"family_id": family_id, "revoked_at": None}, {"$set": {"revoked_at": clock.now()}}
    )
    return result.modified_count


def revoke_user(user_id: ObjectId, *, keep_family: str | None = None) -> int:
    """Revoke every family of the user, optionally sparing the caller's own session."""
    query: dict[str, object] = {"user_id": user_id, "revoked_at": None}
    if keep_family is not None:
        query["family_id"] = {"$ne": keep_family}
    result = collections.refresh_tokens().update_many(query, {"$set": {"revoked_at": clock.now()}})
    return result.modified_count


def delete_for_user(user_id: ObjectId) -> None:
    collections.refresh_tokens().delete_many({"user_id": user_id})
