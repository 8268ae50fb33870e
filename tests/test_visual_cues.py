"""Scene cues: the decision rule over ImageNet scores + statistics, and the real model on fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.text_fixtures import textless, whiteboard
from fixtures.visual_fixtures import rack_scene, screenshot_of, slide
from scanner.config import Settings
from scanner.engines.embedder import build_embedder
from scanner.visual.cues import BOARD_MAX_INK, DISPLAY_BOARD, Stats, cues_for, image_stats

IMAGENET = {"monitor": 664, "television": 851, "desktop": 527, "home_theater": 598, "menu": 922}
BOARD = Stats(bright=0.4, ink=0.1, colourful=0.01, aspect=1.33)  # a digital board photo's statistics


def probs(**scores: float) -> np.ndarray:
    p = np.full(1000, 1e-4, np.float32)
    for name, value in scores.items():
        p[IMAGENET[name]] = value
    return p


def scenes(p: np.ndarray, stats: Stats) -> list[str]:
    return [c.scene for c in cues_for(p, stats, cue_min=0.35)]


def test_display_with_writing_is_a_whiteboard_first_and_a_screen() -> None:
    cues = cues_for(probs(monitor=0.37, television=0.11), BOARD, cue_min=0.35)
    assert [c.scene for c in cues] == ["whiteboard", "screen"]
    assert "monitor" in cues[0].basis and "display" in cues[0].basis


@pytest.mark.parametrize(
    ("p", "stats", "expected"),
    [
        (probs(desktop=0.4, monitor=0.15), BOARD, ["screen"]),  # a computer, not a wall display
        (probs(monitor=0.3, home_theater=0.2), Stats(0.38, 0.12, 0.22, 1.5), ["screen"]),  # colourful picture
        (probs(monitor=0.4), Stats(0.6, 0.3, 0.01, 1.6), ["screen"]),  # dense print: a document on screen
        (probs(monitor=0.4), Stats(0.1, 0.1, 0.01, 1.33), ["screen"]),  # dark display
        (probs(monitor=0.2), BOARD, []),  # too little screen evidence for any cue
    ],
)
def test_screens_that_are_not_boards(p: np.ndarray, stats: Stats, expected: list[str]) -> None:
    assert scenes(p, stats) == expected


@pytest.mark.parametrize(
    ("stats", "board"),
    [
        (Stats(DISPLAY_BOARD[0], 0.1, 0.01, 1.33), True),  # bright share at the minimum
        (Stats(DISPLAY_BOARD[0] - 0.01, 0.1, 0.01, 1.33), False),
        (Stats(0.4, 0.1, DISPLAY_BOARD[1] - 0.001, 1.33), True),
        (Stats(0.4, 0.1, DISPLAY_BOARD[1], 1.33), False),  # saturated share must stay below the maximum
        (Stats(0.4, DISPLAY_BOARD[2], 0.01, 1.33), True),  # edge density at the minimum
        (Stats(0.4, DISPLAY_BOARD[2] - 0.001, 0.01, 1.33), False),
        (Stats(0.4, BOARD_MAX_INK, 0.01, 1.33), True),
        (Stats(0.4, BOARD_MAX_INK + 0.001, 0.01, 1.33), False),
    ],
)
def test_display_board_limits(stats: Stats, board: bool) -> None:
    assert scenes(probs(monitor=0.4), stats) == (["whiteboard", "screen"] if board else ["screen"])


def test_boards_and_paper_from_statistics_alone() -> None:
    assert scenes(probs(), Stats(0.77, 0.16, 0.001, 1.33)) == ["whiteboard"]
    assert scenes(probs(), Stats(0.77, 0.16, 0.001, 0.7)) == ["document"]  # portrait: paper
    assert scenes(probs(menu=0.8), Stats(0.9, 0.1, 0.0, 1.4)) == ["document"]  # ImageNet paper wins


def test_image_statistics_of_rendered_scenes() -> None:
    board = image_stats(whiteboard())
    assert board.bright > 0.6 and 0.05 <= board.ink <= 0.2 and board.colourful < 0.05 and board.aspect > 1
    photo = image_stats(textless())
    assert photo.bright < 0.1 and photo.colourful > 0.3


@pytest.fixture(scope="module")
def embedder():  # type: ignore[no-untyped-def]
    return build_embedder(Settings(device="cpu"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("whiteboard", ["whiteboard"]), ("screenshot", ["screen"]), ("photo", []), ("rack", [])],
)
def test_real_model_cues_on_fixtures(embedder, name: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    image: Image.Image = {
        "whiteboard": whiteboard, "screenshot": lambda: screenshot_of(slide(1, "Roadmap")),
        "photo": textless, "rack": lambda: rack_scene(1),
    }[name]().convert("RGB")
    p = embedder.embed([image]).probs[0]
    assert scenes(p, image_stats(image)) == expected
