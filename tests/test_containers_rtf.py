"""RTF: embedded OLE objects, pictures, the \\info group and the text (hidden text too) are read; damage is review."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures import rtf_fixtures as rfx
from fixtures.office_fixtures import CARD
from scanner import Settings, scan
from scanner.containers.ole1 import parse_ole1
from scanner.containers.rtf_reader import MAX_GROUPS, read_rtf
from scanner.errors import CorruptItem
from scanner.formats import RTF_KIND, sniff

SETTINGS = Settings(detectors=("metadata", "text"), jobs=1)


@pytest.fixture(scope="module")
def rfiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return rfx.build(tmp_path_factory.mktemp("rtf_fixtures"))


@pytest.mark.parametrize(("name", "decision", "outcome"), [
    ("object_package_zip_card.rtf", "block", "text.payment_card@object[1]:cards.zip!notes.txt"),
    ("object_bare_zip_card.rtf", "block", "text.payment_card@object[1]:Package!notes.txt"),
    ("object_word97.rtf", "review", "legacy Word binary document"),
    ("object_damaged.rtf", "review", "embedded object 1 (Word.Document.8) not read"),
    ("info_author.rtf", "review", "metadata.identity@info"),
    ("hidden_card.rtf", "block", "text.payment_card@text"),
    ("docvar_card.rtf", "block", "text.payment_card@unshown-text"),
    ("unicode_card.rtf", "block", "text.payment_card@text"),
    ("picture_gps.rtf", "review", "metadata.gps@rtf-picture[1]"),
    ("truncated.rtf", "review", "RTF ends inside 2 open groups"),
    ("letter_clean.rtf", "approve", ""),
])
def test_rtf_fixtures_get_their_decision(rfiles: dict[str, Path], name: str, decision: str, outcome: str) -> None:
    assert sniff(rfiles[name].read_bytes()) == RTF_KIND
    (report,) = scan(rfiles[name], SETTINGS).files
    found = {f"{f.rule_id}@{node.location}" for node in report.walk() for f in node.findings}
    errors = [e.message for node in report.walk() for e in node.errors]
    assert report.decision.label == decision, (found, errors)
    assert not outcome or outcome in found or any(outcome in e for e in errors), (found, errors)
    assert not any("no detector handles" in e for e in errors), errors


def test_info_authors_are_fields_and_masked_in_the_report(rfiles: dict[str, Path]) -> None:
    doc = read_rtf(rfiles["info_author.rtf"].read_bytes())
    assert ("identity", "Author", rfx.AUTHOR) in doc.fields and ("identity", "Company", rfx.COMPANY) in doc.fields
    assert ("identity", "Manager", rfx.MANAGER) in doc.fields and ("text", "Title", "Quarterly numbers") in doc.fields
    assert ("time", "Created", "2024-03-01T09:05:00") in doc.fields
    assert "".join(doc.text).strip() == "Quarterly numbers are in."
    (report,) = scan(rfiles["info_author.rtf"], SETTINGS).files
    shown = json.dumps(report.to_dict())
    assert rfx.AUTHOR not in shown and rfx.COMPANY not in shown and rfx.MANAGER not in shown


def test_text_skips_tables_and_decodes_escapes() -> None:
    doc = read_rtf(rb"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Arial;}}{\*\unknowndest secret}{\colortbl;\red1;}"
                   rb"caf\'e9\tab \u8364?5{\v hidden}\par{\*\fldinst HYPERLINK x}end}")
    assert "".join(doc.text) == "caf\u00e9\t\u20ac5hidden\n\nHYPERLINK x\nend"
    assert "".join(doc.unshown).split() == ["secret"] and "Arial" not in "".join(doc.unshown)
    assert not doc.problems


def test_a_card_in_hidden_text_reaches_the_text_item(rfiles: dict[str, Path]) -> None:
    assert CARD in "".join(read_rtf(rfiles["hidden_card.rtf"].read_bytes()).text)


@pytest.mark.parametrize(("data", "problem"), [
    (b"{\\rtf1 " + b"{" * (MAX_GROUPS * 3) + b"deep" + b"}" * (MAX_GROUPS * 3) + b"}", "nested deeper"),
    (b"{\\rtf1 text}}", "closes no group"),
    (b"{\\rtf1 {\\b text}", "1 open groups"),
])
def test_deep_or_unbalanced_braces_are_problems_not_crashes(data: bytes, problem: str) -> None:
    doc = read_rtf(data)
    assert any(problem in p for p in doc.problems), doc.problems
    assert "text" in "".join(doc.text) or "deep" in "".join(doc.text)


def test_ole1_objects_parse_or_raise() -> None:
    obj = parse_ole1(rfx.ole1("Package", rfx.packaged("a.zip", b"PK\x05\x06" + b"\x00" * 18)))
    assert obj.name == "a.zip" and obj.data is not None and obj.data.startswith(b"PK")
    assert parse_ole1(rfx.ole1("Equation.3", b"abc")).data == b"abc"
    for bad in (b"", b"\x01\x05\x00\x00\x09\x00\x00\x00", rfx.ole1("Package", b"\x02\x00no-terminator" * 400)):
        with pytest.raises(CorruptItem):
            parse_ole1(bad)
