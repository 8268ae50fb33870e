"""Walls of sticky notes: note-coloured squares with writing, counted even when the writing cannot be read.

`notes.py` finds single notes to read; this module counts them. On a 640 px copy the saturated,
bright pixels are split by hue (pink/red, orange, yellow, green, blue), so touching notes of
different colours come apart; within one colour a patch is

1. one note: it fills >= 80% of its minimum-area rectangle and is at most 2:1, or
2. touching notes of one colour: it fills >= 45% of its rectangle and its outline runs along the
   rectangle's axes (>= 75% of its length; a flower, a face or fruit has no such edges); it counts
   as its area over the area of one note (the median single note, else its short side squared).

A note counts only with writing on it: at 1280 px, inside the patch (edge trimmed), 0.5-40% of the
pixels are much darker than the paper and form at least 3 stroke-sized blobs. A wall is
MIN_WALL notes or more. Each note's angle comes with it, so its crop can be read upright.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..media import shrunk
from ..model import Region, Severity
from .notes import FIND_SIDE, Note, upright
from .page import Hit, union

if TYPE_CHECKING:
    from PIL import Image

    from ..engines.ocr import Word

INK_SIDE = 1280  # FIND_SIDE (640) is the note finder's: both look at one shrunk copy
MIN_SAT, MIN_VAL = 110, 90  # pixels that may be note paper (a warm wall or beige board is less saturated)
PAPER_SAT, PAPER_VAL = 160, 140  # a note's median paper: neon pads (printed boards, sky, circuit boards are duller)
HUE_BINS = ((5, 22), (22, 40), (40, 85), (85, 130))  # orange, yellow, green, blue (OpenCV hue 0-180)
PINK = (130, 5)  # pink, magenta and red wrap around 0
MIN_AREA, MAX_AREA = 0.0015, 0.35  # share of the picture
MIN_SIDE, CLUSTER_SIDE = 20, 40  # px at FIND_SIDE
NOTE_FILL, NOTE_ASPECT = 0.8, 2.0
CLUSTER_FILL, CLUSTER_STRAIGHT = 0.45, 0.75
AXIS_TOLERANCE = 12.0  # degrees: an outline segment this close to the rectangle's axes is straight
INK_SHARE = (0.005, 0.40)
INK_DARKER = 0.72
MIN_STROKES = 3
STROKES_PER_NOTE = 5  # touching notes count at most one note per this many strokes
MIN_WALL = 3
MAX_READ_NOTES = 6  # note crops read one by one (single notes and a wall's notes together)
CONF_UNREAD, CONF_READ = 0.5, 0.7  # a wall counted from shape and ink alone / with a word read per note


def _hue_masks(hsv: Any) -> list[Any]:
    import cv2
    import numpy as np

    hue = hsv[:, :, 0]
    strong = (hsv[:, :, 1] >= MIN_SAT) & (hsv[:, :, 2] >= MIN_VAL)
    bins = [(hue >= lo) & (hue < hi) for lo, hi in HUE_BINS] + [(hue >= PINK[0]) | (hue < PINK[1])]
    kernel = np.ones((5, 5), np.uint8)
    out = []
    for b in bins:
        mask = cv2.morphologyEx((strong & b).astype(np.uint8), cv2.MORPH_CLOSE, kernel)
        out.append(cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)))
    return out


def straight_share(contour: Any, angle: float) -> float:
    """Share of the outline's length that runs along the axes of a rectangle turned by `angle` degrees."""
    import cv2
    import numpy as np

    poly = cv2.approxPolyDP(contour, 0.01 * cv2.arcLength(contour, True), True).reshape(-1, 2).astype(np.float64)
    seg = np.roll(poly, -1, axis=0) - poly
    length = np.hypot(seg[:, 0], seg[:, 1])
    if length.sum() <= 0:
        return 0.0
    off = (np.degrees(np.arctan2(seg[:, 1], seg[:, 0])) - angle) % 90.0
    near = np.minimum(off, 90.0 - off) <= AXIS_TOLERANCE
    return float(length[near].sum() / length.sum())


def _ink(hsv: Any, contour: Any, scale: float) -> tuple[float, int]:
    """(share of ink pixels, stroke-sized ink blobs) inside `contour` (FIND_SIDE px) on the INK_SIDE copy;
    (0, 0) when the paper is not a note's neon colour."""
    import cv2
    import numpy as np

    pts = (contour.astype(np.float64) * scale).astype(np.int32)
    x, y, w, h = cv2.boundingRect(pts)
    sub = hsv[y:y + h, x:x + w]
    if sub.size == 0:
        return 0.0, 0
    mask = np.zeros(sub.shape[:2], np.uint8)
    cv2.drawContours(mask, [pts - (x, y)], -1, 1, thickness=cv2.FILLED)
    (_c, (rw, rh), _a) = cv2.minAreaRect(pts)
    trim = max(1, int(0.06 * min(rw, rh)))
    inner = cv2.erode(mask, np.ones((2 * trim + 1, 2 * trim + 1), np.uint8)).astype(bool)
    paper = inner & (sub[:, :, 1] >= MIN_SAT) & (sub[:, :, 2] >= MIN_VAL)
    if inner.sum() < 64 or paper.sum() < 0.5 * inner.sum():
        return 0.0, 0
    if np.median(sub[:, :, 1][paper]) < PAPER_SAT or np.median(sub[:, :, 2][paper]) < PAPER_VAL:
        return 0.0, 0
    value = sub[:, :, 2].astype(np.float32)
    dark = (inner & (value < INK_DARKER * float(np.median(value[paper])))).astype(np.uint8)
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    side = min(rw, rh)
    strokes = sum(
        1 for i in range(1, count)
        if stats[i, cv2.CC_STAT_AREA] >= 4
        and max(stats[i, cv2.CC_STAT_HEIGHT], stats[i, cv2.CC_STAT_WIDTH]) < 0.6 * side
    )
    return float(dark.sum()) / float(inner.sum()), strokes


def _candidates(mask: Any, total: int) -> list[tuple[Any, Any, bool]]:
    """(contour, min-area rect, is one note) for the note-shaped patches of one colour."""
    import cv2

    out = []
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    for contour in contours:
        area = float(cv2.contourArea(contour))
        rect = cv2.minAreaRect(contour)
        rw, rh = rect[1]
        if not (MIN_AREA * total <= area <= MAX_AREA * total) or min(rw, rh) < MIN_SIDE:
            continue
        fill = area / (rw * rh)
        if fill >= NOTE_FILL and max(rw, rh) / min(rw, rh) <= NOTE_ASPECT:
            out.append((contour, rect, True))
        elif (fill >= CLUSTER_FILL and min(rw, rh) >= CLUSTER_SIDE
              and straight_share(contour, float(rect[2])) >= CLUSTER_STRAIGHT):
            out.append((contour, rect, False))
    return out


def find_wall(image: Image.Image, small: Image.Image | None = None) -> list[Note]:
    """Notes with writing in `image` (boxes in its pixels), most strokes first; a wall when they count MIN_WALL.

    `small`: `shrunk(image, FIND_SIDE)` when the caller has it (the note finder looks at the same copy)."""
    import cv2
    import numpy as np

    small = shrunk(image, FIND_SIDE) if small is None else small
    hsv = cv2.cvtColor(np.asarray(small.convert("RGB")), cv2.COLOR_RGB2HSV)
    total = hsv.shape[0] * hsv.shape[1]
    candidates = [c for mask in _hue_masks(hsv) for c in _candidates(mask, total)]
    if not candidates:
        return []
    big = shrunk(image, INK_SIDE)
    hsv_big = cv2.cvtColor(np.asarray(big.convert("RGB")), cv2.COLOR_RGB2HSV)
    scale = big.size[0] / small.size[0]
    found: list[tuple[Any, Any, bool, int]] = []
    for contour, rect, single in candidates:
        share, strokes = _ink(hsv_big, contour, scale)
        if INK_SHARE[0] <= share <= INK_SHARE[1] and strokes >= MIN_STROKES:
            found.append((contour, rect, single, strokes))
    singles = [float(cv2.contourArea(c)) for c, _r, one, _s in found if one]
    one_note = statistics.median(singles) if singles else None
    sx, sy = image.size[0] / small.size[0], image.size[1] / small.size[1]
    notes = []
    for contour, rect, single, strokes in found:
        side = min(rect[1])
        count = 1 if single else max(1, min(strokes // STROKES_PER_NOTE,
                                             round(float(cv2.contourArea(contour)) / (one_note or side * side))))
        x, y, w, h = cv2.boundingRect(contour)
        box = Region(int(x * sx), int(y * sy), max(1, round(w * sx)), max(1, round(h * sy)))
        notes.append(Note(box, upright(rect), count, strokes))
    notes.sort(key=lambda n: -n.strokes)
    return notes


def wall_size(notes: Sequence[Note]) -> int:
    """How many notes `notes` stand for."""
    return sum(n.count for n in notes)


def wall_hit(notes: Sequence[Note], severity: Severity, factor: float, words_read: int) -> Hit | None:
    """`text.sticky_notes` for MIN_WALL notes or more (boxes of `notes` scaled by `factor` to the page read).

    Counted from shape and ink alone the wall is a finding at CONF_UNREAD; words read on the notes raise it.
    """
    size = wall_size(notes)
    if size < MIN_WALL:
        return None
    box = union(Region(round(n.box.x * factor), round(n.box.y * factor), max(1, round(n.box.w * factor)),
                       max(1, round(n.box.h * factor))) for n in notes)
    read = words_read >= size
    message = f"wall of {size} sticky notes with writing" + ("" if read else " (words not read)")
    return Hit("text.sticky_notes", severity, CONF_READ if read else CONF_UNREAD, message, box,
               {"notes": size, "words": words_read})


def notes_to_read(singles: list[Note], wall: list[Note]) -> list[Note]:
    """The notes found one by one, then the wall's single notes not among them, at most MAX_READ_NOTES."""
    out = list(singles)
    for note in wall:
        if note.count == 1 and not any(_overlap(note.box, o.box) for o in out):
            out.append(note)
    return out[:MAX_READ_NOTES]


def _overlap(a: Region, b: Region) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def words_on(words: list[Word], wall: list[Note], factor: float) -> int:
    """Words of two characters or more whose centre lies on one of the wall's notes (`work` pixels)."""
    def on(w: Word) -> bool:
        cx, cy = (w.box.x + w.box.w / 2) / factor, (w.box.y + w.box.h / 2) / factor
        return any(n.box.x <= cx <= n.box.x + n.box.w and n.box.y <= cy <= n.box.y + n.box.h for n in wall)
    return sum(1 for w in words if len(w.text.strip()) >= 2 and on(w))
