"""Pixel edits on an oriented image: solid fill over text, strong pixelation or blur over faces.

Text is covered with an opaque fill, never blurred or pixelated (both can be reversed for text);
scene findings (a receipt, a till screen, a whiteboard, a wall of notes: SCENE_RULES) are not painted over.
Faces (`faces.person`) are hidden by the style in the policy; consented faces (`faces.consented`)
are left alone. A worn ID card (`faces.badge`: its box is the card) is covered like text, name and photo.
Regions are in oriented-image pixels, as every detector reports them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model import Finding, Region
from .base import Change, FixOptions

if TYPE_CHECKING:
    from PIL import Image

TEXT_PREFIX = "text."
# the whole picture is the finding (a receipt, a till screen, a whiteboard full of text): their boxes span
# most of it, and a fill would hand back a black picture as "approved"; a person decides
SCENE_RULES = frozenset({"text.receipt", "text.pos_screen", "text.whiteboard", "text.sticky_notes"})
FACE_RULE = "faces.person"
BADGE_RULE = "faces.badge"
TEXT_MARGIN = 0.25  # of the box height, around a text box (OCR boxes hug the glyphs; descenders stick out)
TEXT_MARGIN_MIN_PX = 3
FACE_MARGIN = 0.15  # of the box side, around a face (hair, ears)
PIXEL_BLOCKS = 6  # a face pixelated to about 6 blocks across: not recognisable
BLUR_PASSES = 3
BLUR_RADIUS = 0.2  # of the box side, per pass


def _grow(region: Region, dx: int, dy: int, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The box grown by dx/dy on each side and clipped to the image; None when nothing is left."""
    left, top = max(0, region.x - dx), max(0, region.y - dy)
    right, bottom = min(size[0], region.x + region.w + dx), min(size[1], region.y + region.h + dy)
    return (left, top, right, bottom) if right > left and bottom > top else None


def _fill_colour(image: Image.Image) -> int | tuple[int, ...]:
    bands = len(image.getbands())
    if image.mode == "CMYK":
        return (0, 0, 0, 255)
    if image.mode in ("RGBA", "LA"):
        return (0,) * (bands - 1) + (255,)
    return 0 if bands == 1 else (0,) * bands


def fill(image: Image.Image, region: Region) -> tuple[int, int, int, int] | None:
    """Paint an opaque box over text (with a margin); the box painted."""
    from PIL import ImageDraw

    margin = max(TEXT_MARGIN_MIN_PX, int(region.h * TEXT_MARGIN))
    box = _grow(region, margin, margin, image.size)
    if box is not None:
        ImageDraw.Draw(image).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=_fill_colour(image))
    return box


def hide_face(image: Image.Image, region: Region, style: str) -> tuple[int, int, int, int] | None:
    """Pixelate (a few large blocks) or blur (several strong Gaussian passes) a face box with a margin."""
    from PIL import Image as PILImage
    from PIL import ImageFilter

    side = max(region.w, region.h)
    margin = int(side * FACE_MARGIN)
    box = _grow(region, margin, margin, image.size)
    if box is None:
        return None
    crop = image.crop(box)
    w, h = crop.size
    if style == "blur":
        for _ in range(BLUR_PASSES):
            crop = crop.filter(ImageFilter.GaussianBlur(max(2.0, side * BLUR_RADIUS)))
    else:
        block = max(1, side // PIXEL_BLOCKS)
        small = crop.resize((max(1, w // block), max(1, h // block)), PILImage.Resampling.BOX)
        crop = small.resize((w, h), PILImage.Resampling.NEAREST)
    image.paste(crop, box)
    return box


def redact(image: Image.Image, findings: Iterable[Finding], options: FixOptions, location: str) -> list[Change]:
    """Apply every pixel edit the findings call for; the changes made, in order."""
    changes: list[Change] = []
    for f in findings:
        if f.region is None:
            continue
        if (f.rule_id.startswith(TEXT_PREFIX) and f.rule_id not in SCENE_RULES) or f.rule_id == BADGE_RULE:
            box, action = fill(image, f.region), "fill"
        elif f.rule_id == FACE_RULE:
            box, action = hide_face(image, f.region, options.faces), options.faces
        else:
            continue
        if box is not None:
            painted = Region(box[0], box[1], box[2] - box[0], box[3] - box[1])
            changes.append(Change(action, f.rule_id, location, painted))
    return changes
