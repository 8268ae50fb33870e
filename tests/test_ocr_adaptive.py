"""Detection capped at `ocr_det_side` with a second look on the whole picture (`ocr_det_recheck`, docs/ocr.md).

Real RapidOCR on a rendered board whose one password line is 10 px high: a 960 px view of the 2000 px
picture loses it, the whole picture shows it.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest

from fixtures import text_fixtures
from scanner.config import Settings, build_settings
from scanner.detectors.text import TextDetector
from scanner.engines import EngineSet
from scanner.engines.ocr import CappedOcrEngine, OcrResult, Word
from scanner.engines.rapid import RapidOcrEngine
from scanner.errors import ConfigError
from scanner.model import Item, Region
from scanner.subject import Subject

pytestmark = pytest.mark.slow


def _png(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def board() -> bytes:
    return _png(text_fixtures.small_writing())


def _subject(data: bytes, settings: Settings, scenes: tuple[str, ...] = ()) -> Subject:
    subject = Subject(Item("board.png", data, hashlib.sha256(data).hexdigest(), "image/png"), settings)
    subject.facts.scenes = list(scenes)
    return subject


def _read(data: bytes, **kw: Any) -> tuple[set[str], dict[str, float]]:
    settings = Settings(ocr_engine="rapidocr", sections={"text": {"codenames": ["FALCON"]}}, **kw)
    subject = _subject(data, settings)
    found = {f.rule_id for f in TextDetector(settings, EngineSet(settings)).detect(subject)}
    return found, subject.facts.timings


def test_defaults_cap_detection_and_look_again() -> None:
    s = Settings()
    assert (s.ocr_det_side, s.ocr_det_recheck) == (736, 4)
    engine = RapidOcrEngine(det_side=s.ocr_det_side)
    assert engine.capped((2000, 1500)) and not engine.capped((600, 600))  # shown at 736 x 736 as before
    assert not RapidOcrEngine(det_side=0).capped((2000, 1500))


def test_small_writing_is_found_by_the_second_look(board: bytes) -> None:
    rules, timings = _read(board)  # the defaults: 736 px, 1 line read (< 4), then the whole picture
    assert "text.secret" in rules and timings["text.ocr.full"] > 0
    assert "text.secret" in _read(board, ocr_det_side=0)[0]  # uncapped, as before
    rules, timings = _read(board, ocr_det_side=960, ocr_det_recheck=0)  # the cap alone loses it
    assert "text.secret" not in rules and "text.ocr.full" not in timings


def test_the_second_look_is_skipped_where_enough_was_read() -> None:
    data = _png(text_fixtures.whiteboard().resize((2000, 1375)))  # 4 large lines, read under the cap
    rules, timings = _read(data)
    assert "text.codename" in rules and "text.ocr.full" not in timings


class _Spy:
    """Records which read the detector asked for (the seam between detector and a capped engine)."""

    name = "spy"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def capped(self, size: tuple[int, int]) -> bool:
        return True

    def shrink(self, size: tuple[int, int]) -> float:
        return 2.0

    def read(self, image: Any) -> OcrResult:
        self.calls.append("read")
        return OcrResult(self.name, (Word("hello", 0.9, Region(0, 0, 50, 10)),), image.size)

    def read_full(self, image: Any) -> OcrResult:
        self.calls.append("full")
        return OcrResult(self.name, (Word("hello", 0.9, Region(0, 0, 50, 10)),), image.size)

    def read_dense(self, image: Any) -> OcrResult:
        return self.read(image)

    def read_more(self, image: Any, first: OcrResult) -> OcrResult:
        self.calls.append("full")
        return OcrResult(self.name, (Word("hello", 0.9, Region(0, 0, 50, 10)),), image.size)

    def for_screens(self) -> Any:
        return self


@pytest.mark.parametrize(("scenes", "recheck", "calls"), [
    ((), 4, ["read", "full"]),  # fewer lines than the recheck limit on a big board
    ((), 1, ["read", "full"]),  # enough lines, but the board is not explained (no whiteboard, receipt, till)
    ((), 0, ["read"]), (("whiteboard",), 4, ["full"]),
])
def test_which_reads_run(board: bytes, scenes: tuple[str, ...], recheck: int, calls: list[str]) -> None:
    spy = _Spy()
    assert isinstance(spy, CappedOcrEngine)
    settings = Settings(ocr_engine="rapidocr", ocr_det_recheck=recheck)
    detector = TextDetector(settings, EngineSet(settings, ocr=(spy,)))
    detector.detect(_subject(board, settings, scenes))
    assert spy.calls == calls


@pytest.mark.parametrize(("env", "match"), [({"LEAKSCAN_OCR_DET_RECHECK": "-1"}, ">= 0"),
                                            ({"LEAKSCAN_OCR_DET_RECHECK": "2.5"}, "whole")])
def test_bad_recheck_is_a_config_error(env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_settings(None, env=env)
    assert build_settings(None, env={"LEAKSCAN_OCR_DET_RECHECK": "0"}).ocr_det_recheck == 0
