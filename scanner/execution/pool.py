"""A persistent pool of worker processes, with the watchdog in the parent: an overdue chunk's worker is killed.

Each worker holds one chunk at a time and has a deadline for it (timeout_s x its files + GRACE_S); every
heartbeat it sends (a stage over N items starts: a read, a container, a detector) moves the deadline to
timeout_s x N + BEAT_GRACE_S from then, so only a stalled stage is cut off, never a long but moving chunk.
The scan that gave the chunk watches it from the parent: a worker past its deadline gets SIGKILL
(signals blocked, a hang in C code: nothing inside the worker needs to cooperate), one that dies by
itself (out of memory, a crash) is noticed through its pipe and its process sentinel. Either way its
chunk's files are scanned again one by one, so only the file that hangs or kills its worker is
recorded as `review` (`timeout` or `internal`), a fresh worker takes the freed place, and the scan
goes on. `Pool.scan` may be called from any number of threads at once; they share the workers.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import wait
from types import TracebackType

from ..config import Settings
from ..model import ErrorRecord, FileReport
from ..pipeline import Pipeline
from ..sources import display_path
from .handle import Chunk, Worker, gone
from .worker import READY, Beat, Failure, PipelineFactory, Task, scan_chunk

GRACE_S = 2.0  # on top of timeout_s per file: the pipe, pickling the reports, a busy machine


def start_method() -> str:
    """fork is fastest (workers inherit the built detectors); never fork a process that holds torch's threads."""
    return "spawn" if "torch" in sys.modules else "fork"


def chunk_size(n_files: int, workers: int, batch_size: int) -> int:
    """Big enough to batch models, small enough to keep every worker busy."""
    return max(1, min(batch_size or 1, -(-n_files // (workers * 4))))


class Pool:
    """`workers` processes (one compute thread each), started on demand and kept until close().

    The pipeline is built first, here in the parent, so a configuration error surfaces before any
    worker starts; forked workers inherit it, spawned ones build their own with `factory` (which
    must then be importable: a module-level function or class).
    """

    def __init__(self, settings: Settings, workers: int | None = None, *, pipeline: Pipeline | None = None,
                 factory: PipelineFactory = Pipeline, task: Task = scan_chunk, method: str | None = None) -> None:
        self.settings = settings
        self.size = max(1, workers or settings.worker_count)
        self.local = pipeline if pipeline is not None else factory(settings)
        self._method = method or start_method()
        self._ctx = multiprocessing.get_context(self._method)
        self._factory, self._task = factory, task
        self._idle: list[Worker] = []
        self._live: set[Worker] = set()
        self._starting = 0
        self._free = threading.Condition()
        self._closed = False
        # PR_SET_PDEATHSIG fires when the *thread* that started a worker ends: start them all from one
        # thread that lives as long as the pool, not from whichever request thread needed one
        self._starter = ThreadPoolExecutor(1, thread_name_prefix="leakscan-pool")

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close(kill=exc is not None)

    def scan(self, paths: Sequence[str], chunk: int | None = None) -> Iterator[FileReport]:
        """FileReports for `paths`, as chunks finish; at most one chunk per worker is in flight."""
        size = chunk or chunk_size(len(paths), self.size, self.settings.batch_size)
        todo = deque(Chunk(tuple(paths[i : i + size]), size > 1) for i in range(0, len(paths), size))
        busy: list[Worker] = []
        try:
            while todo or busy:
                self._dispatch(todo, busy)
                yield from self._watch(todo, busy)
        except BaseException:  # a signal, Ctrl-C, the consumer gone: the chunks in flight are not wanted
            for w in busy:
                self._discard(w)
            raise

    def close(self, kill: bool = False) -> None:
        """Stop every worker (asked nicely, or SIGKILL when `kill`); the pool cannot scan afterwards."""
        with self._free:
            self._closed = True
            workers, self._idle = list(self._live), []
            self._live.clear()
            self._free.notify_all()
        for w in workers:
            w.kill() if kill else w.stop()
        self._starter.shutdown(wait=True)

    # --- giving chunks to workers -------------------------------------------------------------

    def _dispatch(self, todo: deque[Chunk], busy: list[Worker]) -> None:
        while todo:
            w = self._acquire(block=not busy)
            if w is None:
                return
            chunk = todo.popleft()
            w.give(chunk, self.settings.timeout_s * len(chunk.paths) + GRACE_S)
            busy.append(w)

    def _acquire(self, block: bool) -> Worker | None:
        """An idle worker, a new one while the pool is not full, else wait (or None when not `block`)."""
        with self._free:
            while not self._idle and len(self._live) + self._starting >= self.size:
                if self._closed:
                    raise RuntimeError("the worker pool is closed")
                if not block:
                    return None
                self._free.wait()
            if self._closed:
                raise RuntimeError("the worker pool is closed")
            if self._idle:
                return self._idle.pop()
            self._starting += 1
        try:
            w = self._starter.submit(self._start).result()
        finally:
            with self._free:
                self._starting -= 1
        return w

    def _start(self) -> Worker:
        inherited = self.local if self._method == "fork" else None
        w = Worker.start(self._ctx, self.settings, self._factory, self._task, inherited)
        with self._free:
            self._live.add(w)
        return w

    def _release(self, w: Worker) -> None:
        w.chunk = None
        with self._free:
            if w in self._live:
                self._idle.append(w)
                self._free.notify()

    def _discard(self, w: Worker) -> None:
        """Kill it and free its place (the next scan that needs a worker starts a fresh one)."""
        with self._free:
            self._live.discard(w)
        w.kill()
        with self._free:
            self._free.notify()

    # --- the watchdog -------------------------------------------------------------------------

    def _watch(self, todo: deque[Chunk], busy: list[Worker]) -> Iterator[FileReport]:
        """Wait for the first reply, death or deadline among `busy`; hand each outcome on."""
        timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
        ready = set(wait([h for w in busy for h in (w.conn, w.process.sentinel)], timeout))
        for w in list(busy):
            if w.conn in ready or w.process.sentinel in ready:
                yield from self._receive(w, todo, busy)
            elif w.overdue():
                yield from self._lost(w, todo, busy, self._timeout())

    def _receive(self, w: Worker, todo: deque[Chunk], busy: list[Worker]) -> Iterator[FileReport]:
        message = w.receive()
        if message == READY or isinstance(message, Beat):  # not a reply: the worker set its new deadline
            return
        if gone(message):
            yield from self._lost(w, todo, busy, ErrorRecord(
                "internal", "worker process died before finishing this file", "execution"))
            return
        chunk = w.chunk
        assert chunk is not None
        busy.remove(w)
        self._release(w)
        if isinstance(message, Failure):  # the worker is fine; the chunk is not
            yield from self._failed(chunk, todo, ErrorRecord("internal", f"scan failed: {message.error}", "execution"))
        else:
            yield from message

    def _lost(self, w: Worker, todo: deque[Chunk], busy: list[Worker], error: ErrorRecord) -> Iterator[FileReport]:
        chunk = w.chunk
        assert chunk is not None
        busy.remove(w)
        self._discard(w)
        yield from self._failed(chunk, todo, error)

    def _failed(self, chunk: Chunk, todo: deque[Chunk], error: ErrorRecord) -> Iterator[FileReport]:
        """Retry each file of a chunk alone (first in line), or, for a lone file, record the error."""
        if chunk.split and len(chunk.paths) > 1:
            todo.extendleft(Chunk((path,), False) for path in reversed(chunk.paths))
            return
        for path in chunk.paths:
            yield self.local.error_report(display_path(path), error)

    def _timeout(self) -> ErrorRecord:
        limit = self.settings.timeout_s
        return ErrorRecord("timeout", f"analysis took longer than {limit:g} s; the worker was stopped", "execution")
