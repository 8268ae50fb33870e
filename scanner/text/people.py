"""Person names where a page says a name stands: after a label, after a closing, after a title.

No name dictionary and no NER model: a name is 2-4 capitalised words (`Jan de Vries`, `KAUFMAN
SCOTT`, `J. Smith`), particles such as de/van/von allowed between them, found

* after a label word (`[person_name] labels`: Name, Naam, Kunde, Customer, Patient, Medewerker,
  Signed, Unterschrift ...) followed by `:`, or at the start of the line with the name filling the
  rest of it (a table header "Name Best Average Worst (ms)" is no name), or alone on the line above;
* as the whole line after a closing (`[person_name] closings`: Regards, Met vriendelijke groet, Mit
  freundlichen Grüßen ...), or after it on the same line (`Regards, John Smith`);
* after a title (Mr, Mrs, Dr, Herr, Frau, Dhr., Mevr. ...): one capitalised word is enough.

Words in `[person_name] not_names` (Date, Total, Team, Ltd ...) end a name. Evidence: initials and a
keyed hash of the name, never the name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from . import mask
from .page import Hit, Line, Page
from .rules import TextRules

LABEL_CONF = 0.7
CLOSING_CONF = 0.7
NEXT_LINE_CONF = 0.6
TITLE_CONF = 0.5
MAX_NAME_WORDS = 4
MAX_CLOSING_WORDS = 5  # a sign-off is short: longer lines with "regards" in them are prose

_WORD = re.compile(r"[A-ZÀ-ÖØ-Þ](?:[a-zß-öø-ÿ]+|[A-ZÀ-ÖØ-Þ]+)(?:[-'’][A-ZÀ-ÖØ-Þa-zß-öø-ÿ]+)?")
_INITIAL = re.compile(r"[A-Z]\.")
_PARTICLES = frozenset({"de", "der", "den", "van", "von", "zu", "ten", "ter", "te", "la", "le", "du", "da", "di",
                        "dos", "del", "bin", "binti", "al", "el", "'t"})
_TRAIL = ",.;:!"


@dataclass(frozen=True, slots=True)
class _Name:
    start: int
    end: int
    words: tuple[str, ...]  # the capitalised words (particles and initials left out)
    initials: int
    whole: bool  # the name runs to the end of the line


def people(page: Page, rules: TextRules) -> Iterator[Hit]:
    """Every person name the page shows in one of the places above, one Hit each."""
    for i, line in enumerate(page.lines):
        lower = line.text.lower()
        after_label = _after(rules.person_labels, lower, line.text)
        if after_label is not None:
            label, pos, colon = after_label
            name = _name(line.text, pos, rules)
            if name is not None and (colon or name.whole):  # "Name Best Average Worst (ms)" is a table header
                yield _hit(rules, line, name, LABEL_CONF, f"after '{label}'")
                continue
            if not line.text[pos:].strip(" :-."):
                nxt = _next(page, i)
                name = _name(nxt.text, 0, rules) if nxt is not None else None
                if nxt is not None and name is not None and name.whole:
                    yield _hit(rules, nxt, name, NEXT_LINE_CONF, f"below '{label}'")
                continue
        closing = _closing(line, rules)
        if closing is not None:
            label, pos = closing
            if pos < len(line.text):  # "Regards, John Smith" (anything else after it: prose)
                same = _name(line.text, pos, rules)
                if same is not None and same.whole:
                    yield _hit(rules, line, same, CLOSING_CONF, f"after '{label}'")
                continue
            nxt = _next(page, i)
            name = _name(nxt.text, 0, rules) if nxt is not None else None
            if nxt is not None and name is not None and name.whole:
                yield _hit(rules, nxt, name, CLOSING_CONF, f"below '{label}'")
            continue
        yield from _titled(line, rules)


def _after(pattern: re.Pattern[str], lower: str, text: str) -> tuple[str, int, bool] | None:
    """The first label followed by ':' (or at the start of the line), where its value starts, and the colon."""
    for m in pattern.finditer(lower):
        stripped = text[m.end():].lstrip(" ")
        colon = stripped.startswith((":", "-", "=")) or stripped.startswith(". ")
        if colon or not text[: m.start()].strip():
            value = stripped.lstrip(":-=. ")
            return m.group(0), len(text) - len(value), colon
    return None


def _closing(line: Line, rules: TextRules) -> tuple[str, int] | None:
    """A sign-off ("Kind regards,") and where a name after it on the same line would start."""
    if len(line.words) > MAX_CLOSING_WORDS + MAX_NAME_WORDS:
        return None
    m = rules.person_closings.search(line.text.lower())
    if m is None or len(line.text[: m.start()].split()) > 2:  # "I send my best regards" is prose
        return None
    value = line.text[m.end():].lstrip(" ,.!:-")
    return m.group(0), len(line.text) - len(value)


def _titled(line: Line, rules: TextRules) -> Iterator[Hit]:
    for m in rules.person_titles.finditer(line.text.lower()):
        pos = m.end()
        if pos < len(line.text) and line.text[pos] == ".":
            pos += 1
        if pos >= len(line.text) or line.text[pos] != " ":
            continue
        name = _name(line.text, pos + 1, rules, minimum=1)
        if name is not None:
            yield _hit(rules, line, name, TITLE_CONF, f"after '{m.group(0)}'")
            return


def _name(text: str, pos: int, rules: TextRules, minimum: int = 2) -> _Name | None:
    """Capitalised words from `pos` on: at least `minimum` of them (one plus an initial counts as two)."""
    words: list[str] = []
    initials = 0
    start = end = -1
    tokens = [(m.start(), m.group(0)) for m in re.finditer(r"\S+", text[pos:])]
    whole = True
    for k, (offset, token) in enumerate(tokens):
        bare = token.rstrip(_TRAIL) if not _INITIAL.fullmatch(token) else token
        if _INITIAL.fullmatch(bare) and not words:
            initials += 1
        elif bare.lower() in _PARTICLES and words and k + 1 < len(tokens):
            pass
        elif _WORD.fullmatch(bare) and bare.lower() not in rules.not_names and len(words) < MAX_NAME_WORDS:
            words.append(bare)
        else:
            whole = False
            break
        start = pos + offset if start < 0 else start
        end = pos + offset + len(bare)
        if bare != token:  # "Vries," ends the name
            whole = k + 1 == len(tokens)
            break
    if len(words) + min(initials, 1) < minimum or not words:
        return None
    return _Name(start, end, tuple(words), initials, whole)


def _next(page: Page, index: int) -> Line | None:
    """The line just below, if it is close (a label or closing and its name)."""
    if index + 1 >= len(page.lines):
        return None
    line, below = page.lines[index], page.lines[index + 1]
    gap = below.box.y - (line.box.y + line.box.h)
    return below if gap < 3 * max(1, line.box.h) else None


def _hit(rules: TextRules, line: Line, name: _Name, conf: float, where: str) -> Hit:
    initials = " ".join(w[0] + "." for w in name.words)
    key = " ".join(w.lower() for w in name.words)
    return rules.hit("text.person_name", conf, f"person name {initials} {where}", line.box_for(name.start, name.end),
                     masked=initials, words=len(name.words), hash=mask.digest(key, rules.hash_key))
