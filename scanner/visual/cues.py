"""Scene cues out of the box: screen, whiteboard, document, payment terminal, from ImageNet scores and statistics.

ImageNet-1k has screens (monitor, screen, television, laptop, notebook, desktop computer, cellular
telephone, hand-held computer, ATM, web site, home theater) and paper (menu, envelope, book
jacket, crossword, comic book, binder) but no whiteboard or chalkboard: boards and plain
paper are recognised from statistics: a landscape frame that is mostly bright, unsaturated and
stroked is a board; a portrait one is paper. Interactive whiteboards (flip-chart displays) look
like a monitor or television to ImageNet: a wall-display screen cue whose picture is light,
unsaturated and stroked is a whiteboard too (and still a screen). Measured by
benchmarks/bench_cues.py (see docs/visual.md).
Cues are context for the OCR rules, not verdicts: they are reported at severity info.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .terminal import terminal_score

if TYPE_CHECKING:
    from PIL import Image

SCREEN_CLASSES = {
    664: "monitor", 782: "screen", 851: "television", 620: "laptop", 681: "notebook computer",
    527: "desktop computer", 487: "cellular telephone", 590: "hand-held computer", 480: "ATM",
    916: "web site", 598: "home theater", 548: "entertainment center",
}
WALL_DISPLAYS = {664, 782, 851}  # monitor, screen, television: what an interactive whiteboard is taken for
# board-like statistics: (min bright share, max saturated share, min edge density); edge density <= BOARD_MAX_INK
PAPER_BOARD = (0.45, 0.05, 0.05)  # a whiteboard or flip chart photographed as it is
DISPLAY_BOARD = (0.30, 0.12, 0.06)  # writing on an interactive display (with a screen cue)
BOARD_MAX_INK = 0.2  # above it: dense print (a document), not writing on a board
DOCUMENT_CLASSES = {
    922: "menu", 549: "envelope", 921: "book jacket", 918: "crossword", 917: "comic book", 446: "binder",
}
STATS_SIDE = 256


@dataclass(frozen=True, slots=True)
class Cue:
    scene: str  # screen | whiteboard | document
    score: float
    basis: str  # the ImageNet classes or statistics behind it


@dataclass(frozen=True, slots=True)
class Stats:
    bright: float  # fraction of bright, low-saturation pixels (paper, whiteboard)
    ink: float  # fraction of dark edge pixels inside the bright area
    colourful: float  # fraction of saturated pixels
    aspect: float  # width / height


def image_stats(image: Image.Image) -> Stats:
    import cv2
    from PIL import Image as PILImage

    scale = min(1.0, STATS_SIDE / max(image.size))  # box filter: a third of thumbnail()'s cost
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    im = image.resize(size, PILImage.Resampling.BOX) if scale < 1 else image
    rgb = np.asarray(im.convert("RGB"))
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    s, v = hsv[..., 1].astype(np.float32) / 255, hsv[..., 2].astype(np.float32) / 255
    bright = (v > 0.62) & (s < 0.18)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, 60, 160) > 0
    near_bright = cv2.dilate(bright.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    ink = float((edges & near_bright).sum()) / max(1.0, float(near_bright.sum()))
    return Stats(float(bright.mean()), ink, float((s > 0.45).mean()), image.width / max(1, image.height))


def cues_for(probs: np.ndarray, stats: Stats, cue_min: float) -> list[Cue]:
    """Cues for one image from its (1000,) ImageNet probabilities and its statistics."""
    out: list[Cue] = []
    screen = float(sum(probs[i] for i in SCREEN_CLASSES))
    if screen >= cue_min:
        top = max(SCREEN_CLASSES, key=lambda i: float(probs[i]))
        if top in WALL_DISPLAYS and _board_like(stats, *DISPLAY_BOARD):
            # a digital whiteboard (interactive flip-chart display) is both: the board leads for the OCR rules
            out.append(Cue("whiteboard", screen, f"imagenet:{SCREEN_CLASSES[top]} + stats:writing on a display"))
        out.append(Cue("screen", screen, f"imagenet:{SCREEN_CLASSES[top]}"))
    document = float(sum(probs[i] for i in DOCUMENT_CLASSES))
    if document >= cue_min:
        top = max(DOCUMENT_CLASSES, key=lambda i: float(probs[i]))
        out.append(Cue("document", document, f"imagenet:{DOCUMENT_CLASSES[top]}"))
    elif stats.aspect < 0.9 and stats.bright >= 0.55 and stats.ink >= 0.03 and stats.colourful < 0.1:
        out.append(Cue("document", min(0.9, stats.bright), "stats:portrait paper"))
    terminal = terminal_score(probs)  # an ATM or payment kiosk (visual/terminal.py)
    if terminal is not None:
        out.append(Cue("terminal", terminal[0], f"imagenet:{terminal[1]}"))
    board = stats.aspect >= 1.0 and _board_like(stats, *PAPER_BOARD)
    if board and screen < cue_min and document < cue_min:
        out.append(Cue("whiteboard", min(0.8, 0.4 + stats.bright / 2), "stats:landscape board"))
    return out


def _board_like(stats: Stats, min_bright: float, max_colourful: float, min_ink: float) -> bool:
    """Mostly light, unsaturated, with dark strokes on it (not a page of dense print)."""
    return stats.bright >= min_bright and min_ink <= stats.ink <= BOARD_MAX_INK and stats.colourful < max_colourful
