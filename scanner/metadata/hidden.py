"""Hidden content: bytes after the end of the image (aCropalypse class), stale EXIF thumbnails, previews."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import CorruptItem
from . import extent, isobmff, photoshop, png

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


_JFXX = b"JFXX\x00\x10"  # JFIF extension APP0 holding a JPEG thumbnail
_PS_THUMBNAILS = (0x0409, 0x040C)  # Photoshop 4 and 5+ thumbnail resources: a 28-byte header, then a JPEG


def other_thumbnails(data: bytes) -> list[tuple[str, bytes]]:
    """(where, JPEG) of the thumbnails a JPEG carries outside EXIF IFD1: a JFXX APP0 extension, Photoshop's
    thumbnail resource in APP13 (readers show both; ExifTool extracts them)."""
    if not data.startswith(b"\xff\xd8"):
        return []
    out = []
    for marker, start, end in jpeg_segments(data):
        body = data[start:end]
        if marker == 0xE0 and body.startswith(_JFXX):
            out.append(("JFXX thumbnail", body[len(_JFXX) :]))
        elif marker == 0xED:
            out.extend(("Photoshop thumbnail", body[rs + 28 : re_]) for rid, rs, re_ in photoshop.resources(body)
                       if rid in _PS_THUMBNAILS and re_ - rs > 28)
    return out


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


_FINDERS = {"JPEG": _jpeg_end, "MPO": _jpeg_end, "PNG": png.end, "WEBP": _webp_end, "GIF": extent.gif_end,
            "TIFF": extent.tiff_end, "HEIF": isobmff.end, "AVIF": isobmff.end}


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


def trailing_data(data: bytes, fmt: str, frames: Sequence[tuple[int, int]] = ()) -> Trailer | None:
    """Bytes after the end of the image that viewers do not show; None when there are none.

    Raises CorruptItem when the image ends early. Zero padding is ignored. `frames`: (start, end)
    of further images the format declares (MPO frames); padding between them is allowed, data is not.
    """
    end = image_end(data, fmt)
    if end is None:
        return None
    for start, stop in sorted(frames):
        if start >= end:
            gap = data[end:start]
            if gap.strip(b"\x00\xff"):
                return Trailer(end, len(gap), _classify(gap))
        end = max(end, stop)
    if end > len(data):
        raise CorruptItem(f"{fmt} data is truncated (a declared frame runs past the end)")
    tail = data[end:]
    if not tail.strip(b"\x00"):
        return None
    return Trailer(end, len(tail), _classify(tail))


def _segment_name(marker: int) -> str:
    if marker == 0xFE:
        return "JPEG COM segment"
    if 0xE0 <= marker <= 0xEF:
        return f"JPEG APP{marker - 0xE0} segment"
    return f"JPEG 0x{marker:02X} segment"


def region(data: bytes, fmt: str, offset: int) -> str:
    """Where in the file `offset` lies, in the format's own terms (segment, chunk, after the end)."""
    if fmt in ("JPEG", "MPO"):
        for marker, start, stop in jpeg_segments(data):
            if start <= offset < stop:
                return _segment_name(marker)
    elif fmt == "PNG":
        for kind, start, stop in png.chunks(data):
            if start <= offset < stop:
                return f"PNG {kind.decode('latin-1')} chunk"
    try:
        end = image_end(data, fmt)
    except (CorruptItem, ValueError):
        end = None
    if end is not None and offset >= end:
        return "after the end of the image"
    return f"inside the {fmt} structure"


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
    return pictures_differ(thumb, main)


SAME_PICTURE_MIN_CORRELATION = 0.5  # of the 16x16 grey signatures; below it the pictures differ
SAME_PICTURE_MAX_ASPECT_OFF = 0.12  # relative aspect-ratio difference a preview may have (crops, padding)


def pictures_differ(a_im: Image.Image, b_im: Image.Image) -> tuple[bool, float]:
    """(differs, correlation) of two pictures' small grey signatures (sizes and borders aside)."""
    a_aspect, a = _signature(a_im)
    b_aspect, b = _signature(b_im)
    corr = float((a * b).mean())
    aspect_off = abs(a_aspect - b_aspect) / max(a_aspect, b_aspect)
    return (aspect_off > SAME_PICTURE_MAX_ASPECT_OFF or corr < SAME_PICTURE_MIN_CORRELATION), corr
