"""Access tokens (short-lived HS256 JWTs) and opaque tokens (refresh, password reset).

Only access tokens are JWTs, and only they carry `typ: "access"`; refresh and reset
tokens are random strings stored as SHA-256 hashes, so no token kind can pass for
another. Decoding pins the algorithm list to HS256 (no `none`, no RS/HS confusion),
requires every claim, checks issuer, audience and type, and allows 10 s of clock skew.

Tokens are signed with PyJWT. Verification runs on every request, so it is done here
in a few strict steps (one header, one algorithm, one key) rather than through PyJWT's
general decoder, which spent as long as the database read checking what cannot vary:
the same checks, in PyJWT's order, so a token is refused for the same reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from shared import clock
from shared.config import Settings, SettingsError, get_settings
from shared.production_policy import MIN_SECRET_BYTES

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a credential
LEEWAY_SECONDS = 10
OPAQUE_TOKEN_BYTES = 32
_REQUIRED_CLAIMS = ["sub", "role", "iat", "nbf", "exp", "jti", "iss", "aud", "typ"]


class InvalidTokenError(Exception):
    """The access token is missing, malformed, forged, expired or of another kind."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    """A freshly signed access token and what the client is told about it."""

    token: str
    jti: str
    expires_in: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified content of an access token."""

    user_id: str
    role: str
    jti: str
    issued_at: datetime
    expires_at: datetime
    session_id: str | None


@dataclass(frozen=True, slots=True)
class _Signer:
    settings: Settings
    key: bytes
    codec: jwt.PyJWT
    lifetime: timedelta
    # False when the key is a PEM/SSH/DER public key or certificate: an attacker can
    # compute an HMAC with that too, so nothing verifies against it.
    hmac_usable: bool = True


_signer_lock = threading.Lock()
_signer: _Signer | None = None


def create_access_token(
    *, user_id: str, role: str, session_id: str | None = None
) -> IssuedAccessToken:
    """Sign an access token for the user; `session_id` names its refresh family."""
    signer = _current_signer()
    issued_at = clock.now()
    expires_at = issued_at + signer.lifetime
    jti = secrets.token_urlsafe(16)
    claims: dict[str, Any] = {
        "sub": user_id,
        "role": role,
        # Millisecond iat (a NumericDate may be fractional, RFC 7519 §2): revocation
        # compares it with the user's "tokens valid after" instant, and a login in the
        # same second as a password reset must survive it.
        "iat": issued_at.timestamp(),
        "nbf": issued_at.replace(microsecond=0),
        "exp": expires_at.timestamp(),
        "jti": jti,
        "iss": signer.settings.JWT_ISSUER,
        "aud": signer.settings.JWT_AUDIENCE,
        "typ": ACCESS_TOKEN_TYPE,
    }
    if session_id is not None:
        claims["sid"] = session_id
    token = signer.codec.encode(claims, signer.key, algorithm=ALGORITHM)
    return IssuedAccessToken(
        token=token,
        jti=jti,
        expires_in=int(signer.lifetime.total_seconds()),
        expires_at=expires_at,
    )


def decode_access_token(token: str) -> AccessClaims:
    """Verify an access token and return its claims; InvalidTokenError otherwise."""
    signer = _current_signer()
    return _claims_from(_verified_payload(token, signer))


# Unpadded base64url segments, as every issuer of these tokens (this app) writes them.
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


def _verified_payload(token: str, signer: _Signer) -> dict[str, Any]:
    """The payload of an HS256 token signed with our key whose registered claims hold."""
    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.fullmatch(part) for part in parts):
        raise InvalidTokenError("malformed")
    header_part, payload_part, signature_part = parts
    header = _json_object(header_part)
    # Exactly one algorithm: no "none", no RS/HS confusion, no header-chosen key.
    if header.get("alg") != ALGORITHM:
        raise InvalidTokenError("algorithm_not_allowed")
    if "crit" in header or "b64" in header:  # extensions this app never uses
        raise InvalidTokenError("malformed")
    if not signer.hmac_usable:
        raise InvalidTokenError("unusable_key")
    expected = hmac.digest(signer.key, f"{header_part}.{payload_part}".encode("ascii"), "sha256")
    if not hmac.compare_digest(_b64decode(signature_part), expected):
        raise InvalidTokenError("bad_signature")
    payload = _json_object(payload_part)
    if any(payload.get(claim) is None for claim in _REQUIRED_CLAIMS):
        raise InvalidTokenError("missing_claim")
    now = time.time()
    issued_at, not_before, expires = (_number(payload[c]) for c in ("iat", "nbf", "exp"))
    if issued_at > now + LEEWAY_SECONDS or not_before > now + LEEWAY_SECONDS:
        raise InvalidTokenError("not_yet_valid")
    if expires <= now - LEEWAY_SECONDS:
        raise InvalidTokenError("expired")
    if payload["iss"] != signer.settings.JWT_ISSUER:
        raise InvalidTokenError("wrong_issuer")
    # Strict: one audience string, equal to ours (a list naming us is not enough).
    if payload["aud"] != signer.settings.JWT_AUDIENCE:
        raise InvalidTokenError("wrong_audience")
    return payload


def _b64decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTokenError("malformed") from None


def _json_object(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except ValueError:  # includes JSONDecodeError and UnicodeDecodeError
        raise InvalidTokenError("malformed") from None
    if not isinstance(value, dict):
        raise InvalidTokenError("malformed")
    return value


def _number(value: object) -> float:
    # bool is an int subclass; `true` is not a time.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTokenError("malformed")
    return float(value)


def new_opaque_token() -> str:
    """A random url-safe token of 256 bits, for refresh and reset tokens."""
    return secrets.token_urlsafe(OPAQUE_TOKEN_BYTES)


def hash_token(token: str) -> str:
    """SHA-256 hex of an opaque token; enough because the token itself has 256 bits."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _current_signer() -> _Signer:
    global _signer
    settings = get_settings()
    signer = _signer
    if signer is not None and signer.settings is settings:
        return signer
    with _signer_lock:
        if _signer is None or _signer.settings is not settings:
            _signer = _build_signer(settings)
        return _signer


def _build_signer(settings: Settings) -> _Signer:
    key = settings.SECRET_KEY.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise SettingsError(
            f"SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes to sign or verify "
            "tokens; set a long random value"
        )
    codec = jwt.PyJWT(
        options={
            "require": list(_REQUIRED_CLAIMS),
            "strict_aud": True,
            "enforce_minimum_key_length": True,
        }
    )
    lifetime = timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    try:  # PyJWT's own refusal of asymmetric keys as HMAC secrets, checked once
        jwt.get_algorithm_by_name(ALGORITHM).prepare_key(key)
        hmac_usable = True
    except jwt.InvalidKeyError:
        hmac_usable = False
    return _Signer(
        settings=settings, key=key, codec=codec, lifetime=lifetime, hmac_usable=hmac_usable
    )


def _claims_from(payload: dict[str, Any]) -> AccessClaims:
    if payload["typ"] != ACCESS_TOKEN_TYPE:
        raise InvalidTokenError("wrong_type")
    user_id, role, jti = payload["sub"], payload["role"], payload["jti"]
    session_id = payload.get("sid")
    strings_ok = all(isinstance(value, str) and value for value in (user_id, role, jti))
    if not strings_ok or not (session_id is None or isinstance(session_id, str)):
        raise InvalidTokenError("malformed")
    return AccessClaims(
        user_id=user_id,
        role=role,
        jti=jti,
        issued_at=_timestamp(payload["iat"]),
        expires_at=_timestamp(payload["exp"]),
        session_id=session_id,
    )


def _timestamp(value: object) -> datetime:
    # bool is an int subclass; PyJWT would accept `true` as 1970-01-01T00:00:01.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTokenError("malformed")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidTokenError("malformed") from None
