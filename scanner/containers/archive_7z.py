"""7z members -> child items, decompressed in memory by py7zr into capped buffers (never onto the disk)."""

from __future__ import annotations

import io
from typing import Any

from ..errors import CorruptItem, ItemTooLarge, UnsupportedItem
from ..model import Item
from .archive_common import FieldList, admit, guarded
from .base import Budget, Expansion, child, error, fields_item, safe_name

ENCRYPTED = "encrypted 7z member: its content cannot be read"


def _sink_classes(cap: int) -> tuple[Any, Any]:
    """py7zr writer classes bound to a per-member cap (py7zr is imported lazily, so these are built here)."""
    from py7zr.io import Py7zIO, WriterFactory

    class Sink(Py7zIO):
        """Keeps at most cap + 1 bytes of one member; the rest is counted, not stored."""

        def __init__(self, name: str) -> None:
            self.name, self.buf, self.seen = name, io.BytesIO(), 0

        def write(self, s: bytes | bytearray) -> int:
            room = cap + 1 - self.buf.tell()
            if room > 0:
                self.buf.write(bytes(s[:room]))
            self.seen += len(s)
            return len(s)

        def read(self, size: int | None = None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return self.buf.tell()

        def flush(self) -> None:
            return None

        def size(self) -> int:
            return self.seen

    class Factory(WriterFactory):
        def __init__(self) -> None:
            self.sinks: list[Sink] = []

        def create(self, filename: str) -> Sink:
            sink = Sink(filename)
            self.sinks.append(sink)
            return sink

    return Sink, Factory


def expand_7z(item: Item, budget: Budget) -> Expansion:
    import py7zr

    archive, exc = guarded(lambda: py7zr.SevenZipFile(io.BytesIO(item.data), mode="r",
                                                      max_extract_size=budget.limits.max_total_bytes))
    if archive is None:
        if isinstance(exc, py7zr.PasswordRequired):
            raise UnsupportedItem("7z archive with encrypted headers: no member can be read")
        raise CorruptItem(f"7z archive unreadable ({type(exc).__name__})")
    with archive:
        yield from _members(archive, item, budget)


def _members(archive: Any, item: Item, budget: Budget) -> Expansion:
    infos, exc = guarded(archive.list)
    if infos is None:
        raise CorruptItem(f"7z member list unreadable ({type(exc).__name__})")
    fields, files = FieldList(), [i for i in infos if not i.is_directory]
    for info in infos:  # neither becomes a child item, so its name is read here (a card number as a folder's name)
        if info.is_directory:
            fields.text("folder name", safe_name(info.filename))
        elif not info.is_symlink and not info.uncompressed:
            fields.text("empty member name", safe_name(info.filename))
    links = {i.filename for i in files if i.is_symlink}
    for name in sorted(links):
        fields.link(safe_name(name))
    files = [i for i in files if not i.is_symlink]
    if archive.needs_password():
        for info in files:
            yield error(UnsupportedItem(ENCRYPTED), "expand", safe_name(info.filename))
        files = []
    declared = sum(i.uncompressed or 0 for i in files)
    if files and declared > budget.limits.max_ratio * max(1, len(item.data)):
        ratio = declared / max(1, len(item.data))
        yield error(ItemTooLarge(f"7z expands {ratio:.0f}x (over {budget.limits.max_ratio:g}x: a bomb?)"), "expand")
        files = []
    if files:
        yield from _extract(archive, item, budget, files, links)
    rows = fields_item(item, "metadata", fields.final())
    if rows is not None:
        yield rows


def _extract(archive: Any, item: Item, budget: Budget, files: list[Any], links: set[str]) -> Expansion:
    refused: set[str] = set()
    for info in files:
        record = admit(budget, info.uncompressed or 0, None, safe_name(info.filename))
        if record is not None:
            refused.add(info.filename)
            yield record
    # py7zr stops (DecompressionBombError) once the members produce more than they declared together
    archive.max_extract_size = min(budget.limits.max_total_bytes, sum(i.uncompressed or 0 for i in files) + 1)
    _, factory_cls = _sink_classes(budget.limits.max_member_bytes)
    factory = factory_cls()
    _, exc = guarded(lambda: archive.extract(factory=factory))
    for sink in factory.sinks:
        if sink.name in refused or sink.name in links:
            continue
        name, data = safe_name(sink.name), sink.buf.getvalue()
        if len(data) > budget.limits.max_member_bytes:
            yield error(ItemTooLarge("7z member larger than its declared size and the member cap"), "expand", name)
        elif data:
            yield child(item, name, data)
    if exc is not None:
        yield error(CorruptItem(f"7z members damaged or refused ({type(exc).__name__})"), "expand")
