"""Till screens and card terminals (issue 13): the Cyrillic reread, the till words, the terminal cue.

The end-to-end tests scan the project's generated fixtures (fixtures/pos_fixtures.py) with every
detector and the real engines (RapidOCR, Tesseract ukr+rus, the EfficientNet classifier, OpenCV).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures import pos_fixtures, text_fixtures
from scanner.api import scan
from scanner.config import Settings
from scanner.model import Decision, FileReport, Severity
from scanner.text import find_hits, load_rules
from scanner.text.page import page_from_text
from scanner.text.till import wants_cyrillic
from scanner.visual.terminal import TERMINAL_CLASSES, TERMINAL_MIN, keypad_box, terminal_score

RULES = load_rules(None)


def _cyrillic_data() -> bool:
    try:
        import pytesseract

        return {"ukr", "rus"} <= set(pytesseract.get_languages(config=""))
    except Exception:
        return False


@pytest.fixture(scope="module")
def pfx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return pos_fixtures.build(tmp_path_factory.mktemp("pos_fixtures"))


# -- the till words (synthetic pages, no OCR) ----------------------------------------------------
TILL_PAGES = [
    # as Tesseract ukr+rus reads a Ukrainian shift report: Cyrillic and Latin look-alikes mixed
    ("uk shift report", "Пoчatok зmihи 22-05-2023\nKopиctybaч Aдmihictpatop\nПpoдaж 22.0\nПobephehhя 0.0\n"
                        "Bиpyчka гotibkoю 22.0\nЗaлишok b kaci 1342.0"),
    ("ru shift report", "Отчет о смене\nКассир Иванова\nВыручка 15 420.50\nНаличные 8 200.00\nВозврат 0.00"),
    ("fr till closing", "Caisse 2 - Clôture de caisse\nVentes du jour 1 284,50\nNombre de tickets 96\n"
                        "Espèces 412,00\nCarte bancaire 872,50"),
]


@pytest.mark.parametrize(("label", "text"), TILL_PAGES, ids=[t[0] for t in TILL_PAGES])
def test_till_words_score_as_a_till_screen(label: str, text: str) -> None:
    assert "text.pos_screen" in {h.rule_id for h in find_hits(page_from_text(text), RULES)}


def test_a_french_receipt_is_not_a_till_screen() -> None:
    text = "SUPERMARCHE\nPain 1,20\nLait 0,95\nTOTAL TTC 2,15\nEspèces 5,00\nRendu 2,85\nMerci"
    assert "text.pos_screen" not in {h.rule_id for h in find_hits(page_from_text(text), RULES)}


# -- when the Cyrillic reread runs -----------------------------------------------------------------
def test_amounts_without_labels_want_a_cyrillic_reread() -> None:
    # what RapidOCR's packaged model reads of a Ukrainian shift report: the amounts only
    assert wants_cyrillic(page_from_text("22-05-2023 08:22:29\n320.0 rp\n22.0\n0.0\n22.0\n0.0\n1000.0\n1342.0 rpH"))


@pytest.mark.parametrize("text", [
    "Kassenbon\nBrot 2,49\nMilch 1,19\nSUMME EUR 3,68\nBar 5,00\nRückgeld 1,32",  # labels were read
    "Hello world\nsee you at 10",  # no amounts
    "12.50\n3.99",  # too few lines
])
def test_pages_with_readable_labels_are_not_reread(text: str) -> None:
    assert not wants_cyrillic(page_from_text(text))


# -- the terminal cue --------------------------------------------------------------------------------
def _probs(**by_index: float) -> np.ndarray:
    p = np.full(1000, 1e-4, dtype=np.float32)
    for key, value in by_index.items():
        p[int(key.strip("c"))] = value
    return p


def test_atm_and_kiosk_classes_make_a_terminal_cue() -> None:
    atm = next(i for i, n in TERMINAL_CLASSES.items() if n == "ATM")
    assert terminal_score(_probs(**{f"c{atm}": 0.5})) == (pytest.approx(0.5, abs=1e-3), "ATM")
    assert terminal_score(_probs(**{f"c{atm}": TERMINAL_MIN - 0.02})) is None  # too weak
    assert terminal_score(_probs(**{f"c{atm}": 0.25, "c782": 0.6})) is None  # a screen is the top class


def test_keypad_under_a_display_is_found(pfx: dict[str, Path]) -> None:
    box = keypad_box(Image.open(pfx["card_terminal"]))
    assert box is not None
    assert 200 <= box.x <= 320 and 400 <= box.y <= 480  # around the drawn keypad (x 290, y 450 of 900x1200)


@pytest.mark.parametrize("name", ["calculator", "keyboard", "shift_report_uk"])
def test_keypads_that_are_not_card_terminals(pfx: dict[str, Path], name: str) -> None:
    assert keypad_box(Image.open(pfx[name])) is None


def test_a_till_screens_on_screen_keypad_is_not_a_card_terminal() -> None:
    assert keypad_box(text_fixtures.pos_screen()) is None


# -- end to end: every detector, real engines ----------------------------------------------------
@pytest.fixture(scope="module")
def reports(pfx: dict[str, Path]) -> dict[str, FileReport]:
    out = scan([pfx[n] for n in ("shift_report_uk", "till_fr", "card_terminal", "calculator", "keyboard")],
               Settings(device="cpu", jobs=1))
    return {Path(r.path).stem: r for r in out.files}


def _rules(report: FileReport) -> set[str]:
    return {f.rule_id for part in report.walk() for f in part.findings if f.severity > Severity.INFO}


@pytest.mark.slow
@pytest.mark.skipif(not _cyrillic_data(), reason="tesseract-ocr-ukr / tesseract-ocr-rus not installed")
def test_ukrainian_shift_report_is_a_till_screen(reports: dict[str, FileReport]) -> None:
    report = reports["shift_report_uk"]
    assert "text.pos_screen" in _rules(report)
    assert report.decision is not Decision.APPROVE


@pytest.mark.slow
def test_french_till_screen_is_a_till_screen(reports: dict[str, FileReport]) -> None:
    assert "text.pos_screen" in _rules(reports["till_fr"])


@pytest.mark.slow
def test_card_terminal_is_held_for_review(reports: dict[str, FileReport]) -> None:
    report = reports["card_terminal"]
    assert "visual.card_terminal" in _rules(report)
    assert report.decision is not Decision.APPROVE


@pytest.mark.slow
@pytest.mark.parametrize("name", ["calculator", "keyboard"])
def test_calculator_and_keyboard_stay_approved(reports: dict[str, FileReport], name: str) -> None:
    assert reports[name].decision is Decision.APPROVE, _rules(reports[name])
