"""Uploads API: starting uploads, listing, reading and deleting them, and the SAS it hands out."""

from __future__ import annotations

import re
import sys
import threading
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from bson import ObjectId

from shared import clock
from shared.config import Settings
from shared.services import storage
from shared.services.storage import clients, provisioning, sas
from tests.api.client import ApiClient, Response, assert_not_found, assert_problem
from tests.api.conftest import Account, MakeAccount
from tests.api.uploads_support import (
    TIMEOUT,
    UPLOADS_URL,
    blob_exists,
    blob_name,
    put_bytes,
    start_upload,
    unreachable_account,
    use_storage,
)
from tests.storage_support import change_settings

UPLOAD_FIELDS = {
    "id",
    "filename",
    "content_type",
    "size_bytes",
    "status",
    "owner_id",
    "created_at",
    "updated_at",
    "sha256",
    "rejection_reason",
    "metadata",
    "download_url",
    "thumbnail_url",
    "upload",
}

OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")


@pytest.fixture(autouse=True)
def signing_storage(
    lenient_auth_rate_limit: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """A storage account that signs SAS URLs locally; tests that touch blobs use Azurite."""
    yield use_storage(monkeypatch, unreachable_account())
    clients.reset_storage_clients()


@pytest.fixture
def azurite_storage(
    signing_storage: Settings, module_azurite: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Real Azurite with fresh containers for this test."""
    settings = use_storage(monkeypatch, module_azurite)
    provisioning.ensure_containers()
    yield settings
    clients.reset_storage_clients()


def create(client: ApiClient, account: Account, **body: Any) -> Response:
    payload = {"filename": "picture.png", "content_type": "image/png", "size_bytes": 100, **body}
    return client.post(UPLOADS_URL, json=payload, token=account.access_token)


def upload_url(upload_id: str) -> str:
    return f"{UPLOADS_URL}/{upload_id}"


# --- starting an upload ----------------------------------------------------------------


def test_user_starts_an_upload_and_gets_a_put_url_for_one_server_named_blob(
    client: ApiClient, user: Account, signing_storage: Settings
) -> None:
    before = datetime.now(UTC)

    response = create(client, user, filename="holiday.png", size_bytes=1234)

    assert response.status == 201, response.body
    upload = response.json
    assert set(upload) == UPLOAD_FIELDS
    assert re.fullmatch(r"[0-9a-f]{24}", upload["id"])
    assert upload["owner_id"] == user.id
    assert (upload["filename"], upload["content_type"], upload["size_bytes"]) == (
        "holiday.png",
        "image/png",
        1234,
    )
    assert upload["status"] == "pending"
    instructions = upload["upload"]
    assert instructions["method"] == "PUT"
    assert instructions["headers"] == {"x-ms-blob-type": "BlockBlob", "Content-Type": "image/png"}
    path = urlsplit(instructions["url"]).path
    assert path.endswith(f"/{signing_storage.UPLOADS_CONTAINER}/{user.id}/{upload['id']}")
    expires_at = datetime.fromisoformat(instructions["expires_at"])
    ttl = timedelta(seconds=signing_storage.UPLOAD_URL_TTL_SECONDS)
    assert before + ttl - timedelta(seconds=5) <= expires_at <= datetime.now(UTC) + ttl
    assert upload["download_url"] is None
    assert upload["thumbnail_url"] is None


def test_admin_may_upload_too(client: ApiClient, admin: Account) -> None:
    assert create(client, admin).status == 201


def test_guest_cannot_upload(client: ApiClient, guest: Account) -> None:
    assert_problem(create(client, guest), 403, "forbidden")


def test_anonymous_caller_cannot_upload(client: ApiClient) -> None:
    body = {"filename": "a.png", "content_type": "image/png", "size_bytes": 1}
    response = client.post(UPLOADS_URL, json=body)

    assert_problem(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "content_type", ["application/x-msdownload", "text/html", "image/svg+xml", "image/png; x=1"]
)
def test_unsupported_content_types_are_refused(
    client: ApiClient, user: Account, content_type: str
) -> None:
    response = create(client, user, filename="file.png", content_type=content_type)

    body = assert_problem(response, 422, "unsupported_type")
    assert body["errors"][0]["loc"] == ["body", "content_type"]


def test_allowed_type_without_a_processor_is_refused(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, UPLOAD_ALLOWED_TYPES="image/png,text/plain")

    response = create(client, user, filename="notes.txt", content_type="text/plain")

    assert_problem(response, 422, "unsupported_type")


def test_type_is_compared_without_regard_to_case(client: ApiClient, user: Account) -> None:
    response = create(client, user, content_type="Image/PNG")

    assert response.status == 201
    assert response.json["content_type"] == "image/png"


@pytest.mark.parametrize(
    "filename",
    [
        "../x.png",
        "a\u0000.png",
        "dir/x.png",
        "dir\\x.png",
        "..png",
        ".png",
        ".hidden.png",
        "x.png.",
        "x.png ",
        " x.png",
        "line\nbreak.png",
        "invoice\u202egnp.exe.png",
        "",
        "a" * 252 + ".png",
    ],
)
def test_bad_filenames_are_refused(client: ApiClient, user: Account, filename: str) -> None:
    response = create(client, user, filename=filename)

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "filename"]
    assert "\u0000" not in body["detail"]


def test_longest_allowed_filename_is_accepted(client: ApiClient, user: Account) -> None:
    filename = "a" * 251 + ".png"

    assert create(client, user, filename=filename).status == 201


def test_filename_is_stored_in_nfc_form(client: ApiClient, user: Account) -> None:
    decomposed = "cafe\u0301 menu.png"

    response = create(client, user, filename=decomposed)

    assert response.status == 201
    assert response.json["filename"] == unicodedata.normalize("NFC", decomposed) == "café menu.png"


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("photo.png", "image/jpeg"),
        ("photo.jpg", "image/png"),
        ("report.pdf", "image/png"),
        ("photo.jpg.exe", "image/jpeg"),
        ("no-extension", "application/pdf"),
    ],
)
def test_extension_must_match_the_declared_type(
    client: ApiClient, user: Account, filename: str, content_type: str
) -> None:
    response = create(client, user, filename=filename, content_type=content_type)

    body = assert_problem(response, 422, "extension_mismatch")
    assert body["errors"][0]["loc"] == ["body", "filename"]


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("PHOTO.JPEG", "image/jpeg"),
        ("photo.jpg", "image/jpeg"),
        ("anim.gif", "image/gif"),
        ("pic.webp", "image/webp"),
        ("Report 2024.PDF", "application/pdf"),
    ],
)
def test_each_type_accepts_its_usual_extensions(
    client: ApiClient, user: Account, filename: str, content_type: str
) -> None:
    assert create(client, user, filename=filename, content_type=content_type).status == 201


def test_declared_size_over_the_limit_is_refused(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, UPLOAD_MAX_BYTES="1000")

    accepted = create(client, user, size_bytes=1000)
    refused = create(client, user, size_bytes=1001)

    assert accepted.status == 201
    body = assert_problem(refused, 422, "file_too_large")
    assert "1000" in body["detail"]


@pytest.mark.parametrize("size", [0, -1, "10", 1.5, True, None])
def test_size_must_be_a_positive_integer(client: ApiClient, user: Account, size: object) -> None:
    assert_problem(create(client, user, size_bytes=size), 422, "validation_error")


@pytest.mark.parametrize(
    "body",
    [
        {"filename": "a.png", "content_type": "image/png"},
        {"filename": "a.png", "content_type": "image/png", "size_bytes": 1, "owner_id": "x"},
        {"filename": "a.png", "content_type": "image/png", "size_bytes": 1, "status": "ready"},
        {"filename": 5, "content_type": "image/png", "size_bytes": 1},
    ],
)
def test_body_must_match_the_schema_exactly(
    client: ApiClient, user: Account, body: dict[str, Any]
) -> None:
    response = client.post(UPLOADS_URL, json=body, token=user.access_token)

    assert_problem(response, 422, "validation_error")


def test_quota_counts_every_upload_that_is_not_abandoned(
    client: ApiClient, user: Account, make_account: MakeAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, UPLOAD_QUOTA_BYTES="1000", UPLOAD_MAX_BYTES="1000")
    other = make_account("user")

    assert create(client, user, size_bytes=600).status == 201
    assert create(client, user, size_bytes=400).status == 201
    refused = create(client, user, size_bytes=1)

    body = assert_problem(refused, 422, "quota_exceeded")
    assert "1000" in body["detail"]
    assert create(client, other, size_bytes=1000).status == 201  # quotas are per user


def _start_at_once(account: Account, *, sizes: tuple[int, ...]) -> list[int]:
    """POST one upload per size at the same moment; the sizes that were accepted."""
    barrier = threading.Barrier(len(sizes))
    accepted: list[int] = []

    def start(size: int) -> None:
        barrier.wait()
        if create(ApiClient(), account, size_bytes=size).status == 201:
            accepted.append(size)

    threads = [threading.Thread(target=start, args=(size,)) for size in sizes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return accepted


def test_concurrent_uploads_never_exceed_the_quota_together(
    make_account: MakeAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, UPLOAD_QUOTA_BYTES="1000", UPLOAD_MAX_BYTES="1000")
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so the two requests interleave
    try:
        for _ in range(15):
            accepted = _start_at_once(make_account("user"), sizes=(600, 700))
            assert sum(accepted) <= 1000, accepted
    finally:
        sys.setswitchinterval(previous)


def test_pending_uploads_count_until_their_pending_window_ends(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, UPLOAD_QUOTA_BYTES="1000", UPLOAD_MAX_BYTES="1000")
    three_hours_ago = datetime.now(UTC) - timedelta(hours=3)
    with monkeypatch.context() as past:
        past.setattr(sas, "_utcnow", lambda: three_hours_ago)
        past.setattr(clock, "now", lambda: three_hours_ago)
        assert create(client, user, size_bytes=1000).status == 201

    # Its first URL expired long ago, but the owner may still resume it: it counts.
    assert create(client, user, size_bytes=1000).status == 422

    change_settings(monkeypatch, UPLOAD_PENDING_HOURS="2")
    assert create(client, user, size_bytes=1000).status == 201


def test_storage_not_configured_answers_503(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, AZURE_STORAGE_CONNECTION_STRING="")

    response = create(client, user)

    body = assert_problem(response, 503, "service_unavailable")
    assert "AZURE_STORAGE" not in body["detail"]
    listed = client.get(UPLOADS_URL, token=user.access_token)
    assert listed.json["items"] == []  # nothing half-created


# --- listing ---------------------------------------------------------------------------


def test_list_shows_only_the_callers_uploads_newest_first_page_by_page(
    client: ApiClient, user: Account, make_account: MakeAccount
) -> None:
    other = make_account("user")
    mine = [start_upload(client, user, filename=f"p{n}.png")["id"] for n in range(3)]
    start_upload(client, other)

    first = client.get(f"{UPLOADS_URL}?limit=2", token=user.access_token)
    second = client.get(
        f"{UPLOADS_URL}?limit=2&cursor={first.json['next_cursor']}", token=user.access_token
    )

    assert first.status == second.status == 200
    assert [item["id"] for item in first.json["items"]] == [mine[2], mine[1]]
    assert [item["id"] for item in second.json["items"]] == [mine[0]]
    assert second.json["next_cursor"] is None
    assert all("upload" not in item for item in first.json["items"])


def test_list_filters_by_status(client: ApiClient, user: Account) -> None:
    start_upload(client, user)

    pending = client.get(f"{UPLOADS_URL}?status=pending", token=user.access_token)
    ready = client.get(f"{UPLOADS_URL}?status=ready", token=user.access_token)

    assert len(pending.json["items"]) == 1
    assert ready.json["items"] == []


@pytest.mark.parametrize(
    "query", ["status=done", "limit=0", "limit=101", "owner_id=nope", "all=maybe", "x=1"]
)
def test_list_with_a_bad_query_is_422(client: ApiClient, admin: Account, query: str) -> None:
    response = client.get(f"{UPLOADS_URL}?{query}", token=admin.access_token)

    assert_problem(response, 422, "validation_error")


def test_list_with_a_forged_cursor_is_422(client: ApiClient, user: Account) -> None:
    response = client.get(f"{UPLOADS_URL}?cursor=not-a-cursor", token=user.access_token)

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("query", ["all=true", "owner_id={other}", "owner_id={me}"])
def test_non_admins_cannot_list_other_owners(
    client: ApiClient, user: Account, make_account: MakeAccount, query: str
) -> None:
    other = make_account("user")
    start_upload(client, other)

    url = f"{UPLOADS_URL}?{query.format(other=other.id, me=user.id)}"
    response = client.get(url, token=user.access_token)

    assert_problem(response, 403, "forbidden")


def test_guest_cannot_list_uploads(client: ApiClient, guest: Account) -> None:
    assert_problem(client.get(UPLOADS_URL, token=guest.access_token), 403, "forbidden")


def test_admin_lists_everyones_uploads_or_one_owners(
    client: ApiClient, admin: Account, user: Account, make_account: MakeAccount
) -> None:
    other = make_account("user")
    users_upload = start_upload(client, user)["id"]
    others_upload = start_upload(client, other)["id"]

    everyone = client.get(f"{UPLOADS_URL}?all=true", token=admin.access_token)
    one_owner = client.get(f"{UPLOADS_URL}?owner_id={user.id}", token=admin.access_token)
    own = client.get(UPLOADS_URL, token=admin.access_token)

    assert [item["id"] for item in everyone.json["items"]] == [others_upload, users_upload]
    assert [item["id"] for item in one_owner.json["items"]] == [users_upload]
    assert own.json["items"] == []


# --- reading ---------------------------------------------------------------------------


def test_owner_reads_a_pending_upload_with_a_fresh_url_for_the_same_blob(
    client: ApiClient, user: Account
) -> None:
    created = start_upload(client, user)

    response = client.get(upload_url(created["id"]), token=user.access_token)

    assert response.status == 200
    upload = response.json
    assert upload["status"] == "pending"
    assert upload["download_url"] is None
    assert upload["thumbnail_url"] is None
    fresh, first = upload["upload"], created["upload"]
    assert urlsplit(fresh["url"]).path == urlsplit(first["url"]).path
    assert fresh["headers"] == first["headers"]
    assert parse_qs(urlsplit(fresh["url"]).query)["sp"] == ["c"]  # still create-only
    assert datetime.fromisoformat(fresh["expires_at"]) >= datetime.fromisoformat(
        first["expires_at"]
    )
    assert {k: v for k, v in upload.items() if k != "upload"} == {
        k: v for k, v in created.items() if k != "upload"
    }


def test_nobody_but_the_owner_sees_the_upload_url(
    client: ApiClient, user: Account, admin: Account
) -> None:
    created = start_upload(client, user)

    as_admin = client.get(upload_url(created["id"]), token=admin.access_token)
    listed = client.get(f"{UPLOADS_URL}?all=true", token=admin.access_token)
    own_list = client.get(UPLOADS_URL, token=user.access_token)

    assert as_admin.status == 200
    assert as_admin.json["status"] == "pending"
    assert "upload" not in as_admin.json
    assert all("upload" not in item for item in listed.json["items"] + own_list.json["items"])


def test_no_upload_url_outlives_the_pending_window(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, UPLOAD_PENDING_HOURS="1", UPLOAD_URL_TTL_SECONDS="3600")
    fifty_minutes_ago = clock.now() - timedelta(minutes=50)
    with monkeypatch.context() as past:
        past.setattr(clock, "now", lambda: fifty_minutes_ago)
        created = start_upload(client, user)

    resumed = client.get(upload_url(created["id"]), token=user.access_token).json["upload"]

    window_end = fifty_minutes_ago + timedelta(hours=1)
    assert datetime.fromisoformat(resumed["expires_at"]) <= window_end
    assert parse_qs(urlsplit(resumed["url"]).query)["se"] == [
        window_end.strftime("%Y-%m-%dT%H:%M:%SZ")
    ]


def test_a_pending_upload_past_its_window_gets_no_url(
    client: ApiClient, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_settings(monkeypatch, UPLOAD_PENDING_HOURS="1")
    two_hours_ago = clock.now() - timedelta(hours=2)
    with monkeypatch.context() as past:
        past.setattr(clock, "now", lambda: two_hours_ago)
        past.setattr(sas, "_utcnow", lambda: two_hours_ago)
        created = start_upload(client, user)

    upload = client.get(upload_url(created["id"]), token=user.access_token).json

    assert upload["status"] == "pending"
    assert "upload" not in upload


@pytest.mark.azurite
def test_a_client_that_lost_the_first_answer_resumes_with_the_url_from_get(
    client: ApiClient, user: Account, azurite_storage: Settings
) -> None:
    created = start_upload(client, user, size_bytes=6)  # its answer is "lost"

    resumed = client.get(upload_url(created["id"]), token=user.access_token).json
    response = put_bytes(resumed, b"resume")

    assert response.status_code == 201, response.text
    blob = storage.blob_properties(azurite_storage.UPLOADS_CONTAINER, blob_name(created))
    assert blob.size == 6
    # Create-only still: a second PUT through either URL cannot replace it.
    assert put_bytes(created, b"second").status_code in (403, 409)


def test_other_users_get_404_for_someone_elses_upload(
    client: ApiClient, user: Account, make_account: MakeAccount
) -> None:
    created = start_upload(client, user)
    other = make_account("user")

    response = client.get(upload_url(created["id"]), token=other.access_token)

    body = assert_problem(response, 404, "not_found")
    assert created["id"] not in body["detail"]


def test_admin_reads_anyones_upload(client: ApiClient, admin: Account, user: Account) -> None:
    created = start_upload(client, user)

    response = client.get(upload_url(created["id"]), token=admin.access_token)

    assert response.status == 200
    assert response.json["owner_id"] == user.id


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("upload_id", ["000000000000000000000000", "zz", "me", "1" * 25])
def test_malformed_or_unknown_upload_ids_are_404(
    client: ApiClient, user: Account, method: str, upload_id: str
) -> None:
    response = client.request(method, upload_url(upload_id), token=user.access_token)

    assert_not_found(response, path_is_malformed=OBJECT_ID.fullmatch(upload_id) is None)


def test_guest_cannot_read_uploads(client: ApiClient, guest: Account) -> None:
    response = client.get(upload_url(str(ObjectId())), token=guest.access_token)

    assert_problem(response, 403, "forbidden")


# --- the SAS, against a real Azurite ---------------------------------------------------


@pytest.mark.azurite
def test_upload_url_creates_exactly_its_blob(
    client: ApiClient, user: Account, azurite_storage: Settings
) -> None:
    upload = start_upload(client, user, size_bytes=11)

    response = put_bytes(upload, b"hello world")

    assert response.status_code == 201
    info = storage.blob_properties(azurite_storage.UPLOADS_CONTAINER, blob_name(upload))
    assert (info.size, info.content_type) == (11, "image/png")


@pytest.mark.azurite
def test_upload_url_is_refused_for_another_blob_name(
    client: ApiClient, user: Account, make_account: MakeAccount, azurite_storage: Settings
) -> None:
    upload = start_upload(client, user)
    victim = start_upload(client, make_account("user"))
    parts = urlsplit(upload["upload"]["url"])
    container = azurite_storage.UPLOADS_CONTAINER

    for other_name in (blob_name(victim), f"{user.id}/{victim['id']}", f"{blob_name(upload)}x"):
        path = parts.path.replace(f"{container}/{blob_name(upload)}", f"{container}/{other_name}")
        forged = f"{parts.scheme}://{parts.netloc}{path}?{parts.query}"
        response = requests.put(
            forged, data=b"sneaky", headers=upload["upload"]["headers"], timeout=TIMEOUT
        )
        assert response.status_code == 403
        assert not blob_exists(container, other_name)


@pytest.mark.azurite
def test_upload_url_is_refused_after_it_expires(
    client: ApiClient, user: Account, azurite_storage: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue the URL "in the past" so it is already expired, instead of sleeping.
    issued_at = datetime.now(UTC) - timedelta(hours=1)
    with monkeypatch.context() as past:
        past.setattr(sas, "_utcnow", lambda: issued_at)
        upload = start_upload(client, user)

    response = put_bytes(upload, b"too late")

    assert response.status_code == 403
    assert not blob_exists(azurite_storage.UPLOADS_CONTAINER, blob_name(upload))


@pytest.mark.azurite
def test_upload_url_can_neither_read_nor_overwrite(
    client: ApiClient, user: Account, azurite_storage: Settings
) -> None:
    upload = start_upload(client, user)
    assert put_bytes(upload, b"original").status_code == 201

    read = requests.get(upload["upload"]["url"], timeout=TIMEOUT)
    overwrite = put_bytes(upload, b"replaced")

    assert (read.status_code, overwrite.status_code) == (403, 403)
    assert b"original" not in read.content
    stored = storage.iter_blob_chunks(azurite_storage.UPLOADS_CONTAINER, blob_name(upload))
    assert b"".join(stored) == b"original"


# --- deleting --------------------------------------------------------------------------


@pytest.mark.azurite
def test_delete_removes_the_blob_and_the_record(
    client: ApiClient, user: Account, azurite_storage: Settings
) -> None:
    upload = start_upload(client, user)
    assert put_bytes(upload, b"bytes").status_code == 201

    first = client.delete(upload_url(upload["id"]), token=user.access_token)
    second = client.delete(upload_url(upload["id"]), token=user.access_token)

    assert first.status == 204
    assert first.body == b""
    # Deleting is idempotent in effect; an id that no longer exists answers 404 as usual.
    assert_problem(second, 404, "not_found")
    assert_problem(client.get(upload_url(upload["id"]), token=user.access_token), 404, "not_found")
    assert not blob_exists(azurite_storage.UPLOADS_CONTAINER, blob_name(upload))


@pytest.mark.azurite
def test_delete_of_a_pending_upload_without_a_blob_works(
    client: ApiClient, user: Account, azurite_storage: Settings
) -> None:
    upload = start_upload(client, user)

    assert client.delete(upload_url(upload["id"]), token=user.access_token).status == 204
    assert client.get(UPLOADS_URL, token=user.access_token).json["items"] == []


@pytest.mark.azurite
def test_others_cannot_delete_an_upload(
    client: ApiClient, user: Account, make_account: MakeAccount, azurite_storage: Settings
) -> None:
    upload = start_upload(client, user)
    assert put_bytes(upload, b"bytes").status_code == 201

    response = client.delete(upload_url(upload["id"]), token=make_account("user").access_token)

    assert_problem(response, 404, "not_found")
    assert blob_exists(azurite_storage.UPLOADS_CONTAINER, blob_name(upload))
    assert client.get(upload_url(upload["id"]), token=user.access_token).status == 200


@pytest.mark.azurite
def test_admin_deletes_someone_elses_upload_and_it_is_audited(
    client: ApiClient, admin: Account, user: Account, azurite_storage: Settings
) -> None:
    upload = start_upload(client, user)
    assert put_bytes(upload, b"bytes").status_code == 201

    response = client.delete(upload_url(upload["id"]), token=admin.access_token)

    assert response.status == 204
    assert not blob_exists(azurite_storage.UPLOADS_CONTAINER, blob_name(upload))
    events = client.get(
        "/api/v1/admin/audit-log?action=upload.deleted", token=admin.access_token
    ).json["items"]
    assert [(e["actor_id"], e["target_id"]) for e in events] == [(admin.id, upload["id"])]


@pytest.mark.azurite
def test_deleting_an_account_deletes_its_uploads_and_blobs(
    client: ApiClient, admin: Account, user: Account, azurite_storage: Settings
) -> None:
    uploads = [start_upload(client, user) for _ in range(2)]
    for upload in uploads:
        assert put_bytes(upload, b"bytes").status_code == 201

    response = client.delete(
        "/api/v1/users/me", json={"password": user.password}, token=user.access_token
    )

    assert response.status == 204
    for upload in uploads:
        assert client.get(upload_url(upload["id"]), token=admin.access_token).status == 404
        assert not blob_exists(azurite_storage.UPLOADS_CONTAINER, blob_name(upload))
    everyone = client.get(f"{UPLOADS_URL}?owner_id={user.id}", token=admin.access_token)
    assert everyone.json["items"] == []


def test_delete_answers_503_and_keeps_the_record_when_storage_is_unreachable(
    client: ApiClient, user: Account
) -> None:
    upload = start_upload(client, user)  # the signing-only account: nothing listens there

    response = client.delete(upload_url(upload["id"]), token=user.access_token)

    assert_problem(response, 503, "service_unavailable")
    assert client.get(upload_url(upload["id"]), token=user.access_token).status == 200
