"""Versioned, idempotent schema migrations, recorded in the ``migrations`` collection.

Every step may run more than once (two instances starting together, a crash between
the step and its record), so each one only creates indexes or rewrites documents
in ways that are safe to repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from shared.db import derived, names
from shared.db.names import Document
from shared.security.emails import lookup_email

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Database[Document]], None]


def _rate_limit_expiry(db: Database[Document]) -> None:
    db[names.RATE_LIMITS].create_index("expires_at", expireAfterSeconds=0)


def _identity_indexes(db: Database[Document]) -> None:
    users = db[names.USERS]
    users.create_index("email", unique=True)
    users.create_index([("role", ASCENDING), ("_id", DESCENDING)])
    users.create_index([("is_active", ASCENDING), ("_id", DESCENDING)])
    users.create_index("full_name_lower")
    refresh = db[names.REFRESH_TOKENS]
    refresh.create_index("token_hash", unique=True)
    refresh.create_index("family_id")
    refresh.create_index("user_id")
    refresh.create_index("expires_at", expireAfterSeconds=0)
    resets = db[names.PASSWORD_RESETS]
    resets.create_index("token_hash", unique=True)
    resets.create_index("expires_at", expireAfterSeconds=0)
    db[names.LOGIN_THROTTLE].create_index("expires_at", expireAfterSeconds=0)
    audit = db[names.AUDIT_LOG]
    audit.create_index([("action", ASCENDING), ("_id", DESCENDING)])
    audit.create_index([("actor_id", ASCENDING), ("_id", DESCENDING)])
    audit.create_index([("at", DESCENDING)])


def _upload_indexes(db: Database[Document]) -> None:
    uploads = db[names.UPLOADS]
    uploads.create_index([("owner_id", ASCENDING), ("_id", DESCENDING)])
    uploads.create_index([("owner_id", ASCENDING), ("status", ASCENDING), ("_id", DESCENDING)])
    uploads.create_index([("status", ASCENDING), ("_id", DESCENDING)])


def _canonical_emails(db: Database[Document]) -> None:
    """Rewrite stored addresses to the canonical form (IDNA ASCII domain).

    An address whose canonical form another account already holds is left as it was
    and logged: two accounts claim one mailbox, and only an operator can decide which
    one keeps it. Until then the other can still sign in with its stored form.
    """
    users = db[names.USERS]
    for doc in users.find({}, {"email": 1}):
        stored = doc.get("email")
        if not isinstance(stored, str):
            continue
        canonical = lookup_email(stored)
        if canonical == stored:
            continue
        try:
            users.update_one({"_id": doc["_id"], "email": stored}, {"$set": {"email": canonical}})
        except DuplicateKeyError:
            logger.warning(
                "user %s keeps its stored email: another account has its canonical form",
                doc["_id"],
            )


def _indexed_queries_and_totals(db: Database[Document]) -> None:
    """Indexes for user search, reset clean-up and upload maintenance; dashboard totals."""
    user_collection = db[names.USERS]
    user_collection.create_index([("search_keys", ASCENDING), ("_id", DESCENDING)])
    for user in user_collection.find({"search_keys": {"$exists": False}}, _SEARCH_SOURCE):
        keys = derived.search_keys(user["email"], user.get("full_name_lower"))
        user_collection.update_one({"_id": user["_id"]}, {"$set": {"search_keys": keys}})
    db[names.PASSWORD_RESETS].create_index("user_id")
    # The maintenance job's scans: one status, oldest first by the time it ages on.
    uploads = db[names.UPLOADS]
    for aging in ("created_at", "updated_at", "processed_at"):
        uploads.create_index([("status", ASCENDING), (aging, ASCENDING)])
    totals = db[names.COUNTERS]
    totals.replace_one(
        {"_id": derived.USER_TOTALS}, derived.recount_users(user_collection), upsert=True
    )
    totals.replace_one(
        {"_id": derived.UPLOAD_TOTALS}, derived.recount_uploads(db[names.UPLOADS]), upsert=True
    )


_SEARCH_SOURCE = {"email": 1, "full_name_lower": 1}

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "rate-limit counters expire by TTL", _rate_limit_expiry),
    Migration(2, "identity indexes: users, tokens, resets, audit log", _identity_indexes),
    Migration(3, "upload indexes", _upload_indexes),
    Migration(4, "canonical email addresses (IDNA ASCII domains)", _canonical_emails),
    # After 4: search keys are derived from the canonical addresses.
    Migration(
        5,
        "user search keys; reset and maintenance indexes; dashboard totals",
        _indexed_queries_and_totals,
    ),
)


def applied_versions(db: Database[Document]) -> set[int]:
    """Versions already recorded as applied."""
    return {int(doc["_id"]) for doc in db[names.MIGRATIONS].find({}, {"_id": 1})}


def migrate(db: Database[Document]) -> list[int]:
    """Apply every migration not yet recorded, in order; returns the versions applied now."""
    done = applied_versions(db)
    applied: list[int] = []
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        if migration.version in done:
            continue
        migration.apply(db)
        try:
            db[names.MIGRATIONS].insert_one(
                {
                    "_id": migration.version,
                    "description": migration.description,
                    "applied_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            continue  # another instance recorded it first; the step itself is idempotent
        logger.info("applied migration %s: %s", migration.version, migration.description)
        applied.append(migration.version)
    return applied
