"""Issue 9, execution: the worker pool and its watchdog, with real processes, real hangs and real kills.

A test pipeline (built through Pool's `factory`, as a spawned worker would build it) adds one
detector to the metadata detector: it hangs on files named `hang*` with SIGALRM blocked, reading a
pipe nobody writes (the in-worker SIGALRM limit cannot end that), kills its own worker on `die*`,
and on `slow*` writes its pid to a marker file and sleeps (so a test can kill it from outside).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner import api
from scanner.config import Settings
from scanner.execution import GRACE_S, Pool, run
from scanner.model import Decision, FileReport, Finding
from scanner.pipeline import Pipeline
from scanner.subject import Subject
from tests.reports import without_timings

TIMEOUT_S = 1.0
SLOW_S = 3.0
SETTINGS = Settings(detectors=("metadata",), timeout_s=TIMEOUT_S, jobs=2)
PATIENT = Settings(detectors=("metadata",), timeout_s=SLOW_S * 3, jobs=2)  # slow files finish in time
HANG_BOUND_S = TIMEOUT_S + GRACE_S + 2.0  # the watchdog's deadline plus a loaded CI machine's slack
MARKER_DIR_ENV = "LEAKSCAN_TEST_MARKERS"


class Misbehaving:
    """Hangs, dies or dawdles according to the file name; finds nothing otherwise."""

    id = "test.misbehaving"
    rules: tuple[str, ...] = ()

    def accepts(self, subject: Subject) -> bool:
        return True

    def detect(self, subject: Subject) -> list[Finding]:
        name = Path(subject.item.source).name
        if name.startswith("hang"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM})
            read_end, _write_end = os.pipe()  # we hold the write end and never write: blocks for ever
            os.read(read_end, 1)
        elif name.startswith("die"):
            os.kill(os.getpid(), signal.SIGKILL)
        elif name.startswith("slow"):
            marker = Path(os.environ[MARKER_DIR_ENV]) / f"{name}.{os.getpid()}"
            marker.write_text(str(os.getpid()))
            time.sleep(SLOW_S)
        return []


def misbehaving_pipeline(settings: Settings) -> Pipeline:
    pipeline = Pipeline(settings)
    pipeline.detectors.append(Misbehaving())
    return pipeline


@pytest.fixture
def folder(fx: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fixtures plus the misbehaving files (copies of clean.jpg), in one folder."""
    out = tmp_path / "in"
    out.mkdir()
    for name, path in fx.items():
        shutil.copy(path, out / name)
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.setenv(MARKER_DIR_ENV, str(markers))
    return out


def _add(folder: Path, fx: dict[str, Path], *names: str) -> list[str]:
    for name in names:
        shutil.copy(fx["clean.jpg"], folder / name)
    return [str(folder / name) for name in names]


def _by_path(reports: Iterator[FileReport] | list[FileReport]) -> dict[str, FileReport]:
    return {r.path: r for r in reports}


def _files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.iterdir())


# --- a hang that SIGALRM cannot end -------------------------------------------------------------

@pytest.mark.parametrize("chunk", [1, 4])
def test_a_hang_with_signals_blocked_gets_timeout_and_the_rest_is_scanned(folder, fx, chunk: int) -> None:
    hang, *others = _add(folder, fx, "hang.jpg", "ok_a.jpg", "ok_b.jpg", "ok_c.jpg")
    others.append(str(fx["gps_dirty.jpg"]))
    expected = _by_path(Pipeline(SETTINGS).scan_paths(others))
    with Pool(SETTINGS, 2, factory=misbehaving_pipeline, method="fork") as pool:
        t0 = time.monotonic()
        got = _by_path(pool.scan([hang, *others], chunk=chunk))
        took = time.monotonic() - t0
    report = got.pop(hang)
    assert report.decision == Decision.REVIEW
    assert [e.code for e in report.errors] == ["timeout"]
    assert "the worker was stopped" in report.errors[0].message
    # a chunk of 4 waits 4 x timeout_s, then the hanging file alone waits once more
    bound = HANG_BOUND_S + (TIMEOUT_S * chunk + GRACE_S if chunk > 1 else 0)
    assert took < bound, took
    assert {p: without_timings(r) for p, r in got.items()} == {p: without_timings(r) for p, r in expected.items()}
    assert got[str(fx["gps_dirty.jpg"])].decision != Decision.APPROVE


def test_the_watchdog_works_for_a_scan_started_off_the_main_thread(folder, fx) -> None:
    hang, ok = _add(folder, fx, "hang.jpg", "ok.jpg")
    results: dict[str, list[FileReport]] = {}
    with Pool(SETTINGS, 2, factory=misbehaving_pipeline, method="fork") as pool:
        threads = [threading.Thread(target=lambda p=p: results.__setitem__(p, list(pool.scan([p]))))
                   for p in (hang, ok)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(HANG_BOUND_S * 3)
        took = time.monotonic() - t0
    assert not any(t.is_alive() for t in threads)
    assert took < HANG_BOUND_S, took
    assert [e.code for e in results[hang][0].errors] == ["timeout"]
    assert results[ok][0].decision == Decision.APPROVE


def test_spawned_workers_build_their_own_pipeline_and_are_watched_too(folder, fx) -> None:
    hang, ok = _add(folder, fx, "hang.jpg", "ok.jpg")
    with Pool(SETTINGS, 1, factory=misbehaving_pipeline, method="spawn") as pool:
        got = _by_path(pool.scan([hang, ok], chunk=1))
    assert got[hang].errors[0].code == "timeout" and got[ok].decision == Decision.APPROVE


# --- workers that die ---------------------------------------------------------------------------

def test_a_worker_that_dies_by_itself_costs_only_its_own_file(folder, fx) -> None:
    die, *others = _add(folder, fx, "die.jpg", "ok_a.jpg", "ok_b.jpg")
    with Pool(SETTINGS, 2, factory=misbehaving_pipeline, method="fork") as pool:
        got = _by_path(pool.scan([die, *others], chunk=3))
        again = _by_path(pool.scan(others))  # the pool is still usable afterwards
    assert got[die].decision == Decision.REVIEW and [e.code for e in got[die].errors] == ["internal"]
    assert "worker process died" in got[die].errors[0].message
    assert all(got[p].decision == again[p].decision == Decision.APPROVE for p in others)


def _kill_first_slow_worker(markers: Path, killed: list[int]) -> None:
    deadline = time.monotonic() + SLOW_S * 10
    while time.monotonic() < deadline:
        found = sorted(markers.glob("slow*"))
        if found:
            pid = int(found[0].read_text())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.02)


@pytest.mark.parametrize("chunk", [1, 3])
def test_a_worker_killed_from_outside_mid_scan(folder, fx, chunk: int) -> None:
    """Alone in its chunk, the file gets review/internal; sharing one, each file is retried alone."""
    names = ["slow.jpg", "ok_a.jpg", "ok_b.jpg", "ok_c.jpg", "ok_d.jpg", "ok_e.jpg"]
    slow, *others = _add(folder, fx, *names)
    markers = Path(os.environ[MARKER_DIR_ENV])
    killed: list[int] = []
    killer = threading.Thread(target=_kill_first_slow_worker, args=(markers, killed))
    killer.start()
    with Pool(PATIENT, 2, factory=misbehaving_pipeline, method="fork") as pool:
        got = _by_path(pool.scan([slow, *others], chunk=chunk))
    killer.join()
    assert len(killed) == 1 and len(got) == len(names)
    assert all(got[p].decision == Decision.APPROVE for p in others)
    if chunk == 1:
        assert got[slow].decision == Decision.REVIEW and [e.code for e in got[slow].errors] == ["internal"]
    else:  # scanned again alone in a fresh worker, which nobody killed
        assert got[slow].decision == Decision.APPROVE
        assert len(list(markers.glob("slow*"))) == 2


def test_no_worker_outlives_the_pool_or_an_abandoned_scan(folder, fx) -> None:
    paths = _add(folder, fx, "slow.jpg", "ok.jpg")
    pool = Pool(PATIENT, 2, factory=misbehaving_pipeline, method="fork")
    stream = pool.scan(paths, chunk=1)
    next(stream)  # ok.jpg; slow.jpg is still being scanned
    children = {p.pid for p in multiprocessing.active_children()}
    assert children
    stream.close()  # the consumer is gone: the chunk in flight is not wanted
    pool.close()
    assert all(not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
               for pid in children)


# --- same results as scanning in this process, in any order --------------------------------------

@pytest.mark.parametrize("jobs", [1, 2])
def test_results_match_the_in_process_pipeline_on_the_fixture_folder(folder, jobs: int) -> None:
    paths = _files(folder)
    settings = Settings(detectors=("metadata",), jobs=jobs, batch_size=3)
    reference = _by_path(Pipeline(settings).scan_paths(paths))  # what the old runner ran, chunk by chunk
    got = _by_path(run(paths, settings))
    assert len(got) == len(paths)
    assert {p: without_timings(r) for p, r in got.items()} == {p: without_timings(r) for p, r in reference.items()}
    assert {r.decision for r in got.values()} >= {Decision.APPROVE, Decision.REVIEW}


def test_order_of_the_inputs_does_not_change_any_report(folder) -> None:
    paths = _files(folder)
    shuffled = paths[:]
    random.Random(9).shuffle(shuffled)
    with Pool(SETTINGS, 2, method="fork") as pool:
        first = _by_path(pool.scan(paths, chunk=2))
        second = _by_path(pool.scan(shuffled, chunk=5))
    assert list(first) != list(second) or paths == shuffled
    assert {p: without_timings(r) for p, r in first.items()} == {p: without_timings(r) for p, r in second.items()}


def test_scan_iter_through_a_shared_pool(folder) -> None:
    with Pool(SETTINGS, 2, method="fork") as pool:
        via_pool = _by_path(api.scan_iter([folder], SETTINGS, pool=pool))
    own = _by_path(api.scan_iter([folder], SETTINGS))
    assert {p: without_timings(r) for p, r in via_pool.items()} == {p: without_timings(r) for p, r in own.items()}


# --- heartbeats: a container whose parts each finish in time is not killed for its total ----------

STEADY_S = 0.7 * TIMEOUT_S


class Steady:
    """Takes most of timeout_s on every picture inside a container: slow, but never stuck."""

    id = "test.steady"
    rules: tuple[str, ...] = ()

    def accepts(self, subject: Subject) -> bool:
        return subject.item.depth > 0 and subject.item.kind.startswith("image/")

    def detect(self, subject: Subject) -> list[Finding]:
        time.sleep(STEADY_S)
        return []


def steady_pipeline(settings: Settings) -> Pipeline:
    pipeline = Pipeline(settings)
    pipeline.detectors.append(Steady())
    return pipeline


def test_each_stage_of_a_container_gets_its_own_time_limit(fx, tmp_path: Path) -> None:
    import zipfile

    members = 6  # 6 x 0.7 s: past the file's first deadline (timeout_s + grace), each stage well within it
    assert members * STEADY_S > TIMEOUT_S + GRACE_S
    holder = tmp_path / "album.zip"
    with zipfile.ZipFile(holder, "w") as zf:
        for i in range(members):
            zf.write(fx["clean.jpg"], f"p{i}.jpg")
    with Pool(SETTINGS, 1, factory=steady_pipeline, method="fork") as pool:
        (report,) = pool.scan([str(holder)])
    assert not [e.code for node in report.walk() for e in node.errors]
    assert len(report.parts) == members and report.decision == Decision.APPROVE
