"""TOTP second factor: setup, enable, login with codes and recovery codes, disable."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from bson import ObjectId, json_util

from shared.db import collections
from tests.api.client import ApiClient, Response, assert_problem
from tests.api.conftest import Account

SETUP = "/api/v1/auth/mfa/setup"
ENABLE = "/api/v1/auth/mfa/enable"
DISABLE = "/api/v1/auth/mfa/disable"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/users/me"

pytestmark = pytest.mark.usefixtures("lenient_auth_rate_limit")


@dataclass
class MfaAccount:
    account: Account
    totp: pyotp.TOTP
    recovery_codes: list[str]

    def code(self, steps_ahead: int = 0) -> str:
        """The code of the current time step, or of one within the accepted drift."""
        return self.totp.at(time.time(), counter_offset=steps_ahead)


def start_setup(client: ApiClient, account: Account) -> pyotp.TOTP:
    response = client.post(SETUP, token=account.access_token)
    assert response.status == 200, response.body
    return pyotp.TOTP(response.json["secret"])


@pytest.fixture
def mfa_user(client: ApiClient, user: Account) -> MfaAccount:
    """A user who has just enabled TOTP with the current step's code."""
    totp = start_setup(client, user)
    response = client.post(ENABLE, json={"otp": totp.now()}, token=user.access_token)
    assert response.status == 200, response.body
    return MfaAccount(user, totp, response.json["recovery_codes"])


def sign_in(client: ApiClient, account: Account, **extra: Any) -> Response:
    return client.post(LOGIN, json={"email": account.email, "password": account.password, **extra})


def stored_user(account: Account) -> str:
    """The whole stored user document as text, for "nothing in clear" checks."""
    document = collections.users().find_one({"_id": ObjectId(account.id)})
    return json_util.dumps(document)


# --- setup and enable ---------------------------------------------------------------------


def test_setup_returns_secret_otpauth_uri_and_svg(client: ApiClient, user: Account) -> None:
    response = client.post(SETUP, token=user.access_token)

    assert response.status == 200
    body = response.json
    assert set(body) == {"secret", "otpauth_uri", "qr_svg"}
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == f"/Runtime Traitors:{user.email}"
    query = parse_qs(uri.query)
    assert query["secret"] == [body["secret"]]
    assert query["issuer"] == ["Runtime Traitors"]
    assert body["qr_svg"].lstrip().startswith("<svg")
    assert "<script" not in body["qr_svg"]
    assert "href" not in body["qr_svg"]


def test_pending_setup_does_not_change_login(client: ApiClient, user: Account) -> None:
    start_setup(client, user)

    assert sign_in(client, user).status == 200
    assert client.get(ME, token=user.access_token).json["mfa_enabled"] is False


def test_enable_with_a_wrong_code_is_400_mfa_invalid(client: ApiClient, user: Account) -> None:
    totp = start_setup(client, user)
    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"

    response = client.post(ENABLE, json={"otp": wrong}, token=user.access_token)

    assert_problem(response, 400, "mfa_invalid")
    assert sign_in(client, user).status == 200


def test_enable_without_setup_is_400(client: ApiClient, user: Account) -> None:
    response = client.post(ENABLE, json={"otp": "123456"}, token=user.access_token)

    assert_problem(response, 400, "mfa_not_set_up")


def test_enable_returns_ten_distinct_recovery_codes(
    client: ApiClient, mfa_user: MfaAccount
) -> None:
    codes = mfa_user.recovery_codes

    assert len(codes) == 10
    assert len(set(codes)) == 10
    me = client.get(ME, token=mfa_user.account.access_token).json
    assert me["mfa_enabled"] is True


def test_setup_again_while_enabled_is_409(client: ApiClient, mfa_user: MfaAccount) -> None:
    response = client.post(SETUP, token=mfa_user.account.access_token)

    assert_problem(response, 409, "mfa_already_enabled")


def test_mfa_routes_need_an_access_token(client: ApiClient) -> None:
    for url, body in ((SETUP, None), (ENABLE, {"otp": "123456"})):
        response = client.post(url, json=body)
        assert response.status == 401
        assert response.headers["www-authenticate"] == "Bearer"


def test_totp_secret_and_recovery_codes_are_not_stored_in_clear(
    client: ApiClient, user: Account
) -> None:
    totp = start_setup(client, user)
    pending = stored_user(user)
    codes = client.post(ENABLE, json={"otp": totp.now()}, token=user.access_token).json[
        "recovery_codes"
    ]
    enabled = stored_user(user)

    for document in (pending, enabled):
        assert totp.secret not in document
        assert totp.secret.lower() not in document.lower()
    for code in codes:
        assert code not in enabled
        assert code.replace("-", "") not in enabled


# --- login with a second factor -------------------------------------------------------------


def test_login_without_a_code_is_401_mfa_required(client: ApiClient, mfa_user: MfaAccount) -> None:
    response = sign_in(client, mfa_user.account)

    assert_problem(response, 401, "mfa_required")
    assert response.headers["www-authenticate"] == "Bearer"


def test_login_with_a_wrong_code_is_401_mfa_invalid(
    client: ApiClient, mfa_user: MfaAccount
) -> None:
    wrong = f"{(int(mfa_user.code(1)) + 1) % 1_000_000:06d}"

    assert_problem(sign_in(client, mfa_user.account, otp=wrong), 401, "mfa_invalid")
    assert_problem(sign_in(client, mfa_user.account, otp="abcdef"), 401, "mfa_invalid")


def test_login_with_a_wrong_password_and_a_good_code_is_invalid_credentials(
    client: ApiClient, mfa_user: MfaAccount
) -> None:
    response = client.post(
        LOGIN,
        json={
            "email": mfa_user.account.email,
            "password": "not the password at all",
            "otp": mfa_user.code(1),
        },
    )

    assert_problem(response, 401, "invalid_credentials")


def test_login_with_a_fresh_code_returns_tokens(client: ApiClient, mfa_user: MfaAccount) -> None:
    # The current step was spent enabling MFA; the next one is within the accepted drift.
    response = sign_in(client, mfa_user.account, otp=mfa_user.code(1))

    assert response.status == 200, response.body
    assert client.get(ME, token=response.json["access_token"]).status == 200


def test_a_code_cannot_be_replayed(client: ApiClient, mfa_user: MfaAccount) -> None:
    code = mfa_user.code(1)
    assert sign_in(client, mfa_user.account, otp=code).status == 200

    assert_problem(sign_in(client, mfa_user.account, otp=code), 401, "mfa_invalid")


def test_the_code_used_to_enable_cannot_sign_in(client: ApiClient, user: Account) -> None:
    totp = start_setup(client, user)
    code = totp.now()
    client.post(ENABLE, json={"otp": code}, token=user.access_token)

    response = sign_in(client, user, otp=code)

    assert_problem(response, 401, "mfa_invalid")


def test_a_recovery_code_works_once(client: ApiClient, mfa_user: MfaAccount) -> None:
    recovery = mfa_user.recovery_codes[3]

    first = sign_in(client, mfa_user.account, otp=recovery)
    second = sign_in(client, mfa_user.account, otp=recovery)

    assert first.status == 200
    assert_problem(second, 401, "mfa_invalid")
    assert sign_in(client, mfa_user.account, otp=mfa_user.recovery_codes[4]).status == 200


def test_a_recovery_code_is_accepted_as_typed_loosely(
    client: ApiClient, mfa_user: MfaAccount
) -> None:
    loose = mfa_user.recovery_codes[0].upper().replace("-", " ")

    assert sign_in(client, mfa_user.account, otp=loose).status == 200


def test_repeated_wrong_codes_lock_the_login(client: ApiClient, mfa_user: MfaAccount) -> None:
    wrong = f"{(int(mfa_user.code(1)) + 1) % 1_000_000:06d}"
    for _ in range(5):
        sign_in(client, mfa_user.account, otp=wrong)

    response = sign_in(client, mfa_user.account, otp=mfa_user.code(1))

    assert_problem(response, 429, "login_locked")


# --- disable --------------------------------------------------------------------------------


@pytest.fixture
def disable(client: ApiClient, mfa_user: MfaAccount) -> Callable[..., Response]:
    return lambda **body: client.post(DISABLE, json=body, token=mfa_user.account.access_token)


def test_disable_needs_the_password(mfa_user: MfaAccount, disable: Callable[..., Response]) -> None:
    response = disable(password="not the password at all", otp=mfa_user.code(1))

    assert_problem(response, 400, "invalid_password")


def test_disable_needs_a_valid_code(mfa_user: MfaAccount, disable: Callable[..., Response]) -> None:
    wrong = f"{(int(mfa_user.code(1)) + 1) % 1_000_000:06d}"

    assert_problem(disable(password=mfa_user.account.password, otp=wrong), 400, "mfa_invalid")
    missing = disable(password=mfa_user.account.password)
    assert_problem(missing, 422, "validation_error")


def test_disable_with_password_and_code_turns_mfa_off(
    client: ApiClient, mfa_user: MfaAccount, disable: Callable[..., Response]
) -> None:
    response = disable(password=mfa_user.account.password, otp=mfa_user.code(1))

    assert response.status == 204
    assert sign_in(client, mfa_user.account).status == 200
    me = client.get(ME, token=mfa_user.account.access_token).json
    assert me["mfa_enabled"] is False
    assert mfa_user.totp.secret not in stored_user(mfa_user.account)


def test_disable_accepts_a_recovery_code(
    client: ApiClient, mfa_user: MfaAccount, disable: Callable[..., Response]
) -> None:
    response = disable(password=mfa_user.account.password, otp=mfa_user.recovery_codes[9])

    assert response.status == 204
    assert sign_in(client, mfa_user.account).status == 200


def test_disable_when_not_enabled_is_400(client: ApiClient, user: Account) -> None:
    response = client.post(
        DISABLE, json={"password": user.password, "otp": "123456"}, token=user.access_token
    )

    assert_problem(response, 400, "mfa_not_enabled")


def test_mfa_can_be_set_up_again_after_disabling(
    client: ApiClient, mfa_user: MfaAccount, disable: Callable[..., Response]
) -> None:
    disable(password=mfa_user.account.password, otp=mfa_user.code(1))
    totp = start_setup(client, mfa_user.account)

    response = client.post(ENABLE, json={"otp": totp.now()}, token=mfa_user.account.access_token)

    assert response.status == 200
    assert_problem(sign_in(client, mfa_user.account), 401, "mfa_required")
