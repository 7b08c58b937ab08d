"""Upload media: type sniffing, image checks and stripping, PDF facts, download names."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image, ImageChops, ImageFile, ImageOps

from shared.services.media import (
    SNIFF_BYTES,
    CorruptMedia,
    ImageTooLarge,
    PasswordProtectedPdf,
    PdfTooComplex,
    content_disposition,
    inspect_pdf,
    make_thumbnail,
    process_image,
    sniff_content_type,
    strip_metadata,
)
from shared.services.media.images import (
    BYTES_PER_PIXEL,
    DEFAULT_MAX_PIXELS,
    MEMORY_BUDGET_BYTES,
    PIXEL_CAPS,
)
from tests import media_samples

ALLOWED_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf"}
ORIENTATION, GPS_IFD = 0x0112, 0x8825
PRIVATE_MARKERS = (b"Exif", b"GPS", media_samples.CAMERA_MAKE.encode(), b"secret", b"Secret")


def head(path: Path) -> bytes:
    """The bytes the processor sniffs: the first SNIFF_BYTES of the file."""
    with path.open("rb") as file:
        return file.read(SNIFF_BYTES)


def longest_side(image: Image.Image) -> int:
    return max(image.size)


@pytest.fixture(autouse=True)
def derived_files_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stripped copies go to the system temp dir by default; keep them in the test's."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@pytest.fixture
def refuse_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any pixel decode fail the test: refusals must come from the header alone."""

    def decode_attempted(self: ImageFile.ImageFile) -> None:
        pytest.fail("the image was decoded before being refused")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decode_attempted)


# --- sniffing --------------------------------------------------------------------------

ALLOWED_SAMPLES: list[tuple[Callable[[Path], Path], str]] = [
    (media_samples.write_jpeg_with_exif, "image/jpeg"),
    (media_samples.write_png, "image/png"),
    (media_samples.write_webp, "image/webp"),
    (media_samples.write_gif, "image/gif"),
    (media_samples.write_pdf, "application/pdf"),
    (media_samples.write_truncated_jpeg, "image/jpeg"),
]


@pytest.mark.parametrize(("write_sample", "expected"), ALLOWED_SAMPLES)
def test_sniff_names_each_allowed_type_from_its_first_bytes(
    tmp_path: Path, write_sample: Callable[[Path], Path], expected: str
) -> None:
    assert sniff_content_type(head(write_sample(tmp_path))) == expected


@pytest.mark.parametrize(
    "write_sample",
    [
        media_samples.write_exe_stub,
        media_samples.write_elf_stub,
        media_samples.write_zip,
        media_samples.write_html,
    ],
)
def test_sniff_never_calls_an_executable_archive_or_html_page_an_allowed_type(
    tmp_path: Path, write_sample: Callable[[Path], Path]
) -> None:
    assert sniff_content_type(head(write_sample(tmp_path))) not in ALLOWED_TYPES


def test_renamed_exe_is_recognised_as_an_executable(tmp_path: Path) -> None:
    renamed = media_samples.write_exe_stub(tmp_path).rename(tmp_path / "holiday.png")

    assert sniff_content_type(head(renamed)) == "application/x-msdownload"


def test_html_declared_as_png_is_not_png(tmp_path: Path) -> None:
    renamed = media_samples.write_html(tmp_path).rename(tmp_path / "cat.png")

    assert sniff_content_type(head(renamed)) != "image/png"


def test_animated_png_sniffs_as_png(tmp_path: Path) -> None:
    path = tmp_path / "animated.png"
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue")]
    frames[0].save(path, "PNG", save_all=True, append_images=frames[1:])

    assert sniff_content_type(head(path)) == "image/png"


def test_empty_or_unknown_head_sniffs_as_nothing() -> None:
    assert sniff_content_type(b"") is None
    assert sniff_content_type(b"just some words") is None


# --- images: metadata and orientation ------------------------------------------------


def test_stripped_jpeg_has_no_exif_gps_xmp_or_comment(tmp_path: Path) -> None:
    photo = media_samples.write_jpeg_with_exif(tmp_path, orientation=1)
    stripped = Path(strip_metadata(str(photo)))

    data = stripped.read_bytes()
    with Image.open(stripped) as image:
        assert not image.getexif()
        assert "xmp" not in image.info
        assert "comment" not in image.info
    for marker in (*PRIVATE_MARKERS, b"http://ns.adobe.com/xap/1.0/"):
        assert marker not in data


def test_rotated_jpeg_keeps_only_its_orientation(tmp_path: Path) -> None:
    stripped = Path(strip_metadata(str(media_samples.write_jpeg_with_exif(tmp_path))))

    data = stripped.read_bytes()
    with Image.open(stripped) as image:
        assert dict(image.getexif()) == {ORIENTATION: 6}
        assert not image.getexif().get_ifd(GPS_IFD)
        assert "xmp" not in image.info
    for marker in (b"GPS", media_samples.CAMERA_MAKE.encode(), b"secret", b"Secret", b"xap/1.0"):
        assert marker not in data


def test_stripped_jpeg_keeps_its_colour_profile(tmp_path: Path) -> None:
    stripped = strip_metadata(str(media_samples.write_jpeg_with_exif(tmp_path)))

    with Image.open(stripped) as image:
        assert image.info["icc_profile"] == media_samples.srgb_profile()


def test_rotated_jpeg_is_copied_losslessly_and_shows_upright(tmp_path: Path) -> None:
    # Stored 120x80, red left / blue right, with "rotate 90° clockwise to display".
    photo = media_samples.write_jpeg_with_exif(tmp_path, orientation=6)

    result = process_image(str(photo))

    assert (result.width, result.height) == (80, 120)  # as displayed
    with Image.open(result.stripped_path) as image, Image.open(photo) as original:
        assert image.size == (120, 80)  # the pixels are not re-encoded...
        assert (
            ImageChops.difference(image.convert("RGB"), original.convert("RGB")).getbbox() is None
        )
        upright = ImageOps.exif_transpose(image)  # ...and a viewer turns them
    assert upright.size == (80, 120)
    top, bottom = upright.getpixel((40, 5)), upright.getpixel((40, 114))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 200 > top[2]  # red on top
    assert bottom[2] > 200 > bottom[0]  # blue at the bottom


@pytest.mark.parametrize(
    ("write_sample", "pillow_format"),
    [
        (media_samples.write_png, "PNG"),
        (media_samples.write_webp, "WEBP"),
        (media_samples.write_gif, "GIF"),
    ],
)
def test_stripped_copy_keeps_format_and_loses_private_metadata(
    tmp_path: Path, write_sample: Callable[[Path], Path], pillow_format: str
) -> None:
    stripped = Path(strip_metadata(str(write_sample(tmp_path))))

    data = stripped.read_bytes()
    with Image.open(stripped) as image:
        assert image.format == pillow_format
        assert not image.getexif()
    for marker in PRIVATE_MARKERS:
        assert marker not in data


def test_png_transparency_survives_stripping(tmp_path: Path) -> None:
    stripped = strip_metadata(str(media_samples.write_png(tmp_path)))

    with Image.open(stripped) as image:
        assert image.convert("RGBA").getpixel((0, 0)) == (0, 0, 0, 0)


def test_animated_gif_keeps_its_first_frame_only(tmp_path: Path) -> None:
    result = process_image(str(media_samples.write_gif(tmp_path, frames=3)))

    with Image.open(result.stripped_path) as image:
        assert getattr(image, "n_frames", 1) == 1
        assert image.convert("RGB").getpixel((0, 0)) == media_samples.RED


def test_process_image_reports_size_format_and_writes_into_out_dir(tmp_path: Path) -> None:
    out_dir = tmp_path / "derived"
    out_dir.mkdir()

    result = process_image(str(media_samples.write_png(tmp_path)), out_dir=str(out_dir))

    assert (result.width, result.height, result.format) == (60, 40, "png")
    assert result.content_type == "image/png"
    assert Path(result.stripped_path).parent == out_dir
    assert Path(result.stripped_path).suffix == ".png"


# --- images: thumbnails --------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"), [((1000, 600), (256, 154)), ((600, 1000), (154, 256))]
)
def test_thumbnail_is_webp_with_longest_side_256(
    tmp_path: Path, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    path = tmp_path / "big.jpg"
    media_samples.half_red_half_blue(*size).save(path, "JPEG")
    thumbnail = tmp_path / "thumb.webp"

    thumbnail.write_bytes(make_thumbnail(str(path)))

    with Image.open(thumbnail) as image:
        assert image.format == "WEBP"
        assert image.size == expected


def test_thumbnail_of_a_rotated_photo_is_upright(tmp_path: Path) -> None:
    photo = media_samples.write_jpeg_with_exif(tmp_path, size=(1200, 800), orientation=6)
    thumbnail = tmp_path / "thumb.webp"

    thumbnail.write_bytes(process_image(str(photo)).thumbnail)

    with Image.open(thumbnail) as image:
        assert image.size == (171, 256)
        top = image.convert("RGB").getpixel((85, 10))
    assert isinstance(top, tuple)
    assert top[0] > 200 > top[2]


def test_small_image_thumbnail_is_not_enlarged(tmp_path: Path) -> None:
    thumbnail = tmp_path / "thumb.webp"

    thumbnail.write_bytes(process_image(str(media_samples.write_png(tmp_path))).thumbnail)

    with Image.open(thumbnail) as image:
        assert image.size == (60, 40)
        assert image.mode == "RGBA"  # transparency kept


# --- images: refusals ----------------------------------------------------------------


@pytest.mark.usefixtures("refuse_decoding")
def test_pixel_flood_png_is_refused_without_decoding(tmp_path: Path) -> None:
    flood = str(media_samples.write_pixel_flood_png(tmp_path))

    with pytest.raises(ImageTooLarge) as refused:
        process_image(flood)
    assert refused.value.reason == "too_large"
    with pytest.raises(ImageTooLarge):
        make_thumbnail(flood)


@pytest.mark.usefixtures("refuse_decoding")
def test_pixel_flood_is_refused_even_with_pillows_own_guard_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)

    with pytest.raises(ImageTooLarge):
        process_image(str(media_samples.write_pixel_flood_png(tmp_path)))


@pytest.mark.usefixtures("refuse_decoding")
def test_image_over_max_pixels_is_too_large(tmp_path: Path) -> None:
    photo = str(media_samples.write_jpeg_with_exif(tmp_path))  # 120 x 80 = 9,600 pixels

    with pytest.raises(ImageTooLarge):
        process_image(photo, max_pixels=9_599)


def write_turned_webp(directory: Path) -> Path:
    """A 60 x 40 WebP whose EXIF asks for a 90 degree turn (so it is decoded and re-saved)."""
    path = directory / "turned.webp"
    media_samples.half_red_half_blue(60, 40).save(
        path, "WEBP", exif=media_samples.camera_exif(orientation=6)
    )
    return path


FORMAT_CAP_SAMPLES = [  # writer, its pixels, the PIXEL_CAPS entry that bounds it
    pytest.param(media_samples.write_gif, 40 * 30, "gif", id="gif"),
    pytest.param(media_samples.write_webp, 60 * 40, "webp", id="webp"),
    pytest.param(write_turned_webp, 60 * 40, "webp-decoded", id="turned-webp"),
]


@pytest.mark.parametrize(("writer", "pixels", "kind"), FORMAT_CAP_SAMPLES)
def test_image_just_over_its_formats_cap_is_too_large(
    tmp_path: Path, writer: Callable[[Path], Path], pixels: int, kind: str
) -> None:
    path = str(writer(tmp_path))
    # Only this format's cap is lowered: the general cap still admits the picture.
    caps = {**PIXEL_CAPS, kind: pixels - 1}

    with pytest.raises(ImageTooLarge) as refused:
        process_image(path, caps=caps)
    assert refused.value.reason == "too_large"
    with pytest.raises(ImageTooLarge):
        strip_metadata(path, caps=caps)


@pytest.mark.parametrize(("writer", "pixels", "kind"), FORMAT_CAP_SAMPLES)
def test_image_at_its_formats_cap_is_processed(
    tmp_path: Path, writer: Callable[[Path], Path], pixels: int, kind: str
) -> None:
    result = process_image(str(writer(tmp_path)), caps={**PIXEL_CAPS, kind: pixels})

    assert result.width * result.height == pixels
    assert result.thumbnail


def test_a_still_webp_is_not_held_to_the_cap_of_a_turned_one(tmp_path: Path) -> None:
    caps = {**PIXEL_CAPS, "webp-decoded": 60 * 40 - 1}

    assert process_image(str(media_samples.write_webp(tmp_path)), caps=caps).format == "webp"


def test_format_caps_fit_the_memory_budget() -> None:
    """GIF and WebP caps come from the measured bytes a pixel; JPEG and PNG keep 40 MP."""
    assert PIXEL_CAPS["jpeg"] == PIXEL_CAPS["png"] == DEFAULT_MAX_PIXELS == 40_000_000
    for kind, cost in BYTES_PER_PIXEL.items():
        assert PIXEL_CAPS[kind] * cost <= MEMORY_BUDGET_BYTES
    assert PIXEL_CAPS["webp-decoded"] < PIXEL_CAPS["webp"] < PIXEL_CAPS["gif"]


def test_truncated_jpeg_is_corrupt(tmp_path: Path) -> None:
    truncated = str(media_samples.write_truncated_jpeg(tmp_path))

    with pytest.raises(CorruptMedia) as refused:
        process_image(truncated)
    assert refused.value.reason == "corrupt"
    with pytest.raises(CorruptMedia):
        make_thumbnail(truncated)


@pytest.mark.parametrize(
    "write_sample",
    [media_samples.write_html, media_samples.write_exe_stub, media_samples.write_pdf],
)
def test_non_image_given_to_process_image_is_corrupt(
    tmp_path: Path, write_sample: Callable[[Path], Path]
) -> None:
    with pytest.raises(CorruptMedia):
        process_image(str(write_sample(tmp_path)))


def test_image_formats_outside_the_allowed_set_are_not_decoded(tmp_path: Path) -> None:
    bitmap = tmp_path / "picture.bmp"
    Image.new("RGB", (10, 10), "red").save(bitmap, "BMP")

    with pytest.raises(CorruptMedia):
        process_image(str(bitmap))


def test_refused_image_leaves_no_derived_file(tmp_path: Path) -> None:
    out_dir = tmp_path / "derived"
    out_dir.mkdir()

    with pytest.raises(CorruptMedia):
        process_image(str(media_samples.write_truncated_jpeg(tmp_path)), out_dir=str(out_dir))
    assert list(out_dir.iterdir()) == []


# --- PDFs ----------------------------------------------------------------------------


def test_pdf_facts_give_page_count_title_and_text(tmp_path: Path) -> None:
    facts = inspect_pdf(str(media_samples.write_pdf(tmp_path, pages=2)))

    assert facts.page_count == 2
    assert facts.title == media_samples.SAMPLE_PDF_TITLE
    assert facts.text_excerpt == (
        f"{media_samples.SAMPLE_PDF_TEXT} 1 {media_samples.SAMPLE_PDF_TEXT} 2"
    )


def test_pdf_excerpt_is_cut_at_excerpt_chars(tmp_path: Path) -> None:
    facts = inspect_pdf(str(media_samples.write_pdf(tmp_path, pages=5)), excerpt_chars=40)

    assert (
        facts.text_excerpt
        == f"{media_samples.SAMPLE_PDF_TEXT} 1 {media_samples.SAMPLE_PDF_TEXT}"[:40]
    )


def test_broken_pdf_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CorruptMedia) as refused:
        inspect_pdf(str(media_samples.write_broken_pdf(tmp_path)))
    assert refused.value.reason == "corrupt"


def test_non_pdf_given_to_inspect_pdf_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CorruptMedia):
        inspect_pdf(str(media_samples.write_html(tmp_path)))


def test_pdf_over_the_page_limit_is_too_complex(tmp_path: Path) -> None:
    with pytest.raises(PdfTooComplex) as refused:
        inspect_pdf(str(media_samples.write_pdf(tmp_path, pages=5)), max_pages=4)
    assert refused.value.reason == "too_large"


def test_pdf_content_bomb_is_not_inflated_past_max_bytes(tmp_path: Path) -> None:
    bomb = str(media_samples.write_pdf_with_content_bomb(tmp_path, inflated_bytes=8 * 2**20))

    capped = inspect_pdf(bomb, max_bytes=2**20)
    inflated = inspect_pdf(bomb, max_bytes=16 * 2**20)

    assert (capped.page_count, capped.title) == (1, media_samples.SAMPLE_PDF_TITLE)
    assert media_samples.BOMB_TEXT not in capped.text_excerpt
    assert inflated.text_excerpt == media_samples.BOMB_TEXT


def test_pdf_with_an_image_bigger_than_max_bytes_still_gives_its_facts(tmp_path: Path) -> None:
    pdf = media_samples.write_large_pdf(tmp_path / "scan.pdf", size_bytes=3 * 2**20)

    facts = inspect_pdf(str(pdf), max_bytes=2**20)

    assert facts.page_count == 1
    assert facts.text_excerpt == media_samples.SAMPLE_PDF_TEXT


def test_damaged_pdf_larger_than_max_bytes_is_not_repaired_in_memory(tmp_path: Path) -> None:
    pdf = media_samples.write_large_pdf(tmp_path / "pages.pdf", size_bytes=2**20, layout="pages")
    data = pdf.read_bytes()
    pointer_at = data.rindex(b"startxref\n") + len(b"startxref\n")
    pointer_length = data.index(b"\n", pointer_at) - pointer_at
    damaged = data[:pointer_at] + b"9" * pointer_length + data[pointer_at + pointer_length :]
    pdf.write_bytes(damaged)  # startxref now points past the end of the file

    with pytest.raises(CorruptMedia):
        inspect_pdf(str(pdf), max_bytes=2**19)
    assert inspect_pdf(str(pdf), max_bytes=2**21).page_count == 1000


def test_pdf_encrypted_without_user_password_is_read(tmp_path: Path) -> None:
    facts = inspect_pdf(str(media_samples.write_encrypted_pdf(tmp_path, user_password="")))

    assert (facts.page_count, facts.title) == (2, media_samples.SAMPLE_PDF_TITLE)
    assert media_samples.SAMPLE_PDF_TEXT in facts.text_excerpt


def test_password_protected_pdf_is_refused_as_unreadable(tmp_path: Path) -> None:
    locked = str(media_samples.write_encrypted_pdf(tmp_path, user_password="s3cret"))

    with pytest.raises(PasswordProtectedPdf) as refused:
        inspect_pdf(locked)
    assert refused.value.reason == "corrupt"


# --- Content-Disposition -------------------------------------------------------------


def filename_seen_by_a_client(header_value: str) -> str:
    """The name an RFC 6266 client saves under: ``filename*`` decoded, as it takes priority."""
    extended = re.search(r"filename\*=UTF-8''([^;\s]+)", header_value)
    assert extended is not None, header_value
    return unquote(extended.group(1), errors="strict")


def fallback_filename(header_value: str) -> str:
    """The quoted ASCII ``filename`` older clients use."""
    quoted = re.search(r'filename="([^"]*)"', header_value)
    assert quoted is not None, header_value
    return quoted.group(1)


def test_content_disposition_for_a_plain_name() -> None:
    assert content_disposition("report.pdf") == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    )


def test_unicode_name_gets_an_ascii_fallback_and_the_exact_utf8_name() -> None:
    name = "Résumé — 東京.pdf"

    header = content_disposition(name)

    assert header.isascii()
    assert fallback_filename(header) == "Resume _ __.pdf"
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%20%E2%80%94%20%E6%9D%B1%E4%BA%AC.pdf" in header
    assert filename_seen_by_a_client(header) == name


def test_quotes_and_semicolons_cannot_close_the_quoted_filename() -> None:
    name = 'say "hi"; filename="evil.html.pdf'

    header = content_disposition(name)

    assert header.count('"') == 2
    assert fallback_filename(header) == "say _hi__ filename=_evil.html.pdf"
    assert filename_seen_by_a_client(header) == name


def test_crlf_in_a_name_cannot_inject_a_header() -> None:
    header = content_disposition("a\r\nSet-Cookie: session=stolen\r\n.pdf")

    assert "\r" not in header
    assert "\n" not in header
    assert filename_seen_by_a_client(header) == "a Set-Cookie: session=stolen .pdf"


def test_directories_are_dropped_and_empty_names_fall_back() -> None:
    assert filename_seen_by_a_client(content_disposition("../../etc/passwd")) == "passwd"
    assert filename_seen_by_a_client(content_disposition("..\\..\\boot.ini")) == "boot.ini"
    assert content_disposition("\x00\x07") == (
        "attachment; filename=\"download\"; filename*=UTF-8''download"
    )


# --- upright JPEGs: metadata dropped losslessly, never decoded at full size ----------------


def _pixels(path: Path) -> bytes:
    with Image.open(path) as image:
        return image.convert("RGB").tobytes()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"progressive": True},
        {"restart_marker_rows": 1},
        {"subsampling": 0, "quality": 75},
    ],
    ids=["baseline", "progressive", "restart-markers", "4:4:4"],
)
def test_an_upright_jpeg_keeps_every_pixel_and_loses_its_metadata(
    tmp_path: Path, options: dict[str, object]
) -> None:
    source = tmp_path / "upright.jpg"
    media_samples.half_red_half_blue(333, 201).save(
        source,
        "JPEG",
        exif=media_samples.camera_exif(orientation=1),
        xmp=media_samples.XMP_PACKET,
        comment=b"secret comment",
        icc_profile=media_samples.srgb_profile(),
        **options,
    )

    result = process_image(str(source))

    stripped = Path(result.stripped_path)
    assert (result.width, result.height, result.format) == (333, 201, "jpeg")
    assert _pixels(stripped) == _pixels(source)  # the same coefficients, not a re-encode
    data = stripped.read_bytes()
    assert not any(marker in data for marker in PRIVATE_MARKERS)
    with Image.open(stripped) as image:
        assert not image.getexif()
        assert "xmp" not in image.info
        assert image.info["icc_profile"] == media_samples.srgb_profile()


def test_pictures_after_the_first_image_are_dropped(tmp_path: Path) -> None:
    source = tmp_path / "with-trailer.jpg"
    media_samples.half_red_half_blue(64, 64).save(source, "JPEG")
    size = source.stat().st_size
    with source.open("ab") as file:
        file.write(b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00GPS-secret\xff\xd9")

    stripped = Path(strip_metadata(str(source)))

    assert stripped.stat().st_size <= size
    assert b"GPS" not in stripped.read_bytes()


def test_a_truncated_upright_jpeg_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "cut.jpg"
    media_samples.half_red_half_blue(400, 300).save(source, "JPEG", progressive=True)
    source.write_bytes(source.read_bytes()[:-600])

    with pytest.raises(CorruptMedia):
        process_image(str(source))


def write_png_chunks(path: Path, width: int, height: int, bit_depth: int, colour: int) -> Path:
    """A PNG of all-zero rows written chunk by chunk (any size, a few KB on disk)."""
    import struct
    import zlib

    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    row = b"\x00" + bytes(width * channels * bit_depth // 8)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    pixels = zlib.compress(row * height, 1)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize(
    ("width", "height", "bit_depth", "colour"),
    [
        # A 155 KB file of 40,000,000x1 grew the processor by 797 MB: one row is a band.
        pytest.param(2_000_000, 1, 8, 6, id="png-one-row-of-8-MB"),
        # 16-bit RGB is decoded whole by Pillow: just over the whole-decode size.
        pytest.param(2_100, 2_100, 16, 2, id="png-16-bit-rgb"),
    ],
)
def test_a_picture_whose_decode_cannot_fit_the_budget_is_too_large(
    tmp_path: Path, width: int, height: int, bit_depth: int, colour: int
) -> None:
    path = write_png_chunks(tmp_path / "hostile.png", width, height, bit_depth, colour)

    with pytest.raises(ImageTooLarge) as refused:
        process_image(str(path))
    assert refused.value.reason == "too_large"


def test_a_very_wide_gif_is_too_large_though_under_its_pixel_cap(tmp_path: Path) -> None:
    path = tmp_path / "wide.gif"
    Image.new("P", (65_535, 120)).save(path, "GIF")  # 7.9 MP; a band is 60 full rows

    with pytest.raises(ImageTooLarge):
        process_image(str(path))
