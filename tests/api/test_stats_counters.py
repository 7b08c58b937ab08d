"""The admin dashboard reads maintained totals; they always equal a recount."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from bson import ObjectId

from shared import clock
from shared.db import collections, derived
from shared.db.client import get_database
from shared.db.migrations import MIGRATIONS
from shared.repositories import counters
from shared.repositories import uploads as upload_records
from shared.repositories import users as user_records
from shared.services import maintenance as maintenance_service
from tests.api.client import ApiClient
from tests.api.conftest import STRONG_PASSWORD, Account, MakeAccount
from tests.api.records_support import add_upload

STATS = "/api/v1/admin/stats"
pytestmark = pytest.mark.usefixtures("lenient_auth_rate_limit")


def recount() -> dict[str, Any]:
    """The dashboard figures counted from scratch, as the old aggregation did."""
    users = derived.recount_users(collections.users())
    uploads = derived.recount_uploads(collections.uploads())
    by_role = {"guest": 0, "user": 0, "admin": 0, **users.get("by_role", {})}
    by_status = {k: v for k, v in uploads.get("by_status", {}).items() if v}
    return {
        "users": {"total": users["total"], "active": users["active"], "by_role": by_role},
        "uploads": {"total": uploads["total"], "bytes": uploads["bytes"], "by_status": by_status},
    }


def process(upload_id: ObjectId, status: str, *, claim: str = "c") -> None:
    lease = clock.now() + timedelta(minutes=1)
    claimed = upload_records.claim_for_processing(
        upload_id,
        previous_claim=None,
        claim=claim,
        etag="e",
        same_version=False,
        attempts=1,
        lease_until=lease,
    )
    assert claimed is not None
    upload_records.finish_processing(upload_id, claim=claim, status=status, etags=["e"], fields={})


def test_stats_equal_a_recount_after_a_mixed_series_of_changes(
    client: ApiClient, admin: Account, make_account: MakeAccount
) -> None:
    token = admin.access_token
    alice, bob, _ = make_account("user"), make_account("user"), make_account("guest")
    created = client.post(
        "/api/v1/users",
        json={"email": "dora@example.com", "password": STRONG_PASSWORD, "role": "admin"},
        token=token,
    ).json
    client.patch(f"/api/v1/users/{created['id']}", json={"role": "guest"}, token=token)
    client.patch(f"/api/v1/users/{bob.id}", json={"is_active": False}, token=token)
    client.patch(f"/api/v1/users/{bob.id}", json={"is_active": False}, token=token)  # no change
    client.patch(f"/api/v1/users/{alice.id}", json={"role": "admin"}, token=token)
    first, second, third = (add_upload(alice.id, size=size) for size in (100, 250, 4000))
    process(first, "ready")
    process(second, "rejected")
    claimed_only = add_upload(bob.id, size=7)
    process(third, "failed")
    upload_records.claim_for_processing(
        claimed_only,
        previous_claim=None,
        claim="x",
        etag="e",
        same_version=False,
        attempts=1,
        lease_until=clock.now() + timedelta(minutes=1),
    )
    upload_records.delete_upload(first)
    add_upload(bob.id, size=9)
    # Deleting a user deletes their uploads too.
    assert client.delete(f"/api/v1/users/{bob.id}", token=token).status == 204
    client.patch(f"/api/v1/users/{created['id']}", json={"is_active": False}, token=token)

    shown = client.get(STATS, token=token)

    assert shown.status == 200
    assert shown.json == recount()
    assert shown.json["users"] == {
        "total": 4,
        "active": 3,
        "by_role": {"guest": 2, "user": 0, "admin": 2},
    }
    assert shown.json["uploads"] == {
        "total": 2,
        "bytes": 4250,
        "by_status": {"rejected": 1, "failed": 1},
    }


def test_concurrent_flips_of_one_account_are_counted_once(user: Account) -> None:
    oid = ObjectId(user.id)
    barrier = threading.Barrier(8)

    def flip() -> None:
        barrier.wait()
        user_records.set_active(oid, False)

    threads = [threading.Thread(target=flip) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    totals = counters.read()[counters.USERS]
    assert (totals["total"], totals["active"]) == (1, 0)


def test_the_migration_builds_the_totals_of_existing_data(make_account: MakeAccount) -> None:
    account = make_account("user")
    add_upload(account.id, size=42)
    collections.counters().delete_many({})

    build = next(m for m in MIGRATIONS if m.apply.__name__ == "_indexed_queries_and_totals")
    build.apply(get_database())

    totals = counters.read()
    assert totals[counters.USERS]["total"] == 1
    assert totals[counters.USERS]["by_role"] == {"user": 1}
    assert totals[counters.UPLOADS]["bytes"] == 42
    assert totals[counters.UPLOADS]["by_status"] == {"pending": 1}


def test_the_maintenance_jobs_changes_keep_the_totals_equal_to_a_recount(
    user: Account,
) -> None:
    from shared.repositories import upload_maintenance as maintenance

    now = clock.now()
    abandoned, stuck, rejected = (add_upload(user.id, size=size) for size in (5, 6, 7))
    process(rejected, "rejected")
    upload_records.claim_for_processing(
        stuck,
        previous_claim=None,
        claim="s",
        etag="e",
        same_version=False,
        attempts=1,
        lease_until=now,
    )
    later = now + timedelta(days=90)

    assert maintenance.delete_abandoned_pending(abandoned, created_before=later, now=later)
    assert maintenance.fail_stuck(stuck, now=later, idle_before=later, error="Stuck") is not None
    collections.uploads().update_one({"_id": rejected}, {"$set": {"processed_at": now}})
    assert maintenance.delete_expired_rejection(rejected, processed_before=later)

    totals = counters.read()[counters.UPLOADS]
    recounted = derived.recount_uploads(collections.uploads())
    assert (totals["total"], totals["bytes"]) == (recounted["total"], recounted["bytes"]) == (1, 6)
    assert {k: v for k, v in totals["by_status"].items() if v} == {"failed": 1}


# --- the maintenance job's recount ------------------------------------------------------


@pytest.fixture
def no_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recount's pause between its two counts, which only a concurrent writer needs."""
    monkeypatch.setattr(maintenance_service, "RECOUNT_SETTLE", timedelta(0))


def stats(client: ApiClient, admin: Account) -> dict[str, Any]:
    shown = client.get(STATS, token=admin.access_token)
    assert shown.status == 200
    figures: dict[str, Any] = shown.json
    return figures


@pytest.mark.usefixtures("no_settle")
def test_counters_that_drifted_are_corrected_by_the_maintenance_job(
    client: ApiClient, admin: Account, make_account: MakeAccount
) -> None:
    alice = make_account("user")
    process(add_upload(alice.id, size=300), "ready")
    add_upload(alice.id, size=20)
    # As if processes died between their writes and their counter updates.
    collections.counters().update_one(
        {"_id": counters.USERS}, {"$inc": {"total": 5, "by_role.guest": 2, "active": -1}}
    )
    collections.counters().update_one(
        {"_id": counters.UPLOADS}, {"$inc": {"bytes": -300, "by_status.failed": 1}}
    )
    assert stats(client, admin) != recount()

    report = maintenance_service.run_maintenance()

    assert stats(client, admin) == recount()
    assert report.corrected == {
        counters.USERS: {"active": 1, "by_role.guest": -2, "total": -5},
        counters.UPLOADS: {"by_status.failed": -1, "bytes": 300},
    }
    events = list(collections.audit_log().find({"action": maintenance_service.CORRECTED_ACTION}))
    assert {event["target_id"] for event in events} == {counters.USERS, counters.UPLOADS}


@pytest.mark.usefixtures("no_settle")
def test_counters_that_agree_with_the_recount_are_left_alone(
    client: ApiClient, admin: Account, make_account: MakeAccount
) -> None:
    process(add_upload(make_account("user").id, size=12), "rejected")
    before = counters.read()

    report = maintenance_service.run_maintenance()

    assert report.corrected == {}
    assert counters.read() == before
    assert stats(client, admin) == recount()
    assert collections.audit_log().count_documents({"action": "counters.corrected"}) == 0


@pytest.mark.usefixtures("no_settle")
def test_a_write_between_the_two_counts_defers_the_correction(
    make_account: MakeAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_account("user").id
    collections.counters().update_one({"_id": counters.UPLOADS}, {"$inc": {"total": 3}})
    real_recount = counters.recount_uploads
    calls = 0

    def recount_with_a_write_in_between() -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # an upload created (and counted) while the job counts
            add_upload(owner, size=1)
        return real_recount()

    monkeypatch.setattr(counters, "recount_uploads", recount_with_a_write_in_between)
    drifted = counters.read()[counters.UPLOADS]["total"]

    report = maintenance_service.run_maintenance()

    assert report.recount_deferred
    assert counters.UPLOADS not in report.corrected
    assert counters.read()[counters.UPLOADS]["total"] == drifted + 1  # only the new upload
    monkeypatch.setattr(counters, "recount_uploads", real_recount)
    maintenance_service.run_maintenance()  # the next run, undisturbed, corrects it
    assert counters.read()[counters.UPLOADS]["total"] == real_recount()["total"]


def test_the_recount_knows_every_upload_status() -> None:
    statuses = {
        upload_records.PENDING,
        upload_records.PROCESSING,
        *upload_records.TERMINAL_STATUSES,
    }
    assert set(counters.UPLOAD_STATUSES) == statuses
