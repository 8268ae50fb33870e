"""Streaming execution: chunks of files to N worker processes (one thread each), results as they finish."""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from .config import Settings
from .model import FileReport
from .pipeline import Pipeline

THREAD_VARS = ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_worker: Pipeline | None = None  # this worker process's pipeline (set by the pool initializer)


def limit_threads() -> None:
    """One compute thread per process (STACK.md: multi-threaded runtimes swing on a busy core).

    Called in worker processes before any engine loads; variables already set are respected.
    """
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")


def _init_worker(settings: Settings) -> None:
    global _worker
    limit_threads()
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
    """FileReports for `paths`, streamed; at most a few chunks per worker are in flight."""
    workers = min(settings.worker_count, max(1, len(paths)))
    size = chunk_size(len(paths), workers, settings.batch_size)
    if workers == 1 or pipeline is not None:
        local = pipeline or Pipeline(settings)
        for chunk in _chunks(paths, size):
            yield from local.scan_paths(chunk)
        return
    # fork is fastest; but never fork a process that already holds torch's threads
    method = "spawn" if "torch" in sys.modules else "fork"
    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(settings,)) as pool:
        pending: set[Future[list[FileReport]]] = set()
        chunks = _chunks(paths, size)
        for chunk in chunks:
            pending.add(pool.submit(_scan_chunk, chunk))
            if len(pending) >= workers * 2:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield from fut.result()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield from fut.result()
