"""The blob-triggered upload processor: a thin shell around shared.services.upload_processing.

The trigger's container and source are read from the environment when the app is
indexed (app settings are environment variables before the worker starts):
``UPLOADS_CONTAINER`` (default ``uploads``) and ``UPLOADS_TRIGGER_SOURCE``
(``EventGrid``, the default and the only source Flex Consumption supports, or
``LogsAndContainerScan`` for Core Tools' polling). ``UploadsStorage`` names the
host's connection to the account (``UploadsStorage`` as a connection string, or
``UploadsStorage__blobServiceUri`` / ``__queueServiceUri`` with an identity); the
function itself reaches the blob through the app's own storage settings.
"""

import os

import azure.functions as func

from shared.triggers import BlobReference

UPLOADS_CONNECTION = "UploadsStorage"
DEFAULT_CONTAINER = "uploads"

bp = func.Blueprint()


def _trigger_source() -> func.BlobSource:
    value = os.environ.get("UPLOADS_TRIGGER_SOURCE", "").strip() or "EventGrid"
    for source in func.BlobSource:
        if source.value.lower() == value.lower():
            return source
    allowed = ", ".join(source.value for source in func.BlobSource)
    raise ValueError(f"UPLOADS_TRIGGER_SOURCE must be one of: {allowed}")


def _uploads_container() -> str:
    return os.environ.get("UPLOADS_CONTAINER", "").strip() or DEFAULT_CONTAINER


@bp.function_name("process_upload")
@bp.blob_trigger(
    arg_name="blob",
    path=f"{_uploads_container()}/{{name}}",
    connection=UPLOADS_CONNECTION,
    source=_trigger_source(),
)
def process_upload(blob: BlobReference) -> None:
    """Check, scan and publish or quarantine one new blob; raises to have the host retry."""
    from shared.services import upload_processing

    upload_processing.process_blob(blob.name, etag=blob.etag)
