"""Metadata fields -> findings: one per category of known fields, and the text rules over every name and value.

Every string read from metadata (EXIF, XMP, IPTC, PNG chunk keywords and texts, comments, maker
notes) passes the same pattern rules as OCR text, so a card number typed into `Make` or a password
used as a PNG keyword is found and blocks. What a report shows of a field is masked by default: a
value never appears in full, and a field name that is not a plain identifier, or that a rule fired
on, is replaced by its position.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..metadata.tags import OTHER
from ..model import Finding, Severity
from ..text import TextRules
from ..text.fields import field_hits
from ..text.mask import secret
from ..text_safety import mask_tail, printable

CATEGORY_RULE = {
    "identity": ("metadata.identity", Severity.MEDIUM, "identifying metadata"),
    "serial": ("metadata.identity", Severity.MEDIUM, "device serial number"),
    "location": ("metadata.identity", Severity.MEDIUM, "place names"),
    "text": ("metadata.text", Severity.LOW, "free-text metadata"),
    "device": ("metadata.device", Severity.LOW, "camera/software"),
    "time": ("metadata.capture_time", Severity.LOW, "capture time"),
    "contact": ("metadata.contact", Severity.LOW, "senders and recipients"),
    "history": ("metadata.history", Severity.MEDIUM, "hidden or earlier content"),
}
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9 _.:/()-]{0,63}")


def masked(category: str, value: str) -> str:
    """What a report may show of a value: serials as `**** 1234`, free text as a length, the rest as `J******h`."""
    if category == "serial":
        return mask_tail(value)
    if category == "text" or category == OTHER:
        return f"{len(value)} characters"
    return printable(secret(value), 80)


@dataclass(frozen=True, slots=True)
class Field:
    category: str  # a key of CATEGORY_RULE, or OTHER
    name: str
    value: str


class FieldReporter:
    """Turns the fields of one metadata block into findings of the `metadata` detector."""

    def __init__(self, detector: str, rules: TextRules) -> None:
        self.detector = detector
        self.rules = rules

    def findings(self, fields: Iterable[tuple[str, str, str]], where: str) -> list[Finding]:
        items = [Field(c, n, v) for c, n, v in fields if v.strip() or n.strip()]
        if not items:
            return []
        # one line per field, its name before its value as a reader shows it ("Password: Hunter2!x"): a keyword
        # in a name pairs with its value; every field a hit runs through is shown by its position only
        hits = field_hits([f"{f.name}: {f.value}" if f.name.strip() else f.value for f in items], self.rules)
        flagged = {i for h in hits for i in h.touched if i != h.field}  # a value taken from the next field's name
        flagged |= {h.field for h in hits if 0 <= h.column <= len(items[h.field].name)}  # a hit in the name itself
        shown = [self._name(i, f.name, i in flagged) for i, f in enumerate(items)]
        out = [Finding(h.hit.rule_id, self.detector, h.hit.severity, h.hit.confidence, h.hit.message,
                       f"{where} {shown[h.field]}", None, dict(h.hit.evidence)) for h in hits]
        return out + self._categories(items, shown, where)

    @staticmethod
    def _name(index: int, name: str, flagged: bool) -> str:
        if not flagged and _PLAIN_NAME.fullmatch(name):
            return name
        return f"field #{index + 1}"

    def _categories(self, items: list[Field], shown: list[str], where: str) -> list[Finding]:
        grouped: dict[str, list[int]] = {}
        for i, f in enumerate(items):
            if f.category in CATEGORY_RULE:
                grouped.setdefault(f.category, []).append(i)
        out = []
        for category, indices in grouped.items():
            rule, severity, title = CATEGORY_RULE[category]
            names = ", ".join(dict.fromkeys(shown[i] for i in indices))
            evidence = {shown[i]: masked(category, items[i].value) for i in indices}
            out.append(Finding(rule, self.detector, severity, 1.0, f"{title} in {where}: {names}",
                               location=where, evidence=evidence))
        return out
