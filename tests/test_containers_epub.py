"""EPUB pages, the nav document and the NCX are read like a standalone .html: as written and as shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures import epub_fixtures as efx
from fixtures.office_fixtures import _zip
from scanner.api import scan
from scanner.config import Settings

TYPED = Settings(detectors=("metadata", "text"), jobs=1, audit_db="off")
SPACED_CARD = " ".join(efx.CARD[i:i + 4] for i in range(0, 16, 4))


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return efx.build(tmp_path_factory.mktemp("epub_fixtures"))


def _scan(path: Path) -> tuple[str, list[tuple[str, str]], str]:
    (report,) = scan(path, TYPED).files
    found = [(f.rule_id, r.location) for r in report.walk() for f in r.findings]
    return report.decision.label, found, json.dumps(report.to_dict())


@pytest.mark.parametrize("name", sorted(efx.LEAKS))
def test_a_number_outside_the_body_text_of_a_page_blocks(books: dict[str, Path], name: str) -> None:
    """Each was approved (a reviewer's finding) while the same page as a .html file blocked."""
    decision, found, body = _scan(books[name])
    rule = "text.secret" if name.startswith("password") else "text.payment_card"
    part = "OEBPS/toc.ncx#text" if "ncx" in name else "OEBPS/Text/ch01.xhtml#text"
    assert decision == "block"
    assert (rule, part) in found, found
    for value in (efx.CARD, SPACED_CARD, efx.URL_PASSWORD):
        assert value not in body  # masked in the report


def test_a_plain_book_has_no_text_finding(books: dict[str, Path]) -> None:
    """A book's markup is full of ids, classes, xml:lang, epub:type, roles, data-* and links: none is a finding."""
    decision, found, _ = _scan(books["clean_book.epub"])
    assert decision == "approve" and not [f for f in found if f[0].startswith("text.")], found


def test_the_package_document_metadata_is_read_as_fields(tmp_path: Path) -> None:
    opf = efx.OPF.replace("<dc:language>", f"<dc:description>card {efx.CARD}</dc:description><dc:language>")
    path = tmp_path / "described.epub"
    path.write_bytes(_zip({"META-INF/container.xml": efx.CONTAINER, "OEBPS/content.opf": opf},
                          first=("mimetype", "application/epub+zip")))
    decision, found, body = _scan(path)
    assert decision == "block" and ("text.payment_card", "package.opf") in found
    assert efx.CARD not in body


def test_a_page_that_is_not_well_formed_is_an_error_and_still_read(tmp_path: Path) -> None:
    """`&nbsp;` is not an XML entity: the page is an error (review) as before, and its text is read all the same."""
    path = tmp_path / "tag_soup.epub"
    path.write_bytes(_zip({"META-INF/container.xml": efx.CONTAINER, "OEBPS/content.opf": efx.OPF,
                           "OEBPS/Text/ch01.xhtml": f"<html><body><p>card&nbsp;{efx.CARD}<br></p></body></html>"},
                          first=("mimetype", "application/epub+zip")))
    decision, found, _ = _scan(path)
    assert decision == "block" and "text.payment_card" in {r for r, _ in found}
