"""Sticky-note walls and whiteboards with writing that cannot be read: real RapidOCR (locator and
recogniser) on the project's rendered fixtures; a recogniser that reads nothing stands in for poor
handwriting recognition where the layout alone must carry the finding."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from fixtures import board_fixtures, text_fixtures
from scanner.config import Settings
from scanner.detectors.text import TextDetector
from scanner.engines import EngineSet
from scanner.engines.ocr import OcrResult
from scanner.media import shrunk
from scanner.model import Finding, Item, Severity
from scanner.subject import Subject
from scanner.text.board import CONF_LAYOUT
from scanner.text.notes import FIND_SIDE, find_notes
from scanner.text.wall import CONF_UNREAD, MIN_WALL, find_wall, wall_size

pytestmark = pytest.mark.slow


class ReadsNothing:
    """A recogniser that finds no word: handwriting it cannot read."""

    name = "unreadable"

    def read(self, image: Image.Image) -> OcrResult:
        return OcrResult(self.name, (), image.size)


@pytest.fixture(scope="module")
def bfx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return board_fixtures.build(tmp_path_factory.mktemp("board_fixtures"))


@pytest.fixture(scope="module")
def rapid() -> TextDetector:
    settings = Settings(ocr_engine="rapidocr")
    return TextDetector(settings, EngineSet(settings))


@pytest.fixture(scope="module")
def unreadable() -> TextDetector:
    settings = Settings(ocr_engine="rapidocr")  # the real locator, a recogniser that reads nothing
    return TextDetector(settings, EngineSet(settings, ocr=[ReadsNothing()]))


def scan(detector: TextDetector, path: Path) -> list[Finding]:
    data = path.read_bytes()
    subject = Subject(Item(str(path), data, hashlib.sha256(data).hexdigest(), "image/png"), detector.settings)
    return detector.detect(subject)


def rule(findings: list[Finding], rule_id: str) -> Finding | None:
    return next((f for f in findings if f.rule_id == rule_id), None)


def test_wall_counts_touching_notes(bfx: dict[str, Path]) -> None:
    """Eight notes, two of one colour touching: counted from their area, not as one."""
    notes = find_wall(Image.open(bfx["sticky_wall"]).convert("RGB"))
    assert wall_size(notes) == 8
    assert any(n.count == 2 for n in notes)


def test_the_note_and_wall_finders_share_one_shrunk_copy(bfx: dict[str, Path]) -> None:
    """The text detector shrinks its picture to FIND_SIDE once for both finders (each did it before): the same notes
    whether a finder gets that copy or makes its own."""
    for name in ("sticky_wall", "sticky_rotated"):
        image = Image.open(bfx[name]).convert("RGB")
        small = shrunk(image, FIND_SIDE)
        assert small.size != image.size and max(small.size) == FIND_SIDE
        assert find_wall(image, small) == find_wall(image) and find_notes(image, small) == find_notes(image)
    blank = Image.new("RGB", small.size, "white")  # the copy given is the one looked at
    assert find_notes(image, small) and not find_notes(image, blank)
    wall = Image.open(bfx["sticky_wall"]).convert("RGB")
    wall_small = shrunk(wall, FIND_SIDE)
    assert find_wall(wall, wall_small) and not find_wall(wall, Image.new("RGB", wall_small.size, "white"))


def test_wall_of_notes_is_a_finding(rapid: TextDetector, bfx: dict[str, Path]) -> None:
    wall = rule(scan(rapid, bfx["sticky_wall"]), "text.sticky_notes")
    assert wall and wall.severity is Severity.MEDIUM and wall.evidence["notes"] == 8
    assert wall.region and wall.region.x < 200 and wall.region.x + wall.region.w > 1400


def test_wall_is_a_finding_when_no_word_is_read(unreadable: TextDetector, bfx: dict[str, Path]) -> None:
    wall = rule(scan(unreadable, bfx["sticky_wall"]), "text.sticky_notes")
    assert wall and wall.confidence == CONF_UNREAD and "not read" in wall.message


def test_rotated_note_is_turned_upright_and_read(rapid: TextDetector, bfx: dict[str, Path]) -> None:
    (note,) = find_notes(Image.open(bfx["sticky_rotated"]).convert("RGB"))
    assert abs(note.angle + 35) < 3  # turned 35 degrees counter-clockwise: read turned back
    secret = rule(scan(rapid, bfx["sticky_rotated"]), "text.secret")
    assert secret and secret.region and 1050 < secret.region.x < 1300
    assert text_fixtures.WIFI_PASSWORD not in repr(secret)


def test_board_of_unreadable_scribbles_is_a_whiteboard(unreadable: TextDetector, bfx: dict[str, Path]) -> None:
    board = rule(scan(unreadable, bfx["board_scribbles"]), "text.whiteboard")
    assert board and board.confidence == CONF_LAYOUT and "could not be read" in board.message
    assert int(str(board.evidence["marks"])) >= 5


def test_board_of_scribbles_read_by_the_real_engine(rapid: TextDetector, bfx: dict[str, Path]) -> None:
    board = rule(scan(rapid, bfx["board_scribbles"]), "text.whiteboard")
    assert board and board.severity is Severity.MEDIUM


def test_green_chalkboard_is_a_whiteboard(rapid: TextDetector, bfx: dict[str, Path]) -> None:
    board = rule(scan(rapid, bfx["chalkboard"]), "text.whiteboard")
    assert board and "chalkboard" in board.message


@pytest.mark.parametrize("name", ["flower_bed", "plain_wall"])
def test_colourful_photo_and_plain_wall_stay_clean(rapid: TextDetector, unreadable: TextDetector,
                                                  bfx: dict[str, Path], name: str) -> None:
    assert wall_size(find_wall(Image.open(bfx[name]).convert("RGB"))) < MIN_WALL
    assert scan(rapid, bfx[name]) == []
    assert scan(unreadable, bfx[name]) == []
