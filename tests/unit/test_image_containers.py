"""Lossless metadata stripping of JPEG, PNG, WebP and GIF files, and the thumbnails made
without decoding a whole picture: real files written by Pillow, and malformed ones."""

from __future__ import annotations

import io
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageFile, ImageOps

from shared.services.media import CorruptMedia, make_thumbnail, process_image, strip_metadata
from shared.services.media import images as images_module
from shared.services.media.gif_blocks import strip_gif_metadata
from shared.services.media.jpeg_segments import strip_jpeg_metadata
from shared.services.media.png_chunks import png_bands, strip_png_metadata
from shared.services.media.webp_chunks import strip_webp_metadata
from tests import media_samples

ORIENTATION, GPS_IFD = 0x0112, 0x8825
TOP_LEFT, TOP_RIGHT, BOTTOM_LEFT, BOTTOM_RIGHT = RED, GREEN, BLUE, WHITE = (
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 255),
)
XMP_ROTATED = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
    b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
)


@pytest.fixture(autouse=True)
def derived_files_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@pytest.fixture
def in_bands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read every PNG band by band, in bands of a few rows, as a huge one would be."""
    monkeypatch.setattr(images_module, "FULL_DECODE_BYTES", 0)
    monkeypatch.setattr(images_module, "BAND_BYTES", 3000)


def quadrants(width: int = 120, height: int = 80) -> Image.Image:
    """Red, green / blue, white quadrants: any turn or flip shows at the corners."""
    image = Image.new("RGB", (width, height), WHITE)
    image.paste(RED, (0, 0, width // 2, height // 2))
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    image.paste(BLUE, (0, height // 2, width // 2, height))
    return image


def corners(image: Image.Image) -> list[tuple[int, ...]]:
    """The colour near each corner, rounded to pure colours (lossy codecs blur a little)."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    found = []
    for x, y in ((3, 3), (width - 4, 3), (3, height - 4), (width - 4, height - 4)):
        pixel = rgb.getpixel((x, y))
        assert isinstance(pixel, tuple)
        found.append(tuple(255 if channel > 127 else 0 for channel in pixel))
    return found


def same_pixels(first: Path | Image.Image, second: Path | Image.Image) -> bool:
    def opened(item: Path | Image.Image) -> Image.Image:
        return Image.open(item).convert("RGBA") if isinstance(item, Path) else item.convert("RGBA")

    return ImageChops.difference(opened(first), opened(second)).getbbox() is None


def thumbnail_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    return image


# --- JPEG ---------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_jpeg_orientation_is_kept_and_its_thumbnail_is_upright(
    tmp_path: Path, orientation: int
) -> None:
    path = tmp_path / "photo.jpg"
    exif = media_samples.camera_exif(orientation=orientation)
    quadrants(1200, 800).save(path, "JPEG", quality=95, exif=exif)
    with Image.open(path) as original:
        expected = corners(ImageOps.exif_transpose(original))

    result = process_image(str(path))

    with Image.open(result.stripped_path) as copy:
        kept = dict(copy.getexif())
        assert kept == ({} if orientation == 1 else {ORIENTATION: orientation})
        shown = ImageOps.exif_transpose(copy)
    assert (result.width, result.height) == shown.size
    assert corners(shown) == expected
    assert corners(thumbnail_image(result.thumbnail)) == expected


def test_jpeg_orientation_given_only_in_xmp_is_kept_as_exif(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    quadrants().save(path, "JPEG", xmp=XMP_ROTATED)

    result = process_image(str(path))

    data = Path(result.stripped_path).read_bytes()
    assert b"tiff:Orientation" not in data
    with Image.open(result.stripped_path) as copy:
        assert dict(copy.getexif()) == {ORIENTATION: 6}
    assert (result.width, result.height) == (80, 120)


def test_the_orientation_segment_follows_the_jfif_header(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    quadrants().save(path, "JPEG", exif=media_samples.camera_exif(orientation=8))

    data = Path(strip_metadata(str(path))).read_bytes()

    assert data[:4] == b"\xff\xd8\xff\xe0"  # SOI, then JFIF's APP0
    app0_length = struct.unpack(">H", data[4:6])[0]
    exif_at = 4 + app0_length
    assert data[exif_at : exif_at + 2] == b"\xff\xe1"
    assert data[exif_at + 4 : exif_at + 10] == b"Exif\x00\x00"
    assert data.count(b"Exif") == 1


def test_a_rotated_24_megapixel_jpeg_is_never_decoded_at_full_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "camera.jpg"
    quadrants(6000, 4000).save(path, "JPEG", exif=media_samples.camera_exif(orientation=6))
    decoded: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> object:
        result = real_load(self)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)

    result = process_image(str(path))

    assert (result.width, result.height) == (4000, 6000)
    assert decoded
    assert max(w * h for w, h in decoded) <= 750 * 500  # the 1/8-scale decode at most


# --- PNG ----------------------------------------------------------------------------------


def png_with_everything(tmp_path: Path, *, orientation: int = 1) -> Path:
    """A transparent PNG with text, EXIF (GPS), a time stamp, a private chunk and ICC."""
    buffer = io.BytesIO()
    image = quadrants().convert("RGBA")
    image.putpixel((60, 40), (0, 0, 0, 0))
    info = media_samples._png_text({"Author": "Secret Author"})
    info.add_itxt("Description", "secret description", zip=True)
    info.add(b"tIME", b"\x07\xea\x01\x02\x03\x04\x05")
    info.add(b"prVt", b"Secret private data")
    exif = media_samples.camera_exif(orientation=orientation)
    icc = media_samples.srgb_profile()
    image.save(buffer, "PNG", pnginfo=info, exif=exif, icc_profile=icc)
    path = tmp_path / "picture.png"
    path.write_bytes(buffer.getvalue())
    return path


def test_png_copy_keeps_the_picture_and_its_colours_and_loses_every_metadata_chunk(
    tmp_path: Path,
) -> None:
    original = png_with_everything(tmp_path)

    copy = Path(strip_metadata(str(original)))

    data = copy.read_bytes()
    kinds = media_samples.png_chunk_types(data)
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    assert set(kinds) <= {b"IHDR", b"iCCP", b"IDAT", b"IEND"}
    for marker in (b"Secret", b"secret", b"GPS", media_samples.CAMERA_MAKE.encode(), b"Exif"):
        assert marker not in data
    assert same_pixels(copy, original)
    with Image.open(copy) as image:
        assert image.info["icc_profile"] == media_samples.srgb_profile()
        assert image.convert("RGBA").getpixel((60, 40)) == (0, 0, 0, 0)  # transparency kept
        assert not image.getexif()


def test_png_orientation_is_kept_alone_and_its_thumbnail_is_upright(tmp_path: Path) -> None:
    original = png_with_everything(tmp_path, orientation=6)

    result = process_image(str(original))

    with Image.open(result.stripped_path) as copy:
        assert dict(copy.getexif()) == {ORIENTATION: 6}
        assert not copy.getexif().get_ifd(GPS_IFD)
        shown = ImageOps.exif_transpose(copy)
    assert (result.width, result.height) == shown.size == (80, 120)
    # Turned 90° clockwise: blue top left, red top right, white bottom left.
    assert corners(shown) == [BLUE, RED, WHITE, GREEN]
    assert corners(thumbnail_image(result.thumbnail)) == [BLUE, RED, WHITE, GREEN]


def test_animated_png_keeps_its_still_default_image_only(tmp_path: Path) -> None:
    path = tmp_path / "animated.png"
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, BLUE, GREEN)]
    frames[0].save(path, "PNG", save_all=True, append_images=frames[1:])

    copy = Path(strip_metadata(str(path)))

    kinds = media_samples.png_chunk_types(copy.read_bytes())
    assert not {b"acTL", b"fcTL", b"fdAT"} & set(kinds)
    with Image.open(copy) as image:
        assert not getattr(image, "is_animated", False)
        assert image.convert("RGB").getpixel((8, 8)) == RED


def png_sample(kind: str) -> Image.Image:
    """Gradients and noise in one PNG colour type (and bit depth)."""
    size = (157, 211)
    rgb = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(size),
            Image.effect_noise(size, 40),
            Image.linear_gradient("L").rotate(90).resize(size),
        ),
    )
    if kind == "RGBA":
        rgba = rgb.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize(size))
        return rgba
    if kind.startswith("P"):
        return rgb.quantize(int(kind[1:]))
    if kind == "I;16":
        return Image.linear_gradient("L").resize(size).point(lambda v: v * 200, "I").convert(kind)
    return rgb.convert(kind)


@pytest.mark.usefixtures("in_bands")
@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("RGB", {}),
        ("RGBA", {}),
        ("L", {}),
        ("LA", {}),
        ("1", {}),
        ("I;16", {}),
        ("P256", {}),
        ("P256", {"transparency": 0}),
        ("P16", {"bits": 4}),
        ("P2", {"bits": 1}),
    ],
)
def test_png_read_in_bands_gives_exactly_pillows_own_thumbnail(
    tmp_path: Path, kind: str, options: dict[str, int]
) -> None:
    path = tmp_path / "picture.png"
    png_sample(kind).save(path, "PNG", **options)
    with Image.open(path) as whole:
        whole.load()
        expected = whole.convert("RGBA" if whole.has_transparency_data else "RGB")
    expected.thumbnail((256, 256), Image.Resampling.LANCZOS)
    expected = thumbnail_image(images_module._encode_small(expected))

    made = thumbnail_image(make_thumbnail(str(path)))

    assert made.size == expected.size
    assert same_pixels(made, expected)


@pytest.mark.usefixtures("in_bands")
def test_a_large_interlaced_png_is_thumbnailed_from_its_first_pass(tmp_path: Path) -> None:
    path = media_samples.write_interlaced_png(tmp_path, size=(640, 400))

    result = process_image(str(path))

    made = thumbnail_image(result.thumbnail)
    assert made.size == (256, 160)
    left, right = made.convert("RGB").getpixel((10, 80)), made.convert("RGB").getpixel((245, 80))
    assert left == pytest.approx(RED, abs=8)
    assert right == pytest.approx(BLUE, abs=8)
    assert same_pixels(Path(result.stripped_path), path)


@pytest.mark.usefixtures("in_bands")
def test_png_band_reader_keeps_the_exif_orientation(tmp_path: Path) -> None:
    original = png_with_everything(tmp_path, orientation=3)

    thumbnail = thumbnail_image(make_thumbnail(str(original)))

    assert corners(thumbnail) == [WHITE, BLUE, GREEN, RED]  # turned 180°


def png_bytes(*chunks: bytes) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


IHDR = media_samples.png_chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
IDAT = media_samples.png_chunk(b"IDAT", zlib.compress(b"\x00ab\x00cd"))
IEND = media_samples.png_chunk(b"IEND", b"")


def bad_crc(chunk: bytes) -> bytes:
    return chunk[:-4] + bytes(4)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x89PNG\r\n\x1a\x00" + IHDR + IDAT + IEND, id="bad signature"),
        pytest.param(png_bytes(IDAT, IHDR, IEND), id="IHDR not first"),
        pytest.param(png_bytes(IHDR, IHDR, IDAT, IEND), id="two IHDR"),
        pytest.param(png_bytes(IHDR, IDAT), id="no IEND"),
        pytest.param(png_bytes(IHDR, IDAT[:-6]), id="truncated chunk"),
        pytest.param(png_bytes(IHDR, struct.pack(">I", 0xFFFFFFF0) + b"IDAT"), id="huge length"),
        pytest.param(png_bytes(IHDR, bad_crc(IDAT), IEND), id="bad CRC"),
        pytest.param(
            png_bytes(IHDR, bad_crc(media_samples.png_chunk(b"tEXt", b"a\x00b")), IDAT, IEND),
            id="bad CRC on a dropped chunk",
        ),
        pytest.param(
            png_bytes(IHDR, media_samples.png_chunk(b"ABCD", b""), IDAT, IEND),
            id="unknown critical chunk",
        ),
        pytest.param(png_bytes(IHDR, b"\x00\x00\x00\x00I\x00AT", IEND), id="type not letters"),
    ],
)
def test_malformed_png_structure_is_refused_as_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptMedia):
        strip_png_metadata(io.BytesIO(data), io.BytesIO())


def test_png_bytes_after_iend_are_not_copied() -> None:
    out = io.BytesIO()

    strip_png_metadata(io.BytesIO(png_bytes(IHDR, IDAT, IEND) + b"hidden payload"), out)

    assert out.getvalue() == png_bytes(IHDR, IDAT, IEND)


@pytest.mark.usefixtures("in_bands")
@pytest.mark.parametrize(
    "idat",
    [
        pytest.param(zlib.compress(b"\x00ab")[:-4], id="too few rows"),
        pytest.param(b"not zlib at all", id="not zlib"),
        pytest.param(zlib.compress(b"\x00ab\x07cd"), id="unknown filter type"),
    ],
)
def test_malformed_png_image_data_read_in_bands_is_corrupt(tmp_path: Path, idat: bytes) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(png_bytes(IHDR, media_samples.png_chunk(b"IDAT", idat), IEND))

    with pytest.raises(CorruptMedia):
        process_image(str(path))


# --- WebP ---------------------------------------------------------------------------------


def test_webp_copy_has_no_exif_or_xmp_and_the_same_picture_bytes(tmp_path: Path) -> None:
    original = media_samples.write_webp(tmp_path)

    copy = Path(strip_metadata(str(original)))

    data = copy.read_bytes()
    chunks = media_samples.riff_chunks(data)
    kinds = [kind for kind, _ in chunks]
    assert kinds == [b"VP8X", b"VP8 "]
    assert chunks[0][1][0] & 0x0C == 0  # EXIF and XMP flags cleared
    before = dict(media_samples.riff_chunks(original.read_bytes()))
    assert chunks[1][1] == before[b"VP8 "]  # not re-encoded
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    for marker in (b"GPS", media_samples.CAMERA_MAKE.encode(), b"Secret", b"xmpmeta"):
        assert marker not in data
    with Image.open(copy) as image:
        assert not image.getexif()
        assert "xmp" not in image.info


def test_a_webp_to_turn_is_turned_since_browsers_ignore_its_orientation(tmp_path: Path) -> None:
    path = tmp_path / "rotated.webp"
    quadrants().save(
        path,
        "WEBP",
        lossless=True,
        exif=media_samples.camera_exif(orientation=6),
        xmp=media_samples.XMP_PACKET,
        icc_profile=media_samples.srgb_profile(),
    )

    result = process_image(str(path))

    with Image.open(result.stripped_path) as copy:
        assert not copy.getexif()
        assert "xmp" not in copy.info
        assert copy.info["icc_profile"] == media_samples.srgb_profile()
        assert copy.size == (result.width, result.height) == (80, 120)
        assert corners(copy) == [BLUE, RED, WHITE, GREEN]
    assert corners(thumbnail_image(result.thumbnail)) == [BLUE, RED, WHITE, GREEN]


def test_simple_webp_is_copied_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "plain.webp"
    quadrants().save(path, "WEBP", quality=80)

    assert Path(strip_metadata(str(path))).read_bytes() == path.read_bytes()


def test_animated_webp_keeps_its_first_frame_only(tmp_path: Path) -> None:
    path = tmp_path / "animated.webp"
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, BLUE)]
    frames[0].save(path, "WEBP", save_all=True, append_images=frames[1:], lossless=True)

    result = process_image(str(path))

    with Image.open(result.stripped_path) as image:
        assert not getattr(image, "is_animated", False)
        assert image.convert("RGB").getpixel((8, 8)) == pytest.approx(RED, abs=4)


def riff(*chunks: bytes, size: int | None = None) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body) if size is None else size) + body


def riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


VP8 = riff_chunk(b"VP8 ", b"\x00" * 12)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"RIFX" + riff(VP8)[4:], id="not RIFF"),
        pytest.param(riff(VP8)[:-3], id="truncated"),
        pytest.param(riff(VP8, size=4000), id="RIFF size past the end"),
        pytest.param(riff(b"VP8 " + struct.pack("<I", 2**31) + b"\x00" * 8), id="huge chunk"),
        pytest.param(riff(VP8, VP8), id="two pictures"),
        pytest.param(riff(riff_chunk(b"EXIF", b"x")), id="no picture"),
        pytest.param(riff(riff_chunk(b"VP8X", b"\x00" * 9), VP8), id="short VP8X"),
        pytest.param(riff(VP8, riff_chunk(b"VP8X", b"\x00" * 10)), id="VP8X after the picture"),
        pytest.param(riff(riff_chunk(b"ANIM", b"\x00" * 6), VP8), id="animation"),
        pytest.param(riff(VP8 + b"ABC", size=len(VP8) + 7), id="partial chunk header"),
    ],
)
def test_malformed_webp_structure_is_refused_as_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptMedia):
        strip_webp_metadata(io.BytesIO(data), io.BytesIO())


def test_webp_bytes_after_the_riff_end_are_not_copied() -> None:
    out = io.BytesIO()

    strip_webp_metadata(io.BytesIO(riff(VP8) + b"hidden payload"), out)

    assert out.getvalue() == riff(VP8)


# --- GIF ----------------------------------------------------------------------------------


def test_gif_copy_is_its_first_frame_without_comment_or_application_data(
    tmp_path: Path,
) -> None:
    path = tmp_path / "animation.gif"
    frames = [Image.new("P", (20, 10), index) for index in (1, 2)]
    for frame in frames:
        frame.putpalette([0, 0, 0, *RED, *BLUE] + [0] * 759)
    frames[0].putpixel((0, 0), 0)
    frames[0].save(
        path,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        loop=0,
        comment=b"secret comment",
        transparency=0,
        duration=50,
    )

    copy = Path(strip_metadata(str(path)))

    data = copy.read_bytes()
    for marker in (b"secret", b"NETSCAPE"):
        assert marker not in data
    assert data.endswith(b"\x3b")
    with Image.open(copy) as image:
        assert getattr(image, "n_frames", 1) == 1
        rgba = image.convert("RGBA")
    assert rgba.getpixel((5, 5)) == (*RED, 255)
    assert rgba.getpixel((0, 0)) == (0, 0, 0, 0)  # transparency (the graphic control) kept
    with Image.open(path) as original:
        assert same_pixels(rgba, original.convert("RGBA"))


SCREEN = b"GIF89a" + struct.pack("<HHBBB", 2, 2, 0x80, 0, 0) + bytes(6)
IMAGE = b"\x2c" + struct.pack("<HHHHB", 0, 0, 2, 2, 0) + b"\x02\x02\x44\x01\x00"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"GIF90a" + SCREEN[6:] + IMAGE + b"\x3b", id="bad signature"),
        pytest.param(SCREEN + b"\x3b", id="no image"),
        pytest.param(SCREEN + b"\x99" + IMAGE, id="unknown block"),
        pytest.param(SCREEN + IMAGE[:-3], id="truncated image data"),
        pytest.param(SCREEN + IMAGE[:10] + b"\x0c" + IMAGE[11:], id="impossible code size"),
        pytest.param(SCREEN + b"\x21\xfe\x05abc", id="truncated comment"),
        pytest.param(SCREEN[:10], id="truncated screen"),
    ],
)
def test_malformed_gif_structure_is_refused_as_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptMedia):
        strip_gif_metadata(io.BytesIO(data), io.BytesIO())


@pytest.mark.parametrize(
    "write_sample",
    [media_samples.write_png, media_samples.write_webp, media_samples.write_gif],
)
def test_stripping_twice_changes_nothing_more(
    tmp_path: Path, write_sample: Callable[[Path], Path]
) -> None:
    once = Path(strip_metadata(str(write_sample(tmp_path))))

    twice = Path(strip_metadata(str(once)))

    assert twice.read_bytes() == once.read_bytes()


def test_thumbnail_of_a_palette_gif_matches_a_whole_conversion(tmp_path: Path) -> None:
    path = tmp_path / "big.gif"
    png_sample("P256").resize((900, 700)).save(path, "GIF")
    with Image.open(path) as whole:
        expected = whole.convert("RGB")
    expected.thumbnail((256, 256), Image.Resampling.LANCZOS)
    expected = thumbnail_image(images_module._encode_small(expected))

    made = thumbnail_image(make_thumbnail(str(path)))

    assert made.size == expected.size
    assert same_pixels(made, expected)


def test_png_band_reader_refuses_an_oversized_palette() -> None:
    palette = media_samples.png_chunk(b"PLTE", bytes(3 * 257))

    with pytest.raises(CorruptMedia):
        next(png_bands(io.BytesIO(png_bytes(IHDR, palette, IDAT, IEND)), band_bytes=100))


def test_png_band_reader_skips_text_before_the_image_data() -> None:
    text = media_samples.png_chunk(b"zTXt", b"k\x00\x00" + zlib.compress(b"x" * 100_000))

    bands = list(png_bands(io.BytesIO(png_bytes(IHDR, text, IDAT, IEND)), band_bytes=100))

    assert [band.tobytes() for band in bands] == [b"abcd"]


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def test_data_riding_after_a_kept_jpeg_segments_fields_does_not_survive() -> None:
    """A JFIF embedded thumbnail, bytes after Adobe's fields, a stuffed DNL: all cut."""
    picture = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(picture, "JPEG")
    body = picture.getvalue()[2:]  # after SOI
    assert body[:2] == b"\xff\xe0"  # Pillow writes its JFIF header first
    jfif_end = 2 + int.from_bytes(body[2:4], "big")
    jfif_with_thumbnail = body[4:16] + b"\x02\x01" + b"SECRET" * 1  # 2x1 RGB thumbnail
    hostile = (
        b"\xff\xd8"
        + _segment(0xE0, jfif_with_thumbnail)
        + _segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01" + b"SECRET-ADOBE")
        + _segment(0xDC, b"\x00\x10" + b"SECRET-DNL" * 90)
        + body[jfif_end:]
    )
    stripped = io.BytesIO()

    strip_jpeg_metadata(io.BytesIO(hostile), stripped, orientation=1)

    assert b"SECRET" not in stripped.getvalue()
    assert stripped.getvalue().startswith(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    with Image.open(io.BytesIO(stripped.getvalue())) as kept:
        assert kept.size == (16, 16)
        assert kept.getpixel((8, 8))[0] > 150  # still the red picture
