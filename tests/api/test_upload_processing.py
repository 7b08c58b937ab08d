"""The upload processor against a real Azurite (and a real clamd): what users and admins see.

Each test uploads through the API's SAS like a browser, runs the processor the way the
blob trigger does (``process_blob`` or the Functions function itself) and checks the
upload through the API, the served blob and the audit log.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from azure.storage.blob import BlobClient
from azurefunctions.extensions.base import get_binding_registry  # type: ignore[import-untyped]
from bson import ObjectId
from PIL import Image, ImageOps

from blueprints.upload_processor import process_upload
from shared.config import Settings
from shared.repositories import uploads as upload_records
from shared.services import scanning, storage
from shared.services.media import images
from shared.services.storage import clients, provisioning
from shared.services.upload_processing import ProcessingOutcome, Result, UploadBusy, process_blob
from shared.triggers import BlobReference
from tests import media_samples
from tests.api.client import ApiClient
from tests.api.conftest import Account
from tests.api.uploads_support import (
    TIMEOUT,
    UPLOADS_URL,
    blob_exists,
    blob_name,
    put_bytes,
    start_upload,
    upload_file,
    use_storage,
)
from tests.clamd_server import eicar_test_file, running_clamd
from tests.loopback import free_port
from tests.storage_support import change_settings
from tests.unit.test_blob_trigger import blob_properties_metadata, model_binding_data

pytestmark = pytest.mark.azurite

PRIVATE_MARKERS = (b"Exif", b"GPS", media_samples.CAMERA_MAKE.encode(), b"Secret Author")


@pytest.fixture(autouse=True)
def azurite_storage(
    lenient_auth_rate_limit: None, module_azurite: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Real Azurite with fresh containers for this test; scanning off unless a test sets it."""
    settings = use_storage(monkeypatch, module_azurite, CLAMD_URL="")
    provisioning.ensure_containers()
    yield settings
    clients.reset_storage_clients()


def get_upload(client: ApiClient, account: Account, upload: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"{UPLOADS_URL}/{upload['id']}", token=account.access_token)
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json
    return body


def audit_events(client: ApiClient, admin: Account, action: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/admin/audit-log?action={action}", token=admin.access_token)
    assert response.status == 200
    events: list[dict[str, Any]] = response.json["items"]
    return events


def rejection_events(client: ApiClient, admin: Account) -> list[dict[str, Any]]:
    return audit_events(client, admin, "upload.rejected")


def stored_record(upload: dict[str, Any]) -> dict[str, Any]:
    record = upload_records.find_by_id(ObjectId(upload["id"]))
    assert record is not None
    return record


def download(url: str) -> requests.Response:
    response = requests.get(url, timeout=TIMEOUT)
    assert response.status_code == 200
    return response


def process(upload: dict[str, Any], **kwargs: Any) -> ProcessingOutcome:
    return process_blob(blob_name(upload), **kwargs)


# --- accepted files --------------------------------------------------------------------


def test_jpeg_is_served_without_exif_or_gps_with_a_thumbnail_and_safe_headers(
    client: ApiClient, user: Account, tmp_path: Path
) -> None:
    path = media_samples.write_jpeg_with_exif(tmp_path)  # 120x80 stored, orientation 6
    upload = upload_file(
        client, user, path, filename="Été à la plage.jpg", content_type="image/jpeg"
    )

    outcome = process(upload)

    assert outcome.result is Result.READY
    ready = get_upload(client, user, upload)
    assert ready["status"] == "ready"
    assert ready["metadata"] == {"width": 80, "height": 120, "format": "jpeg"}
    assert ready["rejection_reason"] is None
    served = download(ready["download_url"])
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["Content-Disposition"] == (
        "attachment; filename=\"Ete a la plage.jpg\"; filename*=UTF-8''"
        + quote("Été à la plage.jpg", safe="")
    )
    assert not any(marker in served.content for marker in PRIVATE_MARKERS[1:])
    picture = Image.open(io.BytesIO(served.content))
    assert picture.size == (120, 80)  # copied losslessly: stored sideways...
    assert dict(picture.getexif()) == {0x0112: 6}  # ...with only the orientation kept
    assert ImageOps.exif_transpose(picture).size == (80, 120)
    assert ready["sha256"] == hashlib.sha256(served.content).hexdigest()
    thumbnail = download(ready["thumbnail_url"])
    assert thumbnail.headers["Content-Type"] == "image/webp"
    small = Image.open(io.BytesIO(thumbnail.content))
    assert (small.format, small.size) == ("WEBP", (80, 120))


def test_large_image_thumbnail_is_at_most_256_pixels(
    client: ApiClient, user: Account, tmp_path: Path
) -> None:
    path = media_samples.write_jpeg_with_exif(tmp_path, size=(1200, 600), orientation=1)
    upload = upload_file(client, user, path, content_type="image/jpeg")

    assert process(upload).result is Result.READY

    thumbnail = download(get_upload(client, user, upload)["thumbnail_url"])
    assert Image.open(io.BytesIO(thumbnail.content)).size == (256, 128)


def test_png_is_served_without_its_text_chunks(
    client: ApiClient, user: Account, tmp_path: Path
) -> None:
    upload = upload_file(client, user, media_samples.write_png(tmp_path), content_type="image/png")

    assert process(upload).result is Result.READY

    ready = get_upload(client, user, upload)
    assert ready["metadata"] == {"width": 60, "height": 40, "format": "png"}
    served = download(ready["download_url"])
    assert served.headers["Content-Type"] == "image/png"
    assert not any(marker in served.content for marker in PRIVATE_MARKERS)
    assert download(ready["thumbnail_url"]).headers["Content-Type"] == "image/webp"


def test_pdf_facts_are_recorded_and_the_file_is_served_as_an_attachment(
    client: ApiClient, user: Account, tmp_path: Path
) -> None:
    path = media_samples.write_pdf(tmp_path, pages=3)
    upload = upload_file(client, user, path, filename="report.pdf", content_type="application/pdf")

    assert process(upload).result is Result.READY

    ready = get_upload(client, user, upload)
    metadata = ready["metadata"]
    assert metadata["page_count"] == 3
    assert metadata["title"] == media_samples.SAMPLE_PDF_TITLE
    assert metadata["text_excerpt"].startswith(f"{media_samples.SAMPLE_PDF_TEXT} 1")
    assert ready["thumbnail_url"] is None
    served = download(ready["download_url"])
    assert served.headers["Content-Type"] == "application/pdf"
    assert served.headers["Content-Disposition"].startswith('attachment; filename="report.pdf"')
    assert served.content == path.read_bytes()
    assert ready["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_functions_function_processes_the_blob_it_is_given(
    client: ApiClient, user: Account, azurite_storage: Settings, tmp_path: Path
) -> None:
    upload = upload_file(client, user, media_samples.write_png(tmp_path), content_type="image/png")

    process_upload(
        BlobReference(container=azurite_storage.UPLOADS_CONTAINER, name=blob_name(upload))
    )

    assert get_upload(client, user, upload)["status"] == "ready"


def test_admin_stats_count_uploads_by_status(
    client: ApiClient, admin: Account, user: Account, tmp_path: Path
) -> None:
    ready = upload_file(client, user, media_samples.write_png(tmp_path), content_type="image/png")
    process(ready)
    start_upload(client, user, size_bytes=10)

    stats = client.get("/api/v1/admin/stats", token=admin.access_token).json["uploads"]

    assert stats["total"] == 2
    assert stats["by_status"] == {"ready": 1, "pending": 1}
    assert stats["bytes"] == ready["size_bytes"] + 10


# --- rejected files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("writer", "filename", "content_type", "reason"),
    [
        (media_samples.write_exe_stub, "setup.png", "image/png", "type_mismatch"),
        (media_samples.write_html, "page.png", "image/png", "type_mismatch"),
        (media_samples.write_zip, "archive.pdf", "application/pdf", "type_mismatch"),
        (media_samples.write_png, "picture.jpg", "image/jpeg", "type_mismatch"),
        (media_samples.write_truncated_jpeg, "truncated.jpg", "image/jpeg", "corrupt"),
        (media_samples.write_broken_pdf, "broken.pdf", "application/pdf", "corrupt"),
        (media_samples.write_pixel_flood_png, "flood.png", "image/png", "too_large"),
    ],
)
def test_bad_files_are_rejected_quarantined_and_audited(
    client: ApiClient,
    admin: Account,
    user: Account,
    azurite_storage: Settings,
    tmp_path: Path,
    writer: Callable[[Path], Path],
    filename: str,
    content_type: str,
    reason: str,
) -> None:
    path = writer(tmp_path)
    upload = upload_file(client, user, path, filename=filename, content_type=content_type)

    outcome = process(upload)

    assert (outcome.result, outcome.rejection_reason) == (Result.REJECTED, reason)
    rejected = get_upload(client, user, upload)
    assert (rejected["status"], rejected["rejection_reason"]) == ("rejected", reason)
    assert rejected["download_url"] is None
    assert rejected["thumbnail_url"] is None
    assert rejected["metadata"] is None
    name = blob_name(upload)
    assert not blob_exists(azurite_storage.UPLOADS_CONTAINER, name)
    quarantined = storage.iter_blob_chunks(azurite_storage.QUARANTINE_CONTAINER, name)
    assert b"".join(quarantined) == path.read_bytes()
    [event] = rejection_events(client, admin)
    assert event["target_id"] == upload["id"]
    assert event["actor_id"] is None
    assert (event["details"]["reason"], event["details"]["owner_id"]) == (reason, user.id)


@pytest.mark.parametrize(
    ("cap", "status", "reason"), [(1199, "rejected", "too_large"), (1200, "ready", None)]
)
def test_gif_over_its_formats_pixel_cap_is_rejected_too_large(
    client: ApiClient,
    user: Account,
    azurite_storage: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cap: int,
    status: str,
    reason: str | None,
) -> None:
    # The 40 x 30 GIF against a lowered GIF cap; JPEG and PNG caps are untouched.
    monkeypatch.setitem(images.PIXEL_CAPS, "gif", cap)
    path = media_samples.write_gif(tmp_path)
    upload = upload_file(client, user, path, filename="small.gif", content_type="image/gif")

    process(upload)

    processed = get_upload(client, user, upload)
    assert (processed["status"], processed["rejection_reason"]) == (status, reason)


def test_blob_larger_than_declared_is_a_size_mismatch(
    client: ApiClient, user: Account, azurite_storage: Settings, tmp_path: Path
) -> None:
    path = media_samples.write_png(tmp_path)
    declared = path.stat().st_size - 1
    upload = upload_file(client, user, path, content_type="image/png", declared_size=declared)

    outcome = process(upload)

    assert outcome.rejection_reason == "size_mismatch"
    assert get_upload(client, user, upload)["rejection_reason"] == "size_mismatch"
    assert blob_exists(azurite_storage.QUARANTINE_CONTAINER, blob_name(upload))


def test_blob_over_the_size_limit_is_too_large(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = media_samples.write_png(tmp_path)
    upload = upload_file(client, user, path, content_type="image/png")
    change_settings(monkeypatch, UPLOAD_MAX_BYTES=str(path.stat().st_size - 1))

    assert process(upload).rejection_reason == "too_large"


def test_type_no_longer_allowed_is_unsupported(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    upload = upload_file(client, user, media_samples.write_png(tmp_path), content_type="image/png")
    change_settings(monkeypatch, UPLOAD_ALLOWED_TYPES="image/jpeg")

    assert process(upload).rejection_reason == "unsupported_type"


def test_blob_without_a_record_is_quarantined_as_an_unknown_upload(
    client: ApiClient, admin: Account, user: Account, azurite_storage: Settings
) -> None:
    name = f"{user.id}/{ObjectId()}"
    storage.upload_bytes(azurite_storage.UPLOADS_CONTAINER, name, b"who sent this?", "image/png")

    outcome = process_blob(name)
    again = process_blob(name)

    assert (outcome.result, outcome.rejection_reason) == (Result.REJECTED, "unknown_upload")
    assert again.result is Result.GONE
    assert not blob_exists(azurite_storage.UPLOADS_CONTAINER, name)
    stored = storage.iter_blob_chunks(azurite_storage.QUARANTINE_CONTAINER, name)
    assert b"".join(stored) == b"who sent this?"
    [event] = rejection_events(client, admin)
    assert event["details"]["reason"] == "unknown_upload"
    assert event["details"]["blob_name"] == name


def test_blob_with_a_name_we_never_issue_is_quarantined(
    client: ApiClient, admin: Account, azurite_storage: Settings
) -> None:
    storage.upload_bytes(azurite_storage.UPLOADS_CONTAINER, "stray.png", b"x", "image/png")

    outcome = process_blob("stray.png")

    assert outcome.rejection_reason == "unknown_upload"
    assert blob_exists(azurite_storage.QUARANTINE_CONTAINER, "stray.png")
    assert rejection_events(client, admin)[0]["target_id"] is None


def test_a_blob_recreated_after_rejection_is_quarantined_beside_the_first(
    client: ApiClient, user: Account, azurite_storage: Settings, tmp_path: Path
) -> None:
    # The create-only URL works again once the rejected blob has left the container.
    path = media_samples.write_exe_stub(tmp_path)
    upload = upload_file(client, user, path, filename="setup.png", content_type="image/png")
    assert process(upload).rejection_reason == "type_mismatch"
    assert put_bytes(upload, path.read_bytes()).status_code == 201

    outcome = process(upload)

    assert (outcome.result, outcome.rejection_reason) == (Result.REJECTED, "unknown_upload")
    assert get_upload(client, user, upload)["rejection_reason"] == "type_mismatch"
    name = blob_name(upload)
    assert blob_exists(azurite_storage.QUARANTINE_CONTAINER, f"{name}.1")
    # Deleting the upload removes every quarantined copy of it.
    assert client.delete(f"{UPLOADS_URL}/{upload['id']}", token=user.access_token).status == 204
    assert list(storage.list_blobs(azurite_storage.QUARANTINE_CONTAINER, prefix=name)) == []


def test_bytes_kept_in_quarantine_count_against_the_quota_until_deleted(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, UPLOAD_QUOTA_BYTES=str(1024 * 1024))
    lying = b"\x89PNG" + b"\0" * (3 * 1024 * 1024 - 4)  # declared 1 KB, really 3 MiB
    uploads = [start_upload(client, user, size_bytes=1000) for _ in range(3)]
    for upload in uploads:
        assert put_bytes(upload, lying).status_code == 201
        assert process(upload).rejection_reason == "size_mismatch"

    refused = client.post(
        UPLOADS_URL,
        json={"filename": "y.png", "content_type": "image/png", "size_bytes": 1},
        token=user.access_token,
    )

    assert refused.status == 422
    assert refused.json["code"] == "quota_exceeded"
    assert f"({3 * len(lying)} in use)" in refused.json["detail"]
    for upload in uploads:
        assert client.delete(f"{UPLOADS_URL}/{upload['id']}", token=user.access_token).status == 204
    assert start_upload(client, user, size_bytes=1000)["status"] == "pending"


def test_a_version_re_created_after_processing_counts_in_quarantine_too(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = media_samples.write_png(tmp_path)
    upload = upload_file(client, user, path, content_type="image/png")
    assert process(upload).result is Result.READY
    stored = stored_record(upload)["stored_bytes"]
    # The upload URL still works for a while, and the blob is gone once processed.
    assert put_bytes(upload, b"\0" * 500_000).status_code == 201
    assert process(upload).rejection_reason == "unknown_upload"

    change_settings(monkeypatch, UPLOAD_QUOTA_BYTES=str(stored + 500_000))
    refused = client.post(
        UPLOADS_URL,
        json={"filename": "y.png", "content_type": "image/png", "size_bytes": 1},
        token=user.access_token,
    )

    assert refused.status == 422
    assert f"({stored + 500_000} in use)" in refused.json["detail"]


def test_an_upload_url_used_after_its_upload_was_deleted_stores_nothing_for_free(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch, azurite_storage: Settings
) -> None:
    # The URL cannot be revoked: its bytes land in quarantine and count on the owner's quota.
    upload = start_upload(client, user, size_bytes=1000)
    assert client.delete(f"{UPLOADS_URL}/{upload['id']}", token=user.access_token).status == 204
    assert put_bytes(upload, b"\0" * 600_000).status_code == 201
    assert process(upload).rejection_reason == "unknown_upload"
    assert blob_exists(azurite_storage.QUARANTINE_CONTAINER, blob_name(upload))

    change_settings(monkeypatch, UPLOAD_QUOTA_BYTES=str(1_000_000))
    refused = client.post(
        UPLOADS_URL,
        json={"filename": "y.png", "content_type": "image/png", "size_bytes": 500_000},
        token=user.access_token,
    )

    assert refused.status == 422
    assert refused.json["code"] == "quota_exceeded"
    assert "(600000 in use)" in refused.json["detail"]


# --- exactly once ----------------------------------------------------------------------


def test_the_same_rejected_version_delivered_twice_gives_one_result(
    client: ApiClient, admin: Account, user: Account, tmp_path: Path
) -> None:
    upload = upload_file(
        client,
        user,
        media_samples.write_exe_stub(tmp_path),
        filename="a.png",
        content_type="image/png",
    )
    first = process(upload)
    before = get_upload(client, user, upload)

    second = process(upload, etag=first.etag)

    assert second.result is Result.DUPLICATE
    assert second.etag == first.etag
    assert second.rejection_reason == "type_mismatch"
    assert get_upload(client, user, upload) == before
    assert len(rejection_events(client, admin)) == 1


def test_processed_files_live_outside_the_watched_container_and_redelivery_does_nothing(
    client: ApiClient, user: Account, azurite_storage: Settings, tmp_path: Path
) -> None:
    upload = upload_file(client, user, media_samples.write_png(tmp_path), content_type="image/png")
    first = process(upload)
    before = get_upload(client, user, upload)
    name = blob_name(upload)

    # Nothing left in the container the trigger watches: no write of the processor's
    # can fire it again, and the upload URL cannot touch what is served.
    assert list(storage.list_blobs(azurite_storage.UPLOADS_CONTAINER)) == []
    assert blob_exists(azurite_storage.FILES_CONTAINER, name)
    assert f"/{azurite_storage.FILES_CONTAINER}/{name}?" in before["download_url"]
    original_again = process(upload, etag=first.etag)

    assert (first.result, original_again.result) == (Result.READY, Result.DUPLICATE)
    after = get_upload(client, user, upload)
    assert (after["updated_at"], after["sha256"]) == (before["updated_at"], before["sha256"])


def test_an_event_for_a_version_that_was_replaced_is_superseded(
    client: ApiClient, user: Account, tmp_path: Path
) -> None:
    upload = upload_file(client, user, media_samples.write_png(tmp_path), content_type="image/png")

    outcome = process(upload, etag='"0x8D0000000000000"')

    assert outcome.result is Result.SUPERSEDED
    assert process(upload).result is Result.READY


def test_a_delivery_while_another_holds_the_version_does_nothing(
    client: ApiClient, user: Account, azurite_storage: Settings, tmp_path: Path
) -> None:
    upload = upload_file(client, user, media_samples.write_png(tmp_path), content_type="image/png")
    etag = storage.blob_properties(azurite_storage.UPLOADS_CONTAINER, blob_name(upload)).etag
    record = stored_record(upload)
    # Another invocation claims the version and is still at work.
    assert upload_records.claim_for_processing(
        record["_id"],
        previous_claim=None,
        claim="other-invocation",
        etag=etag,
        same_version=False,
        attempts=1,
        lease_until=datetime.now(UTC) + timedelta(hours=1),
    )

    same = process(upload, etag=etag)

    assert same.result is Result.IN_PROGRESS
    assert get_upload(client, user, upload)["status"] == "processing"
    # An event for another version must wait until the holder has finished.
    with pytest.raises(UploadBusy):
        process(upload, etag='"0x8D0000000000001"')


# --- retries ---------------------------------------------------------------------------


@pytest.fixture
def upload_while_clamd_is_down(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, Any]:
    """A PNG the user uploaded, with CLAMD_URL where nobody listens: scanning fails."""
    upload = upload_file(client, user, media_samples.write_png(tmp_path), content_type="image/png")
    change_settings(monkeypatch, CLAMD_URL=f"tcp://127.0.0.1:{free_port()}")
    return upload


def test_a_transient_failure_is_retried_and_then_succeeds(
    client: ApiClient,
    user: Account,
    monkeypatch: pytest.MonkeyPatch,
    upload_while_clamd_is_down: dict[str, Any],
) -> None:
    upload = upload_while_clamd_is_down

    with pytest.raises(scanning.ScannerUnavailable):
        process(upload, attempt=1)
    assert get_upload(client, user, upload)["status"] == "processing"

    change_settings(monkeypatch, CLAMD_URL="")
    outcome = process(upload, attempt=2)

    assert outcome.result is Result.READY
    assert get_upload(client, user, upload)["status"] == "ready"
    assert stored_record(upload)["processing"]["attempts"] == 2


def test_failing_on_the_last_attempt_marks_the_upload_failed(
    client: ApiClient, user: Account, upload_while_clamd_is_down: dict[str, Any]
) -> None:
    upload = upload_while_clamd_is_down

    for _ in range(4):
        # The host passes no try number; the record counts the tries itself.
        with pytest.raises(scanning.ScannerUnavailable):
            process(upload)
    last = process(upload)

    assert last.result is Result.FAILED
    failed = get_upload(client, user, upload)
    assert (failed["status"], failed["download_url"]) == ("failed", None)
    assert process(upload).result is Result.DUPLICATE
    # The file is neither served nor lost: it stays where it was uploaded.
    assert stored_record(upload)["processed_etags"]


def test_the_host_try_number_can_declare_the_last_attempt(
    upload_while_clamd_is_down: dict[str, Any],
) -> None:
    upload = upload_while_clamd_is_down

    outcome = process(upload, attempt=3, max_attempts=3)

    assert outcome.result is Result.FAILED


# --- virus scanning --------------------------------------------------------------------


@pytest.fixture(scope="module")
def clamd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_clamd(tmp_path_factory.mktemp("clamd")) as url:
        yield url


@pytest.mark.clamd
def test_eicar_is_rejected_as_malware_and_quarantined(
    client: ApiClient,
    admin: Account,
    user: Account,
    azurite_storage: Settings,
    clamd_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    change_settings(monkeypatch, CLAMD_URL=clamd_url)
    path = tmp_path / "eicar.png"
    path.write_bytes(eicar_test_file())
    upload = upload_file(client, user, path, content_type="image/png")

    outcome = process(upload)

    assert outcome.rejection_reason == "malware"
    assert get_upload(client, user, upload)["rejection_reason"] == "malware"
    assert blob_exists(azurite_storage.QUARANTINE_CONTAINER, blob_name(upload))
    assert not blob_exists(azurite_storage.UPLOADS_CONTAINER, blob_name(upload))
    assert stored_record(upload)["scan"] == "infected"
    [event] = rejection_events(client, admin)
    assert event["details"]["signature"].startswith("Eicar-Test-Signature")
    assert event["details"]["scan"] == "infected"


@pytest.mark.clamd
def test_a_clean_file_records_a_clean_scan(
    client: ApiClient,
    user: Account,
    clamd_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    change_settings(monkeypatch, CLAMD_URL=clamd_url)
    upload = upload_file(client, user, media_samples.write_png(tmp_path), content_type="image/png")

    assert process(upload).result is Result.READY
    assert stored_record(upload)["scan"] == "clean"


def test_without_clamd_url_the_scan_is_skipped(
    client: ApiClient, user: Account, tmp_path: Path
) -> None:
    upload = upload_file(client, user, media_samples.write_png(tmp_path), content_type="image/png")

    assert process(upload).result is Result.READY
    assert stored_record(upload)["scan"] == "skipped"


# --- one read of the blob's properties per delivery ------------------------------------


def count_property_reads(monkeypatch: pytest.MonkeyPatch, container: str, name: str) -> list[str]:
    """Record every Get Blob Properties request sent to Azurite for ``container/name``."""
    reads: list[str] = []
    original = BlobClient.get_blob_properties

    def counting(self: BlobClient, **kwargs: Any) -> Any:
        if (self.container_name, self.blob_name) == (container, name):
            reads.append(name)
        return original(self, **kwargs)

    monkeypatch.setattr(BlobClient, "get_blob_properties", counting)
    return reads


@pytest.mark.parametrize("announced", [True, False], ids=["etag-announced", "no-etag"])
def test_a_delivery_reads_the_blob_properties_once(
    client: ApiClient,
    user: Account,
    azurite_storage: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    announced: bool,
) -> None:
    upload = upload_file(client, user, media_samples.write_png(tmp_path), content_type="image/png")
    name = blob_name(upload)
    # The ETag as a listing gives it, like the local host's trigger: no properties read.
    [listed] = storage.list_blobs(azurite_storage.UPLOADS_CONTAINER, prefix=name)
    reads = count_property_reads(monkeypatch, azurite_storage.UPLOADS_CONTAINER, name)

    outcome = process(upload, etag=listed.etag if announced else None)

    assert outcome.result is Result.READY
    assert len(reads) == 1


def test_the_trigger_passes_the_hosts_etag_so_a_redelivery_reads_nothing(
    client: ApiClient,
    user: Account,
    azurite_storage: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upload = upload_file(client, user, media_samples.write_png(tmp_path), content_type="image/png")
    name = blob_name(upload)
    [listed] = storage.list_blobs(azurite_storage.UPLOADS_CONTAINER, prefix=name)
    # What the host sends: the blob's coordinates, and its properties as trigger metadata.
    reference = (
        get_binding_registry()
        .get("blobTrigger")
        .decode(
            model_binding_data(azurite_storage.UPLOADS_CONTAINER, name),
            trigger_metadata=blob_properties_metadata({"ETag": listed.etag, "ContentLength": 1}),
            pytype=BlobReference,
        )
    )
    reads = count_property_reads(monkeypatch, azurite_storage.UPLOADS_CONTAINER, name)

    process_upload(reference)
    after_first = len(reads)
    process_upload(reference)  # at-least-once delivery: the same event again

    assert get_upload(client, user, upload)["status"] == "ready"
    assert (after_first, len(reads)) == (1, 1)


# --- what the upload URL can create beside the blob ------------------------------------


def take_snapshot(upload: dict[str, Any]) -> None:
    """Snapshot the uploaded blob through its create-only URL, as Azure allows."""
    response = requests.put(f"{upload['upload']['url']}&comp=snapshot", timeout=TIMEOUT)
    assert response.status_code == 201, response.text


def everything_under(container: str, name: str) -> list[tuple[str, str | None]]:
    """Blobs and snapshots named ``name`` (or under it) in ``container``."""
    client = clients.service().get_container_client(container)
    listed = client.list_blobs(name_starts_with=name, include=["snapshots"])
    return [(blob.name, blob.snapshot) for blob in listed]


def test_bytes_put_after_the_owner_deleted_their_account_do_not_survive_processing(
    client: ApiClient, admin: Account, user: Account, azurite_storage: Settings
) -> None:
    upload = start_upload(client, user, size_bytes=1000)
    deleted = client.delete(
        "/api/v1/users/me", json={"password": user.password}, token=user.access_token
    )
    assert deleted.status == 204
    # The URL cannot be revoked: it still creates the blob, and a snapshot of it.
    assert put_bytes(upload, b"\0" * 600_000).status_code == 201
    take_snapshot(upload)
    name = blob_name(upload)

    outcome = process(upload)
    again = process(upload)

    assert (outcome.result, again.result) == (Result.DISCARDED, Result.GONE)
    for container in (azurite_storage.UPLOADS_CONTAINER, azurite_storage.QUARANTINE_CONTAINER):
        assert everything_under(container, name) == []
    [event] = audit_events(client, admin, "upload.discarded")
    assert event["target_id"] == upload["id"]
    assert event["details"]["reason"] == "owner_deleted"
    assert event["details"]["owner_id"] == user.id
    assert event["details"]["size"] == 600_000
    assert rejection_events(client, admin) == []


@pytest.mark.parametrize("rejected", [False, True], ids=["ready", "rejected"])
def test_no_snapshot_taken_through_the_upload_url_survives_processing(
    client: ApiClient, user: Account, azurite_storage: Settings, tmp_path: Path, rejected: bool
) -> None:
    path = media_samples.write_exe_stub(tmp_path) if rejected else media_samples.write_png(tmp_path)
    upload = upload_file(client, user, path, filename="a.png", content_type="image/png")
    take_snapshot(upload)
    take_snapshot(upload)
    name = blob_name(upload)
    assert len(everything_under(azurite_storage.UPLOADS_CONTAINER, name)) == 3

    outcome = process(upload)

    assert outcome.result is (Result.REJECTED if rejected else Result.READY)
    assert everything_under(azurite_storage.UPLOADS_CONTAINER, name) == []
    for container in (
        azurite_storage.FILES_CONTAINER,
        azurite_storage.THUMBNAILS_CONTAINER,
        azurite_storage.QUARANTINE_CONTAINER,
    ):
        assert all(snapshot is None for _, snapshot in everything_under(container, name))
