"""Lossless JPEG metadata stripping: copy the file segment by segment, leaving out metadata.

The picture itself (quantisation and Huffman tables, frame and scan headers, the
entropy-coded data) is copied byte for byte, so nothing is re-encoded and memory stays
constant whatever the image size: at most one 64 KiB segment or one read chunk at a
time. Kept besides the picture: the JFIF header, the ICC colour profile and Adobe's
colour-transform marker (needed to decode CMYK/YCCK). Dropped: EXIF (GPS, camera,
dates), XMP, IPTC/Photoshop blocks, comments, maker and other application segments,
and anything after the end of the first image (such as the extra pictures of an MPO).

A photo whose EXIF asks for a rotation gets a new, minimal EXIF segment holding only
that Orientation tag, so viewers still show it upright without the picture being
decoded and turned (which would cost memory in proportion to its pixels).
"""

from __future__ import annotations

import re
import struct
from typing import BinaryIO

from shared.services.media.errors import CorruptMedia

_CHUNK = 1024 * 1024
_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_TEM = 0x01
_RST = range(0xD0, 0xD8)
_APP0, _APP2, _APP14, _APP15, _COM = 0xE0, 0xE2, 0xEE, 0xEF, 0xFE
_DNL = 0xDC
_JFIF_HEADER, _ADOBE_HEADER = 14, 12  # payload bytes of their defined fields
# In entropy-coded data 0xFF is followed by 0x00 (a stuffed byte), RSTn or a fill
# byte; any other byte after it starts the next marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_ORIENTATION_TAG = 0x0112
_SHORT = 3
ORIENTATIONS = range(1, 9)


def strip_jpeg_metadata(source: BinaryIO, target: BinaryIO, *, orientation: int = 1) -> None:
    """Copy the JPEG in ``source`` to ``target`` without its metadata segments.

    ``orientation`` (an EXIF value, 1 = upright) other than 1 is written back as the
    only EXIF tag, right after the JFIF header if there is one.
    """
    if orientation not in ORIENTATIONS:
        raise ValueError(f"EXIF orientation {orientation} is not 1-8")
    pending = orientation_segment(orientation) if orientation != 1 else b""
    reader = _Reader(source)
    if reader.read_exact(2) != b"\xff\xd8":
        raise CorruptMedia("not a JPEG stream")
    target.write(b"\xff\xd8")
    marker = reader.next_marker()
    while True:
        if marker != _APP0 and pending:
            target.write(pending)
            pending = b""
        if marker == _EOI:
            target.write(b"\xff\xd9")
            return
        if marker in (_TEM, _SOI) or marker in _RST:
            target.write(bytes((0xFF, marker)))
            marker = reader.next_marker()
            continue
        length_bytes = reader.read_exact(2)
        length = int.from_bytes(length_bytes, "big")
        if length < 2:
            raise CorruptMedia("JPEG segment with an impossible length")
        payload = reader.read_exact(length - 2)
        if _keep(marker, payload):
            payload = _without_trailing_data(marker, payload)
            target.write(bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload)
        marker = _copy_scan(reader, target) if marker == _SOS else reader.next_marker()


def orientation_exif(orientation: int) -> bytes:
    """A TIFF-structured EXIF block whose only entry is Orientation (one IFD, big-endian)."""
    header = b"MM\x00\x2a" + (8).to_bytes(4, "big")  # byte order, magic, IFD0 at offset 8
    entry = struct.pack(">HHIH2x", _ORIENTATION_TAG, _SHORT, 1, orientation)
    return header + struct.pack(">H", 1) + entry + bytes(4)  # one entry, no next IFD


def orientation_segment(orientation: int) -> bytes:
    """A JPEG APP1 segment carrying ``orientation_exif``."""
    payload = b"Exif\x00\x00" + orientation_exif(orientation)
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _keep(marker: int, payload: bytes) -> bool:
    """Whether a segment is part of the picture (or its colour), not metadata."""
    if marker == _APP0:
        return payload.startswith(b"JFIF\x00")
    if marker == _APP2:
        return payload.startswith(b"ICC_PROFILE\x00")
    if marker == _APP14:
        return payload.startswith(b"Adobe")
    return not (_APP0 <= marker <= _APP15 or marker == _COM)


def _without_trailing_data(marker: int, payload: bytes) -> bytes:
    """A kept segment cut to its defined fields, so nothing can ride along after them.

    JFIF's header is 14 bytes, then an optional embedded thumbnail (a classic leak of the
    uncropped original), dropped by zeroing its size; Adobe's APP14 is 12 bytes; a DNL
    segment holds one 2-byte line count (ITU-T T.81 B.2.5, JFIF 1.02, Adobe TN 5116).
    """
    if marker == _APP0 and len(payload) >= _JFIF_HEADER:
        return payload[: _JFIF_HEADER - 2] + b"\x00\x00"
    if marker == _APP14:
        return payload[:_ADOBE_HEADER]
    if marker == _DNL:
        return payload[:2]
    return payload


def _copy_scan(reader: _Reader, target: BinaryIO) -> int:
    """Copy entropy-coded data up to the next marker; return that marker."""
    while True:
        data = reader.take_buffer() or reader.read_chunk()
        if not data:
            raise CorruptMedia("JPEG data ends inside a scan")
        found = _NEXT_MARKER.search(data)
        if found is None:
            # A trailing 0xFF may begin a marker split across two reads.
            keep = 1 if data.endswith(b"\xff") else 0
            target.write(data[: len(data) - keep])
            reader.push_back(data[len(data) - keep :])
            if keep and not reader.fill_after_pushback():
                raise CorruptMedia("JPEG data ends inside a scan")
            continue
        start = found.start()
        target.write(data[:start])
        reader.push_back(data[start + 2 :])
        return data[start + 1]


class _Reader:
    """Buffered reads over a file, with the unread rest of a chunk pushed back."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._buffer = b""

    def read_chunk(self) -> bytes:
        return self._source.read(_CHUNK)

    def take_buffer(self) -> bytes:
        data, self._buffer = self._buffer, b""
        return data

    def push_back(self, data: bytes) -> None:
        self._buffer = data + self._buffer

    def fill_after_pushback(self) -> bool:
        """Append the next chunk to a pushed-back tail; False at the end of the file."""
        more = self.read_chunk()
        self._buffer += more
        return bool(more)

    def read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            more = self.read_chunk()
            if not more:
                raise CorruptMedia("JPEG data is truncated")
            self._buffer += more
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def next_marker(self) -> int:
        """The next marker code, skipping fill bytes; refuses data between segments."""
        if self.read_exact(1) != b"\xff":
            raise CorruptMedia("JPEG segments are not contiguous")
        while True:
            code = self.read_exact(1)[0]
            if code != 0xFF:
                return code
