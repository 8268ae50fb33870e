"""Names and phone numbers: rule tables on synthetic pages, then the project's fixtures through the real
OCR and the real CLI (console, JSON, stored HTML report) with no name or number in any output."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fixtures import people_fixtures as pf
from scanner.cli import main
from scanner.detectors.text import _text_like
from scanner.model import Region, Severity
from scanner.text import find_hits, load_rules
from scanner.text.page import Hit, page_from_text

RULES = load_rules()


def hits(text: str, rule: str, rules: Any = RULES) -> list[Hit]:
    return [h for h in find_hits(page_from_text(text), rules) if h.rule_id == rule]


PHONES = [  # (case, text, confidence)
    ("label on the line", "Name: Jan de Vries, Tel. 06-12345678", 0.7),
    ("label alone on the line above", "Telefoon\n020-1234567", 0.7),
    ("Telefon", "Telefon 030 12345678", 0.7),
    ("phone symbol", "☎ 010-4567890", 0.7),
    ("international, no label", "+31 20 794 5120", 0.85),
    ("0049, no label", "0049 30 901820", 0.85),
    ("area code and separator, no label", "Bel gerust: (0)20 123 4567", 0.5),
    ("US shape, no label", "Ring 212-555-1234", 0.5),
    ("fictitious 555-01xx next to 'phone'", "His phone number is 202-555-0121.", 0.4),
    ("too short for its plan next to 'tel'", "Tel. +31 6 1234 567", 0.4),
]

NOT_PHONES = [
    ("receipt total", "TOTAAL 1.234,56"),
    ("amount with currency", "Te betalen EUR 1234,56"),
    ("date", "Datum 12-03-2024 14:02"),
    ("date and time after a colon", ": 09-04-2018 19:22:25"),
    ("dotted date", "Betaald 15.03.2024"),
    ("order number", "Ordernummer 0612345678"),
    ("order number with separators", "Bestelnummer 030 1234 5678"),
    ("invoice line", "Factuur 2024-0012  3 x Koffiebonen 1kg  38,85"),
    ("tax id starting 000", "GST NO. 000150511616"),
    ("invoice number 001-", "INVOICE: 001-9822"),
    ("fictitious without a phone word", "Ring 202-555-0121"),
    ("card number", "Card 4111 1111 1111 1111"),
    ("hex address after 'call'", "call 0x180001f20"),
]


@pytest.mark.parametrize(("case", "text", "conf"), PHONES, ids=[p[0] for p in PHONES])
def test_phone_found(case: str, text: str, conf: float) -> None:
    found = hits(text, "text.phone")
    assert [h.confidence for h in found] == [conf]
    assert found[0].severity is Severity.MEDIUM
    assert found[0].evidence["valid"] is (conf != 0.4)


@pytest.mark.parametrize(("case", "text"), NOT_PHONES, ids=[n[0] for n in NOT_PHONES])
def test_not_a_phone(case: str, text: str) -> None:
    assert hits(text, "text.phone") == []


NAMES = [  # (case, text, initials)
    ("Name:", "Name: Jan de Vries, Tel. 06-12345678", "J. V."),
    ("Naam: caps", "NAAM: PIETER JANSEN", "P. J."),
    ("Kunde", "Kunde: Anna-Lena Schröder", "A. S."),
    ("Patient at line start", "Patient Maria Garcia Lopez", "M. G. L."),
    ("Medewerker", "Medewerker: Sanne Visser", "S. V."),
    ("Unterschrift with initial", "Unterschrift: K. Weber", "W."),
    ("label alone above", "Handtekening\nPieter van den Berg", "P. B."),
    ("sign-off below", "Thanks for the update.\nKind regards,\nJohn Smith\nAcme BV", "J. S."),
    ("sign-off same line", "Regards, Anna Müller", "A. M."),
    ("Dutch sign-off", "Met vriendelijke groet,\nEmma de Jong", "E. J."),
    ("German sign-off", "Mit freundlichen Grüßen\nJürgen Becker", "J. B."),
    ("title", "Dear Mr. Jansen,", "J."),
]

NOT_NAMES = [
    ("label with form words", "Name: Please print"),
    ("walk-in customer", "Customer: WALK IN"),
    ("one word after a label", "Cashier: Admin"),
    ("label mid-sentence without colon", "the customer John paid"),
    ("prose with regards", "I send you my best regards and hope John Smith is well"),
    ("regards then a sentence", "Kind regards,\nsee you on Monday"),
    ("name without a label", "John Smith lives in New York."),
    ("receipt header", "THANK YOU\nPLEASE COME AGAIN"),
    ("company after a sign-off", "Regards,\nThe Support Team"),
    ("table header after a Name column", "Name Best Average Worst Memory (Worst) Stable"),
    ("table header, other words", "Name Quicksort Mergesort Heapsort (n)"),
]


@pytest.mark.parametrize(("case", "text", "initials"), NAMES, ids=[n[0] for n in NAMES])
def test_person_name_found(case: str, text: str, initials: str) -> None:
    found = hits(text, "text.person_name")
    assert [h.evidence["masked"] for h in found] == [initials]
    assert found[0].severity is Severity.MEDIUM and found[0].message.startswith(f"person name {initials} ")


@pytest.mark.parametrize(("case", "text"), NOT_NAMES, ids=[n[0] for n in NOT_NAMES])
def test_not_a_person_name(case: str, text: str) -> None:
    assert hits(text, "text.person_name") == []


def test_evidence_never_holds_the_name_or_number() -> None:
    found = hits("Name: Jan de Vries, Tel. 06-12345678", "text.person_name") + hits(
        "Name: Jan de Vries, Tel. 06-12345678", "text.phone")
    blob = json.dumps([[h.message, dict(h.evidence)] for h in found]) + repr(found)
    for secret in ("Jan", "Vries", "12345678", "612345678"):
        assert secret not in blob
    same = hits("Klant: jan DE VRIES", "text.person_name")  # no: 'jan' is not capitalised
    assert same == []


def test_policy_can_switch_names_off_and_raise_phones() -> None:
    rules = load_rules({"disable": ["text.person_name"], "severity": {"text.phone": "high"}})
    assert hits("Name: Jan de Vries", "text.person_name", rules) == []
    assert hits("Tel. 06-12345678", "text.phone", rules)[0].severity is Severity.HIGH


def test_gate_keeps_lines_that_fill_a_short_picture() -> None:
    """A two-line picture: each line covers more than a fifth of it and is still text; a blob is not."""
    size = (884, 110)
    lines = [Region(1, 6, 763, 49), Region(1, 60, 873, 48)]
    blob = Region(100, 0, 300, 110)
    assert _text_like([*lines, blob], size) == lines


# -- the fixtures through the real OCR and CLI -------------------------------------------------------------


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("people")
    files = pf.build(folder / "in")
    out, db = folder / "scan.jsonl", folder / "results.sqlite"
    code = main(["scan", str(folder / "in"), "--store", str(db), "--detectors", "metadata,text", "-j", "1", "-q",
                 "--format", "jsonl", "-o", str(out)])
    assert code == 1
    reports = {Path(r["path"]).name: r for r in map(json.loads, out.read_text("utf-8").splitlines())}
    return {"files": files, "reports": reports, "db": db, "jsonl": out.read_text("utf-8"), "folder": folder}


def _rules(report: dict[str, Any]) -> set[str]:
    found = {f["rule_id"] for f in report["findings"]}
    for part in report.get("parts", []):
        found |= _rules(part)
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("name", "expected"), [
    ("contact_card.png", {"text.person_name", "text.phone"}),
    ("phone_banner.png", {"text.phone"}),
    ("signature_letter.png", {"text.person_name", "text.phone"}),
    ("signature_letter.docx", {"text.person_name", "text.phone"}),
])
def test_fixture_found_through_ocr(scanned: dict[str, Any], name: str, expected: set[str]) -> None:
    report = scanned["reports"][name]
    assert expected <= _rules(report) and report["decision"] == "review"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["invoice_lines.png", "invoice_lines.docx"])
def test_invoice_lines_are_no_phone_or_name(scanned: dict[str, Any], name: str) -> None:
    assert not _rules(scanned["reports"][name]) & {"text.phone", "text.person_name"}


SECRETS = (pf.NAME, "Vries", "Pieter", "Berg", "Bakker", "12345678", "2345678", "7945120", "794 5120")


def _leaks(text: str) -> list[str]:
    flat = re.sub(r"[\s\-]", "", text)
    return [s for s in SECRETS if s in text or s.replace(" ", "") in flat]


@pytest.mark.slow
def test_no_name_or_number_in_json_console_or_html(scanned: dict[str, Any], cli: Any, tmp_path: Path) -> None:
    assert _leaks(scanned["jsonl"]) == []
    files = scanned["files"]
    console = cli("scan", str(files["contact_card_png"]), str(files["signature_letter_docx"]), "--detectors",
                  "metadata,text", "-j", "1", "-q")
    assert "person name J. V." in console.out and _leaks(console.out + console.err) == []
    html_path = tmp_path / "r.html"
    assert main(["report", str(scanned["db"]), "--html", str(html_path)]) == 0
    html = html_path.read_text("utf-8")
    assert "person name" in html and _leaks(html) == []
