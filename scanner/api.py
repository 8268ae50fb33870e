"""The library entry points every front end calls: scan / scan_iter (paths), Scanner.scan_bytes / scan_bytes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from . import sources
from .config import Settings
from .engines import EngineSet
from .errors import ItemError, ItemTooLarge, UnsupportedItem
from .execution import Engine, run
from .model import ErrorRecord, FileReport, ScanReport
from .pipeline import Pipeline, deadline
from .preflight import check_setup

if TYPE_CHECKING:
    from .faces.check import ConsentReport
    from .visual.check import CheckReport

Inputs = Iterable[str | os.PathLike[str]]


@dataclass(frozen=True, slots=True)
class Plan:
    """The inputs walked: the files to scan, and the paths that cannot be (each gets a review report)."""

    files: tuple[sources.Entry, ...]
    problems: tuple[sources.Entry, ...]

    @property
    def keys(self) -> frozenset[tuple[int, int]]:
        """(st_dev, st_ino) of every file to scan: what an output file must never be."""
        return frozenset(e.key for e in self.files if e.key is not None)


def plan(inputs: Inputs) -> Plan:
    """Walk `inputs` (files and folders, recursively) once, before anything is scanned."""
    files: list[sources.Entry] = []
    problems: list[sources.Entry] = []
    for entry in sources.walk(os.fspath(p) for p in inputs):
        (files if entry.problem is None else problems).append(entry)
    return Plan(tuple(files), tuple(problems))


def scan_iter(inputs: Inputs | Plan, settings: Settings | None = None,
              engines: EngineSet | None = None, on_start: Callable[[int], None] | None = None,
              pool: Engine | None = None) -> Iterator[FileReport]:
    """Reports for every file under `inputs`, streamed as files finish (order not guaranteed with jobs > 1).

    Paths that cannot be read come back as `review` reports with an error entry. `on_start` is
    told how many files will be scanned once the inputs have been walked (for progress bars).
    `inputs` may be a Plan already walked (the CLI walks first to protect its output file).
    A wrong set-up (scanner/preflight.py) raises ConfigError before any file is scanned; whoever starts a
    long-lived `pool` calls `preflight.check_setup` once instead.
    Files are scanned by worker processes under a watchdog (a file past timeout_s gets `review`
    even when it hangs in C code): a pool made for this call, or `pool`, a long-lived one shared
    by threads (a service), or another Engine (the Ray engine). With `engines`, files are scanned in
    the calling thread instead.
    """
    settings = settings or Settings()
    if pool is None:  # a wrong set-up is one ConfigError, not a review per file (a shared pool's owner checked)
        check_setup(settings)
    walked = inputs if isinstance(inputs, Plan) else plan(inputs)
    pipeline = Pipeline(settings, engines) if engines is not None else None
    if walked.problems:
        reporter = pipeline or Pipeline(settings, detectors=())
        for entry in walked.problems:
            assert entry.problem is not None
            yield reporter.error_report(sources.display_path(entry.path), entry.problem)
    if on_start:
        on_start(len(walked.files))
    yield from run([e.path for e in walked.files], settings, pipeline, pool=pool)


class Scanner:
    """Detectors and engines built once, for callers that scan many uploads in one process (a service).

    Not thread-safe: give each thread its own Scanner, or serialise calls. Runs in the calling thread:
    the per-file limit is SIGALRM's (main thread only, and no help against a hang in C code); a
    service should write uploads to files and scan them through a shared execution.Pool.
    """

    def __init__(self, settings: Settings | None = None, engines: EngineSet | None = None) -> None:
        self.settings = settings or Settings()
        check_setup(self.settings)
        self.pipeline = Pipeline(self.settings, engines)

    def scan_bytes(self, data: bytes, name: str = "<bytes>") -> FileReport:
        """The report tree of `data`, shown under `name` (a label only: never opened as a path)."""
        label = sources.display_path(name)
        cap = int(self.settings.max_file_mb * 1_000_000)
        error: ItemError
        if len(data) > cap:
            error = ItemTooLarge(f"{len(data) / 1e6:.1f} MB is over the {cap / 1e6:.0f} MB cap")
        elif not data:
            error = UnsupportedItem("empty file (0 bytes)")
        else:
            with deadline(self.settings.timeout_s):
                return self.pipeline.scan_item(sources.item_from_bytes(label, data))
        return self.pipeline.error_report(label, ErrorRecord(error.code, str(error), "read"))

    def scan_stream(self, stream: BinaryIO, name: str = "<stream>") -> FileReport:
        """Read `stream` up to the file cap (one byte more tells that it is over), then scan_bytes."""
        return self.scan_bytes(stream.read(int(self.settings.max_file_mb * 1_000_000) + 1), name)


def scan_bytes(data: bytes, name: str = "<bytes>", settings: Settings | None = None,
               engines: EngineSet | None = None) -> FileReport:
    """One upload in memory -> its report tree (builds the detectors each call: keep a Scanner for many)."""
    return Scanner(settings, engines).scan_bytes(data, name)


def scan(inputs: Inputs | str | os.PathLike[str], settings: Settings | None = None,
         engines: EngineSet | None = None) -> ScanReport:
    """Scan files and folders; the whole report in memory (use scan_iter for large batches)."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    return ScanReport(tuple(scan_iter(inputs, settings, engines)))


def check_consent(settings: Settings) -> ConsentReport | None:
    """The consent list (`refs/consented/<name>/`): people, photos, photos without exactly one face."""
    from .detectors.faces import FacesDetector
    from .faces.check import check_consent as check

    detector = FacesDetector(settings, EngineSet(settings))
    gallery = detector.consent()
    folder = detector.options.consented
    return check(gallery, folder) if gallery is not None and folder is not None else None


def check_references(settings: Settings) -> CheckReport:
    """Leave-one-out recall and false matches per enrolled label (`leakscan refs check`)."""
    from .detectors.visual import VisualDetector
    from .errors import ConfigError
    from .visual.check import check_gallery

    detector = VisualDetector(settings, EngineSet(settings))
    gallery = detector.gallery()
    if gallery is None:
        raise ConfigError("no reference folder: give --refs DIR or set [visual] refs in the policy")
    return check_gallery(gallery, detector.known())
