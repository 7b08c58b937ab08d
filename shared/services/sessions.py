"""Access-token checks for the pipeline, and the sessions (refresh families) behind them.

An authenticated request costs one database round trip: :func:`admit` counts it in the
user's rate-limit window with the same conditional update that checks the token was not
revoked and returns the user.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from bson import ObjectId

from shared import clock
from shared.config import get_settings
from shared.db.records import UserRecord
from shared.errors import Unauthorized
from shared.identity import Principal, Role
from shared.repositories import refresh_tokens, users
from shared.schemas.auth import Tokens
from shared.security import tokens
from shared.security.tokens import AccessClaims

# Bounded, so a clock that stands still (or a far-future cut-off) cannot hang a login.
_CUTOFF_WAIT_ATTEMPTS = 5


def verify_access_token(token: str) -> AccessClaims:
    """Check signature and claims without the database; 401 on anything wrong."""
    try:
        return tokens.decode_access_token(token)
    except tokens.InvalidTokenError:
        raise Unauthorized("The access token is invalid or expired", code="invalid_token") from None


@dataclass(frozen=True)
class Admission:
    """Who is calling, and their request count in the window (None when not counted)."""

    principal: Principal
    count: int | None


def admit(claims: AccessClaims, *, window: int | None, limit: int = 0) -> Admission:
    """The caller behind verified claims, counted in their per-user ``window``.

    401 when the token was revoked or the account is gone or deactivated; nothing is
    counted against the user then (the caller's address pays instead). Over ``limit``
    the count reads ``limit + 1`` and stays there however often the caller retries.
    """
    user = users.admit_access_token(
        user_id=claims.user_id,
        token_id=claims.jti,
        session_id=claims.session_id,
        issued_at=claims.issued_at,
        window=window,
        limit=limit,
    )
    if user is None:
        raise Unauthorized("The access token has been revoked", code="invalid_token")
    principal = Principal(
        user_id=claims.user_id,
        role=Role(user["role"]),
        token_id=claims.jti,
        session_id=claims.session_id,
        token_expires_at=claims.expires_at,
        user=user,
    )
    count = int(user["rate"]["n"]) if window is not None else None
    return Admission(principal=principal, count=count)


def load_principal(claims: AccessClaims) -> Principal:
    """The caller behind verified claims, if the token has not been revoked (no counting)."""
    return admit(claims, window=None).principal


def cut_off(issued_at: datetime, session_id: str | None, user: UserRecord) -> bool:
    """True when a token of ``session_id`` issued at ``issued_at`` predates a revoke-all.

    A password change revokes everything but the caller's own session, which the user
    document names as spared.
    """
    valid_after: datetime | None = user.get("tokens_valid_after")
    # Inclusive: a token minted in the very millisecond of a revoke-all may predate it.
    # Tokens minted after it never share that millisecond (see _wait_out_cutoff).
    if valid_after is None or issued_at > valid_after:
        return False
    spared = user.get("spared_session_id")
    return spared is None or session_id != spared


def start_session(user: UserRecord) -> Tokens:
    """A new refresh family and its first token pair (login)."""
    settings = get_settings()
    family_expires_at = clock.now() + timedelta(days=settings.REFRESH_TOKEN_EXPIRE_DAYS)
    return _issue(user, family_id=str(ObjectId()), family_expires_at=family_expires_at)


def continue_session(user: UserRecord, *, family_id: str, family_expires_at: datetime) -> Tokens:
    """The next token pair of an existing family (refresh); the family's end never moves."""
    return _issue(user, family_id=family_id, family_expires_at=family_expires_at)


def _issue(user: UserRecord, *, family_id: str, family_expires_at: datetime) -> Tokens:
    _wait_out_cutoff(user)
    access = tokens.create_access_token(
        user_id=str(user["_id"]), role=user["role"], session_id=family_id
    )
    refresh_token = tokens.new_opaque_token()
    refresh_tokens.insert(
        token_hash=tokens.hash_token(refresh_token),
        user_id=user["_id"],
        family_id=family_id,
        expires_at=family_expires_at,
        family_expires_at=family_expires_at,
    )
    return Tokens(
        access_token=access.token,
        expires_in=access.expires_in,
        refresh_token=refresh_token,
        refresh_expires_in=max(0, int((family_expires_at - clock.now()).total_seconds())),
    )


def _wait_out_cutoff(user: UserRecord) -> None:
    """Let the millisecond of the user's last revoke-all pass before minting tokens.

    Token times have millisecond precision and the cut-off is inclusive, so a token
    minted in that same millisecond would be born revoked.
    """
    cutoff: datetime | None = user.get("tokens_valid_after")
    if cutoff is None:
        return
    for _ in range(_CUTOFF_WAIT_ATTEMPTS):
        if clock.now() > cutoff:
            return
        time.sleep(0.001)


def end_session(principal: Principal) -> None:
    """Logout: this access token, its session's other access tokens and its refresh family."""
    user_id = ObjectId(principal.user_id)
    if principal.session_id:
        end_family(user_id, principal.session_id)
    else:
        users.revoke_access(
            user_id=user_id,
            token_id=principal.token_id,
            until=principal.token_expires_at + timedelta(seconds=tokens.LEEWAY_SECONDS),
        )


def end_family(user_id: ObjectId, family_id: str) -> int:
    """End one session: its refresh tokens and every access token issued to it."""
    revoked = refresh_tokens.revoke_family(family_id)
    # Tokens of this session were all issued before now, so all expire within a lifetime.
    lifetime = timedelta(minutes=get_settings().ACCESS_TOKEN_EXPIRE_MINUTES)
    users.revoke_access(
        user_id=user_id,
        session_id=family_id,
        until=clock.now() + lifetime + timedelta(seconds=tokens.LEEWAY_SECONDS),
    )
    return revoked


def revoke_all(user_id: ObjectId, *, keep_session: str | None = None) -> None:
    """Every token issued before now stops working, except ``keep_session``'s if named."""
    users.invalidate_tokens(user_id, spare_session=keep_session)
    refresh_tokens.revoke_user(user_id, keep_family=keep_session)
