"""Derived-data cache files (geonames index, reference embeddings, ONNX exports): when a new version of
one is written, the versions it replaces are deleted, so upgrades and reinstalls do not pile them up.

Two installs may share one cache folder (two virtual environments, CI beside a desk install): a file
another install still uses must survive. Readers therefore `mark_used` the file they load, and
`drop_stale` leaves alone any file used in the last `KEEP_RECENT_S`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

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


def write_npz(path: Path, stale_pattern: str | None = None, **arrays: Any) -> bool:
    """Write `arrays` to `path` as one .npz, atomically (a temporary file in the same folder, then a rename);
    then `drop_stale(path, stale_pattern)`. False when it could not be written: a read-only cache only costs
    time, so that is not an error."""
    import numpy as np

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz.tmp", dir=path.parent)
    except OSError:
        return False
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False
    if stale_pattern:
        drop_stale(path, stale_pattern)
    return True
