"""Object ids and keyset cursors: opaque strings for clients, ObjectIds inside."""

from __future__ import annotations

import base64
import binascii

from bson import ObjectId
from bson.errors import InvalidId

from shared.errors import ValidationFailed


def parse_id(value: str | None) -> ObjectId | None:
    """The ObjectId for a client-supplied id, or None when it is malformed."""
    if not value or len(value) != 24:
        return None
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def encode_cursor(last_id: ObjectId) -> str:
    """An opaque cursor pointing after ``last_id``."""
    return base64.urlsafe_b64encode(last_id.binary).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> ObjectId | None:
    """The id a cursor points after; a forged or damaged cursor is a 422."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 12:
        raise ValidationFailed(
            "The cursor is not valid; start again without it",
            errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "cursor"}],
        )
    return ObjectId(raw)
