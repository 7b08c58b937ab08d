"""Auth: registration, login, tokens, logout, password recovery and MFA."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.http.api import HttpApi
from shared.http.pipeline import ApiRequest
from shared.http.registry import RateLimit
from shared.identity import Role

if TYPE_CHECKING:
    from shared.schemas.auth import (
        LoginRequest,
        LogoutRequest,
        MfaDisable,
        MfaEnable,
        MfaRecoveryCodes,
        MfaSetup,
        PasswordForgot,
        PasswordReset,
        RefreshRequest,
        Tokens,
        UserRegister,
    )
    from shared.schemas.base import Message
    from shared.schemas.users import UserPublic

api = HttpApi(tags=["auth"])


@api.post(
    "v1/auth/register",
    name="auth_register",
    summary="Create an account",
    status=201,
    rate_limit=RateLimit.AUTH,
    errors=[403, 409],
)
def register(request: ApiRequest, body: UserRegister) -> UserPublic:
    """Passwords: 12-128 characters, not guessable (zxcvbn score 3+), not your email name."""
    from shared.services import auth

    return auth.register(body, caller=request.caller)


@api.post(
    "v1/auth/login",
    name="auth_login",
    summary="Sign in and receive tokens",
    rate_limit=RateLimit.AUTH,
    errors=[401],
)
def login(request: ApiRequest, body: LoginRequest) -> Tokens:
    """401 invalid_credentials, mfa_required or mfa_invalid; 429 after repeated failures."""
    from shared.services import auth

    return auth.login(body, caller=request.caller)


@api.post(
    "v1/auth/refresh",
    name="auth_refresh",
    summary="Rotate a refresh token",
    rate_limit=RateLimit.AUTH,
    errors=[401],
)
def refresh(request: ApiRequest, body: RefreshRequest) -> Tokens:
    """The old refresh token dies; replaying it (401 token_reused) ends its whole family."""
    from shared.services import auth

    return auth.refresh(body.refresh_token, caller=request.caller)


@api.post(
    "v1/auth/logout",
    name="auth_logout",
    summary="End this session",
    status=204,
    min_role=Role.GUEST,
    body_optional=True,
)
def logout(request: ApiRequest, body: LogoutRequest) -> None:
    """This access token and its refresh family stop working at once."""
    from shared.services import auth

    auth.logout(request.user, body.refresh_token, caller=request.caller)


@api.post(
    "v1/auth/logout-all",
    name="auth_logout_all",
    summary="End every session of the user",
    status=204,
    min_role=Role.GUEST,
)
def logout_all(request: ApiRequest) -> None:
    """Every token issued before now, on every device, stops working."""
    from shared.services import auth

    auth.logout_all(request.user, caller=request.caller)


@api.post(
    "v1/auth/password/forgot",
    name="auth_password_forgot",
    summary="Request a password-reset email",
    status=202,
    rate_limit=RateLimit.AUTH,
)
def password_forgot(request: ApiRequest, body: PasswordForgot) -> Message:
    """Always 202, whether or not the address has an account."""
    from shared.schemas.base import Message
    from shared.services import auth

    auth.forgot_password(body.email, caller=request.caller)
    return Message(detail="If the address has an account, a reset link is on its way")


@api.post(
    "v1/auth/password/reset",
    name="auth_password_reset",
    summary="Set a new password with a reset token",
    status=204,
    rate_limit=RateLimit.AUTH,
    errors=[400],
)
def password_reset(request: ApiRequest, body: PasswordReset) -> None:
    """Single use, 30 minutes; every session of the user ends. 400 invalid_token."""
    from shared.services import auth

    auth.reset_password(body, caller=request.caller)


@api.post(
    "v1/auth/mfa/setup",
    name="auth_mfa_setup",
    summary="Start TOTP setup",
    min_role=Role.GUEST,
    errors=[409],
)
def mfa_setup(request: ApiRequest) -> MfaSetup:
    """Pending until enabled with a valid code."""
    from shared.services import mfa

    return mfa.setup(request.user, caller=request.caller)


@api.post(
    "v1/auth/mfa/enable",
    name="auth_mfa_enable",
    summary="Enable TOTP with a code",
    min_role=Role.GUEST,
    errors=[400, 409],
)
def mfa_enable(request: ApiRequest, body: MfaEnable) -> MfaRecoveryCodes:
    """Returns 10 single-use recovery codes, shown only this once. 400 mfa_invalid."""
    from shared.services import mfa

    return mfa.enable(request.user, body.otp, caller=request.caller)


@api.post(
    "v1/auth/mfa/disable",
    name="auth_mfa_disable",
    summary="Disable TOTP",
    status=204,
    min_role=Role.GUEST,
    errors=[400],
)
def mfa_disable(request: ApiRequest, body: MfaDisable) -> None:
    """Needs the password and a current code or a recovery code."""
    from shared.services import mfa

    mfa.disable(request.user, password=body.password, otp=body.otp, caller=request.caller)


bp = api.blueprint()
