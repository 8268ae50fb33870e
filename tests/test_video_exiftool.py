"""ExifTool as the second reader (-stay_open, one process per worker): a coordinate only ExifTool reads (GPS in
a Canon CR3 `CMT4` box) is metadata.gps; the process is reused, a slow answer is an error (review), and the
setting turns it off. XMP in a video's Adobe `uuid` box is read by our own reader, with or without ExifTool."""

from __future__ import annotations

import select
import shutil
from pathlib import Path

import pytest

from fixtures import video_fixtures
from scanner import Decision, Settings, scan
from scanner.engines import exiftool
from scanner.errors import EngineError, EngineUnavailable

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")


@pytest.fixture(scope="module")
def vids(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return video_fixtures.build(tmp_path_factory.mktemp("videos"))


def _gps(path: Path, mode: str) -> list[tuple[str, float, float]]:
    report = scan([path], Settings(jobs=1, detectors=("metadata",), exiftool=mode)).files[0]
    assert report.decision != Decision.APPROVE
    return [(f.location, f.evidence["lat"], f.evidence["lon"]) for f in report.findings if f.rule_id == "metadata.gps"]


@needs_exiftool
def test_a_coordinate_only_exiftool_reads_is_reported(vids: dict[str, Path]) -> None:
    found = _gps(vids["vendor_gps.cr3"], "auto")
    assert [(where, round(lat, 4), round(lon, 4)) for where, lat, lon in found] == [
        ("exiftool GPS", *video_fixtures.TOKYO)]


def test_off_means_not_run_and_the_raw_file_is_still_reviewed(vids: dict[str, Path]) -> None:
    assert _gps(vids["vendor_gps.cr3"], "off") == []  # review: a CR3 is not a format our readers decode


@pytest.mark.parametrize("mode", ["off", pytest.param("auto", marks=needs_exiftool)])
def test_xmp_in_a_video_uuid_box_is_ours(vids: dict[str, Path], mode: str) -> None:
    pytest.importorskip("av")
    found = _gps(vids["xmp_uuid.mp4"], mode)
    assert [(where, round(lat, 4), round(lon, 4)) for where, lat, lon in found] == [("XMP", *video_fixtures.SYDNEY)]


@needs_exiftool
def test_one_process_is_reused_and_a_timeout_restarts_it(vids: dict[str, Path]) -> None:
    reader = exiftool.build_exiftool("auto", 10.0)
    assert reader is not None
    data = vids["vendor_gps.cr3"].read_bytes()
    try:
        first = reader.gps(data)
        pid = reader._proc.pid if reader._proc else None
        assert reader.gps(data) == first and reader._proc is not None and reader._proc.pid == pid
        reader.timeout_s = 1e-6
        with pytest.raises(EngineError):
            reader.gps(data)
        reader.timeout_s = 10.0
        assert reader.gps(data) == first  # a fresh process
    finally:
        reader.close()


def test_on_without_exiftool_is_an_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exiftool.shutil, "which", lambda _name: None)
    assert exiftool.build_exiftool("auto", 1.0) is None
    with pytest.raises(EngineUnavailable):
        exiftool.build_exiftool("on", 1.0)


def test_south_and_west_references_sign_the_coordinate() -> None:
    record = {"GPS:GPSLatitude": 33.8688, "GPS:GPSLatitudeRef": "S", "GPS:GPSLongitude": 70.6693,
              "GPS:GPSLongitudeRef": "W", "Composite:GPSPosition": "-33.8688 -70.6693"}
    assert exiftool.coordinates(record) == [exiftool.Coordinate("GPS", -33.8688, -70.6693)]
    assert exiftool.coordinates({"Composite:GPSPosition": "1.5 2.5"}) == [exiftool.Coordinate("Composite", 1.5, 2.5)]


@needs_exiftool
def test_an_interrupted_answer_is_never_read_for_the_next_file(vids: dict[str, Path],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-file time limit may interrupt a read (an exception from inside); the process is then dropped,
    so the next file cannot get the interrupted file's coordinates."""
    reader = exiftool.build_exiftool("auto", 10.0)
    assert reader is not None
    real = reader._read_until_ready
    calls = {"n": 0}

    def interrupted(proc: object) -> bytes:
        calls["n"] += 1
        if calls["n"] == 1:  # once ExifTool has begun to answer, stand for the time limit's ItemTimeout
            select.select([proc.stdout], [], [], 10)  # type: ignore[attr-defined]
            raise KeyboardInterrupt
        return real(proc)  # type: ignore[arg-type]

    monkeypatch.setattr(reader, "_read_until_ready", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            reader.gps(vids["vendor_gps.cr3"].read_bytes())
        assert reader.gps(b"not a picture at all") == []  # not the CR3's Tokyo position
    finally:
        reader.close()


@needs_exiftool
def test_exiftool_dies_with_a_killed_worker(vids: dict[str, Path], tmp_path: Path) -> None:
    """A worker killed by the watchdog (SIGKILL) leaves no ExifTool process behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = ("import os, sys, signal\nfrom scanner.engines import exiftool\n"
              "r = exiftool.build_exiftool('auto', 10.0)\nr.gps(open(sys.argv[1], 'rb').read())\n"
              "print(r._proc.pid, flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script, str(vids["vendor_gps.cr3"])], capture_output=True,
                          text=True, timeout=60, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == -signal.SIGKILL
    pid = int(done.stdout.split()[0])
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{pid}/stat") as fh:  # a zombie waits for its new parent to reap it: gone too
            if fh.read().split()[2] == "Z":
                return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError("exiftool outlived its killed worker")


@needs_exiftool
@pytest.mark.skipif(not hasattr(__import__("os"), "memfd_create"), reason="memfd_create is Linux-only")
def test_the_copy_for_exiftool_never_touches_the_disk(vids: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed mid-answer cannot leave a copy of the scanned file in /tmp: there is no named copy."""
    def no_named_files(*_args: object, **_kw: object) -> tuple[int, str]:
        raise AssertionError("a named temporary copy was made")

    monkeypatch.setattr(exiftool.tempfile, "mkstemp", no_named_files)
    reader = exiftool.build_exiftool("auto", 10.0)
    assert reader is not None
    try:
        assert [(round(c.lat, 4), round(c.lon, 4)) for c in reader.gps(vids["vendor_gps.cr3"].read_bytes())] == [
            video_fixtures.TOKYO]
    finally:
        reader.close()
