"""Registration, login, token refresh, logout and password recovery."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from bson import ObjectId

from shared import clock
from shared.config import get_settings
from shared.errors import ApiError, BadRequest, Forbidden, TooManyRequests, Unauthorized
from shared.identity import Caller, Principal, Role
from shared.repositories import login_throttle, password_resets, refresh_tokens, users
from shared.schemas.auth import LoginRequest, PasswordReset, Tokens, UserRegister
from shared.schemas.users import UserPublic
from shared.security import passwords, tokens
from shared.services import audit, mfa, sessions
from shared.services.accounts import check_new_password, create_account, public_user
from shared.services.mail import MailMessage, get_mailer, password_reset_message

logger = logging.getLogger(__name__)

RESET_TOKEN_MINUTES = 30
INVALID_CREDENTIALS = "Incorrect email or password"

# Reset mails leave on a worker thread so /password/forgot answers in the same time
# whether or not the address has an account (SMTP latency would reveal it).
_mail_sender = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")


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


class _InvalidCredentials(Unauthorized):
    def __init__(self) -> None:
        super().__init__(INVALID_CREDENTIALS, code="invalid_credentials")


def login(payload: LoginRequest, *, caller: Caller) -> Tokens:
    """Exchange email, password (and a second factor when enabled) for tokens."""
    settings = get_settings()
    lock_ends = login_throttle.locked_until(login_throttle.find(payload.email))
    if lock_ends is not None:
        retry_after = max(1, int((lock_ends - clock.now()).total_seconds()))
        audit.record("auth.login_failed", caller=caller, details={"reason": "locked"})
        raise TooManyRequests(
            "Too many failed sign-in attempts; try again later",
            code="login_locked",
            headers={"Retry-After": str(retry_after)},
        )
    user = users.find_by_email(payload.email)
    if user is None:
        passwords.verify_dummy_password(payload.password)  # same cost as a real check
        _failed(payload.email, caller, reason="unknown_email", user_id=None)
    assert user is not None  # noqa: S101 - _failed always raises
    if not passwords.verify_password(payload.password, user["password_hash"]):
        _failed(payload.email, caller, reason="wrong_password", user_id=str(user["_id"]))
    if not user["is_active"]:
        _failed(payload.email, caller, reason="inactive", user_id=str(user["_id"]))
    if user.get("mfa", {}).get("enabled"):
        try:
            mfa.verify_second_factor(user, payload.otp)
        except ApiError:
            login_throttle.record_failure(
                payload.email,
                max_failures=settings.LOGIN_MAX_FAILURES,
                lockout=timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES),
            )
            audit.record(
                "auth.login_failed",
                caller=caller,
                target_id=str(user["_id"]),
                details={"reason": "mfa_required" if payload.otp is None else "mfa_invalid"},
            )
            raise
    if passwords.needs_rehash(user["password_hash"]):
        users.update_user(user["_id"], {"password_hash": passwords.hash_password(payload.password)})
    login_throttle.clear(payload.email)
    audit.record("auth.login", caller=caller, actor_id=str(user["_id"]), target_id=str(user["_id"]))
    return sessions.start_session(user)


def _failed(email: str, caller: Caller, *, reason: str, user_id: str | None) -> None:
    settings = get_settings()
    login_throttle.record_failure(
        email,
        max_failures=settings.LOGIN_MAX_FAILURES,
        lockout=timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES),
    )
    audit.record("auth.login_failed", caller=caller, target_id=user_id, details={"reason": reason})
    raise _InvalidCredentials()


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
    """Mail a single-use reset link when the account exists; the caller learns nothing."""
    user = users.find_by_email(email)
    token = tokens.new_opaque_token()
    token_hash = tokens.hash_token(token)  # hashed either way: same work, same timing
    if user is None or not user["is_active"]:
        audit.record("auth.password_reset_requested", caller=caller, details={"known": False})
        return
    password_resets.insert(
        token_hash=token_hash,
        user_id=user["_id"],
        expires_at=clock.now() + timedelta(minutes=RESET_TOKEN_MINUTES),
    )
    audit.record(
        "auth.password_reset_requested",
        caller=caller,
        target_id=str(user["_id"]),
        details={"known": True},
    )
    reset_url = f"{get_settings().FRONTEND_URL.rstrip('/')}/reset-password#token={token}"
    message = password_reset_message(
        to=user["email"], reset_url=reset_url, minutes_valid=RESET_TOKEN_MINUTES
    )
    _mail_sender.submit(_send_quietly, message)


def _send_quietly(message: MailMessage) -> None:
    try:
        get_mailer().send(message)
    except Exception:
        logger.exception("password reset mail could not be sent")


def reset_password(payload: PasswordReset, *, caller: Caller) -> None:
    """Set a new password with a reset token; every session of the user ends."""
    token_hash = tokens.hash_token(payload.token)
    pending = password_resets.find_usable(token_hash)
    user = users.find_by_id(pending["user_id"]) if pending else None
    if pending is None or user is None or not user["is_active"]:
        raise BadRequest("The reset link is invalid or has expired", code="invalid_token")
    check_new_password(
        payload.new_password,
        email=user["email"],
        full_name=user.get("full_name"),
        field="new_password",
    )
    if password_resets.consume(token_hash) is None:  # lost a race with another reset
        raise BadRequest("The reset link is invalid or has expired", code="invalid_token")
    users.update_user(user["_id"], {"password_hash": passwords.hash_password(payload.new_password)})
    # Any other link still in a mailbox could otherwise reset the new password again.
    password_resets.delete_for_user(user["_id"])
    sessions.revoke_all(user["_id"])
    login_throttle.clear(user["email"])
    audit.record(
        "auth.password_reset", caller=caller, actor_id=str(user["_id"]), target_id=str(user["_id"])
    )
