"""Access-token JWTs resist forgery and confusion; opaque tokens are random and hashed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.config import SettingsError
from shared.security.tokens import (
    AccessClaims,
    InvalidTokenError,
    create_access_token,
    decode_access_token,
    hash_token,
    new_opaque_token,
)
from tests.conftest import reload_settings
from tests.unit.conftest import SECRET_KEY

ISSUER = "runtime-traitors-test"
AUDIENCE = "runtime-traitors-test-api"


@pytest.fixture(autouse=True)
def signing_settings(security_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Known issuer, audience and lifetime on top of the known keys."""
    reload_settings(
        monkeypatch, JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE, ACCESS_TOKEN_EXPIRE_MINUTES="15"
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_json(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def _valid_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "user-1",
        "role": "user",
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": "jti-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "typ": "access",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _signed_with_real_key(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, SECRET_KEY, algorithm="HS256")


def _hs256_by_hand(claims: dict[str, Any], key: bytes) -> str:
    """An HS256 token built without PyJWT's key checks, as an attacker would."""
    signing_input = f"{_b64url_json({'alg': 'HS256', 'typ': 'JWT'})}.{_b64url_json(claims)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def _rejection_reason(token: str) -> str:
    with pytest.raises(InvalidTokenError) as raised:
        decode_access_token(token)
    return raised.value.reason


def test_issued_access_token_decodes_to_its_claims() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    issued = create_access_token(user_id="user-42", role="admin", session_id="family-7")
    claims = decode_access_token(issued.token)
    assert claims == AccessClaims(
        user_id="user-42",
        role="admin",
        jti=issued.jti,
        issued_at=claims.issued_at,
        expires_at=issued.expires_at,
        session_id="family-7",
    )
    assert claims.issued_at >= before
    assert claims.issued_at.tzinfo is UTC
    assert issued.expires_in == 900
    assert (issued.expires_at - claims.issued_at).total_seconds() == 900


def test_access_token_carries_every_standard_claim_and_the_access_type() -> None:
    issued = create_access_token(user_id="user-42", role="user")
    header = jwt.get_unverified_header(issued.token)
    payload = jwt.decode(issued.token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert set(payload) == {"sub", "role", "iat", "nbf", "exp", "jti", "iss", "aud", "typ"}
    assert payload["typ"] == "access"
    assert payload["iss"] == ISSUER
    assert payload["aud"] == AUDIENCE
    assert decode_access_token(issued.token).session_id is None


def test_each_access_token_has_its_own_jti() -> None:
    first = create_access_token(user_id="user-1", role="user")
    second = create_access_token(user_id="user-1", role="user")
    assert first.jti != second.jti
    assert first.token != second.token


def test_alg_none_token_is_rejected() -> None:
    header = _b64url_json({"alg": "none", "typ": "JWT"})
    unsigned = f"{header}.{_b64url_json(_valid_claims(role='admin'))}."
    assert _rejection_reason(unsigned) == "algorithm_not_allowed"


def _rsa_key_pair() -> tuple[rsa.RSAPrivateKey, str]:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_key, public_pem


def test_rs256_token_is_rejected_even_when_secret_key_is_its_public_pem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    private_key, public_pem = _rsa_key_pair()
    reload_settings(monkeypatch, SECRET_KEY=public_pem)
    forged = jwt.encode(_valid_claims(role="admin"), private_key, algorithm="RS256")
    assert _rejection_reason(forged) == "algorithm_not_allowed"


def test_hs256_token_signed_with_a_public_key_is_rejected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, public_pem = _rsa_key_pair()
    forged = _hs256_by_hand(_valid_claims(role="admin"), public_pem.encode())
    assert _rejection_reason(forged) == "bad_signature"
    # The classic confusion: a verifier that holds a PEM as its key must not use it as
    # an HMAC secret an attacker can also compute with.
    reload_settings(monkeypatch, SECRET_KEY=public_pem)
    with pytest.raises(InvalidTokenError):
        decode_access_token(forged)
    # A secret PyJWT refuses stays refused: never replaced by an empty key anyone can use.
    with pytest.raises(InvalidTokenError):
        decode_access_token(_hs256_by_hand(_valid_claims(role="admin"), b""))


def test_token_with_flipped_signature_byte_is_rejected() -> None:
    token = create_access_token(user_id="user-1", role="user").token
    signing_input, _, signature = token.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0x01
    assert _rejection_reason(f"{signing_input}.{_b64url(bytes(raw))}") == "bad_signature"


def test_token_with_edited_payload_is_rejected() -> None:
    header, _, signature = create_access_token(user_id="user-1", role="user").token.split(".")
    escalated = _b64url_json(_valid_claims(sub="user-1", role="admin"))
    assert _rejection_reason(f"{header}.{escalated}.{signature}") == "bad_signature"


def test_token_signed_with_another_secret_is_rejected() -> None:
    other = jwt.encode(_valid_claims(), "another-secret-key-0123456789abcdef012345", "HS256")
    assert _rejection_reason(other) == "bad_signature"


def test_expired_token_is_rejected() -> None:
    now = int(time.time())
    expired = _signed_with_real_key(_valid_claims(iat=now - 960, nbf=now - 960, exp=now - 60))
    assert _rejection_reason(expired) == "expired"


def test_token_expired_within_the_clock_skew_leeway_is_accepted() -> None:
    now = int(time.time())
    token = _signed_with_real_key(_valid_claims(iat=now - 900, nbf=now - 900, exp=now - 2))
    assert decode_access_token(token).user_id == "user-1"


def test_token_not_yet_valid_is_rejected() -> None:
    later = int(time.time()) + 120
    assert _rejection_reason(_signed_with_real_key(_valid_claims(nbf=later))) == "not_yet_valid"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "another-api"}, "wrong_audience"),
        ({"aud": [AUDIENCE, "another-api"]}, "wrong_audience"),
        ({"iss": "someone-else"}, "wrong_issuer"),
        ({"typ": "refresh"}, "wrong_type"),
        ({"sub": 42}, "malformed"),
        ({"role": ["admin"]}, "malformed"),
        ({"sid": {"family": 1}}, "malformed"),
    ],
)
def test_token_with_wrong_claim_is_rejected(changes: dict[str, Any], reason: str) -> None:
    assert _rejection_reason(_signed_with_real_key(_valid_claims(**changes))) == reason


@pytest.mark.parametrize("claim", ["sub", "role", "iat", "nbf", "exp", "jti", "iss", "aud", "typ"])
def test_token_missing_a_required_claim_is_rejected(claim: str) -> None:
    token = _signed_with_real_key(_valid_claims(**{claim: None}))
    assert _rejection_reason(token) == "missing_claim"


@pytest.mark.parametrize(
    "garbage",
    ["", "Bearer", "not-a-jwt", "a.b.c", "a.b", "....", "💥.💥.💥"],
)
def test_garbage_is_rejected(garbage: str) -> None:
    assert _rejection_reason(garbage) == "malformed"


def test_token_with_signature_stripped_is_rejected() -> None:
    header, payload, _ = create_access_token(user_id="user-1", role="user").token.split(".")
    assert _rejection_reason(f"{header}.{payload}.") == "bad_signature"


def test_opaque_refresh_or_reset_token_is_not_an_access_token() -> None:
    assert _rejection_reason(new_opaque_token()) == "malformed"


def test_changed_audience_setting_applies_to_tokens_already_issued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = create_access_token(user_id="user-1", role="user").token
    reload_settings(monkeypatch, JWT_AUDIENCE="the-new-api")
    assert _rejection_reason(token) == "wrong_audience"
    assert decode_access_token(create_access_token(user_id="u", role="user").token).user_id == "u"


def test_short_secret_key_refuses_to_sign_or_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    token = create_access_token(user_id="user-1", role="user").token
    reload_settings(monkeypatch, SECRET_KEY="only-31-bytes-long-secret-value")
    with pytest.raises(SettingsError, match="SECRET_KEY must be at least 32 bytes"):
        create_access_token(user_id="user-1", role="user")
    with pytest.raises(SettingsError, match="SECRET_KEY must be at least 32 bytes"):
        decode_access_token(token)


def test_opaque_tokens_are_url_safe_with_at_least_256_bits() -> None:
    tokens = {new_opaque_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", token)
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 32


def test_token_hash_is_sha256_hex_and_stable() -> None:
    token = new_opaque_token()
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert hash_token(token) == hash_token(token)
    assert hash_token(token) != hash_token(new_opaque_token())
    assert token not in hash_token(token)
