"""Administration responses and filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.schemas.base import Page, QueryModel, ResponseModel
from shared.schemas.fields import Cursor, FilterText, Instant, ObjectIdText, PageLimit


class UserStats(ResponseModel):
    total: int
    active: int
    by_role: dict[str, int]


class UploadStats(ResponseModel):
    total: int
    bytes: int
    by_status: dict[str, int]


class Stats(ResponseModel):
    users: UserStats
    uploads: UploadStats


class AuditEvent(ResponseModel):
    id: str
    at: datetime
    action: str
    actor_id: str | None
    target_id: str | None
    ip: str | None
    request_id: str | None
    details: dict[str, Any]


AuditPage = Page[AuditEvent]


class AuditQuery(QueryModel):
    limit: PageLimit = 20
    cursor: Cursor | None = None
    action: FilterText | None = None
    actor_id: ObjectIdText | None = None
    since: Instant | None = None
