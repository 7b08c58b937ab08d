"""Named accessors for every collection, so no module spells a collection name twice.

Each accessor is typed with its collection's record (shared.db.records), so what the
repositories read back has a shape. The client hands out untyped collections (a
TypedDict cannot be pymongo's document class), hence the one cast per accessor.
"""

from __future__ import annotations

from typing import cast

from pymongo.collection import Collection

from shared.db.client import get_collection
from shared.db.names import (  # noqa: F401 - re-exported: callers name collections here
    AUDIT_LOG,
    COUNTERS,
    LOCKS,
    LOGIN_THROTTLE,
    MIGRATIONS,
    PASSWORD_RESETS,
    RATE_LIMITS,
    REFRESH_TOKENS,
    UPLOADS,
    USERS,
    Document,
)
from shared.db.records import (
    AuditRecord,
    LockRecord,
    LoginThrottleRecord,
    PasswordResetRecord,
    RateLimitRecord,
    RefreshTokenRecord,
    TotalsRecord,
    UploadRecord,
    UserRecord,
)


def collection(name: str) -> Collection[Document]:
    """The collection called ``name`` in the application database."""
    return get_collection(name)


def rate_limits() -> Collection[RateLimitRecord]:
    return cast("Collection[RateLimitRecord]", collection(RATE_LIMITS))


def users() -> Collection[UserRecord]:
    return cast("Collection[UserRecord]", collection(USERS))


def refresh_tokens() -> Collection[RefreshTokenRecord]:
    return cast("Collection[RefreshTokenRecord]", collection(REFRESH_TOKENS))


def password_resets() -> Collection[PasswordResetRecord]:
    return cast("Collection[PasswordResetRecord]", collection(PASSWORD_RESETS))


def login_throttle() -> Collection[LoginThrottleRecord]:
    return cast("Collection[LoginThrottleRecord]", collection(LOGIN_THROTTLE))


def audit_log() -> Collection[AuditRecord]:
    return cast("Collection[AuditRecord]", collection(AUDIT_LOG))


def uploads() -> Collection[UploadRecord]:
    return cast("Collection[UploadRecord]", collection(UPLOADS))


def locks() -> Collection[LockRecord]:
    return cast("Collection[LockRecord]", collection(LOCKS))


def counters() -> Collection[TotalsRecord]:
    return cast("Collection[TotalsRecord]", collection(COUNTERS))
