"""Single-use password-reset tokens, stored only as hashes."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ReturnDocument

from shared import clock
from shared.db import collections
from shared.db.records import PasswordResetRecord


def insert(
    *, token_hash: str, user_id: ObjectId, password_fingerprint: str, expires_at: datetime
) -> None:
    """Store a reset token bound to the account and to the password it was issued against."""
    collections.password_resets().insert_one(
        {
            "_id": ObjectId(),  # what pymongo would add on insert, named for the record type
            "token_hash": token_hash,
            "user_id": user_id,
            "password_fingerprint": password_fingerprint,
            "created_at": clock.now(),
            "expires_at": expires_at,
            "used_at": None,
        }
    )


def find_usable(token_hash: str) -> PasswordResetRecord | None:
    return collections.password_resets().find_one(
        {"token_hash": token_hash, "used_at": None, "expires_at": {"$gt": clock.now()}}
    )


def consume(token_hash: str) -> PasswordResetRecord | None:
    """Mark a usable token used, atomically: of two concurrent resets only one wins."""
    now = clock.now()
    return collections.password_resets().find_one_and_update(
        {"token_hash": token_hash, "used_at": None, "expires_at": {"$gt": now}},
        {"$set": {"used_at": now}},
        return_document=ReturnDocument.AFTER,
    )


def delete_for_user(user_id: ObjectId) -> None:
    collections.password_resets().delete_many({"user_id": user_id})
