"""The scheduled maintenance job: what no request and no blob event cleans up.

One run, under a lease in MongoDB so that two instances firing together do the work
once (the loser returns at once):

1. pending uploads past ``UPLOAD_PENDING_HOURS`` whose upload URL has expired: when a
   blob was uploaded but its event never arrived, the upload is processed now;
   otherwise the record is deleted, which frees its quota;
2. records stuck in ``processing`` past the processor's lease (its invocation died or
   the host gave up retrying): processed again, with the record's try count, so the
   processor's last try marks them ``failed``; one whose blob is gone is ``failed`` now;
3. quarantine older than ``QUARANTINE_RETENTION_DAYS``: rejected records with their
   quarantined blobs, then any other quarantined blob (unknown uploads), each purge
   audited as ``upload.quarantine_purged``;
4. documents past their ``expires_at`` in the collections with a TTL index: the
   server's TTL monitor removes them within about a minute, but only on its own clock
   and only while it runs; the sweep applies the app's clock (uploads, which need
   their blobs removed too, cannot expire by TTL at all: steps 1 to 3 do that);
5. the dashboard totals (counters) are recounted from the collections and any drift
   is corrected with one ``$inc`` of the difference, audited as ``counters.corrected``.
   Drift comes from a write whose process died between its change and its counter
   update. A write in flight looks like drift too, so the totals are counted twice,
   RECOUNT_SETTLE apart, and corrected only when both counts and both readings of the
   totals agree (any write in between makes them differ: the next run tries again).
   What remains: a write whose change landed before the first count but whose ``$inc``
   lands only after the correction (more than RECOUNT_SETTLE later) is counted twice,
   until the next run's recount removes it again.

Every step is conditional on the state it read, so it is also safe to repeat.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from shared import clock, telemetry
from shared.config import Settings, get_settings
from shared.db import names
from shared.db.records import UploadRecord
from shared.identity import SYSTEM
from shared.repositories import counters, locks
from shared.repositories import upload_maintenance as records
from shared.repositories import uploads as upload_records
from shared.repositories import users as user_records
from shared.services import audit, storage, upload_processing
from shared.services.storage import clients

logger = logging.getLogger(__name__)

LEASE_NAME = "maintenance"
# Longer than one invocation may run (host.json functionTimeout), so a live lease
# always means another run is still at work.
LEASE = timedelta(minutes=10)
BATCH = 200
# Re-processing runs the whole pipeline (download, scan, parse): a few per run keeps
# one run well inside the function timeout; the next run takes the rest.
MAX_REPROCESSED = 10
PURGED_ACTION = "upload.quarantine_purged"
CORRECTED_ACTION = "counters.corrected"
# Far longer than a live write takes between its change and its counter update.
RECOUNT_SETTLE = timedelta(seconds=1)
# Collections whose documents end at ``expires_at`` (each has a TTL index on it).
EXPIRING: tuple[tuple[str, str], ...] = (
    (names.RATE_LIMITS, "expires_at"),
    (names.REFRESH_TOKENS, "expires_at"),
    (names.PASSWORD_RESETS, "expires_at"),
    (names.LOGIN_THROTTLE, "expires_at"),
)


@dataclass
class MaintenanceReport:
    """What one run did; ``ran`` is False when another instance held the lease."""

    ran: bool
    expired_pending: int = 0
    reprocessed: int = 0
    failed_stuck: int = 0
    retry_later: int = 0
    purged_records: int = 0
    purged_blobs: int = 0
    swept: dict[str, int] = field(default_factory=dict)
    corrected: dict[str, dict[str, int]] = field(default_factory=dict)
    recount_deferred: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass
class _Run:
    settings: Settings
    now: datetime
    report: MaintenanceReport
    reprocess_budget: int = MAX_REPROCESSED

    @property
    def storage(self) -> bool:
        return clients.storage_configured()


@telemetry.traced("maintenance.run", lambda report: {"maintenance.ran": report.ran})
def run_maintenance(*, holder: str | None = None) -> MaintenanceReport:
    """One maintenance run; does nothing while another holder has the lease."""
    holder = holder or secrets.token_hex(8)
    started = clock.now()
    if not locks.acquire(LEASE_NAME, holder=holder, now=started, until=started + LEASE):
        logger.info(json.dumps({"event": "maintenance.skipped", "reason": "lease held"}))
        return MaintenanceReport(ran=False)
    run = _Run(get_settings(), started, MaintenanceReport(ran=True))
    try:
        steps = (_expire_pending, _settle_stuck, _purge_quarantine, _sweep_expired, _recount)
        for step in steps:
            try:
                step(run)
            except Exception as exc:  # one failing step (storage down) must not stop the rest
                logger.exception("maintenance step %s failed", step.__name__)
                run.report.errors.append(f"{step.__name__}: {type(exc).__name__}")
    finally:
        locks.release(LEASE_NAME, holder=holder, now=clock.now())
    logger.info(json.dumps({"event": "maintenance.done", **asdict(run.report)}))
    return run.report


def _expire_pending(run: _Run) -> None:
    created_before = run.now - timedelta(hours=run.settings.UPLOAD_PENDING_HOURS)
    for record in records.abandoned_pending(
        created_before=created_before, now=run.now, limit=BATCH
    ):
        if run.storage and _blob_exists(run.settings.UPLOADS_CONTAINER, record["blob_name"]):
            # The bytes arrived but the blob event never did: process them now.
            _reprocess(run, record)
            continue
        if records.delete_abandoned_pending(
            record["_id"], created_before=created_before, now=run.now
        ):
            run.report.expired_pending += 1
            _log("maintenance.pending_expired", record)


def _settle_stuck(run: _Run) -> None:
    idle_before = run.now - upload_processing.LEASE
    for record in records.stuck_processing(now=run.now, idle_before=idle_before, limit=BATCH):
        attempts = int(record.get("processing", {}).get("attempts", 0))
        if attempts >= upload_processing.DEFAULT_MAX_ATTEMPTS or not run.storage:
            _fail(run, record, "abandoned", idle_before=idle_before)
        else:
            _reprocess(run, record, attempt=attempts + 1)


def _reprocess(run: _Run, record: UploadRecord, *, attempt: int = 1) -> None:
    if run.reprocess_budget <= 0:
        return
    run.reprocess_budget -= 1
    try:
        outcome = upload_processing.process_blob(record["blob_name"], attempt=attempt)
    except Exception as exc:  # transient: the record keeps its count; a later run tries again
        run.report.retry_later += 1
        _log("maintenance.retry_later", record, error=type(exc).__name__)
        return
    run.report.reprocessed += 1
    _log("maintenance.reprocessed", record, result=outcome.result.value)
    if outcome.result is upload_processing.Result.GONE:
        _fail(run, record, "blob_missing", idle_before=clock.now())


def _fail(run: _Run, record: UploadRecord, error: str, *, idle_before: datetime) -> None:
    if records.fail_stuck(record["_id"], now=clock.now(), idle_before=idle_before, error=error):
        run.report.failed_stuck += 1
        _log("maintenance.failed", record, error=error)


def _purge_quarantine(run: _Run) -> None:
    cutoff = run.now - timedelta(days=run.settings.QUARANTINE_RETENTION_DAYS)
    container = run.settings.QUARANTINE_CONTAINER
    for record in records.expired_rejections(processed_before=cutoff, limit=BATCH):
        name = record["blob_name"]
        purged = (
            [
                blob.name
                for blob in storage.list_blobs(container, prefix=name)
                if _older(blob, cutoff) and storage.delete_blob_if_exists(container, blob.name)
            ]
            if run.storage
            else []
        )
        if records.delete_expired_rejection(record["_id"], processed_before=cutoff):
            run.report.purged_records += 1
            run.report.purged_blobs += len(purged)
            _audit_purge(
                target_id=str(record["_id"]),
                owner_id=record["owner_id"],
                blobs=purged,
                reason=record.get("rejection_reason"),
            )
    if not run.storage:
        return
    # Blobs no rejected record accounts for: unknown uploads, unexpected versions.
    for blob in storage.list_blobs(container):
        if _older(blob, cutoff) and storage.delete_blob_if_exists(container, blob.name):
            run.report.purged_blobs += 1
            owner_id, _, rest = blob.name.partition("/")
            _release_quota(owner_id, rest.split(".", 1)[0], blob.size)
            _audit_purge(
                target_id=rest.split(".", 1)[0] or None,
                owner_id=owner_id if rest else None,
                blobs=[blob.name],
                reason=None,
            )


def _release_quota(owner_id: str, upload_id: str, size: int) -> None:
    """A purged stray copy stops counting: against its record, or its owner when none."""
    record = (
        upload_records.find_by_id(ObjectId(upload_id)) if ObjectId.is_valid(upload_id) else None
    )
    if record is not None:  # a re-created version kept beside a live record
        upload_records.release_quarantined_bytes(record["_id"], size)
    else:  # its record was deleted while its upload URL still worked
        user_records.release_orphan_bytes(owner_id, size)


def _sweep_expired(run: _Run) -> None:
    for collection, field_name in EXPIRING:
        deleted = records.sweep_expired(collection, field_name, now=run.now)
        if deleted:
            run.report.swept[collection] = deleted


def _recount(run: _Run) -> None:
    """Correct the dashboard totals where they differ from a recount (see the module doc)."""
    recounts = {counters.USERS: counters.recount_users, counters.UPLOADS: counters.recount_uploads}
    before = counters.read()
    first = {name: recount() for name, recount in recounts.items()}
    time.sleep(RECOUNT_SETTLE.total_seconds())
    second = {name: recount() for name, recount in recounts.items()}
    after = counters.read()
    for name, counted in second.items():
        stored = counters.flat(after.get(name))
        if first[name] != counted or counters.flat(before.get(name)) != stored:
            run.report.recount_deferred = True  # writes under way; the next run recounts
            continue
        drift = {key: counted[key] - stored[key] for key in counted.keys() | stored.keys()}
        drift = {key: value for key, value in sorted(drift.items()) if value}
        if not drift:
            continue
        counters.add(name, stored, counted)
        run.report.corrected[name] = drift
        event = {"event": "maintenance.counters_corrected", "counter": name, "drift": drift}
        logger.warning(json.dumps(event))
        audit.record(CORRECTED_ACTION, caller=SYSTEM, target_id=name, details={"drift": drift})


def _older(blob: storage.BlobRef, cutoff: datetime) -> bool:
    return blob.last_modified is not None and blob.last_modified < cutoff


def _blob_exists(container: str, name: str) -> bool:
    try:
        storage.blob_properties(container, name)
    except storage.BlobNotFound:
        return False
    return True


def _audit_purge(
    *, target_id: str | None, owner_id: str | None, blobs: list[str], reason: str | None
) -> None:
    details: dict[str, Any] = {"owner_id": owner_id, "blobs": blobs, "rejection_reason": reason}
    audit.record(PURGED_ACTION, caller=SYSTEM, target_id=target_id, details=details)


def _log(event: str, record: UploadRecord, **fields: Any) -> None:
    logger.info(json.dumps({"event": event, "upload_id": str(record["_id"]), **fields}))
