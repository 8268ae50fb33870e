"""Pattern rules over a Page: payment cards, IBAN, e-mail, custom patterns; find_hits runs them all (phones, names too).

Every Hit carries masked or hashed evidence; the matched value never leaves this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..text_safety import mask_tail
from . import mask
from .names import names
from .national import national_ids
from .normalize import repair_line
from .page import Hit, Page
from .people import people
from .phones import phones
from .rules import TextRules
from .scoring import score_pos, score_receipt
from .secrets import secrets, tokens
from .validators import card_scheme, iban_valid, luhn_valid

_CARD_RUN = re.compile(r"(?<![\d])\d(?:[ \-.]?\d){11,18}(?![\d])")
# typed text (metadata): a number glued to letters is part of an id or hex blob ("...e4a4010085760200"), not a card
_TYPED_CARD_RUN = re.compile(r"(?<![0-9A-Za-z])\d(?:[ \-.]?\d){11,18}(?![0-9A-Za-z])")
# typed text is what a person reads: slashes, commas, underscores, colons and spaced dashes separate a card's
# groups too, but only in a card's shape (4-4-4-4, 4-6-5), one separator throughout: numbers in a table do not
_TYPED_CARD_GROUPED = re.compile(r"(?<![0-9A-Za-z])(?:\d{4}( ?[/,_:] ?| - )\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
                                 r"|\d{4}( ?[/,_:] ?| - )\d{6}\2\d{5})(?![0-9A-Za-z])")
# typed text: a card stored as a number and written with thousands separators ("4,532,015,112,830,366")
_TYPED_THOUSANDS = re.compile(r"(?<![0-9A-Za-z,.])\d{1,3}(?:,\d{3}){4,6}(?![0-9A-Za-z]|[,.]\d)")
_CARD_SHAPE = re.compile(r"^\d{4}([ \-.])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?$|^\d{4}([ \-.])\d{6}\2\d{5}$")
_GROUP_SHAPES = ((4, 4, 4, 4), (4, 6, 5), (4, 6, 4))  # a card's groups as printed and typed
_EXPIRY = re.compile(r"(?<![\d/])(0?[1-9]|1[0-2])\s?/\s?(\d{2}|20\d{2})(?![\d/])")
_IBAN = re.compile(r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Z0-9])")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![\w-])")


def find_hits(page: Page, rules: TextRules, scenes: frozenset[str] = frozenset()) -> list[Hit]:
    """All rules over one page, disabled ones dropped."""
    hits: list[Hit] = []
    hits += _cards(page, rules)
    hits += _ibans(page, rules)
    hits += _emails(page, rules)
    hits += phones(page, rules, taken=[h.box for h in hits if h.box])
    hits += people(page, rules)
    hits += secrets(page, rules)
    hits += tokens(page, rules)
    hits += names(page, rules)
    hits += _patterns(page, rules)
    hits += national_ids(page, rules)
    hits += [h for h in (score_receipt(page, rules), score_pos(page, rules, scenes)) if h]
    return [h for h in hits if rules.enabled(h.rule_id)]


def card_spellings(text: str, digits: int) -> set[str]:
    """How typed `text` writes its card-like numbers of `digits` digits: `run` (one run of digits), `shaped` (a card's
    groups, 4-4-4-4 or 4-6-5, whatever separates them) or `groups` (some other grouping: "505-1640300-8491522", an
    order number)."""
    found = set()
    for m in _typed_runs(text):
        sizes = [len(group) for group in re.findall(r"\d+", m.group(0))]
        if sum(sizes) == digits:
            shaped = (sizes[:4] == [4, 4, 4, 4] and sizes[4:] in ([], [1], [2], [3])) or sizes == [4, 6, 5]
            found.add("run" if len(sizes) == 1 else "shaped" if shaped else "groups")
    return found


def _card_context(page: Page, rules: TextRules) -> str | None:
    m = rules.card_context.search(page.text.lower())
    if m:
        return m.group(0)
    return "expiry date" if _EXPIRY.search(page.text) else None


def _typed_runs(text: str) -> Iterator[re.Match[str]]:
    yield from _TYPED_CARD_RUN.finditer(text)
    yield from _TYPED_CARD_GROUPED.finditer(text)
    yield from _TYPED_THOUSANDS.finditer(text)


def _cards(page: Page, rules: TextRules) -> Iterator[Hit]:
    context = None
    looked = False
    for line in page.lines:
        text = repair_line(line.text, page.ocr)
        runs = _CARD_RUN.finditer(text) if page.ocr else _typed_runs(text)
        for m in runs:
            for start, end in _card_windows(m.group(0)):  # the run, then (if it is no card) the card inside it
                raw = m.group(0)[start:end]
                digits = re.sub(r"\D", "", raw)
                if not 13 <= len(digits) <= 19:
                    continue
                scheme = card_scheme(digits)
                luhn = luhn_valid(digits)
                shaped = bool(_CARD_SHAPE.match(raw))
                if not looked:
                    context, looked = _card_context(page, rules), True
                if luhn and (scheme or context):
                    conf = 0.95 if scheme and (context or shaped) else 0.8
                    why = "Luhn-valid" + (f", {scheme} range" if scheme else "")
                elif luhn and shaped:
                    conf, why = 0.6, "Luhn-valid, card-shaped"
                elif shaped and context:
                    conf, why = 0.5, f"Luhn-invalid, card-shaped next to '{context}'"
                else:
                    continue
                yield rules.hit("text.payment_card",
                    conf,
                    f"payment card number ending {digits[-4:]} ({why})",
                    line.box_for(m.start() + start, m.start() + end),
                    masked=mask_tail(digits),
                    luhn=luhn,
                    scheme=scheme or "unknown",
                    digits=len(digits),
                    hash=mask.digest(digits, rules.hash_key),
                )
                break


def _card_windows(raw: str) -> Iterator[tuple[int, int]]:
    """Where in a run of digits a card may be: the whole run; then, for a run that takes in a neighbour ("4532 0151
    1283 0366 123" with its CVV, "order 12 4532015112830366", a float's "4532015112830366.0"), each group of 13 to 19
    digits and each stretch of groups in a card's shape (4-4-4-4, 4-6-5, 4-6-4)."""
    yield 0, len(raw)
    groups = [(g.start(), g.end()) for g in re.finditer(r"\d+", raw)]
    if len(groups) < 2:
        return
    sizes = [end - start for start, end in groups]
    for i, (start, _) in enumerate(groups):
        for n in [1] + [len(shape) for shape in _GROUP_SHAPES if sizes[i : i + len(shape)] == list(shape)]:
            if n == 1 and (not 13 <= sizes[i] <= 19 or raw[start - 1 : start] == "."):
                continue  # a float's fraction ("1.36735830452094...") is no card
            rest = sizes[:i] + sizes[i + n :]
            if 0 < len(rest) <= 2 and max(rest) <= 4:  # what the run took in is short: a CVV, an expiry, an order line
                yield start, groups[i + n - 1][1]


def _ibans(page: Page, rules: TextRules) -> Iterator[Hit]:
    for line in page.lines:
        for m in _IBAN.finditer(line.text.upper()):
            candidate = m.group(0).replace(" ", "")
            # the run may swallow a following word: shrink until the checksum holds
            for end in range(len(candidate), 14, -1):
                if iban_valid(candidate[:end]):
                    value = candidate[:end]
                    yield rules.hit("text.iban",
                        0.9,
                        f"IBAN {mask.iban(value)} (mod-97 valid)",
                        line.box_for(m.start(), m.end()),
                        masked=mask.iban(value),
                        hash=mask.digest(value, rules.hash_key),
                    )
                    break


def _emails(page: Page, rules: TextRules) -> Iterator[Hit]:
    for line in page.lines:
        for m in _EMAIL.finditer(line.text):
            value = m.group(0)
            yield rules.hit("text.email",
                0.8,
                f"e-mail address {mask.email(value)}",
                line.box_for(m.start(), m.end()),
                masked=mask.email(value),
                hash=mask.digest(value.lower(), rules.hash_key),
            )


def _patterns(page: Page, rules: TextRules) -> Iterator[Hit]:
    for pattern in rules.patterns:
        for line in page.lines:
            m = pattern.regex.search(line.text)
            if m:
                value = m.group(0)
                yield Hit(
                    pattern.rule_id,
                    pattern.severity,
                    0.8,
                    pattern.message,
                    line.box_for(m.start(), m.end()),
                    {"masked": mask.secret(value), "hash": mask.digest(value, rules.hash_key)},
                )
