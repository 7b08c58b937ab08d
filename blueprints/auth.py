"""Auth: registration, login, tokens, logout, password recovery and MFA."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from shared.http.pipeline import ApiRequest, endpoint
from shared.http.registry import RateLimit
from shared.identity import Role

if TYPE_CHECKING:
    from shared.schemas.auth import (
        MfaRecoveryCodes,
        MfaSetup,
        Tokens,
    )
    from shared.schemas.base import Message
    from shared.schemas.users import UserPublic

bp = func.Blueprint()
TAGS = ["auth"]


@endpoint(
    bp,
    name="auth_register",
    route="v1/auth/register",
    method="POST",
    summary="Create an account",
    tags=TAGS,
    status=201,
    rate_limit=RateLimit.AUTH,
    body="auth.UserRegister",
    response="users.UserPublic",
    errors_=[403, 409],
)
def register(request: ApiRequest) -> UserPublic:
    """Passwords: 12-128 characters, not guessable (zxcvbn score 3+), not your email name."""
    from shared.services import auth

    return auth.register(request.body, caller=request.caller)


@endpoint(
    bp,
    name="auth_login",
    route="v1/auth/login",
    method="POST",
    summary="Sign in and receive tokens",
    tags=TAGS,
    rate_limit=RateLimit.AUTH,
    body="auth.LoginRequest",
    response="auth.Tokens",
    errors_=[401],
)
def login(request: ApiRequest) -> Tokens:
    """401 invalid_credentials, mfa_required or mfa_invalid; 429 after repeated failures."""
    from shared.services import auth

    return auth.login(request.body, caller=request.caller)


@endpoint(
    bp,
    name="auth_refresh",
    route="v1/auth/refresh",
    method="POST",
    summary="Rotate a refresh token",
    tags=TAGS,
    rate_limit=RateLimit.AUTH,
    body="auth.RefreshRequest",
    response="auth.Tokens",
    errors_=[401],
)
def refresh(request: ApiRequest) -> Tokens:
    """The old refresh token dies; replaying it (401 token_reused) ends its whole family."""
    from shared.services import auth

    return auth.refresh(request.body.refresh_token, caller=request.caller)


@endpoint(
    bp,
    name="auth_logout",
    route="v1/auth/logout",
    method="POST",
    summary="End this session",
    tags=TAGS,
    status=204,
    role=Role.GUEST,
    body="auth.LogoutRequest",
    body_optional=True,
)
def logout(request: ApiRequest) -> None:
    """This access token and its refresh family stop working at once."""
    from shared.services import auth

    auth.logout(request.user, request.body.refresh_token, caller=request.caller)


@endpoint(
    bp,
    name="auth_logout_all",
    route="v1/auth/logout-all",
    method="POST",
    summary="End every session of the user",
    tags=TAGS,
    status=204,
    role=Role.GUEST,
)
def logout_all(request: ApiRequest) -> None:
    """Every token issued before now, on every device, stops working."""
    from shared.services import auth

    auth.logout_all(request.user, caller=request.caller)


@endpoint(
    bp,
    name="auth_password_forgot",
    route="v1/auth/password/forgot",
    method="POST",
    summary="Request a password-reset email",
    tags=TAGS,
    status=202,
    rate_limit=RateLimit.AUTH,
    body="auth.PasswordForgot",
    response="base.Message",
)
def password_forgot(request: ApiRequest) -> Message:
    """Always 202, whether or not the address has an account."""
    from shared.schemas.base import Message
    from shared.services import auth

    auth.forgot_password(request.body.email, caller=request.caller)
    return Message(detail="If the address has an account, a reset link is on its way")


@endpoint(
    bp,
    name="auth_password_reset",
    route="v1/auth/password/reset",
    method="POST",
    summary="Set a new password with a reset token",
    tags=TAGS,
    status=204,
    rate_limit=RateLimit.AUTH,
    body="auth.PasswordReset",
    errors_=[400],
)
def password_reset(request: ApiRequest) -> None:
    """Single use, 30 minutes; every session of the user ends. 400 invalid_token."""
    from shared.services import auth

    auth.reset_password(request.body, caller=request.caller)


@endpoint(
    bp,
    name="auth_mfa_setup",
    route="v1/auth/mfa/setup",
    method="POST",
    summary="Start TOTP setup",
    tags=TAGS,
    role=Role.GUEST,
    response="auth.MfaSetup",
    errors_=[409],
)
def mfa_setup(request: ApiRequest) -> MfaSetup:
    """Pending until enabled with a valid code."""
    from shared.services import mfa

    return mfa.setup(request.user, caller=request.caller)


@endpoint(
    bp,
    name="auth_mfa_enable",
    route="v1/auth/mfa/enable",
    method="POST",
    summary="Enable TOTP with a code",
    tags=TAGS,
    role=Role.GUEST,
    body="auth.MfaEnable",
    response="auth.MfaRecoveryCodes",
    errors_=[400, 409],
)
def mfa_enable(request: ApiRequest) -> MfaRecoveryCodes:
    """Returns 10 single-use recovery codes, shown only this once. 400 mfa_invalid."""
    from shared.services import mfa

    return mfa.enable(request.user, request.body.otp, caller=request.caller)


@endpoint(
    bp,
    name="auth_mfa_disable",
    route="v1/auth/mfa/disable",
    method="POST",
    summary="Disable TOTP",
    tags=TAGS,
    status=204,
    role=Role.GUEST,
    body="auth.MfaDisable",
    errors_=[400],
)
def mfa_disable(request: ApiRequest) -> None:
    """Needs the password and a current code or a recovery code."""
    from shared.services import mfa

    mfa.disable(
        request.user, password=request.body.password, otp=request.body.otp, caller=request.caller
    )
