"""Authentication requests and responses."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.schemas.base import Omittable, RequestModel, ResponseModel
from shared.schemas.fields import Email, EmailLookup, FullName, OpaqueToken, Otp, Password


class UserRegister(RequestModel):
    email: Email
    password: Password
    full_name: Omittable[FullName] = None


class LoginRequest(RequestModel):
    email: EmailLookup
    password: Password
    otp: Omittable[Otp] = Field(
        default=None, description="Needed once MFA is on: a current TOTP code or a recovery code"
    )


class Tokens(ResponseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class RefreshRequest(RequestModel):
    refresh_token: OpaqueToken


class LogoutRequest(RequestModel):
    refresh_token: Omittable[OpaqueToken] = Field(
        default=None, description="Also end this refresh token's family"
    )


class PasswordForgot(RequestModel):
    email: EmailLookup


class PasswordReset(RequestModel):
    token: OpaqueToken
    new_password: Password


class MfaSetup(ResponseModel):
    secret: str
    otpauth_uri: str
    qr_svg: str


class MfaEnable(RequestModel):
    otp: Otp


class MfaRecoveryCodes(ResponseModel):
    recovery_codes: list[str]


class MfaDisable(RequestModel):
    password: Password
    otp: Otp
