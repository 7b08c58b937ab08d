"""Why an uploaded file was refused; ``reason`` is the upload's ``rejection_reason``."""

from __future__ import annotations


class MediaRejected(Exception):
    """The file is not acceptable; the upload ends ``rejected`` with ``reason``."""

    reason = "corrupt"


class CorruptMedia(MediaRejected):
    """The file is truncated, malformed or cannot be read."""

    reason = "corrupt"


class PasswordProtectedPdf(CorruptMedia):
    """The PDF needs a password to open, so it cannot be inspected (or scanned) inside."""


class ImageTooLarge(MediaRejected):
    """The image declares more pixels than allowed (a pixel flood)."""

    reason = "too_large"


class PdfTooComplex(MediaRejected):
    """The PDF has more pages, or bigger streams, than allowed."""

    reason = "too_large"
