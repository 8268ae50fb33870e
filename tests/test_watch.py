"""`leakscan watch` as a real process: stability, ignored names, collisions, kill -9 and restart, signals."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fixtures.metadata_fixtures import ROTTERDAM, gps_exif, scene
from scanner.audit import AuditStore
from scanner.dropfolder import Stability, free_name, ignored
from tests.terminal import like_a_terminal

ROOT = Path(__file__).resolve().parents[1]
INTERVAL = "0.4"
DESTS = ("approved", "review", "blocked", "failed")
WAIT_S = 60.0


def _jpeg(seed: int, gps: bool = False) -> bytes:
    buf = io.BytesIO()
    extra = {"exif": gps_exif(*ROTTERDAM)} if gps else {}
    scene(96, 64, seed=seed).save(buf, "JPEG", quality=80, **extra)
    return buf.getvalue()


class Watch:
    """One `python -m scanner watch` process on `root`, its audit trail at `db`."""

    def __init__(self, root: Path, db: Path) -> None:
        self.root, self.db = root, db
        env = {**os.environ, "LEAKSCAN_AUDIT_DB": str(db), "PYTHONPATH": str(ROOT)}
        env.pop("LEAKSCAN_POLICY", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scanner", "watch", str(root), "--interval", INTERVAL, "-j", "1",
             "--detectors", "metadata", "-q"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=like_a_terminal)
        wait_for(lambda: (root / "incoming").is_dir(), "the folders")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


@pytest.fixture
def drop(tmp_path: Path) -> Iterator[Callable[[], Watch]]:
    started: list[Watch] = []

    def start() -> Watch:
        started.append(Watch(tmp_path / "drop", tmp_path / "audit.sqlite"))
        return started[-1]

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


def wait_for(cond: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def placed(root: Path) -> dict[str, list[str]]:
    """name -> the destinations holding it (sidecars aside)."""
    out: dict[str, list[str]] = {}
    for dest in DESTS:
        for p in (root / dest).glob("*"):
            if not p.name.endswith(".leakscan.json") and not p.name.startswith("."):
                out.setdefault(p.name, []).append(dest)
    return out


def sidecar(root: Path, dest: str, name: str) -> dict:
    return json.loads((root / dest / f"{name}.leakscan.json").read_text("utf-8"))


def put(root: Path, name: str, data: bytes) -> None:
    """Appear complete at once (written next door, renamed in), as a careful client does."""
    tmp = root / f"staging-{name}"
    tmp.write_bytes(data)
    os.rename(tmp, root / "incoming" / name)


def test_files_are_filed_with_sidecars_ignored_names_stay_and_collisions_get_numbers(drop, tmp_path: Path) -> None:
    w = drop()
    root = w.root
    ignored_names = [".hidden.jpg", "upload.jpg.part", "x.tmp", "~$deck.docx"]
    for name in ignored_names:
        (root / "incoming" / name).write_bytes(_jpeg(0, gps=True))
    put(root, "clean.jpg", _jpeg(1))
    put(root, "holiday\x1b[31m.jpg", _jpeg(2, gps=True))
    wait_for(lambda: len(placed(root)) == 2, "two files filed")
    assert placed(root) == {"clean.jpg": ["approved"], "holiday\x1b[31m.jpg": ["review"]}
    report = sidecar(root, "review", "holiday\x1b[31m.jpg")
    assert report["decision"] == "review" and "metadata.gps" in {r["rule_id"] for r in report["reasons"]}
    put(root, "clean.jpg", _jpeg(1))  # the same content again: answered from the trail, not overwritten
    wait_for(lambda: len(placed(root)) == 3, "the re-drop")
    put(root, "clean.jpg", _jpeg(3))  # other content under a taken name: scanned, numbered
    wait_for(lambda: len(placed(root)) == 4, "the second re-drop")
    assert placed(root)["clean (1).jpg"] == ["approved"] and placed(root)["clean (2).jpg"] == ["approved"]
    assert (root / "approved" / "clean.jpg").read_bytes() == _jpeg(1)
    assert (root / "approved" / "clean (2).jpg").read_bytes() == _jpeg(3)
    assert sorted(p.name for p in (root / "incoming").iterdir()) == sorted(ignored_names)
    log = (root / "leakscan.log").read_text("utf-8").splitlines()
    assert len(log) == 4 and "answered from the audit trail" in log[2]
    assert "\x1b" not in "".join(log) and any("metadata.gps" in line for line in log)
    assert w.stop(signal.SIGTERM) == 143
    rows = AuditStore(w.db).history()
    assert [r["reused"] for r in rows].count(True) == 1 and {r["source"] for r in rows} == {"watch"}


def test_a_file_written_slowly_is_taken_only_when_stable_and_a_part_file_after_its_rename(drop) -> None:
    w = drop()
    root = w.root
    data = _jpeg(4, gps=True)
    pieces = [data[i : i + len(data) // 8 + 1] for i in range(0, len(data), len(data) // 8 + 1)]
    with open(root / "incoming" / "slow.jpg", "wb") as fh:  # one piece every 0.15 s: never still for 0.4 s
        for piece in pieces:
            fh.write(piece)
            fh.flush()
            time.sleep(0.15)
            assert (root / "incoming" / "slow.jpg").exists(), "taken while still being written"
    part = root / "incoming" / "big.jpg.part"
    part.write_bytes(_jpeg(5))
    time.sleep(1.5)  # far past the interval: a .part file is never taken
    assert part.exists()
    os.rename(part, root / "incoming" / "big.jpg")
    wait_for(lambda: len(placed(root)) == 2, "both files")
    slow = sidecar(root, "review", "slow.jpg")
    assert slow["size"] == len(data) and not slow["errors"]  # the whole file, not a truncated piece
    assert placed(root)["big.jpg"] == ["approved"]
    assert w.stop(signal.SIGINT) == 130


def test_kill_9_mid_batch_then_restart_files_everything_once(drop) -> None:
    n = 20
    w = drop()
    root = w.root
    datas = {f"p{i:02}.jpg": _jpeg(10 + i, gps=i % 2 == 0) for i in range(n)}
    staging = root / "staging"
    staging.mkdir()
    for name, data in datas.items():
        (staging / name).write_bytes(data)
    for name in datas:
        os.rename(staging / name, root / "incoming" / name)
    wait_for(lambda: len(placed(root)) >= 2, "the first files")
    w.proc.kill()  # SIGKILL: no clean-up at all
    w.proc.wait()
    before = len(placed(root))
    in_hand = [p.name for p in (root / ".processing").iterdir() if not p.name.startswith(".")]
    assert before < n, "the batch ended before the kill: nothing tested"
    w2 = drop()
    wait_for(lambda: len(placed(root)) == n, "all files after the restart")
    assert w2.stop() == 143
    where = placed(root)
    assert sorted(where) == sorted(datas) and all(len(d) == 1 for d in where.values())
    for name, (dest,) in where.items():
        assert (root / dest / name).read_bytes() == datas[name]  # moved, never modified
        assert sidecar(root, dest, name)["decision"] == {"approved": "approve", "review": "review"}[dest]
    assert not [p for p in (root / ".processing").iterdir() if not p.name.startswith(".")]
    assert not list((root / "incoming").iterdir())
    store = AuditStore(w.db)
    rows = store.history(limit=1000)
    scanned = [r["sha256"] for r in rows if not r["reused"]]
    assert sorted(scanned) == sorted(set(scanned)) and len(scanned) == n  # each content scanned exactly once
    print(f"placed before kill: {before}, in .processing: {len(in_hand)}, rows: {len(rows)}")


def test_ignored_names() -> None:
    assert all(ignored(n) for n in (".x.jpg", "a.part", "a.TMP", "~$a.docx", "a.crdownload"))
    assert not any(ignored(n) for n in ("a.jpg", "part.jpg", "a~$.docx"))


def test_free_name_never_reuses_a_taken_name(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_text("x")
    (tmp_path / "a (1).jpg.leakscan.json").write_text(json.dumps({"sha256": "other"}))  # someone's sidecar
    assert free_name(tmp_path, "a.jpg", sidecar=True, sha256="mine").name == "a (2).jpg"
    assert free_name(tmp_path, "a.jpg", sidecar=True, sha256="other").name == "a (1).jpg"  # our crash orphan
    assert free_name(tmp_path, "README", sidecar=False).name == "README"
    (tmp_path / "README").write_text("x")
    assert free_name(tmp_path, "README", sidecar=False).name == "README (1)"
    assert free_name(tmp_path, ".tar.gz", sidecar=False).name == ".tar.gz"


def test_stability_needs_two_equal_looks_settle_apart() -> None:
    from scanner.dropfolder import Seen

    s = Stability(1.0)
    assert s.stable({"a": Seen(1, 1)}, 0.0) == []
    assert s.stable({"a": Seen(2, 2)}, 0.9) == []  # grew: the clock starts again
    assert s.stable({"a": Seen(2, 2)}, 1.5) == []
    assert s.stable({"a": Seen(2, 2)}, 2.0) == ["a"]
    assert s.stable({}, 2.1) == [] and s.stable({"a": Seen(2, 2)}, 3.5) == []  # gone and back: new
