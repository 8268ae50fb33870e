"""Thumbnails for the HTML report, made at report time from the file if it is still there and unchanged.

The file is read only when its sha256 still matches the stored report (else the boxes would mark the wrong
place); decoded with the scanner's caps and EXIF orientation (the boxes are in the oriented image); what is
inside each evidence box pixelated (the report must not show the card number the scan masked) and the box
drawn; saved without any metadata; returned as a `data:` URI, so the report needs nothing beside itself.
"""

from __future__ import annotations

import base64
import hashlib
import io
import warnings
from typing import Any

from ..errors import ItemError
from ..media import decode, open_image
from ..sources import open_regular
from .stored import real_path

THUMB_SIDE = 360
JPEG_QUALITY = 70
BOX_COLOUR = (230, 30, 30)
PIXEL = 8  # thumbnail pixels per block inside an evidence box
_ORIENTATION_TAG = 0x0112
_SWAPPED = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the picture a quarter


def _read(name: str, sha256: str | None, max_bytes: int) -> bytes | None:
    if not sha256:
        return None
    try:
        with open(open_regular(real_path(name)), "rb") as fh:
            data = fh.read(max_bytes + 1)
    except (OSError, ValueError, ItemError):
        return None
    if len(data) > max_bytes or hashlib.sha256(data).hexdigest() != sha256:
        return None
    return data


def _oriented_size(data: bytes, max_pixels: int) -> tuple[int, int]:
    im = open_image(data, max_pixels)
    w, h = im.size
    return (h, w) if im.getexif().get(_ORIENTATION_TAG) in _SWAPPED else (w, h)


def thumbnail(name: str, body: dict[str, Any], boxes: list[dict[str, int]], max_bytes: int,
              max_pixels: int) -> str | None:
    """A JPEG data: URI of the file with `boxes` drawn, or None (gone, changed, not a picture, cannot decode)."""
    from PIL import Image, ImageDraw

    if not str(body.get("kind") or "").startswith("image/"):
        return None
    data = _read(name, body.get("sha256"), max_bytes)
    if data is None:
        return None
    try:
        full_w, _ = _oriented_size(data, max_pixels)
        image = decode(data, max_pixels, max_side=THUMB_SIDE)
        scale = image.size[0] / full_w
        rects = [_scaled(b, scale, image.size) for b in boxes]
        for rect in rects:
            _pixelate(image, rect)
        draw = ImageDraw.Draw(image)
        for rect in rects:
            draw.rectangle(rect, outline=BOX_COLOUR, width=max(2, THUMB_SIDE // 120))
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.save(buf, "JPEG", quality=JPEG_QUALITY)
    except (ItemError, OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _scaled(box: dict[str, int], scale: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    x0, y0 = int(box["x"] * scale), int(box["y"] * scale)
    x1, y1 = int((box["x"] + box["w"]) * scale + 1), int((box["y"] + box["h"]) * scale + 1)
    return max(0, x0), max(0, y0), min(size[0], max(x1, x0 + 1)), min(size[1], max(y1, y0 + 1))


def _pixelate(image: Any, rect: tuple[int, int, int, int]) -> None:
    from PIL import Image

    x0, y0, x1, y1 = rect
    if x1 <= x0 or y1 <= y0:
        return
    part = image.crop(rect)
    small = part.resize((max(1, (x1 - x0) // PIXEL), max(1, (y1 - y0) // PIXEL)), Image.Resampling.BOX)
    image.paste(small.resize(part.size, Image.Resampling.NEAREST), rect[:2])
