"""Administration: statistics, the audit log, and interventions on accounts."""

from __future__ import annotations

from shared.errors import NotFound
from shared.repositories import audit as audit_repository
from shared.repositories import login_throttle, users
from shared.repositories.ids import parse_id
from shared.schemas.admin import AuditEvent, AuditPage, AuditQuery, Stats, UploadStats, UserStats
from shared.services import sessions


def stats() -> Stats:
    """Dashboard totals: maintained counters, one read whatever the collection sizes."""
    from shared.repositories import counters, uploads

    totals = counters.read()
    return Stats(
        users=UserStats(**users.stats(totals.get(counters.USERS))),
        uploads=UploadStats(**uploads.stats(totals.get(counters.UPLOADS))),
    )


def audit_log(query: AuditQuery) -> AuditPage:
    page = audit_repository.list_events(
        limit=query.limit,
        cursor=query.cursor,
        action=query.action,
        actor_id=query.actor_id,
        since=query.since,
    )
    return AuditPage(
        items=[
            AuditEvent(
                id=str(doc["_id"]),
                at=doc["at"],
                action=doc["action"],
                actor_id=doc["actor_id"],
                target_id=doc["target_id"],
                ip=doc["ip"],
                request_id=doc["request_id"],
                details=doc["details"] or {},
            )
            for doc in page.documents
        ],
        next_cursor=page.next_cursor,
    )


def revoke_sessions(user_id: str) -> None:
    """End every session of the user now."""
    oid = parse_id(user_id)
    if oid is None or users.find_by_id(oid) is None:
        raise NotFound("No user with this id")
    sessions.revoke_all(oid)


def unlock(user_id: str) -> None:
    """Clear the login-failure throttle of the user's email."""
    user = users.find_by_id(user_id)
    if user is None:
        raise NotFound("No user with this id")
    login_throttle.clear(user["email"])
