"""Cheaper RapidOCR reads (issue 12 part 4, docs/ocr.md "Cost"): a narrower recognition input for short lines
(`ocr_rec_width`) and a second look that recognises only the lines the first read missed (`read_more`).

Real RapidOCR on rendered pictures; the recognition network's inputs are counted by wrapping RapidOCR's own
resize step (one call per text line, its output is the network's input).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fixtures import text_fixtures
from fixtures.text_fixtures import font
from scanner.config import Settings, build_settings
from scanner.engines.ocr import build_engine
from scanner.engines.rapid import REC_WIDTH, RapidOcrEngine
from scanner.errors import ConfigError

pytestmark = pytest.mark.slow


def _inputs(engine: RapidOcrEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The widths of the recognition network's inputs, one per line recognised from now on."""
    rec = engine._ocr._load_rec_model()
    widths: list[int] = []
    resize = rec.resize_norm_img

    def spy(img: Any, max_wh_ratio: float) -> Any:
        out = resize(img, max_wh_ratio)
        widths.append(int(out.shape[2]))
        return out

    monkeypatch.setattr(rec, "resize_norm_img", spy)
    return widths


def _amounts() -> Image.Image:
    """A till slip of short lines: amounts and a total, each line far shorter than 320/48 of its height."""
    img = Image.new("RGB", (420, 300), "white")
    d = ImageDraw.Draw(img)
    for i, text in enumerate(("7.55", "12.50", "TOTAL", "20.05")):
        d.text((40 + 120 * (i % 2), 30 + 60 * i), text, fill="black", font=font(34))
    return img


def test_short_lines_are_read_from_a_narrower_input(monkeypatch: pytest.MonkeyPatch) -> None:
    image = _amounts()
    default = RapidOcrEngine(det_side=960)
    narrow = RapidOcrEngine(det_side=960, rec_width=160)
    wide_in, narrow_in = _inputs(default, monkeypatch), _inputs(narrow, monkeypatch)
    wide_text = sorted(w.text for w in default.read(image).words)
    narrow_text = sorted(w.text for w in narrow.read(image).words)
    assert wide_text == narrow_text and "7.55" in narrow_text
    assert min(wide_in) == REC_WIDTH and len(narrow_in) == len(wide_in)
    assert max(narrow_in) < REC_WIDTH  # every line of this slip fits in a 48 x 160 input


def test_the_setting_reaches_the_engine() -> None:
    engine = build_engine("rapidocr", Settings(ocr_rec_width=128))
    assert isinstance(engine, RapidOcrEngine)
    assert engine._ocr._load_rec_model().rec_image_shape[2] == 128
    assert build_settings(None, env={"LEAKSCAN_OCR_REC_WIDTH": "96"}).ocr_rec_width == 96


@pytest.mark.parametrize("value", ["40", "961", "100.5"])
def test_a_bad_rec_width_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="ocr_rec_width"):
        build_settings(None, env={"LEAKSCAN_OCR_REC_WIDTH": value})


def test_the_second_look_reads_only_new_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the 2000 px board the capped read finds the large lines; the second look recognises the small wifi password
    line it missed and takes the large ones from the first read: the same text as a whole new read, fewer lines
    through the recognition network."""
    image = text_fixtures.small_writing()
    engine = RapidOcrEngine(det_side=960)
    first = engine.read(image)
    widths = _inputs(engine, monkeypatch)
    full = engine.read_full(image)
    full_lines = len(widths)
    more = engine.read_more(image, first)
    more_lines = len(widths) - full_lines
    assert sorted(w.text for w in more.words) == sorted(w.text for w in full.words)
    assert any("pw:" in w.text for w in more.words) and not any("pw:" in w.text for w in first.words)
    assert 0 < more_lines < full_lines
    assert more.size == image.size and np.isfinite(more.seconds)
