"""Sticky-note finder: small, bright, saturated, roughly rectangular colour patches with ink on them.

A note with ~10 px letters in a 1500 px photo is invisible to the 512 px text-presence gate, so
the detector looks for notes by colour instead (~10 ms on a 640 px copy) and reads each note's
crop enlarged. Three tests keep photos without notes cheap (measured on shared/corpus/dev: 7
candidate crops over 114 pictures without text):

1. colour: saturation > 60 and value > 150 (yellow, pink, green, orange, blue pads), closed over pen
   strokes; 0.08%-25% of the picture and at least 12 px on the short side at 640 px;
2. shape: the patch fills >= 80% of its minimum-area rectangle (faces and fruit are rounder:
   an ellipse fills 78.5%) and is at most 2.5:1;
3. ink: at full resolution, inside the inner 80% of the patch, 1-40% of the pixels are much darker
   than the paper and they form at least 3 stroke-sized blobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..media import shrunk
from ..model import Region

if TYPE_CHECKING:
    from PIL import Image

FIND_SIDE = 640
MIN_SAT, MIN_VAL = 60, 150
MIN_AREA, MAX_AREA = 0.0008, 0.25  # share of the picture
MIN_SIDE = 12  # px at FIND_SIDE
MIN_RECT_FILL = 0.8
MAX_ASPECT = 2.5
INK_SHARE = (0.01, 0.40)
INK_DARKER = 0.72  # ink: value below this share of the paper's median value
MIN_STROKES = 3
MAX_NOTES = 6


@dataclass(frozen=True, slots=True)
class Note:
    """One note (or touching notes of one colour) with writing, in the pixels of the analysed picture."""

    box: Region
    angle: float  # degrees to turn the crop (PIL, counter-clockwise) to stand it upright
    count: int  # notes it stands for (1 unless touching notes of one colour)
    strokes: int


def upright(rect: Any) -> float:
    """The turn (PIL degrees, counter-clockwise) that stands a min-area rectangle upright: its angle folded to
    [-45, 45] (OpenCV's angle runs clockwise in image coordinates; either of its conventions folds the same)."""
    angle = float(rect[2]) % 90.0
    return angle - 90.0 if angle > 45.0 else angle


def _colour_mask(rgb: Any) -> Any:
    import cv2
    import numpy as np

    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    mask = ((hsv[:, :, 1] > MIN_SAT) & (hsv[:, :, 2] > MIN_VAL)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))


def _patches(image: Image.Image, small: Image.Image | None = None) -> list[tuple[Region, float]]:
    """Colour patches of note shape, in the pixels of `image`, with the turn that stands each upright (`small`:
    `image` shrunk to FIND_SIDE, when the caller has it already)."""
    import cv2
    import numpy as np

    small = shrunk(image, FIND_SIDE) if small is None else small
    mask = _colour_mask(np.asarray(small.convert("RGB")))
    h, w = mask.shape
    sx, sy = image.size[0] / w, image.size[1] / h
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for contour in contours:
        area = float(cv2.contourArea(contour))
        x, y, bw, bh = cv2.boundingRect(contour)
        if not (MIN_AREA * h * w <= area <= MAX_AREA * h * w) or min(bw, bh) < MIN_SIDE:
            continue
        rect = cv2.minAreaRect(contour)
        rw, rh = rect[1]
        if rw * rh <= 0 or area / (rw * rh) < MIN_RECT_FILL or max(rw, rh) / min(rw, rh) > MAX_ASPECT:
            continue
        out.append((Region(int(x * sx), int(y * sy), max(1, round(bw * sx)), max(1, round(bh * sy))), upright(rect)))
    return out


def ink_score(image: Image.Image, box: Region) -> tuple[float, int]:
    """(share of dark pixels, stroke-sized dark blobs) inside the inner 80% of `box`."""
    import cv2
    import numpy as np

    mx, my = box.w // 10, box.h // 10
    crop = np.asarray(image.crop((box.x + mx, box.y + my, box.x + box.w - mx, box.y + box.h - my)).convert("RGB"))
    if crop.size == 0:
        return 0.0, 0
    hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV)
    paper = (hsv[:, :, 1] > MIN_SAT) & (hsv[:, :, 2] > MIN_VAL)
    if paper.mean() < 0.5:
        return 0.0, 0
    value = hsv[:, :, 2].astype(np.float32)
    dark = (value < INK_DARKER * float(np.median(value[paper]))).astype(np.uint8)
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    ch, cw = dark.shape
    strokes = sum(
        1
        for i in range(1, count)
        if stats[i, cv2.CC_STAT_AREA] >= 3
        and stats[i, cv2.CC_STAT_HEIGHT] < 0.5 * ch
        and stats[i, cv2.CC_STAT_WIDTH] < 0.6 * cw
    )
    return float(dark.mean()), strokes


def find_notes(image: Image.Image, small: Image.Image | None = None) -> list[Note]:
    """Probable notes with writing (boxes in the pixels of `image`), most ink first, at most MAX_NOTES.

    `small`: `shrunk(image, FIND_SIDE)` when the caller has it (the wall finder looks at the same copy)."""
    scored = []
    for box, angle in _patches(image, small):
        share, strokes = ink_score(image, box)
        if INK_SHARE[0] <= share <= INK_SHARE[1] and strokes >= MIN_STROKES:
            scored.append(Note(box, angle, 1, strokes))
    scored.sort(key=lambda n: -n.strokes)
    return scored[:MAX_NOTES]
