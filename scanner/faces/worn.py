"""Worn ID badges: a small bright card below a face (on a lanyard or a clip) that carries a printed layout.

A badge worn in a photo of a person is a card of about half a face's width, one to four face heights
below the chin; its text is often too small to read. So the card is found by its shape and its
contents, not its words: in a window below each face, pixels that are bright in all three channels
(a white or pale card) are thresholded at several levels; a connected blob is a card when its
minimum-area rectangle (tilt allowed) is filled by it, has a card's proportions (ID-1 is 1.59, a
portrait card 0.63; cards hang tilted and photos are stretched, so 1.0-2.3 either way), is small next
to the face, stands out from its surroundings (not a patch of a white shirt) and holds printed matter
(dark or coloured pixels: a photo, a header, a name, a barcode; a blank card does not count).
What the card says is read afterwards (faces/badge.py); this module returns only where the card is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..engines.faces import FaceBox

BELOW = (0.6, 4.2)  # the card's centre lies this many face heights below the face's bottom edge
ACROSS = 1.0  # ... and at most this many face widths left or right of the face's centre
AREA = (0.1, 0.6)  # card area / face area (a worn ID-1 card is about a quarter of the face box)
ASPECT = (1.0, 2.3)  # longer side / shorter side of the card's minimum-area rectangle
FILL = 0.72  # the bright blob fills at least this much of its rectangle (a card, not a fold of cloth)
HOLE = 0.45  # holes up to this many face areas are filled (a card's pale middle, not the V between lanyard straps)
CLUSTERS = 4  # k-means colours in the window below the face
CLOTH_SHARE = 0.2  # a colour covering this share of the window is clothing (or the wall behind)
FAR = 28.0  # Lab distance from every clothing colour at which a pixel is "something else"
OPEN = 0.08  # opening size in face widths: removes the lanyard and seams, keeps the card
BRIGHT = 110  # the card's upper-quartile brightness (darkest of R, G, B): cards are pale
INK = (0.06, 0.65)  # share of the card's pixels that are printed (dark or coloured)
SURROUND = 0.6  # at least this share of a band around the card has the clothes' colours (it is worn)
SURROUND_BAND = 0.3  # the band's width in card widths
MIN_SIDE = 20  # pixels in the searched picture (at most 960 px a side): smaller is too small to tell a card


@dataclass(frozen=True, slots=True)
class WornCard:
    """A card below a face, in the pixels of the searched picture."""

    corners: tuple[tuple[float, float], ...]  # the minimum-area rectangle's four corners (tilt kept)
    box: tuple[int, int, int, int]  # x, y, w, h: the corners' bounding box
    ink: float  # share of printed pixels on the card
    surround: float  # share of a band around the card that has the clothes' colours
    score: float  # 0..1: how card-like (fill, contrast, proportions)


def worn_cards(rgb: np.ndarray, face: FaceBox) -> list[WornCard]:
    """Card-shaped, printed blobs that stand out from the clothes below the face, best first."""
    import cv2

    height, width = int(rgb.shape[0]), int(rgb.shape[1])
    cx, bottom = face.x + face.w / 2, face.y + face.h
    x0, x1 = max(0, int(cx - (ACROSS + 0.4) * face.w)), min(width, int(cx + (ACROSS + 0.4) * face.w))
    y0, y1 = max(0, int(bottom + (BELOW[0] - 0.4) * face.h)), min(height, int(bottom + (BELOW[1] + 0.4) * face.h))
    if x1 - x0 < 2 * MIN_SIDE or y1 - y0 < 2 * MIN_SIDE:
        return []
    window = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    lab = cv2.cvtColor(window, cv2.COLOR_RGB2LAB).astype(np.float32)
    cloth = _cloth(lab)
    far = np.min(np.stack([np.linalg.norm(lab - c, axis=2) for c in cloth]), axis=0) > FAR
    closed = cv2.morphologyEx(far.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    opening = np.ones((max(2, round(OPEN * face.w)),) * 2, np.uint8)
    white = window.astype(np.int16).min(axis=2)
    spread = window.astype(np.int16).max(axis=2) - white
    size = (width, height)
    found: list[WornCard] = []
    # a card unlike the clothes is solid as it is; a pale card on a pale shirt only has its print and
    # frame unlike the shirt, so its middle is a hole to fill (which may also close the V between straps)
    for mask in (closed, _holes_filled(closed, HOLE * face.w * face.h)):
        contours, _ = cv2.findContours(cv2.morphologyEx(mask, cv2.MORPH_OPEN, opening), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            card = _card(contour, far, white, spread, face, (x0, y0), size, cx, bottom)
            if card is not None and not any(_overlap(card, other) for other in found):
                found.append(card)
    return sorted(found, key=lambda c: -c.score)


def _holes_filled(mask: np.ndarray, largest: float) -> np.ndarray:
    """The mask with its enclosed holes up to `largest` pixels filled (a card's pale middle inside its print)."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats((mask == 0).astype(np.uint8), connectivity=4)
    h, w = mask.shape
    out = mask.copy()
    for i in range(1, count):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if area <= largest and x > 0 and y > 0 and x + bw < w and y + bh < h:
            out[labels == i] = 1
    return out


def _cloth(lab: np.ndarray) -> list[np.ndarray]:
    """The dominant colours below the face (shirt, jacket, vest): k-means centres that cover much of it."""
    import cv2

    pixels = np.ascontiguousarray(lab.reshape(-1, 3)[:: max(1, lab.shape[0] * lab.shape[1] // 4000)])
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(7)
    start = np.zeros((len(pixels), 1), np.int32)  # not used: k-means++ seeds the centres
    _, labels, centres = cv2.kmeans(pixels, CLUSTERS, start, criteria, 2, cv2.KMEANS_PP_CENTERS)
    share = np.bincount(np.asarray(labels).ravel(), minlength=CLUSTERS) / len(labels)
    return [np.asarray(centres)[i] for i in range(CLUSTERS) if share[i] >= CLOTH_SHARE]


def _card(contour: np.ndarray, far: np.ndarray, white: np.ndarray, spread: np.ndarray, face: FaceBox,
          origin: tuple[int, int], size: tuple[int, int], cx: float, bottom: float) -> WornCard | None:
    import cv2

    (rx, ry), (rw, rh), angle = cv2.minAreaRect(contour)
    if min(rw, rh) < MIN_SIDE:
        return None
    area, aspect = rw * rh, max(rw, rh) / min(rw, rh)
    if not (AREA[0] <= area / (face.w * face.h) <= AREA[1] and ASPECT[0] <= aspect <= ASPECT[1]):
        return None
    gx, gy = rx + origin[0], ry + origin[1]
    if not (BELOW[0] <= (gy - bottom) / face.h <= BELOW[1] and abs(gx - cx) <= ACROSS * face.w):
        return None
    fill = float(cv2.contourArea(contour)) / area
    if fill < FILL:
        return None
    corners = cv2.boxPoints(((rx, ry), (rw, rh), angle))
    if not _within(corners, origin, size):
        return None  # cut off by the picture's edge: a strip of shirt, or a card not fully seen
    inside = np.zeros(white.shape, np.uint8)
    cv2.fillConvexPoly(inside, corners.astype(np.int32), 1)
    grow = max(2, round(SURROUND_BAND * min(rw, rh)))
    band = (cv2.dilate(inside, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) - inside) > 0
    surround = 1.0 - float(far[band].mean()) if band.any() else 0.0
    if surround < SURROUND:
        return None
    pixels = inside > 0
    bright = float(np.percentile(white[pixels], 75))
    if bright < BRIGHT:
        return None
    ink = float(((white[pixels] < bright - 60) | (spread[pixels] > 50)).mean())
    if not (INK[0] <= ink <= INK[1]):
        return None
    shape = 1.0 - min(abs(aspect - 1.59), abs(aspect - 1.33)) / 1.5  # ID-1, or ID-1 in a stretched photo
    score = max(0.0, min(1.0, 0.6 * fill + 0.4 * shape))
    pts = tuple((float(x + origin[0]), float(y + origin[1])) for x, y in corners)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    box = (int(min(xs)), int(min(ys)), int(np.ceil(max(xs) - min(xs))), int(np.ceil(max(ys) - min(ys))))
    return WornCard(pts, box, ink, surround, score)


def _within(corners: np.ndarray, origin: tuple[int, int], size: tuple[int, int]) -> bool:
    """All four corners at least two pixels inside the picture."""
    xs, ys = corners[:, 0] + origin[0], corners[:, 1] + origin[1]
    return bool(xs.min() >= 2 and ys.min() >= 2 and xs.max() <= size[0] - 3 and ys.max() <= size[1] - 3)


def _overlap(a: WornCard, b: WornCard) -> bool:
    """Two finds of one card: their boxes overlap by more than half of the smaller."""
    ax, ay, aw, ah = a.box
    bx, by, bw, bh = b.box
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    return ix * iy > 0.5 * min(aw * ah, bw * bh)
