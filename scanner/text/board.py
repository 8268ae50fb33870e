"""Whiteboard score: text that dominates a large smooth board (white, chalk-dark or chalk-green).

Signals (each adds to the score): the board covers a good part of the picture and holds most
of the text; letters are big relative to the picture; line heights vary and recognition is
unsure (handwriting); the ink is coloured (markers); the visual detector called the scene a
whiteboard. The board's holes (the writing itself) count as board. The writing is on the board when
most words are, or when a big board holds several of them (a photo next to its cleaned copy).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..media import shrunk
from ..model import Region, Severity
from .page import Hit, Page, union

if TYPE_CHECKING:
    from PIL import Image

    from ..engines.ocr import Word

THRESHOLD = 4.0
MIN_INSIDE = 0.6  # share of the words on the board; below it only the visual scene can make a whiteboard
MIN_ON_BOARD, BIG_BOARD = 4, 0.3  # or this many words on a board covering this share of the picture
BRIGHT, DARK = 140.0, 90.0  # board tones (value channel): white boards / chalk boards
MIN_MARKS = 5  # layout alone: located text marks on the board when too few words were read
LAYOUT_INK = (0.004, 0.25)  # share of the board's pixels that are strokes
STROKE_CONTRAST = 40  # grey levels between a stroke and the board around it
CONF_LAYOUT = 0.45  # below a board whose words were read (0.8 and up)
CHALK_HUE, CHALK_SAT, CHALK_VAL = (35, 95), (40, 150), (40, 170)  # dull green chalkboards (road signs are brighter)


def _filled(labels: Any, index: int) -> Any:
    """Component `index` with its holes filled: the writing on a board is part of the board."""
    import cv2
    import numpy as np

    comp = (labels == index).astype(np.uint8)
    contours, _ = cv2.findContours(comp, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(comp)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)


def board_mask(image: Image.Image, side: int = 256,
               points: Sequence[tuple[float, float]] = ()) -> tuple[Any, float, str]:
    """The board: a large smooth component, bright (white), dark or green (chalk), holes filled.

    Of the largest bright and dark components, the one holding most of `points` (relative x, y of the
    words) wins, then the larger. Returns the mask at <= `side` px, its share of the picture and its tone
    (white, dark, chalk).
    """
    import cv2
    import numpy as np

    small = shrunk(image, side)
    hsv = cv2.cvtColor(np.asarray(small.convert("RGB")), cv2.COLOR_RGB2HSV)
    gray = hsv[:, :, 2].astype(np.float32)
    mean = cv2.blur(gray, (7, 7))
    var = cv2.blur(gray * gray, (7, 7)) - mean * mean
    even = var < 400
    smooth = (hsv[:, :, 1] < 60) & even
    hue, sat = hsv[:, :, 0], hsv[:, :, 1]
    chalk = even & (hue >= CHALK_HUE[0]) & (hue <= CHALK_HUE[1])
    chalk &= (sat >= CHALK_SAT[0]) & (sat <= CHALK_SAT[1])
    chalk &= (mean >= CHALK_VAL[0]) & (mean <= CHALK_VAL[1])
    best: tuple[int, int, Any, str] | None = None
    for name, tone in (("white", smooth & (mean >= BRIGHT)), ("dark", smooth & (mean < DARK)), ("chalk", chalk)):
        closed = cv2.morphologyEx(tone.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=4)
        if count <= 1:
            continue
        mask = _filled(labels, 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])))
        h, w = mask.shape
        inside = sum(1 for px, py in points if mask[min(h - 1, int(py * h)), min(w - 1, int(px * w))])
        key = (inside, int(mask.sum()), mask, name)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return np.zeros(gray.shape, bool), 0.0, "white"
    return best[2], float(best[1]) / float(gray.size), best[3]


def marker_share(image: Image.Image, page: Page, words: Sequence[Word]) -> float:
    """Share of words written in a coloured ink (blue, red, green markers; print and pencil are grey)."""
    import cv2
    import numpy as np

    sx, sy = image.size[0] / page.size[0], image.size[1] / page.size[1]
    coloured = 0
    for wd in words:
        b = wd.box
        crop = image.crop((int(b.x * sx), int(b.y * sy), int((b.x + b.w) * sx), int((b.y + b.h) * sy)))
        crop.thumbnail((160, 160))
        hsv = cv2.cvtColor(np.asarray(crop.convert("RGB")), cv2.COLOR_RGB2HSV).reshape(-1, 3)
        if len(hsv) < 16:
            continue
        value = hsv[:, 2].astype(np.int32)
        ink = hsv[value < np.percentile(value, 8) + 1]
        if len(ink) and float(np.median(ink[:, 1])) > 90:
            coloured += 1
    return coloured / max(1, len(words))


def score_whiteboard(image: Image.Image, page: Page, scenes: frozenset[str], severity: Severity) -> Hit | None:
    words = [w for line in page.lines for w in line.words if len(w.text.strip()) >= 2]
    if len(words) < 2:
        return None
    points = [((wd.box.x + wd.box.w / 2) / page.size[0], (wd.box.y + wd.box.h / 2) / page.size[1]) for wd in words]
    mask, share, tone = board_mask(image, points=points)
    h, w = mask.shape
    on_board = sum(1 for px, py in points if mask[min(h - 1, int(py * h)), min(w - 1, int(px * w))])
    inside = on_board / len(words)
    if on_board >= MIN_ON_BOARD and share >= BIG_BOARD:
        inside = max(inside, MIN_INSIDE)
    heights = [wd.box.h for wd in words]
    rel_height = statistics.median(heights) / page.size[1]
    spread = statistics.pstdev(heights) / max(1.0, statistics.mean(heights))
    conf = statistics.mean(wd.conf for wd in words)
    score, signals = 0.0, []
    if inside >= MIN_INSIDE:  # the writing is on the board: +2 for a big board, +1 for a smaller one
        score += 2.0 if share >= 0.3 else 1.0
        signals.append(f"board {share:.0%} of picture")
    if rel_height >= 0.025:
        score += 1.0
        signals.append("large letters")
    if tone == "chalk":  # chalk on a green board: its darkest pixels are the board, not coloured ink
        score += 1.0
        signals.append("chalkboard")
    elif marker_share(image, page, words) >= 0.3:
        score += 1.0
        signals.append("marker colours")
    if spread >= 0.3:
        score += 1.0
        signals.append("uneven lines")
    if conf < 0.9:
        score += 1.0
        signals.append("handwriting-like")
    board_scene = "whiteboard" in scenes
    if board_scene:
        score += 2.0
        signals.append("whiteboard scene")
    if score < THRESHOLD or share < 0.15 or (inside < MIN_INSIDE and not board_scene):
        return None
    return Hit(
        "text.whiteboard",
        severity,
        min(0.9, 0.4 + 0.1 * score),
        "whiteboard with writing: " + ", ".join(signals),
        union(wd.box for wd in words),
        {"score": round(score, 2), "words": len(words), "board": round(share, 2)},
    )


def _ink_share(image: Image.Image, mask: Any, tone: str) -> float:
    """Share of the board's pixels that are strokes: darker than the board around them (lighter on chalk)."""
    import cv2
    import numpy as np

    small = shrunk(image, mask.shape[1] if mask.shape[1] >= mask.shape[0] else mask.shape[0])
    gray = np.asarray(small.convert("L"), np.int16)
    if gray.shape != mask.shape:
        return 0.0
    background = cv2.medianBlur(gray.astype(np.uint8), 15).astype(np.int16)
    ink = (gray - background > STROKE_CONTRAST) if tone != "white" else (background - gray > STROKE_CONTRAST)
    return float((ink & mask).sum()) / max(1.0, float(mask.sum()))


def layout_whiteboard(image: Image.Image, boxes: Sequence[Region], severity: Severity, read: int) -> Hit | None:
    """A board full of writing that recognition could not read: many located text marks on a big board.

    `boxes` are the text-line boxes the detection pass located (pixels of `image`); `read` is how many
    words were recognised. Lower confidence than a board whose words were read.
    """
    if len(boxes) < MIN_MARKS or read >= MIN_ON_BOARD:
        return None
    w, h = image.size
    points = [((b.x + b.w / 2) / w, (b.y + b.h / 2) / h) for b in boxes]
    mask, share, tone = board_mask(image, points=points)
    mh, mw = mask.shape
    on_board = [b for b, (px, py) in zip(boxes, points, strict=True)
                if mask[min(mh - 1, int(py * mh)), min(mw - 1, int(px * mw))]]
    if share < BIG_BOARD or len(on_board) < MIN_MARKS or len(on_board) < MIN_INSIDE * len(boxes):
        return None
    ink = _ink_share(image, mask, tone)
    if not LAYOUT_INK[0] <= ink <= LAYOUT_INK[1]:
        return None
    return Hit(
        "text.whiteboard",
        severity,
        CONF_LAYOUT,
        f"whiteboard with writing that could not be read: {len(on_board)} text marks on a board "
        f"{share:.0%} of picture",
        union(on_board),
        {"marks": len(on_board), "board": round(share, 2), "ink": round(ink, 3)},
    )
