"""The pattern rules over named text fields (metadata values and keys; later document text), not pictures.

All fields of one item form one synthetic page, a line per field line, so page-wide context (a
"valid thru" in one field makes a card-shaped number in another a card) works as on a photo, and
each hit is mapped back to the field it came from. Layout rules (receipt, POS screen, whiteboard)
judge a picture's layout and are not applied here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..engines.ocr import Word
from ..model import Region
from .match import find_hits
from .normalize import fold
from .page import Hit, Line, Page
from .rules import RULE_IDS, TextRules

LAYOUT_RULES = frozenset({"text.receipt", "text.pos_screen", "text.whiteboard"})
PATTERN_RULES: tuple[str, ...] = tuple(r for r in RULE_IDS if r not in LAYOUT_RULES)
_LINE_HEIGHT = 20  # page_from_text's default: line n of the page starts at y = n * 20
_CHAR_WIDTH = 10  # each token is 10 px a character wide (see _page)


@dataclass(frozen=True, slots=True)
class FieldHit:
    """A rule that fired on the text of one field (`field` is an index into the fields given)."""

    field: int
    hit: Hit
    touched: tuple[int, ...] = ()  # every field the hit's text runs through (a keyword in one, its value in the next)
    column: int = -1  # where the hit starts in its field's first line (characters); -1: on a later line


def field_hits(fields: Iterable[str], rules: TextRules) -> list[FieldHit]:
    """Every pattern-rule hit over the given texts, each tied to the text it starts in.

    A text may span several lines; blank lines are dropped. A hit that runs from one field into the
    next (a keyword at the end of one, its value in the next) belongs to the first.
    """
    lines: list[str] = []
    owner: list[int] = []
    for index, text in enumerate(fields):
        for raw in text.splitlines():
            if raw.split():
                lines.append(raw)
                owner.append(index)
    if not lines:
        return []
    page = _page(lines)
    out = []
    for hit in find_hits(page, rules):
        if hit.rule_id in LAYOUT_RULES:
            continue
        row = min(len(owner) - 1, max(0, hit.box.y // _LINE_HEIGHT)) if hit.box is not None else 0
        last = min(len(owner) - 1, max(row, (hit.box.y + hit.box.h - 1) // _LINE_HEIGHT)) if hit.box else row
        first_line = row == 0 or owner[row - 1] != owner[row]
        column = hit.box.x // _CHAR_WIDTH if hit.box is not None and first_line else -1
        out.append(FieldHit(owner[row], hit, tuple(dict.fromkeys(owner[row : last + 1])), column))
    return out


def _page(lines: list[str]) -> Page:
    """A page whose lines are exactly `lines` (no geometric grouping: that is quadratic in words per line)."""
    built = []
    width = 1
    for row, raw in enumerate(lines):
        words, spans, parts, x, pos = [], [], [], 0, 0
        for token in raw.split():
            words.append(Word(token, 1.0, Region(x, row * _LINE_HEIGHT, _CHAR_WIDTH * len(token), _LINE_HEIGHT - 4)))
            folded = fold(token)
            parts.append(folded)
            spans.append((pos, pos + len(folded)))
            pos += len(folded) + 1
            x += _CHAR_WIDTH * (len(token) + 1)
        width = max(width, x)
        built.append(Line(tuple(words), " ".join(parts), tuple(spans)))
    return Page(tuple(built), (width, _LINE_HEIGHT * len(lines)), ocr=False)
