"""Phone numbers (`phonenumbers`, offline metadata): which digit runs count, at what confidence.

A number is any run `phonenumbers` finds *possible* for one of the configured regions
(`[phone] regions` in scanner/rules/text.toml). It counts when

* it is written internationally (`+31 ...`, `0049 ...`) and valid;
* a phone word (`[phone] context`: tel, phone, mobiel, Telefon, fax, ...) stands on its line or
  alone on the line just above;
* or, with no such word, it is valid for a region *and* written the way people write phone numbers
  (`(0)20 123 4567`, `06-12345678`, `(212) 555-1234`, `202-555-0121`): an area code with a
  separator, and no word on the line says it is some other number (`[phone] not_context`: order,
  invoice, date ...). Bare digit runs (order, invoice and GST numbers), dates and amounts never count alone.

A number that parses but is not real (fails `is_valid_number` for every region that could have
written it, or lies in the North American range kept for fiction, 555-0100 to 555-0199, which
`phonenumbers` calls valid) keeps the rule's severity but drops to confidence FICTITIOUS_CONF: a
test number is not a leak, but one OCR-misread digit also makes a real number invalid, and the
scanner cannot tell the two apart (fail closed). It counts only next to a phone word. Dates
(09-04-2018 19:22) never count.
Evidence: last three digits and a keyed hash, never the number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..model import Region
from . import mask
from .page import Hit, Page
from .rules import TextRules

if TYPE_CHECKING:
    from phonenumbers import PhoneNumber

INTERNATIONAL_CONF = 0.85
CONTEXT_CONF = 0.7
FORMAT_CONF = 0.5  # valid and phone-shaped, no phone word
FICTITIOUS_CONF = 0.4  # parses, fails is_valid everywhere; only with a phone word or a + prefix
NANP_CODE = 1  # the North American plan: national numbers without a trunk 0
MIN_DIGITS = 7  # a shorter run is an extension, a PIN or an amount

# how people write a number with an area code: (0)20 123 4567, 020-1234567, 06 12 34 56 78, (212) 555-1234
_SHAPED = re.compile(
    r"^(?:\(0\d{1,4}\)|0\d{1,4}|\(0\)\s?\d{1,4})[ \-/.]\s?\d{2,8}(?:[ .\-]\d{2,4}){0,3}$"
    r"|^\(?\d{3}\)?[ .\-]\s?\d{3}[ .\-]\d{4}$"
)
_DATE = re.compile(r"(?<!\d)\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}(?!\d)")
_INTERNATIONAL = re.compile(r"^(?:\+|00[1-9])")  # 000150511616 is a tax id, not 00 + 0150...
# cheap pre-filter: a line worth the matcher without a phone word
_LIKELY = re.compile(r"\+\s?\d|\b00\d|\(0|\b0\d{1,4}[ \-/.]\s?\d|\(?\b\d{3}\)?[ .\-]\s?\d{3}[ .\-]\d{4}")


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    raw: str
    e164: str
    valid: bool
    international: bool


def phones(page: Page, rules: TextRules, taken: list[Region]) -> Iterator[Hit]:
    """Every phone number on the page that counts (see the module docstring), one Hit each."""
    for i, line in enumerate(page.lines):
        context = _context(page, i, rules)
        if context is None and not _LIKELY.search(line.text):
            continue  # the matcher is the costly part: most lines hold no phone-shaped run
        other = context is None and bool(rules.phone_not_context.search(line.text.lower()))
        dates = [m.span() for m in _DATE.finditer(line.text)]
        for found in _numbers(line.text, rules.phone_regions):
            if any(a < found.end and found.start < b for a, b in dates) or _glued(line.text, found):
                continue  # 09-04-2018 19:22 is a date and a time; 0x180001f20 is an address
            conf = _confidence(found, context, other)
            if conf is None:
                continue
            box = line.box_for(found.start, found.end)
            if any(_overlaps(box, t) for t in taken):
                continue  # a card number or IBAN already claimed these digits
            why = "valid" if found.valid else "not a real number: fictitious range or misread"
            where = f" next to '{context}'" if context else ""
            yield rules.hit("text.phone", conf, f"phone number {mask.phone(found.e164)} ({why}){where}", box,
                            masked=mask.phone(found.e164), valid=found.valid,
                            hash=mask.digest(found.e164, rules.hash_key))


def _context(page: Page, index: int, rules: TextRules) -> str | None:
    """The phone word on this line, or on the line above when that line is only a label (no digits)."""
    m = rules.phone_context.search(page.lines[index].text.lower())
    if m:
        return m.group(0)
    if index:
        above = page.lines[index - 1]
        close = page.lines[index].box.y - (above.box.y + above.box.h) < 2 * max(1, above.box.h)
        m = rules.phone_context.search(above.text.lower())
        if m and close and not any(c.isdigit() for c in above.text) and len(above.words) <= 3:
            return m.group(0)
    return None


def _numbers(text: str, regions: tuple[str, ...]) -> list[_Found]:
    """Possible numbers by span; a span valid in any region that could have written it is valid.

    A national number is judged only by the regions whose habit it follows: with a trunk `0`
    (020-..., 06-..., (0)30 ...) by the European plans, without one by the North American plan.
    (Germany's plan takes almost any digit run, so "valid in some region" alone would judge nothing.)
    """
    import phonenumbers

    best: dict[tuple[int, int], _Found] = {}
    for region in regions:
        nanp = phonenumbers.country_code_for_region(region) == NANP_CODE
        for pm in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
            key = (pm.start, pm.end)
            raw = pm.raw_string.strip()
            if (key in best and best[key].valid) or sum(c.isdigit() for c in raw) < MIN_DIGITS:
                continue
            if not raw.startswith(("+", "00")) and raw.lstrip("(").startswith("0") == nanp:
                continue  # not how this region writes its numbers
            best[key] = _Found(pm.start, pm.end, raw,
                               phonenumbers.format_number(pm.number, phonenumbers.PhoneNumberFormat.E164),
                               _real(pm.number), bool(_INTERNATIONAL.match(raw)))
    return sorted(best.values(), key=lambda f: f.start)


def _glued(text: str, found: _Found) -> bool:
    """Digits run into letters or digits on either side: part of a hex value, an id or a word."""
    before = text[found.start - 1] if found.start else " "
    after = text[found.end] if found.end < len(text) else " "
    return before.isalnum() or after.isalnum()


def _real(number: PhoneNumber) -> bool:
    """Valid for its region and not in the North American range kept for fiction (555-0100 to 555-0199)."""
    import phonenumbers

    national = str(number.national_number)
    if number.country_code == NANP_CODE and len(national) == 10 and national[3:8] == "55501":
        return False
    return bool(phonenumbers.is_valid_number(number))


def _confidence(found: _Found, context: str | None, other: bool) -> float | None:
    """`other`: the line names another kind of number (order, invoice, date ...) and no phone word."""
    if found.international and found.valid:
        return INTERNATIONAL_CONF
    if context is not None:
        return CONTEXT_CONF if found.valid else FICTITIOUS_CONF
    if found.valid and not other and _SHAPED.match(found.raw):
        return FORMAT_CONF
    return None


def _overlaps(a: Region, b: Region) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h

