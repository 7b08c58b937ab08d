"""The stored shape of each collection's documents, as the repositories return them.

TypedDicts cost nothing at run time (they are plain dicts) but let the type checker
reject a misspelt field: ``user["pasword_hash"]`` is an error, not a KeyError in
production. Fields written on only some documents (at a later stage of a record's life,
or not by earlier versions of the app) are ``NotRequired``; read them with ``.get``.
Read every other field with ``[]``: mypy checks the key of ``record["key"]``, but
``record.get("key")`` with an unknown key only returns ``object``.

A projection (``find_one(query, {"email": 1})``) returns fewer fields than its type
says: the repositories that project only read back the fields they asked for.
The caller's admitted projection and the ``mfa`` sub-document live in
shared.identity, below this layer, because Principal carries them. Migrations and the
backup dump keep plain ``Document``s: they handle whatever shape is stored, old ones too.
"""

# No ``from __future__ import annotations`` here: TypedDict turns string annotations into
# ForwardRefs, compiling each one, which doubles the (one-off) cost of importing this.
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from bson import ObjectId

from shared.identity import AdmittedUser, MfaState, RateWindow

__all__ = [
    "AdmittedUser",
    "AuditRecord",
    "ImageFacts",
    "LockRecord",
    "LoginThrottleRecord",
    "MfaState",
    "PasswordResetRecord",
    "PdfFacts",
    "RateLimitRecord",
    "RateWindow",
    "RefreshTokenRecord",
    "RevokedAccess",
    "StoredRejection",
    "TotalsRecord",
    "UploadProcessing",
    "UploadRecord",
    "UserRecord",
]


# --- users ----------------------------------------------------------------------------


class RevokedAccess(TypedDict):
    """One logged-out access token (``jti``) or session (``sid``), denied until ``exp``."""

    exp: datetime
    jti: NotRequired[str]
    sid: NotRequired[str]


class UserRecord(AdmittedUser):
    """A document of ``users``: the admitted fields plus what stays in the database."""

    search_keys: list[str]  # migration 5 added them to users stored before
    password_hash: str
    revoked_access: list[RevokedAccess]
    # Written on sign-up now; users stored by earlier versions may lack them.
    full_name_lower: NotRequired[str | None]
    tokens_valid_after: NotRequired[datetime | None]
    spared_session_id: NotRequired[str | None]
    # Quarantined bytes of blobs no upload record accounts for (see users.hold_orphan_bytes).
    orphan_quarantined_bytes: NotRequired[int]


# --- uploads --------------------------------------------------------------------------


class StoredRejection(TypedDict):
    """A rejection decided by a try that failed before it was completed."""

    reason: str
    fields: dict[str, Any]
    details: dict[str, Any]


class UploadProcessing(TypedDict):
    """An upload's ``processing`` sub-document: the current claim on it."""

    claim: str
    etag: str
    attempts: int
    lease_until: datetime | None  # None once the claim was released or finished
    started_at: datetime
    rejection: NotRequired[StoredRejection]
    last_error: NotRequired[str]


class ImageFacts(TypedDict):
    """The ``metadata`` of a ready image."""

    width: int
    height: int
    format: str


class PdfFacts(TypedDict):
    """The ``metadata`` of a ready PDF."""

    page_count: int
    title: str | None
    text_excerpt: str


class UploadRecord(TypedDict):
    """A document of ``uploads``; each stage of processing adds its fields."""

    _id: ObjectId
    owner_id: str
    filename: str
    content_type: str
    size_bytes: int  # as declared by the client
    status: str
    blob_name: str
    upload_expires_at: datetime
    processed_etags: list[str]
    created_at: datetime
    updated_at: datetime
    # From the first claim on.
    processing: NotRequired[UploadProcessing]
    # From the end of processing on (ready, rejected or failed).
    processed_at: NotRequired[datetime]
    sha256: NotRequired[str]
    scan: NotRequired[str]
    detected_type: NotRequired[str | None]  # None: no known signature
    # Ready only.
    metadata: NotRequired[ImageFacts | PdfFacts]
    thumbnail: NotRequired[bool]
    stored_bytes: NotRequired[int]
    stored_in_files: NotRequired[bool]
    # Rejected only (quarantined_bytes also for a re-created version of any record).
    rejection_reason: NotRequired[str]
    quarantined_bytes: NotRequired[int]


# --- sessions, resets, throttles ------------------------------------------------------


class RefreshTokenRecord(TypedDict):
    """A document of ``refresh_tokens``: one token of a rotation family, by its hash."""

    _id: ObjectId
    token_hash: str
    user_id: ObjectId
    family_id: str
    created_at: datetime
    expires_at: datetime
    family_expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


class PasswordResetRecord(TypedDict):
    """A document of ``password_resets``: a single-use reset token, by its hash."""

    _id: ObjectId
    token_hash: str
    user_id: ObjectId
    password_fingerprint: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


class LoginThrottleRecord(TypedDict):
    """A document of ``login_throttle``: attempts reserved for one email (by its hash)."""

    _id: str
    attempts: int
    last_at: datetime
    expires_at: datetime


class RateLimitRecord(TypedDict):
    """A document of ``rate_limits``: the requests counted in one fixed window."""

    _id: str
    count: int
    expires_at: datetime


# --- the rest -------------------------------------------------------------------------


class AuditRecord(TypedDict):
    """A document of ``audit_log``."""

    _id: ObjectId
    at: datetime
    action: str
    actor_id: str | None
    target_id: str | None
    ip: str | None
    request_id: str | None
    details: dict[str, Any]


class TotalsRecord(TypedDict):
    """A document of ``counters``: the user or the upload totals of the dashboard.

    Written by ``$inc`` of the non-zero differences only, so any count may be missing.
    """

    _id: str
    total: NotRequired[int]
    active: NotRequired[int]  # users
    bytes: NotRequired[int]  # uploads
    by_role: NotRequired[dict[str, int]]  # users
    by_status: NotRequired[dict[str, int]]  # uploads


class LockRecord(TypedDict):
    """A document of ``locks``: a named lease."""

    _id: str
    holder: str
    lease_until: datetime
    acquired_at: datetime
