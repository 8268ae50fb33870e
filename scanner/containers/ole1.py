"""OLE 1.0 objects (MS-OLEDS 2.2): what an RTF `\\objdata` group holds -> the embedded file's name and bytes.

An embedded object is an ObjectHeader (version, format id, class name, topic and item names) and the native data:
for the `Package` class (a file dropped into a document) an OLE Packager stream with the file's name, its original
path and its bytes; for other classes (Word.Document.8, Excel.Sheet.8, Equation.3...) the native data is the file
itself, most often an OLE compound file. A linked object holds no data, only the path it links to. Anything that
does not parse is a `CorruptItem`: the caller records it (review), never skips it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import CorruptItem

FORMAT_LINKED, FORMAT_EMBEDDED = 1, 2
MAX_STRING = 4096  # a class, topic or file name longer than this is not a name
PACKAGE_CLASS = "Package"
PACKAGE_HEADER = 2  # an OLE Packager stream starts with it
PACKAGE_EMBEDDED, PACKAGE_LINKED = 3, 1  # the packager's type: a file held in the stream, or a link to a path


@dataclass(frozen=True, slots=True)
class Ole1Object:
    class_name: str
    name: str  # the packaged file's name, else the class name
    data: bytes | None  # None: a linked object (its `link` says where the data is)
    link: str = ""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise CorruptItem(f"OLE object cut short in its {what}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u16(self, what: str) -> int:
        return int(struct.unpack("<H", self.take(2, what))[0])

    def u32(self, what: str) -> int:
        return int(struct.unpack("<I", self.take(4, what))[0])

    def prefixed(self, what: str) -> str:
        """A LengthPrefixedAnsiString: its length (with the NUL) then the characters."""
        n = self.u32(what)
        if n > MAX_STRING:
            raise CorruptItem(f"OLE object {what} of {n} bytes: not a name")
        return _ansi(self.take(n, what))

    def zstring(self, what: str) -> str:
        end = self.data.find(b"\x00", self.pos, self.pos + MAX_STRING)
        if end < 0:
            raise CorruptItem(f"OLE package {what} not terminated")
        return _ansi(self.take(end - self.pos + 1, what))


def _ansi(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("cp1252", "replace")


def parse_ole1(data: bytes) -> Ole1Object:
    """The object an `\\objdata` group holds (raises CorruptItem)."""
    r = _Reader(data)
    r.u32("version")
    format_id = r.u32("format id")
    if format_id not in (FORMAT_LINKED, FORMAT_EMBEDDED):
        raise CorruptItem(f"OLE object of unknown format {format_id}: not read")
    class_name = r.prefixed("class name")
    topic = r.prefixed("topic name")
    item = r.prefixed("item name")
    if format_id == FORMAT_LINKED:
        return Ole1Object(class_name, class_name or "linked object", None, topic + (f"!{item}" if item else ""))
    size = r.u32("native data size")
    native = r.take(size, "native data")
    if class_name == PACKAGE_CLASS and native[:2] == PACKAGE_HEADER.to_bytes(2, "little"):
        return _package(native)  # else a file as it is (what some writers put there): the caller sniffs it
    return Ole1Object(class_name, class_name or "object", native)


def _package(native: bytes) -> Ole1Object:
    """The OLE Packager stream: header, label (file name), original path, type, temporary path, size, bytes."""
    r = _Reader(native)
    r.u16("package header")
    label = r.zstring("file name")
    source = r.zstring("source path")
    r.u16("package reserved")
    kind = r.u16("package type")
    if kind == PACKAGE_LINKED:  # a packaged link: a path, no bytes
        return Ole1Object(PACKAGE_CLASS, label or "package", None, source)
    if kind != PACKAGE_EMBEDDED:
        raise CorruptItem(f"OLE package of unknown type {kind}")
    r.take(r.u32("temporary path length"), "temporary path")
    size = r.u32("file size")
    return Ole1Object(PACKAGE_CLASS, label or source.rsplit("\\", 1)[-1] or "package", r.take(size, "file"))
