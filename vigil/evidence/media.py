"""What an uploaded file is, judged from its bytes (never the client's word): its media type, a
thumbnail made here with Pillow, and a PDQ perceptual hash (Meta's, via the `pdqhash` package) so
the same picture in two incidents is found even re-encoded or resized."""

import io
import warnings
from dataclasses import dataclass

import filetype  # type: ignore[import-untyped]
import numpy as np
import pdqhash  # type: ignore[import-untyped]
from PIL import Image, ImageOps, UnidentifiedImageError

# What the vault keeps. Others are refused (422): an executable or archive is not evidence a
# person should open in a browser.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
VIDEO_TYPES = frozenset({"video/mp4", "video/webm", "video/quicktime", "video/x-matroska"})
AUDIO_TYPES = frozenset({"audio/mpeg", "audio/ogg", "audio/x-wav", "audio/mp4"})
DOCUMENT_TYPES = frozenset({"application/pdf", "text/plain"})
ACCEPTED = IMAGE_TYPES | VIDEO_TYPES | AUDIO_TYPES | DOCUMENT_TYPES

THUMBNAIL_SIZE = (320, 320)
# PDQ's own guidance: hashes within this Hamming distance (of 256 bits) are the same picture.
PDQ_MATCH_DISTANCE = 31
_MAX_PIXELS = 60_000_000  # past this an image is refused rather than decoded (decompression bombs)


class MediaRefused(ValueError):
    """A file the vault does not take, and why (the API answers 422)."""


@dataclass(frozen=True)
class Analysis:
    media_type: str
    thumbnail: bytes | None  # JPEG
    perceptual_hash: str | None  # PDQ, 64 hex digits


def sniff(data: bytes) -> str:
    """The media type from the file's own bytes, or MediaRefused."""
    kind = filetype.guess(data)
    if kind is not None:
        mime = str(kind.mime)
        if mime not in ACCEPTED:
            raise MediaRefused(f"files of type {mime} are not accepted as evidence")
        return mime
    if _is_text(data):
        return "text/plain"
    raise MediaRefused(
        "the file's type could not be recognised from its contents; accepted: images, video, audio, PDF, text"
    )


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def analyse(data: bytes) -> Analysis:
    media_type = sniff(data)
    if media_type not in IMAGE_TYPES:
        return Analysis(media_type, None, None)
    image = _open_image(data)
    return Analysis(media_type, thumbnail(image), pdq(image))


def _open_image(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > _MAX_PIXELS:
                raise MediaRefused(f"image of {image.width}x{image.height} pixels is too large to process")
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, MediaRefused):
            raise
        raise MediaRefused(f"the image cannot be read ({error})") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise MediaRefused("the image is too large to process") from None
    return ImageOps.exif_transpose(image)


def thumbnail(image: Image.Image) -> bytes:
    small = image.convert("RGB")
    small.thumbnail(THUMBNAIL_SIZE)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=70)
    return out.getvalue()


def pdq(image: Image.Image) -> str:
    bits, _quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:064x}"


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()
