"""Payment terminals as a visual cue: ATMs and payment kiosks from ImageNet scores, card terminals by their keypad.

Two cheap, offline signals, either one enough:
- ImageNet-1k has `cash machine` (ATM), `pay-phone` and `vending machine`: the classifier the visual
  detector already runs scores them. Their summed probability at TERMINAL_MIN or above, with one of them
  the picture's top class, is a payment terminal or kiosk (measured on dev: docs/visual.md).
- A hand-held card terminal is a keypad of three columns by four rows of similar keys with a small
  bright display above it (`keypad_box`, OpenCV contours). A computer keyboard (rows of ten and more
  keys) or a phone lying on a table is not a three-wide grid under a display.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

import numpy as np

from ..model import Region

if TYPE_CHECKING:
    from PIL import Image

TERMINAL_CLASSES = {480: "ATM", 707: "pay-phone", 886: "vending machine"}
TERMINAL_MIN = 0.2  # summed probability of TERMINAL_CLASSES (dev: kiosk 0.23, ATM 0.56; best non-terminal 0.19)
KEYPAD_SCORE = 0.6  # the confidence a keypad-under-a-display shape is reported with
KEYPAD_SIDE = 640  # the picture is searched for a keypad at this longest side
KEY_MIN_FRAC, KEY_MAX_FRAC = 0.02, 0.2  # a key's side as a fraction of the picture's shorter side
KEY_COLS, KEY_ROWS = 3, 4  # a payment keypad: 1-2-3 / 4-5-6 / 7-8-9 / * 0 #


def terminal_score(probs: np.ndarray) -> tuple[float, str] | None:
    """(summed score, top class name) when the ImageNet scores say ATM/kiosk, else None."""
    score = float(sum(probs[i] for i in TERMINAL_CLASSES))
    top = int(np.argmax(probs))
    if score < TERMINAL_MIN or top not in TERMINAL_CLASSES:
        return None
    return score, TERMINAL_CLASSES[top]


def _key_boxes(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Roughly square, convex, closed outlines the size of a key (x, y, w, h)."""
    import cv2

    short = min(gray.shape)
    lo, hi = KEY_MIN_FRAC * short, KEY_MAX_FRAC * short
    edges = cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 50, 150)
    edges = cv2.dilate(edges, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if not (lo <= w <= hi and lo <= h <= hi and 0.6 <= w / h <= 1.7):
            continue
        if cv2.contourArea(cv2.convexHull(c)) < 0.7 * w * h:
            continue  # not a filled, box-like outline
        boxes.append((x, y, w, h))
    return _distinct(boxes)


def _distinct(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """One box per key (a key's inner and outer outline are nested): keep the outer one."""
    out: list[tuple[int, int, int, int]] = []
    for b in sorted(boxes, key=lambda b: -b[2] * b[3]):
        cx, cy = b[0] + b[2] / 2, b[1] + b[3] / 2
        if not any(o[0] <= cx <= o[0] + o[2] and o[1] <= cy <= o[1] + o[3] for o in out):
            out.append(b)
    return out


def _grid(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int] | None:
    """The bounding box of a 3-wide, 4-to-5-deep grid of similar keys, if the keys form one."""
    if len(boxes) < KEY_COLS * KEY_ROWS:
        return None
    for seed in boxes:
        w0, h0 = seed[2], seed[3]
        same = [b for b in boxes if 0.75 <= b[2] / w0 <= 1.33 and 0.75 <= b[3] / h0 <= 1.33]
        rows = _cluster([b[1] + b[3] / 2 for b in same], 0.5 * h0)
        cols = _cluster([b[0] + b[2] / 2 for b in same], 0.5 * w0)
        full_rows = [r for r in rows if len(r) == KEY_COLS]
        if len(cols) != KEY_COLS or not KEY_ROWS <= len(full_rows) <= KEY_ROWS + 1:
            continue
        gaps = [b - a for a, b in zip(sorted(statistics.mean(r) for r in rows)[:-1],
                                      sorted(statistics.mean(r) for r in rows)[1:], strict=True)]
        if max(gaps) > 2.0 * min(gaps):
            continue  # rows are evenly spaced on a keypad
        x0, y0 = min(b[0] for b in same), min(b[1] for b in same)
        x1, y1 = max(b[0] + b[2] for b in same), max(b[1] + b[3] for b in same)
        return x0, y0, x1 - x0, y1 - y0
    return None


def _cluster(values: list[float], tol: float) -> list[list[float]]:
    groups: list[list[float]] = []
    for v in sorted(values):
        if groups and v - groups[-1][-1] <= tol:
            groups[-1].append(v)
        else:
            groups.append([v])
    return groups


def _display_above(gray: np.ndarray, pad: tuple[int, int, int, int]) -> bool:
    """A bright, plain rectangle above the keypad, about as wide as it (the terminal's display)."""
    import cv2

    x, y, w, h = pad
    top = max(0, y - int(1.6 * h))
    band = gray[top:y, max(0, x - w // 4):x + w + w // 4]
    if band.size == 0 or band.shape[0] < h // 4:
        return False
    bright = (band > 170).astype(np.uint8)
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    for c in contours:
        _, _, bw, bh = cv2.boundingRect(c)
        if bw >= 0.6 * w and 0.15 * h <= bh <= 1.2 * h and cv2.contourArea(c) >= 0.8 * bw * bh:
            return True
    return False


def keypad_box(image: Image.Image) -> Region | None:
    """Where a card terminal's keypad (with its display above) is, in the pixels of `image`; else None."""
    scale = min(1.0, KEYPAD_SIDE / max(image.size))
    small = image.convert("L")
    if scale < 1.0:
        small = small.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    gray = np.asarray(small)
    pad = _grid(_key_boxes(gray))
    if pad is None or not _display_above(gray, pad):
        return None
    x, y, w, h = pad
    return Region(round(x / scale), round(y / scale), max(1, round(w / scale)), max(1, round(h / scale)))
