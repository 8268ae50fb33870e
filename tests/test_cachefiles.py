"""Stale cache files go when a new version is written; files being written and other names stay."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.cachefiles import drop_stale


def test_drop_stale_keeps_current_partial_and_unrelated(tmp_path: Path) -> None:
    names = ["geonames-1-100.npz", "geonames-1-200.npz", "geonames-1-300.4242.tmp.npz", "other-1.npz"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "geonames-dir.npz").mkdir()
    removed = drop_stale(tmp_path / "geonames-1-200.npz", "geonames-*.npz")
    assert [p.name for p in removed] == ["geonames-1-100.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["geonames-1-200.npz", "geonames-1-300.4242.tmp.npz", "other-1.npz", "geonames-dir.npz"])
