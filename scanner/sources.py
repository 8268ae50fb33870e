"""Inputs -> Items: walking paths (recursive, loop-safe), reading with caps, sniffing type by magic bytes."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import ItemTooLarge, Unreadable, UnsupportedItem
from .model import ErrorRecord, Item

_FTYP_BRANDS = {
    b"heic": "image/heic", b"heix": "image/heic", b"hevc": "image/heic", b"heim": "image/heic",
    b"heis": "image/heic", b"mif1": "image/heif", b"msf1": "image/heif", b"avif": "image/avif",
    b"avis": "image/avif",
}


def sniff(head: bytes) -> str:
    """The media type from the first bytes; the file name is never trusted."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        for brand in (head[8:12], *(head[i : i + 4] for i in range(16, min(len(head), 64), 4))):
            if brand in _FTYP_BRANDS:
                return _FTYP_BRANDS[brand]
        return "video/mp4"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/x-ole-storage"
    return "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Entry:
    """A path to scan as the user gave it (or as found under a folder), or why it cannot be."""

    path: str
    problem: ErrorRecord | None = None


def display_path(path: str) -> str:
    """A path as text: undecodable bytes of non-UTF-8 names shown as \\xNN, not lost."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _problem(path: str, exc: OSError, what: str) -> Entry:
    return Entry(path, ErrorRecord("unreadable", f"cannot {what}: {exc.strerror or exc}", "sources"))


def _walk_dir(top: str, seen: set[tuple[int, int]]) -> Iterator[Entry]:
    try:
        with os.scandir(top) as it:
            children = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield _problem(top, exc, "list folder")
        return
    for child in children:
        yield from _walk(child.path, seen)


def _walk(path: str, seen: set[tuple[int, int]]) -> Iterator[Entry]:
    try:
        st = os.stat(path)
    except OSError as exc:
        yield _problem(path, exc, "open")
        return
    if stat.S_ISDIR(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if key in seen:  # a symlink loop, or the same folder reached twice
            return
        seen.add(key)
        yield from _walk_dir(path, seen)
    elif stat.S_ISREG(st.st_mode):
        yield Entry(path)
    else:
        yield Entry(path, ErrorRecord("unsupported", "not a regular file (device, socket or pipe)", "sources"))


def walk(paths: Iterable[str]) -> Iterator[Entry]:
    """Every file under the given paths, once each, in a stable order; problems as entries."""
    seen: set[tuple[int, int]] = set()
    for path in paths:
        yield from _walk(os.fspath(path), seen)


def read_item(path: str, max_bytes: int) -> Item:
    """The file's bytes as an Item; size-capped before reading; sha256 of the content."""
    try:
        with open(path, "rb") as fh:
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
    return Item(source=source, data=data, sha256=hashlib.sha256(data).hexdigest(), kind=sniff(data[:64]),
                location=location)
