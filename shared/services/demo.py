"""The development-only browser upload page: its static files and the CSP that admits them.

The page signs in, asks the API for an upload URL, PUTs the file straight to Blob
Storage and polls the upload until processing ends. Its script and stylesheet are
separate same-origin files so the CSP needs neither inline code nor hashes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from azure.storage.blob import BlobServiceClient

from shared.config import get_settings

ASSETS_DIR = Path(__file__).with_name("demo_assets")
HTML = "text/html; charset=utf-8"
_CONTENT_TYPES = {
    "uploads.html": HTML,
    "uploads.js": "text/javascript; charset=utf-8",
    "uploads.css": "text/css; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file of the page, ready to send."""

    body: bytes
    content_type: str


def page() -> StaticFile:
    """The upload page's HTML."""
    return _read("uploads.html")


def script() -> StaticFile:
    """The page's script."""
    return _read("uploads.js")


def stylesheet() -> StaticFile:
    """The page's stylesheet."""
    return _read("uploads.css")


def content_security_policy() -> str:
    """Same-origin script and style; XHR and images also from the blob endpoint."""
    settings = get_settings()
    origin = blob_origin(
        settings.AZURE_STORAGE_ACCOUNT_URL, settings.AZURE_STORAGE_CONNECTION_STRING
    )
    connect = f"'self' {origin}" if origin else "'self'"
    images = origin or "'none'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"connect-src {connect}; img-src {images}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


@functools.cache
def blob_origin(account_url: str, connection_string: str) -> str | None:
    """Scheme, host and port of the blob endpoint the upload URLs point at (None: no storage).

    The account URL wins, as in the storage service; a connection string is parsed by
    the SDK, which also knows ``UseDevelopmentStorage=true`` and ``EndpointSuffix``.
    """
    if account_url:
        endpoint = account_url
    elif connection_string:
        endpoint = BlobServiceClient.from_connection_string(connection_string).url
    else:
        return None
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def _read(name: str) -> StaticFile:
    # Read on every request: it is a development page, and edits show on reload.
    return StaticFile(body=(ASSETS_DIR / name).read_bytes(), content_type=_CONTENT_TYPES[name])
