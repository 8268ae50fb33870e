"""The drop-folder watcher: takes stable files from DIR/incoming/, scans them through a persistent pool,
files each under approved|review|blocked|failed/ with its report, and records every decision.

Wake-ups come from watchdog's inotify observer (any event in incoming/) and, as a safety net and for
network shares (`poll`), a rescan every half interval. A file is taken only when its size and mtime
stayed the same for `interval` seconds. A file whose content was already decided under the same policy
and scanner version is answered from the audit trail without a scan. With `fix`, a file that is not
approved also gets a safe copy (scanner.actions): filed under approved/ as `<stem>.safe.<ext>` when its
own re-scan approves it, dropped otherwise (the original is filed as always). Thin: scans go through
scanner.api with a shared execution.Pool (one for the watcher's life: models load once, a hang is killed
by its watchdog).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import api
from .audit import Recorder, utc_now
from .config import Settings
from .dropfolder import DropFolder, Stability, clipped
from .execution import Pool
from .expansion import answers_under, shown_path
from .model import SCHEMA_VERSION, Decision, FileReport
from .sources import display_path

CLAIMS_PER_WORKER = 4  # files taken per round and worker: a stop leaves few in .processing/
TICKS_PER_INTERVAL = 2  # rescans per interval when no event arrives


class Watcher:
    """One drop folder, one pool, one audit recorder. `run()` until `stop` is set or a signal unwinds it."""

    def __init__(self, root: str | Path, settings: Settings, pool: Pool, recorder: Recorder, *,
                 interval: float = 1.0, poll: bool = False, echo: Callable[[str], None] | None = None,
                 fix: bool = False) -> None:
        self.fixer = SafeCopies(settings, pool) if fix else None  # a bad [fix] table fails here, at start
        self.folder = DropFolder(root)
        self.settings, self.pool, self.recorder = settings, pool, recorder
        self.interval, self.poll = interval, poll
        self.stability = Stability(interval)
        self.wake = threading.Event()
        self.echo = echo or (lambda _line: None)
        self.done = 0

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        with self.folder.locked():
            observer = None if self.poll else self._observe()
            try:
                self.process(self.folder.left_over())  # a stopped or killed watcher's files, first
                while not stop.is_set():
                    self.round()
                    self.wake.wait(self.interval / TICKS_PER_INTERVAL)
                    self.wake.clear()
            finally:
                if observer is not None:
                    observer.stop()
                    observer.join(timeout=self.interval)

    def round(self) -> None:
        """Take the files that are stable now (a bounded number) and process them."""
        ready = self.stability.stable(self.folder.waiting(), time.monotonic())
        batch = ready[: self.pool.size * CLAIMS_PER_WORKER]
        claimed = [p for p in (self.folder.claim(name) for name in batch) if p is not None]
        if claimed:
            self.process(claimed)

    def _observe(self) -> Any:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        wake = self.wake

        class _Wake(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                wake.set()

        observer = Observer()
        observer.daemon = True
        observer.schedule(_Wake(), str(self.folder.incoming), recursive=False)
        observer.start()
        return observer

    # --- one batch ----------------------------------------------------------------------------

    def process(self, claimed: Iterable[Path]) -> None:
        """Answer each claimed file from the trail or scan it; file it under its decision."""
        fresh: dict[str, tuple[Path, str]] = {}
        for path in claimed:
            try:
                self.folder.private(path)  # what is scanned is what is filed: no link or open writer can change it
                sha = _sha256(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                self._failed(path, None, f"cannot read: {exc.strerror or type(exc).__name__}")
                continue
            stored = self.recorder.lookup(sha)
            if stored is not None and not answers_under(self.settings, stored, display_path(path.name)):
                stored = None  # the same bytes under another name, where a name has findings: scanned again
            if stored is not None and (self.fixer is None or stored.get("decision") == "approve"):
                self._finish(path, stored, reused=True)
            else:
                fresh[self._shown(str(path))] = (path, sha)
        if fresh:
            self._scan(fresh)

    def _scan(self, fresh: dict[str, tuple[Path, str]]) -> None:
        try:
            reports = api.scan_iter([str(p) for p, _ in fresh.values()], self.settings, pool=self.pool)
            # with --fix the copies are scanned through the same pool: the batch's own scan must be over first
            for report in list(reports) if self.fixer is not None else reports:
                entry = fresh.pop(report.path, None)
                if entry is not None:
                    self._one(entry, report)
        except Exception as exc:  # the pool failed as a whole: what has no report goes to failed/
            for path, sha in fresh.values():
                self._failed(path, sha, f"not scanned ({type(exc).__name__})")
            return
        for path, sha in fresh.values():
            self._failed(path, sha, "the scanner returned no report for this file")

    def _one(self, entry: tuple[Path, str], report: FileReport) -> None:
        """File one scanned drop (and its safe copy); a file that cannot be filed goes to failed/, alone."""
        path, sha = entry
        try:
            copy = self.fixer.make(path, report) if self.fixer is not None else None
            self._finish(path, report.to_dict(), reused=False)
            if copy is not None:
                self._file_copy(path.name, *copy)
        except OSError as exc:
            if path.exists():
                self._failed(path, sha, f"cannot be filed: {exc.strerror or type(exc).__name__}")

    def _finish(self, path: Path, body: dict[str, Any], *, reused: bool) -> None:
        """Record (the trail first: a crash after it is answered from the trail), then place and log."""
        body = relabel(body, self._shown(path.name))
        self.recorder.record(body, reused=reused)
        self.folder.place(path, body["decision"], body)
        self.folder.log(utc_now(), body["decision"], body["path"], top_reason(body, reused))
        self.done += 1
        self.echo(f"{body['decision']:7} {body['path']}")

    def _file_copy(self, original: str, path: Path, name: str, body: dict[str, Any]) -> None:
        """An approved safe copy goes to approved/ (as `name`, the copy's real name) with its own sidecar; one that
        is not is deleted. The audit trail gets its scan alone: what it was made from stays in the sidecar (the
        trail answers anyone who sends the same bytes)."""
        if body["decision"] != "approve":
            path.unlink(missing_ok=True)
            self.folder.log(utc_now(), "fix", self._shown(original), "the safe copy still needs a human: not filed")
            return
        self.recorder.record({k: v for k, v in body.items() if k not in FIX_ONLY})
        placed = self.folder.place(path, "approve", body, name=name)
        filed = self._shown(placed.name)
        self.folder.log(utc_now(), "fix", self._shown(original), f"safe copy filed as approved/{filed}")
        self.echo(f"fixed   {filed}")

    def _shown(self, name: str) -> str:
        """A dropped file's name as reports, the trail and the log show it (a card number in it masked)."""
        return shown_path(self.settings, display_path(name))

    def _failed(self, path: Path, sha: str | None, why: str) -> None:
        body = {"schema_version": SCHEMA_VERSION, "path": self._shown(path.name), "sha256": sha,
                "decision": "review", "reasons": [{"rule_id": "error.failed", "decision": "review",
                                                   "message": why, "location": ""}],
                "findings": [], "errors": [{"code": "failed", "message": why, "stage": "watch", "location": ""}],
                "parts": []}
        self.recorder.record(body)
        self.folder.place(path, "failed", body)
        self.folder.log(utc_now(), "failed", self._shown(path.name), why)
        self.done += 1


class SafeCopies:
    """`watch --fix`: the safe copy of a file not approved, written as a dot file beside it and re-scanned."""

    def __init__(self, settings: Settings, pool: Pool) -> None:
        from .actions import FixOptions

        self.settings, self.pool = settings, pool
        self.options = FixOptions.parse(settings.sections.get("fix"))

    def make(self, path: Path, report: FileReport) -> tuple[Path, str, dict[str, Any]] | None:
        """(the copy's temporary path, its name, its relabelled report with the changes), or None when none is
        made."""
        from .actions.safecopy import make_copy, target_path
        from .errors import ItemError

        if report.decision == Decision.APPROVE:
            return None
        try:
            fixed = make_copy(str(path), report, self.settings, self.options)
        except (ItemError, OSError):
            return None
        name = Path(target_path(path.name, fixed, None)).name
        tmp = path.with_name(f".fix-{clipped(path.name)}")  # a dot file: never taken as a left-over drop
        try:
            tmp.write_bytes(fixed.data)
        except OSError:
            return None
        after = next(iter(api.scan_iter([str(tmp)], self.settings, pool=self.pool)), None)
        if after is None:
            tmp.unlink(missing_ok=True)
            return None
        body = relabel(after.to_dict(), shown_path(self.settings, display_path(name)))
        body["fixed_from"] = shown_path(self.settings, display_path(path.name))
        body["changes"] = [c.to_dict() for c in fixed.changes]
        return tmp, name, body


FIX_ONLY = ("fixed_from", "changes")  # a safe copy's sidecar fields: not for the shared audit trail


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def relabel(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The report with `path` (of the file and of every part) set to the dropped file's name."""
    parts = [relabel(p, name) for p in body.get("parts", ())]
    return {**body, "path": name, "parts": parts}


def top_reason(body: dict[str, Any], reused: bool) -> str:
    """The first (strictest) reason of the verdict, with where it is: masked text from the report."""
    reasons = body.get("reasons") or []
    text = "no findings"
    if reasons:
        first = reasons[0]
        where = f" in {first['location']}" if first.get("location") else ""
        text = f"{first['rule_id']}: {first['message']}{where}"
    return text + (" (answered from the audit trail)" if reused else "")
