"""Inputs -> Items: walking paths (recursive, loop-safe), reading with caps, sniffing type by magic bytes."""

from __future__ import annotations

import hashlib
import os
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import ItemTooLarge, Unreadable, UnsupportedItem
from .formats import sniff
from .model import ErrorRecord, Item


@dataclass(frozen=True, slots=True)
class Entry:
    """A path to scan as the user gave it (or as found under a folder), or why it cannot be.

    `key` is the file's (st_dev, st_ino) when it is a regular file, so a front end can tell
    whether an output path would overwrite a file being scanned.
    """

    path: str
    problem: ErrorRecord | None = None
    key: tuple[int, int] | None = None


_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if ch == "\\":
        return "\\\\"
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if unicodedata.category(ch) in _ESCAPED_CATEGORIES:  # control, format (bidi), separators
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return ch


def display_path(path: str) -> str:
    """A path as one line of text, bijective: two different names never print the same.

    A backslash is doubled (`\\\\`), an undecodable byte of a non-UTF-8 name is `\\xNN`, and a
    control, format (bidi, zero-width) or line-separator character is `\\uNNNN` (`\\UNNNNNNNN`).
    """
    return "".join(_escape_char(ch) for ch in path)


def _problem(path: str, exc: OSError, what: str) -> Entry:
    why = f"cannot {what}: {exc.strerror or exc}"
    if path.endswith("\r") and isinstance(exc, FileNotFoundError) and os.path.lexists(path[:-1]):
        why += " (the name ends in a carriage return: a list with Windows line endings? convert it to LF)"
    return Entry(path, ErrorRecord("unreadable", why, "sources"))


def _classify(path: str, seen: set[tuple[int, int]]) -> tuple[Entry | None, str | None]:
    """An entry to yield, or a folder to descend into (not yet seen), or neither."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return _problem(path, exc, "open"), None
    except ValueError:  # an embedded NUL byte
        return Entry(path, ErrorRecord("unreadable", "cannot open: invalid path", "sources")), None
    if stat.S_ISDIR(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if key in seen:  # a symlink loop, or the same folder reached twice
            return None, None
        seen.add(key)
        return None, path
    if stat.S_ISREG(st.st_mode):
        return Entry(path, key=(st.st_dev, st.st_ino)), None
    return Entry(path, ErrorRecord("unsupported", "not a regular file (device, socket or pipe)", "sources")), None


def _list_dir(top: str) -> list[str] | Entry:
    try:
        with os.scandir(top) as it:
            return [child.path for child in sorted(it, key=lambda e: e.name)]
    except OSError as exc:
        return _problem(top, exc, "list folder")


def walk(paths: Iterable[str]) -> Iterator[Entry]:
    """Every file under the given paths, once each, in a stable order; problems as entries.

    Depth first in name order, with an explicit stack (no recursion: any depth works); folders
    are recognised by (st_dev, st_ino), so symlink loops and folders reached twice are walked once.
    """
    seen: set[tuple[int, int]] = set()
    stack: list[Iterator[str]] = [iter([os.fspath(p) for p in paths])]
    while stack:
        path = next(stack[-1], None)
        if path is None:
            stack.pop()
            continue
        entry, folder = _classify(path, seen)
        if entry is not None:
            yield entry
        if folder is not None:
            listing = _list_dir(folder)
            if isinstance(listing, Entry):
                yield listing
            else:
                stack.append(iter(listing))


def open_regular(path: str) -> int:
    """A read-only descriptor for `path`, which must be a regular file.

    Opened without blocking (a FIFO or device swapped in after the walk must not hang the scan)
    and the type is checked on the opened descriptor, not on the name.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise Unreadable(f"cannot read file: {exc.strerror or exc}") from None
    except ValueError:  # an embedded NUL byte
        raise Unreadable("cannot read file: invalid path") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsupportedItem("not a regular file (device, socket or pipe)")
    return fd


def read_item(path: str, max_bytes: int) -> Item:
    """The file's bytes as an Item; size-capped before reading; sha256 of the content."""
    fd = open_regular(path)
    try:
        with os.fdopen(fd, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise ItemTooLarge(f"{size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB cap")
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise Unreadable(f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise ItemTooLarge(f"file grew over the {max_bytes / 1e6:.0f} MB cap while reading")
    if not data:
        raise UnsupportedItem("empty file (0 bytes)")
    return item_from_bytes(display_path(path), data)


def item_from_bytes(source: str, data: bytes, location: str = "") -> Item:
    return Item(source=source, data=data, sha256=hashlib.sha256(data).hexdigest(), kind=sniff(data),
                location=location)
