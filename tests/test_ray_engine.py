"""Issue 12 part 3: the Ray Data engine on a real local Ray cluster (one per module: Ray starts slowly).

The same Settings object (so the same evidence HMAC key) goes to the local engine and to Ray, so every
report must be equal apart from timings: decisions, rule ids, findings, errors, the container trees.
Skipped when ray is not installed (`pip install "leakscan[ray]"`).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from fixtures import office_fixtures, text_fixtures  # noqa: E402
from scanner.config import Settings  # noqa: E402
from scanner.execution import GRACE_S, run  # noqa: E402
from scanner.execution import ray_engine as engine_module  # noqa: E402
from scanner.execution.ray_engine import RayEngine  # noqa: E402
from scanner.model import Decision, FileReport, Finding  # noqa: E402
from scanner.pipeline import Pipeline  # noqa: E402
from scanner.subject import Subject  # noqa: E402
from tests.ray_cluster import local_cluster  # noqa: E402
from tests.reports import without_timings  # noqa: E402

TIMEOUT_S = 1.0
HANG_BOUND_S = 60.0  # actor start (spawned worker, models) + timeout + grace, on two busy shared cores
SETTINGS = Settings(jobs=2, timeout_s=60.0)
MIXED = ("clean.jpg", "gps_dirty.jpg", "truncated.jpg", "corrupt_header.png")


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    yield from local_cluster()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, fx: dict[str, Path]) -> list[str]:
    """Photos (one with GPS, one cut short, one with a corrupt header), two documents, a card photo for OCR."""
    office = office_fixtures.build(tmp_path_factory.mktemp("office"))
    card = tmp_path_factory.mktemp("text") / "card_pan.png"
    text_fixtures.payment_card().save(card, "PNG")
    return [str(fx[n]) for n in MIXED] + [str(office["dirty.docx"]), str(office["clean.docx"]), str(card)]


def _by_path(reports: Iterator[FileReport]) -> dict[str, FileReport]:
    out: dict[str, FileReport] = {}
    for r in reports:
        assert r.path not in out, f"two reports for {r.path}"
        out[r.path] = r
    return out


def test_ray_gives_the_local_engines_reports_on_mixed_fixtures(mixed: list[str]) -> None:
    local = _by_path(run(mixed, SETTINGS))
    with RayEngine(SETTINGS) as engine:
        remote = _by_path(engine.scan(mixed))
    assert sorted(remote) == sorted(local) == sorted(mixed)
    for path in mixed:
        assert without_timings(remote[path]) == without_timings(local[path]), path
    decisions = {Path(p).name: r.decision for p, r in remote.items()}
    assert decisions["truncated.jpg"] == Decision.REVIEW and remote[mixed[2]].errors  # corrupt: review, job goes on
    assert decisions["clean.jpg"] == Decision.APPROVE
    assert decisions["dirty.docx"] == Decision.BLOCK
    assert {f.rule_id for f in remote[mixed[-1]].findings} == {f.rule_id for f in local[mixed[-1]].findings}


def test_relative_paths_are_read_by_the_actors_and_a_vanished_file_is_reviewed(mixed: list[str], monkeypatch) -> None:
    """One scan: relative names are shown as given; a file gone before its batch gets review, the rest goes on."""
    monkeypatch.chdir(Path(mixed[0]).parent)
    names = [Path(p).name for p in mixed[:4]] + ["gone.jpg"]
    with RayEngine(Settings(jobs=2, detectors=("metadata",))) as engine:
        reports = _by_path(engine.scan(names))
    assert sorted(reports) == sorted(names)
    assert reports["gps_dirty.jpg"].decision == Decision.REVIEW
    assert "metadata.gps" in {f.rule_id for f in reports["gps_dirty.jpg"].findings}
    assert reports["clean.jpg"].decision == Decision.APPROVE
    assert reports["gone.jpg"].decision == Decision.REVIEW
    assert [e.code for e in reports["gone.jpg"].errors] == ["unreadable"]


def test_a_job_that_fails_midway_reviews_every_file_without_a_report(mixed: list[str], monkeypatch) -> None:
    """The driver's net: rows stop coming (actors lost, cluster gone); the missing files get review, once;
    a row that comes twice is reported once."""
    with RayEngine(Settings(jobs=2, detectors=("metadata",))) as engine:
        real = engine._rows

        def one_then_fail(absolute: list[str], chunk: int | None) -> Iterator[dict[str, Any]]:
            first = next(iter(real(absolute, 1)))
            yield first
            yield first  # a batch run again after an actor restart: still one report per file
            raise ray.exceptions.RayActorError()

        monkeypatch.setattr(engine, "_rows", one_then_fail)
        reports = list(engine.scan(mixed[:4]))
    assert sorted(r.path for r in reports) == sorted(mixed[:4])
    failed = [r for r in reports if any(e.stage == engine_module.STAGE for e in r.errors)]
    assert len(failed) == 3 and all(r.decision == Decision.REVIEW for r in failed)
    assert all("RayActorError" in r.errors[0].message for r in failed)


class Hangs:
    """Hangs on files named hang* with SIGALRM blocked (no in-process limit can end it); else finds nothing."""

    id = "test.hangs"
    rules: tuple[str, ...] = ()

    def accepts(self, subject: Subject) -> bool:
        return True

    def detect(self, subject: Subject) -> list[Finding]:
        if Path(subject.item.source).name.startswith("hang"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM})
            read_end, _write_end = os.pipe()
            os.read(read_end, 1)
        return []


def hanging_pipeline(settings: Settings) -> Pipeline:
    pipeline = Pipeline(settings)
    pipeline.detectors.append(Hangs())
    return pipeline


def test_a_file_that_hangs_in_an_actor_gets_timeout_and_its_batch_goes_on(fx: dict[str, Path], tmp_path) -> None:
    hang = tmp_path / "hang.jpg"
    hang.write_bytes(fx["clean.jpg"].read_bytes())
    paths = [str(fx["clean.jpg"]), str(hang), str(fx["gps_dirty.jpg"])]
    settings = Settings(jobs=1, detectors=("metadata",), timeout_s=TIMEOUT_S)
    t0 = time.monotonic()
    with RayEngine(settings, factory=hanging_pipeline) as engine:
        reports = _by_path(engine.scan(paths, chunk=3))  # one batch: the hang must not take the others along
    assert time.monotonic() - t0 < HANG_BOUND_S + TIMEOUT_S + GRACE_S
    assert [e.code for e in reports[str(hang)].errors] == ["timeout"]
    assert reports[str(hang)].decision == Decision.REVIEW
    assert reports[str(fx["clean.jpg"])].decision == Decision.APPROVE
    assert reports[str(fx["gps_dirty.jpg"])].decision == Decision.REVIEW


def test_the_cli_runs_on_ray_with_the_same_decisions_and_exit_code(cli, mixed: list[str]) -> None:
    files = mixed[:4] + mixed[4:5]
    local = cli("scan", "-q", "--format", "jsonl", "-j", "2", "--detectors", "metadata,text", *files)
    remote = cli("scan", "-q", "--format", "jsonl", "--engine", "ray", "-j", "2", "--detectors", "metadata,text",
                 *files)
    assert remote.code == local.code == 1, remote.err
    pick = lambda res: sorted((r["path"], r["decision"], [x["rule_id"] for x in r["reasons"]]) for r in res.jsonl())  # noqa: E731
    assert pick(remote) == pick(local)


def test_ray_results_go_to_the_store_and_a_rerun_is_answered_from_it(cli, mixed: list[str], tmp_path) -> None:
    files = mixed[:2]  # a clean photo and one with GPS (a report with errors is scanned again by design)
    db = str(tmp_path / "results.sqlite")
    first = cli("scan", "-q", "--format", "jsonl", "--engine", "ray", "-j", "2", "--detectors", "metadata",
                "--store", db, *files)
    again = cli("scan", "-q", "--format", "jsonl", "--detectors", "metadata", "--store", db, *files)
    pick = lambda res: sorted((r["path"], r["decision"], [x["rule_id"] for x in r["reasons"]]) for r in res.jsonl())  # noqa: E731
    assert first.code == again.code and pick(first) == pick(again) and len(pick(first)) == len(files)
    with sqlite3.connect(db) as con:  # every file stored once by the Ray run, re-emitted (not rescanned) after
        scanned = con.execute("SELECT COUNT(*) FROM decisions WHERE reused = 0").fetchone()[0]
    assert scanned == len(files)


def test_ray_address_without_the_ray_engine_is_a_usage_error(cli, mixed: list[str]) -> None:
    res = cli("scan", "--ray-address", "127.0.0.1:6379", mixed[0])
    assert res.code == 2 and "--engine ray" in res.err


def test_the_ray_engine_without_ray_installed_is_a_usage_error_with_the_hint(cli, mixed, monkeypatch) -> None:
    monkeypatch.setattr(engine_module, "available", lambda: False)
    res = cli("scan", "--engine", "ray", mixed[0])
    assert res.code == 2
    assert 'pip install "leakscan[ray]"' in res.err
