"""The official Azure SDKs upload through the API's create-only URL, in blocks, to `ready`.

Against the local host and its Azurite (started like `make run` does, with Azure's
create-permission rule for Put Block / Put Block List), the blob trigger of the local
host processes each upload exactly once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import BlobClient, ContentSettings

from devhost.azurite import AzuriteProcess
from tests import media_samples
from tests.azurite_server import running_azurite
from tests.e2e.conftest import ROOT, LocalHost, assert_stopped_cleanly, launch_local_host
from tests.e2e.uploads_e2e import Uploader, processing_runs, sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.azurite]

NODE_SCRIPT = ROOT / "tests" / "e2e" / "fixtures" / "sdk_upload.mjs"
BLOCK_BYTES = 16 * 1024
POLL = {"LOCAL_HOST_BLOB_POLL_SECONDS": "0.2", "LOCAL_HOST_BLOB_RETRY_SECONDS": "0.2"}


@pytest.fixture(scope="module")
def azurite() -> Iterator[AzuriteProcess]:
    """A private Azurite with the app's containers."""
    with running_azurite() as server:
        yield server


@pytest.fixture(scope="module")
def host(azurite: AzuriteProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHost]:
    """One local host for the module, its blob trigger watching the Azurite."""
    connection = azurite.connection_string
    host = launch_local_host(
        settings=tmp_path_factory.mktemp("sdk") / "absent.json",
        env={"AZURE_STORAGE_CONNECTION_STRING": connection, "UploadsStorage": connection, **POLL},
    )
    yield host
    assert_stopped_cleanly(host)


@pytest.fixture
def uploader(host: LocalHost) -> Uploader:
    """A fresh signed-in user."""
    return sign_up(host)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A JPEG a few blocks long."""
    path = media_samples.write_jpeg_with_exif(tmp_path)
    # Pad past the EXIF-bearing image so the upload takes several blocks.
    data = path.read_bytes() + b"\0" * (3 * BLOCK_BYTES)
    path.write_bytes(data)
    return path


def require_node() -> str:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "@azure" / "storage-blob").exists():
        pytest.fail("Node and `npm ci` are needed for the @azure/storage-blob test")
    return node


def test_the_upload_url_is_create_only_even_for_block_uploads(uploader: Uploader) -> None:
    created = uploader.start_upload("a.jpg", "image/jpeg", 10)

    # The production permission: no write, so nothing uploaded can be replaced.
    assert parse_qs(urlsplit(created["upload"]["url"]).query)["sp"] == ["c"]


def test_python_sdk_uploads_in_blocks_and_the_upload_becomes_ready(
    uploader: Uploader, photo: Path
) -> None:
    size = photo.stat().st_size
    created = uploader.start_upload("holiday.jpg", "image/jpeg", size)
    sent: list[str] = []
    blob = BlobClient.from_blob_url(
        created["upload"]["url"],
        max_single_put_size=BLOCK_BYTES,  # default 64 MiB: force Put Block + Put Block List
        max_block_size=BLOCK_BYTES,
    )

    with photo.open("rb") as stream, blob:
        blob.upload_blob(
            stream,
            length=size,
            content_settings=ContentSettings(content_type="image/jpeg"),
            raw_request_hook=lambda request: sent.append(
                parse_qs(urlsplit(request.http_request.url).query).get("comp", [""])[0]
            ),
        )

    assert sent.count("block") >= 3
    assert sent[-1] == "blocklist"
    assert uploader.wait_until_settled(created["id"])["status"] == "ready"


@pytest.mark.parametrize("mode", ["data", "stream"])
def test_node_sdk_uploads_in_blocks_and_the_upload_becomes_ready(
    uploader: Uploader, photo: Path, mode: str
) -> None:
    node = require_node()
    created = uploader.start_upload("holiday.jpg", "image/jpeg", photo.stat().st_size)
    url = created["upload"]["url"]
    command = [node, str(NODE_SCRIPT), url, str(photo), "image/jpeg", mode, str(BLOCK_BYTES)]

    result = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=60, cwd=ROOT
    )

    assert result.returncode == 0, result.stderr
    sent = json.loads(result.stdout)
    assert sent.count("block") >= 3
    assert sent[-1] == "blocklist"
    assert uploader.wait_until_settled(created["id"])["status"] == "ready"


def test_a_committed_blob_cannot_be_replaced_through_a_block_list(
    uploader: Uploader, tmp_path: Path
) -> None:
    png = media_samples.write_png(tmp_path)
    created = uploader.start_upload("a.png", "image/png", png.stat().st_size)
    blob = BlobClient.from_blob_url(created["upload"]["url"], max_single_put_size=1024)
    with blob:
        blob.upload_blob(png.read_bytes(), content_settings=ContentSettings("image/png"))
        with pytest.raises(Exception, match="AuthorizationPermissionMismatch"):
            blob.upload_blob(b"\0" * 4096, overwrite=True)


def test_one_upload_means_exactly_one_processing_run(uploader: Uploader, tmp_path: Path) -> None:
    png = media_samples.write_png(tmp_path)
    created = uploader.start_upload("a.png", "image/png", png.stat().st_size)
    name = f"{created['owner_id']}/{created['id']}"
    with BlobClient.from_blob_url(created["upload"]["url"]) as blob:
        blob.upload_blob(png.read_bytes(), content_settings=ContentSettings("image/png"))

    assert uploader.wait_until_settled(created["id"])["status"] == "ready"
    time.sleep(1.5)  # several polling rounds of the blob trigger after processing

    assert processing_runs(uploader.host, name) == 1, uploader.host.output
