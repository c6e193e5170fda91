"""What an uploaded file is, judged from its bytes (never the client's word): its media type, a
thumbnail made here with Pillow (for video, from a frame ffmpeg extracts, where ffmpeg is
installed), and a PDQ perceptual hash (Meta's, via the `pdqhash` package) so the same picture in
two incidents is found even re-encoded or resized."""

import io
import logging
import os
import shutil
import subprocess
import threading
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
# ffmpeg parses untrusted files: it gets a time limit, a memory limit and one thread.
_FRAME_SECONDS = 20
_FRAME_MEMORY_BYTES = 1 << 30
# ffmpeg processes at once per API process (each may take _FRAME_MEMORY_BYTES): a burst of video
# uploads waits its turn rather than taking the host's memory.
_FRAMES_AT_ONCE = threading.BoundedSemaphore(2)

log = logging.getLogger(__name__)


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
    if media_type in VIDEO_TYPES:
        return Analysis(media_type, _frame_thumbnail(data), None)
    if media_type not in IMAGE_TYPES:
        return Analysis(media_type, None, None)
    image = _open_image(data)
    return Analysis(media_type, thumbnail(image), pdq(image))


def _frame_thumbnail(video: bytes) -> bytes | None:
    """A video is kept whatever its frame is like: a frame Pillow will not take is no thumbnail."""
    frame = video_frame(video)
    if frame is None:
        return None
    try:
        return thumbnail(_open_image(frame))
    except MediaRefused as refused:
        log.warning("no video thumbnail: %s", refused)
        return None


def ffmpeg() -> str | None:
    """The ffmpeg to take video frames with (VIGIL_FFMPEG, else the one on PATH), or None."""
    return os.environ.get("VIGIL_FFMPEG", "").strip() or shutil.which("ffmpeg")


def _confined(command: list[str]) -> list[str]:
    """The command under util-linux's prlimit where it is installed: a preexec_fn setting limits
    is not safe in a process with threads (the API runs this in its thread pool)."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        return command
    return [prlimit, f"--as={_FRAME_MEMORY_BYTES}", f"--cpu={_FRAME_SECONDS}", "--", *command]


def video_frame(data: bytes) -> bytes | None:
    """A representative early frame of a video, as PNG, or None (no ffmpeg, or it could not read
    the file: the item is kept without a thumbnail). The video reaches ffmpeg through an anonymous
    in-memory file, never a file on disk, since evidence is stored only sealed."""
    program = ffmpeg()
    if program is None:
        return None
    with _FRAMES_AT_ONCE:
        return _frame(program, data)


def _frame(program: str, data: bytes) -> bytes | None:
    try:
        memory = os.memfd_create("vigil-evidence")
    except OSError as error:  # out of descriptors, or no memfd here: the item is kept without a thumbnail
        log.warning("no video frame: %s", error)
        return None
    try:
        with open(memory, "wb", closefd=False) as video:  # all of it: one os.write may write less
            video.write(data)
        command = [
            program, "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1",
            "-i", f"/dev/fd/{memory}",
            "-map", "0:v:0", "-vf", "thumbnail=30", "-frames:v", "1", "-an",
            "-f", "image2pipe", "-vcodec", "png", "-",
        ]  # fmt: skip
        done = subprocess.run(_confined(command), pass_fds=(memory,), capture_output=True, timeout=_FRAME_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("no video frame: ffmpeg did not finish (%s)", error)
        return None
    finally:
        os.close(memory)
    if done.returncode != 0 or not done.stdout:
        log.warning("no video frame: ffmpeg said %s", done.stderr.decode(errors="replace")[-300:].strip())
        return None
    return done.stdout


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
