"""A batch scan that streams and survives: inputs read lazily (folders, a manifest of paths, stdin), files
answered from the result store when unchanged, the rest scanned in slices through one worker pool, each
result stored the moment it arrives (a kill loses at most the files in flight), reports streamed out."""

from __future__ import annotations

import contextlib
import os
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from . import sources
from .config import Settings
from .expansion import answers_under, shown_path
from .model import ErrorRecord, FileReport
from .store import ResultStore, Target, report_from_dict, target

if TYPE_CHECKING:  # the pool and pipeline load the detectors: imported only when a file must be scanned
    from .execution import Pool
    from .execution.ray_manifest import Listed, StoreAnswers
    from .execution.stream import Engine
    from .pipeline import Pipeline

SLICE_PER_WORKER = 64  # files handed to the pool at once, per worker: big enough to keep every worker busy
OUTPUT_IS_INPUT = ErrorRecord("unsupported", "this is the report file being written by this scan; not scanned",
                              "sources")
STORE_IS_INPUT = ErrorRecord("unsupported", "this is the result store this scan writes (or its SQLite journal); not "
                             "scanned: keep --store outside the folders scanned", "sources")
STORE_SIDE_FILES = ("", "-wal", "-shm", "-journal")  # SQLite's files beside the store (WAL mode, rollback journal)


@dataclass(frozen=True, slots=True)
class OwnFiles:
    """The files this scan writes (the report, the result store and its SQLite files): never read as inputs, each
    reported `review` with why. Matched by (st_dev, st_ino) where the file exists, and by the store's name of the
    path (sources.display_path of the absolute path) for those SQLite makes later; sent to the Ray read tasks too."""

    keys: dict[tuple[int, int], ErrorRecord] = field(default_factory=dict)
    names: dict[str, ErrorRecord] = field(default_factory=dict)

    def problem(self, key: tuple[int, int] | None, name: str) -> ErrorRecord | None:
        return (self.keys.get(key) if key is not None else None) or self.names.get(name)

    @classmethod
    def of(cls, report_key: tuple[int, int] | None, report_path: str | None, store_path: str | None) -> OwnFiles:
        own = cls()
        if report_key is not None:
            own.keys[report_key] = OUTPUT_IS_INPUT
        if report_path is not None:
            own.names[sources.display_path(os.path.abspath(report_path))] = OUTPUT_IS_INPUT
        for suffix in STORE_SIDE_FILES if store_path is not None else ():
            path = os.path.abspath(f"{store_path}{suffix}")
            own.names[sources.display_path(path)] = STORE_IS_INPUT
            with contextlib.suppress(OSError):
                st = os.stat(path)
                own.keys[(st.st_dev, st.st_ino)] = STORE_IS_INPUT
        return own


def manifest_lines(stream: BinaryIO) -> Iterator[str]:
    """One path per line (bytes decoded as file names are, so any name round-trips); blank lines skipped."""
    for raw in stream:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if line:
            yield os.fsdecode(line)


def count_manifest(path: str) -> int:
    """Non-blank lines of a manifest file (read once more, in blocks: the total for the ETA)."""
    with open(path, "rb") as fh:
        return sum(1 for raw in fh if raw.strip(b"\n"))


def entries(paths: Iterable[str]) -> Iterator[sources.Entry]:
    """Every file under each path, walked one given path at a time (a manifest is never held whole)."""
    for path in paths:
        yield from sources.walk([path])


@dataclass
class Outcome:
    """One finished file: its report, and whether it came from the store rather than a scan."""

    report: FileReport
    from_store: bool


class BatchScan:
    """The loop of `leakscan scan --store/--files-from`. The pool starts only when a file must be scanned."""

    def __init__(self, settings: Settings, store: ResultStore | None, own: OwnFiles | None = None,
                 engine: Engine | None = None) -> None:
        self.settings = settings
        self.store = store
        self.engine = engine  # given (and closed) by the caller, e.g. a RayEngine
        self.own = own or OwnFiles()  # the report and the store: never read as inputs
        self.slice = max(1, settings.worker_count) * SLICE_PER_WORKER
        self._pool: Pool | None = None
        self._plain: Pipeline | None = None

    def run(self, found: Iterable[sources.Entry]) -> Iterator[Outcome]:
        pending: list[Target] = []
        try:
            for entry in found:
                outcome = self._answer(entry, pending)
                if outcome is not None:
                    yield outcome
                if len(pending) >= self.slice:
                    yield from self._scan(pending)
                    pending = []
            yield from self._scan(pending)
        except BaseException:  # a signal, Ctrl-C, the consumer gone: stop the workers at once
            self._close(kill=True)
            raise
        self._close(kill=False)

    def run_listed(self, listed: Iterable[Listed]) -> Iterator[Outcome]:
        """Outcomes of a manifest listed and scanned on the cluster (RayEngine.scan_manifest): scanned reports
        and problems recorded and emitted; a file the cluster found stored is answered from the store here
        (if its answer is gone since the scan started, it is scanned at the end, through the engine)."""
        pending: list[Target] = []
        for item in listed:
            t = Target(item.path, item.name, item.size, item.key)
            if item.report is not None:
                self._record(item.report.to_dict(), t)
                yield Outcome(item.report, False)
                continue
            found = self.store.answer(t, item.sha) if self.store is not None else None
            if found is None:
                pending.append(t)
                continue
            body, by_content = found
            if by_content and not answers_under(self.settings, body, sources.display_path(item.path)):
                pending.append(t)
                continue
            body = with_path(body, shown_path(self.settings, sources.display_path(item.path)))
            if by_content:  # found by content, not by its stat: a row of its own, as in _answer
                self._record(body, t, reused=True)
            yield Outcome(report_from_dict(body), True)
        yield from self._scan(pending)

    def store_answers(self) -> StoreAnswers:
        """What the store answers for this policy, for the cluster: its stat keys as sorted 64-bit hashes (8 bytes a
        file), and its contents (sizes and 64-bit sha256 prefixes, sorted) to answer copies and moved files where
        they are listed, as `_answer` does here."""
        from .execution.ray_manifest import StoreAnswers, sha_prefix, stat_hash

        if self.store is None:
            return StoreAnswers()
        stats = array("Q", sorted(stat_hash(name, key) for name, key in self.store.stat_keys()))
        sizes: set[int] = set()
        shas: set[int] = set()
        for size, sha in self.store.content_keys():
            sizes.add(int(size))
            shas.add(sha_prefix(sha))
        return StoreAnswers(stats, array("q", sorted(sizes)), array("Q", sorted(shas)), self.store.max_bytes)

    def _close(self, kill: bool) -> None:
        if self._pool is not None:
            self._pool.close(kill=kill)
            self._pool = None

    def _answer(self, entry: sources.Entry, pending: list[Target]) -> Outcome | None:
        """An outcome now (a problem, a stored answer), or None with the file queued to be scanned."""
        t = target(entry.path)
        problem = self.own.problem(entry.key, t.name) or entry.problem
        if problem is not None:
            report = self._plain_pipeline().error_report(sources.display_path(entry.path), problem)
            self._record(report.to_dict(), t)
            return Outcome(report, False)
        found = self.store.answer(t) if self.store is not None else None
        if found is None:
            pending.append(t)
            return None
        body, by_content = found
        if by_content and not answers_under(self.settings, body, sources.display_path(entry.path)):
            pending.append(t)
            return None
        body = with_path(body, shown_path(self.settings, sources.display_path(entry.path)))
        if by_content:  # a new path or stat: a row of its own, so the next run's stat check finds it
            self._record(body, t, reused=True)
        return Outcome(report_from_dict(body), True)

    def _scan(self, pending: list[Target]) -> Iterator[Outcome]:
        if not pending:
            return
        by_path = {shown_path(self.settings, sources.display_path(t.path)): t for t in pending}
        runner: Engine = self.engine if self.engine is not None else self._pool_for()
        for report in runner.scan([t.path for t in pending]):
            self._record(report.to_dict(), by_path.get(report.path) or target(report.path))
            yield Outcome(report, False)

    def _record(self, body: dict[str, Any], t: Target, *, reused: bool = False) -> None:
        if self.store is not None:  # before the report is emitted: what was shown is stored
            self.store.record(body, t, reused=reused)

    def _pool_for(self) -> Pool:
        if self._pool is None:
            from .execution import Pool

            self._pool = Pool(self.settings, self.settings.worker_count)
        return self._pool

    def _plain_pipeline(self) -> Pipeline:
        if self._plain is None:
            from .pipeline import Pipeline

            self._plain = self._pool.local if self._pool is not None else Pipeline(self.settings, detectors=())
        return self._plain


def with_path(body: dict[str, Any], path: str) -> dict[str, Any]:
    """A stored report shown under the path given this time (a copy or a moved file), parts included."""
    return {**body, "path": path, "parts": [with_path(p, path) for p in body.get("parts", ())]}
