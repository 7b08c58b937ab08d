"""What can go wrong with Blob Storage, and the one place SDK errors become ours.

Errors that mean "storage is not reachable or not usable right now" become
``StorageUnavailable`` (callers answer 503); a missing blob is ``BlobNotFound`` and a
blob replaced behind our back (ETag mismatch) is ``BlobChanged``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)


class StorageError(RuntimeError):
    """Base class for Blob Storage failures that callers handle."""


class StorageUnavailable(StorageError):
    """Storage is unreachable, failing (5xx) or refusing our identity: answer 503."""


class StorageNotConfigured(StorageUnavailable):
    """Neither AZURE_STORAGE_ACCOUNT_URL nor AZURE_STORAGE_CONNECTION_STRING is set."""


class BlobNotFound(StorageError):
    """The blob or its container does not exist."""


class BlobChanged(StorageError):
    """The blob no longer has the ETag the caller pinned (it was overwritten)."""


@contextmanager
def translated_errors() -> Iterator[None]:
    """Map SDK errors to ours; messages carry status and code only, never URLs."""
    try:
        yield
    except ResourceModifiedError:
        raise BlobChanged("the blob was modified since it was read") from None
    except ResourceNotFoundError:
        raise BlobNotFound("the blob or container does not exist") from None
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise StorageUnavailable(f"storage unreachable ({type(exc).__name__})") from None
    except ClientAuthenticationError as exc:
        raise StorageUnavailable(f"storage refused our identity ({_describe(exc)})") from None
    except HttpResponseError as exc:
        if exc.status_code is not None and (exc.status_code >= 500 or exc.status_code == 403):
            raise StorageUnavailable(f"storage failed ({_describe(exc)})") from None
        raise


def require_etag(etag: object) -> str:
    """The ETag storage answered with; an answer without one is a storage failure."""
    if not isinstance(etag, str) or not etag:
        raise StorageUnavailable("storage answered without an ETag")
    return etag


def _describe(exc: HttpResponseError) -> str:
    # The storage SDK adds error_code at run time; azure-core does not declare it.
    code = getattr(exc, "error_code", None)
    return f"status {exc.status_code}, code {code}"
