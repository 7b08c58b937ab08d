"""Access tokens (short-lived HS256 JWTs) and opaque tokens (refresh, password reset).

Only access tokens are JWTs, and only they carry `typ: "access"`; refresh and reset
tokens are random strings stored as SHA-256 hashes, so no token kind can pass for
another. Decoding pins the algorithm list to HS256 (no `none`, no RS/HS confusion),
requires every claim, checks issuer, audience and type, and allows 10 s of clock skew.
Decoding runs on every request, so the key and the PyJWT instance are prepared once
per settings object: PyJWT still parses, checks and verifies every token, but the
secret's own sanity check (it must not look like a PEM, SSH, DER or JWK key) runs once
per key instead of once per token.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt
from jwt.algorithms import HMACAlgorithm

from shared import clock
from shared.config import Settings, SettingsError, get_settings
from shared.production_policy import MIN_SECRET_BYTES

if TYPE_CHECKING:
    from jwt.types import Options

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


class _CheckedHS256(HMACAlgorithm):
    """HS256 whose secret PyJWT checks once, when the verifier is built.

    PyJWT's HMAC ``prepare_key`` re-inspects the secret on every sign and verify (about
    a quarter of a decode). The secret is fixed per settings object, so the result of
    that same check is kept for this one key object; any other key is checked as usual,
    and a secret the check refuses keeps being refused on every call.
    """

    def __init__(self, key: bytes) -> None:
        super().__init__(HMACAlgorithm.SHA256)
        self._key = key
        try:
            self._checked: bytes | None = super().prepare_key(key)
        except jwt.InvalidKeyError:
            self._checked = None

    def prepare_key(self, key: str | bytes) -> bytes:
        """The checked secret when ``key`` is this verifier's own; PyJWT's check otherwise."""
        if key is self._key and self._checked is not None:
            return self._checked
        return super().prepare_key(key)


class _Codec(jwt.PyJWT):
    """A PyJWT whose HS256 is :class:`_CheckedHS256` for one key; every other step is PyJWT's."""

    def __init__(self, options: Options, key: bytes) -> None:
        super().__init__(options=options)
        # PyJWT keeps its signature layer (a PyJWS) per instance; swap its HS256 handler.
        self._jws.unregister_algorithm(ALGORITHM)
        self._jws.register_algorithm(ALGORITHM, _CheckedHS256(key))


@dataclass(frozen=True, slots=True)
class _Signer:
    settings: Settings
    key: bytes
    codec: jwt.PyJWT
    lifetime: timedelta


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
    try:
        payload = signer.codec.decode(
            token,
            signer.key,
            algorithms=[ALGORITHM],
            audience=signer.settings.JWT_AUDIENCE,
            issuer=signer.settings.JWT_ISSUER,
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidTokenError("expired") from None
    except jwt.ImmatureSignatureError:
        raise InvalidTokenError("not_yet_valid") from None
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(_reason_for(exc)) from None
    return _claims_from(payload)


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
    codec = _Codec(
        {
            "require": list(_REQUIRED_CLAIMS),
            "strict_aud": True,
            "enforce_minimum_key_length": True,
        },
        key,
    )
    lifetime = timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    return _Signer(settings=settings, key=key, codec=codec, lifetime=lifetime)


def _reason_for(exc: jwt.PyJWTError) -> str:
    reasons: list[tuple[type[jwt.PyJWTError], str]] = [
        (jwt.InvalidSignatureError, "bad_signature"),
        (jwt.InvalidAlgorithmError, "algorithm_not_allowed"),
        (jwt.MissingRequiredClaimError, "missing_claim"),
        (jwt.InvalidAudienceError, "wrong_audience"),
        (jwt.InvalidIssuerError, "wrong_issuer"),
        (jwt.InvalidKeyError, "unusable_key"),
    ]
    for kind, reason in reasons:
        if isinstance(exc, kind):
            return reason
    return "malformed"


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
