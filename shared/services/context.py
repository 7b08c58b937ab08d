"""What services know about the request that called them (never the HTTP request itself)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """The origin of an action, for the audit log and throttles."""

    ip: str | None
    request_id: str | None
    user_id: str | None = None


SYSTEM = Caller(ip=None, request_id=None, user_id=None)
