"""Users: one's own profile and password, and account management by admins."""

from __future__ import annotations

import re
import sys
import threading
from datetime import datetime
from typing import Any

import pytest
from bson import ObjectId

from tests.api.client import ApiClient, Response, assert_not_found, assert_problem
from tests.api.conftest import NEW_PASSWORD, USER_FIELDS, Account, MakeAccount, login

ME = "/api/v1/users/me"
MY_PASSWORD = "/api/v1/users/me/password"
USERS = "/api/v1/users"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"

pytestmark = pytest.mark.usefixtures("lenient_auth_rate_limit")

OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")


def sign_in(client: ApiClient, email: str, password: str) -> Response:
    return client.post(LOGIN, json={"email": email, "password": password})


def refresh(client: ApiClient, token: str) -> Response:
    return client.post(REFRESH, json={"refresh_token": token})


def user_url(user_id: str) -> str:
    return f"{USERS}/{user_id}"


def create_user(client: ApiClient, admin: Account, email: str, **fields: Any) -> dict[str, Any]:
    body = {"email": email, "password": "tangerine lighthouse 5150 swing", **fields}
    response = client.post(USERS, json=body, token=admin.access_token)
    assert response.status == 201, response.body
    user: dict[str, Any] = response.json
    return user


# --- one's own profile ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["guest", "user", "admin"])
def test_every_role_reads_its_own_profile(
    client: ApiClient, make_account: MakeAccount, role: str
) -> None:
    account = make_account(role)

    response = client.get(ME, token=account.access_token)

    assert response.status == 200
    body = response.json
    assert set(body) == USER_FIELDS
    assert (body["id"], body["email"], body["role"]) == (account.id, account.email, role)


def test_profile_never_shows_secrets(client: ApiClient, user: Account) -> None:
    text = client.get(ME, token=user.access_token).body.decode()

    for secret_word in ("password", "hash", "secret", "revoked", "token", 'mfa":{'):
        assert secret_word not in text


def test_patch_me_changes_the_full_name(client: ApiClient, guest: Account) -> None:
    before = client.get(ME, token=guest.access_token).json

    response = client.patch(ME, json={"full_name": "  Grace Hopper "}, token=guest.access_token)

    assert response.status == 200
    assert response.json["full_name"] == "Grace Hopper"
    updated_at = datetime.fromisoformat(response.json["updated_at"])
    assert updated_at >= datetime.fromisoformat(before["updated_at"])
    assert client.get(ME, token=guest.access_token).json["full_name"] == "Grace Hopper"


def test_patch_me_can_clear_the_full_name(client: ApiClient, user: Account) -> None:
    client.patch(ME, json={"full_name": "Temporary"}, token=user.access_token)

    response = client.patch(ME, json={"full_name": None}, token=user.access_token)

    assert response.json["full_name"] is None


@pytest.mark.parametrize(
    "changes",
    [
        {"role": "admin"},
        {"is_active": False},
        {"email": "new@example.com"},
        {"password": NEW_PASSWORD},
        {"id": "0123456789abcdef01234567"},
        {"full_name": "Ok", "role": "admin"},
        {"full_name": 42},
        {"full_name": "x" * 101},
        {"full_name": "Zero\u200bWidth"},
        {"mfa_enabled": False},
    ],
    ids=[
        "role",
        "is_active",
        "email",
        "password",
        "id",
        "name-and-role",
        "name-number",
        "name-too-long",
        "name-format-char",
        "mfa_enabled",
    ],
)
def test_patch_me_refuses_anything_but_a_valid_full_name(
    client: ApiClient, user: Account, changes: dict[str, Any]
) -> None:
    response = client.patch(ME, json=changes, token=user.access_token)

    assert_problem(response, 422, "validation_error")
    me = client.get(ME, token=user.access_token).json
    assert (me["role"], me["email"], me["is_active"], me["full_name"]) == (
        "user",
        user.email,
        True,
        None,
    )


# --- password change ------------------------------------------------------------------------


def change_password(client: ApiClient, account: Account, current: str, new: str) -> Response:
    return client.post(
        MY_PASSWORD,
        json={"current_password": current, "new_password": new},
        token=account.access_token,
    )


def test_password_change_replaces_the_password(client: ApiClient, user: Account) -> None:
    response = change_password(client, user, user.password, NEW_PASSWORD)

    assert response.status == 204
    assert sign_in(client, user.email, NEW_PASSWORD).status == 200
    assert_problem(sign_in(client, user.email, user.password), 401, "invalid_credentials")


def test_password_change_ends_other_sessions_but_keeps_the_callers(
    client: ApiClient, user: Account
) -> None:
    other = login(client, user.email)

    change_password(client, user, user.password, NEW_PASSWORD)

    assert_problem(client.get(ME, token=other["access_token"]), 401, "invalid_token")
    assert_problem(refresh(client, other["refresh_token"]), 401, "invalid_token")
    # The device that changed the password stays signed in, and may keep refreshing.
    assert client.get(ME, token=user.access_token).status == 200
    rotated = refresh(client, user.refresh_token)
    assert rotated.status == 200
    assert refresh(client, rotated.json["refresh_token"]).status == 200


def test_a_later_password_change_elsewhere_ends_the_formerly_kept_session(
    client: ApiClient, user: Account
) -> None:
    change_password(client, user, user.password, NEW_PASSWORD)  # this device stays signed in
    tokens = login(client, user.email, NEW_PASSWORD)
    laptop = Account(
        user.id, user.email, NEW_PASSWORD, tokens["access_token"], tokens["refresh_token"]
    )

    change_password(client, laptop, NEW_PASSWORD, "another fine passphrase 55 wombat")

    assert_problem(client.get(ME, token=user.access_token), 401, "invalid_token")
    assert_problem(refresh(client, user.refresh_token), 401, "invalid_token")
    assert client.get(ME, token=laptop.access_token).status == 200


def test_password_change_with_a_wrong_current_password_is_400(
    client: ApiClient, user: Account
) -> None:
    response = change_password(client, user, "not my password at all", NEW_PASSWORD)

    problem = assert_problem(response, 400, "invalid_password")
    assert problem["detail"] == "The current password is not correct"  # which field was wrong
    assert sign_in(client, user.email, user.password).status == 200


@pytest.mark.parametrize(
    "new",
    ["password1234", "short1!", "{local}-horse-battery-staple"],
    ids=["common", "short", "email-name"],
)
def test_password_change_to_a_weak_password_is_422(
    client: ApiClient, user: Account, new: str
) -> None:
    weak = new.format(local=user.email.partition("@")[0])

    response = change_password(client, user, user.password, weak)

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "new_password"]
    assert sign_in(client, user.email, user.password).status == 200


# --- closing one's own account ----------------------------------------------------------------


def test_delete_me_with_the_password_removes_the_account(
    client: ApiClient, user: Account, admin: Account
) -> None:
    response = client.delete(ME, json={"password": user.password}, token=user.access_token)

    assert response.status == 204
    assert_problem(sign_in(client, user.email, user.password), 401, "invalid_credentials")
    assert client.get(ME, token=user.access_token).status == 401
    assert refresh(client, user.refresh_token).status == 401
    assert_problem(client.get(user_url(user.id), token=admin.access_token), 404, "not_found")


def test_delete_me_with_a_wrong_password_is_400(client: ApiClient, user: Account) -> None:
    response = client.delete(
        ME, json={"password": "not my password at all"}, token=user.access_token
    )

    problem = assert_problem(response, 400, "invalid_password")
    assert problem["detail"] == "The password is not correct"
    assert client.get(ME, token=user.access_token).status == 200


def test_wrong_passwords_at_account_deletion_lock_it_and_the_refusal_is_audited(
    client: ApiClient, user: Account, admin: Account
) -> None:
    wrong = {"password": "not my password at all"}
    answers = [client.delete(ME, json=wrong, token=user.access_token) for _ in range(5)]
    locked = client.delete(ME, json={"password": user.password}, token=user.access_token)

    assert [answer.status for answer in answers] == [400] * 5
    assert_problem(locked, 429, "login_locked")
    assert client.get(ME, token=user.access_token).status == 200, "the account is still there"
    events = client.get(
        "/api/v1/admin/audit-log?action=user.step_up_refused", token=admin.access_token
    ).json["items"]
    assert [(e["actor_id"], e["target_id"], e["details"]) for e in events] == [
        (user.id, user.id, {"reason": "locked"})
    ]


def test_the_email_of_a_deleted_account_can_register_again(
    client: ApiClient, user: Account
) -> None:
    client.delete(ME, json={"password": user.password}, token=user.access_token)

    response = client.post(
        "/api/v1/auth/register", json={"email": user.email, "password": NEW_PASSWORD}
    )

    assert response.status == 201
    assert response.json["id"] != user.id


def test_the_last_admin_cannot_delete_their_own_account(client: ApiClient, admin: Account) -> None:
    response = client.delete(ME, json={"password": admin.password}, token=admin.access_token)

    assert_problem(response, 409, "last_admin")
    assert client.get(ME, token=admin.access_token).status == 200


# --- other users: admins only ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["guest", "user"])
def test_non_admins_can_never_read_or_change_another_user(
    client: ApiClient, make_account: MakeAccount, role: str
) -> None:
    caller, other = make_account(role), make_account("user")
    url = user_url(other.id)

    responses = [
        client.get(url, token=caller.access_token),
        client.patch(url, json={"full_name": "Pwned"}, token=caller.access_token),
        client.delete(url, token=caller.access_token),
        client.get(user_url(caller.id), token=caller.access_token),
    ]

    for response in responses:
        assert_problem(response, 403, "forbidden")
    assert client.get(ME, token=other.access_token).json["full_name"] is None


def test_admin_reads_any_user(client: ApiClient, admin: Account, user: Account) -> None:
    response = client.get(user_url(user.id), token=admin.access_token)

    assert response.status == 200
    assert set(response.json) == USER_FIELDS
    assert response.json["email"] == user.email


@pytest.mark.parametrize(
    "user_id", ["not-an-id", "0123456789abcdef0123456", "zzzzzzzzzzzzzzzzzzzzzzzz", "%24ne"]
)
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_malformed_user_id_is_404(
    client: ApiClient, admin: Account, user_id: str, method: str
) -> None:
    body = {"full_name": "x"} if method == "PATCH" else None

    response = client.request(method, user_url(user_id), json_body=body, token=admin.access_token)

    assert_not_found(response, path_is_malformed=OBJECT_ID.fullmatch(user_id) is None)


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_unknown_user_id_is_404(client: ApiClient, admin: Account, method: str) -> None:
    body = {"full_name": "x"} if method == "PATCH" else None

    response = client.request(
        method, user_url(str(ObjectId())), json_body=body, token=admin.access_token
    )

    assert_problem(response, 404, "not_found")


def test_admin_creates_a_user_with_a_role(client: ApiClient, admin: Account) -> None:
    created = create_user(client, admin, "Deputy@Example.com", role="admin", full_name="Dep")

    assert set(created) == USER_FIELDS
    assert (created["email"], created["role"], created["full_name"]) == (
        "deputy@example.com",
        "admin",
        "Dep",
    )
    tokens = login(client, "deputy@example.com", "tangerine lighthouse 5150 swing")
    assert client.get(USERS, token=tokens["access_token"]).status == 200


def test_admin_created_users_default_to_the_user_role(client: ApiClient, admin: Account) -> None:
    assert create_user(client, admin, "plain@example.com")["role"] == "user"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"email": "{admin}"}, 409, "email_taken"),
        ({"email": "weak@example.com", "password": "password1234"}, 422, "validation_error"),
        ({"email": "r@example.com", "role": "superuser"}, 422, "validation_error"),
        ({"email": "a@example.com", "is_active": False}, 422, "validation_error"),
        ({"email": "not-an-email"}, 422, "validation_error"),
    ],
    ids=["taken", "weak", "unknown-role", "extra-field", "bad-email"],
)
def test_admin_create_user_errors(
    client: ApiClient, make_account: MakeAccount, body: dict[str, Any], status: int, code: str
) -> None:
    admin = make_account("admin")
    payload = {"password": "tangerine lighthouse 5150 swing", **body}
    if body["email"] == "{admin}":  # the admin's own address, typed in upper case
        payload["email"] = admin.email.upper()

    response = client.post(USERS, json=payload, token=admin.access_token)

    assert_problem(response, status, code)


def test_admin_edits_a_users_name_without_ending_their_sessions(
    client: ApiClient, admin: Account, user: Account
) -> None:
    response = client.patch(
        user_url(user.id), json={"full_name": "Renamed"}, token=admin.access_token
    )

    assert response.status == 200
    assert response.json["full_name"] == "Renamed"
    assert client.get(ME, token=user.access_token).status == 200
    assert refresh(client, user.refresh_token).status == 200


def test_admin_role_change_revokes_the_users_tokens(
    client: ApiClient, admin: Account, user: Account
) -> None:
    response = client.patch(user_url(user.id), json={"role": "guest"}, token=admin.access_token)

    assert response.status == 200
    assert response.json["role"] == "guest"
    assert_problem(client.get(ME, token=user.access_token), 401, "invalid_token")
    assert refresh(client, user.refresh_token).status == 401
    fresh = login(client, user.email)
    assert client.get(ME, token=fresh["access_token"]).json["role"] == "guest"


def test_admin_setting_the_same_role_keeps_the_users_sessions(
    client: ApiClient, admin: Account, user: Account
) -> None:
    client.patch(user_url(user.id), json={"role": "user"}, token=admin.access_token)

    assert client.get(ME, token=user.access_token).status == 200


def test_promotion_to_admin_takes_effect_at_the_next_sign_in(
    client: ApiClient, admin: Account, user: Account
) -> None:
    client.patch(user_url(user.id), json={"role": "admin"}, token=admin.access_token)

    fresh = login(client, user.email)

    assert client.get(USERS, token=fresh["access_token"]).status == 200


def test_deactivation_revokes_tokens_and_blocks_login(
    client: ApiClient, admin: Account, user: Account
) -> None:
    response = client.patch(user_url(user.id), json={"is_active": False}, token=admin.access_token)

    assert response.status == 200
    assert response.json["is_active"] is False
    assert_problem(client.get(ME, token=user.access_token), 401, "invalid_token")
    assert refresh(client, user.refresh_token).status == 401
    assert_problem(sign_in(client, user.email, user.password), 401, "invalid_credentials")


def test_reactivation_lets_the_user_sign_in_again(
    client: ApiClient, admin: Account, user: Account
) -> None:
    client.patch(user_url(user.id), json={"is_active": False}, token=admin.access_token)

    client.patch(user_url(user.id), json={"is_active": True}, token=admin.access_token)

    assert sign_in(client, user.email, user.password).status == 200
    assert client.get(ME, token=user.access_token).status == 401  # old tokens stay dead


@pytest.mark.parametrize(
    "changes",
    [{"email": "x@example.com"}, {"password": NEW_PASSWORD}, {"role": "root"}, {"is_active": "no"}],
    ids=["email", "password", "bad-role", "bad-bool"],
)
def test_admin_patch_refuses_fields_it_does_not_own(
    client: ApiClient, admin: Account, user: Account, changes: dict[str, Any]
) -> None:
    response = client.patch(user_url(user.id), json=changes, token=admin.access_token)

    assert_problem(response, 422, "validation_error")


def test_admin_deletes_a_user(client: ApiClient, admin: Account, user: Account) -> None:
    response = client.delete(user_url(user.id), token=admin.access_token)

    assert response.status == 204
    assert_problem(client.get(user_url(user.id), token=admin.access_token), 404, "not_found")
    assert client.get(ME, token=user.access_token).status == 401
    assert refresh(client, user.refresh_token).status == 401
    assert_problem(sign_in(client, user.email, user.password), 401, "invalid_credentials")
    assert_problem(client.delete(user_url(user.id), token=admin.access_token), 404, "not_found")


# --- the last active admin ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body"),
    [("PATCH", {"role": "user"}), ("PATCH", {"is_active": False}), ("DELETE", None)],
    ids=["demote", "deactivate", "delete"],
)
def test_the_last_active_admin_cannot_be_removed(
    client: ApiClient, admin: Account, method: str, body: dict[str, Any] | None
) -> None:
    response = client.request(method, user_url(admin.id), json_body=body, token=admin.access_token)

    assert_problem(response, 409, "last_admin")
    me = client.get(ME, token=admin.access_token).json
    assert (me["role"], me["is_active"]) == ("admin", True)


def test_an_inactive_admin_does_not_count_as_another_admin(
    client: ApiClient, make_account: MakeAccount
) -> None:
    admin, dormant = make_account("admin"), make_account("admin")
    client.patch(user_url(dormant.id), json={"is_active": False}, token=admin.access_token)

    response = client.patch(user_url(admin.id), json={"role": "user"}, token=admin.access_token)

    assert_problem(response, 409, "last_admin")


def test_an_admin_may_step_down_while_another_remains(
    client: ApiClient, make_account: MakeAccount
) -> None:
    first, second = make_account("admin"), make_account("admin")

    response = client.patch(user_url(first.id), json={"role": "user"}, token=first.access_token)

    assert response.status == 200
    assert client.get(USERS, token=second.access_token).status == 200
    assert client.delete(user_url(second.id), token=second.access_token).status == 409


# --- listing ------------------------------------------------------------------------------------


def list_users(client: ApiClient, admin: Account, query: str = "") -> Response:
    return client.get(f"{USERS}?{query}", token=admin.access_token)


def emails(response: Response) -> set[str]:
    assert response.status == 200, response.body
    return {item["email"] for item in response.json["items"]}


def test_user_list_pages_cover_everyone_once(client: ApiClient, admin: Account) -> None:
    created = {create_user(client, admin, f"member{n:02d}@example.com")["id"] for n in range(23)}
    expected = created | {admin.id}

    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = "limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = list_users(client, admin, query).json
        pages += 1
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= 5
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 5
    assert len(seen) == len(set(seen))
    assert set(seen) == expected


def test_user_list_defaults_to_twenty_newest_first(client: ApiClient, admin: Account) -> None:
    for n in range(21):
        create_user(client, admin, f"crowd{n:02d}@example.com")

    page = list_users(client, admin).json

    assert len(page["items"]) == 20
    assert page["items"][0]["email"] == "crowd20@example.com"
    assert page["next_cursor"] is not None


def test_user_list_filters_by_email_or_name_prefix(client: ApiClient, admin: Account) -> None:
    create_user(client, admin, "alice.smith@example.com", full_name="Zed Alpha")
    create_user(client, admin, "bob@example.com", full_name="Alice Cooper")
    create_user(client, admin, "carol@example.com", full_name="Carol Alison")

    assert emails(list_users(client, admin, "q=alice")) == {
        "alice.smith@example.com",
        "bob@example.com",
    }
    assert emails(list_users(client, admin, "q=ALI")) == {
        "alice.smith@example.com",
        "bob@example.com",
    }
    assert emails(list_users(client, admin, "q=zed")) == {"alice.smith@example.com"}
    assert emails(list_users(client, admin, "q=cooper")) == set()
    assert emails(list_users(client, admin, "q=example.com")) == set()


@pytest.mark.parametrize("q", [".*", "^", "a|b", "(", "[a-z]", "\\", "%24ne"])
def test_user_list_query_text_is_not_a_pattern(client: ApiClient, admin: Account, q: str) -> None:
    create_user(client, admin, "pattern@example.com")

    assert emails(list_users(client, admin, f"q={q}")) == set()


def test_user_list_filters_by_role_and_activity(
    client: ApiClient, admin: Account, make_account: MakeAccount
) -> None:
    guest = make_account("guest")
    dormant = create_user(client, admin, "dormant@example.com")
    client.patch(user_url(dormant["id"]), json={"is_active": False}, token=admin.access_token)
    create_user(client, admin, "active@example.com")

    assert emails(list_users(client, admin, "role=guest")) == {guest.email}
    assert emails(list_users(client, admin, "role=admin")) == {admin.email}
    assert emails(list_users(client, admin, "is_active=false")) == {"dormant@example.com"}
    assert emails(list_users(client, admin, "role=user&is_active=true")) == {"active@example.com"}
    assert emails(list_users(client, admin, "q=dorm&is_active=true")) == set()


@pytest.mark.parametrize(
    "query",
    [
        "role[$ne]=x",
        "role=superuser",
        "is_active=maybe",
        "limit=0",
        "limit=101",
        "limit=ten",
        "cursor=not-a-cursor",
        "cursor=AAAA",
        "sort=email",
    ],
)
def test_user_list_with_a_bad_query_is_422(client: ApiClient, admin: Account, query: str) -> None:
    assert_problem(list_users(client, admin, query), 422, "validation_error")


def _remove_each_other(first: Account, second: Account, body: dict[str, Any]) -> list[int]:
    """Two admins PATCH each other at the same moment; the HTTP statuses they got."""
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def remove(actor: Account, target: Account) -> None:
        barrier.wait()
        response = ApiClient().patch(user_url(target.id), json=body, token=actor.access_token)
        statuses.append(response.status)

    threads = [
        threading.Thread(target=remove, args=(first, second)),
        threading.Thread(target=remove, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.parametrize(
    "body", [{"role": "user"}, {"is_active": False}], ids=["demote", "deactivate"]
)
def test_two_admins_removing_each_other_at_once_leave_an_admin(
    make_account: MakeAccount, body: dict[str, Any]
) -> None:
    from shared.db import collections

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so the two requests interleave
    try:
        for _ in range(20):
            first, second = make_account("admin"), make_account("admin")
            collections.users().update_many(
                {"_id": {"$nin": [ObjectId(first.id), ObjectId(second.id)]}, "role": "admin"},
                {"$set": {"role": "user"}},
            )
            statuses = _remove_each_other(first, second, body)
            remaining = collections.users().count_documents({"role": "admin", "is_active": True})
            assert remaining >= 1, statuses
    finally:
        sys.setswitchinterval(previous)
