"""The audit trail: who did what to whom, from where. Never secrets."""

from __future__ import annotations

import logging
from typing import Any

from shared.identity import Caller
from shared.repositories import audit as audit_repository

logger = logging.getLogger(__name__)

# Keys that must never reach the audit log even if a caller passes them by mistake.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"password", "new_password", "current_password", "token", "refresh_token", "otp", "secret"}
)


def record(
    action: str,
    *,
    caller: Caller,
    target_id: str | None = None,
    actor_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event; the actor defaults to the signed-in caller."""
    safe_details = {k: v for k, v in (details or {}).items() if k not in _FORBIDDEN_DETAIL_KEYS}
    audit_repository.insert_event(
        action=action,
        actor_id=actor_id if actor_id is not None else caller.user_id,
        target_id=target_id,
        ip=caller.ip,
        request_id=caller.request_id,
        details=safe_details,
    )
