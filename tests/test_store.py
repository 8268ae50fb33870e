"""`leakscan scan --store/--resume/--files-from`: results stored, re-runs answered from the store, manifests
streamed (file and stdin), the audit schema migrated in place, and kill -9 mid-batch then resume as real processes."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.metadata_fixtures import ROTTERDAM, gps_exif, scene
from scanner.audit import AuditStore
from scanner.store import report_from_dict

ROOT = Path(__file__).resolve().parents[1]
FAST = ("--detectors", "metadata", "-j", "1", "--format", "jsonl")


def _jpeg(seed: int, gps: bool = False) -> bytes:
    buf = io.BytesIO()
    extra = {"exif": gps_exif(*ROTTERDAM)} if gps else {}
    scene(96, 64, seed=seed).save(buf, "JPEG", quality=80, **extra)
    return buf.getvalue()


def _photos(folder: Path, n: int) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    datas = {f"p{i:02}.jpg": _jpeg(i, gps=i % 3 == 0) for i in range(n)}
    for name, data in datas.items():
        (folder / name).write_bytes(data)
    return datas


def _rows(db: Path) -> list[tuple[str, str, int]]:
    """(name, sha256, reused) of every row (none while the scan is still creating the file)."""
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT name, sha256, reused FROM decisions ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # the table is not there yet
            return []


def _decisions(out: str) -> dict[str, str]:
    return {Path(r["path"]).name: r["decision"] for r in map(json.loads, out.splitlines())}


def test_a_rerun_answers_unchanged_files_from_the_store_and_scans_only_what_changed(cli, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    datas = _photos(photos, 6)
    db = tmp_path / "results.sqlite"
    first = cli("scan", str(photos), "--store", str(db), *FAST)
    assert first.code == 1 and "0 from the store" in first.err
    assert len(_rows(db)) == 6 and not any(r[2] for r in _rows(db))
    second = cli("scan", str(photos), "--store", str(db), *FAST)
    assert "6 from the store" in second.err and len(_rows(db)) == 6  # nothing read, nothing added
    assert _decisions(second.out) == _decisions(first.out)
    assert [json.loads(x)["findings"] for x in sorted(second.out.splitlines())] == \
        [json.loads(x)["findings"] for x in sorted(first.out.splitlines())]
    (photos / "p01.jpg").write_bytes(_jpeg(1, gps=True))  # changed content: scanned again, now with GPS
    shutil.copy(photos / "p00.jpg", photos / "copy.jpg")  # a new path, known content: answered by sha256
    third = cli("scan", str(photos), "--store", str(db), *FAST)
    assert "6 from the store" in third.err, third.err
    assert _decisions(third.out)["p01.jpg"] == "review" and _decisions(third.out)["copy.jpg"] == "review"
    rows = _rows(db)
    assert len(rows) == 8 and sorted(r[2] for r in rows[6:]) == [0, 1]
    assert sum(1 for r in rows if r[0].endswith("copy.jpg") and r[2]) == 1
    assert set(datas) <= set(_decisions(third.out))


def test_a_stored_report_round_trips_to_the_same_json(cli, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    _photos(photos, 3)
    out = cli("scan", str(photos), "--store", str(tmp_path / "r.sqlite"), *FAST).out
    for line in out.splitlines():
        body = json.loads(line)
        assert report_from_dict(body).to_dict() == body


def test_files_from_a_list_and_from_stdin(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photos = tmp_path / "photos"
    _photos(photos, 4)
    odd = os.fsdecode(b"caf\xe9.jpg")  # not UTF-8: the manifest line must still name it
    (photos / odd).write_bytes(_jpeg(9, gps=True))
    wanted = [photos / "p00.jpg", photos / "p02.jpg", photos / odd]
    listing = b"".join(os.fsencode(p) + b"\n" for p in wanted) + b"\n"
    (tmp_path / "list.txt").write_bytes(listing)
    from_file = cli("scan", "--files-from", str(tmp_path / "list.txt"), *FAST)
    assert sorted(_decisions(from_file.out)) == sorted(["p00.jpg", "p02.jpg", "caf\\xe9.jpg"])
    assert "3/3 files" in from_file.err  # the total of a listed manifest is known: rate and ETA
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(listing)))
    from_stdin = cli("scan", "--files-from", "-", str(photos / "p03.jpg"), *FAST)
    assert sorted(_decisions(from_stdin.out)) == sorted(["p00.jpg", "p02.jpg", "p03.jpg", "caf\\xe9.jpg"])
    assert "4 files" in from_stdin.err and "ETA" not in from_stdin.err


def test_usage_errors_resume_without_a_store_and_a_report_over_a_picture(cli, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    _photos(photos, 2)
    assert cli("scan", str(photos), "--resume", "--store", str(tmp_path / "none.sqlite"), *FAST).code == 2
    assert not (tmp_path / "none.sqlite").exists()
    assert cli("scan", "--quiet").code == 2  # neither paths nor --files-from
    picture = photos / "p00.jpg"
    before = picture.read_bytes()
    listed = tmp_path / "list.txt"
    listed.write_text(f"{picture}\n")
    result = cli("scan", "--files-from", str(listed), "-o", str(picture), *FAST)
    assert result.code == 2 and "not a text file" in result.err and picture.read_bytes() == before


def test_a_picture_given_as_the_store_is_a_usage_error_and_left_alone(cli, tmp_path: Path) -> None:
    """`--store photo.jpg` by mistake (or any file that is not SQLite): exit 2 saying why, the file unchanged, no
    report started (was: "internal error (DatabaseError); the report is incomplete", exit 3). `leakscan report`
    says the same."""
    photos = tmp_path / "photos"
    _photos(photos, 2)
    picture = photos / "p00.jpg"
    before = picture.read_bytes()
    result = cli("scan", str(photos), "--store", str(picture), *FAST)
    assert result.code == 2 and result.out == ""
    assert "cannot be used as a result store: file is not a database" in result.err
    assert picture.read_bytes() == before and sorted(p.name for p in photos.iterdir()) == ["p00.jpg", "p01.jpg"]
    report = cli("report", str(picture), "--csv", str(tmp_path / "out.csv"))
    assert report.code == 2 and "cannot be used as a result store" in report.err
    assert not (tmp_path / "out.csv").exists()


def _own_files(out: str) -> tuple[dict[str, dict[str, object]], set[str]]:
    rows = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    return rows, {n for n in rows if n.startswith("results.sqlite")}


def test_the_store_inside_the_folder_scanned_is_not_read_as_an_input(cli, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`cd photos && leakscan scan --store results.sqlite .`: the walk meets the store and its SQLite files. They are
    reported `review` as this scan's store, never read (before: read while being written, and reviewed as unknown
    binary files). The photos are answered as usual, from the store on the second run."""
    photos = tmp_path / "photos"
    _photos(photos, 2)
    monkeypatch.chdir(photos)
    for _ in range(2):
        result = cli("scan", ".", "--store", "results.sqlite", *FAST)
        rows, own = _own_files(result.out)
        assert "results.sqlite" in own and own <= {"results.sqlite", "results.sqlite-wal", "results.sqlite-shm"}
        for name in own:
            errors = rows[name]["errors"]
            assert rows[name]["decision"] == "review" and isinstance(errors, list)
            assert "result store this scan writes" in errors[0]["message"], errors
        assert {"p00.jpg", "p01.jpg"} <= set(rows) and result.code == 1
    names = [Path(name).name for name, _sha, _reused in _rows(photos / "results.sqlite")]
    assert names.count("p00.jpg") == names.count("p01.jpg") == 1  # scanned once, answered from the store after


def test_a_list_with_windows_line_endings_says_so(cli, tmp_path: Path) -> None:
    """Each line of a CRLF list keeps its carriage return (a Linux name may end in one): the file is missing, so
    `review`, and the message says why when the name without it exists."""
    photos = tmp_path / "photos"
    _photos(photos, 1)
    listed = tmp_path / "list.txt"
    listed.write_bytes(f"{photos / 'p00.jpg'}\r\n{photos / 'gone.jpg'}\r\n".encode())
    result = cli("scan", "--files-from", str(listed), *FAST)
    errors = {Path(r["path"]).name: r["errors"][0]["message"] for r in map(json.loads, result.out.splitlines())}
    assert result.code == 1 and len(errors) == 2
    assert "Windows line endings" in errors["p00.jpg\\u000d"]
    assert "Windows line endings" not in errors["gone.jpg\\u000d"]  # no such file either way: no guess


def test_the_report_file_listed_as_an_input_is_not_read(cli, tmp_path: Path) -> None:
    report = tmp_path / "out.jsonl"
    report.write_text("{}\n")
    listed = tmp_path / "list.txt"
    listed.write_text(f"{report}\n")
    result = cli("scan", "--files-from", str(listed), "-o", str(report), *FAST)
    body = json.loads(report.read_text().splitlines()[0])
    assert result.code == 1 and body["decision"] == "review" and "report file" in body["errors"][0]["message"]


def test_a_version_1_audit_file_is_migrated_in_place_and_keeps_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:  # the schema of issue 10, as written by an older leakscan
        conn.executescript("""
            CREATE TABLE decisions (id INTEGER PRIMARY KEY, time TEXT NOT NULL, sha256 TEXT, source TEXT NOT NULL,
              decision TEXT NOT NULL, rule_ids TEXT NOT NULL, policy_hash TEXT NOT NULL,
              scanner_version TEXT NOT NULL, name TEXT NOT NULL, complete INTEGER NOT NULL,
              reused INTEGER NOT NULL DEFAULT 0, report TEXT NOT NULL);
            INSERT INTO decisions VALUES (1, '2026-11-01T00:00:00', 'ab', 'cli', 'approve', '[]', 'h', '0.1.0',
              'a.jpg', 1, 0, '{"decision": "approve"}');""")
    store = AuditStore(db)
    assert [r["name"] for r in store.history()] == ["a.jpg"]
    assert store.lookup_stat("a.jpg", "1:2:3", "h") is None and not store.has_size(1, "h")
    store.close()
    AuditStore(db).close()  # a second open finds version 2: nothing to do
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2


HOOK = """
import os, sys, time
from scanner import pipeline
_scan = pipeline.Pipeline.scan_paths
def counted(self, paths):
    reports = _scan(self, paths)
    time.sleep(0.15 * len(paths))  # slow enough that the kill lands mid-batch
    fd = os.open(os.environ["COUNTER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, "".join(p + "\\n" for p in paths).encode())  # one line per file whose scan finished
    os.close(fd)
    return reports
pipeline.Pipeline.scan_paths = counted
from scanner.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _start(tmp_path: Path, photos: Path, db: Path, counter: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COUNTER": str(counter), "LEAKSCAN_AUDIT_DB": "off"}
    env.pop("LEAKSCAN_POLICY", None)
    return subprocess.Popen([sys.executable, "-c", HOOK, "scan", str(photos), "--store", str(db), "--detectors",
                             "metadata", "-j", "1", "--batch-size", "2", "--format", "jsonl", "-q", *extra],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_kill_9_mid_batch_then_resume_loses_no_file_and_scans_none_twice(tmp_path: Path) -> None:
    n = 30
    photos = tmp_path / "photos"
    _photos(photos, n)
    db = tmp_path / "results.sqlite"
    first = _start(tmp_path, photos, db, tmp_path / "scanned1")
    end = time.monotonic() + 120
    while not (db.exists() and len(_rows(db)) >= 4):
        assert first.poll() is None and time.monotonic() < end, "the scan ended or stalled before the kill"
        time.sleep(0.05)
    first.kill()  # SIGKILL: no clean-up at all
    first.wait()
    stored = {r[0] for r in _rows(db)}
    assert 4 <= len(stored) < n, "the batch ended before the kill: nothing tested"
    second = _start(tmp_path, photos, db, tmp_path / "scanned2", "--resume")
    out, err = second.communicate(timeout=300)
    assert second.returncode == 1, err.decode()
    rows = _rows(db)
    names = [r[0] for r in rows]
    assert sorted(names) == sorted(set(names)) and len(names) == n  # every file stored, each once
    assert not any(r[2] for r in rows)
    rescanned = set(_lines(tmp_path / "scanned2"))
    assert not rescanned & stored  # nothing already stored was scanned again
    assert len(rescanned) == len(_lines(tmp_path / "scanned2")) == n - len(stored)
    assert len(out.decode().splitlines()) == n  # stored answers re-emitted, the rest scanned
    in_flight = set(_lines(tmp_path / "scanned1")) - stored
    print(f"stored before the kill: {len(stored)}, finished but not stored (in flight): {len(in_flight)}")


def test_a_manifest_is_consumed_as_the_scan_goes_never_read_whole(tmp_path: Path) -> None:
    from scanner.batch import SLICE_PER_WORKER, BatchScan, entries
    from scanner.config import Settings

    photo = tmp_path / "a.jpg"
    photo.write_bytes(_jpeg(1))
    pulled = 0

    def manifest() -> Iterator[str]:
        nonlocal pulled
        for _ in range(3 * SLICE_PER_WORKER):
            pulled += 1
            yield str(photo)

    batch = BatchScan(Settings(detectors=("metadata",), jobs=1), None)
    seen_at = []
    for _ in batch.run(entries(manifest())):
        seen_at.append(pulled)
    assert len(seen_at) == 3 * SLICE_PER_WORKER
    assert seen_at[0] <= SLICE_PER_WORKER + 1  # the first results came out after one slice, not the whole list
