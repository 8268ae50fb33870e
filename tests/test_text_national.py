"""National ids with check digits (BSN 11-proef, Steuer-ID MOD 11,10): positives, near-misses, masking."""

from __future__ import annotations

import pytest

from scanner.model import Severity
from scanner.text import find_hits, load_rules
from scanner.text.national import bsn_valid, steuer_id_valid
from scanner.text.page import page_from_text

RULES = load_rules()


def national(text: str) -> list[str]:
    return [str(h.evidence["kind"]) for h in find_hits(page_from_text(text), RULES) if h.rule_id == "text.national_id"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("BSN: 111222333", "bsn"),
        ("Burgerservicenummer 123456782", "bsn"),
        ("burgerservicenummer\n1112.22.333", "bsn"),  # value on the next line, dotted groups
        ("BSN 1234 567 82", "bsn"),
        ("sofinummer: 12345672", "bsn"),  # 8 digits: implied leading zero
        ("BSN: 1l1222333", "bsn"),  # OCR'd l for 1
        ("Steuer-ID 86 095 742 719", "steuer_id"),
        ("Steueridentifikationsnummer: 65929970489", "steuer_id"),
        ("IdNr. 57549285017", "steuer_id"),
        ("Identifikationsnummer\n25768131411", "steuer_id"),
    ],
)
def test_national_id_fires(text: str, kind: str) -> None:
    assert national(text) == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "BSN 111222334",  # 11-proef fails
        "BSN: 123456789",  # 11-proef fails
        "Order 111222333",  # valid 11-proef, no context word
        "Kundennummer 86095742719",  # valid Steuer-ID, no context word
        "Steuer-ID 86095742718",  # check digit wrong
        "Steuer-ID 12345678901",  # every digit once: not an IdNr
        "Steuer-ID 06095742719",  # leading zero
        "BSN 1112223330",  # ten digits
        "BSN 000000000",
        "Rekening 111222333,50",  # an amount, not an id
        "BSN\n\n\nfactuur 111222333",  # context too far away
    ],
)
def test_national_id_near_miss(text: str) -> None:
    assert national(text) == []


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("111222333", True),
        ("123456782", True),
        ("12345672", True),
        ("123456789", False),
        ("11122233", False),
        ("abcdefghi", False),
    ],
)
def test_bsn_11_proef(digits: str, valid: bool) -> None:
    assert bsn_valid(digits) is valid


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("86095742719", True),
        ("65929970489", True),
        ("57549285017", True),
        ("86095742718", False),
        ("12345678903", False),
        ("1234567890", False),
    ],
)
def test_steuer_id_check_digit(digits: str, valid: bool) -> None:
    assert steuer_id_valid(digits) is valid


def test_national_id_evidence_is_masked() -> None:
    hits = [
        h
        for h in find_hits(page_from_text("BSN: 111222333\nSteuer-ID 86 095 742 719"), RULES)
        if h.rule_id == "text.national_id"
    ]
    assert len(hits) == 2 and all(h.severity is Severity.HIGH for h in hits)
    blob = repr([(h.message, dict(h.evidence)) for h in hits])
    for value in ("111222333", "1112", "86095742719", "86 095", "095742"):
        assert value not in blob
    assert hits[0].evidence["masked"] == "******333"


def test_national_id_can_be_disabled() -> None:
    rules = load_rules({"disable": ["text.national_id"]})
    assert not [h for h in find_hits(page_from_text("BSN: 111222333"), rules) if h.rule_id == "text.national_id"]
