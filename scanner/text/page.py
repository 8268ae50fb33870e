"""Words -> lines with character spans, so a match in a line maps back to a pixel box; the Hit record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..engines.ocr import Word
from ..model import EvidenceValue, Region, Severity
from .normalize import fold


@dataclass(frozen=True, slots=True)
class Line:
    """One visual line: its words left to right, joined by single spaces (folded text)."""

    words: tuple[Word, ...]
    text: str
    spans: tuple[tuple[int, int], ...]  # (start, end) of each word in `text`

    def __repr__(self) -> str:
        return f"Line(<{len(self.words)} words>)"

    @property
    def box(self) -> Region:
        return union([w.box for w in self.words])

    def box_for(self, start: int, end: int) -> Region:
        """Pixel box of text[start:end]; cut proportionally inside a word (engines give line boxes)."""
        boxes = []
        for (ws, we), word in zip(self.spans, self.words, strict=True):
            lo, hi = max(start, ws), min(end, we)
            if lo >= hi:
                continue
            n = max(1, we - ws)
            x0 = word.box.x + word.box.w * (lo - ws) // n
            x1 = word.box.x + word.box.w * (hi - ws) // n
            boxes.append(Region(x0, word.box.y, max(1, x1 - x0), word.box.h))
        return union(boxes) if boxes else self.box


@dataclass(frozen=True, slots=True)
class Page:
    """The lines of one OCR result, top to bottom, and the size of the image that was read.

    `ocr` is False for typed text (metadata values): digit look-alikes are then not repaired, so a hex
    id such as `0abe0300d334` is not read as a run of digits.
    """

    lines: tuple[Line, ...]
    size: tuple[int, int]
    ocr: bool = True

    def __repr__(self) -> str:
        return f"Page(<{len(self.lines)} lines>, size={self.size})"

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule that fired; `box` is in the pixels of the image that was read."""

    rule_id: str
    severity: Severity
    confidence: float
    message: str
    box: Region | None
    evidence: Mapping[str, EvidenceValue] = field(default_factory=dict)


def union(boxes: Iterable[Region]) -> Region:
    items = list(boxes)
    if not items:
        return Region(0, 0, 0, 0)
    x0 = min(b.x for b in items)
    y0 = min(b.y for b in items)
    x1 = max(b.x + b.w for b in items)
    y1 = max(b.y + b.h for b in items)
    return Region(x0, y0, x1 - x0, y1 - y0)


def _same_line(a: Region, b: Region) -> bool:
    top, bottom = max(a.y, b.y), min(a.y + a.h, b.y + b.h)
    return bottom - top >= 0.5 * min(a.h, b.h)


def build_page(words: Iterable[Word], size: tuple[int, int]) -> Page:
    """Group words into lines by vertical overlap (receipt label and amount end up on one line)."""
    rows: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.box.y + w.box.h / 2, w.box.x)):
        for row in rows:
            if _same_line(row[-1].box, word.box) and _same_line(union(w.box for w in row), word.box):
                row.append(word)
                break
        else:
            rows.append([word])
    lines = []
    for row in rows:
        row.sort(key=lambda w: w.box.x)
        parts, spans, pos = [], [], 0
        for w in row:
            t = fold(w.text)
            parts.append(t)
            spans.append((pos, pos + len(t)))
            pos += len(t) + 1
        lines.append(Line(tuple(row), " ".join(parts), tuple(spans)))
    lines.sort(key=lambda ln: ln.box.y)
    return Page(tuple(lines), size)


def page_from_text(text: str, line_height: int = 20) -> Page:
    """A synthetic page (one word per token, fixed-width boxes) for rules tests and tooling."""
    words = []
    for row, raw in enumerate(text.splitlines()):
        x = 0
        for token in raw.split():
            words.append(Word(token, 1.0, Region(x, row * line_height, 10 * len(token), line_height - 4)))
            x += 10 * (len(token) + 1)
    return build_page(
        words, (max([w.box.x + w.box.w for w in words], default=1), max(1, line_height * len(text.splitlines())))
    )
