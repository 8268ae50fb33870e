"""The audit trail: every decision of every front end (cli, watch, serve) in one SQLite file.

A row holds when (UTC), what (sha256 of the file), who asked (source), the decision, the rule ids of the
whole report tree, the policy hash and scanner version it was decided under, the display name and the
report JSON. The report is masked already (evidence is `**** 4242` or a keyed hash), so the store never
holds a secret, the file, or its text. WAL mode, a busy timeout, and one connection per thread and
process, so a watcher, a service and a CLI scan may write at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__
from .config import Settings

SOURCES = ("cli", "watch", "serve", "fix")
BUSY_TIMEOUT_MS = 10_000
HISTORY_LIMIT = 100
# settings that change how fast or where a scan runs, never what it decides
VOLATILE_SETTINGS = frozenset({"jobs", "batch_size", "device", "cache_dir", "policy_path", "policy_origin",
                               "audit_db"})
_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    sha256 TEXT,
    source TEXT NOT NULL,
    decision TEXT NOT NULL,
    rule_ids TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    scanner_version TEXT NOT NULL,
    name TEXT NOT NULL,
    complete INTEGER NOT NULL,
    reused INTEGER NOT NULL DEFAULT 0,
    report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_answer ON decisions (sha256, policy_hash, scanner_version);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions (time);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
"""
# version 2 (batch store, `scan --store`): the file's size and (size, mtime_ns, ctime_ns) when it was scanned, so a
# re-run finds an unchanged file without reading it. Added in place: a version-1 file stays readable.
SCHEMA_VERSION = 2
_MIGRATIONS = (
    "ALTER TABLE decisions ADD COLUMN file_size INTEGER",
    "ALTER TABLE decisions ADD COLUMN file_stat TEXT",
    "CREATE INDEX IF NOT EXISTS decisions_stat ON decisions (name, file_stat)",
    "CREATE INDEX IF NOT EXISTS decisions_size ON decisions (file_size)",
)
_COLUMNS = "id, time, sha256, source, decision, rule_ids, policy_hash, scanner_version, name, reused"


def policy_hash(settings: Settings) -> str:
    """A stable hash of everything in the settings that can change a decision, and the scanner version."""
    used = {k: v for k, v in settings.to_dict().items() if k not in VOLATILE_SETTINGS}
    material = [used, repr(settings.policy), settings.sections, __version__, references_state(settings)]
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


MAX_REFERENCE_FILES = 200_000


def references_state(settings: Settings) -> str:
    """A digest of the reference folders' listings (restricted and allowed places, known images, the consent
    list: name, size, mtime of each file): a photo added to them changes decisions, so answers stored before it
    must not be reused. Only the paths were hashed: a room enrolled as restricted kept its earlier approvals."""
    from .errors import ConfigError
    from .faces.options import parse_options as face_options
    from .visual.options import parse_options as visual_options

    try:
        visual, faces = visual_options(settings), face_options(settings)
    except ConfigError:
        return "unreadable"  # the scan itself stops on it
    folders = sorted({str(p) for p in (visual.refs, visual.known_dir, faces.consented) if p is not None})
    digest = hashlib.sha256()
    count = 0
    for folder in folders:
        for top, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                count += 1
                if count > MAX_REFERENCE_FILES:
                    return "too many"
                with contextlib.suppress(OSError):
                    st = os.stat(os.path.join(top, name))
                    digest.update(f"{os.path.relpath(os.path.join(top, name), folder)}\0{st.st_size}\0"
                                  f"{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def nodes(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A report dict and every part below it, depth first."""
    yield body
    for part in body.get("parts", ()):
        yield from nodes(part)


def rule_ids(body: dict[str, Any]) -> list[str]:
    """Every rule id in the report tree (findings and reasons), sorted and distinct."""
    return sorted({e["rule_id"] for node in nodes(body) for e in (*node.get("findings", ()), *node.get("reasons", ()))})


def complete(body: dict[str, Any]) -> bool:
    """Fully analysed (no error anywhere in the tree): only such answers are reused for a re-drop."""
    return not any(node.get("errors") for node in nodes(body))


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AuditStore:
    """One SQLite audit database; safe to share between threads (each gets its own connection)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connect()  # fail here, at start, when the file cannot be opened

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable across a process crash, not a power cut
        conn.executescript(_SCHEMA)
        _migrate(conn)
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (the others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def record(self, body: dict[str, Any], source: str, phash: str, *, name: str | None = None,
               reused: bool = False, stat: tuple[int, str] | None = None) -> int:
        """Add one decision (`body`: a report's to_dict(), masked); its row id. `name` defaults to its path;
        `stat`: the file's (size, file_stat key) when it was scanned (see scanner.store)."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        size, key = stat if stat is not None else (None, None)
        row = (utc_now(), body.get("sha256"), source, body["decision"], json.dumps(rule_ids(body)), phash,
               __version__, name if name is not None else body.get("path", ""), int(complete(body)), int(reused),
               json.dumps(body, sort_keys=True), size, key)
        cur = self._connect().execute(
            "INSERT INTO decisions (time, sha256, source, decision, rule_ids, policy_hash, scanner_version,"
            " name, complete, reused, report, file_size, file_stat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row)
        return int(cur.lastrowid or 0)

    def secret(self, name: str) -> bytes:
        """A random 32-byte key kept in this database under `name`, made on first use (two processes may race: the
        first one's stays)."""
        conn = self._connect()
        conn.execute("INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)", (name, os.urandom(32)))
        return bytes(conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()[0])

    def lookup_stat(self, name: str, key: str, phash: str, version: str = __version__) -> dict[str, Any] | None:
        """The latest fully analysed report of the file `name` as it was at `key` (size, mtime, ctime), else None."""
        found = self._connect().execute(
            "SELECT report FROM decisions WHERE name = ? AND file_stat = ? AND policy_hash = ?"
            " AND scanner_version = ? AND complete = 1 ORDER BY id DESC LIMIT 1",
            (name, key, phash, version)).fetchone()
        return json.loads(found[0]) if found else None

    def stat_keys(self, phash: str, version: str = __version__) -> Iterator[tuple[str, str]]:
        """(name, stat key) of every fully analysed file stored under this policy and version, streamed."""
        yield from self._connect().execute(
            "SELECT DISTINCT name, file_stat FROM decisions WHERE policy_hash = ? AND scanner_version = ?"
            " AND complete = 1 AND file_stat IS NOT NULL", (phash, version))

    def content_keys(self, phash: str, version: str = __version__) -> Iterator[tuple[int, str]]:
        """(file size, sha256) of every fully analysed file stored under this policy and version, streamed."""
        yield from self._connect().execute(
            "SELECT DISTINCT file_size, sha256 FROM decisions WHERE policy_hash = ? AND scanner_version = ?"
            " AND complete = 1 AND file_size IS NOT NULL AND sha256 IS NOT NULL", (phash, version))

    def has_size(self, size: int, phash: str, version: str = __version__) -> bool:
        """Whether any fully analysed file of this size is stored (else hashing a file to look it up is wasted)."""
        found = self._connect().execute(
            "SELECT 1 FROM decisions WHERE file_size = ? AND policy_hash = ? AND scanner_version = ? AND complete = 1"
            " LIMIT 1", (size, phash, version)).fetchone()
        return found is not None

    def latest(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(name, report) of the latest row of every name, in name order, streamed (for `leakscan report`)."""
        cur = self._connect().execute(
            "SELECT name, report FROM decisions WHERE id IN (SELECT MAX(id) FROM decisions GROUP BY name)"
            " ORDER BY name")
        for name, report in cur:
            yield name, json.loads(report)

    def lookup(self, sha256: str, phash: str, version: str = __version__) -> dict[str, Any] | None:
        """The latest fully analysed report for this content under this policy and version, else None."""
        found = self._connect().execute(
            "SELECT report FROM decisions WHERE sha256 = ? AND policy_hash = ? AND scanner_version = ?"
            " AND complete = 1 ORDER BY id DESC LIMIT 1", (sha256, phash, version)).fetchone()
        return json.loads(found[0]) if found else None

    def history(self, since: str | None = None, decision: str | None = None,
                limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
        """The latest decisions first: rows at or after `since` (an ISO date or time, UTC), of one `decision`."""
        where, args = [], []
        if since:
            where.append("time >= ?")
            args.append(since)
        if decision:
            where.append("decision = ?")
            args.append(decision)
        sql = f"SELECT {_COLUMNS} FROM decisions"  # noqa: S608 - constant columns; values are bound
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._connect().execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        names = _COLUMNS.split(", ")
        out = [dict(zip(names, row, strict=True)) for row in rows]
        for row in out:
            row["rule_ids"] = json.loads(row["rule_ids"])
            row["reused"] = bool(row["reused"])
        return out

    def count(self, sha256: str | None = None) -> int:
        """Rows in the store (for one sha256)."""
        if sha256 is None:
            return int(self._connect().execute("SELECT COUNT(*) FROM decisions").fetchone()[0])
        found = self._connect().execute("SELECT COUNT(*) FROM decisions WHERE sha256 = ?", (sha256,)).fetchone()
        return int(found[0])


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a version-1 file to SCHEMA_VERSION (idempotent; two processes may race: the loser's ALTER fails)."""
    if int(conn.execute("PRAGMA user_version").fetchone()[0]) >= SCHEMA_VERSION:
        return
    have = {row[1] for row in conn.execute("PRAGMA table_info(decisions)")}
    for sql in _MIGRATIONS:
        column = sql.split(" ADD COLUMN ")[1].split()[0] if " ADD COLUMN " in sql else None
        if column is not None and column in have:
            continue
        try:
            conn.execute(sql)
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc):
                raise
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


class Recorder:
    """Records a front end's decisions without ever failing it: a store error is one warning on stderr."""

    def __init__(self, settings: Settings, source: str, warn: Callable[[str], None] | None = None) -> None:
        self.source, self.phash = source, policy_hash(settings)
        self._warn = warn or (lambda line: print(line, file=sys.stderr))
        self.store: AuditStore | None = None
        path = settings.audit_path
        if path is not None:
            try:
                self.store = AuditStore(path)
            except (OSError, sqlite3.Error) as exc:
                self._fail(exc)

    def record(self, body: dict[str, Any], *, name: str | None = None, reused: bool = False) -> None:
        if self.store is None:
            return
        try:
            self.store.record(body, self.source, self.phash, name=name, reused=reused)
        except (OSError, sqlite3.Error) as exc:
            self._fail(exc)

    def lookup(self, sha256: str) -> dict[str, Any] | None:
        if self.store is None:
            return None
        try:
            return self.store.lookup(sha256, self.phash)
        except (OSError, sqlite3.Error) as exc:
            self._fail(exc)
            return None

    def _fail(self, exc: BaseException) -> None:
        self.store = None  # one warning, then the front end goes on without a trail
        self._warn(f"leakscan: warning: audit trail not written ({type(exc).__name__}); the scan goes on")
