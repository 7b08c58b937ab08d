"""Admin: role guards on every admin route, statistics, interventions and the audit log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from bson import ObjectId, json_util

from shared import clock
from shared.db import collections
from tests.api.client import CLIENT_IP, ApiClient, Response, assert_not_found, assert_problem
from tests.api.conftest import (
    NEW_PASSWORD,
    STRONG_PASSWORD,
    Account,
    MailSink,
    MakeAccount,
    fail_login,
    login,
    register,
    request_reset_token,
)

USERS = "/api/v1/users"
ME = "/api/v1/users/me"
STATS = "/api/v1/admin/stats"
AUDIT = "/api/v1/admin/audit-log"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
EVENT_FIELDS = {"id", "at", "action", "actor_id", "target_id", "ip", "request_id", "details"}

pytestmark = pytest.mark.usefixtures("lenient_auth_rate_limit")

OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")


def admin_routes(target_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every admin-only route, aimed at ``target_id`` where it takes a user."""
    return [
        ("GET", USERS, None),
        ("POST", USERS, {"email": "new@example.com", "password": NEW_PASSWORD, "role": "admin"}),
        ("GET", f"{USERS}/{target_id}", None),
        ("PATCH", f"{USERS}/{target_id}", {"role": "admin"}),
        ("GET", STATS, None),
        ("GET", AUDIT, None),
        ("POST", f"/api/v1/admin/users/{target_id}/revoke-sessions", None),
        ("POST", f"/api/v1/admin/users/{target_id}/unlock", None),
        ("DELETE", f"{USERS}/{target_id}", None),
    ]


ROUTE_IDS = [
    "users_list",
    "users_create",
    "users_get",
    "users_update",
    "admin_stats",
    "admin_audit_log",
    "admin_revoke_sessions",
    "admin_unlock",
    "users_delete",
]


def call(client: ApiClient, route: tuple[str, str, dict[str, Any] | None], token: str) -> Response:
    method, url, body = route
    return client.request(method, url, json_body=body, token=token)


# --- role guards -------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
@pytest.mark.parametrize("role", ["guest", "user"])
def test_non_admins_get_403_on_every_admin_route(
    client: ApiClient, make_account: MakeAccount, role: str, index: int
) -> None:
    caller, target = make_account(role), make_account("user")

    response = call(client, admin_routes(target.id)[index], caller.access_token)

    assert_problem(response, 403, "forbidden")
    me = client.get(ME, token=target.access_token)
    assert me.status == 200  # the target was neither deleted, revoked nor promoted
    assert me.json["role"] == "user"


@pytest.mark.parametrize("index", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
def test_anonymous_callers_get_401_on_every_admin_route(
    client: ApiClient, user: Account, index: int
) -> None:
    method, url, body = admin_routes(user.id)[index]

    response = client.request(method, url, json_body=body)

    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("index", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
def test_admins_may_call_every_admin_route(
    client: ApiClient, admin: Account, user: Account, index: int
) -> None:
    response = call(client, admin_routes(user.id)[index], admin.access_token)

    assert response.status in (200, 201, 204), response.body


# --- stats ----------------------------------------------------------------------------------


def test_stats_count_users_by_role_and_activity(
    client: ApiClient, admin: Account, make_account: MakeAccount
) -> None:
    make_account("guest")
    make_account("user")
    dormant = make_account("user")
    client.patch(f"{USERS}/{dormant.id}", json={"is_active": False}, token=admin.access_token)

    response = client.get(STATS, token=admin.access_token)

    assert response.status == 200
    assert response.json == {
        "users": {"total": 4, "active": 3, "by_role": {"guest": 1, "user": 2, "admin": 1}},
        "uploads": {"total": 0, "bytes": 0, "by_status": {}},
    }


# --- interventions ------------------------------------------------------------------------


def test_revoke_sessions_ends_every_session_of_the_user(
    client: ApiClient, admin: Account, user: Account
) -> None:
    second = login(client, user.email)

    response = client.post(
        f"/api/v1/admin/users/{user.id}/revoke-sessions", token=admin.access_token
    )

    assert response.status == 204
    for access in (user.access_token, second["access_token"]):
        assert_problem(client.get(ME, token=access), 401, "invalid_token")
    for refresh_token in (user.refresh_token, second["refresh_token"]):
        assert client.post(REFRESH, json={"refresh_token": refresh_token}).status == 401
    assert client.get(ME, token=admin.access_token).status == 200
    assert login(client, user.email)["token_type"] == "bearer"


def test_unlock_lets_a_locked_user_in_at_once(
    client: ApiClient, admin: Account, user: Account
) -> None:
    fail_login(client, user.email, 5)
    locked = client.post(LOGIN, json={"email": user.email, "password": user.password})

    response = client.post(f"/api/v1/admin/users/{user.id}/unlock", token=admin.access_token)

    assert_problem(locked, 429, "login_locked")
    assert response.status == 204
    assert login(client, user.email)["token_type"] == "bearer"


def test_unlocking_a_user_who_is_not_locked_is_harmless(
    client: ApiClient, admin: Account, user: Account
) -> None:
    response = client.post(f"/api/v1/admin/users/{user.id}/unlock", token=admin.access_token)

    assert response.status == 204
    assert login(client, user.email)["token_type"] == "bearer"


@pytest.mark.parametrize("action", ["revoke-sessions", "unlock"])
@pytest.mark.parametrize(
    "user_id",
    [str(ObjectId()), "not-an-id", "0123456789abcdef0123456", "%24ne"],
    ids=["unknown", "malformed", "short", "operator"],
)
def test_interventions_on_a_missing_user_are_404(
    client: ApiClient, admin: Account, action: str, user_id: str
) -> None:
    response = client.post(f"/api/v1/admin/users/{user_id}/{action}", token=admin.access_token)

    assert_not_found(response, path_is_malformed=OBJECT_ID.fullmatch(user_id) is None)


# --- audit log --------------------------------------------------------------------------------


def audit_events(client: ApiClient, admin: Account, query: str = "") -> list[dict[str, Any]]:
    """Every event matching ``query``, newest first, across all pages."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        url = f"{AUDIT}?limit=100&{query}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, token=admin.access_token)
        assert response.status == 200, response.body
        events.extend(response.json["items"])
        cursor = response.json["next_cursor"]
        if cursor is None:
            return events


def actions(events: list[dict[str, Any]]) -> set[str]:
    return {event["action"] for event in events}


def test_audit_events_have_the_documented_shape(client: ApiClient, admin: Account) -> None:
    page = client.get(AUDIT, token=admin.access_token).json

    assert set(page) == {"items", "next_cursor"}
    assert page["items"]
    for event in page["items"]:
        assert set(event) == EVENT_FIELDS
        assert event["at"].endswith("Z")
        assert event["ip"] == CLIENT_IP


def test_audit_event_carries_actor_target_ip_and_request_id(
    client: ApiClient, admin: Account, user: Account
) -> None:
    response = client.patch(f"{USERS}/{user.id}", json={"role": "guest"}, token=admin.access_token)

    [event] = audit_events(client, admin, "action=user.role_changed")

    assert event["actor_id"] == admin.id
    assert event["target_id"] == user.id
    assert event["ip"] == CLIENT_IP
    assert event["request_id"] == response.headers["x-request-id"]
    assert event["details"] == {"from": "user", "to": "guest"}


def test_audit_log_records_the_account_lifecycle(
    client: ApiClient, admin: Account, mail: MailSink
) -> None:
    user_id = register(client, "life@example.com")
    tokens = login(client, "life@example.com")
    fail_login(client, "life@example.com", 1)
    fail_login(client, "nobody@example.com", 1)
    client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})  # reuse
    fresh = login(client, "life@example.com")
    token = fresh["access_token"]
    client.post(
        "/api/v1/users/me/password",
        json={"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD},
        token=token,
    )
    reset_token = request_reset_token(client, mail, "life@example.com")
    client.post(
        "/api/v1/auth/password/reset",
        json={"token": reset_token, "new_password": "another fine passphrase 55 wombat"},
    )
    token = login(client, "life@example.com", "another fine passphrase 55 wombat")["access_token"]
    secret = client.post("/api/v1/auth/mfa/setup", token=token).json["secret"]
    totp = pyotp.TOTP(secret)
    client.post("/api/v1/auth/mfa/enable", json={"otp": totp.now()}, token=token)
    client.post(
        "/api/v1/auth/mfa/disable",
        json={
            "password": "another fine passphrase 55 wombat",
            "otp": totp.at(datetime.now(UTC), counter_offset=1),
        },
        token=token,
    )
    client.post("/api/v1/auth/logout", token=token)
    other = login(client, "life@example.com", "another fine passphrase 55 wombat")
    client.post("/api/v1/auth/logout-all", token=other["access_token"])
    client.patch(f"{USERS}/{user_id}", json={"role": "guest"}, token=admin.access_token)
    client.patch(f"{USERS}/{user_id}", json={"is_active": False}, token=admin.access_token)
    client.delete(f"{USERS}/{user_id}", token=admin.access_token)

    recorded = audit_events(client, admin)

    assert {
        "user.registered",
        "auth.login",
        "auth.login_failed",
        "auth.refresh_reused",
        "user.password_changed",
        "auth.password_reset_requested",
        "auth.password_reset",
        "mfa.setup_started",
        "mfa.enabled",
        "mfa.disabled",
        "auth.logout",
        "auth.logout_all",
        "user.role_changed",
        "user.activation_changed",
        "user.deleted",
    } <= actions(recorded)
    failures = [e for e in recorded if e["action"] == "auth.login_failed"]
    assert {e["details"]["reason"] for e in failures} == {"wrong_password", "unknown_email"}
    deleted = next(e for e in recorded if e["action"] == "user.deleted")
    assert (deleted["actor_id"], deleted["target_id"]) == (admin.id, user_id)


def test_every_admin_call_is_audited_under_its_function_name(
    client: ApiClient, admin: Account, user: Account
) -> None:
    for route in admin_routes(user.id):
        call(client, route, admin.access_token)

    admin_events = audit_events(client, admin, f"actor_id={admin.id}")

    assert {f"admin.{name}" for name in ROUTE_IDS} <= actions(admin_events)
    revoke = next(e for e in admin_events if e["action"] == "admin.admin_revoke_sessions")
    assert revoke["target_id"] == user.id
    assert revoke["details"]["status"] == 204


def test_audit_log_filters_by_action_actor_and_since(
    client: ApiClient, admin: Account, make_account: MakeAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_account("user")
    later = datetime.now(UTC) + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: datetime.now(UTC) + timedelta(hours=2))
    second = make_account("user")

    logins = audit_events(client, admin, "action=auth.login")
    by_first = audit_events(client, admin, f"actor_id={first.id}")
    recent = audit_events(client, admin, f"since={later.strftime('%Y-%m-%dT%H:%M:%SZ')}")

    assert actions(logins) == {"auth.login"}
    assert {e["target_id"] for e in logins} == {admin.id, first.id, second.id}
    assert by_first
    assert {e["actor_id"] for e in by_first} == {first.id}
    assert {"user.registered", "auth.login"} <= actions(
        [e for e in recent if e["target_id"] == second.id]
    )
    assert {e["target_id"] for e in recent} <= {second.id, None}
    future = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert audit_events(client, admin, f"since={future}") == []


def test_audit_log_pages_cover_every_event_once(
    client: ApiClient, admin: Account, make_account: MakeAccount
) -> None:
    for _ in range(4):
        make_account("user")
    existing = collections.audit_log().count_documents({})

    seen: list[str] = []
    cursor: str | None = None
    while True:
        url = f"{AUDIT}?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, token=admin.access_token).json
        assert len(page["items"]) <= 3
        seen.extend(event["id"] for event in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # Each page request is itself audited, but newer events never leak into later pages.
    assert len(seen) == len(set(seen)) == existing
    times = [datetime.fromisoformat(event["at"]) for event in audit_events(client, admin)]
    assert times == sorted(times, reverse=True)  # newest first


@pytest.mark.parametrize(
    "query",
    ["since=yesterday", "limit=0", "limit=101", "cursor=%%%", "actor[$ne]=x", "action[$regex]=."],
)
def test_audit_log_with_a_bad_query_is_422(client: ApiClient, admin: Account, query: str) -> None:
    assert_problem(
        client.get(f"{AUDIT}?{query}", token=admin.access_token), 422, "validation_error"
    )


def test_audit_log_never_holds_passwords_or_tokens(
    client: ApiClient, admin: Account, mail: MailSink
) -> None:
    secrets: list[str] = [admin.password, admin.access_token, admin.refresh_token]
    register(client, "quiet@example.com")
    tokens = login(client, "quiet@example.com")
    secrets += [tokens["access_token"], tokens["refresh_token"]]
    wrong = "a wrong password typed by mistake 77"
    fail_login(client, "quiet@example.com", 1)
    client.post(LOGIN, json={"email": "quiet@example.com", "password": wrong})
    secrets.append(wrong)
    rotated = client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]}).json
    secrets += [rotated["access_token"], rotated["refresh_token"]]
    client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    fresh = login(client, "quiet@example.com")
    secrets += [fresh["access_token"], fresh["refresh_token"]]
    client.post(
        "/api/v1/users/me/password",
        json={"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD},
        token=fresh["access_token"],
    )
    secrets.append(NEW_PASSWORD)
    reset_token = request_reset_token(client, mail, "quiet@example.com")
    reset_password = "yet another passphrase 31 heron"
    client.post(
        "/api/v1/auth/password/reset", json={"token": reset_token, "new_password": reset_password}
    )
    secrets += [reset_token, reset_password]
    token = login(client, "quiet@example.com", reset_password)["access_token"]
    setup = client.post("/api/v1/auth/mfa/setup", token=token).json
    codes = client.post(
        "/api/v1/auth/mfa/enable", json={"otp": pyotp.TOTP(setup["secret"]).now()}, token=token
    ).json["recovery_codes"]
    client.post(
        LOGIN, json={"email": "quiet@example.com", "password": reset_password, "otp": codes[0]}
    )
    secrets += [token, setup["secret"], *codes]
    created_password = "granite violin 4471 overture"
    client.post(
        USERS,
        json={"email": "made@example.com", "password": created_password},
        token=admin.access_token,
    )
    secrets.append(created_password)

    stored = json_util.dumps(list(collections.audit_log().find({})))

    assert len(stored) > 1000  # the flow above was audited at all
    leaked = [secret for secret in secrets if secret in stored]
    assert leaked == []
    for secret in (admin.password, NEW_PASSWORD, reset_password):
        assert secret.replace(" ", "") not in stored


def test_failed_admin_calls_are_audited_with_their_status(
    client: ApiClient, admin: Account
) -> None:
    missing = str(ObjectId())
    response = client.get(f"/api/v1/users/{missing}", token=admin.access_token)
    assert response.status == 404
    events = audit_events(client, admin, "action=admin.users_get")
    assert any(
        e["target_id"] == missing and e["details"]["status"] == 404 and e["actor_id"] == admin.id
        for e in events
    )


def test_admin_calls_refused_for_bad_input_are_audited(client: ApiClient, admin: Account) -> None:
    user_id = str(ObjectId()).upper()  # the audit log keeps one spelling of an id
    refused = client.patch(
        f"/api/v1/users/{user_id}", json={"role": "root"}, token=admin.access_token
    )
    assert refused.status == 422
    events = audit_events(client, admin, "action=admin.users_update")
    assert [(e["target_id"], e["details"]["status"]) for e in events] == [(user_id.lower(), 422)]


def test_a_non_admin_probing_an_admin_route_leaves_a_trail(
    client: ApiClient, admin: Account, make_account: MakeAccount
) -> None:
    intruder = make_account("user")
    assert client.get("/api/v1/admin/stats", token=intruder.access_token).status == 403
    events = audit_events(client, admin, "action=admin.admin_stats")
    assert [(e["actor_id"], e["details"]["status"]) for e in events] == [(intruder.id, 403)]
