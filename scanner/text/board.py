"""Whiteboard score: text that dominates a large smooth, unsaturated board (white or chalk-dark).

Signals (each adds to the score): the board covers a good part of the picture and holds most
of the text; letters are big relative to the picture; line heights vary and recognition is
unsure (handwriting); the ink is coloured (markers); the visual detector called the scene a
whiteboard. The board's holes (the writing itself) count as board.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..media import shrunk
from ..model import Severity
from .page import Hit, Page, union

if TYPE_CHECKING:
    from PIL import Image

    from ..engines.ocr import Word

THRESHOLD = 4.0
MIN_INSIDE = 0.6  # share of the words on the board; below it only the visual scene can make a whiteboard
BRIGHT, DARK = 140.0, 90.0  # board tones (value channel): white boards / chalk boards


def _filled(labels: Any, index: int) -> Any:
    """Component `index` with its holes filled: the writing on a board is part of the board."""
    import cv2
    import numpy as np

    comp = (labels == index).astype(np.uint8)
    contours, _ = cv2.findContours(comp, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(comp)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)


def board_mask(image: Image.Image, side: int = 256, points: Sequence[tuple[float, float]] = ()) -> tuple[Any, float]:
    """The board: a large smooth low-saturation component, bright (white) or dark (chalk), holes filled.

    Of the largest bright and dark components, the one holding most of `points` (relative x, y of the
    words) wins, then the larger. Returns the mask at <= `side` px and its share of the picture.
    """
    import cv2
    import numpy as np

    small = shrunk(image, side)
    hsv = cv2.cvtColor(np.asarray(small.convert("RGB")), cv2.COLOR_RGB2HSV)
    gray = hsv[:, :, 2].astype(np.float32)
    mean = cv2.blur(gray, (7, 7))
    var = cv2.blur(gray * gray, (7, 7)) - mean * mean
    smooth = (hsv[:, :, 1] < 60) & (var < 400)
    best: tuple[int, int, Any] | None = None
    for tone in (mean >= BRIGHT, mean < DARK):
        closed = cv2.morphologyEx((smooth & tone).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=4)
        if count <= 1:
            continue
        mask = _filled(labels, 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])))
        h, w = mask.shape
        inside = sum(1 for px, py in points if mask[min(h - 1, int(py * h)), min(w - 1, int(px * w))])
        key = (inside, int(mask.sum()), mask)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return np.zeros(gray.shape, bool), 0.0
    return best[2], float(best[1]) / float(gray.size)


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
    mask, share = board_mask(image, points=points)
    h, w = mask.shape
    inside = sum(1 for px, py in points if mask[min(h - 1, int(py * h)), min(w - 1, int(px * w))]) / len(words)
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
    markers = marker_share(image, page, words)
    if markers >= 0.3:
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
