"""Cheaper RapidOCR reads (issue 12 part 4, docs/ocr.md "Cost"): a narrower recognition input for short lines
(`ocr_rec_width`) and a second look that recognises only the lines the first read missed (`read_more`).

Real RapidOCR on rendered pictures; the recognition network's inputs are counted by wrapping RapidOCR's own
resize step (one call per text line, its output is the network's input).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fixtures import png_bytes, text_fixtures
from fixtures.text_fixtures import font
from scanner.config import Settings, build_settings
from scanner.detectors.text import RECHECK_SHRINK, TextDetector
from scanner.engines import EngineSet
from scanner.engines.ocr import CappedOcrEngine, OcrResult, Word, build_engine, build_ocr
from scanner.engines.rapid import DENSE_SIDE, FULL_SIDE, NARROW_REC_WIDTH, REC_WIDTH, RapidOcrEngine
from scanner.errors import ConfigError
from scanner.model import Item, Region
from scanner.subject import Subject

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
    default = RapidOcrEngine(det_side=960, rec_width=REC_WIDTH)
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


class _Capped:
    """A capped engine that reports how much smaller detection saw the picture (the detector's seam)."""

    name = "spy"

    def __init__(self, shrink: float) -> None:
        self.factor = shrink
        self.calls: list[str] = []

    def capped(self, size: tuple[int, int]) -> bool:
        return self.factor > 1.0

    def shrink(self, size: tuple[int, int]) -> float:
        return self.factor

    def read(self, image: Any) -> OcrResult:
        self.calls.append("read")
        return OcrResult(self.name, (Word("hello", 0.9, Region(0, 0, 50, 10)),), image.size)

    def read_full(self, image: Any) -> OcrResult:
        self.calls.append("full")
        return self.read(image)

    def read_dense(self, image: Any) -> OcrResult:
        self.calls.append("dense")
        return self.read(image)

    def read_more(self, image: Any, first: OcrResult) -> OcrResult:
        self.calls.append("more")
        return first

    def for_screens(self) -> Any:
        return self


@pytest.mark.parametrize(("shrink", "calls"), [(1.02, ["read"]), (1.4, ["read"]), (2.0, ["read", "more"])])
def test_no_second_look_where_the_cap_hardly_shrank_the_picture(shrink: float, calls: list[str]) -> None:
    """A 500 x 375 photo is shown at 981 px by RapidOCR's default and at 960 under the cap: looking again at 981 px
    costs a whole detection for 2% more pixels. Only a picture seen RECHECK_SHRINK times smaller or more is
    looked at again (the board of the small-writing fixture: 2000 px seen at 960)."""
    data = png_bytes(text_fixtures.small_writing())
    settings = Settings(ocr_engine="rapidocr")
    spy = _Capped(shrink)
    assert isinstance(spy, CappedOcrEngine)
    subject = Subject(Item("board.png", data, hashlib.sha256(data).hexdigest(), "image/png"), settings)
    TextDetector(settings, EngineSet(settings, ocr=(spy,))).detect(subject)
    assert spy.calls == calls


def test_shrink_is_the_default_view_over_the_cap() -> None:
    engine = RapidOcrEngine(det_side=960)
    assert engine.shrink((500, 375)) == pytest.approx(500 * 736 / 375 / 960)  # shown at 981 x 736 by default
    assert engine.shrink((2000, 1500)) == pytest.approx(2000 / 960)
    assert engine.shrink((600, 400)) >= 1.0 and RapidOcrEngine(det_side=0).shrink((2000, 1500)) == 1.0
    assert RECHECK_SHRINK == 1.5


@pytest.mark.parametrize(("scenes", "first"), [((), "read"), (("document",), "dense"), (("screen",), "dense")])
def test_pages_of_small_print_keep_the_wider_view(scenes: tuple[str, ...], first: str) -> None:
    """Under the 736 px default a receipt's phone number was misread (sroie__241): pictures the visual cues call a
    document or a screen are detected under a cap of at least DENSE_SIDE (960 px); other photos at 736."""
    data = png_bytes(text_fixtures.receipt("en"))
    settings = Settings(ocr_engine="rapidocr", ocr_det_recheck=0)
    spy = _Capped(1.2)
    subject = Subject(Item("receipt.png", data, hashlib.sha256(data).hexdigest(), "image/png"), settings)
    subject.facts.scenes = list(scenes)
    TextDetector(settings, EngineSet(settings, ocr=(spy,))).detect(subject)
    assert spy.calls[0] == first and spy.calls.count("dense") == (first == "dense")  # later reads: notes, rotations


def test_read_dense_caps_detection_at_960() -> None:
    engine = RapidOcrEngine(det_side=736)
    det = engine._ocr._load_det_model()
    image = text_fixtures.receipt("en").resize((1000, 2000))
    assert engine.read(image).words and (det.limit_type, det.limit_side_len) == ("max", 736)
    assert engine.read_dense(image).words and (det.limit_type, det.limit_side_len) == ("max", DENSE_SIDE)
    assert DENSE_SIDE == 960 and engine.shrink((1000, 2000), DENSE_SIDE) == pytest.approx(2000 / 960)
    assert RapidOcrEngine(det_side=1280).shrink((1000, 2000), DENSE_SIDE) == pytest.approx(2000 / 1280)


def test_onnxruntime_reuses_its_buffers() -> None:
    """The CPU memory arena is on (RapidOCR turns it off): the same text, 1.11x faster OCR on dev (docs/ocr.md)."""
    engine = RapidOcrEngine(det_side=736)
    for model in (engine._ocr._load_det_model(), engine._ocr._load_rec_model()):
        assert model.session.session.get_session_options().enable_cpu_mem_arena
    plain = RapidOcrEngine(det_side=736, **{"EngineConfig.onnxruntime.enable_cpu_mem_arena": False})
    image = text_fixtures.receipt("en")
    assert [(w.text, w.box) for w in engine.read(image).words] == [(w.text, w.box) for w in plain.read(image).words]


def test_screens_are_recognised_at_full_width_and_other_pictures_narrower(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default recognition input is NARROW_REC_WIDTH (160 px) wide at least; a picture the visual cues call a
    screen goes through `for_screens` (320 px): at 160 px a till screen's keypad lost a digit (docs/ocr.md). The
    copy shares RapidOCR's objects with the engine, and each read sets the width it needs."""
    image = _amounts()
    engine = build_engine("rapidocr", Settings())
    assert isinstance(engine, RapidOcrEngine) and engine.rec_width == NARROW_REC_WIDTH == 160
    widths = _inputs(engine, monkeypatch)
    screens = engine.for_screens()
    assert screens._ocr is engine._ocr and screens.for_screens() is screens
    assert sorted(w.text for w in screens.read(image).words) == sorted(w.text for w in engine.read(image).words)
    half = len(widths) // 2
    assert half and min(widths[:half]) == REC_WIDTH and max(widths[half:]) < REC_WIDTH
    wide = RapidOcrEngine(det_side=736, rec_width=REC_WIDTH)
    assert wide.for_screens() is wide


@pytest.mark.parametrize(("scenes", "narrowest"), [((), NARROW_REC_WIDTH), (("document",), NARROW_REC_WIDTH),
                                                   (("screen",), REC_WIDTH), (("document", "screen"), REC_WIDTH)])
def test_the_detector_reads_screens_at_full_width(scenes: tuple[str, ...], narrowest: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    data = png_bytes(_amounts())
    settings = Settings(ocr_engine="rapidocr")
    engines = EngineSet(settings)
    engine = engines.get("ocr", build_ocr)[0]
    widths = _inputs(engine, monkeypatch)
    subject = Subject(Item("till.png", data, hashlib.sha256(data).hexdigest(), "image/png"), settings)
    subject.facts.scenes = list(scenes)
    TextDetector(settings, engines).detect(subject)
    assert widths and min(widths) == narrowest


def test_the_whole_picture_is_detected_at_1600_px_at_most() -> None:
    """read_full and read_more (the whiteboard read and the second look) show detection a 2000 px picture at FULL_SIDE:
    1.2x cheaper on dev's boards and photos with the same rules (at 1280 a board's writing was lost, docs/ocr.md). A
    smaller picture keeps RapidOCR's default view; without a cap (`ocr_det_side = 0`) nothing is capped."""
    engine = RapidOcrEngine(det_side=736)
    det = engine._ocr._load_det_model()
    board = text_fixtures.small_writing()
    assert max(board.size) == 2000
    first = engine.read(board)
    assert (det.limit_type, det.limit_side_len) == ("max", 736)
    more = engine.read_more(board, first)
    assert (det.limit_type, det.limit_side_len) == ("max", FULL_SIDE) and FULL_SIDE == 1600
    assert any("pw:" in w.text for w in more.words)  # the small writing the second look is for
    engine.read_full(board.resize((1000, 700)))
    assert (det.limit_type, det.limit_side_len) == ("min", 736)
    uncapped = RapidOcrEngine(det_side=0)
    uncapped.read_more(board, first)
    assert uncapped._ocr._load_det_model().limit_type == "min"


def test_detection_input_is_scaled_in_float32_to_the_same_numbers() -> None:
    """RapidOCR scales the detection input with float64 arithmetic; the engine's float32 version (about 2% of a
    whole dev scan) gives the same float32 number for every byte value, and the same words and boxes."""
    from rapidocr.ch_ppocr_det.utils import DetPreProcess

    engine = RapidOcrEngine(det_side=736)
    det = engine._ocr._load_det_model()
    ours = det.get_preprocess()
    assert type(ours) is not DetPreProcess and isinstance(ours, DetPreProcess)
    theirs = DetPreProcess(det.limit_side_len, det.limit_type, det.mean, det.std)
    every_byte = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    expected = theirs.normalize(every_byte).astype(np.float32)
    got = ours.normalize(every_byte)
    assert got.dtype == np.float32 and np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    image = text_fixtures.receipt("en")
    plain = RapidOcrEngine(det_side=736)
    plain_det = plain._ocr._load_det_model()
    plain_det.get_preprocess = lambda: DetPreProcess(plain_det.limit_side_len, plain_det.limit_type,
                                                     plain_det.mean, plain_det.std)
    assert [(w.text, w.box) for w in engine.read(image).words] == [(w.text, w.box) for w in plain.read(image).words]


def test_other_input_scalings_keep_rapidocrs_own_arithmetic() -> None:
    """The float32 shortcut holds for mean and std 0.5 only; other values keep RapidOCR's preprocessor."""
    from rapidocr.ch_ppocr_det.utils import DetPreProcess

    engine = RapidOcrEngine(det_side=736, **{"Det.mean": [0.485, 0.456, 0.406], "Det.std": [0.229, 0.224, 0.225]})
    assert type(engine._ocr._load_det_model().get_preprocess()) is DetPreProcess


def test_the_gate_locates_on_the_finders_copy_in_the_pixels_of_the_picture() -> None:
    """The text-presence gate is shown the note finders' 640 px copy (not a second copy made from the 2000 px
    picture) and gives its boxes in the picture's pixels: about where the same lines are found on the picture."""
    from scanner.engines.rapid import RapidTextLocator
    from scanner.media import shrunk

    picture = text_fixtures.receipt("en").resize((1240, 1800))
    small = shrunk(picture, 640)
    gate = RapidTextLocator()
    direct, via_copy = gate.locate(picture), gate.locate(small, picture.size)
    assert len(direct) >= 5 and len(via_copy) == len(direct)
    for a in direct:
        b = min(via_copy, key=lambda r: abs(r.x - a.x) + abs(r.y - a.y))
        assert abs(a.x - b.x) <= 12 and abs(a.y - b.y) <= 12 and abs(a.w - b.w) <= 24 and abs(a.h - b.h) <= 12
    assert max(r.y + r.h for r in via_copy) > 1000  # picture pixels, not the copy's (640 px high)
