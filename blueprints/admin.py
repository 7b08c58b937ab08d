"""Admin: statistics, the audit log and account interventions (every call is audited)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from shared.http.pipeline import ApiRequest, endpoint
from shared.http.routes import USER_ID
from shared.identity import Role

if TYPE_CHECKING:
    from shared.schemas.admin import AuditPage, Stats

bp = func.Blueprint()
TAGS = ["admin"]


@endpoint(
    bp,
    name="admin_stats",
    route="v1/admin/stats",
    method="GET",
    summary="Counts of users and uploads",
    tags=TAGS,
    role=Role.ADMIN,
    response="admin.Stats",
)
def stats(request: ApiRequest) -> Stats:
    """Users by role and activity; uploads by status, with total bytes."""
    from shared.services import admin

    return admin.stats()


@endpoint(
    bp,
    name="admin_audit_log",
    route="v1/admin/audit-log",
    method="GET",
    summary="The audit log",
    tags=TAGS,
    role=Role.ADMIN,
    query="admin.AuditQuery",
    response="admin.AuditPage",
)
def audit_log(request: ApiRequest) -> AuditPage:
    """Newest first; filter by action, actor_id and since (ISO 8601)."""
    from shared.services import admin

    return admin.audit_log(request.query)


@endpoint(
    bp,
    name="admin_revoke_sessions",
    route=f"v1/admin/users/{USER_ID}/revoke-sessions",
    method="POST",
    summary="End every session of a user",
    tags=TAGS,
    status=204,
    role=Role.ADMIN,
    errors_=[404],
)
def revoke_sessions(request: ApiRequest) -> None:
    """Every access and refresh token of the user stops working."""
    from shared.services import admin

    admin.revoke_sessions(request.route_params["user_id"])


@endpoint(
    bp,
    name="admin_unlock",
    route=f"v1/admin/users/{USER_ID}/unlock",
    method="POST",
    summary="Clear a user's login-failure lock",
    tags=TAGS,
    status=204,
    role=Role.ADMIN,
    errors_=[404],
)
def unlock(request: ApiRequest) -> None:
    """The user may sign in again at once."""
    from shared.services import admin

    admin.unlock(request.route_params["user_id"])
