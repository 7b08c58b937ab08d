"""Blob Storage, one job per module; this package's own names are the blob operations.

``from shared.services import storage`` gives what most callers need: the ETag-pinned
blob operations (``storage.blob_properties``, ``storage.move_blob``...), their value
types and the errors they raise. The rest is imported from its module by the few
callers that need it:

- ``storage.clients``: the process's client and credential (connection string, or a
  managed identity through azure-identity), ``storage_configured``, ``ping``, reset;
- ``storage.sas``: upload and read SAS URLs, the user-delegation-key cache;
- ``storage.blobs``: the blob operations re-exported here;
- ``storage.provisioning``: containers and CORS rules (local host, bootstrap, tests);
- ``storage.errors``: the exceptions and the SDK-error translation.

Every module imports the Azure SDK at its top, so nothing may import this package when
``function_app`` loads: blueprints reach it only inside their functions, through the
services (tests/unit/test_blob_trigger.py checks that indexing loads no storage SDK).
"""

from shared.services.storage.blobs import (
    BlobInfo,
    BlobRef,
    blob_properties,
    delete_blob_if_exists,
    delete_blob_version,
    iter_blob_chunks,
    list_blobs,
    move_blob,
    upload_bytes,
    write_file,
)
from shared.services.storage.errors import (
    BlobChanged,
    BlobNotFound,
    StorageError,
    StorageNotConfigured,
    StorageUnavailable,
)

__all__ = [
    "BlobChanged",
    "BlobInfo",
    "BlobNotFound",
    "BlobRef",
    "StorageError",
    "StorageNotConfigured",
    "StorageUnavailable",
    "blob_properties",
    "delete_blob_if_exists",
    "delete_blob_version",
    "iter_blob_chunks",
    "list_blobs",
    "move_blob",
    "upload_bytes",
    "write_file",
]
