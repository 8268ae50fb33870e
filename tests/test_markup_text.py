"""Markup files (.html, .svg, .xml) are read as written and as a browser shows them (scanner/text/markup.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.api import scan
from scanner.config import Settings

TYPED = Settings(detectors=("metadata", "text"), jobs=1, audit_db="off")
CARD = "4111 1111 1111 1111"


def _scan(path: Path) -> tuple[str, set[str], str]:
    (report,) = scan(path, TYPED).files
    body = json.dumps(report.to_dict())
    return report.decision.label, {f.rule_id for r in report.walk() for f in r.findings}, body


@pytest.mark.parametrize(("name", "markup", "rule"), [
    ("nbsp.html", "<html><body><p>Card number: 4111&nbsp;1111&nbsp;1111&nbsp;1111</p></body></html>",
     "text.payment_card"),
    ("spans.html", "<html><body><p>Card: <span>4111</span> <span>1111</span> <span>1111</span> <span>1111</span>"
                   "</p></body></html>", "text.payment_card"),
    ("cells.html", "<table><tr><td>Password</td><td>Tr0ub4dor-x9</td></tr></table>", "text.secret"),
    ("card.svg", '<svg xmlns="http://www.w3.org/2000/svg"><text x="0" y="15">Card 4111&#160;1111&#160;1111&#160;1111'
                 "</text></svg>", "text.payment_card"),
    ("script.html", "<html><head><script>var password = 'Tr0ub4dor-x9';</script></head><body>hi</body></html>",
     "text.secret"),
])
def test_what_markup_shows_or_hides_in_a_script_is_read(tmp_path: Path, name: str, markup: str, rule: str) -> None:
    """Each of these was approved: an entity or a tag between a card's groups hid it from the rules."""
    (tmp_path / name).write_text(markup, encoding="utf-8")
    decision, rules, body = _scan(tmp_path / name)
    assert decision == "block" and rule in rules
    assert CARD not in body and "Tr0ub4dor-x9" not in body and "4111111111111111" not in body


def test_a_card_written_plainly_in_markup_is_one_finding(tmp_path: Path) -> None:
    (tmp_path / "p.html").write_text(f"<p>Card {CARD}</p>", encoding="utf-8")
    (report,) = scan(tmp_path / "p.html", TYPED).files
    found = [f.rule_id for r in report.walk() for f in r.findings if f.rule_id.startswith("text.")]
    assert found == ["text.payment_card"]


def test_an_ordinary_page_has_no_text_finding(tmp_path: Path) -> None:
    page = ("<!doctype html><html><head><title>Opening hours</title><style>p{color:#112233}</style></head>"
            "<body><h1>Welcome</h1><p>Open 9&ndash;17, closed on Sundays.</p></body></html>")
    (tmp_path / "hours.html").write_text(page, encoding="utf-8")
    decision, rules, _ = _scan(tmp_path / "hours.html")
    assert decision == "approve" and not {r for r in rules if r.startswith("text.")}


def test_values_kept_out_of_sight_are_read_from_a_page_but_not_from_a_mail_body() -> None:
    """href, <meta content>, data-* are read (entities decoded) when `unseen`; an e-mail body is read as before."""
    from scanner.text.markup import html_to_text

    page = ('<head><meta name="description" content="a&#32;b"/></head><body><a href="https://u:p@h/" data-k="dv" '
            'id="i1" class="c1" epub:type="chapter" xml:lang="en">link</a></body>')
    unseen = html_to_text(page, unseen=True)
    assert "a b" in unseen and "https://u:p@h/" in unseen and "dv" in unseen and "link" in unseen
    assert not {"i1", "c1", "chapter", "en"} & set(unseen.split())
    assert html_to_text(page) == "link"


def test_a_card_split_by_entities_in_a_meta_content_blocks(tmp_path: Path) -> None:
    grouped = "&#32;".join(CARD.split())
    page = f'<html><head><meta name="description" content="card {grouped}"/></head><body>hi</body></html>'
    (tmp_path / "meta.html").write_text(page, encoding="utf-8")
    decision, rules, body = _scan(tmp_path / "meta.html")
    assert decision == "block" and "text.payment_card" in rules and CARD not in body


def test_an_icons_path_data_is_no_card_number(tmp_path: Path) -> None:
    """Digits of SVG geometry (path data, points, transforms) read as one run made a Luhn-valid "card": system icons
    were blocked. A card in the icon's text or title is still found."""
    icon = ('<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">'
            '<path d="M4.1 1.1 1.1 1.1 1.1 1.1 1.1 1.1z" transform="translate(4.1 1.1)" fill="#474747"/>'
            '<polygon points="4.1 1.1 1.1 1.1 1.1 1.1 1.1 1.1"/></svg>')
    (tmp_path / "icon.svg").write_text(icon, encoding="utf-8")
    decision, rules, _ = _scan(tmp_path / "icon.svg")
    assert decision == "approve" and not {r for r in rules if r.startswith("text.")}
    (tmp_path / "labelled.svg").write_text(icon.replace("</svg>", f"<title>card {CARD}</title></svg>"),
                                           encoding="utf-8")
    assert _scan(tmp_path / "labelled.svg")[0] == "block"
