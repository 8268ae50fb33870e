"""Streaming execution: chunks of files to N worker processes (one thread each), results as they finish."""

from __future__ import annotations

import contextlib
import ctypes
import math
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .config import Settings
from .model import ErrorRecord, FileReport
from .pipeline import Pipeline
from .sources import display_path
from .threads import limit_threads

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_STOP_GRACE_S = 2.0  # how long stopped workers get to exit on SIGTERM before SIGKILL
_worker: Pipeline | None = None  # this worker process's pipeline (set by the pool initializer)


def _init_worker(settings: Settings, parent: int) -> None:
    global _worker
    _bind_to_parent(parent)
    limit_threads()
    if _worker is None:  # spawned: build our own; forked: the parent's pipeline was inherited
        _worker = Pipeline(settings)


def _bind_to_parent(parent: int) -> None:
    """Signals as a worker wants them; and a worker never outlives the scan that started it.

    The parent stops its workers itself (SIGTERM, SIGHUP, SIGINT, a crash); as a second net,
    Linux sends a worker SIGKILL when the parent dies however it dies (PR_SET_PDEATHSIG).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    for sig in (signal.SIGTERM, signal.SIGHUP):  # a forked worker inherits the front end's handlers
        signal.signal(sig, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


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
    """The pool's reports; on any exit but the normal end, the workers are stopped, not awaited."""
    ctx = multiprocessing.get_context(method)
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(settings, os.getpid()))
    try:
        yield from _submit_all(pool, paths, local, workers, size)
    except BaseException:  # a signal, Ctrl-C, the consumer gone: workers must not run on without us
        stop_workers(pool)
        raise
    pool.shutdown(wait=True)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the worker processes now (SIGTERM, then SIGKILL)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        with contextlib.suppress(OSError, ValueError):
            proc.terminate()
    deadline = time.monotonic() + _STOP_GRACE_S
    for proc in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()


def _submit_all(pool: ProcessPoolExecutor, paths: Sequence[str], local: Pipeline, workers: int,
                size: int) -> Iterator[FileReport]:
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
