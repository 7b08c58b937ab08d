"""Lossless GIF metadata stripping: copy the first picture's blocks and nothing else.

A GIF is a header, a logical screen descriptor (with an optional global colour
table), then blocks: extensions (0x21, a label, then data sub-blocks), images (0x2C,
a descriptor, an optional local colour table, LZW data in sub-blocks) and the trailer
(0x3B). Kept: the header, the screen and its colour table, the graphic control
extension that applies to the first image (its transparency and delay), and that
image, byte for byte. Dropped: comments, application extensions (XMP, ICC, NETSCAPE
looping: a single frame does not loop), plain-text extensions, every later frame and
anything after them.
"""

from __future__ import annotations

from typing import BinaryIO

from shared.services.media.errors import CorruptMedia

_EXTENSION, _IMAGE, _TRAILER = 0x21, 0x2C, 0x3B
_GRAPHIC_CONTROL, _PLAIN_TEXT = 0xF9, 0x01
_COLOUR_TABLE_FLAG = 0x80
# Enough for any real file; bounds the work an adversarial one can ask for.
MAX_EXTENSIONS = 100_000
MAX_SUB_BLOCKS = 2_000_000


def strip_gif_metadata(source: BinaryIO, target: BinaryIO) -> None:
    """Copy the GIF in ``source`` to ``target`` as its first frame without metadata."""
    header = _read(source, 6)
    if header not in (b"GIF87a", b"GIF89a"):
        raise CorruptMedia("not a GIF stream")
    screen = _read(source, 7)
    target.write(header + screen + _read(source, _table_size(screen[4])))
    control = b""
    for _ in range(MAX_EXTENSIONS):
        introducer = _read(source, 1)[0]
        if introducer == _EXTENSION:
            label = _read(source, 1)[0]
            data = _sub_blocks(source, None if label != _GRAPHIC_CONTROL else bytearray())
            if label == _GRAPHIC_CONTROL:
                control = bytes((_EXTENSION, label)) + data
            elif label == _PLAIN_TEXT:
                control = b""  # that control applied to the text, not to the image
        elif introducer == _IMAGE:
            descriptor = _read(source, 9)
            table = _read(source, _table_size(descriptor[8]))
            code_size = _read(source, 1)
            if not 1 <= code_size[0] <= 11:
                raise CorruptMedia("GIF image has an impossible LZW code size")
            target.write(control + b"\x2c" + descriptor + table + code_size)
            _sub_blocks(source, target)
            target.write(bytes((_TRAILER,)))
            return
        elif introducer == _TRAILER:
            raise CorruptMedia("GIF has no image")
        else:
            raise CorruptMedia("GIF has an unknown block")
    raise CorruptMedia("GIF has too many extensions")


def _table_size(packed: int) -> int:
    """Bytes of the colour table a packed field announces (none without its flag)."""
    return 3 * 2 ** ((packed & 0x07) + 1) if packed & _COLOUR_TABLE_FLAG else 0


def _sub_blocks(source: BinaryIO, target: BinaryIO | bytearray | None) -> bytes:
    """Copy sub-blocks up to and including the empty one that ends them.

    ``target`` None skips them; a bytearray collects them and they are also returned.
    """
    for _ in range(MAX_SUB_BLOCKS):
        size = _read(source, 1)
        block = size + _read(source, size[0])
        if isinstance(target, bytearray):
            target += block
        elif target is not None:
            target.write(block)
        if size == b"\x00":
            return bytes(target) if isinstance(target, bytearray) else b""
    raise CorruptMedia("GIF has too many data blocks")


def _read(source: BinaryIO, size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise CorruptMedia("GIF data is truncated")
    return data
