"""National identity numbers with check digits: Dutch BSN (11-proef), German Steuer-ID (ISO 7064 MOD 11,10).

A number counts only when its checksum holds *and* a context word (BSN, burgerservicenummer,
Steuer-ID, Identifikationsnummer ...; scanner/rules/text.toml `[national_id]`) stands on the same
line or the line above: nine-digit order numbers pass the 11-proef one time in eleven.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator

from . import mask
from .normalize import repair_line
from .page import Hit, Page
from .rules import TextRules

# digit runs with optional single spaces, dots or dashes between groups, not inside longer numbers
_RUN = re.compile(r"(?<![\d.,\-])\d(?:[ .\-]?\d){7,12}(?![\d,]|\.\d)")


def bsn_valid(digits: str) -> bool:
    """Dutch BSN 11-proef: 9 digits (8 with an implied leading zero), sum(d_i * (9..2)) - d_9 divisible by 11."""
    if len(digits) == 8:
        digits = "0" + digits
    if len(digits) != 9 or not digits.isdigit() or int(digits) == 0 or digits[:3] == "000":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - int(digits[8])
    return total % 11 == 0


def steuer_id_valid(digits: str) -> bool:
    """German Steuer-ID: 11 digits, no leading 0, one digit twice or thrice in the first ten, ISO 7064 MOD 11,10."""
    if len(digits) != 11 or not digits.isdigit() or digits[0] == "0":
        return False
    repeated = [c for c in Counter(digits[:10]).values() if c > 1]
    if len(repeated) != 1 or repeated[0] not in (2, 3):
        return False
    product = 10
    for d in digits[:10]:
        s = (int(d) + product) % 10 or 10
        product = (2 * s) % 11
    check = (11 - product) % 10
    return check == int(digits[10])


KINDS: tuple[tuple[str, str, Callable[[str], bool]], ...] = (
    ("bsn", "Dutch BSN (11-proef valid)", bsn_valid),
    ("steuer_id", "German Steuer-ID (check digit valid)", steuer_id_valid),
)


def national_ids(page: Page, rules: TextRules) -> Iterator[Hit]:
    for i, line in enumerate(page.lines):
        text = repair_line(line.text, page.ocr)
        above = page.lines[i - 1] if i else None
        close = above is not None and line.box.y - (above.box.y + above.box.h) < 2 * max(1, line.box.h)
        near = (above.text.lower() + "\n" if above is not None and close else "") + line.text.lower()
        contexts: dict[str, re.Match[str] | None] = {}  # searched once a line (a long line has many numbers)
        for m in _RUN.finditer(text):
            digits = re.sub(r"\D", "", m.group(0))
            for kind, label, valid in KINDS:
                if kind not in contexts:
                    words = rules.national_context.get(kind)
                    contexts[kind] = words.search(near) if words is not None else None
                context = contexts[kind]
                if context is None or not valid(digits):
                    continue
                yield Hit(
                    "text.national_id",
                    rules.severity["text.national_id"],
                    0.9,
                    f"{label} next to '{context.group(0)}'",
                    line.box_for(m.start(), m.end()),
                    {"masked": "*" * (len(digits) - 3) + digits[-3:], "hash": mask.digest(digits, rules.hash_key),
                     "kind": kind},
                )
                break
