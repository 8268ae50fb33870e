"""ID badges and name tags: a card around a face (a card photographed on its own) or below it (worn).

A card photographed on its own: a convex four-cornered outline (OpenCV contours) that holds the face
and has a card's proportions, read with the OCR engine; a person-name line (two or three capitalised
words) or an ID number (a label such as "ID"/"Employee No" followed by digits, or a run of five or
more digits) makes it a badge. A worn card (faces/worn.py: a small printed card below the face, on a
lanyard or clip) is a badge by its shape and print alone; it is also deskewed, enlarged and read, and
a name, an ID number or a badge word ("Staff", "Visitor", "Mitarbeiter" ...) is noted. What was read
is never returned, only which kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..engines.ocr import read_small_print
from ..model import Region

if TYPE_CHECKING:
    from PIL import Image

    from ..engines.faces import FaceBox
    from ..engines.ocr import OcrEngine

CARD_ASPECT = (1.2, 2.1)  # longer side / shorter side of ID-1 cards (1.59) and name tags
CARD_AREA = (5.0, 60.0)  # card area / face area (a passport photo around the face is smaller)
SEARCH = 5.0  # the card is looked for within this many face widths/heights around the face (ID-1: ~5)
READ_SIDE = 800  # the card is scaled so its longer side is about this before OCR
MAX_ENLARGE = 8.0  # a worn card is enlarged at most this much (more only blurs what is not there)
LABEL = re.compile(
    r"(?i)\b(?:id|no|nr|emp(?:loyee)?|staff|badge|personnel|pers|mitarbeiter|medewerker|matricule)\b"
    r"[\s.:#-]*(?:no\.?|nr\.?|number|#)?[\s.:#-]*[A-Z]{0,3}[- ]?\d{3,}"
)
CARD_WORD = re.compile(
    r"(?i)\b(?:id|staff|student|employee|visitor|guest|contractor|badge|medewerker|mitarbeiter(?:in)?|"
    r"besucher(?:in)?|bezoeker|gast|personnel|personal|employ[ée]|visiteur|[ée]tudiant|studierende[rn]?)\b"
)
LONG_NUMBER = re.compile(r"\b\d{5,}\b")
NAME_WORD = r"[A-Z\u00C0-\u00DE](?:\.|[a-z'\u00DF-\u017F]+(?:-[A-Z][a-z'\u00DF-\u017F]+)?)"  # Anna-Lena, Müller, J.
PARTICLE = r"(?:van|von|de|der|den|ten|ter|du|da|di|le|la|el|al)"  # Jan de Vries, Ludwig van der Berg
NAME = re.compile(rf"^{NAME_WORD}(?:\s+{PARTICLE})*(?:\s+{NAME_WORD}(?:\s+{PARTICLE})*){{0,1}}\s+{NAME_WORD}$")


@dataclass(frozen=True, slots=True)
class BadgeHit:
    card: Region  # in the pixels of the picture that was searched
    has_name: bool
    has_number: bool
    has_word: bool = False  # a badge word such as "Staff", "Visitor", "Mitarbeiter" (worn cards are read for it)
    worn: bool = False  # a small card below the face (found by shape and print), not a card around it


def find_card(picture: Image.Image, face: FaceBox) -> Region | None:
    """The smallest card-shaped outline that holds the face's centre, if any."""
    import cv2

    w, h = picture.size
    x0, y0 = max(0, int(face.x - SEARCH * face.w)), max(0, int(face.y - SEARCH * face.h))
    x1, y1 = min(w, int(face.x + (1 + SEARCH) * face.w)), min(h, int(face.y + (1 + SEARCH) * face.h))
    gray = cv2.cvtColor(np.asarray(picture.crop((x0, y0, x1, y1))), cv2.COLOR_RGB2GRAY)
    edges = cv2.dilate(cv2.Canny(cv2.GaussianBlur(gray, (5, 5), 0), 40, 120), np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    centre = (face.x + face.w / 2 - x0, face.y + face.h / 2 - y0)
    best: Region | None = None
    for contour in contours:
        quad = cv2.approxPolyDP(contour, 0.03 * cv2.arcLength(contour, True), True)
        if len(quad) != 4 or not cv2.isContourConvex(quad):
            continue
        bx, by, bw, bh = cv2.boundingRect(quad)
        area, aspect = bw * bh / max(1, face.w * face.h), max(bw, bh) / max(1, min(bw, bh))
        if not (CARD_AREA[0] <= area <= CARD_AREA[1] and CARD_ASPECT[0] <= aspect <= CARD_ASPECT[1]):
            continue
        if cv2.pointPolygonTest(quad, centre, False) < 0:
            continue
        if best is None or bw * bh < best.w * best.h:
            best = Region(bx + x0, by + y0, bw, bh)
    return best


def read_badge(picture: Image.Image, face: FaceBox, ocr: OcrEngine) -> BadgeHit | None:
    """A BadgeHit when a card holds the face and its text has a name or an ID number."""
    from PIL import Image as PILImage

    card = find_card(picture, face)
    if card is None:
        return None
    crop = picture.crop((card.x, card.y, card.x + card.w, card.y + card.h))
    scale = READ_SIDE / max(crop.size)
    if scale > 1:
        crop = crop.resize((round(crop.width * scale), round(crop.height * scale)), PILImage.Resampling.LANCZOS)
    has_name, has_number = badge_text([w.text for w in read_small_print(ocr, crop).words])
    return BadgeHit(card, has_name, has_number) if has_name or has_number else None


def read_worn(picture: Image.Image, face: FaceBox, ocr: OcrEngine) -> BadgeHit | None:
    """A BadgeHit for the most card-like worn card below the face (its text read for the evidence)."""
    from .worn import worn_cards

    cards = worn_cards(np.asarray(picture), face)
    if not cards:
        return None
    card = cards[0]
    x, y, w, h = card.box
    words = [w.text for w in read_small_print(ocr, upright(picture, card.corners)).words]
    has_name, has_number = badge_text(words)
    has_word = any(CARD_WORD.search(t) for t in words)
    return BadgeHit(Region(x, y, w, h), has_name, has_number, has_word, worn=True)


def upright(picture: Image.Image, corners: tuple[tuple[float, float], ...]) -> Image.Image:
    """The tilted card cut out level (turned by less than 45 degrees) and enlarged for the OCR engine."""
    import cv2
    from PIL import Image as PILImage

    points = np.asarray(corners, np.float32)
    (cx, cy), sides, angle = cv2.minAreaRect(points)
    angle = (angle + 45) % 90 - 45  # the smallest turn that levels the card
    tall = np.ptp(points[:, 1]) > np.ptp(points[:, 0])  # a card turned less than 45 degrees keeps its form
    w, h = sorted(sides, reverse=not tall)
    scale = min(MAX_ENLARGE, READ_SIDE / max(w, h, 1.0))
    out_w, out_h = max(1, round(w * scale)), max(1, round(h * scale))
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    matrix[0, 2] += out_w / 2 - cx
    matrix[1, 2] += out_h / 2 - cy
    level = cv2.warpAffine(np.asarray(picture), matrix, (out_w, out_h), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REPLICATE)
    return PILImage.fromarray(level)


def badge_text(lines: list[str]) -> tuple[bool, bool]:
    """(a line looks like a person's name, a line holds an ID number) for the text read on a card."""
    stripped = [t.strip() for t in lines]
    has_number = any(LABEL.search(t) or LONG_NUMBER.search(t) for t in stripped)
    return any(NAME.match(t) for t in stripped), has_number
