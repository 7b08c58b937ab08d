"""Who is acting: roles, the authenticated principal and the caller of a service.

The lowest layer of the app: HTTP, services and schemas all speak of the caller,
so its types live below every one of them and import nothing of the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, NotRequired, TypedDict

if TYPE_CHECKING:
    from bson import ObjectId


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


# The stored shape of what the pipeline loads of the caller. It lives here, not with the
# other records in shared.db.records, because Principal carries it and this layer may not
# import the database layer; shared.db.records.UserRecord extends it with the rest.


class MfaState(TypedDict):
    """A user's ``mfa`` sub-document: off, set up (pending), or on with its codes."""

    enabled: bool
    pending_secret: NotRequired[str]  # encrypted; between setup and enable only
    secret: NotRequired[str]  # encrypted; while enabled
    last_step: NotRequired[int]  # the last TOTP step used (replay guard)
    recovery_codes: NotRequired[list[str]]  # hashes of the unused codes


class RateWindow(TypedDict):
    """The user's request count ``n`` in the fixed rate-limit window ``w``."""

    w: int
    n: int


class AdmittedUser(TypedDict):
    """The caller's user document as admitted (the projection handlers may read)."""

    _id: ObjectId
    email: str
    full_name: str | None
    role: str
    is_active: bool
    mfa: MfaState
    created_at: datetime
    updated_at: datetime
    rate: NotRequired[RateWindow]  # only once a request was counted for the user


@dataclass(frozen=True)
class Principal:
    """An authenticated caller, loaded once per request by the pipeline."""

    user_id: str
    role: Role
    token_id: str
    session_id: str | None
    token_expires_at: datetime
    user: AdmittedUser = field(repr=False, compare=False)

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
