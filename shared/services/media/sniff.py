"""The real type of an upload, read from its first bytes, whatever it claims to be."""

from __future__ import annotations

import filetype

# filetype inspects at most this many leading bytes (its _NUM_SIGNATURE_BYTES).
SNIFF_BYTES = 8192

# An animated PNG is a valid PNG (its frames are extra chunks) and is processed as one.
_SAME_TYPE = {"image/apng": "image/png"}


def sniff_content_type(head: bytes) -> str | None:
    """The MIME type the leading bytes prove, or None when they match no known signature."""
    # filetype treats a str argument as a path; only bytes are ever sniffed here.
    kind = filetype.guess(bytes(head[:SNIFF_BYTES])) if head else None
    if kind is None:
        return None
    mime: str = kind.mime
    return _SAME_TYPE.get(mime, mime)
