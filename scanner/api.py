"""The one library entry point every front end calls: scan(inputs, settings) -> ScanReport."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from . import runner, sources
from .config import Settings
from .engines import EngineSet
from .model import FileReport, ScanReport
from .pipeline import Pipeline


def scan_iter(inputs: Iterable[str | os.PathLike[str]], settings: Settings | None = None,
              engines: EngineSet | None = None, on_start: Callable[[int], None] | None = None) -> Iterator[FileReport]:
    """Reports for every file under `inputs`, streamed as files finish (order not guaranteed with jobs > 1).

    Paths that cannot be read come back as `review` reports with an error entry. `on_start` is
    told how many files will be scanned once the inputs have been walked (for progress bars).
    """
    settings = settings or Settings()
    paths: list[str] = []
    pipeline = Pipeline(settings, engines) if engines is not None else None
    for entry in sources.walk(os.fspath(p) for p in inputs):
        if entry.problem is None:
            paths.append(entry.path)
        else:
            yield (pipeline or Pipeline(settings, detectors=())).error_report(
                sources.display_path(entry.path), entry.problem)
    if on_start:
        on_start(len(paths))
    yield from runner.run(paths, settings, pipeline)


def scan(inputs: Iterable[str | os.PathLike[str]] | str | os.PathLike[str], settings: Settings | None = None,
         engines: EngineSet | None = None) -> ScanReport:
    """Scan files and folders; the whole report in memory (use scan_iter for large batches)."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    return ScanReport(tuple(scan_iter(inputs, settings, engines)))
