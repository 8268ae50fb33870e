"""Streaming execution: chunks of files to N worker processes (one thread each), results as they finish."""

from __future__ import annotations

import math
import multiprocessing
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .config import Settings
from .model import ErrorRecord, FileReport
from .pipeline import Pipeline
from .sources import display_path
from .threads import limit_threads

_worker: Pipeline | None = None  # this worker process's pipeline (set by the pool initializer)


def _init_worker(settings: Settings) -> None:
    global _worker
    limit_threads()
    if _worker is None:  # spawned: build our own; forked: the parent's pipeline was inherited
        _worker = Pipeline(settings)


def _scan_chunk(paths: Sequence[str]) -> list[FileReport]:
    assert _worker is not None, "worker not initialised"
    return _worker.scan_paths(paths)


def chunk_size(n_files: int, workers: int, batch_size: int) -> int:
    """Big enough to batch models, small enough to keep every worker busy."""
    return max(1, min(batch_size or 1, math.ceil(n_files / (workers * 4))))


def _chunks(paths: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(paths), size):
        yield paths[i : i + size]


def run(paths: Sequence[str], settings: Settings, pipeline: Pipeline | None = None) -> Iterator[FileReport]:
    """FileReports for `paths`, streamed; at most a few chunks per worker are in flight.

    The pipeline is built here first, in this process, so a configuration error surfaces as a
    ConfigError before any worker starts (and forked workers inherit it instead of rebuilding).
    """
    global _worker
    local = pipeline or Pipeline(settings)
    workers = min(settings.worker_count, max(1, len(paths)))
    size = chunk_size(len(paths), workers, settings.batch_size)
    if workers == 1 or pipeline is not None:
        for chunk in _chunks(paths, size):
            yield from local.scan_paths(chunk)
        return
    # fork is fastest; but never fork a process that already holds torch's threads
    method = "spawn" if "torch" in sys.modules else "fork"
    _worker = local if method == "fork" else None
    try:
        yield from _pooled(paths, settings, local, workers, size, method)
    finally:
        _worker = None


def _pooled(paths: Sequence[str], settings: Settings, local: Pipeline, workers: int, size: int,
            method: str) -> Iterator[FileReport]:
    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(settings,)) as pool:
        pending: dict[Future[list[FileReport]], Sequence[str]] = {}
        for chunk in _chunks(paths, size):
            try:
                pending[pool.submit(_scan_chunk, chunk)] = chunk
            except BrokenProcessPool:  # the pool is gone: every file not yet scanned gets review
                yield from _lost(chunk, local)
                continue
            if len(pending) >= workers * 2:
                yield from _drain(pending, local, FIRST_COMPLETED)
        while pending:
            yield from _drain(pending, local, FIRST_COMPLETED)


def _drain(pending: dict[Future[list[FileReport]], Sequence[str]], local: Pipeline, when: str) -> Iterator[FileReport]:
    done, _ = wait(pending, return_when=when)
    for fut in done:
        chunk = pending.pop(fut)
        try:
            reports = fut.result()
        except BrokenProcessPool:  # a worker died (killed, out of memory): its files get review
            reports = list(_lost(chunk, local))
        yield from reports


def _lost(chunk: Sequence[str], local: Pipeline) -> Iterator[FileReport]:
    error = ErrorRecord("internal", "worker process died before finishing this file", "runner")
    for path in chunk:
        yield local.error_report(display_path(path), error)
