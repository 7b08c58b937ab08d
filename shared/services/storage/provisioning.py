"""Storage account setup: the app's containers and the CORS rules of a local account.

Only the local host (``devhost``), ``init_db``/bootstrap and tests call these: in
production the containers and CORS rules belong to the infrastructure definition.
"""

from __future__ import annotations

from contextlib import suppress

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import CorsRule

from shared.config import get_settings
from shared.services.storage.clients import client_for
from shared.services.storage.errors import translated_errors

CORS_MAX_AGE_SECONDS = 3600
CORS_METHODS = ["PUT", "GET", "HEAD", "OPTIONS"]
# What the Azure SDKs send (conditional and checksum headers included) and read back.
CORS_ALLOWED_HEADERS = [
    "x-ms-*",
    "content-type",
    "content-md5",
    "if-none-match",
    "if-match",
    "if-modified-since",
    "if-unmodified-since",
    "range",
]
CORS_EXPOSED_HEADERS = ["etag", "last-modified", "content-length", "content-type", "x-ms-*"]


def ensure_containers(*, connection_string: str | None = None) -> None:
    """Create the uploads, files, thumbnails and quarantine containers if missing."""
    settings = get_settings()
    names = (
        settings.UPLOADS_CONTAINER,
        settings.FILES_CONTAINER,
        settings.THUMBNAILS_CONTAINER,
        settings.QUARANTINE_CONTAINER,
    )
    with client_for(connection_string) as client, translated_errors():
        for name in names:
            with suppress(ResourceExistsError):
                client.create_container(name)


def configure_cors(origins: list[str], *, connection_string: str | None = None) -> None:
    """Let browsers at ``origins`` PUT and GET blobs directly (local accounts only)."""
    if get_settings().is_production:
        # Production CORS belongs to the infrastructure definition, not to app code.
        raise RuntimeError("configure_cors is for local accounts; set production CORS in infra")
    rules = []
    if origins:
        rules.append(
            CorsRule(
                allowed_origins=list(origins),
                allowed_methods=CORS_METHODS,
                allowed_headers=CORS_ALLOWED_HEADERS,
                exposed_headers=CORS_EXPOSED_HEADERS,
                max_age_in_seconds=CORS_MAX_AGE_SECONDS,
            )
        )
    with client_for(connection_string) as client, translated_errors():
        client.set_service_properties(cors=rules)
