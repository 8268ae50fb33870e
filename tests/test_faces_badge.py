"""The badge text rules: which lines read on a card count as a name or an ID number (no engine needed)."""

from __future__ import annotations

import pytest

from scanner.faces.badge import CARD_WORD, badge_text


@pytest.mark.parametrize("lines, name, number", [
    (["Eileen Collins", "Employee No 204518"], True, True),
    (["ID: 12345"], False, True),
    (["Mitarbeiter-Nr. 4711"], False, True),
    (["Staff #0042"], False, True),
    (["1234567"], False, True),
    (["Jan de Vries"], True, False),
    (["Ludwig van der Berg"], True, False),
    (["J. Smith"], True, False),
    (["Smith"], False, False),  # one word: not enough to call it a name
    (["Anna-Lena Müller"], True, False),
    (["ACME LABS", "VISITOR"], False, False),
    (["Room 12", "Level 3"], False, False),
    ([], False, False),
])
def test_badge_text(lines: list[str], name: bool, number: bool) -> None:
    assert badge_text(lines) == (name, number)


@pytest.mark.parametrize("line, word", [
    ("STAFF", True), ("Visitor", True), ("Mitarbeiterin", True), ("Medewerker", True), ("Student ID", True),
    ("Employee", True), ("Besucher", True), ("STAFFORD", False), ("Idaho", False), ("Room 12", False),
])
def test_badge_words(line: str, word: bool) -> None:
    assert bool(CARD_WORD.search(line)) is word
