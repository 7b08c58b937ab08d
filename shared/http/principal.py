"""Who is calling: roles and the authenticated principal."""

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
