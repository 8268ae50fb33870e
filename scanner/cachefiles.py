"""Derived-data cache files (geonames index, reference embeddings, ONNX exports): when a new version of
one is written, the versions it replaces are deleted, so upgrades and reinstalls do not pile them up.

Two installs may share one cache folder (two virtual environments, CI beside a desk install): a file
another install still uses must survive. Readers therefore `mark_used` the file they load, and
`drop_stale` leaves alone any file used in the last `KEEP_RECENT_S`.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

KEEP_RECENT_S = 7 * 24 * 3600.0


def mark_used(path: Path) -> None:
    """Refresh a cache file's modification time when it is read (best effort: a read-only cache is fine)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def drop_stale(current: Path, pattern: str, keep_recent_s: float = KEEP_RECENT_S) -> list[Path]:
    """Delete the files next to `current` matching `pattern` (a glob), except `current`, files still being
    written (`*.tmp*`) and files used in the last `keep_recent_s` seconds; best effort. Returns the deleted."""
    removed = []
    now = time.time()
    for old in current.parent.glob(pattern):
        if old == current or ".tmp" in old.name:
            continue
        with contextlib.suppress(OSError):
            if not old.is_file() or now - old.stat().st_mtime < keep_recent_s:
                continue
            old.unlink()
            removed.append(old)
    return removed
