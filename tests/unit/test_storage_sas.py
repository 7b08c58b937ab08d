"""Blob Storage SAS and blob helpers, against a real Azurite over HTTP."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from azure.storage.blob import BlobClient, BlobServiceClient

from shared.config import Settings, reset_settings
from shared.services import storage
from shared.services.storage import clients, provisioning, sas
from tests.azurite_server import (
    FakeEntraCredential,
    HttpsAzurite,
    running_https_azurite,
)
from tests.loopback import free_port
from tests.storage_support import change_settings, own_containers

DEV_ORIGIN = "http://127.0.0.1:7071"
FOREIGN_ORIGIN = "https://evil.example"
TIMEOUT = 10
MIB = 1024 * 1024


@pytest.fixture
def settings(module_azurite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Storage settings on Azurite with fresh containers for this test."""
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_URL", raising=False)
    configured = change_settings(
        monkeypatch,
        ENVIRONMENT="development",
        AZURE_STORAGE_CONNECTION_STRING=module_azurite,
        **own_containers(),
    )
    provisioning.ensure_containers()
    yield configured
    clients.reset_storage_clients()
    reset_settings()


def _production_env(**extra: str) -> dict[str, str]:
    return {
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATA_ENCRYPTION_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": "mongodb://db.invalid:27017",
        **extra,
    }


def _put(url: str, data: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.put(url, data=data, headers=headers, timeout=TIMEOUT)


def _upload_target(**overrides: str) -> sas.UploadTarget:
    ids = {"owner_id": "owner1", "upload_id": secrets.token_hex(8), "content_type": "image/png"}
    values = {**ids, **overrides}
    return sas.upload_sas(
        owner_id=values["owner_id"],
        upload_id=values["upload_id"],
        content_type=values["content_type"],
    )


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{path}?{parts.query}"


@pytest.mark.azurite
def test_upload_url_lets_the_browser_create_its_blob_with_one_put(settings: Settings) -> None:
    target = _upload_target(owner_id="owner1", upload_id="upload1", content_type="image/png")

    response = _put(target.url, b"png bytes", target.headers)

    assert response.status_code == 201
    assert target.blob_name == "owner1/upload1"
    assert target.headers == {"x-ms-blob-type": "BlockBlob", "Content-Type": "image/png"}
    info = storage.blob_properties(settings.UPLOADS_CONTAINER, "owner1/upload1")
    assert (info.size, info.content_type) == (9, "image/png")


@pytest.mark.azurite
def test_upload_url_cannot_overwrite_an_uploaded_blob(settings: Settings) -> None:
    target = _upload_target()
    assert _put(target.url, b"original", target.headers).status_code == 201

    second = _put(target.url, b"replaced", target.headers)

    assert second.status_code == 403
    chunks = storage.iter_blob_chunks(settings.UPLOADS_CONTAINER, target.blob_name)
    assert b"".join(chunks) == b"original"


@pytest.mark.azurite
def test_upload_url_is_refused_for_any_other_blob_name(settings: Settings) -> None:
    target = _upload_target(owner_id="owner1", upload_id="mine")

    for other in ("owner1/other", "owner2/mine", "owner1/mine-2"):
        url = _with_path(target.url, f"/devstoreaccount1/{settings.UPLOADS_CONTAINER}/{other}")
        assert _put(url, b"sneaky", target.headers).status_code == 403
        with pytest.raises(storage.BlobNotFound):
            storage.blob_properties(settings.UPLOADS_CONTAINER, other)


@pytest.mark.azurite
def test_upload_url_cannot_read_list_or_delete(settings: Settings) -> None:
    target = _upload_target()
    assert _put(target.url, b"private", target.headers).status_code == 201
    list_url = _with_path(target.url, f"/devstoreaccount1/{settings.UPLOADS_CONTAINER}")

    read = requests.get(target.url, timeout=TIMEOUT)
    listing = requests.get(f"{list_url}&restype=container&comp=list", timeout=TIMEOUT)
    delete = requests.delete(target.url, timeout=TIMEOUT)

    assert [read.status_code, listing.status_code, delete.status_code] == [403, 403, 403]
    assert b"private" not in read.content
    assert storage.blob_properties(settings.UPLOADS_CONTAINER, target.blob_name).size == 7


@pytest.mark.azurite
def test_upload_url_expiry_follows_the_configured_ttl(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, UPLOAD_URL_TTL_SECONDS="120")
    issued_at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    monkeypatch.setattr(sas, "_utcnow", lambda: issued_at)

    target = _upload_target()

    assert target.expires_at == issued_at + timedelta(seconds=120)
    assert parse_qs(urlsplit(target.url).query)["se"] == ["2030-01-02T03:06:05Z"]


@pytest.mark.azurite
def test_expired_upload_url_is_refused(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue the URL "in the past" so it is already expired, instead of sleeping.
    issued_at = datetime.now(UTC) - timedelta(seconds=settings.UPLOAD_URL_TTL_SECONDS + 60)
    monkeypatch.setattr(sas, "_utcnow", lambda: issued_at)
    target = _upload_target()

    response = _put(target.url, b"late", target.headers)

    assert target.expires_at < datetime.now(UTC)
    assert response.status_code == 403
    with pytest.raises(storage.BlobNotFound):
        storage.blob_properties(settings.UPLOADS_CONTAINER, target.blob_name)


@pytest.mark.azurite
def test_production_upload_url_works_over_https_only(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, **_production_env())
    target = _upload_target()

    response = _put(target.url, b"over plain http", target.headers)

    assert parse_qs(urlsplit(target.url).query)["spr"] == ["https"]
    assert response.status_code == 403


@pytest.mark.azurite
def test_read_url_reads_the_blob_but_cannot_change_it(settings: Settings) -> None:
    storage.upload_bytes(settings.THUMBNAILS_CONTAINER, "o/u.webp", b"thumb", "image/webp")
    url = sas.read_sas_url(container=settings.THUMBNAILS_CONTAINER, blob_name="o/u.webp")

    read = requests.get(url, timeout=TIMEOUT)
    write = _put(url, b"defaced", {"x-ms-blob-type": "BlockBlob"})
    delete = requests.delete(url, timeout=TIMEOUT)

    assert (read.status_code, read.content) == (200, b"thumb")
    assert (write.status_code, delete.status_code) == (403, 403)
    assert b"".join(storage.iter_blob_chunks(settings.THUMBNAILS_CONTAINER, "o/u.webp")) == b"thumb"


def test_read_url_lifetime_is_bounded() -> None:
    with pytest.raises(ValueError, match="minutes"):
        sas.read_sas_url(container="thumbnails", blob_name="o/u", minutes=24 * 60)


@pytest.mark.azurite
def test_cors_lets_the_dev_origin_put_and_refuses_a_foreign_origin(settings: Settings) -> None:
    provisioning.configure_cors([DEV_ORIGIN])
    target = _upload_target()

    def preflight(origin: str) -> requests.Response:
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,x-ms-blob-type",
        }
        return requests.options(target.url, headers=headers, timeout=TIMEOUT)

    allowed, foreign = preflight(DEV_ORIGIN), preflight(FOREIGN_ORIGIN)
    upload = _put(target.url, b"from the page", {**target.headers, "Origin": DEV_ORIGIN})

    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == DEV_ORIGIN
    assert foreign.status_code == 403
    assert "Access-Control-Allow-Origin" not in foreign.headers
    assert upload.status_code == 201
    assert upload.headers["Access-Control-Allow-Origin"] == DEV_ORIGIN


@pytest.mark.azurite
def test_configure_cors_is_refused_in_production(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, **_production_env())
    with pytest.raises(RuntimeError, match="infra"):
        provisioning.configure_cors([DEV_ORIGIN])


@pytest.mark.azurite
def test_ensure_containers_is_idempotent_and_keeps_blobs(settings: Settings) -> None:
    storage.upload_bytes(settings.QUARANTINE_CONTAINER, "o/kept", b"evidence", "text/plain")

    provisioning.ensure_containers()
    provisioning.ensure_containers()

    for container in (settings.UPLOADS_CONTAINER, settings.THUMBNAILS_CONTAINER):
        assert list(storage.list_blobs(container)) == []
    assert [ref.name for ref in storage.list_blobs(settings.QUARANTINE_CONTAINER)] == ["o/kept"]


@pytest.mark.azurite
def test_move_blob_keeps_the_bytes_and_removes_the_source(settings: Settings) -> None:
    data = os.urandom(3 * MIB)
    storage.upload_bytes(settings.UPLOADS_CONTAINER, "o/bad", data, "application/pdf")

    moved = storage.move_blob(settings.UPLOADS_CONTAINER, "o/bad", settings.QUARANTINE_CONTAINER)

    assert moved == "o/bad"
    assert b"".join(storage.iter_blob_chunks(settings.QUARANTINE_CONTAINER, "o/bad")) == data
    assert storage.blob_properties(settings.QUARANTINE_CONTAINER, "o/bad").content_type == (
        "application/pdf"
    )
    with pytest.raises(storage.BlobNotFound):
        storage.blob_properties(settings.UPLOADS_CONTAINER, "o/bad")


@pytest.mark.azurite
def test_move_blob_retried_after_it_completed_keeps_the_moved_copy(settings: Settings) -> None:
    storage.upload_bytes(settings.UPLOADS_CONTAINER, "o/twice", b"data", "image/png")
    storage.move_blob(settings.UPLOADS_CONTAINER, "o/twice", settings.QUARANTINE_CONTAINER)

    again = storage.move_blob(settings.UPLOADS_CONTAINER, "o/twice", settings.QUARANTINE_CONTAINER)

    assert again == "o/twice"
    assert storage.blob_properties(settings.QUARANTINE_CONTAINER, "o/twice").size == 4


@pytest.mark.azurite
def test_move_blob_of_a_missing_blob_reports_not_found(settings: Settings) -> None:
    with pytest.raises(storage.BlobNotFound):
        storage.move_blob(settings.UPLOADS_CONTAINER, "o/none", settings.QUARANTINE_CONTAINER)


@pytest.mark.azurite
def test_iter_blob_chunks_streams_a_large_blob_in_bounded_chunks(settings: Settings) -> None:
    data = os.urandom(9 * MIB + 123)
    etag = storage.upload_bytes(settings.UPLOADS_CONTAINER, "o/big", data, "image/jpeg")

    chunks = list(storage.iter_blob_chunks(settings.UPLOADS_CONTAINER, "o/big", etag=etag))

    assert [len(chunk) for chunk in chunks] == [4 * MIB, 4 * MIB, MIB + 123]
    assert b"".join(chunks) == data


@pytest.mark.azurite
def test_iter_blob_chunks_fails_when_the_blob_is_overwritten_midway(settings: Settings) -> None:
    storage.upload_bytes(settings.UPLOADS_CONTAINER, "o/swap", b"a" * 10, "text/plain")
    chunks = storage.iter_blob_chunks(settings.UPLOADS_CONTAINER, "o/swap", chunk_size=4)

    first = next(chunks)
    storage.upload_bytes(settings.UPLOADS_CONTAINER, "o/swap", b"b" * 10, "text/plain")

    assert first == b"aaaa"
    with pytest.raises(storage.BlobChanged):
        next(chunks)


@pytest.mark.azurite
def test_iter_blob_chunks_refuses_a_stale_etag(settings: Settings) -> None:
    stale = storage.upload_bytes(settings.UPLOADS_CONTAINER, "o/v", b"v1", "text/plain")
    storage.upload_bytes(settings.UPLOADS_CONTAINER, "o/v", b"v2", "text/plain")

    with pytest.raises(storage.BlobChanged):
        list(storage.iter_blob_chunks(settings.UPLOADS_CONTAINER, "o/v", etag=stale))


@pytest.mark.azurite
def test_iter_blob_chunks_with_a_known_version_streams_without_reading_properties(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    etag = storage.upload_bytes(settings.UPLOADS_CONTAINER, "o/known", b"0123456789", "x/y")
    monkeypatch.setattr(BlobClient, "get_blob_properties", None)  # any call would fail

    chunks = storage.iter_blob_chunks(
        settings.UPLOADS_CONTAINER, "o/known", etag=etag, size=10, chunk_size=4
    )

    assert list(chunks) == [b"0123", b"4567", b"89"]


def test_iter_blob_chunks_refuses_a_size_without_its_version() -> None:
    with pytest.raises(ValueError, match="etag"):
        list(storage.iter_blob_chunks("uploads", "o/u", size=10))


@pytest.mark.azurite
def test_a_written_file_is_served_with_its_type_and_disposition(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.7 body")
    disposition = "attachment; filename*=UTF-8''report.pdf"

    storage.write_file(
        settings.THUMBNAILS_CONTAINER,
        "o/doc",
        path,
        content_type="application/pdf",
        content_disposition=disposition,
    )
    url = sas.read_sas_url(container=settings.THUMBNAILS_CONTAINER, blob_name="o/doc")
    served = requests.get(url, timeout=TIMEOUT)

    assert served.content == b"%PDF-1.7 body"
    assert served.headers["Content-Type"] == "application/pdf"
    assert served.headers["Content-Disposition"] == disposition


@pytest.mark.azurite
def test_delete_blob_if_exists_reports_whether_it_deleted(settings: Settings) -> None:
    storage.upload_bytes(settings.THUMBNAILS_CONTAINER, "o/gone", b"x", "image/webp")

    assert storage.delete_blob_if_exists(settings.THUMBNAILS_CONTAINER, "o/gone") is True
    assert storage.delete_blob_if_exists(settings.THUMBNAILS_CONTAINER, "o/gone") is False


@pytest.mark.azurite
def test_list_blobs_yields_names_and_etags_under_a_prefix(settings: Settings) -> None:
    etag = storage.upload_bytes(settings.UPLOADS_CONTAINER, "alice/1", b"a", "text/plain")
    storage.upload_bytes(settings.UPLOADS_CONTAINER, "bob/1", b"b", "text/plain")

    listed = list(storage.list_blobs(settings.UPLOADS_CONTAINER, "alice/"))

    assert [(ref.name, ref.etag, ref.size) for ref in listed] == [("alice/1", etag, 1)]


@pytest.mark.azurite
def test_ping_measures_a_round_trip(settings: Settings) -> None:
    assert clients.ping() >= 0.0


@pytest.mark.azurite
def test_ping_fails_when_the_uploads_container_is_missing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, UPLOADS_CONTAINER="never-created")

    with pytest.raises(storage.StorageUnavailable, match="container"):
        clients.ping()


@pytest.mark.parametrize(
    ("owner_id", "upload_id"),
    [("../other", "u1"), ("o1", "a/b"), ("o1", ""), ("o 1", "u1"), ("o1", "u1?comp=list")],
)
def test_upload_url_refuses_unsafe_ids(owner_id: str, upload_id: str) -> None:
    with pytest.raises(ValueError, match="_id"):
        sas.upload_sas(owner_id=owner_id, upload_id=upload_id, content_type="image/png")


def test_upload_url_refuses_a_content_type_that_breaks_headers() -> None:
    with pytest.raises(ValueError, match="content_type"):
        sas.upload_sas(owner_id="o1", upload_id="u1", content_type="image/png\r\nX-Evil: 1")


@pytest.fixture
def unreachable_storage(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_URL", raising=False)
    from devhost.azurite import azurite_connection_string

    change_settings(
        monkeypatch, AZURE_STORAGE_CONNECTION_STRING=azurite_connection_string(free_port())
    )
    yield
    clients.reset_storage_clients()
    reset_settings()


def test_unreachable_storage_is_reported_unavailable_without_secrets(
    unreachable_storage: None,
) -> None:
    with pytest.raises(storage.StorageUnavailable) as caught:
        clients.ping()

    assert "AccountKey" not in str(caught.value)
    assert "Eby8vdM02" not in str(caught.value)


def test_unconfigured_storage_is_reported_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_URL", raising=False)
    change_settings(monkeypatch, AZURE_STORAGE_CONNECTION_STRING="")

    assert clients.storage_configured() is False
    with pytest.raises(storage.StorageNotConfigured):
        clients.ping()
    clients.reset_storage_clients()
    reset_settings()


# --- production path: token credential, user delegation key, HTTPS ---


@pytest.fixture(scope="module")
def https_azurite() -> Iterator[HttpsAzurite]:
    with running_https_azurite() as server:
        yield server


@pytest.fixture
def production_settings(
    https_azurite: HttpsAzurite, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Production settings on an account reached with Entra tokens only (no key)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(https_azurite.ca_bundle))
    monkeypatch.setattr(clients, "_default_credential", FakeEntraCredential)
    configured = change_settings(
        monkeypatch,
        **_production_env(
            AZURE_STORAGE_ACCOUNT_URL=https_azurite.account_url,
            AZURE_STORAGE_CONNECTION_STRING="",
            **own_containers(),
        ),
    )
    provisioning.ensure_containers()
    yield configured
    clients.reset_storage_clients()
    reset_settings()


@pytest.mark.azurite
def test_production_upload_url_is_signed_with_a_user_delegation_key(
    production_settings: Settings, https_azurite: HttpsAzurite
) -> None:
    target = _upload_target()
    verify = str(https_azurite.ca_bundle)

    created = requests.put(
        target.url, data=b"prod", headers=target.headers, timeout=TIMEOUT, verify=verify
    )
    overwrite = requests.put(
        target.url, data=b"evil", headers=target.headers, timeout=TIMEOUT, verify=verify
    )
    read = requests.get(target.url, timeout=TIMEOUT, verify=verify)

    query = parse_qs(urlsplit(target.url).query)
    assert query["skoid"] == [FakeEntraCredential.object_id]
    assert query["spr"] == ["https"]
    assert query["sp"] == ["c"]  # create only: never widened for the SDKs' block uploads
    assert [created.status_code, overwrite.status_code, read.status_code] == [201, 403, 403]


@pytest.mark.azurite
def test_production_upload_url_takes_a_block_upload_through_the_sdk(
    production_settings: Settings, https_azurite: HttpsAzurite
) -> None:
    target = _upload_target()
    data = secrets.token_bytes(40_000)
    client = BlobClient.from_blob_url(
        target.url,
        max_single_put_size=16 * 1024,
        max_block_size=16 * 1024,
        connection_verify=str(https_azurite.ca_bundle),
    )

    with client:
        client.upload_blob(data)
        replaced = requests.put(
            target.url,
            data=b"evil",
            headers=target.headers,
            timeout=TIMEOUT,
            verify=str(https_azurite.ca_bundle),
        )

    stored = storage.blob_properties(production_settings.UPLOADS_CONTAINER, target.blob_name)
    assert stored.size == len(data)
    assert replaced.status_code == 403


@pytest.mark.azurite
def test_production_read_url_serves_the_blob(
    production_settings: Settings, https_azurite: HttpsAzurite
) -> None:
    storage.upload_bytes(production_settings.THUMBNAILS_CONTAINER, "o/t", b"thumb", "image/webp")
    url = sas.read_sas_url(container=production_settings.THUMBNAILS_CONTAINER, blob_name="o/t")

    served = requests.get(url, timeout=TIMEOUT, verify=str(https_azurite.ca_bundle))

    assert (served.status_code, served.content) == (200, b"thumb")
    assert clients.ping() >= 0.0


@pytest.mark.azurite
def test_production_move_blob_copies_with_token_credentials(production_settings: Settings) -> None:
    storage.upload_bytes(production_settings.UPLOADS_CONTAINER, "o/bad", b"malware", "text/plain")

    storage.move_blob(
        production_settings.UPLOADS_CONTAINER, "o/bad", production_settings.QUARANTINE_CONTAINER
    )

    assert (
        b"".join(storage.iter_blob_chunks(production_settings.QUARANTINE_CONTAINER, "o/bad"))
        == b"malware"
    )
    with pytest.raises(storage.BlobNotFound):
        storage.blob_properties(production_settings.UPLOADS_CONTAINER, "o/bad")


@pytest.mark.azurite
def test_user_delegation_key_is_reused_until_an_hour_before_it_expires(
    production_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    requested: list[datetime] = []
    original = BlobServiceClient.get_user_delegation_key

    def counting(self: BlobServiceClient, start: datetime, expiry: datetime, **kw: Any) -> Any:
        requested.append(expiry)
        return original(self, start, expiry, **kw)

    monkeypatch.setattr(BlobServiceClient, "get_user_delegation_key", counting)
    now = datetime.now(UTC)
    monkeypatch.setattr(sas, "_utcnow", lambda: now)
    _upload_target()
    _upload_target()
    monkeypatch.setattr(sas, "_utcnow", lambda: now + timedelta(hours=22, minutes=30))
    _upload_target()
    monkeypatch.setattr(sas, "_utcnow", lambda: now + timedelta(hours=23, minutes=30))
    _upload_target()

    assert len(requested) == 2
    assert requested[0] - now == sas.DELEGATION_KEY_LIFETIME
