"""Access-token checks for the pipeline, and the sessions (refresh families) behind them.

An authenticated request costs two database round trips at most: the pipeline's
rate-limit counter and :func:`load_principal`'s single read, which returns the user
only if this token's id is not on the user's logout list.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bson import ObjectId

from shared import clock
from shared.config import get_settings
from shared.db.client import Document
from shared.errors import Unauthorized
from shared.http.principal import Principal, Role
from shared.repositories import refresh_tokens, users
from shared.schemas.auth import Tokens
from shared.security import tokens
from shared.security.tokens import AccessClaims


def verify_access_token(token: str) -> AccessClaims:
    """Check signature and claims without the database; 401 on anything wrong."""
    try:
        return tokens.decode_access_token(token)
    except tokens.InvalidTokenError:
        raise Unauthorized("The access token is invalid or expired", code="invalid_token") from None


def load_principal(claims: AccessClaims) -> Principal:
    """The caller behind verified claims, if the token has not been revoked."""
    user = users.find_for_access_token(user_id=claims.user_id, token_id=claims.jti)
    if user is None or not user["is_active"] or _issued_before_revocation(claims.issued_at, user):
        raise Unauthorized("The access token has been revoked", code="invalid_token")
    return Principal(
        user_id=claims.user_id,
        role=Role(user["role"]),
        token_id=claims.jti,
        session_id=claims.session_id,
        token_expires_at=claims.expires_at,
        user=user,
    )


def _issued_before_revocation(issued_at: datetime, user: Document) -> bool:
    valid_after: datetime | None = user.get("tokens_valid_after")
    return valid_after is not None and issued_at < valid_after


def start_session(user: Document) -> Tokens:
    """A new refresh family and its first token pair (login)."""
    settings = get_settings()
    family_expires_at = clock.now() + timedelta(days=settings.REFRESH_TOKEN_EXPIRE_DAYS)
    return _issue(user, family_id=str(ObjectId()), family_expires_at=family_expires_at)


def continue_session(user: Document, *, family_id: str, family_expires_at: datetime) -> Tokens:
    """The next token pair of an existing family (refresh); the family's end never moves."""
    return _issue(user, family_id=family_id, family_expires_at=family_expires_at)


def _issue(user: Document, *, family_id: str, family_expires_at: datetime) -> Tokens:
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


def end_session(principal: Principal) -> None:
    """Logout: this access token and its refresh family stop working at once."""
    user_id = ObjectId(principal.user_id)
    users.revoke_access_token(
        user_id=user_id, token_id=principal.token_id, expires_at=principal.token_expires_at
    )
    if principal.session_id:
        refresh_tokens.revoke_family(principal.session_id)


def revoke_all(user_id: ObjectId, *, keep_family: str | None = None) -> None:
    """Every token issued before now stops working (logout-all, password, role changes)."""
    users.invalidate_tokens(user_id)
    refresh_tokens.revoke_user(user_id, keep_family=keep_family)
