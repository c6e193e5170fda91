"""Files the evidence tests upload: pictures made here with Pillow, never fetched."""

import io
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw


def picture(seed: int = 7, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A picture with structure (shapes on a gradient), so its PDQ hash is meaningful."""
    rng = random.Random(seed)
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(size[1]):
        draw.line([(0, y), (size[0], y)], fill=(y * 255 // size[1], 80, 255 - y * 255 // size[1]))
    for _ in range(12):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        x1, y1 = x0 + rng.randrange(20, 160), y0 + rng.randrange(20, 160)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    return image


def encoded(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png(seed: int = 7) -> bytes:
    return encoded(picture(seed))


def video(suffix: str = ".mp4", seconds: int = 2) -> bytes:
    """A short test-pattern clip made by Debian's ffmpeg (.ci/run installs it)."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is not installed: .ci/run installs Debian's"
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"clip{suffix}"
        pattern = f"testsrc=size=320x240:rate=10:duration={seconds}"
        subprocess.run(
            [ffmpeg, "-v", "error", "-f", "lavfi", "-i", pattern, "-pix_fmt", "yuv420p", str(out)], check=True
        )
        return out.read_bytes()
