"""TAR members and single gzip/bzip2/xz streams -> child items, in memory (a tar inside a stream is opened too)."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
from collections.abc import Callable
from typing import BinaryIO

from ..errors import CorruptItem, ItemTooLarge
from ..formats import sniff
from ..model import Item
from .archive_common import SPECIAL, FieldList, admit, guarded, read_capped, read_member, stream_cap
from .base import Budget, Expansion, child, error, fields_item, safe_name

TAR_KIND = "application/x-tar"
BLOCK = 512
END_MARK = 2 * BLOCK  # two zero blocks close a tar
STREAM_NAME = "decompressed"
GZ_FEXTRA, GZ_FNAME, GZ_FCOMMENT = 0x04, 0x08, 0x10
GZ_HEADER = 10
# in-memory readers; each is closed by `with` in expand_stream
OPENERS: dict[str, Callable[[BinaryIO], io.BufferedIOBase]] = {
    "application/gzip": lambda f: gzip.GzipFile(fileobj=f, mode="rb"),
    "application/x-bzip2": lambda f: bz2.BZ2File(f, mode="rb"),
    "application/x-xz": lambda f: lzma.LZMAFile(f, mode="rb"),  # noqa: SIM115
}


def expand_stream(item: Item, budget: Budget) -> Expansion:
    """One compressed stream: its decompressed bytes as one child (or the members of the tar it holds)."""
    header = gzip_header(item.data) if item.kind == "application/gzip" else {}
    name = safe_name(header.get("name", "")) or STREAM_NAME
    cap = stream_cap(budget, len(item.data))
    stream, exc = guarded(lambda: OPENERS[item.kind](io.BytesIO(item.data)))
    out = b""
    if stream is not None:
        with stream:
            out, exc = read_capped(stream, cap)
    if len(out) > cap:  # over the ratio or member cap: refused, not kept
        why = f"expands past {budget.limits.max_ratio:g}x or the member cap (a bomb?)"
        yield error(ItemTooLarge(f"compressed stream {why}"), "expand", name)
        return
    if sniff(out) == TAR_KIND:
        yield from expand_tar(item, out, budget, complete=exc is None)
    elif out:
        refused = admit(budget, len(out), len(item.data), name)
        yield refused if refused is not None else child(item, name, out)
    if exc is not None:
        yield error(CorruptItem(f"compressed stream truncated or damaged ({type(exc).__name__})"), "expand", name)
    comment = header.get("comment", "")
    rows = fields_item(item, "metadata", [("text", "gzip comment", comment)]) if comment else None
    if rows is not None:
        yield rows


def gzip_header(data: bytes) -> dict[str, str]:
    """FNAME and FCOMMENT from a gzip header (RFC 1952), as Latin-1 display text; {} when absent or cut."""
    if len(data) < GZ_HEADER:
        return {}
    flags, pos = data[3], GZ_HEADER
    out: dict[str, str] = {}
    if flags & GZ_FEXTRA:
        if pos + 2 > len(data):
            return {}
        pos += 2 + struct.unpack_from("<H", data, pos)[0]
    for flag, key in ((GZ_FNAME, "name"), (GZ_FCOMMENT, "comment")):
        if flags & flag:
            end = data.find(b"\x00", pos)
            if end < 0:
                return out
            out[key] = data[pos:end].decode("latin-1")
            pos = end + 1
    return out


def expand_tar(item: Item, data: bytes, budget: Budget, complete: bool = True) -> Expansion:
    """Members of a tar held in `data` (the item's bytes, or a stream's decompressed bytes)."""
    tf, exc = guarded(lambda: tarfile.open(fileobj=io.BytesIO(data), mode="r:"))  # noqa: SIM115 (with below)
    if tf is None:
        yield error(CorruptItem(f"tar unreadable ({type(exc).__name__})"), "expand")
        return
    fields = FieldList()
    with tf:
        while True:
            member, exc = guarded(tf.next)
            if member is None:
                break
            yield from _tar_member(tf, member, item, budget, fields)
        if exc is not None:
            yield error(CorruptItem(f"tar header damaged ({type(exc).__name__})"), "expand")
        elif complete and _unread_rest(data, tf.offset):
            yield error(CorruptItem("tar ends without its end marker or has data after it"), "expand")
    rows = fields_item(item, "metadata", fields.final())
    if rows is not None:
        yield rows


def _unread_rest(data: bytes, offset: int) -> bool:
    """True when the tar stopped early: no end marker, or bytes that are not zero padding after it."""
    rest = data[offset:]
    return len(rest) < END_MARK or bool(rest.strip(b"\x00"))


def _tar_member(tf: tarfile.TarFile, member: tarfile.TarInfo, item: Item, budget: Budget,
                fields: FieldList) -> Expansion:
    name = safe_name(member.name)
    fields.owner("tar owner", member.uname)
    fields.owner("tar group", member.gname)
    if member.isdir():  # no member carries this name: the text rules read it as a field (as in a zip)
        fields.text("folder name", name)
        return
    if member.issym() or member.islnk():
        fields.link(name, safe_name(member.linkname))
        return
    if not member.isreg():
        fields.add(SPECIAL, name)
        if member.type in tarfile.SUPPORTED_TYPES or not member.size:
            return  # a device or a pipe; a type tar does not know is extracted as a file (GNU tar): read it
    refused, data, exc = read_member(budget, member.size, None, name, lambda: tf.extractfile(member))
    if refused is not None:
        yield refused
        return
    if data:
        yield child(item, name, data)
    elif exc is None:  # an empty member is never a child, so its name is read here
        fields.text("empty member name", name)
    if exc is not None or len(data) != member.size:
        why = type(exc).__name__ if exc else "short"
        yield error(CorruptItem(f"tar member truncated or damaged ({why})"), "expand", name)
