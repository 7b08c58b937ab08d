"""The maintenance job against a real Azurite, driven by a fake clock.

Records are created as the API creates them, blobs are written to Azurite, then the
clock moves and ``run_maintenance`` runs as the timer trigger runs it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from blueprints.maintenance import maintenance
from shared import clock
from shared.config import Settings, get_settings
from shared.db import collections
from shared.repositories import locks
from shared.repositories import uploads as upload_records
from shared.repositories import users as user_records
from shared.services import maintenance as maintenance_service
from shared.services import storage
from shared.services.maintenance import (
    LEASE,
    LEASE_NAME,
    PURGED_ACTION,
    MaintenanceReport,
    run_maintenance,
)
from shared.services.storage import clients, provisioning, sas
from shared.services.upload_processing import DEFAULT_MAX_ATTEMPTS
from tests import media_samples
from tests.api.uploads_support import use_storage

pytestmark = pytest.mark.azurite

OWNER = "a" * 24


@pytest.fixture(autouse=True)
def no_recount_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """The counters recount pauses between its two counts for writers in flight; none here."""
    monkeypatch.setattr(maintenance_service, "RECOUNT_SETTLE", timedelta(0))


class FakeClock:
    """The app's clock, moved by hand."""

    def __init__(self) -> None:
        self.current = clock.now()

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock, "now", fake)
    return fake


@pytest.fixture(autouse=True)
def azurite_storage(module_azurite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Real Azurite with fresh containers for this test; scanning off."""
    settings = use_storage(monkeypatch, module_azurite, CLAMD_URL="")
    provisioning.ensure_containers()
    yield settings
    clients.reset_storage_clients()


def new_upload(
    *, size_bytes: int = 100, content_type: str = "image/png", url_minutes: int = 15
) -> dict[str, Any]:
    """A pending upload record as POST /uploads leaves it."""
    upload_id = ObjectId()
    return upload_records.insert_upload(
        upload_id=upload_id,
        owner_id=OWNER,
        filename="picture.png" if content_type == "image/png" else "file.pdf",
        content_type=content_type,
        size_bytes=size_bytes,
        blob_name=sas.upload_blob_name(OWNER, str(upload_id)),
        upload_expires_at=clock.now() + timedelta(minutes=url_minutes),
        now=clock.now(),
    )


def put_png(settings: Settings, record: dict[str, Any], tmp_path: Path) -> int:
    """Upload a real PNG as the record's blob; fix the record's declared size to match."""
    data = media_samples.write_png(tmp_path).read_bytes()
    storage.upload_bytes(settings.UPLOADS_CONTAINER, record["blob_name"], data, "image/png")
    collections.uploads().update_one({"_id": record["_id"]}, {"$set": {"size_bytes": len(data)}})
    return len(data)


def mark_processing(record: dict[str, Any], *, attempts: int, lease_until: datetime | None) -> None:
    """Leave the record as a processor invocation that died mid-way leaves it."""
    collections.uploads().update_one(
        {"_id": record["_id"]},
        {
            "$set": {
                "status": upload_records.PROCESSING,
                "processing": {
                    "claim": "dead-invocation",
                    "etag": '"0x1"',
                    "attempts": attempts,
                    "lease_until": lease_until,
                },
                "updated_at": clock.now(),
            }
        },
    )


def mark_rejected(settings: Settings, record: dict[str, Any]) -> None:
    """A rejected upload, its blob in quarantine, as the processor leaves it."""
    storage.upload_bytes(settings.QUARANTINE_CONTAINER, record["blob_name"], b"MZ bad", "x/y")
    collections.uploads().update_one(
        {"_id": record["_id"]},
        {
            "$set": {
                "status": upload_records.REJECTED,
                "rejection_reason": "type_mismatch",
                "processed_at": clock.now(),
            }
        },
    )


def status_of(record: dict[str, Any]) -> str | None:
    found = upload_records.find_by_id(record["_id"])
    return None if found is None else str(found["status"])


def purge_events() -> list[dict[str, Any]]:
    return list(collections.audit_log().find({"action": PURGED_ACTION}))


def quarantined(settings: Settings) -> list[str]:
    return [blob.name for blob in storage.list_blobs(settings.QUARANTINE_CONTAINER)]


def test_abandoned_pending_upload_is_removed_after_its_lifetime(fake_clock: FakeClock) -> None:
    record = new_upload(size_bytes=700)
    fake_clock.advance(timedelta(hours=23))
    assert run_maintenance().expired_pending == 0
    assert status_of(record) == "pending"

    fake_clock.advance(timedelta(hours=1, seconds=1))
    report = run_maintenance()

    assert report.expired_pending == 1
    assert status_of(record) is None
    window = timedelta(hours=get_settings().UPLOAD_PENDING_HOURS)
    assert upload_records.reserved_bytes(OWNER, pending_since=clock.now() - window) == 0


def test_pending_upload_with_a_live_upload_url_is_kept(fake_clock: FakeClock) -> None:
    # A GET re-issued the upload URL just now: the client may still be uploading.
    record = new_upload(url_minutes=60 * 30)
    fake_clock.advance(timedelta(hours=25))
    assert run_maintenance().expired_pending == 0
    assert status_of(record) == "pending"


def test_uploaded_blob_whose_event_was_lost_is_processed(
    fake_clock: FakeClock, azurite_storage: Settings, tmp_path: Path
) -> None:
    record = new_upload()
    put_png(azurite_storage, record, tmp_path)
    fake_clock.advance(timedelta(hours=25))

    report = run_maintenance()

    assert (report.reprocessed, report.expired_pending) == (1, 0)
    assert status_of(record) == "ready"
    assert storage.blob_properties(azurite_storage.THUMBNAILS_CONTAINER, record["blob_name"])


def test_upload_stuck_in_processing_past_the_lease_is_processed_again(
    fake_clock: FakeClock, azurite_storage: Settings, tmp_path: Path
) -> None:
    record = new_upload()
    put_png(azurite_storage, record, tmp_path)
    mark_processing(record, attempts=1, lease_until=clock.now() + timedelta(minutes=6))
    fake_clock.advance(timedelta(minutes=5))
    assert run_maintenance().reprocessed == 0  # the lease is live: its invocation may finish
    assert status_of(record) == "processing"

    fake_clock.advance(timedelta(minutes=7))
    report = run_maintenance()

    assert report.reprocessed == 1
    assert status_of(record) == "ready"
    stored = upload_records.find_by_id(record["_id"])
    assert stored is not None
    assert stored["processing"]["attempts"] == 2  # the re-drive counts as the next try


def test_stuck_upload_whose_tries_are_spent_is_failed(fake_clock: FakeClock) -> None:
    record = new_upload()
    mark_processing(record, attempts=DEFAULT_MAX_ATTEMPTS, lease_until=None)
    fake_clock.advance(timedelta(minutes=7))

    report = run_maintenance()

    assert report.failed_stuck == 1
    assert status_of(record) == "failed"


def test_stuck_upload_whose_blob_is_gone_is_failed(fake_clock: FakeClock) -> None:
    record = new_upload()
    mark_processing(record, attempts=1, lease_until=clock.now())
    fake_clock.advance(timedelta(minutes=7))

    report = run_maintenance()

    assert (report.reprocessed, report.failed_stuck) == (1, 1)
    stored = upload_records.find_by_id(record["_id"])
    assert stored is not None
    assert (stored["status"], stored["processing"]["last_error"]) == ("failed", "blob_missing")


def test_quarantine_is_purged_after_retention_and_each_purge_is_audited(
    fake_clock: FakeClock, azurite_storage: Settings
) -> None:
    record = new_upload()
    mark_rejected(azurite_storage, record)
    stray = f"{OWNER}/{ObjectId()}"  # an unknown upload the processor quarantined
    storage.upload_bytes(azurite_storage.QUARANTINE_CONTAINER, stray, b"??", "x/y")
    # Blob times are the real clock's; the fake one starts there.
    fake_clock.advance(timedelta(days=29))
    assert run_maintenance().purged_blobs == 0
    assert len(quarantined(azurite_storage)) == 2

    fake_clock.advance(timedelta(days=2))
    report = run_maintenance()

    assert (report.purged_records, report.purged_blobs) == (1, 2)
    assert quarantined(azurite_storage) == []
    assert status_of(record) is None
    events = {event["target_id"]: event for event in purge_events()}
    assert set(events) == {str(record["_id"]), stray.split("/")[1]}
    assert events[str(record["_id"])]["details"]["blobs"] == [record["blob_name"]]
    assert events[str(record["_id"])]["details"]["rejection_reason"] == "type_mismatch"
    assert run_maintenance().purged_blobs == 0  # a second run finds nothing left
    assert len(purge_events()) == 2


def test_expired_documents_are_swept_by_the_apps_clock(fake_clock: FakeClock) -> None:
    collections.rate_limits().insert_many(
        [
            {"_id": "old", "expires_at": clock.now() + timedelta(minutes=1)},
            {"_id": "live", "expires_at": clock.now() + timedelta(minutes=3)},
        ]
    )
    fake_clock.advance(timedelta(minutes=2))
    report = run_maintenance()
    assert report.swept == {"rate_limits": 1}
    assert [doc["_id"] for doc in collections.rate_limits().find()] == ["live"]


def test_a_run_does_nothing_while_another_instance_holds_the_lease(fake_clock: FakeClock) -> None:
    record = new_upload()
    fake_clock.advance(timedelta(hours=25))
    assert locks.acquire(LEASE_NAME, holder="other", now=clock.now(), until=clock.now() + LEASE)

    assert run_maintenance() == MaintenanceReport(ran=False)
    assert status_of(record) == "pending"

    fake_clock.advance(LEASE)  # the other instance died; its lease ran out
    assert run_maintenance().expired_pending == 1


def test_two_concurrent_runs_do_the_work_once(
    fake_clock: FakeClock, azurite_storage: Settings
) -> None:
    pending = [new_upload() for _ in range(3)]
    rejected = new_upload()
    mark_rejected(azurite_storage, rejected)
    fake_clock.advance(timedelta(days=31))
    start = threading.Barrier(2)
    reports: list[MaintenanceReport] = []

    def run() -> None:
        start.wait()
        reports.append(run_maintenance())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(report.expired_pending for report in reports) == 3
    assert sum(report.purged_records for report in reports) == 1
    assert len(purge_events()) == 1
    assert all(status_of(record) is None for record in [*pending, rejected])


def test_the_timer_function_runs_the_job(fake_clock: FakeClock) -> None:
    record = new_upload()
    fake_clock.advance(timedelta(hours=25))
    maintenance(None)  # type: ignore[arg-type]  # the job ignores the timer's details
    assert status_of(record) is None


def test_purging_a_copy_kept_beside_a_ready_upload_frees_its_quota(
    fake_clock: FakeClock, azurite_storage: Settings
) -> None:
    # A version re-created through a still-valid URL was quarantined beside a ready file.
    record = new_upload(size_bytes=100)
    collections.uploads().update_one(
        {"_id": record["_id"]},
        {"$set": {"status": "ready", "stored_bytes": 100, "quarantined_bytes": 2048}},
    )
    storage.upload_bytes(
        azurite_storage.QUARANTINE_CONTAINER, f"{record['blob_name']}.1", b"x" * 2048, "image/png"
    )
    window = timedelta(hours=azurite_storage.UPLOAD_PENDING_HOURS)
    assert upload_records.reserved_bytes(OWNER, pending_since=clock.now() - window) == 2148

    fake_clock.advance(timedelta(days=azurite_storage.QUARANTINE_RETENTION_DAYS, seconds=1))
    report = run_maintenance()

    assert report.purged_blobs == 1
    assert status_of(record) == "ready"
    assert upload_records.reserved_bytes(OWNER, pending_since=clock.now() - window) == 100


def test_purging_a_copy_whose_upload_was_deleted_frees_its_owners_quota(
    fake_clock: FakeClock, azurite_storage: Settings
) -> None:
    owner = ObjectId()
    collections.users().insert_one({"_id": owner, "orphan_quarantined_bytes": 2048})
    name = f"{owner}/{ObjectId()}"  # its record is gone: deleted while its URL still worked
    storage.upload_bytes(azurite_storage.QUARANTINE_CONTAINER, name, b"x" * 2048, "image/png")

    fake_clock.advance(timedelta(days=azurite_storage.QUARANTINE_RETENTION_DAYS, seconds=1))
    report = run_maintenance()

    assert report.purged_blobs == 1
    assert user_records.orphan_bytes(str(owner)) == 0
