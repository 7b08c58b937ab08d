"""Image checks and derived files: pixel-flood refusal, metadata stripping, thumbnails.

Memory stays flat up to the pixel cap where the format allows it; where it cannot (GIF,
WebP), the format has its own, lower pixel cap (PIXEL_CAPS, derived from the memory budget):

- the served copy is never re-encoded: metadata is dropped by copying the file's own
  segments or chunks (jpeg_segments, png_chunks, webp_chunks, gif_blocks). A JPEG or PNG
  whose EXIF asks for a rotation keeps a minimal EXIF holding only that Orientation tag,
  so viewers still show it upright and nothing is decoded to turn it;
- the thumbnail of a JPEG comes from a reduced-scale (1/2, 1/4, 1/8) decode; a large
  PNG is read band by band (png_chunks); GIF and WebP (Pillow has no partial decode for
  them) are decoded whole, then converted and reduced band by band. The small picture
  is turned as its orientation says.

Animated GIF, PNG and WebP keep only their first frame (the still default image of an
APNG): every frame would cost a decode, so an animation could multiply the work of one
upload without bound. An animated WebP's first frame cannot be cut out losslessly, and
browsers ignore a WebP's EXIF orientation, so those WebPs alone are decoded, turned and
saved again.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from PIL import Image, ImageOps

from shared.services.media.errors import CorruptMedia, ImageTooLarge
from shared.services.media.gif_blocks import strip_gif_metadata
from shared.services.media.jpeg_segments import ORIENTATIONS, strip_jpeg_metadata
from shared.services.media.png_chunks import PngHeader, png_bands, read_header, strip_png_metadata
from shared.services.media.webp_chunks import strip_webp_metadata

DEFAULT_MAX_PIXELS = 40_000_000
# What processing one image may add to the process's peak memory: DESIGN.md's 128 MiB
# end to end, less the ~90 MiB the processor already holds before the call
# (bench/bench_processor.py, "before") and 2 MiB of headroom.
MEMORY_BUDGET_BYTES = 36 * 1024 * 1024
# Peak memory growth per pixel where it grows with the picture, measured by us on
# 2026-11-30 (Pillow 13, VmHWM growth over the call in a fresh interpreter), rounded up:
# bench/bench_processor.py --no-clamd gave GIF 40.3 MiB at 32.2 MP (1.31 a pixel), a
# lossy WebP photo 38.3 MiB at 2 MP (20.1; 633.7 MiB at 40 MP) and one with EXIF
# orientation 6 33.3 MiB at 0.9 MP (38.8); process_image alone on random noise, whose
# files are largest, gave a lossless WebP 19.95 and a turned one 42.1 bytes a pixel.
# Pillow decodes a GIF frame whole (a byte a pixel) and every WebP through libwebp's
# animation decoder (RGBA canvas and frame, the file held too); a WebP that is turned or
# animated is also turned and encoded again. JPEG (reduced-scale decode) and PNG (bands)
# stay flat: only DEFAULT_MAX_PIXELS bounds them. libvips (pyvips 3.2.0) was measured
# too and not taken: its scaled WebP decode still holds the file, and a lossless WebP's
# whole ARGB plane, and its GIF decode costs more than Pillow's (bench/README.md).
BYTES_PER_PIXEL: dict[str, float] = {"gif": 1.35, "webp": 21.0, "webp-decoded": 45.0}


def _pixel_cap(bytes_per_pixel: float) -> int:
    """The pixels that fit the memory budget, rounded down to a hundred thousand."""
    return min(DEFAULT_MAX_PIXELS, int(MEMORY_BUDGET_BYTES / bytes_per_pixel) // 100_000 * 100_000)


# Pixel cap per format; "webp-decoded" is a rotated or animated WebP (decoded, turned and
# saved again). An image over its cap is refused as too large, before any decoding:
# jpeg 40 MP, png 40 MP, gif 27.9 MP, webp 1.7 MP, webp-decoded 0.8 MP.
PIXEL_CAPS: dict[str, int] = {
    "jpeg": DEFAULT_MAX_PIXELS,
    "png": DEFAULT_MAX_PIXELS,
    **{kind: _pixel_cap(cost) for kind, cost in BYTES_PER_PIXEL.items()},
}
THUMBNAIL_SIDE = 256
THUMBNAIL_CONTENT_TYPE = "image/webp"
THUMBNAIL_QUALITY = 80
WEBP_QUALITY = 90

# The only decoders Pillow may try; a JPEG with several pictures opens as "MPO".
_DECODERS = ("JPEG", "PNG", "GIF", "WEBP")
_FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
_SUFFIX = {"jpeg": ".jpg", "png": ".png", "gif": ".gif", "webp": ".webp"}
CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
}
# Decoders raise these on truncated or malformed data (OSError covers "image file is
# truncated"); the input is a local spool file, so an OSError here is about its bytes.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)
_ORIENTATION = 0x0112
# Up to this decoded size a PNG is decoded whole (simpler, and as fast); above it, in bands.
FULL_DECODE_BYTES = 16 * 1024 * 1024
# Raw bytes of one band of rows, decoded and converted at a time.
BAND_BYTES = 2 * 1024 * 1024
# The thinnest band a thumbnail can be made from is a whole reduction factor of full-width
# rows, and about five copies of it are alive at once (raw rows, Pillow's decode, the
# conversion, the reduction; measured: a 40,000,000x1 RGBA PNG grew the process by 797 MB,
# five times its 160 MB row). A picture whose thinnest band would not fit five times in the
# budget is refused as too large, however few pixels it has.
MAX_BAND_BYTES = MEMORY_BUDGET_BYTES // 5
_REDUCING_GAP = 2.0
# What ImageOps.exif_transpose does for each EXIF orientation.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class ProcessedImage:
    """What processing found and made; width and height are as displayed (upright).

    A JPEG or PNG copy keeps the stored pixel layout, and its EXIF Orientation says how
    to turn it; a WebP that needed turning is turned.
    """

    width: int
    height: int
    format: str
    stripped_path: str
    thumbnail: bytes

    @property
    def content_type(self) -> str:
        """The MIME type of the original and of the stripped copy."""
        return CONTENT_TYPES[self.format]


def process_image(
    path: str,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    caps: Mapping[str, int] = PIXEL_CAPS,
    out_dir: str | None = None,
) -> ProcessedImage:
    """Check the image, write a copy without private metadata and make its WebP thumbnail."""
    with _open_checked(path, max_pixels=max_pixels, caps=caps) as image:
        image_format = _FORMATS[str(image.format)]
        orientation = _orientation(image, image_format)
        if _needs_decoding(image, image_format, orientation):
            _refuse_over(image.size, caps["webp-decoded"])
            return _process_by_decoding(image, out_dir)
        width, height = _displayed_size(image.size, orientation)
        # Reading every pixel first refuses a corrupt picture before anything is written.
        thumbnail = _thumbnail(image, path, image_format, orientation)
    stripped_path = _copy_losslessly(path, image_format, orientation, out_dir)
    return ProcessedImage(
        width=width,
        height=height,
        format=image_format,
        stripped_path=stripped_path,
        thumbnail=thumbnail,
    )


def strip_metadata(
    path: str,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    caps: Mapping[str, int] = PIXEL_CAPS,
    out_dir: str | None = None,
) -> str:
    """Write a copy without EXIF (but orientation), GPS, XMP or text; return its path."""
    with _open_checked(path, max_pixels=max_pixels, caps=caps) as image:
        image_format = _FORMATS[str(image.format)]
        orientation = _orientation(image, image_format)
        if _needs_decoding(image, image_format, orientation):
            _refuse_over(image.size, caps["webp-decoded"])
            return _process_by_decoding(image, out_dir).stripped_path
    return _copy_losslessly(path, image_format, orientation, out_dir)


def make_thumbnail(
    path: str, *, max_pixels: int = DEFAULT_MAX_PIXELS, caps: Mapping[str, int] = PIXEL_CAPS
) -> bytes:
    """An upright WebP whose longest side is THUMBNAIL_SIDE (never enlarged)."""
    with _open_checked(path, max_pixels=max_pixels, caps=caps) as image:
        image_format = _FORMATS[str(image.format)]
        return _thumbnail(image, path, image_format, _orientation(image, image_format))


def _needs_decoding(image: Image.Image, image_format: str, orientation: int) -> bool:
    """An animated WebP, or one to turn: browsers ignore a WebP's EXIF orientation."""
    animated = bool(getattr(image, "is_animated", False))
    return image_format == "webp" and (animated or orientation != 1)


def _orientation(image: Image.Image, image_format: str) -> int:
    """The EXIF (or XMP) orientation, 1 when absent or unknown; GIFs are never turned."""
    if image_format == "gif":
        return 1  # no viewer turns a GIF, and the copy keeps no XMP that could ask to
    try:
        # The base method: PNG's own loads the whole picture to look for a late eXIf.
        value = Image.Image.getexif(image).get(_ORIENTATION, 1)
    except _DECODE_ERRORS as exc:
        raise CorruptMedia("image has unreadable EXIF") from exc
    return value if isinstance(value, int) and value in ORIENTATIONS else 1


def _displayed_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """Width and height as shown: orientations 5-8 swap them."""
    width, height = size
    return (height, width) if orientation >= 5 else (width, height)


def _copy_losslessly(path: str, image_format: str, orientation: int, out_dir: str | None) -> str:
    """Copy the file without its metadata, byte for byte otherwise; return the copy's path."""
    strip = _LOSSLESS[image_format]
    fd, out_path = tempfile.mkstemp(suffix=_SUFFIX[image_format], dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as source:
            strip(source, out, orientation=orientation)
    except BaseException:
        os.unlink(out_path)
        raise
    return out_path


def _without_orientation(
    strip: Callable[[BinaryIO, BinaryIO], None],
) -> Callable[..., None]:
    """A stripper for a format whose copies are never turned by EXIF (GIF, still WebP)."""

    def stripped(source: BinaryIO, target: BinaryIO, *, orientation: int) -> None:
        strip(source, target)

    return stripped


_LOSSLESS: dict[str, Callable[..., None]] = {
    "jpeg": strip_jpeg_metadata,
    "png": strip_png_metadata,
    "webp": _without_orientation(strip_webp_metadata),
    "gif": _without_orientation(strip_gif_metadata),
}


def _process_by_decoding(image: Image.Image, out_dir: str | None) -> ProcessedImage:
    """A WebP decoded: its (first) frame, turned and saved again (lossy, quality 90)."""
    upright = _decode_upright(image)
    width, height = upright.size
    stripped_path = _save_clean_copy(upright, image, out_dir)
    thumbnail = _encode_thumbnail(upright)
    return ProcessedImage(
        width=width, height=height, format="webp", stripped_path=stripped_path, thumbnail=thumbnail
    )


# --- thumbnails ------------------------------------------------------------------------


def _thumbnail(image: Image.Image, path: str, image_format: str, orientation: int) -> bytes:
    """The WebP thumbnail, decoding no more of the picture at once than it must."""
    if image_format == "jpeg":
        # JPEG decodes straight to 1/2, 1/4 or 1/8 scale, then the small picture is turned.
        image.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        return _encode_thumbnail(_decode_upright(image))
    target = thumbnail_size(image.size)
    _require_bounded_bands(image.size, target)
    if image_format == "png" and _decoded_bytes(image) > FULL_DECODE_BYTES:
        with open(path, "rb") as source:
            header = read_header(source)
        if header.interlaced or header.bands_supported:
            small = _shrink_png_in_bands(path, header, target)
            return _encode_small(_turned(small, orientation))
        # 16-bit RGB(A): Pillow decodes those only whole, which must then fit as any PNG does.
        raise ImageTooLarge(
            f"16-bit colour PNG of {image.width}x{image.height} is too large to decode"
        )
    # GIF, WebP, small PNGs and 16-bit RGB(A) PNGs: decoded whole, converted band by band.
    _load(image)
    return _encode_small(_turned(_shrink(_crops(image, target), image.size, target), orientation))


def _require_bounded_bands(size: tuple[int, int], target: tuple[int, int]) -> None:
    """Refuse (ImageTooLarge) a picture whose thinnest band would not fit the budget.

    A very wide, short picture passes any pixel cap, yet one band of it is whole rows.
    """
    width = size[0]
    rows = _factors(size, target)[1]
    if rows * width * 4 > MAX_BAND_BYTES:
        raise ImageTooLarge(f"image of {size[0]}x{size[1]} is too wide to thumbnail")


def _decoded_bytes(image: Image.Image) -> int:
    """What Pillow's decode of the whole picture would hold (RGB takes 4 bytes a pixel)."""
    width, height = image.size
    per_pixel = 1 if image.mode in ("1", "L", "P") else 2 if image.mode.startswith("I;16") else 4
    return width * height * per_pixel


def _shrink_png_in_bands(path: str, header: PngHeader, target: tuple[int, int]) -> Image.Image:
    with open(path, "rb") as source:
        bands = png_bands(
            source,
            band_bytes=BAND_BYTES,
            rows_multiple=_factors((header.width, header.height), target)[1],
        )
        if header.interlaced:  # one band: the first Adam7 pass, at 1/8 scale
            first_pass = next(bands)
            return _shrink([first_pass], first_pass.size, target)
        return _shrink(bands, (header.width, header.height), target)


def _crops(image: Image.Image, target: tuple[int, int]) -> Iterator[Image.Image]:
    """A decoded picture as full-width bands, each converted on its own (bounded memory)."""
    width, height = image.size
    step = _factors(image.size, target)[1]
    rows = max(step, BAND_BYTES // (4 * width) // step * step)
    for top in range(0, height, rows):
        yield image.crop((0, top, width, min(height, top + rows)))


def _shrink(
    bands: Iterable[Image.Image], size: tuple[int, int], target: tuple[int, int]
) -> Image.Image:
    """Reduce each band by whole factors (box average), stack them, then resample to target.

    The same two steps as Pillow's ``thumbnail`` (reducing_gap 2), band by band.
    """
    factor_x, factor_y = _factors(size, target)
    canvas: Image.Image | None = None
    top = 0
    for band in bands:
        small = _thumbnail_mode(band, canvas.mode if canvas else None)
        if factor_x > 1 or factor_y > 1:
            small = small.reduce((factor_x, factor_y))
        if canvas is None:
            width, height = size
            reduced = (-(-width // factor_x), -(-height // factor_y))
            canvas = Image.new(small.mode, reduced)
        canvas.paste(small, (0, top))
        top += small.height
    if canvas is None:
        raise CorruptMedia("image has no rows")
    if canvas.size == target:
        return canvas
    return canvas.resize(target, Image.Resampling.LANCZOS)


def thumbnail_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size Pillow's ``thumbnail`` gives ``size`` in the THUMBNAIL_SIDE box."""
    width, height = size
    if width <= THUMBNAIL_SIDE and height <= THUMBNAIL_SIDE:
        return size
    aspect = width / height
    side = THUMBNAIL_SIDE
    if aspect >= 1:
        return side, _round_aspect(side / aspect, lambda n: 0 if n == 0 else abs(aspect - side / n))
    return _round_aspect(side * aspect, lambda n: abs(aspect - n / side)), side


def _round_aspect(number: float, key: Callable[[int], float]) -> int:
    return max(min(math.floor(number), math.ceil(number), key=key), 1)


def _factors(size: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    """Whole reduction factors leaving at least twice the target (Pillow's reducing_gap)."""
    return (
        max(1, int(size[0] / target[0] / _REDUCING_GAP)),
        max(1, int(size[1] / target[1] / _REDUCING_GAP)),
    )


def _thumbnail_mode(band: Image.Image, mode: str | None) -> Image.Image:
    """RGB, or RGBA when the picture has transparency (``mode``: that of earlier bands)."""
    wanted = mode or (
        band.mode
        if band.mode in ("RGB", "RGBA")
        else "RGBA"
        if band.has_transparency_data
        else "RGB"
    )
    return band if band.mode == wanted else band.convert(wanted)


def _turned(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


def _encode_small(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()


def _load(image: Image.Image) -> None:
    try:
        image.load()
    except _DECODE_ERRORS as exc:
        raise CorruptMedia("image data is truncated or malformed") from exc


@contextmanager
def _open_checked(path: str, *, max_pixels: int, caps: Mapping[str, int]) -> Iterator[Image.Image]:
    """Open the image (header only) and refuse it before decoding if it is too large.

    Too large: over ``max_pixels``, or over its format's cap in ``caps``.
    """
    with open(path, "rb") as file:  # a missing spool file is a bug, not a corrupt upload
        try:
            # Pillow's bomb check runs inside open(): past Image.MAX_IMAGE_PIXELS it warns,
            # past twice that it raises. Both are refusals here, so the effective cap is
            # min(max_pixels, MAX_IMAGE_PIXELS). catch_warnings is process-wide, so a thread
            # race may misplace the filter; the size check below still refuses the image.
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(file, formats=_DECODERS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLarge("image has too many pixels") from exc
        except _DECODE_ERRORS as exc:
            raise CorruptMedia("not a readable image") from exc
        with image:
            width, height = image.size
            if width <= 0 or height <= 0:
                raise CorruptMedia("image has no pixels")
            _refuse_over(image.size, min(max_pixels, caps[_FORMATS[str(image.format)]]))
            yield image


def _refuse_over(size: tuple[int, int], cap: int) -> None:
    width, height = size
    if width * height > cap:
        raise ImageTooLarge(f"image is {width}x{height}, over {cap} pixels")


def _decode_upright(image: Image.Image) -> Image.Image:
    """Decode the first frame and turn it the way its EXIF orientation says (in place)."""
    try:
        image.load()
        # In place: without it Pillow copies the whole picture even with nothing to turn.
        ImageOps.exif_transpose(image, in_place=True)
        return image
    except _DECODE_ERRORS as exc:
        raise CorruptMedia("image data is truncated or malformed") from exc


def _save_clean_copy(upright: Image.Image, original: Image.Image, out_dir: str | None) -> str:
    """Save ``upright`` as WebP with only its colour profile."""
    options: dict[str, Any] = {"quality": WEBP_QUALITY}
    if icc_profile := original.info.get("icc_profile"):
        options["icc_profile"] = icc_profile
    upright.info = {}  # nothing else from the source goes into the copy
    fd, out_path = tempfile.mkstemp(suffix=_SUFFIX["webp"], dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            upright.save(out, "WEBP", **options)
    except BaseException:
        os.unlink(out_path)
        raise
    return out_path


def _encode_thumbnail(image: Image.Image) -> bytes:
    """Shrink ``image`` to the thumbnail box and encode it as WebP."""
    if image.mode not in ("RGB", "RGBA"):
        # Palette images would otherwise be resized with nearest-neighbour.
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()
