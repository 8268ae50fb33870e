"""The drop folder on disk: incoming/ -> .processing/ -> approved|review|blocked|failed/, sidecars, the log.

Every step is one atomic rename or an os.replace of a finished temp file, so a watcher killed at any
point leaves each file in exactly one place: incoming/ (not taken yet), .processing/ (taken: the next
start finishes it) or a destination. Nothing is overwritten: a name already used in a destination gets
` (1)`, ` (2)` before its suffix. Only a sidecar left without its file by a crash, written for the same
content, is reused.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .text_safety import printable

INCOMING, PROCESSING, FAILED = "incoming", ".processing", "failed"
DESTINATIONS = {"approve": "approved", "review": "review", "block": "blocked"}
SIDECAR_SUFFIX = ".leakscan.json"
LOG_NAME, LOCK_NAME = "leakscan.log", ".leakscan.lock"
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")
MAX_COLLISIONS = 10_000
NAME_MAX = 255  # bytes in one file name (Linux, macOS)
LOG_NAME_MAX_CHARS, LOG_REASON_MAX_CHARS = 200, 300


class FolderBusy(RuntimeError):
    """Another watcher holds the drop folder's lock."""


def ignored(name: str) -> bool:
    """Dot files, Office lock files (~$x.docx) and files still being written (*.part, *.tmp)."""
    return name.startswith((".", "~$")) or name.lower().endswith(IGNORED_SUFFIXES)


@dataclass(frozen=True, slots=True)
class Seen:
    size: int
    mtime_ns: int


class Stability:
    """A file is stable when its size and mtime are the same at two looks `settle_s` apart."""

    def __init__(self, settle_s: float) -> None:
        self.settle_s = settle_s
        self._seen: dict[str, tuple[Seen, float]] = {}

    def stable(self, entries: dict[str, Seen], now: float) -> list[str]:
        """The names in `entries` unchanged for at least settle_s (forgets names that are gone)."""
        ready, seen = [], {}
        for name, state in entries.items():
            before = self._seen.get(name)
            since = before[1] if before and before[0] == state else now
            seen[name] = (state, since)
            if before and before[0] == state and now - since >= self.settle_s:
                ready.append(name)
        self._seen = seen
        return sorted(ready)


class DropFolder:
    """The folders of one drop folder, created when missing, and locked against a second watcher."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.incoming, self.processing = self.root / INCOMING, self.root / PROCESSING
        for sub in (INCOMING, PROCESSING, FAILED, *DESTINATIONS.values()):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold DIR/.leakscan.lock: two watchers on one folder would take the same files."""
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise FolderBusy("another watcher is running on this folder") from None
            yield
        finally:
            os.close(fd)

    def waiting(self) -> dict[str, Seen]:
        """Regular files in incoming/ that may be taken (not ignored), with their size and mtime."""
        out: dict[str, Seen] = {}
        with os.scandir(self.incoming) as it:
            for entry in it:
                if ignored(entry.name) or not entry.is_file(follow_symlinks=False):
                    continue
                with contextlib.suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    out[entry.name] = Seen(st.st_size, st.st_mtime_ns)
        return out

    def left_over(self) -> list[Path]:
        """Files a stopped or killed watcher had taken but not finished: done first on start."""
        return sorted(p for p in self.processing.iterdir() if p.is_file() and not p.name.startswith("."))

    def claim(self, name: str) -> Path | None:
        """Move incoming/name into .processing/ (atomic); None when it is gone (taken, renamed, deleted)."""
        target = free_name(self.processing, name, sidecar=False)
        try:
            os.rename(self.incoming / name, target)
        except FileNotFoundError:
            return None
        return target

    def private(self, claimed: Path) -> None:
        """Give a claimed file an inode of its own: a hard link left in the dropper's folder, or a writer that still
        holds it open, could otherwise change the file after it was scanned (and after it was approved).

        Raises OSError when the claimed name is not a regular file any more (a symlink swapped in after the look)."""
        fd = os.open(claimed, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "not a regular file")
            tmp = claimed.with_name(f".{clipped(claimed.name)}.{os.getpid()}.private")  # a dot file: not a left-over
            with open(tmp, "wb") as out, os.fdopen(os.dup(fd), "rb") as src:
                shutil.copyfileobj(src, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, claimed)
        finally:
            os.close(fd)

    def place(self, claimed: Path, outcome: str, sidecar: dict[str, Any], name: str | None = None) -> Path:
        """Write the sidecar (temp + os.replace), then move the file next to it (as `name`: default its own)."""
        folder = self.root / DESTINATIONS.get(outcome, FAILED)
        target = free_name(folder, name or claimed.name, sidecar=True, sha256=sidecar.get("sha256"))
        write_json(target.with_name(target.name + SIDECAR_SUFFIX), sidecar)
        os.rename(claimed, target)
        return target

    def log(self, time: str, outcome: str, name: str, reason: str) -> None:
        """One human line in DIR/leakscan.log: time, decision, the name as reports show it (`name`: escaped, what
        the text rules hit masked; scanner.expansion.shown_path), the top (masked) reason."""
        shown = printable(name, LOG_NAME_MAX_CHARS)
        line = f"{time} {outcome.upper():7} {shown}  {printable(reason, LOG_REASON_MAX_CHARS)}\n"
        with open(self.root / LOG_NAME, "a", encoding="utf-8") as fh:
            fh.write(line)


def clipped(name: str, limit: int = 180) -> str:
    """`name` cut to at most `limit` bytes of UTF-8 (whole characters): room left in a 255-byte file name for a
    prefix or suffix this module adds (a temporary file's, a sidecar's, a collision number)."""
    return name.encode()[:limit].decode("utf-8", "ignore")


def free_name(folder: Path, name: str, *, sidecar: bool, sha256: str | None = None) -> Path:
    """folder/name, or `stem (1).suffix`, `stem (2).suffix`, ...: the first not in use.

    With `sidecar`, a name is in use when the file or its sidecar exists, except a sidecar left alone
    by a crash between writing it and moving the file, for the same content (`sha256`): reused.
    """
    path = Path(name)
    stem, suffix = (path.stem, path.suffix) if path.stem else (name, "")
    room = NAME_MAX - len(" (9999)") - (len(SIDECAR_SUFFIX) if sidecar else 0) - len(suffix.encode())
    if len(stem.encode()) > room:  # the sidecar's name must fit too (a 250-byte name stayed in .processing/)
        stem = clipped(stem, max(room - 3, 8)) + "..."
        name = stem + suffix
    for n in range(MAX_COLLISIONS):
        candidate = folder / (name if n == 0 else f"{stem} ({n}){suffix}")
        if os.path.lexists(candidate):
            continue
        card = candidate.with_name(candidate.name + SIDECAR_SUFFIX)
        if not sidecar or not os.path.lexists(card) or _orphan_of(card, sha256):
            return candidate
    raise FileExistsError(f"more than {MAX_COLLISIONS} files named like this")


def _orphan_of(card: Path, sha256: str | None) -> bool:
    if sha256 is None:
        return False
    try:
        return bool(json.loads(card.read_text("utf-8")).get("sha256") == sha256)
    except (OSError, ValueError, AttributeError):
        return False


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write through a dot-named temp file in the same folder, fsync, then os.replace (never half a file)."""
    tmp = path.with_name(f".{clipped(path.name)}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
