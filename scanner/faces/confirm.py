"""Second opinion for doubtful faces: a candidate scored between `candidate_score` and `min_score` counts
only when the detector finds it again in the mirrored picture (score >= `confirm_score`, boxes overlapping
by IoU >= MIN_IOU). Faces stay faces when mirrored; most face-like patterns do not survive the second
look. Measured on dev in benchmarks/bench_faces.py (docs/people.md)."""

from __future__ import annotations

from collections.abc import Sequence

from ..engines.faces import FaceBox
from ..model import iou

MIN_IOU = 0.5  # the mirrored box must cover the same face (dev's confirmed face overlaps by 0.79)


def mirrored(boxes: Sequence[FaceBox], width: int) -> list[FaceBox]:
    """Boxes found in the horizontally flipped picture, mapped back to the picture's coordinates."""
    return [FaceBox(width - b.x - b.w, b.y, b.w, b.h, b.score) for b in boxes]



def candidates(boxes: Sequence[FaceBox], min_score: float, candidate_score: float) -> list[FaceBox]:
    """The doubtful boxes: at or above candidate_score and below min_score."""
    return [b for b in boxes if candidate_score <= b.score < min_score]


def confirmed(boxes: Sequence[FaceBox], second: Sequence[FaceBox] | None, min_score: float,
              candidate_score: float, confirm_score: float) -> list[FaceBox]:
    """Faces of the first look: those at or above min_score, and each candidate that `second` (boxes of the
    mirrored picture, already mapped back; None when it was not looked at) finds again at >= confirm_score."""
    sure = [b for b in boxes if b.score >= min_score]
    if not second:
        return sure
    again = [s for s in second if s.score >= confirm_score]
    extra = [c for c in candidates(boxes, min_score, candidate_score) if any(iou(c, s) >= MIN_IOU for s in again)]
    return sure + extra
