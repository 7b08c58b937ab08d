"""Upload media: sniff the real type, check and parse with limits, derive safe outputs.

The processor calls, in order: ``sniff_content_type`` on the first ``SNIFF_BYTES``,
then ``process_image`` or ``inspect_pdf`` on the spooled file. Every refusal is a
``MediaRejected`` whose ``reason`` is the upload's ``rejection_reason``.

Pillow and pypdf load only when an image or PDF function is first used, so
importing this package (say, for ``content_disposition``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shared.services.media.disposition import content_disposition
from shared.services.media.errors import (
    CorruptMedia,
    ImageTooLarge,
    MediaRejected,
    PasswordProtectedPdf,
    PdfTooComplex,
)
from shared.services.media.sniff import SNIFF_BYTES, sniff_content_type

if TYPE_CHECKING:
    from shared.services.media.images import (
        ProcessedImage,
        make_thumbnail,
        process_image,
        strip_metadata,
    )
    from shared.services.media.pdf import PdfFacts, inspect_pdf

_LAZY = {
    "ProcessedImage": "images",
    "make_thumbnail": "images",
    "process_image": "images",
    "strip_metadata": "images",
    "PdfFacts": "pdf",
    "inspect_pdf": "pdf",
}

__all__ = [
    "SNIFF_BYTES",
    "CorruptMedia",
    "ImageTooLarge",
    "MediaRejected",
    "PasswordProtectedPdf",
    "PdfFacts",
    "PdfTooComplex",
    "ProcessedImage",
    "content_disposition",
    "inspect_pdf",
    "make_thumbnail",
    "process_image",
    "sniff_content_type",
    "strip_metadata",
]


def __getattr__(name: str) -> Any:
    """Import the image or PDF module on first use of one of its names."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
    return getattr(module, name)
