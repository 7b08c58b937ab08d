"""SAS URLs for browsers: create-only upload URLs and short read links.

With ``AZURE_STORAGE_ACCOUNT_URL`` (production) they are signed with a user delegation
key, requested valid for 24 hours and replaced once less than an hour of it is left
(never later than the expiry of the SAS being signed), i.e. about once a day; with a
connection string, with its account key.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    UserDelegationKey,
    generate_blob_sas,
)

from shared.config import Settings, get_settings
from shared.services.storage.clients import service
from shared.services.storage.errors import translated_errors

CLOCK_SKEW = timedelta(minutes=5)
DELEGATION_KEY_LIFETIME = timedelta(hours=24)
DELEGATION_KEY_REFRESH_MARGIN = timedelta(hours=1)
READ_SAS_MAX_MINUTES = 60

# Blob names are built only from server-issued ids: no slashes, dots or escapes that
# could walk into another owner's prefix.
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]{1,255}")


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where and how a browser PUTs one upload."""

    url: str
    blob_name: str
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class _DelegationKey:
    # The client the key was issued to: a new client (new settings or credential) never
    # signs with a key cached for the old one, with no reset hook between the modules.
    client: BlobServiceClient
    key: UserDelegationKey
    expires_at: datetime


_lock = threading.Lock()
_delegation_key: _DelegationKey | None = None


def upload_blob_name(owner_id: str, upload_id: str) -> str:
    """The server-chosen name of an upload's blob: ``{owner_id}/{upload_id}``."""
    for label, value in (("owner_id", owner_id), ("upload_id", upload_id)):
        if not _SAFE_TOKEN.fullmatch(value):
            raise ValueError(f"{label} must be 1-128 letters, digits, '_' or '-'")
    return f"{owner_id}/{upload_id}"


def upload_sas(
    *, owner_id: str, upload_id: str, content_type: str, not_after: datetime | None = None
) -> UploadTarget:
    """A create-only SAS for exactly one new blob in the uploads container.

    It expires ``UPLOAD_URL_TTL_SECONDS`` from now, or at ``not_after`` if that is sooner
    (the end of the upload's pending window: no URL outlives its upload).
    """
    blob_name = upload_blob_name(owner_id, upload_id)
    if not _HEADER_VALUE.fullmatch(content_type):
        raise ValueError("content_type must be a printable ASCII header value")
    settings = get_settings()
    # SAS times have whole-second precision; report exactly what was signed.
    now = _utcnow().replace(microsecond=0)
    expires_at = now + timedelta(seconds=settings.UPLOAD_URL_TTL_SECONDS)
    if not_after is not None:
        # Rounded down: a URL may end a little early, never after its upload's window.
        expires_at = min(expires_at, not_after.astimezone(UTC).replace(microsecond=0))
        if expires_at <= now:
            raise ValueError("the upload's pending window has ended")
    # Create-only ("c"): Put Blob succeeds for a new blob and is refused once the
    # blob exists, so a leaked URL can neither overwrite nor read what was uploaded.
    # From service version 2026-04-06 "c" also allows Put Block / Put Block List (the
    # SDKs' block uploads) and, as it always did, Snapshot Blob: the processor deletes
    # every snapshot with the blob. Never add "w" here: it would allow overwrites.
    url = _signed_url(
        settings,
        container=settings.UPLOADS_CONTAINER,
        blob_name=blob_name,
        permission=BlobSasPermissions(create=True),
        now=now,
        expires_at=expires_at,
    )
    headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": content_type}
    return UploadTarget(url=url, blob_name=blob_name, headers=headers, expires_at=expires_at)


def read_sas_url(*, container: str, blob_name: str, minutes: int = 5) -> str:
    """A read-only SAS URL for one blob, valid ``minutes`` (1..60)."""
    if not 1 <= minutes <= READ_SAS_MAX_MINUTES:
        raise ValueError(f"minutes must be between 1 and {READ_SAS_MAX_MINUTES}")
    now = _utcnow().replace(microsecond=0)
    return _signed_url(
        get_settings(),
        container=container,
        blob_name=blob_name,
        permission=BlobSasPermissions(read=True),
        now=now,
        expires_at=now + timedelta(minutes=minutes),
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _signed_url(
    settings: Settings,
    *,
    container: str,
    blob_name: str,
    permission: BlobSasPermissions,
    now: datetime,
    expires_at: datetime,
) -> str:
    client = service()
    signing: dict[str, Any]
    if settings.AZURE_STORAGE_ACCOUNT_URL:
        signing = {"user_delegation_key": _user_delegation_key(client, valid_until=expires_at)}
    else:
        signing = {"account_key": client.credential.account_key}
    token = generate_blob_sas(
        account_name=client.account_name or "",
        container_name=container,
        blob_name=blob_name,
        permission=permission,
        start=now - CLOCK_SKEW,
        expiry=expires_at,
        protocol="https" if settings.is_production else None,
        **signing,
    )
    return f"{client.get_blob_client(container, blob_name).url}?{token}"


def _user_delegation_key(client: BlobServiceClient, *, valid_until: datetime) -> UserDelegationKey:
    global _delegation_key
    with _lock:
        now = _utcnow()
        cached = _delegation_key
        if (
            cached is None
            or cached.client is not client
            or cached.expires_at <= max(now + DELEGATION_KEY_REFRESH_MARGIN, valid_until)
        ):
            expires_at = now + DELEGATION_KEY_LIFETIME
            with translated_errors():
                key = client.get_user_delegation_key(now - CLOCK_SKEW, expires_at)
            cached = _delegation_key = _DelegationKey(client, key, expires_at)
        return cached.key
