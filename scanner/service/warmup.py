"""Warm-up: every worker scans one generated picture at start, so its models load before the first request.

The picture is made here (nothing is read from outside the package): a few lines of printed text on a
light page, JPEG with EXIF, so the metadata reader, the text locator, OCR and the image model all run
once in each worker. Its report is never answered to anyone nor written to the audit trail.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

from ..execution import Pool
from ..model import FileReport

WARMUP_NAME = "warmup.jpg"
LINES = ("WARM UP PAGE", "Order 1042  Total 12.50", "Thank you")
SIZE = (640, 360)
FONT_PX = 34


def warmup_picture() -> bytes:
    """A small JPEG with printed text and an EXIF block."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", SIZE, (245, 245, 240))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(FONT_PX)
    for row, line in enumerate(LINES):
        draw.text((40, 50 + row * 2 * FONT_PX), line, fill=(20, 20, 20), font=font)
    exif = Image.Exif()
    exif[0x0131] = "leakscan warm-up"  # Software
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Warmup:
    """What the warm-up saw: seconds taken, workers warmed, and the error codes its reports carried."""

    seconds: float
    workers: int
    errors: tuple[str, ...]


def warm(pool: Pool, folder: str) -> Warmup:
    """One warm-up scan per worker (chunks of one file, so every worker of the pool gets one)."""
    t0 = time.perf_counter()
    path = Path(folder) / WARMUP_NAME
    path.write_bytes(warmup_picture())
    try:
        reports = list(pool.scan([str(path)] * pool.size, chunk=1))
    finally:
        path.unlink(missing_ok=True)
    return Warmup(time.perf_counter() - t0, len(reports), tuple(sorted(_error_codes(reports))))


def _error_codes(reports: list[FileReport]) -> set[str]:
    codes: set[str] = set()
    for report in reports:
        codes.update(e.code for e in report.errors)
        codes.update(_error_codes(list(report.parts)))
    return codes
