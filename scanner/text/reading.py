"""Reading a picture with an OCR engine: which view to read, notes, small text, rotations (the text detector's steps).

Pure functions over an engine and a PIL picture; scanner/detectors/text.py decides when each runs and applies
the rules. docs/ocr.md ("Cost") describes the steps and their measurements.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

from ..engines.ocr import CappedOcrEngine, OcrEngine, OcrResult, Word, read_small_print
from ..model import Region
from .notes import Note

if TYPE_CHECKING:
    from PIL import Image

WORK_SIDE = 2000  # longest side OCR sees (11 MP took every engine ~5 s; 2000 px keeps receipts legible)
MIN_TEXT_PX = 12  # median located line height below this: scale up (both engines lose letters under ~10 px)
MAX_UPSCALE = 2.0
NOTE_SIDE = 480  # a note's crop is enlarged to this longest side (at most NOTE_UPSCALE) before OCR
NOTE_UPSCALE = 4.0
MIN_TURN = 3.0  # degrees: a note turned more than this is read turned upright
# pictures the visual cues call a document or a screen: their unread marks are print or keys, not a board
NOT_A_LAYOUT_BOARD = frozenset({"document", "screen"})


def rotate_back(box: Region, angle: int, size: tuple[int, int]) -> Region:
    """Map a box read on the picture rotated by `angle` (PIL, counter-clockwise) back to `size` = (w, h)."""
    w, h = size
    if angle == 90:  # rotated (x, y) = (y, w - x - 1)
        return Region(w - box.y - box.h, box.x, box.h, box.w)
    if angle == 270:  # rotated (x, y) = (h - y - 1, x)
        return Region(box.y, h - box.x - box.w, box.h, box.w)
    if angle == 180:
        return Region(w - box.x - box.w, h - box.y - box.h, box.w, box.h)
    return box


def weight(result: OcrResult) -> float:
    """Confident characters read (what a rotation must beat by 20%)."""
    return sum(w.conf * len(w.text.strip()) for w in result.words if w.conf >= 0.5)


def upright_crop(crop: Image.Image, angle: float, w: float, h: float) -> Image.Image:
    """`crop` turned by `angle` and cut to the note itself (a `w` x `h` box around a turned, near-square
    note): the corners a turn brings in hide the text from the detection network."""
    from PIL import Image

    turned = crop.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    spread = abs(math.cos(math.radians(angle))) + abs(math.sin(math.radians(angle)))
    nw, nh = 1.05 * w / spread, 1.05 * h / spread
    cx, cy = turned.size[0] / 2, turned.size[1] / 2
    return turned.crop((round(cx - nw / 2), round(cy - nh / 2), round(cx + nw / 2), round(cy + nh / 2)))


def first_read(engine: OcrEngine, work: Image.Image, scenes: frozenset[str]) -> OcrResult:
    """One read; a picture the visual cues call a whiteboard has its detection on the whole picture at once,
    a document or a screen (small print) a view capped at no less than 960 px (read_dense)."""
    if "whiteboard" in scenes and isinstance(engine, CappedOcrEngine):
        return engine.read_full(work)
    if scenes & NOT_A_LAYOUT_BOARD:
        return read_small_print(engine, work)
    return engine.read(work)


def read_note(engine: OcrEngine, picture: Image.Image, turned: Note, factor: float) -> list[Word]:
    """OCR one note's crop enlarged and turned upright; words mapped back to the work image (`picture`
    scaled by `factor`): to their own boxes, or to the note's box when the crop was turned."""
    from PIL import Image

    note = turned.box
    pad = max(note.w, note.h) // 10
    x0, y0 = max(0, note.x - pad), max(0, note.y - pad)
    x1, y1 = min(picture.size[0], note.x + note.w + pad), min(picture.size[1], note.y + note.h + pad)
    crop = picture.crop((x0, y0, x1, y1))
    f = max(1.0, min(NOTE_UPSCALE, NOTE_SIDE / max(crop.size)))
    if f > 1.0:
        crop = crop.resize((round(crop.size[0] * f), round(crop.size[1] * f)), Image.Resampling.BICUBIC)
    if abs(turned.angle) >= MIN_TURN:
        crop = upright_crop(crop, turned.angle, note.w * f, note.h * f)
        box = Region(round(note.x * factor), round(note.y * factor), max(1, round(note.w * factor)),
                     max(1, round(note.h * factor)))
        return [Word(w.text, w.conf, box) for w in engine.read(crop).words]
    result = engine.read(crop)
    k = factor / f
    return [
        Word(w.text, w.conf, Region(round((x0 + w.box.x / f) * factor), round((y0 + w.box.y / f) * factor),
                                    max(1, round(w.box.w * k)), max(1, round(w.box.h * k))))
        for w in result.words
    ]


def scaled(picture: Image.Image, located: list[Region] | None) -> tuple[Image.Image, float]:
    """`picture` enlarged (at most MAX_UPSCALE, WORK_SIDE) when the located lines are under MIN_TEXT_PX high, and the
    factor; else `picture` itself and 1."""
    from PIL import Image

    if not located:
        return picture, 1.0
    median_h = statistics.median(r.h for r in located)
    factor = min(MAX_UPSCALE, 1.5 * MIN_TEXT_PX / max(1.0, median_h), WORK_SIDE / max(picture.size))
    if median_h >= MIN_TEXT_PX or factor <= 1.15:
        return picture, 1.0
    size = (round(picture.size[0] * factor), round(picture.size[1] * factor))
    return picture.resize(size, Image.Resampling.BICUBIC), factor


def unreadable(result: OcrResult, located: list[Region]) -> bool:
    """Text was located but little was read, or the located lines stand upright (picture on its side)."""
    upright = sum(1 for r in located if r.h > 1.5 * r.w)
    if len(located) >= 3 and upright * 2 > len(located):
        return True
    chars = sum(len(w.text.strip()) for w in result.words if w.conf >= 0.5)
    return len(located) >= 3 and chars < 2 * len(located) and result.mean_conf < 0.6


def best_rotation(engine: OcrEngine, image: Image.Image, first: OcrResult) -> OcrResult:
    """`first`, or a read of `image` turned 90, 270 or 180 degrees with 20% more confident characters (its boxes
    mapped back to `image`)."""
    best, best_weight = first, weight(first)
    for angle in (90, 270, 180):
        result = engine.read(image.rotate(angle, expand=True))
        if weight(result) > best_weight * 1.2:
            words = tuple(Word(w.text, w.conf, rotate_back(w.box, angle, image.size)) for w in result.words)
            best, best_weight = OcrResult(result.engine, words, image.size, result.seconds), weight(result)
    return best
