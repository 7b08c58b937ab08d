"""Admin: statistics, the audit log and account interventions (every call is audited)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.http.api import HttpApi
from shared.http.pipeline import ApiRequest
from shared.http.routes import USER_ID
from shared.identity import Role

if TYPE_CHECKING:
    from shared.schemas.admin import AuditPage, AuditQuery, Stats

api = HttpApi(tags=["admin"])


@api.get(
    "v1/admin/stats", name="admin_stats", summary="Counts of users and uploads", min_role=Role.ADMIN
)
def stats(request: ApiRequest) -> Stats:
    """Users by role and activity; uploads by status, with total bytes."""
    from shared.services import admin

    return admin.stats()


@api.get("v1/admin/audit-log", name="admin_audit_log", summary="The audit log", min_role=Role.ADMIN)
def audit_log(request: ApiRequest, query: AuditQuery) -> AuditPage:
    """Newest first; filter by action, actor_id and since (ISO 8601)."""
    from shared.services import admin

    return admin.audit_log(query)


@api.post(
    f"v1/admin/users/{USER_ID}/revoke-sessions",
    name="admin_revoke_sessions",
    summary="End every session of a user",
    status=204,
    min_role=Role.ADMIN,
    errors=[404],
)
def revoke_sessions(request: ApiRequest) -> None:
    """Every access and refresh token of the user stops working."""
    from shared.services import admin

    admin.revoke_sessions(request.route_params["user_id"])


@api.post(
    f"v1/admin/users/{USER_ID}/unlock",
    name="admin_unlock",
    summary="Clear a user's login-failure lock",
    status=204,
    min_role=Role.ADMIN,
    errors=[404],
)
def unlock(request: ApiRequest) -> None:
    """The user may sign in again at once."""
    from shared.services import admin

    admin.unlock(request.route_params["user_id"])


bp = api.blueprint()
