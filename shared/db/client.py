"""One MongoClient per process, created on first use and reused across invocations."""

from __future__ import annotations

import threading

from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database

from shared.db.names import Document

__all__ = [
    "EMBEDDED_SCHEME",
    "Document",  # re-exported: what get_collection holds (records: shared.db.records)
    "get_collection",
    "get_database",
    "ping_database",
    "reset_database_client",
]

EMBEDDED_SCHEME = "mongomock://"

_lock = threading.Lock()
_client: MongoClient[Document] | None = None
_database: Database[Document] | None = None
_collections: dict[str, Collection[Document]] = {}


def _connect(url: str, timeout_ms: int) -> MongoClient[Document]:
    if url.startswith(EMBEDDED_SCHEME):
        # The embedded in-memory database for local runs and tests; loaded only here.
        from shared.db.embedded import embedded_client

        client: MongoClient[Document] = embedded_client()
        return client
    # Short timeouts turn an outage into a quick 503 instead of a hung invocation.
    return MongoClient(
        url,
        appname="runtime-traitors",
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 3, 10_000),
        retryWrites=True,
    )


def get_database() -> Database[Document]:
    """The application database; its indexes and migrations are applied once per process."""
    global _client, _database
    if _database is not None:
        return _database
    with _lock:
        if _database is None:
            from shared.config import get_settings
            from shared.db.migrations import migrate

            settings = get_settings()
            _client = _connect(settings.database_url, settings.DATABASE_TIMEOUT_MS)
            database = _client[settings.DATABASE_NAME]
            migrate(database)
            _database = database
    return _database


def get_collection(name: str) -> Collection[Document]:
    """A collection of the application database, built once per process."""
    found = _collections.get(name)
    if found is None:
        found = _collections[name] = get_database()[name]
    return found


def ping_database() -> None:
    """Round-trip to the server; raises a pymongo error when it is unreachable."""
    get_database().command("ping")


def reset_database_client() -> None:
    """Drop the cached client (tests switch databases between cases)."""
    global _client, _database
    with _lock:
        if _client is not None:
            _client.close()
        _client = None
        _database = None
        _collections.clear()
