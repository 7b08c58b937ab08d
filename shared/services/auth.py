"""Registration, login, token refresh, logout and password recovery."""

from __future__ import annotations

import hmac
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from bson import ObjectId

from shared import clock
from shared.config import get_settings
from shared.db.records import PasswordResetRecord, UserRecord
from shared.errors import ApiError, BadRequest, Forbidden, Unauthorized
from shared.identity import Caller, Principal, Role
from shared.repositories import (
    login_throttle,
    password_resets,
    refresh_tokens,
    reset_mail_quota,
    users,
)
from shared.schemas.auth import LoginRequest, PasswordReset, Tokens, UserRegister
from shared.schemas.users import UserPublic
from shared.security import passwords, tokens
from shared.services import attempts, audit, mfa, sessions
from shared.services.accounts import (
    check_new_password,
    create_account,
    public_user,
    set_password,
)
from shared.services.mail import get_mailer, password_reset_message

logger = logging.getLogger(__name__)

RESET_TOKEN_MINUTES = 30
INVALID_CREDENTIALS = "Incorrect email or password"

# Reset requests are handled on a worker thread so /password/forgot answers in the same
# time whether or not the address has an account (lookups and SMTP would reveal it).
_mail_sender = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")


def _new_mail_sender() -> None:
    # A forked child (a test runner, mutmut) inherits the pool object but not its
    # threads, so work submitted there would never run: start a fresh pool.
    global _mail_sender
    _mail_sender = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")


os.register_at_fork(after_in_child=_new_mail_sender)


def register(payload: UserRegister, *, caller: Caller) -> UserPublic:
    """Create a user account with the ``user`` role."""
    if not get_settings().ALLOW_REGISTRATION:
        raise Forbidden("Registration is closed", code="registration_closed")
    user = create_account(
        email=payload.email,
        password=payload.password,
        full_name=payload.full_name,
        role=Role.USER,
    )
    audit.record(
        "user.registered", caller=caller, actor_id=str(user["_id"]), target_id=str(user["_id"])
    )
    return public_user(user)


def login(payload: LoginRequest, *, caller: Caller) -> Tokens:
    """Exchange email, password (and a second factor when enabled) for tokens."""
    with attempts.reserved_attempt(
        payload.email, caller=caller, target_id=None, refused_action="auth.login_failed"
    ):
        user = users.find_by_email(payload.email)
        # One call whether or not the account exists: an unknown email costs a real check.
        matches, new_hash = passwords.verify_and_update(
            payload.password, user["password_hash"] if user else None
        )
        if user is None or not matches or not user["is_active"]:
            reason = (
                "unknown_email" if user is None else "wrong_password" if not matches else "inactive"
            )
            _audit_failure(caller, user, reason)
            raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
        if user["mfa"]["enabled"]:
            try:
                mfa.verify_second_factor(user, payload.otp)
            except ApiError:
                reason = "mfa_required" if payload.otp is None else "mfa_invalid"
                _audit_failure(caller, user, reason)
                raise
        if new_hash is not None:
            users.update_user(user["_id"], {"password_hash": new_hash})
    audit.record("auth.login", caller=caller, actor_id=str(user["_id"]), target_id=str(user["_id"]))
    return sessions.start_session(user)


def _audit_failure(caller: Caller, user: UserRecord | None, reason: str) -> None:
    target_id = str(user["_id"]) if user is not None else None
    audit.record(
        "auth.login_failed", caller=caller, target_id=target_id, details={"reason": reason}
    )


def refresh(refresh_token: str, *, caller: Caller) -> Tokens:
    """Rotate a refresh token; presenting a used one revokes its whole family."""
    token_hash = tokens.hash_token(refresh_token)
    record = refresh_tokens.consume(token_hash)
    if record is None:
        _reject_refresh(token_hash, caller)
    assert record is not None  # noqa: S101 - _reject_refresh always raises
    user = users.find_by_id(record["user_id"])
    revoked = user is None or sessions.cut_off(record["created_at"], record["family_id"], user)
    if user is None or not user["is_active"] or revoked:
        refresh_tokens.revoke_family(record["family_id"])
        raise Unauthorized("The refresh token has been revoked", code="invalid_token")
    return sessions.continue_session(
        user, family_id=record["family_id"], family_expires_at=record["family_expires_at"]
    )


def _reject_refresh(token_hash: str, caller: Caller) -> None:
    known = refresh_tokens.find(token_hash)
    if known is not None and known["used_at"] is not None:
        # A thief may hold the newest pair of this family: end its access tokens too.
        revoked = sessions.end_family(known["user_id"], known["family_id"])
        audit.record(
            "auth.refresh_reused",
            caller=caller,
            actor_id=str(known["user_id"]),
            target_id=str(known["user_id"]),
            details={"family_id": known["family_id"], "tokens_revoked": revoked},
        )
        raise Unauthorized(
            "This refresh token was already used; the session has been ended",
            code="token_reused",
        )
    raise Unauthorized("The refresh token is invalid or expired", code="invalid_token")


def logout(principal: Principal, refresh_token: str | None, *, caller: Caller) -> None:
    """End this session: the access token and its refresh family (and a named one)."""
    sessions.end_session(principal)
    if refresh_token:
        record = refresh_tokens.find(tokens.hash_token(refresh_token))
        if (
            record is not None
            and str(record["user_id"]) == principal.user_id
            and record["family_id"] != principal.session_id  # that one has just ended
        ):
            sessions.end_family(record["user_id"], record["family_id"])
    audit.record("auth.logout", caller=caller, target_id=principal.user_id)


def logout_all(principal: Principal, *, caller: Caller) -> None:
    """Every token the user holds, on every device, stops working."""
    sessions.revoke_all(ObjectId(principal.user_id))
    audit.record("auth.logout_all", caller=caller, target_id=principal.user_id)


def forgot_password(email: str, *, caller: Caller) -> None:
    """Mail a single-use reset link when the account exists; the caller learns nothing.

    The request only hands the address to a worker thread: the lookup, the per-address
    mail quota and the mail happen after the answer, so a known address and an unknown
    one answer after exactly the same work.
    """
    _mail_sender.submit(_send_reset_link, email, caller)


def _send_reset_link(email: str, caller: Caller) -> None:
    try:
        _prepare_reset_link(email, caller)
    except Exception:
        logger.exception("password reset request could not be handled")


def _prepare_reset_link(email: str, caller: Caller) -> None:
    settings = get_settings()
    within_quota = reset_mail_quota.take(
        email, limit=settings.PASSWORD_RESET_MAILS_PER_HOUR, window=timedelta(hours=1)
    )
    user = users.find_by_email(email)
    known = user is not None and user["is_active"]
    if user is None or not known or not within_quota:
        details = {"known": known, "throttled": not within_quota}
        target_id = str(user["_id"]) if user is not None else None
        audit.record(
            "auth.password_reset_requested", caller=caller, target_id=target_id, details=details
        )
        return
    token = tokens.new_opaque_token()
    password_resets.insert(
        token_hash=tokens.hash_token(token),
        user_id=user["_id"],
        password_fingerprint=passwords.fingerprint(user["password_hash"]),
        expires_at=clock.now() + timedelta(minutes=RESET_TOKEN_MINUTES),
    )
    audit.record(
        "auth.password_reset_requested",
        caller=caller,
        target_id=str(user["_id"]),
        details={"known": True, "throttled": False},
    )
    reset_url = f"{settings.FRONTEND_URL.rstrip('/')}/reset-password#token={token}"
    message = password_reset_message(
        to=user["email"], reset_url=reset_url, minutes_valid=RESET_TOKEN_MINUTES
    )
    get_mailer().send(message)


def reset_password(payload: PasswordReset, *, caller: Caller) -> None:
    """Set a new password with a reset token; every session of the user ends."""
    token_hash = tokens.hash_token(payload.token)
    pending = password_resets.find_usable(token_hash)
    user = users.find_by_id(pending["user_id"]) if pending else None
    if (
        pending is None
        or user is None
        or not user["is_active"]
        or not _same_password(pending, user)
    ):
        raise BadRequest("The reset link is invalid or has expired", code="invalid_token")
    check_new_password(
        payload.new_password,
        email=user["email"],
        full_name=user["full_name"],
        field="new_password",
    )
    if password_resets.consume(token_hash) is None:  # lost a race with another reset
        raise BadRequest("The reset link is invalid or has expired", code="invalid_token")
    set_password(user["_id"], payload.new_password)
    sessions.revoke_all(user["_id"])
    login_throttle.clear(user["email"])
    audit.record(
        "auth.password_reset", caller=caller, actor_id=str(user["_id"]), target_id=str(user["_id"])
    )


def _same_password(pending: PasswordResetRecord, user: UserRecord) -> bool:
    """True while the account still has the password the token was issued against."""
    issued_for = pending.get("password_fingerprint")
    current = passwords.fingerprint(user["password_hash"])
    return isinstance(issued_for, str) and hmac.compare_digest(issued_for, current)
