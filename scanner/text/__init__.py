"""Text rules over OCR output: normalise, validate, match, score. Pure functions, no OCR here.

    page.py        words -> lines with char spans -> pixel boxes; the Hit record
    normalize.py   NFKC, look-alike folding, digit repair, confusion-tolerant skeletons
    validators.py  Luhn, IIN ranges, IBAN mod-97
    mask.py        masked / hashed evidence (never the value)
    rules.py       rule tables from scanner/rules/text.toml + the policy's [text] section
    match.py       cards, IBAN, e-mail, phone, secrets, tokens, codenames, custom patterns
    scoring.py     receipt and POS-screen scores from multi-language signals
    board.py       whiteboard layout score (text on a large smooth board area; marks alone when unread)
    notes.py       single sticky notes to read (colour, shape, ink; the turn that stands each upright)
    wall.py        walls of sticky notes, counted by colour, shape and ink even when unread
"""

from __future__ import annotations

from .match import find_hits
from .page import Hit, Line, Page, build_page
from .rules import TextRules, load_rules

__all__ = ["Hit", "Line", "Page", "TextRules", "build_page", "find_hits", "load_rules"]
