"""Text in pictures (OCR): payment cards, IBAN, contacts, secrets, codenames, receipts, POS screens, whiteboards.

Cheap by construction: the picture is decoded at <= 2000 px, a ~60 ms detection-only pass
(the text-presence gate) lets pictures without text skip recognition, small text is scaled
up, and rotations are tried only when text was located but not read. Sticky notes, whose small
writing the gate cannot see, are found by colour and shape (`text/notes.py`) and read from
enlarged crops turned upright; a wall of notes is a finding even unread (`text/wall.py`), and so
is a board covered in located but unread writing (`text/board.py`). Per-stage seconds go to
`subject.facts.timings`. Findings carry masked/hashed evidence and boxes in the pixels of the full
oriented image. The reading steps themselves (which view, notes, small text, rotations) are in
`text/reading.py`; this module decides when each runs and applies the rules.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from ..config import Settings
from ..engines import EngineSet
from ..engines.ocr import CappedOcrEngine, OcrEngine, OcrResult, TextLocator, Word, build_locator, build_ocr
from ..errors import EngineError, EngineUnavailable, ScannerError
from ..formats import TEXT_KIND, decode_text
from ..media import shrunk
from ..model import Finding, Region, SkippedCheck
from ..subject import Subject
from ..text import Hit, TextRules, build_page, find_hits, load_rules
from ..text.board import BIG_BOARD, board_mask, layout_whiteboard, score_whiteboard
from ..text.fields import LAYOUT_RULES, field_hits
from ..text.markup import html_to_text, looks_like_markup
from ..text.notes import FIND_SIDE, find_notes
from ..text.reading import (
    NOT_A_LAYOUT_BOARD,
    NOTE_SIDE,
    WORK_SIDE,
    best_rotation,
    first_read,
    read_note,
    scaled,
    unreadable,
)
from ..text.rules import RULE_IDS
from ..text.till import build_cyrillic, wants_cyrillic
from ..text.wall import find_wall, notes_to_read, wall_hit, words_on

if TYPE_CHECKING:
    from PIL import Image

LINE_SHAPE = 6  # a located box this many times longer than high (or high than long) is a line of text
RECHECK_SHRINK = 1.5  # the second look only where detection saw the picture at least this many times smaller
TEXT_SCENES = {"document", "screen", "whiteboard"}
NOT_A_BOARD = ("text.receipt", "text.pos_screen")  # a page that is one of these is not also a whiteboard
T = TypeVar("T")


def _timed(timings: dict[str, float], name: str, fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    try:
        return fn()
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def _board_explained(hits: list[Hit]) -> bool:
    """The page is already a whiteboard, a receipt or a till screen: a board in it needs no other reading."""
    return any(h.rule_id in (*NOT_A_BOARD, "text.whiteboard") for h in hits)


def _text_like(boxes: list[Region], size: tuple[int, int]) -> list[Region]:
    """Drop located "lines" that cover a fifth of the picture and are not line-shaped: texture, not text.

    A line of text is long and thin: in a picture that is itself one or two lines (a banner, a
    cropped sentence) each line covers far more than a fifth and is still text.
    """
    limit = 0.2 * size[0] * size[1]
    return [b for b in boxes if b.w * b.h < limit or max(b.w, b.h) >= LINE_SHAPE * min(b.w, b.h)]


class TextDetector:
    """Runs the configured OCR engine(s) and the text rules on one picture."""

    id = "text"
    kinds = ("image/", TEXT_KIND)  # media-type prefixes it looks at (what is left unread when it is not selected)
    needs = frozenset({"scenes"})
    provides = frozenset({"text_notes", "text_located", "text_present"})
    pictures = ((WORK_SIDE, False),)  # what it asks its Subject for
    rules = RULE_IDS  # every rule id it may report; the tables are `self.table`

    def __init__(self, settings: Settings, engines: EngineSet) -> None:
        self.settings = settings
        self.engines = engines
        # a bad [text] table is a ConfigError here, not mid-scan
        self.table: TextRules = load_rules(settings.sections.get("text"), settings.hash_key)

    def accepts(self, subject: Subject) -> bool:
        """A container's text; images, unless the policy switched every text rule off (then OCR is not run)."""
        if subject.item.kind == TEXT_KIND:
            return True
        return subject.item.kind.startswith("image/") and any(self.settings.policy.enabled(r) for r in self.rules)

    def skipped_checks(self) -> list[SkippedCheck]:
        """What this set-up leaves unread (said once per scan; scanner/coverage.py)."""
        if any(self.settings.policy.enabled(r) for r in self.rules):
            return []
        return [SkippedCheck("text", "text in pictures not read: the policy turns every text rule off")]

    # -- engines (built once per process through the EngineSet) ------------------------------
    def _ocr(self) -> Sequence[OcrEngine]:
        engines: Sequence[OcrEngine] = self.engines.get("ocr", build_ocr)
        return engines

    def _locator(self) -> TextLocator | None:
        locator: TextLocator | None = self.engines.get("ocr.locator", build_locator)
        return locator

    # -- the scan -----------------------------------------------------------------------------
    def detect(self, subject: Subject) -> list[Finding]:
        if subject.item.kind == TEXT_KIND:
            return self._typed(subject)
        try:
            return self._detect(subject)
        except ScannerError:
            raise
        except Exception as exc:  # never let OCR text reach a traceback: type name only
            raise EngineError(f"text detector failed: {type(exc).__name__}") from None

    def _typed(self, subject: Subject) -> list[Finding]:
        """The pattern rules over typed text (a document body, slide notes, cells, an e-mail): no OCR, no layout.

        Markup (a .html, .svg or .xml file) is read as written and as a browser shows it (text/markup.py): an entity
        or a tag between a card number's groups hides it from the first (in an attribute too: a link, <meta content>);
        a script's string only the first sees."""
        text = decode_text(subject.item.data)
        markup = looks_like_markup(text)
        written = _GEOMETRY.sub(" ", text) if markup else text  # an icon's path data is no card number's digits
        found = [(f"line {h.field + 1}", h.hit) for h in field_hits(written.splitlines(), self.table)]
        if markup:
            seen = {_typed_key(hit) for _, hit in found}
            shown = [(f"shown text line {h.field + 1}", h.hit)
                     for h in field_hits(html_to_text(text, unseen=True).splitlines(), self.table)]
            found += [(where, hit) for where, hit in shown if _typed_key(hit) not in seen]
        return [Finding(hit.rule_id, self.id, hit.severity, hit.confidence, hit.message, where, None,
                        dict(hit.evidence)) for where, hit in found]

    def _detect(self, subject: Subject) -> list[Finding]:
        timings = subject.facts.timings
        scenes = frozenset(subject.facts.scenes)  # the visual cues, if the visual detector ran
        picture = _timed(timings, "text.decode", lambda: subject.picture(*self.pictures[0]))
        full = subject.oriented_size()
        engines = self._ocr()
        locator = self._locator()
        located: list[Region] | None = None
        walls = self.table.enabled("text.sticky_notes")
        small = shrunk(picture, FIND_SIDE)  # the note and wall finders' copy, made once
        wall = _timed(timings, "text.wall", lambda: find_wall(picture, small)) if walls else []
        notes = _timed(timings, "text.notes", lambda: notes_to_read(find_notes(picture, small), wall))
        subject.facts.text_notes = len(notes)
        if locator is not None:
            located = _timed(timings, "text.gate",
                             lambda: _text_like(locator.locate(small, picture.size), picture.size))
            subject.facts.text_located = len(located)
            if not located and not notes and not wall and not scenes & TEXT_SCENES:
                subject.facts.text_present = False
                return []
        work, factor = scaled(picture, located)
        full_pass = locator is None or bool(located) or bool(scenes & TEXT_SCENES)
        hits: list[Hit] = []
        read: list[Word] = []  # in the pixels of `work`
        for engine in engines:
            if "screen" in scenes and isinstance(engine, CappedOcrEngine):
                engine = engine.for_screens()  # on-screen text is read at full recognition width
            if full_pass:
                result = _timed(timings, f"text.ocr.{engine.name}", lambda e=engine: first_read(e, work, scenes))  # type: ignore[misc]
                if located and unreadable(result, located):
                    result = _timed(timings, "text.rotate", lambda e=engine, r=result: best_rotation(e, work, r))  # type: ignore[misc]
                read += result.words
                hits += _timed(timings, "text.rules", lambda r=result: self._rules(r, work, scenes))  # type: ignore[misc]
                if engine.name != "tesseract" and wants_cyrillic(build_page(result.words, result.size)):
                    hits += _timed(timings, "text.cyrillic", lambda: self._cyrillic(work, scenes))
                if isinstance(engine, CappedOcrEngine) and self._second_look(engine, result, work, scenes, hits):
                    again = _timed(timings, "text.ocr.full", partial(engine.read_more, work, result))
                    read += again.words
                    hits += _timed(timings, "text.rules", lambda r=again: self._rules(r, work, scenes))  # type: ignore[misc]
            for note in notes:
                if full_pass and NOTE_SIDE / (1.2 * max(note.box.w, note.box.h)) < 1.3:
                    continue  # would hardly be enlarged: the full pass reads it
                words = _timed(timings, "text.notes", partial(read_note, engine, picture, note, factor))
                read += words
                size = (round(picture.size[0] * factor), round(picture.size[1] * factor))
                hits += find_hits(build_page(words, size), self.table, scenes)
        board = wall_hit(wall, self.table.severity["text.sticky_notes"], factor, words_on(read, wall, factor))
        if board:
            hits.append(board)
        if located and not scenes & NOT_A_LAYOUT_BOARD and not _board_explained(hits):
            hits += self._layout_board(picture, located, read, factor)
        if any(h.rule_id in NOT_A_BOARD for h in hits):  # one engine's page decides for all
            hits = [h for h in hits if h.rule_id != "text.whiteboard"]
        subject.facts.text_present = bool(hits) or bool(located)
        scale = (full[0] / work.size[0], full[1] / work.size[1])
        return [self._finding(h, scale) for h in _dedupe(hits)]

    def _second_look(self, engine: CappedOcrEngine, result: OcrResult, work: Image.Image,
                     scenes: frozenset[str], hits: list[Hit]) -> bool:
        """Detection saw a copy at least RECHECK_SHRINK times smaller, a board fills a third of the picture, and
        the first read either found fewer than `ocr_det_recheck` lines or did not make the page a whiteboard
        (nor a receipt or till screen): look at the whole picture (only its new lines are recognised).

        Writing that is small against a large picture (a classroom whiteboard) vanishes from the shrunk
        copy. Without the board test 22 of 40 OCR'd photos of the dev corpus looked twice (docs/ocr.md);
        a picture the cap hardly shrank (981 -> 960 px) would pay a whole detection for 2% more pixels.
        """
        if "whiteboard" in scenes or engine.shrink(work.size) < RECHECK_SHRINK or self.settings.ocr_det_recheck <= 0:
            return False
        if len(result.words) >= self.settings.ocr_det_recheck and _board_explained(hits):
            return False
        return board_mask(work)[1] >= BIG_BOARD

    def _cyrillic(self, work: Image.Image, scenes: frozenset[str]) -> list[Hit]:
        """Amounts read without their labels: read once more with Tesseract ukr+rus (text/till.py), if installed."""
        try:
            engine: OcrEngine = self.engines.get("ocr.cyrillic", build_cyrillic)
        except EngineUnavailable:
            return []  # no Cyrillic data: the page keeps what RapidOCR read (docs/ocr.md)
        return self._rules(engine.read(work), work, scenes)

    def _rules(self, result: OcrResult, image: Image.Image, scenes: frozenset[str]) -> list[Hit]:
        page = build_page(result.words, result.size)
        hits = find_hits(page, self.table, scenes)
        if self.table.enabled("text.whiteboard") and not any(h.rule_id in NOT_A_BOARD for h in hits):
            board = score_whiteboard(image, page, scenes, self.table.severity["text.whiteboard"])
            if board:
                hits.append(board)
        return hits

    def _layout_board(self, picture: Image.Image, located: list[Region], read: list[Word], factor: float) -> list[Hit]:
        """`text.whiteboard` from the located lines alone, when too few words were read (box in `work` pixels)."""
        if not self.table.enabled("text.whiteboard"):
            return []
        readable = sum(1 for w in read if len(w.text.strip()) >= 2 and w.conf >= 0.5)
        hit = layout_whiteboard(picture, located, self.table.severity["text.whiteboard"], readable)
        if hit is None or hit.box is None:
            return []
        b = hit.box
        box = Region(round(b.x * factor), round(b.y * factor), max(1, round(b.w * factor)), max(1, round(b.h * factor)))
        return [replace(hit, box=box)]

    @staticmethod
    def _finding(hit: Hit, scale: tuple[float, float]) -> Finding:
        region = None
        if hit.box is not None:
            b = hit.box
            region = Region(
                int(b.x * scale[0]), int(b.y * scale[1]), max(1, round(b.w * scale[0])), max(1, round(b.h * scale[1]))
            )
        return Finding(
            hit.rule_id, "text", hit.severity, round(hit.confidence, 3), hit.message, "ocr", region, dict(hit.evidence)
        )


# markup attributes that hold only geometry (SVG path data, points, transforms, coordinates, sizes, inline styles):
# runs of digits there are no card or phone number (Adwaita's icons were blocked as cards), so markup as written is
# read without them (as shown, they are not read at all)
_GEOMETRY = re.compile(r"""\s(?:d|points|transform|viewBox|x|y|x1|y1|x2|y2|cx|cy|r|rx|ry|fx|fy|width|height|"""
                       r"""stroke-width|stroke-dasharray|stroke-dashoffset|offset|style|gradientTransform|"""
                       r"""patternTransform|font-size|opacity)\s*=\s*(?:"[^"]*"|'[^']*')""", re.IGNORECASE)


def _typed_key(hit: Hit) -> tuple[str, str]:
    """What makes two hits on one text the same finding: the rule and its value (hashed) or message."""
    return hit.rule_id, str(hit.evidence.get("hash") or hit.message)


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """One finding per rule and value (two engines often read the same card): keep the surest."""
    best: dict[tuple[str, str], Hit] = {}
    for h in hits:
        key = (
            h.rule_id,
            str(h.evidence.get("hash") or h.evidence.get("name") or ("page" if h.rule_id in LAYOUT_RULES else h.box)),
        )
        if key not in best or h.confidence > best[key].confidence:
            best[key] = h
    return sorted(best.values(), key=lambda h: (-int(h.severity), -h.confidence, h.rule_id))
