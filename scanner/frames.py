"""Pictures a file carries besides the first: each one is analysed, verified derived from the primary
(an HDR gain map, or a smaller preview showing the same picture), or named as not analysed."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from . import media
from .errors import CorruptItem, ItemError
from .metadata import hidden

if TYPE_CHECKING:
    from PIL import Image

PREVIEW_MIN_CORRELATION = 0.9  # a preview is the primary scaled down: its grey signature nearly matches
PREVIEW_SIDE = 256  # both pictures are compared at about this size (JPEG draft: no full decode)
GAIN_MAP_MARKERS = (b"hdrgm:", b"hdrgainmap")  # Ultra HDR (XMP hdrgm namespace), Apple (aux type URN)


def frame_count(im: Image.Image) -> int | None:
    """How many frames or pages the image declares; None when counting them fails (Pillow walks a broken
    TIFF IFD chain or animation to count, and raises whatever its parser raises)."""
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception:  # third-party parser errors are mapped here, at the boundary
        return None


def _mp_entries(im: Image.Image) -> list[dict[str, Any]]:
    entries = im.mpinfo[0xB002]  # type: ignore[attr-defined]
    if not isinstance(entries, list) or len(entries) != frame_count(im):
        raise TypeError("MP index does not list every frame")
    return entries


def _mp_base(data: bytes) -> int:
    """Offset MP index data offsets count from: the MP header, after `MPF\\0` in the first APP2."""
    for marker, start, _stop in hidden.jpeg_segments(data):
        if marker == 0xE2 and data[start : start + 4] == b"MPF\x00":
            return start + 4
    raise ValueError("no MPF segment")


def _frame_bytes(data: bytes, entry: dict[str, Any]) -> bytes:
    start = int(entry["DataOffset"]) + _mp_base(data)
    frame = data[start : start + int(entry["Size"])]
    if not frame.startswith(b"\xff\xd8"):
        raise ValueError("MP index points at no JPEG image")
    return frame


def mpo_ranges(im: Image.Image, data: bytes) -> list[tuple[int, int]]:
    """(start, end) in the file of each MPO frame after the first; [] for other formats."""
    if im.format != "MPO":
        return []
    try:
        base = _mp_base(data)
        return [(base + int(e["DataOffset"]), base + int(e["DataOffset"]) + int(e["Size"]))
                for e in _mp_entries(im)[1:]]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise CorruptItem(f"MPO frame index unreadable: {exc}") from None


def _is_gain_map(frame: bytes, size: tuple[int, int], primary: tuple[int, int]) -> bool:
    metadata = b"".join(frame[start:stop] for marker, start, stop in hidden.jpeg_segments(frame) if marker == 0xE1)
    marked = any(m in metadata.lower() for m in GAIN_MAP_MARKERS)
    return marked and size[0] <= primary[0] and size[1] <= primary[1]


def _small(data: bytes, max_pixels: int) -> Image.Image:
    im = media.open_image(data, max_pixels)
    if im.format in ("JPEG", "MPO"):
        im.draft("L", (PREVIEW_SIDE, PREVIEW_SIDE))
    return media.shrunk(im.convert("L"), PREVIEW_SIDE)


def _is_preview(frame: bytes, size: tuple[int, int], primary: Image.Image, data: bytes, max_pixels: int) -> bool:
    if size[0] * size[1] >= primary.size[0] * primary.size[1]:
        return False
    differs, corr = hidden.pictures_differ(_small(frame, max_pixels), _small(data, max_pixels))
    return not differs and corr >= PREVIEW_MIN_CORRELATION


def _derived(im: Image.Image, data: bytes, entry: dict[str, Any], max_pixels: int) -> bool:
    """Whether an MPO frame is verified to be a gain map or a preview of the primary picture."""
    frame = _frame_bytes(data, entry)
    size = media.open_image(frame, max_pixels).size
    return _is_gain_map(frame, size, im.size) or _is_preview(frame, size, im, data, max_pixels)


def not_analysed(im: Image.Image, data: bytes, max_pixels: int) -> str | None:
    """Why pictures after the first are not covered by the analysis of the first one, or None.

    Detectors look at the first picture only. An MPO frame is let go only when verified derived;
    any other extra frame, page or top-level image is reported.
    """
    frames = frame_count(im)
    if frames is None:
        return "the number of frames or pages is unreadable: only the first was analysed"
    if frames <= 1:
        return None
    if im.format != "MPO":
        return f"{frames} frames or pages: only the first was analysed"
    try:
        entries = _mp_entries(im)
    except (AttributeError, KeyError, TypeError, IndexError):
        return f"{frames} frames, MP index unreadable: only the first was analysed"
    for number, entry in enumerate(entries[1:], start=2):
        kind = str(entry.get("Attribute", {}).get("MPType", "unknown type"))
        try:
            with warnings.catch_warnings():  # Pillow warns about a frame's own MPF segment
                warnings.simplefilter("ignore", UserWarning)
                derived = _derived(im, data, entry, max_pixels)
        except (ItemError, KeyError, TypeError, ValueError, OSError, SyntaxError):
            derived = False
        if not derived:
            return (f"MPO frame {number} of {frames} ({kind}) was not analysed: not verified to be a gain map "
                    "or a preview of the first picture")
    return None
