"""The batch result store (`leakscan scan --store`): which files a re-run may skip, and their stored reports.

It is the audit database (scanner.audit, schema version 2): a scanned file's row also holds its size and
(size, mtime_ns, ctime_ns) at scan time. A file is answered from the store, never read, when a fully
analysed row of the same absolute path, stat and policy hash (which includes the scanner version) exists;
else, when a stored file has its size, it is hashed and answered by sha256 (a copy, a moved or touched
file); else it is scanned. Reports with an error (timeout, unreadable, ...) are never reused: a re-run
scans those files again, so a passing failure gets another chance (fail closed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .audit import AuditStore, policy_hash
from .config import Settings
from .errors import ConfigError, ItemError
from .expansion import names_with_key
from .model import Decision, ErrorRecord, FileReport, Finding, Reason, Region, Severity, SkippedCheck, Verdict
from .sources import display_path, open_regular
from .text_safety import printable

HASH_BLOCK = 1 << 20
_FINDING_FIELDS = frozenset(f.name for f in dataclasses.fields(Finding))


@dataclass(frozen=True, slots=True)
class Target:
    """A file to scan or answer: the path as given, its absolute display name (the store key) and its stat."""

    path: str
    name: str
    size: int | None = None
    key: str | None = None

    @property
    def stat(self) -> tuple[int, str] | None:
        return (self.size, self.key) if self.size is not None and self.key is not None else None


def target(path: str) -> Target:
    """Stat `path` now, before it is read: a change after this moment shows at the next run's check."""
    name = display_path(os.path.abspath(path))
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return Target(path, name)
    return Target(path, name, st.st_size, f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}")


def file_sha256(path: str, max_bytes: int) -> str | None:
    """The content hash, streamed; None when the file cannot be read or is over the cap (the scan says why)."""
    digest = hashlib.sha256()
    total = 0
    try:
        with os.fdopen(open_regular(path), "rb") as fh:
            while block := fh.read(HASH_BLOCK):
                total += len(block)
                if total > max_bytes:
                    return None
                digest.update(block)
    except (OSError, ValueError, ItemError):  # unreadable, or no longer a regular file: the scan says why
        return None
    return digest.hexdigest() if total else None


def open_store(path: str | os.PathLike[str]) -> AuditStore:
    """The SQLite file of a result store, or a ConfigError (exit 2) saying why it cannot be one: not a database (a
    photo given by mistake), locked, or not writable."""
    try:
        return AuditStore(path)
    except (OSError, sqlite3.Error) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        shown = printable(display_path(os.fspath(path)), 300)
        raise ConfigError(f"{shown} cannot be used as a result store: {printable(why, 200)}") from None


class ResultStore:
    """The store of one batch scan; answers and records in the calling thread (the CLI's)."""

    def __init__(self, path: str | os.PathLike[str], settings: Settings) -> None:
        self.db = open_store(path)
        # a masked name is stored under a key of this store's own, so the next run finds the file by name and stat
        self.names = names_with_key(settings, self.db.secret("masked names"))
        self.phash = policy_hash(settings)
        self.max_bytes = int(settings.max_file_mb * 1_000_000)
        self.hashed = 0  # files read to be answered by content (stat changed or a new path)

    @property
    def path(self) -> Path:
        return self.db.path

    def answer(self, t: Target, sha: str | None = None) -> tuple[dict[str, Any], bool] | None:
        """(stored report, whether it was found by content) for `t`, or None: it must be scanned. `sha`: its content
        hash, when whoever listed it (a Ray read task) hashed it already."""
        if t.size is None or t.key is None:
            return None
        body = self.db.lookup_stat(self.shown(t), t.key, self.phash)
        if body is not None:
            return body, False
        if sha is None:
            if not self.db.has_size(t.size, self.phash):
                return None
            self.hashed += 1
            sha = file_sha256(t.path, self.max_bytes)
        body = self.db.lookup(sha, self.phash) if sha else None
        return (body, True) if body is not None else None

    def content_keys(self) -> Iterator[tuple[int, str]]:
        """(size, sha256) of every fully analysed file stored under this policy and version, streamed."""
        return self.db.content_keys(self.phash)

    def stat_keys(self) -> Iterator[tuple[str, str]]:
        """(name, stat key) of every fully analysed file stored under this policy and version, streamed."""
        return self.db.stat_keys(self.phash)

    def record(self, body: dict[str, Any], t: Target, *, reused: bool = False) -> None:
        self.db.record(body, "cli", self.phash, name=self.shown(t), reused=reused, stat=t.stat)

    def shown(self, t: Target) -> str:
        """The name `t` is stored under: its display name as reports show it (a card number in it masked)."""
        return self.names.shown(t.name)


def report_from_dict(body: dict[str, Any]) -> FileReport:
    """A FileReport again from its to_dict() (the store keeps the JSON), for the reporters."""
    verdict = Verdict(Decision.parse(body["decision"]), tuple(
        Reason(r["rule_id"], Decision.parse(r["decision"]), r["message"], r.get("location", ""), r.get("fix", ""))
        for r in body.get("reasons", ())))
    return FileReport(
        path=body["path"], sha256=body.get("sha256"), kind=body.get("kind"), size=body.get("size"),
        verdict=verdict, findings=tuple(_finding(f) for f in body.get("findings", ())),
        errors=tuple(ErrorRecord(e["code"], e["message"], e["stage"], e.get("location", ""))
                     for e in body.get("errors", ())),
        timings=dict(body.get("timings", {})), location=body.get("location", ""),
        checks_skipped=tuple(SkippedCheck(c["check"], c["reason"]) for c in body.get("checks_skipped", ())),
        parts=tuple(report_from_dict({"path": body["path"], **p}) for p in body.get("parts", ())))


def _finding(f: dict[str, Any]) -> Finding:
    """Every field Finding has (a field added later, such as a fix hint, comes back when it is a plain value)."""
    values = {k: v for k, v in f.items() if k in _FINDING_FIELDS}
    values["severity"] = Severity.parse(f["severity"])
    region = f.get("region")
    values["region"] = Region(**region) if region else None
    return Finding(**values)
