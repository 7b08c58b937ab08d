"""Writers of sample upload files (real images, PDFs, disguised executables...) for tests.

Each writer puts one file in ``directory`` and returns its path. Large files are
streamed to disk so generating them costs little memory.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo
from pypdf import PdfWriter

RED = (255, 0, 0)
BLUE = (0, 0, 255)
SAMPLE_PDF_TITLE = "Quarterly report"
SAMPLE_PDF_TEXT = "Runtime Traitors sample PDF text"
BOMB_TEXT = "Text behind the bomb"
GPS_LATITUDE = (48.0, 51.0, 29.64)
GPS_LONGITUDE = (2.0, 17.0, 40.2)
CAMERA_MAKE = "SampleCam"
XMP_PACKET = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="Secret Author"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
# EXIF tag numbers (see PIL.ExifTags): Make, Orientation, GPSInfo and GPS sub-tags.
_MAKE, _ORIENTATION, _GPS_IFD = 0x010F, 0x0112, 0x8825
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_CHUNK = 1024 * 1024


def half_red_half_blue(width: int, height: int) -> Image.Image:
    """An RGB picture whose left half is red and right half blue (orientation is visible)."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    return image


def camera_exif(*, orientation: int) -> Image.Exif:
    """EXIF as a phone writes it: camera make, orientation and a GPS position."""
    exif = Image.Exif()
    exif[_MAKE] = CAMERA_MAKE
    exif[_ORIENTATION] = orientation
    gps = exif.get_ifd(_GPS_IFD)
    gps[_GPS_LAT_REF] = "N"
    gps[_GPS_LAT] = GPS_LATITUDE
    gps[_GPS_LON_REF] = "E"
    gps[_GPS_LON] = GPS_LONGITUDE
    return exif


@functools.cache  # one profile: its header stamps the creation second, so two calls can differ
def srgb_profile() -> bytes:
    """An sRGB ICC profile, the one metadata block that must survive stripping."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def write_jpeg_with_exif(
    directory: Path, *, size: tuple[int, int] = (120, 80), orientation: int = 6
) -> Path:
    """A JPEG with EXIF (GPS, camera, orientation), XMP, a comment and an ICC profile.

    Stored half red (left) and half blue (right); orientation 6 means "turn 90° clockwise
    to display", so upright it is taller than wide with red on top.
    """
    path = directory / "photo.jpg"
    half_red_half_blue(*size).save(
        path,
        "JPEG",
        quality=95,
        exif=camera_exif(orientation=orientation),
        xmp=XMP_PACKET,
        comment=b"secret comment",
        icc_profile=srgb_profile(),
    )
    return path


def write_large_jpeg(path: Path, *, size: tuple[int, int] = (6000, 4000)) -> Path:
    """A camera-sized JPEG (default 24 megapixels) of gradients and noise."""
    noise = Image.effect_noise(size, 48)
    horizontal = Image.linear_gradient("L").resize(size)
    vertical = Image.linear_gradient("L").rotate(90).resize(size)
    Image.merge("RGB", (horizontal, noise, vertical)).save(path, "JPEG", quality=90)
    return path


def write_png(directory: Path) -> Path:
    """A transparent PNG carrying text chunks and EXIF with GPS."""
    path = directory / "picture.png"
    image = half_red_half_blue(60, 40).convert("RGBA")
    image.putpixel((0, 0), (0, 0, 0, 0))
    info = _png_text({"Author": "Secret Author", "Comment": "secret comment"})
    image.save(path, "PNG", pnginfo=info, exif=camera_exif(orientation=1))
    return path


def write_webp(directory: Path) -> Path:
    """A WebP with EXIF (GPS) and XMP."""
    path = directory / "picture.webp"
    half_red_half_blue(60, 40).save(
        path, "WEBP", quality=90, exif=camera_exif(orientation=1), xmp=XMP_PACKET
    )
    return path


def write_gif(directory: Path, *, frames: int = 3) -> Path:
    """An animated GIF of ``frames`` frames with a comment."""
    path = directory / "animation.gif"
    colours = [RED, BLUE, (0, 255, 0)]
    images = [Image.new("RGB", (40, 30), colours[i % len(colours)]) for i in range(frames)]
    images[0].save(
        path,
        "GIF",
        save_all=True,
        append_images=images[1:],
        duration=100,
        loop=0,
        comment=b"secret comment",
    )
    return path


def write_truncated_jpeg(directory: Path) -> Path:
    """A real JPEG cut off halfway through its image data."""
    buffer = io.BytesIO()
    Image.effect_noise((200, 200), 64).convert("RGB").save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    path = directory / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])
    return path


def write_pixel_flood_png(directory: Path, *, side: int = 20000) -> Path:
    """A valid, tiny PNG declaring side x side 1-bit pixels (a decompression bomb)."""
    path = directory / "flood.png"
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)))
        compressed = b"".join(compressor.compress(row) for _ in range(side))
        out.write(_png_chunk(b"IDAT", compressed + compressor.flush()))
        out.write(_png_chunk(b"IEND", b""))
    return path


def write_pdf(
    directory: Path,
    *,
    name: str = "document.pdf",
    title: str = SAMPLE_PDF_TITLE,
    text: str = SAMPLE_PDF_TEXT,
    pages: int = 2,
) -> Path:
    """A small valid PDF with a title and ``text`` on each page."""
    path = directory / name
    with path.open("wb") as out:
        texts = [f"{text} {n}" for n in range(1, pages + 1)]
        _write_pdf(out, title=title, pages=[_text_page(t) for t in texts])
    return path


def write_broken_pdf(directory: Path) -> Path:
    """A file with a PDF header and nothing a reader can recover."""
    path = directory / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R")
    return path


def write_pdf_with_content_bomb(directory: Path, *, inflated_bytes: int) -> Path:
    """A one-page PDF whose Flate content inflates to ``inflated_bytes``; its text comes last."""
    path = directory / "bomb.pdf"
    compressor = zlib.compressobj(9)
    padding = b" " * _CHUNK
    parts = [compressor.compress(padding) for _ in range(inflated_bytes // _CHUNK)]
    parts.append(compressor.compress(b"BT /F1 12 Tf 72 720 Td (%s) Tj ET\n" % BOMB_TEXT.encode()))
    parts.append(compressor.flush())
    with path.open("wb") as out:
        page = _PdfPage(parts, stream_header=b"/Filter /FlateDecode")
        _write_pdf(out, title=SAMPLE_PDF_TITLE, pages=[page])
    return path


def write_encrypted_pdf(directory: Path, *, user_password: str) -> Path:
    """``write_pdf``'s document encrypted with ``user_password`` (empty: opens without one)."""
    source = write_pdf(directory, name="plain.pdf")
    writer = PdfWriter(clone_from=source)
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")
    path = directory / "encrypted.pdf"
    with path.open("wb") as out:
        writer.write(out)
    return path


def write_exe_stub(directory: Path) -> Path:
    """The start of a Windows PE executable (MZ header pointing at a PE signature)."""
    path = directory / "setup.exe"
    path.write_bytes(exe_stub_bytes() + bytes(512))
    return path


def write_elf_stub(directory: Path) -> Path:
    """The start of a 64-bit x86-64 Linux ELF executable."""
    identification = b"\x7fELF\x02\x01\x01\x00" + bytes(8)
    path = directory / "program"
    path.write_bytes(identification + struct.pack("<HH", 2, 0x3E) + bytes(300))
    return path


def write_zip(directory: Path) -> Path:
    """A ZIP archive holding one text file."""
    path = directory / "archive.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return path


def write_html(directory: Path) -> Path:
    """An HTML page with a script (the classic file renamed to .png)."""
    path = directory / "page.html"
    path.write_text(
        "<!DOCTYPE html>\n<html><head><title>hi</title></head>"
        "<body><script>alert(document.cookie)</script></body></html>\n"
    )
    return path


def write_large_pdf(path: Path, *, size_bytes: int, layout: str = "embedded") -> Path:
    """A valid PDF of about ``size_bytes``, streamed to disk.

    ``layout="embedded"``: one page of text that also draws a single huge, incompressible
    image. ``layout="pages"``: up to 1,000 pages, each with a long text content stream.
    """
    with path.open("wb") as out:
        if layout == "embedded":
            page = _text_page(SAMPLE_PDF_TEXT, draw_image=True)
            _write_pdf(out, title=SAMPLE_PDF_TITLE, pages=[page], image_bytes=size_bytes)
        elif layout == "pages":
            page_count = 1000
            padding = _no_op_operators(size_bytes // page_count)  # one object, shared by all
            pages = [
                _text_page(f"{SAMPLE_PDF_TEXT} {n}", padding=padding)
                for n in range(1, page_count + 1)
            ]
            _write_pdf(out, title=SAMPLE_PDF_TITLE, pages=pages)
        else:
            raise ValueError(f"unknown layout {layout!r}")
    return path


def write_large_non_image(path: Path, *, size_bytes: int) -> Path:
    """An executable-looking file of ``size_bytes`` (random body), streamed to disk."""
    with path.open("wb") as out:
        out.write(exe_stub_bytes())
        remaining = size_bytes - out.tell()
        while remaining > 0:
            out.write(os.urandom(min(_CHUNK, remaining)))
            remaining -= _CHUNK
    return path


def exe_stub_bytes() -> bytes:
    """A DOS header whose e_lfanew points at a PE signature, as every Windows EXE starts."""
    dos_header = b"MZ" + b"\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(46)
    stub = (dos_header + struct.pack("<I", 0x80)).ljust(0x80, b"\x00")
    return stub + b"PE\x00\x00" + struct.pack("<HH", 0x8664, 3) + bytes(16)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_text(entries: dict[str, str]) -> PngInfo:
    """PNG tEXt chunks for ``entries``."""
    info = PngInfo()
    for key, value in entries.items():
        info.add_text(key, value)
    return info


class _PdfWriter:
    """Writes numbered objects to a binary file, remembering offsets for the xref table."""

    def __init__(self, out: io.BufferedWriter | io.BytesIO) -> None:
        self.out = out
        self.offsets: dict[int, int] = {}
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def obj(self, number: int, body: bytes) -> None:
        self.offsets[number] = self.out.tell()
        self.out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def stream_obj(self, number: int, header: bytes, chunks: list[bytes] | None, size: int) -> None:
        """A stream object of ``size`` bytes: ``chunks`` if given, else random data."""
        self.offsets[number] = self.out.tell()
        self.out.write(b"%d 0 obj\n<< %s /Length %d >>\nstream\n" % (number, header, size))
        if chunks is not None:
            for chunk in chunks:
                self.out.write(chunk)
        else:
            remaining = size
            while remaining > 0:
                self.out.write(os.urandom(min(_CHUNK, remaining)))
                remaining -= _CHUNK
        self.out.write(b"\nendstream\nendobj\n")

    def finish(self, *, root: int, info: int) -> None:
        count = max(self.offsets) + 1
        xref_at = self.out.tell()
        self.out.write(b"xref\n0 %d\n0000000000 65535 f \n" % count)
        for number in range(1, count):
            self.out.write(b"%010d 00000 n \n" % self.offsets[number])
        trailer = b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\n" % (count, root, info)
        self.out.write(trailer + b"startxref\n%d\n%%%%EOF\n" % xref_at)


@dataclass(frozen=True)
class _PdfPage:
    """One page's content stream, as chunks, and its stream dictionary entries."""

    content: list[bytes]
    stream_header: bytes = b""


def _text_page(text: str, *, padding: bytes = b"", draw_image: bool = False) -> _PdfPage:
    """A page showing ``text``; optionally drawing /Im1 and followed by ``padding``."""
    content = b"BT /F1 12 Tf 72 720 Td (%s) Tj ET\n" % _pdf_string(text)
    if draw_image:
        content += b"q 100 0 0 100 72 500 cm /Im1 Do Q\n"
    return _PdfPage([content, padding])


def _no_op_operators(size_bytes: int) -> bytes:
    """About ``size_bytes`` of identity transforms: content that draws nothing, no text."""
    return b"1 0 0 1 0 0 cm\n" * (size_bytes // 15)


def _write_pdf(
    out: io.BufferedWriter | io.BytesIO,
    *,
    title: str,
    pages: list[_PdfPage],
    image_bytes: int = 0,
) -> None:
    """A PDF of ``pages`` with Helvetica as /F1 and, if ``image_bytes``, a random image /Im1."""
    writer = _PdfWriter(out)
    catalog, pages_node, info, font, image = 1, 2, 3, 4, 5
    page_numbers = [6 + 2 * i for i in range(len(pages))]
    writer.obj(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % pages_node)
    kids = b" ".join(b"%d 0 R" % n for n in page_numbers)
    writer.obj(pages_node, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_numbers)))
    writer.obj(info, b"<< /Title (%s) /Producer (media_samples) >>" % _pdf_string(title))
    writer.obj(font, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    resources = b"/Font << /F1 %d 0 R >>" % font
    if image_bytes:
        side = max(1, int((image_bytes / 3) ** 0.5))
        header = b"/Type /XObject /Subtype /Image /Width %d /Height %d " % (side, side)
        header += b"/ColorSpace /DeviceRGB /BitsPerComponent 8"
        writer.stream_obj(image, header, None, image_bytes)
        resources += b" /XObject << /Im1 %d 0 R >>" % image
    else:
        writer.obj(image, b"null")
    for number, page in zip(page_numbers, pages, strict=True):
        writer.obj(
            number,
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << %s >> "
            b"/Contents %d 0 R >>" % (pages_node, resources, number + 1),
        )
        size = sum(len(chunk) for chunk in page.content)
        writer.stream_obj(number + 1, page.stream_header, page.content, size)
    writer.finish(root=catalog, info=info)


def _pdf_string(text: str) -> bytes:
    """``text`` as the inside of a PDF literal string (Latin-1, escapes applied)."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return escaped.encode("latin-1")


ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


def write_interlaced_png(directory: Path, *, size: tuple[int, int] = (64, 40)) -> Path:
    """An Adam7-interlaced RGB PNG, half red half blue (Pillow cannot write one)."""
    width, height = size
    image = half_red_half_blue(width, height)
    rows = []
    for x0, y0, dx, dy in ADAM7:
        for y in range(y0, height, dy):
            pixels = [image.getpixel((x, y)) for x in range(x0, width, dx)]
            if pixels:
                rows.append(b"\x00" + b"".join(bytes(p) for p in pixels))  # type: ignore[arg-type]
    path = directory / "interlaced.png"
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + _png_chunk(b"IEND", b"")
    )
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC, for tests that assemble files by hand."""
    return _png_chunk(kind, data)


def png_chunk_types(data: bytes) -> list[bytes]:
    """The chunk types of a PNG file, in order (the file is trusted: tests only)."""
    kinds, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kinds.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return kinds


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(code, payload) of each chunk of a WebP file (trusted: tests only)."""
    chunks, offset = [], 12
    while offset < len(data):
        kind = data[offset : offset + 4]
        (size,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        chunks.append((kind, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size + (size & 1)
    return chunks


def write_large_png(path: Path, *, size: tuple[int, int]) -> Path:
    """A big RGBA PNG of gradients and noise, with text and EXIF (GPS) chunks."""
    noise = Image.effect_noise(size, 48)
    horizontal = Image.linear_gradient("L").resize(size)
    vertical = Image.linear_gradient("L").rotate(90).resize(size)
    picture = Image.merge(
        "RGBA", (horizontal, noise, vertical, horizontal.point(lambda v: 255 - v // 2))
    )
    info = _png_text({"Author": "Secret Author"})
    picture.save(path, "PNG", pnginfo=info, exif=camera_exif(orientation=1), compress_level=1)
    return path
