"""Upload requests and responses."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from shared.schemas.base import Page, QueryModel, RequestModel, ResponseModel
from shared.schemas.fields import Cursor, ObjectIdText, PageLimit

MAX_FILENAME_CHARS = 255


class UploadStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    REJECTED = "rejected"
    FAILED = "failed"


class RejectionReason(StrEnum):
    TYPE_MISMATCH = "type_mismatch"
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_LARGE = "too_large"
    SIZE_MISMATCH = "size_mismatch"
    MALWARE = "malware"
    CORRUPT = "corrupt"
    UNKNOWN_UPLOAD = "unknown_upload"


def valid_filename(value: str) -> str:
    """NFC-normalise a file name and refuse paths, control characters and dot tricks."""
    name = unicodedata.normalize("NFC", value)
    if not 1 <= len(name) <= MAX_FILENAME_CHARS:
        raise ValueError(f"The file name must be 1 to {MAX_FILENAME_CHARS} characters long")
    # Category C covers controls (NUL, CR, LF), format characters such as bidi
    # overrides that disguise an extension, surrogates and unassigned code points.
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ValueError("The file name must not contain control or invisible characters")
    if "/" in name or "\\" in name or ".." in name:
        raise ValueError("The file name must be a plain name, without '/', '\\' or '..'")
    if name[0] in ". " or name[-1] in ". ":
        raise ValueError("The file name must not start or end with a dot or a space")
    return name


Filename = Annotated[str, AfterValidator(valid_filename)]
ContentType = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class UploadCreate(RequestModel):
    """What the browser is about to upload."""

    filename: Filename
    content_type: ContentType
    # Bounded to what JSON numbers and BSON integers hold exactly.
    size_bytes: Annotated[
        int, Field(ge=1, le=2**53 - 1, description="Exact size of the file in bytes")
    ]


class UploadInstructions(ResponseModel):
    """How to PUT the file straight to Blob Storage: a create-only URL for one blob.

    It creates that blob once (Put Blob, or Put Block + Put Block List) and may take a
    snapshot of it; it can neither read, list, overwrite nor delete. Snapshots and the
    uploaded blob itself are removed by processing.
    """

    url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]
    expires_at: datetime


class ImageMetadata(ResponseModel):
    width: int
    height: int
    format: str


class PdfMetadata(ResponseModel):
    page_count: int
    title: str | None = None
    text_excerpt: str


class Upload(ResponseModel):
    """An upload as its owner (or an admin) sees it."""

    id: str
    filename: str
    content_type: str
    size_bytes: int
    status: UploadStatus
    owner_id: str
    created_at: datetime
    updated_at: datetime
    sha256: str | None = None
    rejection_reason: RejectionReason | None = None
    metadata: ImageMetadata | PdfMetadata | None = None
    download_url: str | None = None
    thumbnail_url: str | None = None
    # Only the owner of a pending upload sees it; for everyone else the key is absent.
    upload: UploadInstructions | None = Field(default=None, exclude_if=lambda value: value is None)


UploadsPage = Page[Upload]


class UploadListQuery(QueryModel):
    limit: PageLimit = 20
    cursor: Cursor | None = None
    status: UploadStatus | None = None
    owner_id: ObjectIdText | None = Field(default=None, description="Admins only")
    all: bool = Field(default=False, description="Admins only: every owner's uploads")
