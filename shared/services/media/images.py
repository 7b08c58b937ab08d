"""Image checks and derived files: pixel-flood refusal, metadata stripping, thumbnails.

Animated GIF and WebP keep only their first frame: every frame would cost a full
decode, so an animation could multiply the work of one upload without bound.

A JPEG that is already upright (the usual camera photo) is never decoded at full
size: its metadata segments are dropped losslessly (jpeg_segments) and the thumbnail
comes from a reduced-scale decode, so memory stays flat up to the pixel cap. Other
images, and JPEGs whose EXIF asks for a rotation, are decoded once and turned in place.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, JpegImagePlugin

from shared.services.media.errors import CorruptMedia, ImageTooLarge
from shared.services.media.jpeg_segments import strip_jpeg_metadata

DEFAULT_MAX_PIXELS = 40_000_000
THUMBNAIL_SIDE = 256
THUMBNAIL_CONTENT_TYPE = "image/webp"
THUMBNAIL_QUALITY = 80
WEBP_QUALITY = 90

# The only decoders Pillow may try; a JPEG with several pictures opens as "MPO".
_DECODERS = ("JPEG", "PNG", "GIF", "WEBP")
_FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
_PILLOW_SAVE_FORMAT = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}
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


@dataclass(frozen=True)
class ProcessedImage:
    """What processing found and made; width and height are as displayed (upright)."""

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
    path: str, *, max_pixels: int = DEFAULT_MAX_PIXELS, out_dir: str | None = None
) -> ProcessedImage:
    """Check the image, write a metadata-free upright copy and make its WebP thumbnail."""
    with _open_checked(path, max_pixels=max_pixels) as image:
        image_format = _FORMATS[str(image.format)]
        if image_format == "jpeg" and _is_upright(image):
            width, height = image.size
            # The reduced-scale decode also reads every scan, so corrupt data is refused.
            thumbnail = make_thumbnail(path, max_pixels=max_pixels)
            stripped_path = _copy_jpeg_losslessly(path, out_dir)
        else:
            upright = _decode_upright(image)
            width, height = upright.size
            stripped_path = _save_clean_copy(upright, image, image_format, out_dir)
            # After saving, the decoded picture itself may shrink into the thumbnail.
            thumbnail = _encode_thumbnail(upright)
    return ProcessedImage(
        width=width,
        height=height,
        format=image_format,
        stripped_path=stripped_path,
        thumbnail=thumbnail,
    )


def strip_metadata(
    path: str, *, max_pixels: int = DEFAULT_MAX_PIXELS, out_dir: str | None = None
) -> str:
    """Write an upright copy without EXIF, GPS, XMP or comments (ICC kept); return its path."""
    with _open_checked(path, max_pixels=max_pixels) as image:
        image_format = _FORMATS[str(image.format)]
        if image_format == "jpeg" and _is_upright(image):
            return _copy_jpeg_losslessly(path, out_dir)
        upright = _decode_upright(image)
        return _save_clean_copy(upright, image, image_format, out_dir)


def _is_upright(image: Image.Image) -> bool:
    """True when EXIF (or XMP) asks for no rotation or mirroring."""
    try:
        return image.getexif().get(_ORIENTATION, 1) in (1, None)
    except _DECODE_ERRORS:
        return False  # unreadable EXIF: the decoding path decides


def _copy_jpeg_losslessly(path: str, out_dir: str | None) -> str:
    fd, out_path = tempfile.mkstemp(suffix=_SUFFIX["jpeg"], dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as source:
            strip_jpeg_metadata(source, out)
    except BaseException:
        os.unlink(out_path)
        raise
    return out_path


def make_thumbnail(path: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """An upright WebP whose longest side is THUMBNAIL_SIDE (never enlarged)."""
    with _open_checked(path, max_pixels=max_pixels) as image:
        # JPEG decodes straight to 1/2, 1/4 or 1/8 scale; other formats ignore this.
        image.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        return _encode_thumbnail(_decode_upright(image))


@contextmanager
def _open_checked(path: str, *, max_pixels: int) -> Iterator[Image.Image]:
    """Open the image (header only) and refuse it before decoding if it is too large."""
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
            if width * height > max_pixels:
                raise ImageTooLarge(f"image is {width}x{height}, over {max_pixels} pixels")
            yield image


def _decode_upright(image: Image.Image) -> Image.Image:
    """Decode the first frame and turn it the way its EXIF orientation says (in place)."""
    try:
        image.load()
        # In place: without it Pillow copies the whole picture even with nothing to turn.
        ImageOps.exif_transpose(image, in_place=True)
        return image
    except _DECODE_ERRORS as exc:
        raise CorruptMedia("image data is truncated or malformed") from exc


def _save_clean_copy(
    upright: Image.Image, original: Image.Image, image_format: str, out_dir: str | None
) -> str:
    """Save ``upright`` in its own format with only colour-relevant metadata."""
    options = _save_options(original, image_format)
    # Some encoders (GIF) copy everything in .info into the file; keep nothing.
    upright.info = {}
    fd, out_path = tempfile.mkstemp(suffix=_SUFFIX[image_format], dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            upright.save(out, _PILLOW_SAVE_FORMAT[image_format], **options)
    except BaseException:
        os.unlink(out_path)
        raise
    return out_path


def _save_options(original: Image.Image, image_format: str) -> dict[str, Any]:
    """Encoder options that keep the picture's look: ICC, transparency, JPEG quality."""
    options: dict[str, Any] = {}
    if icc_profile := original.info.get("icc_profile"):
        options["icc_profile"] = icc_profile
    if image_format in ("png", "gif") and "transparency" in original.info:
        options["transparency"] = original.info["transparency"]
    if image_format == "jpeg" and isinstance(original, JpegImagePlugin.JpegImageFile):
        # Reusing the source's quantisation tables avoids a visible generation loss.
        options["qtables"] = original.quantization
        options["subsampling"] = JpegImagePlugin.get_sampling(original)
    elif image_format == "webp":
        options["quality"] = WEBP_QUALITY
    return options


def _encode_thumbnail(image: Image.Image) -> bytes:
    """Shrink ``image`` to the thumbnail box and encode it as WebP."""
    if image.mode not in ("RGB", "RGBA"):
        # Palette images would otherwise be resized with nearest-neighbour.
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()
