"""``Content-Disposition`` values that name a download safely (RFC 6266 with RFC 8187)."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

FALLBACK_FILENAME = "download"
# RFC 8187 attr-char beyond letters and digits; everything else is percent-encoded.
_ATTR_CHAR_PUNCTUATION = "!#$&+-.^_`|~"
# Characters that would end the quoted string, split the header or name a path.
_UNSAFE_IN_FALLBACK = str.maketrans({'"': "_", "\\": "_", "/": "_", ";": "_", "%": "_"})


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` fallback and the exact UTF-8 ``filename*``."""
    name = _visible_name(filename)
    encoded = quote(name.encode("utf-8"), safe=_ATTR_CHAR_PUNCTUATION)
    return f"attachment; filename=\"{_ascii_fallback(name)}\"; filename*=UTF-8''{encoded}"


def _visible_name(filename: str) -> str:
    """The name without control or format characters (CR/LF, NUL, bidi overrides) and path."""
    kept = "".join(
        " " if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else char for char in filename
    )
    # Browsers drop directories anyway; dropping them here keeps both forms identical.
    base = kept.replace("\\", "/").rsplit("/", 1)[-1]
    collapsed = " ".join(base.split())
    return collapsed.strip(". ") or FALLBACK_FILENAME


def _ascii_fallback(name: str) -> str:
    """Closest printable ASCII for old clients: accents dropped, the rest replaced by '_'."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_chars = "".join(
        char if " " <= char <= "~" else "_"
        for char in decomposed
        if not unicodedata.combining(char)
    )
    fallback = ascii_chars.translate(_UNSAFE_IN_FALLBACK).strip(". ")
    return fallback if fallback.strip("_") else FALLBACK_FILENAME
