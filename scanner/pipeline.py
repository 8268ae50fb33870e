"""Run detectors over items: per-item error capture, batching across files, per-stage timings."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any

from . import detectors as registry
from . import sources
from .config import Settings
from .detectors.base import BatchDetector, Detector
from .engines import EngineSet
from .errors import EngineError, ItemError, ItemTimeout, UnsupportedItem
from .model import ErrorRecord, FileReport, Finding, Item, Verdict
from .subject import Subject


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise ItemTimeout in this (main) thread after `seconds`; a no-op in other threads."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(_sig: int, _frame: FrameType | None) -> None:
        raise ItemTimeout(f"analysis took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def byte_groups(paths: Sequence[str], budget: int) -> Iterator[list[str]]:
    """`paths` in order, in groups whose sizes (as stat says now) add up to at most `budget` bytes."""
    group: list[str] = []
    held = 0
    for path in paths:
        try:
            size = os.stat(path).st_size
        except (OSError, ValueError):  # reading will report it; it holds no bytes
            size = 0
        if group and held + size > budget:
            yield group
            group, held = [], 0
        group.append(path)
        held += size
    if group:
        yield group


class _Work:
    """One subject's findings, errors and timings while detectors run."""

    def __init__(self, subject: Subject) -> None:
        self.subject = subject
        self.findings: list[Finding] = []
        self.timings: dict[str, float] = {}
        self.handled = False

    def fail(self, exc: ItemError | EngineError, stage: str) -> None:
        self.subject.note_error(exc, stage)


class Pipeline:
    """The detectors of one process, built once, applied to chunks of files."""

    def __init__(self, settings: Settings, engines: EngineSet | None = None,
                 detectors: Sequence[Detector] | None = None) -> None:
        self.settings = settings
        self.engines = engines or EngineSet(settings)
        self.detectors = list(detectors) if detectors is not None else registry.build(settings, self.engines)

    def scan_paths(self, paths: Sequence[str]) -> list[FileReport]:
        """Reports for a chunk of files, in the same order; batch detectors see each group whole.

        The chunk is split into groups whose file sizes add up to at most max_batch_mb (a larger
        file is a group alone), and a group's bytes are released before the next is read: the
        file bytes a worker holds stay under max(max_batch_mb, max_file_mb).
        """
        out: list[FileReport] = []
        for group in byte_groups(paths, int(self.settings.max_batch_mb * 1_000_000)):
            out.extend(self._scan_group(group))
        return out

    def _scan_group(self, paths: Sequence[str]) -> list[FileReport]:
        items: list[Item | ErrorRecord] = []
        read_times = []
        for path in paths:
            t0 = time.perf_counter()
            items.append(self._read(path))
            read_times.append(time.perf_counter() - t0)
        works = [_Work(Subject(i, self.settings)) for i in items if isinstance(i, Item)]
        self._run_detectors(works)
        by_item = iter(works)
        out = []
        for path, entry, t_read in zip(paths, items, read_times, strict=True):
            if isinstance(entry, ErrorRecord):
                out.append(self.error_report(sources.display_path(path), entry))
            else:
                out.append(self._report(next(by_item), t_read))
        return out

    def _read(self, path: str) -> Item | ErrorRecord:
        """The file's bytes, under the per-file time limit (a slow or stuck read gets review)."""
        try:
            with deadline(self.settings.timeout_s):
                return sources.read_item(path, int(self.settings.max_file_mb * 1_000_000))
        except ItemError as exc:
            return ErrorRecord(exc.code, str(exc), "read")

    def _run_detectors(self, works: list[_Work]) -> None:
        for det in self.detectors:
            todo = [w for w in works if self._accepts(det, w)]
            if not todo:
                continue
            if isinstance(det, BatchDetector) and len(todo) > 1:
                self._batch(det, todo)
            else:
                for w in todo:
                    self._single(det, w)

    def _accepts(self, det: Detector, w: _Work) -> bool:
        ok = det.accepts(w.subject)
        w.handled |= ok
        return ok

    def _guarded(self, stage: str, works: list[_Work], seconds: float, fn: Callable[[], Any],
                 passthrough: tuple[type[Exception], ...] = ()) -> Any:
        try:
            with deadline(seconds):
                return fn()
        except passthrough:
            raise
        except (ItemError, EngineError) as exc:
            for w in works:
                w.fail(exc, stage)
        except Exception as exc:  # a detector bug must not approve the file: fail closed
            for w in works:  # the type name only: a third-party message may quote text from the picture
                w.subject.errors.append(ErrorRecord("internal", f"{stage} failed: {type(exc).__name__}", stage))
        return None

    def _single(self, det: Detector, w: _Work) -> None:
        t0 = time.perf_counter()
        found = self._guarded(det.id, [w], self.settings.timeout_s, lambda: det.detect(w.subject))
        w.findings.extend(found or [])
        w.timings[det.id] = w.timings.get(det.id, 0.0) + time.perf_counter() - t0

    def _batch(self, det: BatchDetector, todo: list[_Work]) -> None:
        t0 = time.perf_counter()
        try:
            results = self._guarded(det.id, todo, self.settings.timeout_s * len(todo),
                                    lambda: det.detect_batch([w.subject for w in todo]), passthrough=(ItemError,))
        except ItemTimeout as exc:  # already waited timeout_s per file: do not wait again one by one
            for w in todo:
                w.fail(exc, det.id)
            return
        except ItemError:  # one bad file spoiled the batch: retry one by one, so only that file is reviewed
            for w in todo:
                self._single(det, w)
            return
        share = (time.perf_counter() - t0) / len(todo)
        for w, found in zip(todo, results or [[] for _ in todo], strict=True):
            w.findings.extend(found)
            w.timings[det.id] = w.timings.get(det.id, 0.0) + share

    def _report(self, w: _Work, t_read: float) -> FileReport:
        item = w.subject.item
        if not w.handled:
            w.fail(UnsupportedItem(f"no detector handles {item.kind} files"), "pipeline")
        policy = self.settings.policy
        findings = tuple(f for f in (policy.apply(f) for f in w.findings) if f is not None)
        errors = tuple(w.subject.errors)
        timings = {"read": t_read, **w.timings, **w.subject.hints.get("timings", {})}
        return FileReport(item.source, item.sha256, item.kind, item.size, policy.decide(findings, errors),
                          findings, errors, timings)

    def error_report(self, path: str, error: ErrorRecord) -> FileReport:
        verdict: Verdict = self.settings.policy.decide((), (error,))
        return FileReport(path, None, None, None, verdict, (), (error,), {})
