"""PDF facts (page count, title, a text excerpt) read with bounded memory and work."""

from __future__ import annotations

import io
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass

from pypdf import Configuration, PdfReader, apply_configuration
from pypdf.errors import LimitReachedError
from pypdf.generic import DictionaryObject

from shared.services.media.errors import CorruptMedia, PasswordProtectedPdf, PdfTooComplex

DEFAULT_MAX_PAGES = 2000
DEFAULT_EXCERPT_CHARS = 500
# Larger than any sane content stream or font, and unrelated to the upload size limit,
# so peak memory stays flat however large uploads are allowed to be.
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
MAX_TITLE_CHARS = 300
# Text is looked for on the first pages only: a long scan without text would
# otherwise decode every page's content for nothing.
MAX_TEXT_PAGES = 10


@dataclass(frozen=True)
class PdfFacts:
    """What an upload's ``metadata`` shows for a PDF."""

    page_count: int
    title: str | None
    text_excerpt: str


class _WholeFileReadRefused(Exception):
    """pypdf tried to read more of the file at once than max_bytes allows."""


class _BoundedReader(io.BufferedReader):
    """A file whose single reads are capped; pypdf's repair paths read the whole file."""

    def __init__(self, raw: io.FileIO, *, max_read: int) -> None:
        super().__init__(raw)
        self._max_read = max_read
        self._file_size = os.fstat(raw.fileno()).st_size

    def read(self, size: int | None = -1) -> bytes:
        """Read like a file, refusing one read longer than max_read."""
        wanted = self._file_size - self.tell() if size is None or size < 0 else size
        if wanted > self._max_read:
            raise _WholeFileReadRefused(f"a single read of {wanted} bytes")
        return super().read(size)


def inspect_pdf(
    path: str,
    *,
    max_pages: int = DEFAULT_MAX_PAGES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    excerpt_chars: int = DEFAULT_EXCERPT_CHARS,
) -> PdfFacts:
    """Read page count, title and the start of the text, refusing broken or oversized PDFs.

    ``max_bytes`` caps what pypdf may hold at once: any one stream's declared or
    decompressed length, and any single read of the file (pypdf's repair of a
    damaged cross-reference table reads the whole file, so a damaged PDF larger
    than ``max_bytes`` is refused as corrupt). Text behind a stream over the cap
    is left out of the excerpt rather than refusing an otherwise sound file.
    """
    # Opened outside the error mapping: a missing spool file is a bug, not a bad upload.
    raw = io.FileIO(path, "r")
    with _BoundedReader(raw, max_read=max_bytes) as file, _limits(max_bytes, max_pages):
        try:
            return _read_facts(PdfReader(file), max_pages=max_pages, excerpt_chars=excerpt_chars)
        except (PdfTooComplex, CorruptMedia):
            raise
        except LimitReachedError as exc:
            raise PdfTooComplex("PDF exceeds a parsing limit") from exc
        except RecursionError as exc:
            raise PdfTooComplex("PDF nests objects too deeply") from exc
        except MemoryError:
            raise
        # pypdf raises its own errors but also KeyError, TypeError... on malformed input.
        except Exception as exc:
            raise CorruptMedia("not a readable PDF") from exc


def _limits(max_bytes: int, max_pages: int) -> AbstractContextManager[Configuration]:
    """pypdf limits for this call only (a context variable, so threads do not share it)."""
    return apply_configuration(
        maximum_declared_stream_length=max_bytes,
        array_based_stream_maximum_output_length=max_bytes,
        jbig2_maximum_output_length=max_bytes,
        lzw_maximum_output_length=max_bytes,
        run_length_maximum_output_length=max_bytes,
        zlib_maximum_output_length=max_bytes,
        brotli_maximum_output_length=max_bytes,
        image_maximum_buffer_size=max_bytes,
        stream_decoding_work_maximum_length=2 * max_bytes,
        # Page tree nodes plus pages; a tree of max_pages needs far fewer entries.
        page_tree_maximum_entries=2 * max_pages + 100,
        # Text extraction never needs an external JBIG2 decoder.
        jbig2dec_binary=None,
    )


def _read_facts(reader: PdfReader, *, max_pages: int, excerpt_chars: int) -> PdfFacts:
    """Page count, title and excerpt of a PDF that opens without a password."""
    # Encryption with an empty user password only restricts printing or copying.
    if reader.is_encrypted and not reader.decrypt(""):
        raise PasswordProtectedPdf("PDF needs a password to open")
    return PdfFacts(
        page_count=_page_count(reader, max_pages=max_pages),
        title=_title(reader),
        text_excerpt=_excerpt(reader, excerpt_chars=excerpt_chars),
    )


def _page_count(reader: PdfReader, *, max_pages: int) -> int:
    """The number of pages, refusing a declared or real count over max_pages."""
    pages_node = reader.root_object["/Pages"].get_object()
    declared = pages_node.get("/Count") if isinstance(pages_node, DictionaryObject) else None
    # Cheap early refusal: the declared /Count is read before the page tree is walked.
    if isinstance(declared, int) and declared > max_pages:
        raise PdfTooComplex(f"PDF declares {declared} pages, over {max_pages}")
    count = reader.get_num_pages()
    if not isinstance(count, int) or count < 0:
        raise CorruptMedia("PDF page count is not a number")
    if count > max_pages:
        raise PdfTooComplex(f"PDF has {count} pages, over {max_pages}")
    return count


def _title(reader: PdfReader) -> str | None:
    """The document-information title, single-line and bounded, or None."""
    metadata = reader.metadata
    title = metadata.title if metadata is not None else None
    if not isinstance(title, str):
        return None
    return " ".join(title.split())[:MAX_TITLE_CHARS] or None


def _excerpt(reader: PdfReader, *, excerpt_chars: int) -> str:
    """Whitespace-collapsed text from the first pages, stopping once it is long enough."""
    text = ""
    for page in reader.pages[:MAX_TEXT_PAGES]:
        try:
            page_text = page.extract_text()
        except LimitReachedError:
            # A huge drawing or a compression bomb: the facts stand without its text.
            break
        text = " ".join(f"{text} {page_text}".split())
        # Parsed objects are cached per reader; dropping each page's content streams
        # keeps memory at one page's worth however many pages are read.
        reader.resolved_objects.clear()
        if len(text) >= excerpt_chars:
            break
    return text[:excerpt_chars]
