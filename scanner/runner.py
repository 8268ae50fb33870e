"""Compatibility: execution moved to scanner.execution (a pool with a watchdog); `runner.run` still works."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from . import execution
from .config import Settings
from .execution import chunk_size
from .execution.worker import scan_chunk
from .model import FileReport
from .pipeline import Pipeline

__all__ = ["chunk_size", "run"]


def _scan_chunk(paths: Sequence[str]) -> list[FileReport]:
    """What a worker does with a chunk (looked up when run() is called, so a test may replace it)."""
    return scan_chunk(paths)


def run(paths: Sequence[str], settings: Settings, pipeline: Pipeline | None = None) -> Iterator[FileReport]:
    """FileReports for `paths`, streamed: see scanner.execution.run."""
    return execution.run(paths, settings, pipeline, task=_scan_chunk)
