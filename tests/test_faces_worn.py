"""The worn-card search on drawn pictures (one seam: a face box is given, no face detector or OCR)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from scanner.engines.faces import FaceBox
from scanner.faces.worn import worn_cards

FACE = FaceBox(250, 60, 100, 120, 0.95)  # a face box; the shirt starts below it


def _shirt(card_at: tuple[int, int] | None, printed: bool = True, tilt: float = 0.0,
           shirt: tuple[int, int, int] = (60, 90, 150)) -> np.ndarray:
    """A shirt below FACE, with a 50 x 76 card pasted (turned by `tilt`) with its top-left at `card_at`."""
    picture = Image.new("RGB", (600, 640), (205, 200, 190))
    d = ImageDraw.Draw(picture)
    d.rectangle((120, 200, 480, 639), fill=shirt)
    if card_at is not None:
        card = Image.new("RGB", (50, 76), (248, 248, 244))
        if printed:
            c = ImageDraw.Draw(card)
            c.rectangle((0, 0, 49, 12), fill=(120, 50, 150))  # header
            c.rectangle((14, 18, 35, 42), fill=(90, 70, 60))  # photo
            for x in range(6, 44, 3):
                c.line((x, 58, x, 68), fill=(20, 20, 20))  # barcode
        rgba = card.convert("RGBA").rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True)
        picture.paste(rgba, card_at, rgba)
    return np.asarray(picture)


@pytest.mark.parametrize("tilt", [0.0, 12.0, -20.0])
def test_a_printed_card_below_the_face_is_found_with_its_box(tilt: float) -> None:
    (card, *_) = worn_cards(_shirt((280, 330), tilt=tilt), FACE)
    x, y, w, h = card.box
    turned = Image.new("L", (50, 76)).rotate(tilt, expand=True).size  # where the card's centre landed
    assert abs(x + w / 2 - (280 + turned[0] / 2)) <= 4 and abs(y + h / 2 - (330 + turned[1] / 2)) <= 4
    assert 45 <= min(w, h) <= 90 and card.ink > 0.06


def test_a_blank_card_is_not_a_badge() -> None:
    assert worn_cards(_shirt((280, 330), printed=False), FACE) == []


def test_a_card_beside_the_person_or_cut_by_the_edge_is_not_worn() -> None:
    assert worn_cards(_shirt((520, 330)), FACE) == []  # two face widths to the side, off the shirt
    assert worn_cards(_shirt((280, 590)), FACE) == []  # cut off by the bottom edge


def test_a_card_much_smaller_than_the_face_is_not_a_badge() -> None:
    far = FaceBox(150, 20, 300, 170, 0.95)  # a face so large that the card is under a tenth of it
    assert worn_cards(_shirt((280, 330)), far) == []


@pytest.mark.parametrize("tilt", [0.0, 10.0, -25.0, 40.0])
def test_a_tilted_card_is_read_level_and_the_right_way_up(tilt: float) -> None:
    from scanner.faces.badge import upright

    (card, *_) = worn_cards(_shirt((280, 330), tilt=tilt), FACE)
    level = np.asarray(upright(Image.fromarray(_shirt((280, 330), tilt=tilt)), card.corners))
    assert level.shape[0] > level.shape[1]  # portrait stays portrait
    top = level[: level.shape[0] // 8].reshape(-1, 3).mean(axis=0)
    assert top[2] > top[1] + 40  # the purple header is on top, not at a side
