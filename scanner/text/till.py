"""Till screens in Cyrillic: when RapidOCR reads a page's amounts but not its labels, reread it with Tesseract.

RapidOCR's packaged recogniser (PP-OCR, Latin + Chinese) drops Cyrillic words: a Ukrainian shift
report comes back as a column of amounts (`320.0`, `22.0`, `1342.0`) with no words beside them.
`wants_cyrillic` spots that shape cheaply (several lines ending in an amount, hardly a letter read)
and the text detector then reads the picture once more with Tesseract's `ukr+rus` data (Debian
packages tesseract-ocr-ukr and tesseract-ocr-rus), whose words the till rule (`text.pos_screen`)
scores like any other page. Pictures with readable Latin text, and textless ones, never pay for it.
"""

from __future__ import annotations

from ..config import Settings
from ..engines.ocr import OcrEngine
from .page import Page
from .scoring import price_lines

CYRILLIC_LANG = "ukr+rus+eng"
MIN_AMOUNT_LINES = 3  # a till page shows several amounts
MAX_LETTERS_PER_LINE = 3.0  # fewer letters than this per line read: the labels were not read


def wants_cyrillic(page: Page) -> bool:
    """Amounts read but not the words beside them: the labels are in a script the engine cannot read."""
    if len(page.lines) < MIN_AMOUNT_LINES or len(price_lines(page)) < MIN_AMOUNT_LINES:
        return False
    letters = sum(ch.isalpha() for line in page.lines for ch in line.text)
    return letters < MAX_LETTERS_PER_LINE * len(page.lines)


def build_cyrillic(settings: Settings) -> OcrEngine:
    """Tesseract with Ukrainian + Russian (+ English for the odd Latin word); EngineUnavailable without them."""
    from ..engines.tesseract import TesseractEngine

    return TesseractEngine(lang=CYRILLIC_LANG)
