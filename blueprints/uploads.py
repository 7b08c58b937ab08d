"""Uploads: hand out one-blob upload URLs, list, read and delete uploads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.http.api import HttpApi
from shared.http.pipeline import ApiRequest
from shared.http.routes import UPLOAD_ID
from shared.identity import Role

if TYPE_CHECKING:
    from shared.schemas.uploads import Upload, UploadCreate, UploadListQuery, UploadsPage

api = HttpApi(tags=["uploads"])


@api.post(
    "v1/uploads",
    name="uploads_create",
    summary="Start an upload",
    status=201,
    min_role=Role.USER,
    errors=[503],
)
def create_upload(request: ApiRequest, body: UploadCreate) -> Upload:
    """PUT the file to `upload.url` with `upload.headers` before `upload.expires_at`.

    422 `unsupported_type`, `extension_mismatch`, `file_too_large`, `quota_exceeded`, or a
    bad filename. The URL creates exactly one blob and can neither read nor overwrite it.
    """
    from shared.services import uploads

    return uploads.create_upload(request.user, body)


@api.get("v1/uploads", name="uploads_list", summary="List uploads", min_role=Role.USER)
def list_uploads(request: ApiRequest, query: UploadListQuery) -> UploadsPage:
    """Newest first: the caller's own; admins may pass owner_id or all=true (others: 403)."""
    from shared.services import uploads

    return uploads.list_uploads(request.user, query)


@api.get(
    f"v1/uploads/{UPLOAD_ID}",
    name="uploads_get",
    summary="One upload",
    min_role=Role.USER,
    errors=[404, 503],
)
def get_upload(request: ApiRequest) -> Upload:
    """Once ready, download_url and thumbnail_url are read-only links valid 5 minutes."""
    from shared.services import uploads

    return uploads.get_upload(request.user, request.route_params["upload_id"])


@api.delete(
    f"v1/uploads/{UPLOAD_ID}",
    name="uploads_delete",
    summary="Delete an upload",
    status=204,
    min_role=Role.USER,
    errors=[404, 503],
)
def delete_upload(request: ApiRequest) -> None:
    """Removes the file, its thumbnail, any quarantined copy and the record; then 404."""
    from shared.services import uploads

    uploads.delete_upload(request.user, request.route_params["upload_id"], caller=request.caller)


bp = api.blueprint()
