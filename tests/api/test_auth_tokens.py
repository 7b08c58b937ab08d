"""Access-token attacks, refresh-token rotation and reuse, logout and logout-all."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared import clock
from shared.config import get_settings
from tests.api.client import ApiClient, Response
from tests.api.conftest import Account, MakeAccount, login
from tests.conftest import reload_settings

ME = "/api/v1/users/me"
USERS = "/api/v1/users"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
LOGOUT_ALL = "/api/v1/auth/logout-all"
REQUIRED_CLAIMS = ["sub", "role", "iat", "nbf", "exp", "jti", "iss", "aud", "typ"]

_real_now = clock.now

pytestmark = pytest.mark.usefixtures("lenient_auth_rate_limit")


def move_clock(monkeypatch: pytest.MonkeyPatch, delta: timedelta) -> None:
    monkeypatch.setattr(clock, "now", lambda: _real_now() + delta)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(user_id: str, **overrides: Any) -> dict[str, Any]:
    """Claims the app itself would issue, give or take ``overrides``."""
    settings = get_settings()
    now = time.time()
    claims: dict[str, Any] = {
        "sub": user_id,
        "role": "user",
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + 600,
        "jti": secrets.token_urlsafe(16),
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "typ": "access",
    }
    claims.update(overrides)
    return claims


def signed(claims: dict[str, Any], *, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key or get_settings().SECRET_KEY, algorithm=algorithm)


def hand_signed(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT assembled by hand, for algorithms PyJWT refuses to produce."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = (
        b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if key else ""
    )
    return f"{signing_input}.{signature}"


def assert_rejected(response: Response) -> None:
    assert response.status == 401, response.body
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.content_type == "application/problem+json"


def refresh(client: ApiClient, token: str) -> Response:
    return client.post(REFRESH, json={"refresh_token": token})


# --- access-token attacks ----------------------------------------------------------------


def test_a_token_crafted_like_the_app_does_is_accepted(client: ApiClient, user: Account) -> None:
    # The control for every forgery below: the crafting itself is sound.
    response = client.get(ME, token=signed(claims_for(user.id)))

    assert response.status == 200
    assert response.json["id"] == user.id


def test_bearer_scheme_is_case_insensitive(client: ApiClient, user: Account) -> None:
    response = client.get(ME, headers={"Authorization": f"bearer {user.access_token}"})

    assert response.status == 200


def test_alg_none_token_is_401(client: ApiClient, user: Account) -> None:
    for alg in ("none", "None", "NONE"):
        token = hand_signed({"alg": alg, "typ": "JWT"}, claims_for(user.id), key=None)
        assert_rejected(client.get(ME, token=token))


def test_rs256_token_signed_with_an_attackers_key_is_401(client: ApiClient, user: Account) -> None:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    token = jwt.encode(claims_for(user.id), private_key, algorithm="RS256")

    assert_rejected(client.get(ME, token=token))


def test_hs256_token_keyed_with_a_public_key_is_401(client: ApiClient, user: Account) -> None:
    public_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    token = hand_signed({"alg": "HS256", "typ": "JWT"}, claims_for(user.id), key=public_pem)

    assert_rejected(client.get(ME, token=token))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_token_signed_with_another_secret_or_algorithm_is_401(
    client: ApiClient, user: Account
) -> None:
    other_secret = signed(claims_for(user.id), key="another-secret-that-is-long-enough-000")
    hs512 = signed(claims_for(user.id), algorithm="HS512")

    assert_rejected(client.get(ME, token=other_secret))
    assert_rejected(client.get(ME, token=hs512))


def test_token_with_a_flipped_signature_is_401(client: ApiClient, user: Account) -> None:
    head, payload, signature = user.access_token.split(".")
    middle = len(signature) // 2
    flipped = (
        signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    )

    assert_rejected(client.get(ME, token=f"{head}.{payload}.{flipped}"))
    assert_rejected(client.get(ME, token=f"{head}.{payload}."))


def test_token_with_an_edited_payload_is_401(client: ApiClient, user: Account) -> None:
    head, payload, signature = user.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = f"{head}.{b64url(json.dumps(claims).encode())}.{signature}"

    assert_rejected(client.get(ME, token=forged))
    assert_rejected(client.get(USERS, token=forged))


def test_role_claim_grants_nothing_beyond_the_stored_role(client: ApiClient, user: Account) -> None:
    # Even a correctly signed token saying "admin" is judged by the user's stored role.
    response = client.get(USERS, token=signed(claims_for(user.id, role="admin")))

    assert response.status == 403


def test_expired_token_is_401(client: ApiClient, user: Account) -> None:
    issued = int(time.time()) - 3600
    token = signed(claims_for(user.id, iat=issued, nbf=issued, exp=issued + 900))

    assert_rejected(client.get(ME, token=token))


def test_not_yet_valid_token_is_401(client: ApiClient, user: Account) -> None:
    later = int(time.time()) + 3600

    token = signed(claims_for(user.id, nbf=later, exp=later + 900))

    assert_rejected(client.get(ME, token=token))


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "some-other-api"},
        {"aud": ["some-other-api"]},
        {"iss": "https://evil.example"},
        {"typ": "refresh"},
        {"typ": "reset"},
        {"sub": "not-an-object-id"},
        {"sub": "0123456789abcdef01234567"},
        {"sub": 12345},
        {"exp": True},
    ],
    ids=[
        "wrong-aud",
        "aud-list",
        "wrong-iss",
        "typ-refresh",
        "typ-reset",
        "sub-malformed",
        "sub-unknown",
        "sub-number",
        "exp-bool",
    ],
)
def test_token_with_wrong_claims_is_401(
    client: ApiClient, user: Account, overrides: dict[str, Any]
) -> None:
    assert_rejected(client.get(ME, token=signed(claims_for(user.id, **overrides))))


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_token_missing_a_claim_is_401(client: ApiClient, user: Account, claim: str) -> None:
    claims = claims_for(user.id)
    del claims[claim]

    assert_rejected(client.get(ME, token=signed(claims)))


def test_refresh_token_used_as_access_token_is_401(client: ApiClient, user: Account) -> None:
    assert_rejected(client.get(ME, token=user.refresh_token))


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.",
        "Bearer ",
        "Bearer",
        "Token abc",
        "",
    ],
    ids=[
        "garbage",
        "three-dots",
        "empty-claims",
        "empty-token",
        "scheme-only",
        "other-scheme",
        "empty",
    ],
)
def test_malformed_authorization_is_401(
    client: ApiClient, user: Account, authorization: str
) -> None:
    assert_rejected(client.get(ME, headers={"Authorization": authorization}))


def test_basic_credentials_are_401(client: ApiClient, user: Account) -> None:
    basic = base64.b64encode(f"{user.email}:{user.password}".encode()).decode()

    assert_rejected(client.get(ME, headers={"Authorization": f"Basic {basic}"}))


def test_missing_authorization_is_401(client: ApiClient) -> None:
    assert_rejected(client.get(ME))


def test_token_of_a_deleted_user_is_401(client: ApiClient, user: Account) -> None:
    client.delete(ME, json={"password": user.password}, token=user.access_token)

    assert_rejected(client.get(ME, token=signed(claims_for(user.id))))


# --- refresh ------------------------------------------------------------------------------


def test_refresh_rotates_the_token_pair(client: ApiClient, user: Account) -> None:
    response = refresh(client, user.refresh_token)

    assert response.status == 200
    rotated = response.json
    assert rotated["refresh_token"] != user.refresh_token
    assert rotated["access_token"] != user.access_token
    assert client.get(ME, token=rotated["access_token"]).json["id"] == user.id
    assert refresh(client, rotated["refresh_token"]).status == 200


def test_refresh_token_reuse_is_401_token_reused(client: ApiClient, user: Account) -> None:
    refresh(client, user.refresh_token)

    replay = refresh(client, user.refresh_token)

    assert_rejected(replay)
    assert replay.json["code"] == "token_reused"


def test_refresh_token_reuse_revokes_the_whole_family(client: ApiClient, user: Account) -> None:
    second = refresh(client, user.refresh_token).json
    third = refresh(client, second["refresh_token"]).json

    refresh(client, user.refresh_token)  # the thief, or the victim, replays the first one

    assert refresh(client, third["refresh_token"]).status == 401
    assert_rejected(client.get(ME, token=third["access_token"]))
    assert_rejected(client.get(ME, token=user.access_token))


def test_refresh_token_reuse_leaves_other_sessions_alive(client: ApiClient, user: Account) -> None:
    laptop = login(client, user.email)
    refresh(client, user.refresh_token)

    refresh(client, user.refresh_token)

    assert client.get(ME, token=laptop["access_token"]).status == 200
    assert refresh(client, laptop["refresh_token"]).status == 200


def test_refresh_with_an_unknown_token_is_401_invalid_token(
    client: ApiClient, user: Account
) -> None:
    response = refresh(client, secrets.token_urlsafe(32))

    assert_rejected(response)
    assert response.json["code"] == "invalid_token"
    assert refresh(client, user.refresh_token).status == 200


@pytest.mark.parametrize(
    "body",
    [{"refresh_token": "short"}, {"refresh_token": {"$ne": None}}, {}],
    ids=["too-short", "operator", "missing"],
)
def test_refresh_with_a_malformed_body_is_422(client: ApiClient, body: dict[str, Any]) -> None:
    response = client.post(REFRESH, json=body)

    assert response.status == 422
    assert response.json["code"] == "validation_error"


def test_an_access_token_is_not_a_refresh_token(client: ApiClient, user: Account) -> None:
    response = refresh(client, user.access_token)

    assert_rejected(response)
    assert response.json["code"] == "invalid_token"


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads every microsecond so racing requests really interleave."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def test_parallel_refreshes_of_one_token_succeed_at_most_once(
    client: ApiClient, user: Account, frequent_thread_switches: None
) -> None:
    racers, rounds = 8, 20
    outcomes: list[list[int]] = []
    for _ in range(rounds):
        token = login(client, user.email)["refresh_token"]
        start = threading.Barrier(racers)

        def race(_: int, token: str = token, start: threading.Barrier = start) -> int:
            start.wait()
            return refresh(client, token).status

        with ThreadPoolExecutor(max_workers=racers) as pool:
            outcomes.append(list(pool.map(race, range(racers))))

    for statuses in outcomes:
        assert statuses.count(200) <= 1, statuses
        assert set(statuses) <= {200, 401}


def test_refresh_family_ends_at_its_absolute_lifetime(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    move_clock(monkeypatch, timedelta(days=29))
    late = refresh(client, user.refresh_token)
    move_clock(monkeypatch, timedelta(days=30, seconds=1))
    expired = refresh(client, late.json["refresh_token"])

    assert late.status == 200
    # Rotation never extends the family: about one day is left, not thirty.
    assert 86400 - 120 <= late.json["refresh_expires_in"] <= 86400
    assert_rejected(expired)
    assert expired.json["code"] == "invalid_token"


def test_refresh_family_lifetime_follows_the_setting(
    client: ApiClient, make_account: MakeAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    reload_settings(monkeypatch, REFRESH_TOKEN_EXPIRE_DAYS="2")
    account = make_account("user")

    move_clock(monkeypatch, timedelta(days=2, seconds=1))

    assert_rejected(refresh(client, account.refresh_token))


# --- logout -------------------------------------------------------------------------------


def test_logout_kills_this_access_token_and_refresh_token(client: ApiClient, user: Account) -> None:
    response = client.post(
        LOGOUT, json={"refresh_token": user.refresh_token}, token=user.access_token
    )

    assert response.status == 204
    assert_rejected(client.get(ME, token=user.access_token))
    assert_rejected(refresh(client, user.refresh_token))


def test_logout_without_a_body_still_ends_the_refresh_family(
    client: ApiClient, user: Account
) -> None:
    response = client.post(LOGOUT, token=user.access_token)

    assert response.status == 204
    assert_rejected(client.get(ME, token=user.access_token))
    assert_rejected(refresh(client, user.refresh_token))


def test_logout_also_kills_earlier_access_tokens_of_the_session(
    client: ApiClient, user: Account
) -> None:
    rotated = refresh(client, user.refresh_token).json

    client.post(LOGOUT, token=rotated["access_token"])

    assert_rejected(client.get(ME, token=user.access_token))
    assert_rejected(client.get(ME, token=rotated["access_token"]))
    assert_rejected(refresh(client, rotated["refresh_token"]))


def test_logout_leaves_the_users_other_sessions_alive(client: ApiClient, user: Account) -> None:
    phone = login(client, user.email)

    client.post(LOGOUT, token=user.access_token)

    assert client.get(ME, token=phone["access_token"]).status == 200
    assert refresh(client, phone["refresh_token"]).status == 200


def test_logout_naming_another_own_refresh_token_ends_that_session_too(
    client: ApiClient, user: Account
) -> None:
    phone = login(client, user.email)
    tablet = login(client, user.email)

    client.post(LOGOUT, json={"refresh_token": phone["refresh_token"]}, token=user.access_token)

    assert_rejected(client.get(ME, token=phone["access_token"]))
    assert_rejected(refresh(client, phone["refresh_token"]))
    assert client.get(ME, token=tablet["access_token"]).status == 200


def test_logout_cannot_end_another_users_session(
    client: ApiClient, make_account: MakeAccount
) -> None:
    mallory, victim = make_account("user"), make_account("user")

    response = client.post(
        LOGOUT, json={"refresh_token": victim.refresh_token}, token=mallory.access_token
    )

    assert response.status == 204
    assert refresh(client, victim.refresh_token).status == 200


def test_logout_needs_an_access_token(client: ApiClient, user: Account) -> None:
    assert_rejected(client.post(LOGOUT, json={"refresh_token": user.refresh_token}))
    assert refresh(client, user.refresh_token).status == 200


def test_logout_all_ends_every_session(client: ApiClient, user: Account) -> None:
    tablet = login(client, user.email)
    rotated = refresh(client, tablet["refresh_token"]).json

    response = client.post(LOGOUT_ALL, token=user.access_token)

    assert response.status == 204
    for access in (user.access_token, tablet["access_token"], rotated["access_token"]):
        assert_rejected(client.get(ME, token=access))
    for refresh_token in (user.refresh_token, rotated["refresh_token"]):
        assert_rejected(refresh(client, refresh_token))
    fresh = login(client, user.email)
    assert client.get(ME, token=fresh["access_token"]).status == 200
    assert refresh(client, fresh["refresh_token"]).status == 200


def test_logout_all_revokes_tokens_minted_in_the_same_millisecond(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    instant = clock.now()
    monkeypatch.setattr(clock, "now", lambda: instant)  # token times are in milliseconds
    same_instant = login(client, user.email)

    client.post(LOGOUT_ALL, token=user.access_token)

    assert_rejected(client.get(ME, token=same_instant["access_token"]))
    assert_rejected(refresh(client, same_instant["refresh_token"]))


def test_logout_all_leaves_other_users_alone(client: ApiClient, make_account: MakeAccount) -> None:
    first, second = make_account("user"), make_account("user")

    client.post(LOGOUT_ALL, token=first.access_token)

    assert client.get(ME, token=second.access_token).status == 200
