"""Uploads -> reports through ONE persistent execution.Pool (the watchdog bounds each file), with an answer cache.

Uploads that are not known go through the micro-batcher (batcher.py): those that arrive together are
sent to one worker as one chunk. The pool is warmed at start (warmup.py); `ready` says when.

A report is cached under (sha256 of the bytes, hash of the settings and version) in a small in-memory
LRU, and, when a `store` is given (the audit store: `lookup`/`record`), there too. Only reports
without errors are cached: a timeout or a crash is retried on the next post, never replayed.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

from .. import __version__
from ..audit import Recorder, policy_hash
from ..config import Settings
from ..execution import Pool
from ..expansion import has_name_findings, names_for, shown_path
from ..model import Decision, ErrorRecord, FileReport
from ..sources import display_path
from .batcher import Batcher, BatchOptions
from .uploads import MAX_LABEL_CHARS, Upload
from .warmup import Warmup, warm

CACHE_ENTRIES = 1024
log = logging.getLogger("leakscan.service")


class ReportStore(Protocol):
    """Where answers outlive the process (the SQLite audit store plugs in here)."""

    def lookup(self, sha256: str, policy_hash: str, version: str) -> Mapping[str, Any] | None: ...

    def record(self, sha256: str, policy_hash: str, version: str, report: Mapping[str, Any],
               reused: bool = False) -> None: ...


class AuditReportStore:
    """The SQLite audit trail (scanner/audit.py) as the service's store: every answer is recorded with
    source `serve` (a cached one as reused), and a complete report is found again by content + policy."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def lookup(self, sha256: str, policy_hash: str, version: str) -> Mapping[str, Any] | None:
        return self.recorder.lookup(sha256) if policy_hash == self.recorder.phash and version == __version__ else None

    def record(self, sha256: str, policy_hash: str, version: str, report: Mapping[str, Any],
               reused: bool = False) -> None:
        self.recorder.record(dict(report), reused=reused)


@dataclass(frozen=True, slots=True)
class Answer:
    """A report (the JSON object of one --format jsonl line) and whether it came from the cache."""

    report: dict[str, Any]
    cached: bool

    @property
    def decision(self) -> str:
        return str(self.report["decision"])


def relabel(report: Mapping[str, Any], label: str) -> dict[str, Any]:
    """The report with every node's `path` set to the upload's label (never the temp file's name)."""
    out = dict(report)
    out["path"] = label
    out["parts"] = [relabel(p, label) for p in report.get("parts", [])]
    return out


def _clean(report: Mapping[str, Any]) -> bool:
    return not report.get("errors") and all(_clean(p) for p in report.get("parts", []))


class Scans:
    """The pool, the private upload folder, the LRU, the store and the batcher; `scan` may be awaited from
    many requests. Call `start()` and `await warm_up()` inside the event loop, `await close()` at the end."""

    def __init__(self, settings: Settings, store: ReportStore | None = None, workers: int | None = None,
                 batching: BatchOptions | None = None, on_batch: Callable[[int], None] = lambda _: None) -> None:
        self.settings = settings
        self.store = store
        self.key = policy_hash(settings)  # the audit trail's key: front ends with one policy share answers
        self.folder = tempfile.TemporaryDirectory(prefix="leakscan-serve-")  # mode 0700
        self.pool = Pool(settings, workers)  # detectors built here; workers and their models in warm_up()
        self.batcher = Batcher(self._scan_batch, self._failed, batching or BatchOptions(), self.pool.size, on_batch,
                               shown=lambda path: shown_path(settings, path))
        self._cache: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.in_flight = 0
        # safe copies are made in threads of this process: at most one per worker at a time, so a burst of large
        # /v1/fix calls cannot take every thread the uploads and scans need (anyio's pool holds 40)
        self.fixing = anyio.CapacityLimiter(self.pool.size)
        self.warmup: Warmup | None = None  # set once every worker has scanned the warm-up picture
        self.broken: str | None = None  # why the warm-up could not run (the pool cannot scan)

    @property
    def status(self) -> str:
        """starting (workers loading models), ok, or failed (the warm-up raised: nothing can be scanned)."""
        return "failed" if self.broken else "ok" if self.warmup is not None else "starting"

    def start(self) -> None:
        self.batcher.start()

    async def warm_up(self) -> None:
        """Start every worker and load its models (one warm-up scan each); then the service is ready."""
        try:
            result = await anyio.to_thread.run_sync(warm, self.pool, self.folder.name)
        except Exception as exc:  # the type only: scans would fail the same way, /healthz says so
            self.broken = type(exc).__name__
            log.error("warm-up failed: %s", self.broken)
            return
        log.info("workers ready: %d in %.1f s%s", result.workers, result.seconds,
                 f" (warm-up errors: {', '.join(result.errors)})" if result.errors else "")
        self.warmup = result

    async def close(self) -> None:
        await self.batcher.close()
        self.pool.close()
        self.folder.cleanup()

    def label(self, upload: Upload) -> str:
        """The upload's name as answers, jobs and safe copies show it: masked where the text rules hit it (read over
        the whole name, not the label's cut)."""
        name = upload.name or upload.label
        shown = names_for(self.settings).shown(name)
        return upload.label if shown == name else shown[:MAX_LABEL_CHARS]

    def _named(self, report: Mapping[str, Any], upload: Upload) -> dict[str, Any]:
        """The report shown under the upload's label, whose name gets the text rules as a scanned file's name does
        (a card number in an asset's name is a finding, and is masked in the answer); the bytes' report is shared by
        every upload of them, so the name's findings join it here, not in the cache."""
        names = names_for(self.settings)
        body = relabel(report, self.label(upload))
        policy = self.settings.policy
        named = names.name_findings(upload.name or upload.label)
        if upload.also:  # the other name the client sent (filename= beside filename*=)
            named += [f for f in names.name_findings(upload.also) if f.rule_id not in {n.rule_id for n in named}]
        found = [f for f in (policy.apply(f) for f in named) if f is not None]
        if not found:
            return body
        own = policy.decide(found, ())
        reasons = [*(r.to_dict() for r in own.reasons), *body.get("reasons", [])]
        reasons.sort(key=lambda r: -Decision.parse(r["decision"]))
        decision = max([Decision.parse(body["decision"]), own.decision])
        return {**body, "decision": decision.label, "reasons": reasons,
                "findings": [*body.get("findings", []), *(f.to_dict() for f in found)]}

    async def scan(self, upload: Upload) -> Answer:
        """The upload's report: from the cache or the store when known, else scanned through the batcher."""
        known = await self._known(upload.sha256)
        if known is not None and has_name_findings(known):  # stored with another upload's name in its findings
            known = None
        if known is not None:
            body = self._named(known, upload)
            await self._record(upload.sha256, body, reused=True)
            return Answer(body, cached=True)
        self.in_flight += 1
        try:
            report = await self.batcher.submit(upload.path)
        finally:
            self.in_flight -= 1
        if report.sha256 is not None and report.sha256 != upload.sha256:  # never another upload's answer
            report = self._failed(upload.path, "the report does not match the uploaded bytes")
        scanned = report.to_dict()  # the bytes' report: the upload was scanned under a generated name
        body = self._named(scanned, upload)
        if _clean(scanned):
            self._remember(upload.sha256, scanned)
        await self._record(upload.sha256, body)
        return Answer(body, cached=False)

    def _scan_batch(self, paths: Sequence[str]) -> list[FileReport]:
        """One batch through the shared pool as one chunk: one worker, one model batch."""
        return list(self.pool.scan(paths, chunk=len(paths)))

    def _failed(self, path: str, reason: str) -> FileReport:
        return self.pool.local.error_report(display_path(path), ErrorRecord("internal", reason, "service"))

    async def _known(self, sha256: str) -> Mapping[str, Any] | None:
        with self._lock:
            hit = self._cache.get((sha256, self.key))
            if hit is not None:
                self._cache.move_to_end((sha256, self.key))
                return hit
        if self.store is None:
            return None
        store = self.store
        return await anyio.to_thread.run_sync(store.lookup, sha256, self.key, __version__)

    def _remember(self, sha256: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._cache[(sha256, self.key)] = body
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)

    async def _record(self, sha256: str, body: dict[str, Any], reused: bool = False) -> None:
        """Every answer goes to the store (the audit trail), scanned or served again."""
        if self.store is not None:
            store = self.store
            await anyio.to_thread.run_sync(lambda: store.record(sha256, self.key, __version__, body, reused))
