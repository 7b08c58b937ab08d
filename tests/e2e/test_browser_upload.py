"""A real browser uses the development upload page: the file goes straight to Azurite.

Headless Chromium (Debian's ``chromium``) is driven by Playwright for Python; Playwright
never downloads a browser here, it launches the system one by path.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from devhost.azurite import AZURITE_HOST, DEV_ORIGINS, AzuriteProcess
from shared.services.media import strip_metadata
from tests import media_samples
from tests.azurite_server import running_azurite
from tests.e2e.conftest import LocalHost
from tests.e2e.uploads_e2e import sign_up
from tests.loopback import free_port
from tests.media_samples import write_jpeg_with_exif

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.azurite]

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Upper bound for sign-in, upload and processing; a healthy run takes a few seconds.
FINISH_TIMEOUT_MS = 60_000
FINAL_STATUS = re.compile(r"^(ready|rejected|failed|error)$")
EMAIL = "browser.tester@example.com"
PASSWORD = "Quartz-lantern-58-drifts-north"
THUMBNAIL_LOADED = """() => {
  const image = document.querySelector('[data-testid="thumbnail"]');
  return image !== null && !image.hidden && image.complete && image.naturalWidth > 0;
}"""


def chromium_path() -> str | None:
    """CHROMIUM_PATH if set (e.g. a CI image's Chrome), else Debian's Chromium, if installed."""
    for candidate in (os.environ.get("CHROMIUM_PATH", ""), *CHROMIUM_CANDIDATES):
        if not candidate:
            continue
        found = shutil.which(candidate)
        if found:
            return found
    return None


def require_browser_tools() -> str:
    """Chromium's path; skip when it or Playwright is missing, fail instead under CI."""
    missing = []
    executable = chromium_path()
    if executable is None:
        missing.append("Chromium (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("Playwright for Python (pip install -r requirements-dev.txt)")
    if missing:
        reason = f"browser test needs {' and '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required when CI is set)")
        pytest.skip(reason)
    assert executable is not None
    return executable


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Headless system Chromium, shared by this module's tests."""
    executable = require_browser_tools()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def azurite() -> Iterator[AzuriteProcess]:
    """A private Azurite with the app's containers."""
    with running_azurite() as server:
        yield server


def register_user(host: LocalHost) -> None:
    """Create the uploading account through the public API."""
    answer = host.request(
        "POST",
        "/api/v1/auth/register",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"email": EMAIL, "password": PASSWORD}).encode(),
    )
    assert answer.status == 201, answer.body


@contextmanager
def screenshot_on_failure(page: Page, host: LocalHost, directory: Path) -> Iterator[None]:
    """Keep a screenshot and the host's output when the test fails, for debugging."""
    try:
        yield
    except BaseException:
        shot = directory / "browser-upload-failure.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}\nlocal host output:\n{host.output}")
        raise


def test_signed_in_browser_uploads_a_photo_straight_to_storage_and_shows_its_thumbnail(
    chromium: Browser,
    azurite: AzuriteProcess,
    start_local_host: Callable[..., LocalHost],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    from shared.services.storage import provisioning

    connection = azurite.connection_string
    host = start_local_host(
        env={"AZURE_STORAGE_CONNECTION_STRING": connection, "UploadsStorage": connection}
    )
    # The page's origin is the local host's, on a port chosen at start.
    provisioning.configure_cors([*DEV_ORIGINS, host.base_url], connection_string=connection)
    register_user(host)
    photo = write_jpeg_with_exif(tmp_path)
    photo_bytes = photo.read_bytes()
    azurite_origin = f"http://{AZURITE_HOST}:{azurite.port}"

    context = chromium.new_context()
    page = context.new_page()
    requests: list[Request] = []

    # A function, not requests.append: Playwright tags its handlers with an attribute.
    def record(request: Request) -> None:
        requests.append(request)

    page.on("request", record)
    with closing(context), screenshot_on_failure(page, host, tmp_path):
        page.goto(f"{host.base_url}/api/demo/uploads")
        page.get_by_test_id("email").fill(EMAIL)
        page.get_by_test_id("password").fill(PASSWORD)
        page.get_by_test_id("login-button").click()
        expect(page.get_by_test_id("login-status")).to_have_text(f"Signed in as {EMAIL}.")

        page.get_by_test_id("file-input").set_input_files(photo)
        status = page.get_by_test_id("upload-status")
        expect(status).to_have_text(FINAL_STATUS, timeout=FINISH_TIMEOUT_MS)
        problems = (
            page.get_by_test_id("rejection-reason").text_content(),
            page.get_by_test_id("upload-error").text_content(),
        )
        assert status.text_content() == "ready", problems
        page.wait_for_function(THUMBNAIL_LOADED, timeout=FINISH_TIMEOUT_MS)

        thumbnail_src = page.get_by_test_id("thumbnail").get_attribute("src") or ""
        assert thumbnail_src.startswith(f"{azurite_origin}/")
        progress = page.get_by_test_id("upload-progress")
        assert progress.evaluate("bar => [bar.value, bar.max]") == [len(photo_bytes)] * 2

        (put,) = [r for r in requests if r.method == "PUT"]
        assert put.url.startswith(f"{azurite_origin}/")
        assert put.all_headers()["content-length"] == str(len(photo_bytes))
        stored = put.response()
        assert stored is not None
        assert stored.status == 201
        api_requests = [r for r in requests if r.url.startswith(f"{host.base_url}/")]
        assert any(r.method == "POST" and r.url.endswith("/api/v1/uploads") for r in api_requests)
        for request in api_requests:
            assert len(request.post_data_buffer or b"") < len(photo_bytes), request.url


# --- a front end on another origin, with the official SDK's browser build ---------------

SDK_ENTRY = Path(__file__).resolve().parent / "fixtures" / "browser_sdk_entry.mjs"
ESBUILD = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "esbuild"
BLOCK_BYTES = 16 * 1024
SDK_PAGE = """<!doctype html><meta charset="utf-8"><title>SDK upload</title>
<script src="/sdk.js"></script>"""
# Block upload forced; If-None-Match and Content-Type as a careful front end sends them.
SDK_UPLOAD = """async ([url, bytes, contentType, blockSize]) => {
  const client = new window.AzureStorageBlob.BlockBlobClient(url);
  const data = new Blob([new Uint8Array(bytes)], { type: contentType });
  const answer = await client.uploadData(data, {
    maxSingleShotSize: blockSize,
    blockSize,
    conditions: { ifNoneMatch: "*" },
    blobHTTPHeaders: { blobContentType: contentType },
  });
  return answer.etag;
}"""


def build_browser_sdk(directory: Path) -> Path:
    """Bundle @azure/storage-blob's browser build (the npm package ships ES modules only)."""
    if not ESBUILD.exists():
        pytest.fail("esbuild is missing: run `npm ci` in the repository root")
    bundle = directory / "sdk.js"
    options = ["--bundle", "--platform=browser", "--format=iife", "--log-level=warning"]
    subprocess.run(
        [str(ESBUILD), str(SDK_ENTRY), *options, f"--outfile={bundle}"], check=True, timeout=120
    )
    (directory / "index.html").write_text(SDK_PAGE, encoding="utf-8")
    return bundle


@contextmanager
def serving(directory: Path) -> Iterator[str]:
    """A static file server for ``directory`` on its own loopback port: a second origin."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without logging each request to stderr."""

    def log_message(self, format: str, *args: object) -> None:
        """Say nothing."""


def test_a_front_end_on_another_origin_uploads_with_the_sdks_browser_build(
    chromium: Browser, start_local_host: Callable[..., LocalHost], tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    build_browser_sdk(site)
    photo = write_jpeg_with_exif(tmp_path)
    data = photo.read_bytes() + b"\0" * (3 * BLOCK_BYTES)  # several blocks
    with serving(site) as origin:
        # `make run`'s storage: Azurite's CORS rules come from CORS_ORIGINS.
        host = start_local_host(
            {
                "CORS_ORIGINS": f"http://localhost:5173,{origin}",
                "LOCAL_HOST_BLOB_POLL_SECONDS": "0.2",
            },
            args=[
                "--azurite",
                "--azurite-location",
                str(tmp_path / "azurite"),
                "--azurite-port",
                str(free_port()),
            ],
        )
        uploader = sign_up(host)
        created = uploader.start_upload("holiday.jpg", "image/jpeg", len(data))
        context = chromium.new_context()
        page = context.new_page()
        with closing(context), screenshot_on_failure(page, host, tmp_path):
            page.goto(f"{origin}/index.html")
            etag = page.evaluate(
                SDK_UPLOAD, [created["upload"]["url"], list(data), "image/jpeg", BLOCK_BYTES]
            )

    assert etag
    assert uploader.wait_until_settled(created["id"])["status"] == "ready"


# --- how a browser shows a served copy --------------------------------------------------

NATURAL_SIZES = """async () => {
  const images = [...document.images];
  await Promise.all(images.map((image) => image.decode()));
  return images.map((image) => [image.naturalWidth, image.naturalHeight]);
}"""


def test_chromium_shows_a_rotated_photos_copy_upright(chromium: Browser, tmp_path: Path) -> None:
    """The copy keeps its pixels as stored (120x80) and only EXIF Orientation 6."""
    jpeg = media_samples.write_jpeg_with_exif(tmp_path, orientation=6)
    png = tmp_path / "photo.png"
    with Image.open(jpeg) as picture:
        picture.save(png, "PNG", exif=media_samples.camera_exif(orientation=6))
    sources = []
    for path, mime in ((jpeg, "image/jpeg"), (png, "image/png")):
        copy = Path(strip_metadata(str(path), out_dir=str(tmp_path)))
        with Image.open(copy) as stored:
            assert stored.size == (120, 80)
        sources.append(f"data:{mime};base64,{base64.b64encode(copy.read_bytes()).decode()}")
    context = chromium.new_context()
    page = context.new_page()
    with closing(context):
        page.set_content("".join(f'<img src="{source}">' for source in sources))
        sizes = page.evaluate(NATURAL_SIZES)

    assert sizes == [[80, 120], [80, 120]]  # turned as the orientation says
