"""The micro-batcher: uploads that arrive together go to one worker as one chunk, so they share model batches.

Each request queues its file and awaits its own report. A batch is formed once a worker slot is free: it
starts with the oldest waiting upload and takes the next ones until `max_batch` are in or `max_wait_s`
has passed since that upload was taken; then the whole batch goes through `scan_many` (Pool.scan in a
thread) while the next batch forms. At most `slots` batches (one per worker) are scanned at once; what
arrives meanwhile waits and fills the next batch.

Fail closed: reports are matched to uploads by path, never by order; an upload with no report of its
own, or every upload of a batch whose scan raised, is answered by `fail(path, reason)` (a review).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import anyio

from ..model import FileReport
from ..sources import display_path

ScanMany = Callable[[Sequence[str]], list[FileReport]]  # blocking: runs in a thread
FailReport = Callable[[str, str], FileReport]  # (path, reason) -> a report that says review

MAX_BATCH_LIMIT = 256
MAX_WAIT_LIMIT_MS = 10_000.0


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """How uploads are grouped: at most `max_batch` per batch, waiting at most `max_wait_ms` for them."""

    max_batch: int = 8
    max_wait_ms: float = 20.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch <= MAX_BATCH_LIMIT:
            raise ValueError(f"max_batch must be 1..{MAX_BATCH_LIMIT}, got {self.max_batch}")
        if not 0.0 <= self.max_wait_ms <= MAX_WAIT_LIMIT_MS:
            raise ValueError(f"max_wait_ms must be 0..{MAX_WAIT_LIMIT_MS:g}, got {self.max_wait_ms}")


@dataclass(slots=True)
class _Pending:
    path: str
    future: asyncio.Future[FileReport] = field(repr=False)


class Batcher:
    """Groups `submit(path)` calls into batches for `scan_many`; `start()` inside the event loop, `close()` after."""

    def __init__(self, scan_many: ScanMany, fail: FailReport, options: BatchOptions, slots: int,
                 on_batch: Callable[[int], None] = lambda _: None, shown: Callable[[str], str] = lambda p: p) -> None:
        self._scan_many, self._fail, self.options = scan_many, fail, options
        self._shown = shown  # a display path as reports show it (scanner.expansion.shown_path): a report's own path
        self._on_batch = on_batch
        self._slots_total = max(1, slots)
        self._waiting: deque[_Pending] = deque()
        self._arrived: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._task: asyncio.Task[None] | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self.scanning = 0  # uploads in batches being scanned

    @property
    def queued(self) -> int:
        """Uploads waiting for a batch (the queue depth)."""
        return len(self._waiting)

    def start(self) -> None:
        self._arrived, self._slots = asyncio.Event(), asyncio.Semaphore(self._slots_total)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="leakscan-batcher")

    async def close(self) -> None:
        """Stop forming batches; whoever still waits is answered with a review."""
        for task in (self._task, *self._batches):
            if task is not None:
                task.cancel()
        for task in (self._task, *self._batches):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        while self._waiting:
            pending = self._waiting.popleft()
            _answer(pending, self._fail(pending.path, "the service is shutting down"))

    async def submit(self, path: str) -> FileReport:
        """The report of the file at `path`, scanned in a batch with whatever arrives with it."""
        if self._task is None or self._arrived is None:
            raise RuntimeError("the batcher is not started")
        pending = _Pending(path, asyncio.get_running_loop().create_future())
        self._waiting.append(pending)
        self._arrived.set()
        return await pending.future

    async def _run(self) -> None:
        assert self._slots is not None
        while True:
            await self._slots.acquire()
            try:
                batch = await self._collect()
            except BaseException:
                self._slots.release()
                raise
            task = asyncio.get_running_loop().create_task(self._scan(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _collect(self) -> list[_Pending]:
        """The next batch: wait for a first upload, then for more until full or max_wait has passed."""
        assert self._arrived is not None
        loop = asyncio.get_running_loop()
        while not self._live():
            self._arrived.clear()
            await self._arrived.wait()
        deadline = loop.time() + self.options.max_wait_ms / 1000
        while len(self._waiting) < self.options.max_batch:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break
            self._live()
        n = min(len(self._waiting), self.options.max_batch)
        return [self._waiting.popleft() for _ in range(n)]

    def _live(self) -> bool:
        """Drop uploads whose request was cancelled (the client went away); True when any remain."""
        self._waiting = deque(p for p in self._waiting if not p.future.done())
        return bool(self._waiting)

    async def _scan(self, batch: list[_Pending]) -> None:
        assert self._slots is not None
        self.scanning += len(batch)
        self._on_batch(len(batch))
        try:
            reports = await anyio.to_thread.run_sync(self._scan_many, [p.path for p in batch])
            self._deliver(batch, reports)
        except Exception as exc:  # the whole batch failed: each upload gets its own review
            for pending in batch:
                _answer(pending, self._fail(pending.path, f"the batch could not be scanned ({type(exc).__name__})"))
        finally:
            self.scanning -= len(batch)
            self._slots.release()
            for pending in batch:  # cancelled mid-scan (shutting down): never leave a request without an answer
                _answer(pending, self._fail(pending.path, "the scan was interrupted"))

    def _deliver(self, batch: list[_Pending], reports: list[FileReport]) -> None:
        """Each upload gets the report whose path is its own; a path with no report (or two) gets a review."""
        by_path: dict[str, list[FileReport]] = {}
        for report in reports:
            by_path.setdefault(report.path, []).append(report)
        for pending in batch:
            mine = by_path.get(self._shown(display_path(pending.path)), [])
            if len(mine) == 1:
                _answer(pending, mine[0])
            else:
                _answer(pending, self._fail(pending.path, f"{len(mine)} reports came back for this file"))


def _answer(pending: _Pending, report: FileReport) -> None:
    if not pending.future.done():
        pending.future.set_result(report)
