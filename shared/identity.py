"""Who is acting: roles, the authenticated principal and the caller of a service.

The lowest layer of the app: HTTP, services and schemas all speak of the caller,
so its types live below every one of them and import nothing of the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """Roles in ascending order of power: guest < user < admin."""

    GUEST = "guest"
    USER = "user"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, required: Role) -> bool:
        """True when this role is at least as powerful as ``required``."""
        return self.rank >= required.rank


_RANKS = {Role.GUEST: 0, Role.USER: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller, loaded once per request by the pipeline."""

    user_id: str
    role: Role
    token_id: str
    session_id: str | None
    token_expires_at: datetime
    user: dict[str, Any] = field(repr=False, compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True)
class Caller:
    """The origin of an action, for the audit log and throttles."""

    ip: str | None
    request_id: str | None
    user_id: str | None = None


SYSTEM = Caller(ip=None, request_id=None, user_id=None)
