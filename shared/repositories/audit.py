"""The append-only audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from shared import clock
from shared.db import collections
from shared.db.records import AuditRecord
from shared.repositories.pages import DocumentPage, find_page


def insert_event(
    *,
    action: str,
    actor_id: str | None,
    target_id: str | None,
    ip: str | None,
    request_id: str | None,
    details: dict[str, Any],
) -> None:
    at = clock.now()
    collections.audit_log().insert_one(
        {
            "_id": id_at(at),
            "at": at,
            "action": action,
            "actor_id": actor_id,
            "target_id": target_id,
            "ip": ip,
            "request_id": request_id,
            "details": details,
        }
    )


def id_at(at: datetime) -> ObjectId:
    """A fresh ObjectId whose time is ``at``: the log's _id order is then its time order."""
    return ObjectId(_seconds(at).to_bytes(4, "big") + ObjectId().binary[4:])


def _seconds(at: datetime) -> int:
    """``at`` in whole seconds, within what an ObjectId can hold (any date is a valid filter)."""
    moment = at if at.tzinfo else at.replace(tzinfo=UTC)
    return min(max(int(moment.timestamp()), 0), 2**32 - 1)


def list_events(
    *,
    limit: int,
    cursor: str | None,
    action: str | None = None,
    actor_id: str | None = None,
    since: datetime | None = None,
) -> DocumentPage[AuditRecord]:
    query: dict[str, Any] = {}
    if action is not None:
        query["action"] = action
    if actor_id is not None:
        query["actor_id"] = actor_id
    if since is not None:
        # The _id bound (to the second) lets the _id-ordered indexes serve the range;
        # ``at`` keeps it exact to the millisecond.
        query["_id"] = {"$gte": ObjectId(_seconds(since).to_bytes(4, "big") + bytes(8))}
        query["at"] = {"$gte": since}
    return find_page(collections.audit_log(), query, limit=limit, cursor=cursor)
