"""ZIP members -> child items, in memory; a ZIP without a readable central directory is walked by local headers."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Generator

from ..errors import CorruptItem, UnsupportedItem
from ..model import ErrorRecord, Item
from .archive_common import SPECIAL, FieldList, admit, decode_name, guarded, read_member, stream_cap
from .base import Budget, Expansion, child, error, fields_item, safe_name

ENCRYPTED_FLAG = 0x1
DESCRIPTOR_FLAG = 0x8  # sizes follow the data instead of the header
UTF8_FLAG = 0x800
UNIX_SYSTEM = 3
STORED, DEFLATED = 0, 8
READABLE_METHODS = frozenset({STORED, DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
LOCAL_SIG = b"PK\x03\x04"
LOCAL = struct.Struct("<4sHHHHHIIIHH")  # signature .. name length, extra length (30 bytes)
ZIP64_EXTRA = 0x0001
ZIP64_MARK = 0xFFFFFFFF


def expand_zip(item: Item, budget: Budget) -> Expansion:
    zf, exc = guarded(lambda: zipfile.ZipFile(io.BytesIO(item.data)))
    if zf is None:
        yield from walk_local_headers(item, budget)
        why = type(exc).__name__ if exc else "unknown"
        yield error(CorruptItem(f"zip central directory unreadable ({why}): truncated or damaged"), "expand")
        return
    fields = FieldList()
    with zf:
        for info in zf.infolist():
            yield from _member(zf, info, item, budget, fields)
        fields.text("zip comment", zf.comment.decode("utf-8", "replace"))
        unlisted = yield from walk_local_headers(item, budget, listed_spans(item.data, zf))
    if unlisted:  # readers that stream local headers (jar, some unzippers) show members this listing hides
        yield error(CorruptItem(f"{unlisted} zip member(s) outside the central directory (read by their local "
                                "headers): other tools may show a different content"), "expand")
    rows = fields_item(item, "metadata", fields.final())
    if rows is not None:
        yield rows


def _unix_kind(info: zipfile.ZipInfo) -> str:
    """'link', 'special' or '' (a regular file or one from a system without Unix modes)."""
    if info.create_system != UNIX_SYSTEM:
        return ""
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return "special"
    return ""


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, item: Item, budget: Budget, fields: FieldList) -> Expansion:
    name = safe_name(info.filename)
    if info.is_dir():  # no member carries this name: the text rules read it as a field (a card number as a folder)
        fields.text("folder name", name)
        return
    fields.text(f"comment of {name}", info.comment.decode("utf-8", "replace"))
    kind = _unix_kind(info)
    if kind == "link":
        fields.link(name)
    elif kind == "special":
        fields.add(SPECIAL, name)
    if kind and not info.file_size:
        return  # a link's or device's bytes are read like a file's when there are any: unzip writes them out
    if info.flag_bits & ENCRYPTED_FLAG:
        yield error(UnsupportedItem("encrypted zip member: its content cannot be read"), "expand", name)
        return
    if info.compress_type not in READABLE_METHODS:
        yield error(UnsupportedItem(f"zip compression method {info.compress_type} not supported"), "expand", name)
        return
    refused, data, exc = read_member(budget, info.file_size, info.compress_size, name, lambda: zf.open(info))
    if refused is not None:
        yield refused
        return
    if data:
        yield child(item, name, data)
    elif exc is None:  # an empty member is never a child, so its name is read here
        fields.text("empty member name", name)
    if exc is not None:
        yield error(CorruptItem(f"zip member damaged ({type(exc).__name__})"), "expand", name)


def listed_spans(data: bytes, zf: zipfile.ZipFile) -> list[tuple[int, int]]:
    """The byte ranges the central directory accounts for: each member (local header, data, data descriptor)
    and the directory itself up to the end of its end record."""
    spans = [(info.header_offset, _member_end(data, info)) for info in zf.infolist()]
    start = getattr(zf, "start_dir", len(data))
    end = data.rfind(b"PK\x05\x06")
    if end >= start and end + 22 <= len(data):
        end += 22 + struct.unpack_from("<H", data, end + 20)[0]
    spans.append((start, max(end, start)))
    return sorted(spans)


def _member_end(data: bytes, info: zipfile.ZipInfo) -> int:
    start, name_length, extra_length = info.header_offset, len(info.orig_filename.encode("utf-8")), 0
    if data[start : start + 4] == LOCAL_SIG and start + LOCAL.size <= len(data):
        *_, name_length, extra_length = LOCAL.unpack_from(data, start)
    end = start + LOCAL.size + name_length + extra_length + info.compress_size
    if info.flag_bits & DESCRIPTOR_FLAG:
        signed = 4 if data[end : end + 4] == b"PK\x07\x08" else 0
        wide = max(info.compress_size, info.file_size) >= ZIP64_MARK
        end += signed + 4 + (16 if wide else 8)
    return end


def walk_local_headers(item: Item, budget: Budget,
                       listed: list[tuple[int, int]] | None = None) -> Generator[Item | ErrorRecord, None, int]:
    """Members of a ZIP read header by header: all of them when its central directory is gone (a truncated
    download), else those outside the `listed` ranges (sorted) the directory accounts for; returns how many."""
    data, pos, found = item.data, 0, 0
    while (pos := data.find(LOCAL_SIG, pos)) >= 0 and pos + LOCAL.size <= len(data):
        inside = next((end for start, end in listed or () if start <= pos < end), None)
        if inside is not None:
            pos = max(inside, pos + len(LOCAL_SIG))
            continue
        found += 1
        _, _, flags, method, _, _, _, csize, usize, nlen, xlen = LOCAL.unpack_from(data, pos)
        start = pos + LOCAL.size
        raw_name, extra = data[start : start + nlen], data[start + nlen : start + nlen + xlen]
        name = safe_name(raw_name.decode("utf-8", "replace") if flags & UTF8_FLAG else decode_name(raw_name))
        body = start + nlen + xlen
        csize, usize = _zip64_sizes(extra, csize, usize)
        end = yield from _local_member(item, budget, name, (flags, method, csize, usize), body)
        pos = max(end, pos + len(LOCAL_SIG))
    return found


def _zip64_sizes(extra: bytes, csize: int, usize: int) -> tuple[int, int]:
    if ZIP64_MARK not in (csize, usize):
        return csize, usize
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        if tag == ZIP64_EXTRA and size >= 16:
            usize, csize = struct.unpack_from("<QQ", extra, pos + 4)
            break
        pos += 4 + size
    return csize, usize


def _local_member(item: Item, budget: Budget, name: str, header: tuple[int, int, int, int],
                  body: int) -> Generator[Item | ErrorRecord, None, int]:
    """Yield one member found by its local header; return where the next header may start."""
    flags, method, csize, usize = header
    sized = not flags & DESCRIPTOR_FLAG
    if name.endswith("/") and sized and csize == 0:
        return body
    if flags & ENCRYPTED_FLAG:
        yield error(UnsupportedItem("encrypted zip member: its content cannot be read"), "expand", name)
        return body + csize if sized else body
    if method not in (STORED, DEFLATED) or (method == STORED and not sized):
        yield error(UnsupportedItem(f"zip member (method {method}) unreadable without the directory"), "expand", name)
        return body + csize if sized else body
    if sized:
        refused = admit(budget, usize, csize, name)
        if refused is not None:
            yield refused
            return body + csize
    raw = item.data[body : body + csize] if sized else item.data[body:]
    cap = min(usize, stream_cap(budget, len(raw))) if sized else stream_cap(budget, len(raw))
    out, used, complete = _inflate(raw, cap) if method == DEFLATED else (raw, len(raw), len(raw) == csize)
    if not sized:
        refused = admit(budget, len(out), used, name)
        if refused is not None:
            yield refused
            return body + used
    if out:
        yield child(item, name, out)
    if not complete or (sized and len(out) != usize):
        yield error(CorruptItem("zip member truncated or damaged"), "expand", name)
    return body + used


def _inflate(raw: bytes, cap: int) -> tuple[bytes, int, bool]:
    """Raw deflate with an output cap: (bytes, compressed bytes used, reached the end of the stream)."""
    d = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = d.decompress(raw, cap + 1)
    except zlib.error:
        return b"", len(raw), False
    used = len(raw) - len(d.unused_data) - len(d.unconsumed_tail)
    return out, used, d.eof
