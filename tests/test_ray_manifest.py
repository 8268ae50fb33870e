"""Issue 12 part 3: `--files-from LIST` with a Ray engine, the list read on the cluster (a real local 2-CPU cluster,
one per module). The same decisions as the local batch path on one manifest with every kind of line; the driver
never reads the list into a Python list; a job that fails midway, then `--resume`: every file stored, none scanned
twice (counted in the store). Skipped when ray is not installed (`pip install "leakscan[ray]"`)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from scanner import batch  # noqa: E402
from scanner.execution import ray_manifest  # noqa: E402
from scanner.execution.ray_manifest import Tally, shards  # noqa: E402
from tests.ray_cluster import local_cluster  # noqa: E402

FAST = ("-q", "--format", "jsonl", "--detectors", "metadata", "-j", "2")


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    yield from local_cluster()


@pytest.fixture()
def listed(tmp_path: Path, fx: dict[str, Path]) -> Path:
    """A manifest with every kind of line: absolute and relative files, a folder (with a non-UTF-8 name inside),
    an empty folder, a blank line, a duplicate, a missing file and a name with a NUL byte."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("clean.jpg", "gps_dirty.jpg", "truncated.jpg"):
        shutil.copy(fx[name], photos / name)
    (photos / "sub").mkdir()
    shutil.copy(fx["gps_dirty.jpg"], Path(bytes(photos / "sub").decode() + "/caf\udce9.jpg"))
    (tmp_path / "empty").mkdir()
    lines = [str(photos / "clean.jpg").encode(), b"photos/gps_dirty.jpg", b"", b"photos/sub/", b"empty",
             b"photos/truncated.jpg", b"photos/gps_dirty.jpg", b"gone.jpg", b"bad\0name.jpg", b"photos/clean.jpg"]
    manifest = tmp_path / "list.txt"
    manifest.write_bytes(b"\n".join(lines))  # no newline after the last line
    return manifest


def _results(out: str) -> list[tuple[str, str, list[str], list[str]]]:
    rows = [json.loads(line) for line in out.splitlines()]
    return sorted((r["path"], r["decision"], sorted(x["rule_id"] for x in r["reasons"]),
                   sorted(e["code"] for e in r["errors"])) for r in rows)


@pytest.mark.parametrize("engine", ["ray", "ray-split"])
def test_a_manifest_read_on_the_cluster_gives_the_local_decisions(cli, listed: Path, engine: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    listed.write_bytes(listed.read_bytes() + b"\nreport.jsonl")  # the report file itself: never read
    report = listed.parent / "report.jsonl"
    local = cli("scan", *FAST, "--files-from", str(listed), "-o", str(report))
    local_out = report.read_text()

    def never(stream: Any) -> Iterator[str]:
        raise AssertionError("the driver read the manifest into paths")
        yield ""

    monkeypatch.setattr(batch, "manifest_lines", never)
    remote = cli("scan", *FAST, "--engine", engine, "--files-from", str(listed), "-o", str(report))
    assert remote.code == local.code == 1, remote.err
    assert _results(report.read_text()) == _results(local_out)
    decided = {path: (decision, errors) for path, decision, _, errors in _results(report.read_text())}
    assert len(report.read_text().splitlines()) == 9  # eleven lines: a blank one, an empty folder
    assert len(decided) == 8  # photos/gps_dirty.jpg is listed twice: two reports
    assert decided["report.jsonl"] == ("review", ["unsupported"])
    assert decided["gone.jpg"] == ("review", ["unreadable"])
    assert decided["bad\\u0000name.jpg"] == ("review", ["unreadable"])
    assert decided["photos/sub/caf\\xe9.jpg"][0] == "review"  # a GPS photo under a non-UTF-8 name
    assert decided["photos/clean.jpg"] == ("approve", [])


def test_a_job_that_fails_midway_then_resume_scans_none_twice_and_loses_none(cli, listed: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    db = listed.parent / "results.sqlite"
    real = ray_manifest._rows

    def fail_after_clean(*args: Any) -> Iterator[dict[str, Any]]:
        """Rows as they come until the first scanned clean.jpg (then the job fails): what came before it is stored."""
        for row in real(*args):
            yield row
            if row["kind"] == "scan" and bytes(row["path"]).endswith(b"clean.jpg"):
                raise ray.exceptions.RayActorError()

    monkeypatch.setattr(ray_manifest, "_rows", fail_after_clean)
    first = cli("scan", *FAST, "--engine", "ray", "--files-from", str(listed), "--store", str(db))
    failed = [r for r in map(json.loads, first.out.splitlines()) if "RayActorError" in json.dumps(r["errors"])]
    # every line reported (an empty folder whose row never came back too: its line is reviewed), missing: review
    assert first.code == 1 and len(first.out.splitlines()) >= 8 and failed
    assert all(r["decision"] == "review" for r in failed)
    monkeypatch.setattr(ray_manifest, "_rows", real)
    again = cli("scan", *FAST, "--engine", "ray", "--files-from", str(listed), "--store", str(db), "--resume")
    assert again.code == 1 and len(again.out.splitlines()) == 8, again.err
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT id, name, complete, reused FROM decisions ORDER BY id").fetchall()
    first_rows, again_rows = rows[:len(first.out.splitlines())], rows[len(first.out.splitlines()):]
    stored = {name for _, name, complete, _ in first_rows if complete}
    scanned_again = [name for _, name, _, reused in again_rows if not reused]
    assert stored and not stored & set(scanned_again)  # a file fully analysed before the failure: not scanned again
    readable = {name for _, name, complete, _ in rows if complete}
    assert len(readable) == 3  # clean.jpg (listed twice), gps_dirty.jpg (twice), caf\xe9.jpg: none lost
    assert {name for _, name, complete, reused in again_rows if complete and not reused} == readable - stored
    assert not [r for r in map(json.loads, again.out.splitlines()) if "RayActorError" in json.dumps(r["errors"])]


def test_shards_cut_whole_lines_and_the_tally_takes_each_file_once(tmp_path: Path) -> None:
    manifest = tmp_path / "list.txt"
    manifest.write_bytes(b"a\n\nbb\nccc\nd")
    lines, cut = shards(str(manifest), 2)
    assert lines == 5
    assert [(c["start"], c["end"], c["first"]) for c in cut] == [(0, 3, 0), (3, 10, 2), (10, 11, 4)]
    tally = Tally(lines)
    assert tally.take(2, 0, 1) and not tally.take(2, 0, 1)  # a row Ray ran twice: once
    assert tally.take(3, 0, 2) and not tally.done(3) and not tally.take(3, 0, 2)
    assert tally.came_back(3) == (1, 2) and not tally.take(3, 5, 2)  # a folder line half back; no file 5 of 2
    assert tally.take(3, 1, 2) and tally.done(3) and tally.came_back(3) is None
    assert not tally.take(7, 0, 1)  # not a line of this list


def test_carry_scans_only_the_rows_to_scan_and_keeps_every_row_in_order() -> None:
    from scanner.execution.ray_rows import META, carry

    kinds = ["scan", "stored", "problem", "scan", "empty"]
    batch = {col: [0] * len(kinds) for col in META}
    batch.update(kind=kinds, index=[10, 11, 12, 13, 14], path=[b"/a", b"/b", b"/c", b"/caf\xe9", b"/e"],
                 pack=[b"p0", b"p1", b"p2", b"p3", b"p4"])
    seen: list[dict[str, Any]] = []

    def stage(given: dict[str, Any]) -> dict[str, Any]:
        seen.append(given)
        return {"index": given["index"], "path": given["path"], "report": [p.encode("utf-8", "surrogateescape")
                                                                           for p in given["path"]]}

    out = carry(batch, stage, "report")
    assert seen == [{"index": [10, 13], "path": ["/a", "/caf\udce9"], "pack": [b"p0", b"p3"]}]
    assert out["report"] == [b"/a", b"", b"", b"/caf\xe9", b""]
    assert out["kind"] == kinds and out["path"] == batch["path"] and "pack" not in out
    assert carry({**batch, "kind": ["stored"] * 5}, stage, "report")["report"] == [b""] * 5 and len(seen) == 1


def test_a_file_the_cluster_takes_for_stored_but_the_store_cannot_answer_is_scanned(cli, fx: dict[str, Path],
                                                                                   monkeypatch) -> None:
    """The answer list is hashes: a file whose hash is in it but whose answer is not in the store (a collision)
    is scanned at the end, through the engine, and stored: never lost, never approved unscanned."""
    names = ["clean.jpg", "gps_dirty.jpg"]
    listing = Path("list.txt")
    listing.write_text("".join(f"{fx[n]}\n" for n in names))
    keys = sorted(ray_manifest.stat_hash(str(fx[n]), f"{s.st_size}:{s.st_mtime_ns}:{s.st_ctime_ns}")
                  for n in names for s in [fx[n].stat()])
    monkeypatch.setattr(batch.BatchScan, "store_answers", lambda self: ray_manifest.StoreAnswers(stats=keys))
    res = cli("scan", *FAST, "--engine", "ray", "--files-from", str(listing), "--store", "results.sqlite")
    assert res.code == 1, res.err
    assert sorted((Path(p).name, d, e) for p, d, _, e in _results(res.out)) == [
        ("clean.jpg", "approve", []), ("gps_dirty.jpg", "review", [])]
    with sqlite3.connect("results.sqlite") as con:
        assert con.execute("SELECT COUNT(*) FROM decisions WHERE reused = 0 AND complete = 1").fetchone()[0] == 2


def test_inline_shards_carry_their_lines_and_are_read_without_the_file(tmp_path: Path) -> None:
    """A list only the driver can read (the paths given, stdin): each shard carries its lines; the read task never
    opens the list (here it is gone before the task runs)."""
    manifest = tmp_path / "list.txt"
    manifest.write_bytes(b"a\n\nbb\nccc\nd")
    lines, cut = shards(str(manifest), 2, inline=True)
    assert lines == 5 and [c["lines"] for c in cut] == [b"a\n\n", b"bb\nccc\n", b"d"]
    assert [(c["start"], c["end"], c["first"]) for c in cut] == [(0, 3, 0), (3, 10, 2), (10, 11, 4)]
    manifest.unlink()
    batch_of = {key: [c[key] for c in cut] for key in ("start", "end", "first", "lines")}
    rows = ray_manifest.read_shards(batch_of, manifest=str(manifest), cwd=str(tmp_path), answers=None, skip=None)
    assert [(n, bytes(s)) for n, s in zip(rows["line"], rows["shown"], strict=True)] == [
        (0, b"a"), (2, b"bb"), (3, b"ccc"), (4, b"d")]
    assert set(rows["kind"]) == {"problem"}  # none of them exists


def _given(tmp_path: Path, fx: dict[str, Path]) -> list[str]:
    """Paths as a user types them: a folder (with a non-UTF-8 name inside), a relative file, a missing one, the
    same file twice."""
    photos = tmp_path / "given"
    (photos / "sub").mkdir(parents=True)
    for name in ("clean.jpg", "gps_dirty.jpg", "truncated.jpg"):
        shutil.copy(fx[name], photos / name)
    shutil.copy(fx["gps_dirty.jpg"], Path(bytes(photos / "sub").decode() + "/caf\udce9.jpg"))
    return [str(photos), "given/clean.jpg", "gone.jpg", "given/clean.jpg"]


def _no_walk_on_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the driver may not walk a path, nor hand the cluster files it walked (slices)."""
    from scanner import sources
    from scanner.execution.ray_engine import RayEngine

    walk = sources.walk

    def not_here(paths: Any) -> Any:
        paths = list(paths)
        assert not paths, "the driver walked the paths given"
        return walk(paths)

    def no_slices(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the paths given went to the cluster as files the driver walked")

    monkeypatch.setattr(sources, "walk", not_here)
    monkeypatch.setattr(RayEngine, "scan", no_slices)


@pytest.mark.parametrize("engine", ["ray", "ray-split"])
def test_paths_given_with_a_ray_engine_are_walked_on_the_cluster_in_one_job(cli, fx: dict[str, Path], engine: str,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`leakscan scan --engine ray --store DB FOLDER FILE...`: the folder is walked by the cluster, not the driver,
    and the files go in one Ray job (they went in slices of 64 files a worker, a job each); the same reports as the
    local batch path, and a second run answers every file from the store."""
    given = _given(Path.cwd(), fx)
    local = cli("scan", *FAST, "--store", "local.sqlite", *given)
    _no_walk_on_the_driver(monkeypatch)
    remote = cli("scan", *FAST, "--engine", engine, "--store", "remote.sqlite", *given)
    assert remote.code == local.code == 1, remote.err
    assert _results(remote.out) == _results(local.out) and len(_results(remote.out)) == 7
    decided = {path: (decision, errors) for path, decision, _, errors in _results(remote.out)}
    assert decided["gone.jpg"] == ("review", ["unreadable"]) and decided["given/clean.jpg"] == ("approve", [])
    first = _scanned("remote.sqlite")
    assert first == _scanned("local.sqlite") >= 3  # clean.jpg, gps_dirty.jpg, caf\xe9.jpg at least
    again = cli("scan", *FAST, "--engine", engine, "--store", "remote.sqlite", *given)
    assert _results(again.out) == _results(local.out)
    assert _scanned("remote.sqlite") == first  # every file fully analysed is answered from the store


def test_paths_given_without_a_store_are_walked_on_the_cluster_too(cli, fx: dict[str, Path],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`leakscan scan --engine ray FOLDER FILE...` (no store, no list): before, the driver walked the paths and held
    every one of them; now they are listed and walked on the cluster as with --store; the same reports as the
    local engine's plain scan, and a missing path still gets review."""
    given = _given(Path.cwd(), fx)
    local = cli("scan", *FAST, *given)
    _no_walk_on_the_driver(monkeypatch)
    remote = cli("scan", *FAST, "--engine", "ray", *given)
    assert remote.code == local.code == 1, remote.err
    assert _results(remote.out) == _results(local.out) and len(_results(remote.out)) == 7


def _scanned(db: str) -> int:
    """Reports of files fully analysed by a scan (not answered from the store)."""
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT COUNT(*) FROM decisions WHERE reused = 0 AND complete = 1").fetchone()[0])


def test_a_list_on_stdin_with_a_ray_engine_is_read_on_the_cluster(cli, fx: dict[str, Path],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`--files-from -` with Ray: stdin is copied to a file the driver keeps (to review what does not come back)
    and sent with the shards; the same reports as the local path, nothing handed over in slices."""
    import io
    import sys

    from scanner.execution.ray_engine import RayEngine

    data = b"\n".join(os.fsencode(p) for p in _given(Path.cwd(), fx)) + b"\n\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    local = cli("scan", *FAST, "--files-from", "-")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    monkeypatch.setattr(RayEngine, "scan", lambda *a, **k: (_ for _ in ()).throw(AssertionError("sliced")))
    remote = cli("scan", *FAST, "--engine", "ray", "--files-from", "-")
    assert remote.code == local.code == 1, remote.err
    assert _results(remote.out) == _results(local.out) and len(_results(remote.out)) == 7


def test_the_store_inside_a_folder_given_is_not_read_on_the_cluster(cli, fx: dict[str, Path],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """As locally (tests/test_store.py): the read tasks meet the store and its SQLite files under the folder given
    and mark them this scan's store (review, never read); the photo is scanned."""
    photos = Path("photos")
    photos.mkdir()
    shutil.copy(fx["clean.jpg"], photos / "clean.jpg")
    monkeypatch.chdir(photos)
    res = cli("scan", *FAST, "--engine", "ray", "--store", "results.sqlite", ".")
    rows = {Path(r["path"]).name: r for r in map(json.loads, res.out.splitlines())}
    own = {n for n in rows if n.startswith("results.sqlite")}
    assert "results.sqlite" in own and rows["clean.jpg"]["decision"] == "approve"
    assert all("result store this scan writes" in rows[n]["errors"][0]["message"] for n in own), rows


def test_copies_and_moved_files_are_answered_by_content_where_they_are_listed(cli, fx: dict[str, Path],
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """After a first run, a copy under a new name and a moved file: the read tasks hash them (a stored size), and the
    driver answers both from the store by their sha256, without reading or scanning them (they were scanned again
    before). A file of a stored size whose 64-bit prefix matches but whose sha256 is not stored (a collision, forced
    here) is scanned: never answered by a prefix."""
    import hashlib

    from scanner import store as store_module
    from scanner.execution.ray_manifest import StoreAnswers, sha_prefix

    first_dir, second_dir = Path("a"), Path("b")
    first_dir.mkdir()
    shutil.copy(fx["clean.jpg"], first_dir / "clean.jpg")
    shutil.copy(fx["gps_dirty.jpg"], first_dir / "gps.jpg")
    listing = Path("list.txt")
    listing.write_text("a\n")
    first = cli("scan", *FAST, "--engine", "ray", "--files-from", "list.txt", "--store", "r.sqlite")
    assert first.code == 1, first.err
    second_dir.mkdir()
    shutil.copy(first_dir / "clean.jpg", second_dir / "copy.jpg")
    (first_dir / "gps.jpg").rename(second_dir / "moved.jpg")
    twin = bytearray((first_dir / "clean.jpg").read_bytes())
    twin[-3] ^= 0xFF  # the same size, another content
    (second_dir / "twin.jpg").write_bytes(bytes(twin))
    listing.write_text("a\nb\n")
    real = batch.BatchScan.store_answers

    def with_collision(self: batch.BatchScan) -> StoreAnswers:
        kept = real(self)
        forced = sha_prefix(hashlib.sha256(bytes(twin)).hexdigest())
        return StoreAnswers(kept.stats, kept.sizes, sorted([*kept.shas, forced]), kept.max_bytes)

    def never(*args: Any) -> str:
        raise AssertionError("the driver hashed a file")

    monkeypatch.setattr(batch.BatchScan, "store_answers", with_collision)
    monkeypatch.setattr(store_module, "file_sha256", never)
    with sqlite3.connect("r.sqlite") as con:
        before = con.execute("SELECT MAX(id) FROM decisions").fetchone()[0]
    again = cli("scan", *FAST, "--engine", "ray", "--files-from", "list.txt", "--store", "r.sqlite")
    assert again.code == 1, again.err
    decided = {Path(p).name: d for p, d, _, _ in _results(again.out)}
    assert decided == {"clean.jpg": "approve", "copy.jpg": "approve", "moved.jpg": "review",
                       "twin.jpg": decided.get("twin.jpg")} and "twin.jpg" in decided
    with sqlite3.connect("r.sqlite") as con:
        rows = con.execute("SELECT name, reused FROM decisions WHERE id > ? ORDER BY name", (before,)).fetchall()
    assert [(Path(n).name, r) for n, r in rows] == [("copy.jpg", 1), ("moved.jpg", 1), ("twin.jpg", 0)]
