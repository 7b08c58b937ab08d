"""Uploads: hand out one-blob upload URLs, list, read and delete uploads."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

from shared.http.pipeline import ApiRequest, endpoint
from shared.http.routes import UPLOAD_ID
from shared.identity import Role

if TYPE_CHECKING:
    from shared.schemas.uploads import Upload, UploadsPage

bp = func.Blueprint()
TAGS = ["uploads"]


@endpoint(
    bp,
    name="uploads_create",
    route="v1/uploads",
    method="POST",
    summary="Start an upload",
    tags=TAGS,
    status=201,
    role=Role.USER,
    body="uploads.UploadCreate",
    response="uploads.Upload",
    errors_=[503],
)
def create_upload(request: ApiRequest) -> Upload:
    """PUT the file to `upload.url` with `upload.headers` before `upload.expires_at`.

    422 `unsupported_type`, `extension_mismatch`, `file_too_large`, `quota_exceeded`, or a
    bad filename. The URL creates exactly one blob and can neither read nor overwrite it.
    """
    from shared.services import uploads

    return uploads.create_upload(request.user, request.body)


@endpoint(
    bp,
    name="uploads_list",
    route="v1/uploads",
    method="GET",
    summary="List uploads",
    tags=TAGS,
    role=Role.USER,
    query="uploads.UploadListQuery",
    response="uploads.UploadsPage",
)
def list_uploads(request: ApiRequest) -> UploadsPage:
    """Newest first: the caller's own; admins may pass owner_id or all=true (others: 403)."""
    from shared.services import uploads

    return uploads.list_uploads(request.user, request.query)


@endpoint(
    bp,
    name="uploads_get",
    route=f"v1/uploads/{UPLOAD_ID}",
    method="GET",
    summary="One upload",
    tags=TAGS,
    role=Role.USER,
    response="uploads.Upload",
    errors_=[404, 503],
)
def get_upload(request: ApiRequest) -> Upload:
    """Once ready, download_url and thumbnail_url are read-only links valid 5 minutes."""
    from shared.services import uploads

    return uploads.get_upload(request.user, request.route_params["upload_id"])


@endpoint(
    bp,
    name="uploads_delete",
    route=f"v1/uploads/{UPLOAD_ID}",
    method="DELETE",
    summary="Delete an upload",
    tags=TAGS,
    status=204,
    role=Role.USER,
    errors_=[404, 503],
)
def delete_upload(request: ApiRequest) -> None:
    """Removes the file, its thumbnail, any quarantined copy and the record; then 404."""
    from shared.services import uploads

    uploads.delete_upload(request.user, request.route_params["upload_id"], caller=request.caller)
