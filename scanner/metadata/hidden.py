"""Hidden content: bytes after the end of the image (aCropalypse class) and stale EXIF thumbnails."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import CorruptItem
from . import png

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_STANDALONE = {0xD8, 0x01} | set(range(0xD0, 0xD8))


@dataclass(frozen=True, slots=True)
class Trailer:
    offset: int
    size: int
    looks_like: str


def jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(marker, payload start, payload end) of each header segment of a JPEG, up to the first scan."""
    pos, n = 2, len(data)
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xDA, 0xD9):
            return
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        yield marker, pos + 4, min(n, pos + 2 + length)
        pos += 2 + length


def _jpeg_end(data: bytes) -> int | None:
    """Offset just past the EOI of the first JPEG image, walking segments and entropy-coded scans."""
    pos, n = 2, len(data)
    while pos + 2 <= n:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > n:
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
        if marker == 0xDA:  # start of scan: skip entropy-coded data up to the next real marker
            m = _NEXT_MARKER.search(data, pos)
            if m is None:
                return None
            pos = m.start()
    return None


def _webp_end(data: bytes) -> int | None:
    size = int.from_bytes(data[4:8], "little")
    return 8 + size + (size & 1)


def _classify(tail: bytes) -> str:
    if tail.startswith(b"\xff\xd8"):
        return "another JPEG image"
    if b"IDAT" in tail[:4096] or b"IEND" in tail:
        return "PNG image data"
    if b"\xff\xd9" in tail[-4:]:
        return "JPEG image data"
    return "unknown data"


_FINDERS = {"JPEG": _jpeg_end, "MPO": _jpeg_end, "PNG": png.end, "WEBP": _webp_end}


def image_end(data: bytes, fmt: str) -> int | None:
    """Offset just past the image's end marker; None when the format has none we check."""
    finder = _FINDERS.get(fmt)
    if finder is None:
        return None
    try:
        end = finder(data)
    except struct.error:
        end = None
    if end is None or end > len(data):
        raise CorruptItem(f"{fmt} data is truncated (no end-of-image marker)")
    return end


def trailing_data(data: bytes, fmt: str, declared_frames: bool = False) -> Trailer | None:
    """Bytes after the end of the image that viewers do not show; None when there are none.

    Raises CorruptItem when the image ends early. Zero padding is ignored. For MPO
    (declared_frames) a following JPEG is part of the format.
    """
    end = image_end(data, fmt)
    if end is None or end >= len(data):
        return None
    tail = data[end:]
    if not tail.strip(b"\x00"):
        return None
    kind = _classify(tail)
    if declared_frames and kind == "another JPEG image":
        return None
    return Trailer(end, len(tail), kind)


def _signature(im: Image.Image) -> tuple[float, np.ndarray]:
    """Aspect ratio and a normalised 16x16 grey thumbnail, after trimming uniform (padding) borders."""
    import numpy as np

    grey = np.asarray(im.convert("L"), dtype=np.float32)
    content = np.abs(grey - grey[0, 0]) > 16
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if rows.size and cols.size:
        box = grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        if box.size > 0.3 * grey.size:
            grey = box
    from PIL import Image

    small = np.asarray(Image.fromarray(grey).resize((16, 16), Image.Resampling.BILINEAR), dtype=np.float32)
    small = (small - small.mean()) / (small.std() or 1.0)
    return grey.shape[1] / grey.shape[0], small


THUMBNAIL_MAX_PIXELS = 1_000_000  # EXIF thumbnails are about 160x120; anything huge is not one


def thumbnail_differs(thumb_bytes: bytes, main: Image.Image) -> tuple[bool, float] | None:
    """(differs, correlation) between the EXIF thumbnail and the (unrotated, downscaled) main image.

    Raises ItemError when the thumbnail is not a small readable image (a decompression bomb hidden
    in IFD1 must not be decoded).
    """
    from .. import media

    thumb = media.open_image(thumb_bytes, THUMBNAIL_MAX_PIXELS)
    thumb.draft("L", (256, 256))
    try:
        thumb.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise CorruptItem(f"EXIF thumbnail unreadable: {exc}") from None
    a_aspect, a = _signature(thumb)
    b_aspect, b = _signature(main)
    corr = float((a * b).mean())
    aspect_off = abs(a_aspect - b_aspect) / max(a_aspect, b_aspect)
    return (aspect_off > 0.12 or corr < 0.5), corr
