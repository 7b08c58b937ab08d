"""The append-only audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared import clock
from shared.db import collections
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
    collections.audit_log().insert_one(
        {
            "at": clock.now(),
            "action": action,
            "actor_id": actor_id,
            "target_id": target_id,
            "ip": ip,
            "request_id": request_id,
            "details": details,
        }
    )


def list_events(
    *,
    limit: int,
    cursor: str | None,
    action: str | None = None,
    actor_id: str | None = None,
    since: datetime | None = None,
) -> DocumentPage:
    query: dict[str, Any] = {}
    if action is not None:
        query["action"] = action
    if actor_id is not None:
        query["actor_id"] = actor_id
    if since is not None:
        query["at"] = {"$gte": since}
    return find_page(collections.audit_log(), query, limit=limit, cursor=cursor)
