"""Every query the API runs is served by an index: no collection scan, no sort stage.

One scenario drives every route a user or an admin has, plus every repository call the
upload processor makes, with the driver-boundary recorder on. Here (embedded database)
each recorded query shape must appear in QUERY_INDEXES with an index the migrations
declare and that serves it (a bounded scan, the sort given by the index). With
TEST_DATABASE_URL set, every recorded command is also explained on MongoDB and its
winning plan must contain no COLLSCAN and no SORT stage.
"""

from __future__ import annotations

import inspect
import pkgutil
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

import shared.repositories
from shared import clock
from shared.db import embedded
from shared.db.client import get_database
from shared.http import ratelimit
from shared.repositories import counters, locks
from shared.repositories import upload_maintenance as maintenance
from shared.repositories import uploads as upload_records
from shared.repositories import users as user_records
from shared.services.maintenance import EXPIRING
from tests.api.client import ApiClient
from tests.api.conftest import (
    NEW_PASSWORD,
    STRONG_PASSWORD,
    MailSink,
    MakeAccount,
    fail_login,
    request_reset_token,
)
from tests.api.records_support import add_upload
from tests.database_calls import EMBEDDED, QueryShape, database_calls, install_listener, shape_of

pytestmark = pytest.mark.usefixtures("lenient_auth_rate_limit")
# The recorder of query shapes is the embedded database's; MongoDB runs explain() instead.
embedded_only = pytest.mark.skipif(not EMBEDDED, reason="the shape table is checked on mongomock")

Keys = tuple[tuple[str, int], ...]
ID: Keys = (("_id", 1),)
USER_SEARCH: Keys = (("search_keys", 1), ("_id", -1))

# Each query shape the repositories send (see QueryShape's str) -> the index serving it.
# "f" is an equality (or $in), "f~" a range or anchored prefix, "f?" checked on fetch.
QUERY_INDEXES: dict[str, Keys] = {
    # users
    "users: _id": ID,
    "users: _id orphan_quarantined_bytes~": ID,
    "users: _id $or?": ID,  # TOTP replay guard
    "users: _id is_active $or? revoked_access.jti? revoked_access.sid?": ID,  # admit a token
    "users: _id mfa.recovery_codes": ID,
    "users: _id is_active?": ID,  # (de)activation, counted once
    "users: email": (("email", 1),),
    "users: - | sort _id-": ID,
    "users: _id~ | sort _id-": ID,
    "users: role | sort _id-": (("role", 1), ("_id", -1)),
    "users: role _id~ | sort _id-": (("role", 1), ("_id", -1)),
    "users: is_active | sort _id-": (("is_active", 1), ("_id", -1)),
    "users: is_active _id~ | sort _id-": (("is_active", 1), ("_id", -1)),
    "users: is_active role | sort _id-": (("role", 1), ("_id", -1)),
    "users: is_active role _id~ | sort _id-": (("role", 1), ("_id", -1)),
    "users: search_keys | sort _id-": USER_SEARCH,
    "users: search_keys _id~ | sort _id-": USER_SEARCH,
    "users: search_keys $or? | sort _id-": USER_SEARCH,  # prefixes past SEARCH_PREFIX_MAX
    "users: role search_keys | sort _id-": USER_SEARCH,
    "users: is_active role": (("role", 1), ("_id", -1)),  # counting active admins
    "users: role": (("role", 1), ("_id", -1)),  # the maintenance job's recount ($in every role)
    # sessions and recovery
    "refresh_tokens: token_hash": (("token_hash", 1),),
    "refresh_tokens: revoked_at token_hash used_at expires_at~": (("token_hash", 1),),
    "refresh_tokens: family_id revoked_at": (("family_id", 1),),
    "refresh_tokens: revoked_at user_id": (("user_id", 1),),
    "refresh_tokens: revoked_at user_id family_id?": (("user_id", 1),),
    "refresh_tokens: user_id": (("user_id", 1),),
    "password_resets: token_hash used_at expires_at~": (("token_hash", 1),),
    "password_resets: user_id": (("user_id", 1),),
    "login_throttle: _id": ID,
    # the attempt reservation: one conditional update by _id (the window and count ride along)
    "login_throttle: _id attempts~": ID,
    "login_throttle: _id last_at~": ID,
    "rate_limits: _id": ID,
    "counters: _id": ID,
    "locks: _id $or?": ID,
    "locks: _id holder": ID,
    # the maintenance job: TTL indexes serve the sweeps of expired documents
    "rate_limits: expires_at~": (("expires_at", 1),),
    "refresh_tokens: expires_at~": (("expires_at", 1),),
    "password_resets: expires_at~": (("expires_at", 1),),
    "login_throttle: expires_at~": (("expires_at", 1),),
    # audit log: _id carries the event time, so `since` bounds _id too
    "audit_log: - | sort _id-": ID,
    "audit_log: _id~ | sort _id-": ID,
    "audit_log: _id~ at~ | sort _id-": ID,
    "audit_log: action | sort _id-": (("action", 1), ("_id", -1)),
    "audit_log: action _id~ | sort _id-": (("action", 1), ("_id", -1)),
    "audit_log: action _id~ at~ | sort _id-": (("action", 1), ("_id", -1)),
    "audit_log: actor_id | sort _id-": (("actor_id", 1), ("_id", -1)),
    "audit_log: actor_id _id~ | sort _id-": (("actor_id", 1), ("_id", -1)),
    # uploads
    "uploads: _id": ID,
    "uploads: _id owner_id": ID,
    "uploads: _id processing.claim": ID,
    "uploads: _id processing.claim status": ID,
    "uploads: _id processing.claim status $or?": ID,
    "uploads: - | sort _id-": ID,
    "uploads: _id~ | sort _id-": ID,
    "uploads: owner_id": (("owner_id", 1), ("_id", -1)),  # also the quota
    "uploads: owner_id | sort _id-": (("owner_id", 1), ("_id", -1)),
    "uploads: owner_id _id~ | sort _id-": (("owner_id", 1), ("_id", -1)),
    "uploads: owner_id status | sort _id-": (("owner_id", 1), ("status", 1), ("_id", -1)),
    "uploads: owner_id status _id~ | sort _id-": (("owner_id", 1), ("status", 1), ("_id", -1)),
    "uploads: status | sort _id-": (("status", 1), ("_id", -1)),
    "uploads: status _id~ | sort _id-": (("status", 1), ("_id", -1)),
    "uploads: _id quarantined_bytes~": ID,
    "uploads: status": (("status", 1), ("_id", -1)),  # the maintenance job's recount
    # the maintenance job: one status, oldest first
    "uploads: status created_at~ upload_expires_at~ | sort created_at+": (
        ("status", 1),
        ("created_at", 1),
    ),
    "uploads: _id status created_at~ upload_expires_at~": ID,
    "uploads: status updated_at~ $or? | sort updated_at+": (("status", 1), ("updated_at", 1)),
    "uploads: _id status updated_at~ $or?": ID,
    "uploads: status processed_at~ | sort processed_at+": (("status", 1), ("processed_at", 1)),
    "uploads: _id status processed_at~": ID,
}

# Repository functions that send no query of their own (pure helpers, or the migration's).
NOT_QUERIES = {
    "counters.add",  # an $inc by _id; called by every counted write
    "counters.applied",
    "counters.flat",
    "counters.upload_share",
    "counters.user_share",
    "audit.id_at",
    "ids.decode_cursor",
    "ids.encode_cursor",
    "ids.parse_id",
    "login_throttle.key_for",
    "login_throttle.locked_until",
    "pages.find_page",  # runs inside every list_* below
    "uploads.stats",
    "users.stats",
}


def repository_functions() -> dict[str, Callable[..., Any]]:
    """Every public function defined in shared.repositories, as ``module.name``."""
    found: dict[str, Callable[..., Any]] = {}
    for info in pkgutil.iter_modules(shared.repositories.__path__):
        module = __import__(f"shared.repositories.{info.name}", fromlist=["_"])
        for name, value in vars(module).items():
            public = not name.startswith("_")
            if public and inspect.isfunction(value) and value.__module__ == module.__name__:
                found[f"{info.name}.{name}"] = value
    return found


@pytest.fixture
def called(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Names of the repository functions called while the test runs."""
    seen: set[str] = set()
    for label, function in repository_functions().items():
        module_name, name = label.split(".")
        module = __import__(f"shared.repositories.{module_name}", fromlist=["_"])

        def spy(*args: Any, _f: Callable[..., Any] = function, _l: str = label, **kw: Any) -> Any:
            seen.add(_l)
            return _f(*args, **kw)

        monkeypatch.setattr(module, name, spy)
    return seen


@pytest.fixture
def recorded() -> Iterator[list[embedded.Command]]:
    """The embedded database's calls while the scenario runs."""
    get_database()  # migrations first: their one-off scans are not API queries
    commands: list[embedded.Command] = []
    embedded.observers.append(commands.append)
    yield commands
    embedded.observers.remove(commands.append)


def run_scenario(client: ApiClient, make_account: MakeAccount, mail: MailSink) -> None:
    """Every route, every filter combination, and the processor's record updates."""
    admin = make_account("admin")
    alice = make_account("user")
    token = admin.access_token
    # Signing in, refreshing, failing and recovering.
    fail_login(client, alice.email, 2)
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert refreshed.status == 200, refreshed.body
    tokens = refreshed.json
    assert client.get("/api/v1/users/me", token=tokens["access_token"]).status == 200
    me = client.patch(
        "/api/v1/users/me", json={"full_name": "Alice Liddell"}, token=tokens["access_token"]
    )
    assert me.status == 200
    reset = request_reset_token(client, mail, alice.email)
    done = client.post(
        "/api/v1/auth/password/reset", json={"token": reset, "new_password": NEW_PASSWORD}
    )
    assert done.status == 204, done.body
    login = client.post("/api/v1/auth/login", json={"email": alice.email, "password": NEW_PASSWORD})
    alice_tokens = login.json
    changed = client.post(
        "/api/v1/users/me/password",
        json={"current_password": NEW_PASSWORD, "new_password": STRONG_PASSWORD},
        token=alice_tokens["access_token"],
    )
    assert changed.status == 204, changed.body
    again = client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": STRONG_PASSWORD}
    )
    bob_session = again.json
    assert (
        client.post(
            "/api/v1/auth/logout",
            json={"refresh_token": bob_session["refresh_token"]},
            token=bob_session["access_token"],
        ).status
        == 204
    )
    # Administration: every list filter, with and without a cursor.
    for query in (
        "",
        "?limit=1",
        "?q=ali",
        "?q=alice.liddell.and.more",
        "?role=user",
        "?is_active=true",
        "?role=user&is_active=true",
        "?q=a&role=admin",
    ):
        listed = client.get(f"/api/v1/users{query}", token=token)
        assert listed.status == 200, listed.body
        cursor = listed.json["next_cursor"]
        if cursor:
            joiner = "&" if "?" in query else "?"
            assert (
                client.get(f"/api/v1/users{query}{joiner}cursor={cursor}", token=token).status
                == 200
            )
    created = client.post(
        "/api/v1/users",
        json={"email": "carol@example.com", "password": STRONG_PASSWORD, "role": "admin"},
        token=token,
    ).json
    target = f"/api/v1/users/{created['id']}"
    assert client.get(target, token=token).status == 200
    assert client.patch(target, json={"role": "guest"}, token=token).status == 200
    assert client.patch(target, json={"is_active": False}, token=token).status == 200
    assert (
        client.patch(target, json={"is_active": True, "full_name": "Carol"}, token=token).status
        == 200
    )
    assert (
        client.post(f"/api/v1/admin/users/{created['id']}/revoke-sessions", token=token).status
        == 204
    )
    assert client.post(f"/api/v1/admin/users/{alice.id}/unlock", token=token).status == 204
    assert client.get("/api/v1/admin/stats", token=token).status == 200
    since = (clock.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for query in (
        "",
        "?limit=1",
        "?action=auth.login",
        f"?actor_id={admin.id}",
        f"?since={since}",
        f"?action=auth.login&since={since}",
    ):
        events = client.get(f"/api/v1/admin/audit-log{query}", token=token)
        assert events.status == 200, events.body
        if events.json["next_cursor"]:
            joiner = "&" if "?" in query else "?"
            page = f"/api/v1/admin/audit-log{query}{joiner}cursor={events.json['next_cursor']}"
            assert client.get(page, token=token).status == 200
    run_upload_records(alice.id)
    run_second_factor(alice.id)
    ratelimit.hit("scenario:bucket", 10)
    assert client.delete(target, token=token).status == 204
    assert client.post("/api/v1/auth/logout-all", token=alice_tokens["access_token"]).status in (
        204,
        401,
    )


def sign_in(client: ApiClient, email: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status == 200, response.body
    tokens: dict[str, str] = response.json
    return tokens


def run_upload_records(owner_id: str) -> None:
    """What the upload routes and the processor do to records (storage is not needed)."""
    now = clock.now()
    ids = [ObjectId() for _ in range(3)]
    for upload_id in ids:
        upload_records.insert_upload(
            upload_id=upload_id,
            owner_id=owner_id,
            filename="a.png",
            content_type="image/png",
            size_bytes=10,
            blob_name=f"{owner_id}/{upload_id}",
            upload_expires_at=now + timedelta(minutes=5),
            now=now,
        )
    upload_records.find_by_id(ids[0])
    upload_records.find_by_id(ids[0], owner_id=owner_id)
    for owner, status in ((None, None), (owner_id, None), (None, "pending"), (owner_id, "pending")):
        page = upload_records.list_uploads(owner_id=owner, status=status, limit=1, cursor=None)
        upload_records.list_uploads(owner_id=owner, status=status, limit=1, cursor=page.next_cursor)
    upload_records.reserved_bytes(owner_id, pending_since=now - timedelta(hours=24))
    lease = now + timedelta(minutes=1)
    for upload_id, status in zip(ids[:2], ("ready", "rejected"), strict=True):
        claimed = upload_records.claim_for_processing(
            upload_id,
            previous_claim=None,
            claim="c1",
            etag="e1",
            same_version=False,
            attempts=1,
            lease_until=lease,
        )
        assert claimed is not None
        upload_records.note_rejection(upload_id, claim="c1", rejection={"reason": "x"})
        upload_records.release_claim(upload_id, claim="c1", error="Boom")
        upload_records.finish_processing(
            upload_id, claim="c1", status=status, etags=["e1"], fields={}
        )
        upload_records.remember_etag(upload_id, "e2")
    upload_records.release_quarantined_bytes(ids[1], 1)
    user_records.hold_orphan_bytes(owner_id, 5)
    user_records.orphan_bytes(owner_id)
    user_records.release_orphan_bytes(owner_id, 5)
    # Left for the maintenance job: one abandoned, one stuck, one rejected long ago.
    _, stuck, old_rejection = (add_upload(owner_id, now=now) for _ in range(3))
    for upload_id in (stuck, old_rejection):
        upload_records.claim_for_processing(
            upload_id,
            previous_claim=None,
            claim="c2",
            etag="e1",
            same_version=False,
            attempts=1,
            lease_until=lease,
        )
    upload_records.finish_processing(
        old_rejection, claim="c2", status="rejected", etags=["e1"], fields={"processed_at": now}
    )
    upload_records.delete_upload(ids[2])
    upload_records.find_for_owner(owner_id)
    run_maintenance(now)


def run_maintenance(now: datetime) -> None:
    """What the maintenance timer asks of the records (under its lease)."""
    assert locks.acquire("scenario", holder="me", now=now, until=now + timedelta(minutes=1))
    later = now + timedelta(days=60)
    abandoned = maintenance.abandoned_pending(created_before=later, now=later, limit=10)
    stuck = maintenance.stuck_processing(now=later, idle_before=later, limit=10)
    expired = maintenance.expired_rejections(processed_before=later, limit=10)
    assert abandoned
    assert stuck
    assert expired
    for record in abandoned:
        maintenance.delete_abandoned_pending(record["_id"], created_before=later, now=later)
    for record in stuck:
        maintenance.fail_stuck(record["_id"], now=later, idle_before=later, error="Stuck")
    for record in expired:
        maintenance.delete_expired_rejection(record["_id"], processed_before=later)
    for collection, field_name in EXPIRING:
        maintenance.sweep_expired(collection, field_name, now=now)
    counters.recount_users()
    counters.recount_uploads()
    locks.release("scenario", holder="me", now=now)


def run_second_factor(user_id: str) -> None:
    """The replay guards of the second factor (their routes need a live TOTP)."""
    oid = ObjectId(user_id)
    user_records.claim_totp_step(oid, 1)
    user_records.consume_recovery_code(oid, "hash")


@embedded_only
def test_every_query_is_served_by_a_declared_index(
    client: ApiClient,
    make_account: MakeAccount,
    mail: MailSink,
    called: set[str],
    recorded: list[embedded.Command],
) -> None:
    run_scenario(client, make_account, mail)

    missed = set(repository_functions()) - called - NOT_QUERIES
    assert not missed, f"the scenario never ran {sorted(missed)}"
    shapes = {str(shape): shape for c in recorded if (shape := shape_of(c)) is not None}
    unknown = sorted(set(shapes) - set(QUERY_INDEXES))
    assert not unknown, "queries without a declared index:\n" + "\n".join(unknown)
    database = get_database()
    for text, shape in shapes.items():
        keys = QUERY_INDEXES[text]
        declared = [
            tuple((name, int(direction)) for name, direction in spec["key"])
            for spec in database[shape.collection].index_information().values()
        ]
        assert keys in declared, f"{text}: no index {keys} on {shape.collection}"
        assert shape.served_by(list(keys)), f"{text}: {keys} does not serve it"


@embedded_only
def test_the_table_lists_only_queries_the_code_sends(
    client: ApiClient, make_account: MakeAccount, mail: MailSink, recorded: list[embedded.Command]
) -> None:
    run_scenario(client, make_account, mail)

    sent = {str(shape) for c in recorded if (shape := shape_of(c)) is not None}
    # Cursor pages of searches only arise with more matches than one page; the rest is stale.
    optional = {text for text in QUERY_INDEXES if "_id~" in text}
    assert set(QUERY_INDEXES) - sent - optional == set()


def test_a_collection_scan_or_a_sort_stage_is_caught() -> None:
    by_time = QueryShape("audit_log", frozenset(), frozenset({"at"}), frozenset(), (("_id", -1),))
    unsorted = QueryShape("users", frozenset({"email"}), frozenset(), frozenset(), (("_id", -1),))

    assert not by_time.served_by([("at", -1)])  # bounded, but the _id order needs a SORT
    assert not by_time.served_by([("_id", 1)])  # ordered, but `at` alone bounds nothing
    assert not unsorted.served_by([("email", 1)])
    assert unsorted.served_by([("email", 1), ("_id", -1)])


_EXPLAINABLE = {"find", "findAndModify", "update", "delete", "aggregate", "count", "distinct"}


def plan_stages(plan: object) -> Iterator[str]:
    """Every ``stage`` name in an explain winning plan (classic or slot-based)."""
    if isinstance(plan, dict):
        if isinstance(plan.get("stage"), str):
            yield plan["stage"]
        for value in plan.values():
            yield from plan_stages(value)
    elif isinstance(plan, list):
        for value in plan:
            yield from plan_stages(value)


def winning_plans(explained: object) -> Iterator[object]:
    if isinstance(explained, dict):
        for key, value in explained.items():
            if key == "winningPlan":
                yield value
            else:
                yield from winning_plans(value)
    elif isinstance(explained, list):
        for value in explained:
            yield from winning_plans(value)


@pytest.mark.skipif(EMBEDDED, reason="explain() needs MongoDB: set TEST_DATABASE_URL")
def test_mongodb_plans_every_query_without_a_collection_scan_or_sort(
    client: ApiClient, make_account: MakeAccount, mail: MailSink
) -> None:
    install_listener()
    get_database()
    with database_calls() as calls:
        run_scenario(client, make_account, mail)

    database = get_database()
    problems = []
    for name, command in calls.commands:
        # Inserts, index and cursor bookkeeping read no documents by a filter.
        if name not in _EXPLAINABLE or command.get(name) == "migrations":
            continue
        body = {k: v for k, v in command.items() if not k.startswith("$") and k not in _SESSION}
        explained = database.command("explain", body, verbosity="queryPlanner")
        stages = {stage for plan in winning_plans(explained) for stage in plan_stages(plan)}
        if stages & {"COLLSCAN", "SORT"}:
            problems.append(f"{name} {body}: {sorted(stages)}")
    assert not problems, "\n".join(problems)


_SESSION = {"lsid", "txnNumber", "readConcern", "writeConcern", "autocommit", "startTransaction"}


def test_explain_plans_are_read_in_both_engines_shapes() -> None:
    classic = {
        "queryPlanner": {
            "winningPlan": {
                "stage": "LIMIT",
                "inputStage": {"stage": "FETCH", "inputStage": {"stage": "IXSCAN"}},
            },
            "rejectedPlans": [{"stage": "SORT", "inputStage": {"stage": "COLLSCAN"}}],
        }
    }
    slot_based = {
        "stages": [
            {
                "$cursor": {
                    "queryPlanner": {
                        "winningPlan": {
                            "queryPlan": {"stage": "SORT", "inputStage": {"stage": "COLLSCAN"}},
                            "slotBasedPlan": {"stages": "..."},
                        }
                    }
                }
            }
        ]
    }

    def stages(explained: object) -> set[str]:
        return {stage for plan in winning_plans(explained) for stage in plan_stages(plan)}

    assert stages(classic) == {"LIMIT", "FETCH", "IXSCAN"}  # rejected plans do not count
    assert stages(slot_based) == {"SORT", "COLLSCAN"}
