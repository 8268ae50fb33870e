"""Whiteboard score: text that dominates a large smooth, unsaturated board (white or chalk-dark).

Signals (each adds to the score): the board covers a good part of the picture and holds most
of the text; letters are big relative to the picture; line heights vary and recognition is
unsure (handwriting); the visual detector called the scene a whiteboard.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from ..model import Severity
from .page import Hit, Page, union

if TYPE_CHECKING:
    from PIL import Image

THRESHOLD = 4.0


def board_mask(image: Image.Image, side: int = 256) -> tuple[object, float]:
    """Largest smooth low-saturation component (after closing over strokes) and its share of the picture."""
    import cv2
    import numpy as np

    small = image.copy()
    small.thumbnail((side, side))
    rgb = np.asarray(small.convert("RGB"))
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    gray = hsv[:, :, 2].astype(np.float32)
    mean = cv2.blur(gray, (7, 7))
    var = cv2.blur(gray * gray, (7, 7)) - mean * mean
    smooth = ((hsv[:, :, 1] < 60) & (var < 400)).astype(np.uint8)
    closed = cv2.morphologyEx(smooth, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=4)
    if count <= 1:
        return np.zeros_like(closed), 0.0
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = labels == best
    return mask, float(stats[best, cv2.CC_STAT_AREA]) / float(closed.size)


def score_whiteboard(image: Image.Image, page: Page, scene: str | None, severity: Severity) -> Hit | None:
    words = [w for line in page.lines for w in line.words if len(w.text.strip()) >= 2]
    if len(words) < 2:
        return None
    mask, share = board_mask(image)
    h, w = mask.shape  # type: ignore[attr-defined]
    sx, sy = w / page.size[0], h / page.size[1]
    centres = [(int((wd.box.y + wd.box.h / 2) * sy), int((wd.box.x + wd.box.w / 2) * sx)) for wd in words]
    hits = [bool(mask[min(h - 1, cy), min(w - 1, cx)]) for cy, cx in centres]  # type: ignore[index]
    inside = sum(hits) / len(words)
    heights = [wd.box.h for wd in words]
    rel_height = statistics.median(heights) / page.size[1]
    spread = statistics.pstdev(heights) / max(1.0, statistics.mean(heights))
    conf = statistics.mean(wd.conf for wd in words)
    score, signals = 0.0, []
    if share >= 0.3 and inside >= 0.6:
        score += 2.0
        signals.append(f"board {share:.0%} of picture")
    if rel_height >= 0.025:
        score += 1.0
        signals.append("large letters")
    if spread >= 0.3:
        score += 1.0
        signals.append("uneven lines")
    if conf < 0.9:
        score += 1.0
        signals.append("handwriting-like")
    if scene == "whiteboard":
        score += 2.0
        signals.append("whiteboard scene")
    if score < THRESHOLD or share < 0.15:
        return None
    return Hit(
        "text.whiteboard",
        severity,
        min(0.9, 0.4 + 0.1 * score),
        "whiteboard with writing: " + ", ".join(signals),
        union(wd.box for wd in words),
        {"score": round(score, 2), "words": len(words), "board": round(share, 2)},
    )
