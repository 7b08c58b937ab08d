"""Lossless WebP metadata stripping: copy the RIFF chunks that make the picture.

A WebP is a RIFF container: "RIFF", the size of the rest, "WEBP", then chunks (a
four-letter code, a little-endian size, the data, a pad byte when the size is odd).
Kept: VP8X (the extended header, its EXIF and XMP flags cleared), ICCP (colour), ALPH
(transparency), VP8 / VP8L (the picture). Dropped: EXIF, XMP, unknown chunks and
anything after the RIFF's declared end. Animations, and pictures whose EXIF asks for a
rotation (browsers ignore a WebP's EXIF orientation), are not copied here: images.py
decodes and turns them; ANIM or ANMF is refused.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from shared.services.media.errors import CorruptMedia

_PIECE = 1024 * 1024
MAX_CHUNKS = 10_000
_KEEP = {b"VP8X", b"ICCP", b"ALPH", b"VP8 ", b"VP8L"}
_PICTURE = {b"VP8 ", b"VP8L"}
_ANIMATION = {b"ANIM", b"ANMF"}
_VP8X_SIZE = 10
_EXIF_FLAG, _XMP_FLAG = 0x08, 0x04


def strip_webp_metadata(source: BinaryIO, target: BinaryIO) -> None:
    """Copy the still WebP in ``source`` to ``target`` without EXIF, XMP or unknown chunks."""
    riff, declared, form = struct.unpack("<4sI4s", _read(source, 12))
    if riff != b"RIFF" or form != b"WEBP" or declared < 4:
        raise CorruptMedia("not a WebP stream")
    start = target.tell()
    target.write(b"RIFF\0\0\0\0WEBP")  # the size is written once the copy is known
    extended = pictures = 0
    for kind, size in _chunks(source, declared - 4):
        if kind == b"VP8X":
            if extended or pictures or size != _VP8X_SIZE:
                raise CorruptMedia("WebP has a misplaced or malformed VP8X header")
            extended += 1
            target.write(_extended_header(_read(source, _VP8X_SIZE)))
            continue
        keep = kind in _KEEP
        if keep:
            target.write(kind + struct.pack("<I", size))
        _copy(source, target if keep else None, size + (size & 1))
        pictures += kind in _PICTURE
    if pictures != 1:
        raise CorruptMedia("WebP must hold exactly one picture")
    end = target.tell()
    target.seek(start + 4)
    target.write(struct.pack("<I", end - start - 8))
    target.seek(end)


def _chunks(source: BinaryIO, remaining: int) -> Iterator[tuple[bytes, int]]:
    """(code, size) of each chunk within the RIFF's ``remaining`` bytes; the caller reads it."""
    for _ in range(MAX_CHUNKS):
        if remaining == 0:
            return
        if remaining < 8:
            raise CorruptMedia("WebP chunk header runs past the RIFF end")
        kind, size = struct.unpack("<4sI", _read(source, 8))
        remaining -= 8 + size + (size & 1)
        if remaining < 0:
            raise CorruptMedia("WebP chunk runs past the RIFF end")
        if kind in _ANIMATION:
            raise CorruptMedia("animated WebP where a still one was expected")
        yield kind, size
    raise CorruptMedia("WebP has too many chunks")


def _extended_header(data: bytes) -> bytes:
    """The VP8X chunk with its EXIF and XMP flags cleared."""
    header = bytearray(data)
    header[0] &= ~(_EXIF_FLAG | _XMP_FLAG) & 0xFF
    return b"VP8X" + struct.pack("<I", _VP8X_SIZE) + header


def _read(source: BinaryIO, size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise CorruptMedia("WebP data is truncated")
    return data


def _copy(source: BinaryIO, target: BinaryIO | None, size: int) -> None:
    """Copy (or skip, when ``target`` is None) ``size`` bytes in bounded pieces."""
    while size:
        piece = _read(source, min(_PIECE, size))
        if target is not None:
            target.write(piece)
        size -= len(piece)
