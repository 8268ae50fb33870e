"""The text detector with real Tesseract and real RapidOCR on the project's rendered fixtures."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from fixtures import text_fixtures
from scanner.config import Settings
from scanner.detectors.text import TextDetector
from scanner.engines import EngineSet
from scanner.errors import EngineUnavailable, ScannerError
from scanner.model import Finding, Item, Severity
from scanner.subject import Subject

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tfx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return text_fixtures.build(tmp_path_factory.mktemp("text_fixtures"))


def _detector(engine: str, **sections: Any) -> TextDetector:
    settings = Settings(ocr_engine=engine, sections={"text": sections} if sections else {})
    return TextDetector(settings, EngineSet(settings))


@pytest.fixture(scope="module")
def rapid() -> TextDetector:
    return _detector("rapidocr", codenames=["FALCON"])


@pytest.fixture(scope="module")
def tess() -> TextDetector:
    return _detector("tesseract")


def scan(detector: TextDetector, path: Path) -> tuple[list[Finding], Subject]:
    data = path.read_bytes()
    subject = Subject(Item(str(path), data, hashlib.sha256(data).hexdigest(), "image/png"), detector.settings)
    return detector.detect(subject), subject


def ids(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings}


@pytest.mark.parametrize(
    ("name", "rule"),
    [("receipt_nl", "text.receipt"), ("receipt_de", "text.receipt"), ("receipt_en", "text.receipt"),
     ("receipt_de_photo", "text.receipt"), ("pos_screen", "text.pos_screen"), ("sticky_wifi", "text.secret"),
     ("sticky_wifi_photo", "text.secret"), ("card_pan", "text.payment_card"), ("card_pan_photo", "text.payment_card"),
     ("whiteboard_codename", "text.codename"), ("whiteboard_codename", "text.whiteboard"),
     ("sticky_small", "text.secret")],
)
def test_rapidocr_finds(rapid: TextDetector, tfx: dict[str, Path], name: str, rule: str) -> None:
    findings, subject = scan(rapid, tfx[name])
    assert rule in ids(findings)
    assert "text.ocr.rapidocr" in subject.facts.timings
    assert all(f.detector == "text" and f.location == "ocr" and f.region for f in findings)


@pytest.mark.parametrize(("name", "rule"), [("card_pan", "text.payment_card"), ("receipt_de", "text.receipt")])
def test_tesseract_finds(tess: TextDetector, tfx: dict[str, Path], name: str, rule: str) -> None:
    findings, subject = scan(tess, tfx[name])
    assert rule in ids(findings)
    assert "text.ocr.tesseract" in subject.facts.timings


def test_textless_photo_skips_recognition(rapid: TextDetector, tfx: dict[str, Path]) -> None:
    findings, subject = scan(rapid, tfx["textless_photo"])
    assert findings == []
    assert "text.gate" in subject.facts.timings
    assert "text.ocr.rapidocr" not in subject.facts.timings
    assert subject.facts.text_notes == 0


def test_small_sticky_note_is_read_from_its_crop(rapid: TextDetector, tfx: dict[str, Path]) -> None:
    """~11 px letters on a 90 px note in a 1600 px photo: found by colour, read enlarged, boxed on the note."""
    findings, subject = scan(rapid, tfx["sticky_small"])
    secret = next(f for f in findings if f.rule_id == "text.secret")
    assert subject.facts.text_notes == 1 and "text.notes" in subject.facts.timings
    assert secret.region and 1300 < secret.region.x < 1420 and 590 < secret.region.y < 700
    assert text_fixtures.WIFI_PASSWORD not in repr(findings) + repr(subject.facts)


def test_whiteboard_scene_hint_adds_evidence(rapid: TextDetector, tfx: dict[str, Path]) -> None:
    data = tfx["whiteboard_codename"].read_bytes()
    subject = Subject(Item("wb.png", data, hashlib.sha256(data).hexdigest(), "image/png"), rapid.settings)
    subject.facts.scenes = ["whiteboard"]
    board = next(f for f in rapid.detect(subject) if f.rule_id == "text.whiteboard")
    assert "whiteboard scene" in board.message and board.severity is Severity.MEDIUM


def test_codename_message_and_severity(rapid: TextDetector, tfx: dict[str, Path]) -> None:
    findings, _ = scan(rapid, tfx["whiteboard_codename"])
    hit = next(f for f in findings if f.rule_id == "text.codename")
    assert hit.severity is Severity.HIGH
    assert hit.message.startswith("project codename 'FALCON'")


def test_card_region_in_oriented_full_size_pixels(rapid: TextDetector, tfx: dict[str, Path]) -> None:
    """Pixels stored sideways with EXIF orientation 6: the box is in the upright 856x540 picture."""
    upright, _ = scan(rapid, tfx["card_pan"])
    turned, _ = scan(rapid, tfx["card_pan_exif6"])
    a = next(f.region for f in upright if f.rule_id == "text.payment_card")
    b = next(f.region for f in turned if f.rule_id == "text.payment_card")
    assert a and b and abs(a.x - b.x) < 15 and abs(a.y - b.y) < 15 and abs(a.w - b.w) < 25
    assert 250 < a.y < 380 and a.w > 400  # the number line of the rendered card


def test_full_card_number_never_leaks(rapid: TextDetector, tess: TextDetector, tfx: dict[str, Path]) -> None:
    pan = text_fixtures.CARD_PAN
    variants = {pan, pan.replace(" ", ""), pan.replace(" ", "-"), pan[:-5]}
    for detector in (rapid, tess):
        for name in ("card_pan", "card_pan_photo"):
            findings, subject = scan(detector, tfx[name])
            card = next(f for f in findings if f.rule_id == "text.payment_card")
            assert card.evidence["masked"] == "**** " + pan[-4:]
            assert card.message.startswith(f"payment card number ending {pan[-4:]}")
            outputs = [json.dumps([f.to_dict() for f in findings]), repr(findings), str(findings),
                       " ".join(f.message for f in findings), repr(subject.facts)]
            for out in outputs:
                for v in variants:
                    assert v not in out


def test_sticky_password_never_leaks(rapid: TextDetector, tfx: dict[str, Path]) -> None:
    findings, subject = scan(rapid, tfx["sticky_wifi"])
    blob = json.dumps([f.to_dict() for f in findings]) + repr(findings) + repr(subject.facts)
    assert text_fixtures.WIFI_PASSWORD not in blob
    assert any(f.message == "password written next to 'pw'" for f in findings)


def test_engine_errors_do_not_carry_text(tfx: dict[str, Path]) -> None:
    class Broken:
        name = "broken"

        def read(self, image: object) -> object:
            raise ValueError("4539 1488 0343 6467")

    settings = Settings(ocr_engine="rapidocr")
    detector = TextDetector(settings, EngineSet(settings, ocr=(Broken(),)))
    with pytest.raises(ScannerError) as info:
        scan(detector, tfx["card_pan"])
    assert "4539" not in str(info.value) and info.value.__cause__ is None


def test_rapidocr_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    from rapidocr.utils import download_file

    from scanner.engines import rapid

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("download attempted")

    monkeypatch.setattr(download_file.DownloadFile, "run", refuse)
    rapid.RapidOcrEngine()
    rapid.RapidTextLocator()


def test_missing_weights_are_engine_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from scanner.engines import rapid

    monkeypatch.setattr(rapid, "model_dir", lambda: tmp_path)
    with pytest.raises(EngineUnavailable):
        rapid.RapidOcrEngine()


def test_missing_tesseract_language_is_engine_unavailable() -> None:
    from scanner.engines.tesseract import TesseractEngine

    with pytest.raises(EngineUnavailable):
        TesseractEngine(lang="eng+xyz")
