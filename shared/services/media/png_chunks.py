"""PNG without decoding: lossless metadata stripping and a band-by-band pixel reader.

A PNG is a signature and a list of independent chunks (length, type, data, CRC), so
metadata goes by copying the chunks that make the picture and its colours and leaving
out the rest; nothing is re-encoded. Kept: IHDR, PLTE, IDAT, IEND and the chunks that
change how the pixels look (tRNS, gAMA, cHRM, sRGB, iCCP, sBIT, cICP, mDCV, cLLI, bKGD,
pHYs). Dropped: text (tEXt, zTXt, iTXt), EXIF (eXIf), tIME, the frames of an animated
PNG (acTL, fcTL, fdAT: the still default image is kept, as for GIF and WebP), unknown
ancillary chunks and anything after IEND. An unknown critical chunk is refused, as a
viewer must refuse it. Every CRC is checked.

The reader (``png_bands``) inflates the image data as a stream and hands Pillow one
band of rows at a time, each as a small PNG of its own, so the picture never exists
whole in memory. Rows are filtered against the row above, so a band starts with the
previous band's last row, already unfiltered (filter type 0). Pillow's own decoder
undoes the filters (in C): first with a stand-in 8-bit colour type of the same bytes
per pixel, whose decoded bytes are the raw rows, then with the real header and
palette, whose decoded image is the band. An interlaced PNG yields only its first
Adam7 pass, every 8th pixel in both directions: a 1/8-scale picture for the thumbnail.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from shared.services.media.errors import CorruptMedia
from shared.services.media.jpeg_segments import ORIENTATIONS, orientation_exif

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PIECE = 1024 * 1024
_MAX_LENGTH = 2**31 - 1  # the PNG specification's limit for one chunk
# Enough for any real encoder (tiny IDATs included); bounds the parsing work per file.
MAX_CHUNKS = 1_000_000
_PICTURE = {b"IHDR", b"PLTE", b"IDAT", b"IEND"}
_LOOK = {
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"iCCP",
    b"sBIT",
    b"cICP",
    b"mDCV",
    b"cLLI",
    b"bKGD",
    b"pHYs",
}
# Needed to decode a band on its own: the palette and its transparency.
_FOR_BANDS = {b"PLTE", b"tRNS"}
_MAX_PALETTE = 3 * 256  # the longest either may be
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# An 8-bit colour type with the same bytes per pixel, so filters undo identically.
_STAND_IN = {1: 0, 2: 4, 3: 2, 4: 6}


@dataclass(frozen=True)
class PngHeader:
    """The IHDR fields that matter for decoding."""

    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool

    @property
    def pixel_bytes(self) -> int:
        """The filter unit: bytes per complete pixel, at least 1."""
        return max(1, _CHANNELS[self.colour_type] * self.bit_depth // 8)

    def row_bytes(self, width: int) -> int:
        """Bytes of one unfiltered row ``width`` pixels wide."""
        return (width * _CHANNELS[self.colour_type] * self.bit_depth + 7) // 8

    @property
    def bands_supported(self) -> bool:
        """Whether a stand-in colour type exists (all but 16-bit RGB and RGBA)."""
        return self.pixel_bytes in _STAND_IN


def strip_png_metadata(source: BinaryIO, target: BinaryIO, *, orientation: int = 1) -> None:
    """Copy the PNG in ``source`` to ``target`` without its metadata chunks.

    ``orientation`` other than 1 is written as an eXIf chunk holding only that tag.
    """
    if orientation not in ORIENTATIONS:
        raise ValueError(f"EXIF orientation {orientation} is not 1-8")
    reader = _ChunkReader(source)
    target.write(SIGNATURE)
    for kind, length in reader.chunks():
        keep = kind in _PICTURE or kind in _LOOK
        if not keep and _is_critical(kind):
            raise CorruptMedia(f"PNG has an unknown critical chunk {kind!r}")
        if keep:
            target.write(struct.pack(">I", length) + kind)
        for piece in reader.data(length):
            if keep:
                target.write(piece)
        if keep:
            target.write(struct.pack(">I", reader.last_crc))
        if kind == b"IHDR" and orientation != 1:
            target.write(_chunk(b"eXIf", orientation_exif(orientation)))
        if kind == b"IEND":
            return


def read_header(source: BinaryIO) -> PngHeader:
    """The PNG's header (the signature and IHDR are checked)."""
    reader = _ChunkReader(source)
    for _kind, length in reader.chunks():
        return _parse_header(b"".join(reader.data(length)))
    raise CorruptMedia("PNG has no header")  # pragma: no cover - chunks() refuses first


def png_bands(
    source: BinaryIO, *, band_bytes: int, rows_multiple: int = 1
) -> Iterator[Image.Image]:
    """The picture as full-width bands of about ``band_bytes`` raw bytes, top to bottom.

    Each band's height is a multiple of ``rows_multiple`` (but the last). An interlaced
    PNG yields its first Adam7 pass instead: one band, 1/8 of the size each way.
    """
    reader = _ChunkReader(source)
    chunks = reader.chunks()
    _kind, length = next(chunks)
    header = _parse_header(b"".join(reader.data(length)))
    colour: list[bytes] = []
    for kind, length in chunks:
        if kind == b"IDAT":
            break
        if kind in _FOR_BANDS:
            if length > _MAX_PALETTE:
                raise CorruptMedia("PNG palette or transparency chunk is too long")
            colour.append(_chunk(kind, b"".join(reader.data(length))))
        else:
            for _piece in reader.data(length):  # checked and skipped, never held
                pass
        if kind == b"IEND":
            raise CorruptMedia("PNG has no image data")
    else:
        raise CorruptMedia("PNG has no image data")  # pragma: no cover - chunks() refuses
    inflated = _Inflated(_idat_pieces(reader, chunks, length))
    if header.interlaced:
        yield _first_pass(header, colour, inflated)
        return
    if not header.bands_supported:
        raise ValueError("16-bit RGB(A) PNGs are not read in bands")  # callers check first
    row = header.row_bytes(header.width)
    rows_per_band = max(rows_multiple, band_bytes // (row + 1) // rows_multiple * rows_multiple)
    # 8-bit grey, grey+alpha, RGB and RGBA without a tRNS are their own stand-in.
    own_stand_in = header.bit_depth == 8 and not colour
    previous = b""
    for top in range(0, header.height, rows_per_band):
        rows = min(rows_per_band, header.height - top)
        unfiltered = _unfilter(header, previous, inflated.take(rows * (row + 1)))
        last = unfiltered.crop((0, unfiltered.height - 1, unfiltered.width, unfiltered.height))
        previous = last.tobytes()
        if unfiltered.height > rows:  # drop the row borrowed from above
            unfiltered = unfiltered.crop((0, 1, unfiltered.width, unfiltered.height))
        yield (
            unfiltered if own_stand_in else _band_image(header, colour, unfiltered.tobytes(), rows)
        )


# --- decoding helpers --------------------------------------------------------------------


def _first_pass(header: PngHeader, colour: list[bytes], inflated: _Inflated) -> Image.Image:
    """Adam7's first pass (pixels at multiples of 8) as an image of its own."""
    width, height = (header.width + 7) // 8, (header.height + 7) // 8
    filtered = inflated.take(height * (header.row_bytes(width) + 1))
    plain = PngHeader(width, height, header.bit_depth, header.colour_type, interlaced=False)
    return _decode(_mini_png(plain, colour, filtered))


def _unfilter(header: PngHeader, previous: bytes, filtered: bytes) -> Image.Image:
    """Undo the filters of rows, given the raw row above them (kept as the first row)."""
    unit = header.pixel_bytes
    row = header.row_bytes(header.width)
    if previous:
        filtered = b"\x00" + previous + filtered
    stand_in = PngHeader(row // unit, len(filtered) // (row + 1), 8, _STAND_IN[unit], False)
    return _decode(_mini_png(stand_in, [], filtered))


def _band_image(header: PngHeader, colour: list[bytes], raw: bytes, rows: int) -> Image.Image:
    """Raw rows, with the real header and palette, decoded by Pillow."""
    row = header.row_bytes(header.width)
    unfiltered = b"".join(b"\x00" + raw[i * row : (i + 1) * row] for i in range(rows))
    band = PngHeader(header.width, rows, header.bit_depth, header.colour_type, interlaced=False)
    return _decode(_mini_png(band, colour, unfiltered))


def _decode(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data), formats=("PNG",)) as image:
            image.load()
            # load() keeps the file's palette and transparency; copy() detaches the file.
            return image.copy()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptMedia("PNG image data is malformed") from exc


def _mini_png(header: PngHeader, colour: list[bytes], filtered_rows: bytes) -> bytes:
    """A PNG of ``header`` whose data is ``filtered_rows`` in stored (uncompressed) blocks."""
    ihdr = struct.pack(
        ">IIBBBBB", header.width, header.height, header.bit_depth, header.colour_type, 0, 0, 0
    )
    idat = zlib.compress(filtered_rows, level=0)
    return (
        SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + b"".join(colour)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def _idat_pieces(
    reader: _ChunkReader, chunks: Iterator[tuple[bytes, int]], first_length: int
) -> Iterator[bytes]:
    """The compressed data of consecutive IDAT chunks, the first one already begun."""
    yield from reader.data(first_length)
    for kind, length in chunks:
        if kind != b"IDAT":
            return
        yield from reader.data(length)


class _Inflated:
    """The inflated image data, taken in exact amounts; a short stream is corrupt."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._inflater = zlib.decompressobj()
        self._buffer = bytearray()
        self._pending = b""

    def take(self, size: int) -> bytes:
        try:
            while len(self._buffer) < size:
                if self._inflater.eof:
                    raise CorruptMedia("PNG image data is truncated")
                if not self._pending:
                    self._pending = next(self._pieces, b"")
                    if not self._pending:
                        raise CorruptMedia("PNG image data is truncated")
                # Bounded output: a small compressed piece may inflate enormously.
                want = size - len(self._buffer)
                self._buffer += self._inflater.decompress(self._pending, want)
                self._pending = self._inflater.unconsumed_tail
        except zlib.error as exc:
            raise CorruptMedia("PNG image data is not valid zlib") from exc
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


# --- chunk parsing --------------------------------------------------------------------


def _parse_header(data: bytes) -> PngHeader:
    width, height, depth, colour_type, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", data
    )
    if not (0 < width <= _MAX_LENGTH and 0 < height <= _MAX_LENGTH):
        raise CorruptMedia("PNG has an impossible size")
    if depth not in _DEPTHS.get(colour_type, ()):
        raise CorruptMedia("PNG has an impossible colour type or bit depth")
    if compression != 0 or filtering != 0 or interlace not in (0, 1):
        raise CorruptMedia("PNG uses an unknown compression, filter or interlace method")
    return PngHeader(width, height, depth, colour_type, interlaced=interlace == 1)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _is_critical(kind: bytes) -> bool:
    """Bit 5 of the first byte clear (an upper-case letter) marks a critical chunk."""
    return not kind[0] & 0x20


class _ChunkReader:
    """Reads chunk headers and streams their data, checking each CRC."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._kind = b""
        self.last_crc = 0

    def _read(self, size: int) -> bytes:
        data = self._source.read(size)
        if len(data) != size:
            raise CorruptMedia("PNG data is truncated")
        return data

    def chunks(self) -> Iterator[tuple[bytes, int]]:
        """(type, length) of each chunk up to IEND; the caller must drain ``data`` each time."""
        if self._read(len(SIGNATURE)) != SIGNATURE:
            raise CorruptMedia("not a PNG stream")
        for count in range(MAX_CHUNKS):
            length, kind = struct.unpack(">I4s", self._read(8))
            if length > _MAX_LENGTH or not all(
                0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A for c in kind
            ):
                raise CorruptMedia("PNG chunk has an impossible length or type")
            if (count == 0) != (kind == b"IHDR") or (kind == b"IHDR" and length != 13):
                raise CorruptMedia("PNG must start with one 13-byte IHDR chunk")
            self._kind = kind
            yield kind, length
            if kind == b"IEND":
                return
        raise CorruptMedia("PNG has too many chunks")

    def data(self, length: int) -> Iterator[bytes]:
        """The chunk's data in pieces, then its CRC is read and checked."""
        crc = zlib.crc32(self._kind)
        remaining = length
        while remaining:
            piece = self._read(min(_PIECE, remaining))
            crc = zlib.crc32(piece, crc)
            remaining -= len(piece)
            yield piece
        (stored,) = struct.unpack(">I", self._read(4))
        if stored != crc:
            raise CorruptMedia("PNG chunk has a bad CRC")
        self.last_crc = stored
