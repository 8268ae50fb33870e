"""Run detectors over items: per-item error capture, batching across files, per-stage timings."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Any

from . import containers, coverage, sources
from . import detectors as registry
from .config import Settings
from .containers.base import Expander
from .detectors.base import BatchDetector, Detector
from .engines import EngineSet
from .errors import EngineError, ItemError, ItemTimeout, UnsupportedItem
from .expansion import Node, expand_tree, names_for
from .model import ErrorRecord, FileReport, Finding, Item, SkippedCheck, Verdict
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
    """One node's subject, findings, errors and timings while detectors run."""

    def __init__(self, subject: Subject, node: Node) -> None:
        self.subject = subject
        self.node = node
        self.findings: list[Finding] = []
        self.timings: dict[str, float] = {}
        self.handled = False

    def fail(self, exc: ItemError | EngineError, stage: str) -> None:
        self.subject.note_error(exc, stage)


class Pipeline:
    """The detectors of one process, built once, applied to chunks of files."""

    def __init__(self, settings: Settings, engines: EngineSet | None = None,
                 detectors: Sequence[Detector] | None = None,
                 expanders: Mapping[str, Expander] | None = None) -> None:
        self.settings = settings
        self.engines = engines or EngineSet(settings)
        self.detectors = list(detectors) if detectors is not None else registry.build(settings, self.engines)
        self._factories = registry.available()
        self.skipped = coverage.scan_skips(settings, self._factories, self.detectors)  # said in every file report
        self.expanders = containers.build(settings) if expanders is None else dict(expanders)
        self._names = names_for(settings)
        # told when a stage over N items starts (a worker turns it into a heartbeat for the parent's watchdog)
        self.on_stage: Callable[[int], None] | None = None

    def _stage(self, items: int) -> None:
        if self.on_stage is not None:
            self.on_stage(items)

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
        """Read each file and open what it holds into a tree; run the detectors over every node of the group's
        plain files together (batch detectors see them at once), and over each container's tree as soon as it
        is opened (so one container's expanded members, not several, are held at a time); reports bottom up."""
        reports: dict[int, FileReport] = {}
        plain: list[tuple[int, list[_Work], float]] = []
        for index, path in enumerate(paths):
            t0 = time.perf_counter()
            read = self._read(path)
            if isinstance(read, ErrorRecord):
                reports[index] = self.error_report(sources.display_path(path), read)
                continue
            works = self._tree(read)
            if len(works) > 1 or works[0].node.expanded:  # a container: scanned now, its members then released
                self._run_detectors(works)
                reports[index] = self._tree_report(works, time.perf_counter() - t0)
            else:
                plain.append((index, works, time.perf_counter() - t0))
        self._run_detectors([w for _, works, _ in plain for w in works])
        reports.update((index, self._tree_report(works, t_read)) for index, works, t_read in plain)
        return [reports[i] for i in range(len(paths))]

    def scan_item(self, item: Item) -> FileReport:
        """The report tree of one item already in memory (bytes given to the API)."""
        t0 = time.perf_counter()
        works = self._tree(item)
        t_open = time.perf_counter() - t0
        self._run_detectors(works)
        return self._tree_report(works, t_open)

    def _tree(self, root: Item) -> list[_Work]:
        """The item and everything it holds, one _Work per node (expansion errors already on the node)."""
        root, named = self._names.guard_root(root)  # a card number as the file's name: found, and masked
        nodes = expand_tree(root, self.expanders, self.settings.limits, self._container_deadline, self._names)
        nodes[0].findings.extend(named)
        works = []
        for node in nodes:
            w = _Work(Subject(node.item, self.settings), node)
            w.subject.errors.extend(node.errors)
            w.findings.extend(node.findings)
            w.handled = node.expanded
            works.append(w)
        return works

    def _read(self, path: str) -> Item | ErrorRecord:
        """The file's bytes, under the per-file time limit (a slow or stuck read gets review)."""
        self._stage(1)
        try:
            with deadline(self.settings.timeout_s):
                return sources.read_item(path, int(self.settings.max_file_mb * 1_000_000))
        except ItemError as exc:
            return ErrorRecord(exc.code, str(exc), "read")

    def _container_deadline(self) -> contextlib.AbstractContextManager[None]:
        """Opening one container is a stage of its own, under the per-item time limit."""
        self._stage(1)
        return deadline(self.settings.timeout_s)

    def _run_detectors(self, works: list[_Work]) -> None:
        expect_pictures(self.detectors, [w.subject for w in works])
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
        self._stage(1)
        t0 = time.perf_counter()
        found = self._guarded(det.id, [w], self.settings.timeout_s, lambda: det.detect(w.subject))
        w.findings.extend(found or [])
        w.timings[det.id] = w.timings.get(det.id, 0.0) + time.perf_counter() - t0

    def _batch(self, det: BatchDetector, todo: list[_Work]) -> None:
        self._stage(len(todo))
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

    def _tree_report(self, works: list[_Work], t_read: float) -> FileReport:
        """Reports from the leaves up: each node's verdict is the strictest of its own and its parts'."""
        reports: list[FileReport | None] = [None] * len(works)
        for index in range(len(works) - 1, -1, -1):  # children always come after their parent
            w = works[index]
            parts = tuple(r for r in (reports[c] for c in w.node.children) if r is not None)
            reports[index] = self._report(w, parts, t_read if index == 0 else None)
        root = reports[0]
        assert root is not None
        return root

    def _report(self, w: _Work, parts: tuple[FileReport, ...], t_read: float | None) -> FileReport:
        item = w.subject.item
        skipped = list(self.skipped) if t_read is not None else []
        if not w.handled:
            idle = self._not_selected(item.kind)
            if idle and t_read is None:  # a part left unread on purpose; the file around it was checked
                skipped += idle
            else:  # a file nothing looked at, or a kind no detector reads: not analysed, fail closed
                chosen = f" (not selected: {', '.join(c.check for c in idle)})" if idle else ""
                w.fail(UnsupportedItem(f"no detector handles {item.kind} files{chosen}"), "pipeline")
        policy = self.settings.policy
        findings = tuple(f for f in (policy.apply(f) for f in w.findings) if f is not None)
        errors = tuple(w.subject.errors)
        timings = {**({"read": t_read} if t_read is not None else {}), **w.timings,
                   **w.subject.facts.timings}
        verdict = policy.combine(policy.decide(findings, errors), ((p.location, p.verdict) for p in parts))
        return FileReport(item.source, item.sha256, item.kind, item.size, verdict, findings, errors, timings,
                          item.location, parts, tuple(skipped))

    def _not_selected(self, kind: str) -> list[SkippedCheck]:
        """Notes for the detectors left out by the `detectors` setting that would have looked at `kind` items
        (a document's text under `--detectors metadata`): a choice, not an error. [] when none would have."""
        return [coverage.not_selected(f.id, self.settings) for f in coverage.handled_by(self._factories, kind)
                if not self.settings.wants(f.id)]

    def error_report(self, path: str, error: ErrorRecord) -> FileReport:
        """`path` (a display path) could not be read: `review`, its path shown with what the rules hit masked."""
        verdict: Verdict = self.settings.policy.decide((), (error,))
        return FileReport(self._names.shown(path), None, None, None, verdict, (), (error,), {})


def expect_pictures(detectors: Sequence[Detector], subjects: Sequence[Subject]) -> None:
    """Tell each Subject the pictures (detector `pictures`) the detectors that accept it will ask for."""
    for det in detectors:
        keys = getattr(det, "pictures", ())
        if keys:
            for subject in subjects:
                if det.accepts(subject):
                    subject.expect(keys)
