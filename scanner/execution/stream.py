"""One scan's FileReports, streamed: through a worker pool (watchdog), or in this process when asked to."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from ..config import Settings
from ..model import FileReport
from ..pipeline import Pipeline
from .pool import Pool, chunk_size
from .worker import Task, scan_chunk


class Engine(Protocol):
    """What runs a scan's files: the local Pool, or the Ray engine (ray_engine.RayEngine); one report per path."""

    def scan(self, paths: Sequence[str], chunk: int | None = None) -> Iterator[FileReport]: ...


def run(paths: Sequence[str], settings: Settings, pipeline: Pipeline | None = None, *,
        pool: Engine | None = None, task: Task = scan_chunk) -> Iterator[FileReport]:
    """FileReports for `paths`, streamed as chunks finish.

    - `pool`: scan through that (persistent, shared) pool, or another Engine (Ray); it stays open afterwards.
    - `pipeline` given (the caller built its engines in this process): scan here, in the calling
      thread; per-file limits are then only SIGALRM's, in the main thread (see pipeline.deadline).
    - otherwise: a pool of min(jobs, files) workers for this scan, closed at the end (killed if
      the scan is abandoned: a signal, Ctrl-C, the consumer gone). Even one file gets a worker, so
      a hang that signals cannot stop still ends in `review` after timeout_s.
    """
    if pool is not None:
        yield from pool.scan(paths)
        return
    if pipeline is not None:
        size = chunk_size(len(paths), 1, settings.batch_size)
        for i in range(0, len(paths), size):
            yield from pipeline.scan_paths(paths[i : i + size])
        return
    local = Pipeline(settings)  # a configuration error surfaces here, before any worker starts
    with Pool(settings, min(settings.worker_count, max(1, len(paths))), pipeline=local, task=task) as own:
        yield from own.scan(paths)
