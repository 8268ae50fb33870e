"""Stale cache files go when a new version is written; files in use, being written or unrelated stay."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.cachefiles import KEEP_RECENT_S, drop_stale, mark_used
from scanner.visual.store import EmbeddingCache


def make(folder: Path, *names: str, age_s: float = 2 * KEEP_RECENT_S) -> None:
    for name in names:
        (folder / name).write_bytes(b"x")
        then = time.time() - age_s
        os.utime(folder / name, (then, then))


def test_drop_stale_keeps_current_partial_recent_and_unrelated(tmp_path: Path) -> None:
    make(tmp_path, "geonames-1-100.npz", "geonames-1-200.npz", "geonames-1-300.4242.tmp.npz", "other-1.npz")
    make(tmp_path, "geonames-1-400.npz", age_s=60)  # another install's, used a minute ago
    (tmp_path / "geonames-dir.npz").mkdir()
    removed = drop_stale(tmp_path / "geonames-1-200.npz", "geonames-*.npz")
    assert [p.name for p in removed] == ["geonames-1-100.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["geonames-1-200.npz", "geonames-1-300.4242.tmp.npz", "geonames-1-400.npz", "other-1.npz", "geonames-dir.npz"])


def test_mark_used_protects_a_file_another_install_reads(tmp_path: Path) -> None:
    make(tmp_path, "geonames-1-100.npz", "geonames-1-200.npz")
    mark_used(tmp_path / "geonames-1-100.npz")
    assert drop_stale(tmp_path / "geonames-1-200.npz", "geonames-*.npz") == []
    mark_used(tmp_path / "missing.npz")  # best effort: no error


def test_reference_cache_drops_its_own_older_versions_only(tmp_path: Path) -> None:
    make(tmp_path, "efficientnet-lite0-aaa-refs-v1.npz", "efficientnet-lite2-bbb-refs-v1.npz")
    cache = EmbeddingCache.for_model(tmp_path, "efficientnet-lite0-aaa")
    assert cache.path is not None and cache.path.name.startswith("efficientnet-lite0-aaa-refs-v")
    assert drop_stale(cache.path, cache.stale_pattern or "") == [tmp_path / "efficientnet-lite0-aaa-refs-v1.npz"]
    assert (tmp_path / "efficientnet-lite2-bbb-refs-v1.npz").exists()
