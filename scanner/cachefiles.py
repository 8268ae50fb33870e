"""Derived-data cache files (geonames index, reference embeddings, ONNX exports): when a new version of
one is written, the versions it replaces are deleted, so upgrades and reinstalls do not pile them up."""

from __future__ import annotations

import contextlib
from pathlib import Path


def drop_stale(current: Path, pattern: str) -> list[Path]:
    """Delete the files next to `current` matching `pattern` (a glob), except `current` and files still
    being written (`*.tmp*`); best effort. Returns what was deleted."""
    removed = []
    for old in current.parent.glob(pattern):
        if old == current or ".tmp" in old.name or not old.is_file():
            continue
        with contextlib.suppress(OSError):
            old.unlink()
            removed.append(old)
    return removed
