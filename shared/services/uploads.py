"""Uploads: records, their blobs and derived files."""

from __future__ import annotations

import logging

from shared.config import get_settings
from shared.repositories import uploads as upload_records

logger = logging.getLogger(__name__)


def delete_all_for_owner(owner_id: str) -> int:
    """Remove every upload of a user: blobs in every container first, then the records."""
    records = upload_records.find_for_owner(owner_id)
    if records:
        from shared.services import storage

        settings = get_settings()
        if storage.storage_configured():
            for record in records:
                name = storage.upload_blob_name(owner_id, str(record["_id"]))
                for container in (
                    settings.UPLOADS_CONTAINER,
                    settings.THUMBNAILS_CONTAINER,
                    settings.QUARANTINE_CONTAINER,
                ):
                    storage.delete_blob_if_exists(container, name)
    return upload_records.delete_for_owner(owner_id)
