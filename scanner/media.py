"""Safe image decoding: header-only open, pixel caps, EXIF orientation, draft-mode downscaling.

Only this module (with sources and containers) turns bytes into pixels. Pillow's errors are
mapped to the scanner's ItemError tree here, at the boundary.
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

from .errors import CorruptItem, ItemTooLarge, UnsupportedItem
from .metadata import isobmff

if TYPE_CHECKING:
    from PIL import Image

_HEIF_REGISTERED = False
_ISOBMFF_FORMATS = ("HEIF", "AVIF")  # libheif paints missing grid tiles instead of failing: check extents first


def _register_plugins() -> None:
    """Teach Pillow HEIC/HEIF (pillow-heif); AVIF is built into Pillow >= 11.3."""
    global _HEIF_REGISTERED
    if _HEIF_REGISTERED:
        return
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - declared dependency; HEIC then reports `unsupported`
        pass
    _HEIF_REGISTERED = True


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Open without decoding pixels; checks the pixel cap before any decode happens."""
    from PIL import Image, UnidentifiedImageError

    _register_plugins()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ItemTooLarge(f"image dimensions over the decoder's safety cap ({exc})") from None
    except UnidentifiedImageError:
        if data[4:8] == b"ftyp":  # a cut HEIC/AVIF: say so rather than "not an image"
            isobmff.check(data)
        raise UnsupportedItem("not an image format this scanner can decode") from None
    except (OSError, ValueError, SyntaxError, EOFError, RuntimeError) as exc:
        raise CorruptItem(f"cannot parse image header: {exc}") from None
    if im.format in _ISOBMFF_FORMATS:
        isobmff.check(data)
    width, height = im.size
    if width <= 0 or height <= 0:
        raise CorruptItem(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        mp = width * height / 1e6
        raise ItemTooLarge(f"{width}x{height} = {mp:.1f} MP is over the {max_pixels / 1e6:.0f} MP cap")
    return im


PictureKey = tuple[int | None, bool]  # (longest side or None for full size, box filter for the last downscale)


def decode(data: bytes, max_pixels: int, max_side: int | None = None, fast_resize: bool = False) -> Image.Image:
    """Fully decode to an RGB image with EXIF orientation applied, optionally downscaled.

    For JPEG, `draft()` lets libjpeg decode at 1/2, 1/4 or 1/8 scale directly (a 12 MP photo
    decodes in ~20 ms instead of ~130 ms); orientation is applied after it. The rest of the way down to
    `max_side` is Lanczos, or with `fast_resize` a box filter (area average: ~3 ms instead of ~9 ms from
    the draft of a 12 MP photo; enough for model inputs and hashes, not for OCR).
    """
    key = (max_side, fast_resize)
    return decode_group(data, max_pixels, [key])[key]


def decode_group(data: bytes, max_pixels: int, keys: list[PictureKey]) -> dict[PictureKey, Image.Image]:
    """`decode` of keys[0] and of every other key that decodes from the same pixels, from one decode.

    A PNG, HEIC or WebP is decoded whole for any size, a JPEG at the draft scale its size asks for: the
    keys whose draft comes out the same share that decode (each picture is then what `decode` alone gives,
    pixel for pixel); the others are left out of the answer. A picture needing no downscale may be one object
    for several keys (callers must not modify them).
    """
    from PIL import Image

    try:
        im = _drafted(data, max_pixels, keys[0][0])
        same = [keys[0]] + [k for k in keys[1:] if k[0] == keys[0][0] or _same_draft(im, data, max_pixels, k[0])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im.load()
        turn = orientation(im)
        if turn is not None:
            im = im.transpose(turn)  # the opened picture is let go: at most two full-size pictures at once
        rgb = im.convert("RGB")  # a plain image (a copy even when already RGB): the file object is let go
    except Image.DecompressionBombError as exc:
        raise ItemTooLarge(str(exc)) from None
    except (OSError, ValueError, SyntaxError, EOFError, RuntimeError, MemoryError) as exc:
        raise CorruptItem(f"cannot decode image data: {exc}") from None
    del im  # the RGB copy is all that is needed now: a decode holds at most two full-size pictures at once
    out: dict[PictureKey, Image.Image] = {k: rgb for k in same if not (k[0] and max(rgb.size) > k[0])}
    smaller = [k for k in same if k not in out]
    for n, (max_side, fast_resize) in enumerate(smaller, 1):
        side = max_side or 0  # always set here: a key without a side needs no downscale
        picture = rgb if n == len(smaller) and not out else rgb.copy()  # the last one may take `rgb` itself
        picture.thumbnail((side, side), Image.Resampling.BOX if fast_resize else Image.Resampling.LANCZOS)
        out[(max_side, fast_resize)] = picture
    return out


def orientation(im: Image.Image) -> Image.Transpose | None:
    """The turn EXIF orientation asks for (None: upright, or an orientation that cannot be read).

    What ImageOps.exif_transpose does, without writing the EXIF block out again afterwards: on a damaged
    block that raised TypeError or AttributeError and lost the whole picture (the EXIF itself is the metadata
    detector's to report)."""
    from PIL import Image

    try:
        value = im.getexif().get(ORIENTATION_TAG)
    except Exception:  # an unreadable block: the picture as stored (the metadata detector reports the damage)
        return None
    turn = _TURNS.get(value) if isinstance(value, int) else None
    return Image.Transpose[turn] if turn else None


ORIENTATION_TAG = 0x0112
_TURNS = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
          7: "TRANSVERSE", 8: "ROTATE_90"}  # ImageOps.exif_transpose's table


def _drafted(data: bytes, max_pixels: int, max_side: int | None) -> Image.Image:
    """The image opened, a JPEG set to decode at the smallest draft scale that still gives `max_side`."""
    im = open_image(data, max_pixels)
    if max_side and im.format == "JPEG":
        w, h = im.size
        scale = max_side / max(w, h)
        if scale < 1:
            im.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
    return im


def _same_draft(im: Image.Image, data: bytes, max_pixels: int, max_side: int | None) -> bool:
    """Whether a picture of `max_side` decodes from the same pixels as `im` (opened by _drafted)."""
    if im.format != "JPEG":
        return True
    other = _drafted(data, max_pixels, max_side)
    return (other.size, other.mode) == (im.size, im.mode)


def shrunk(image: Image.Image, side: int, resample: Image.Resampling | None = None) -> Image.Image:
    """A copy scaled down (aspect kept, bicubic unless `resample`) to at most `side` px, or `image` itself
    when it is already that small: callers must not modify the result."""
    from PIL import Image

    if max(image.size) <= side:
        return image
    small = image.copy()
    small.thumbnail((side, side), Image.Resampling.BICUBIC if resample is None else resample)
    return small
