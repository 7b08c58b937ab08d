"""Named accessors for every collection, so no module spells a collection name twice."""

from __future__ import annotations

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


def collection(name: str) -> Collection[Document]:
    """The collection called ``name`` in the application database."""
    return get_collection(name)


def rate_limits() -> Collection[Document]:
    return collection(RATE_LIMITS)


def users() -> Collection[Document]:
    return collection(USERS)


def refresh_tokens() -> Collection[Document]:
    return collection(REFRESH_TOKENS)


def password_resets() -> Collection[Document]:
    return collection(PASSWORD_RESETS)


def login_throttle() -> Collection[Document]:
    return collection(LOGIN_THROTTLE)


def audit_log() -> Collection[Document]:
    return collection(AUDIT_LOG)


def uploads() -> Collection[Document]:
    return collection(UPLOADS)


def locks() -> Collection[Document]:
    return collection(LOCKS)


def counters() -> Collection[Document]:
    return collection(COUNTERS)
