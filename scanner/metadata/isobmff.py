"""A bounded ISOBMFF (HEIC/HEIF/AVIF) box walker: every top-level box and every `iloc` extent must lie
inside the file, so a cut file is CorruptItem before libheif paints its missing grid tiles green."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from ..errors import CorruptItem

MAX_BOXES = 10_000  # top-level boxes or iloc items walked before the file is called malformed
_HEADER = 8


def _printable_type(kind: bytes) -> bool:
    """Box types are four letters, digits or spaces ('ftyp', 'mdat', 'hvc1', 'url '), QuickTime's user-data
    types also start with '©' ('©xyz', '©mak')."""
    return len(kind) == 4 and all(chr(b).isalnum() or b in (0x20, 0xA9) for b in kind)


def boxes(data: bytes, start: int = 0, stop: int | None = None,
          cut_ok: bool = False) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) of each box between `start` and `stop`.

    Stops quietly at bytes that are not a box header (trailing data); raises CorruptItem when a box
    claims more bytes than there are (a truncated file), or with `cut_ok` yields that box up to the
    end of the data and stops (metadata read before the damage; the caller has reported the cut).
    """
    stop = len(data) if stop is None else stop
    pos = start
    for _ in range(MAX_BOXES):
        if pos + _HEADER > stop:
            return
        size, kind = struct.unpack(">I4s", data[pos : pos + _HEADER])
        if not _printable_type(kind):
            return
        payload = pos + _HEADER
        if size == 1:
            if pos + 16 > stop:
                raise CorruptItem(f"ISOBMFF box '{kind.decode('latin-1')}' header is truncated")
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            payload = pos + 16
        elif size == 0:
            size = stop - pos
        if size < payload - pos:
            raise CorruptItem(f"ISOBMFF box '{kind.decode('latin-1')}' has an impossible size {size}")
        if pos + size > stop and cut_ok:
            yield kind, pos, payload, stop
            return
        if pos + size > stop:
            raise CorruptItem(f"ISOBMFF box '{kind.decode('latin-1')}' runs {pos + size - stop} bytes past the end "
                              "(truncated file)")
        yield kind, pos, payload, pos + size
        pos += size
    raise CorruptItem(f"more than {MAX_BOXES} ISOBMFF boxes")


def end(data: bytes) -> int | None:
    """Offset just past the last top-level box (the end of the image file)."""
    last = None
    for _kind, _start, _payload, stop in boxes(data):
        last = stop
    return last


def _uint(data: bytes, pos: int, size: int) -> tuple[int, int]:
    if size == 0:
        return 0, pos
    if pos + size > len(data):
        raise CorruptItem("ISOBMFF iloc box is truncated")
    return int.from_bytes(data[pos : pos + size], "big"), pos + size


def iloc_extents(box: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(item id, construction method, offset, length) of every extent of an `iloc` box payload."""
    if len(box) < 8:
        raise CorruptItem("ISOBMFF iloc box is truncated")
    version = box[0]
    offset_size, length_size = box[4] >> 4, box[4] & 0x0F
    base_size, index_size = box[5] >> 4, (box[5] & 0x0F) if version in (1, 2) else 0
    pos = 6
    count, pos = _uint(box, pos, 2 if version < 2 else 4)
    if count > MAX_BOXES:
        raise CorruptItem(f"ISOBMFF iloc lists {count} items")
    for _ in range(count):
        item, pos = _uint(box, pos, 2 if version < 2 else 4)
        method = 0
        if version in (1, 2):
            raw, pos = _uint(box, pos, 2)
            method = raw & 0x0F
        pos += 2  # data reference index
        base, pos = _uint(box, pos, base_size)
        extents, pos = _uint(box, pos, 2)
        for _ in range(extents):
            _index, pos = _uint(box, pos, index_size)
            offset, pos = _uint(box, pos, offset_size)
            length, pos = _uint(box, pos, length_size)
            yield item, method, base + offset, length


def _meta_children(data: bytes, cut_ok: bool = False) -> dict[bytes, tuple[int, int]]:
    for kind, _start, payload, stop in boxes(data, cut_ok=cut_ok):
        if kind == b"meta":  # a full box: 4 bytes of version and flags before its children
            return {k: (p, e) for k, _s, p, e in boxes(data, payload + 4, stop)}
    return {}


def check(data: bytes) -> None:
    """Raise CorruptItem unless every top-level box and every item extent lies inside the file."""
    end(data)
    children = _meta_children(data)
    if b"iloc" not in children:
        return
    start, stop = children[b"iloc"]
    idat = children.get(b"idat")
    for item, method, offset, length in iloc_extents(data[start:stop]):
        if method == 0:
            limit, where = len(data), "file"
        elif method == 1 and idat is not None:
            limit, where = idat[1] - idat[0], "idat box"
        else:
            continue  # item-offset construction: its source item is checked itself
        if offset + length > limit:
            raise CorruptItem(f"item {item} data runs {offset + length - limit} bytes past the end of the "
                              f"{where} (truncated file)")


def _item_types(iinf: bytes) -> Iterator[tuple[int, bytes]]:
    """(item id, item type) of every `infe` (version 2 or 3) in an `iinf` box payload."""
    if len(iinf) < 6:
        return
    pos = 4 + (2 if iinf[0] == 0 else 4)  # version/flags, then the entry count
    for kind, _start, payload, stop in boxes(iinf, pos):
        if kind != b"infe" or stop - payload < 12 or iinf[payload] not in (2, 3):
            continue
        id_size = 2 if iinf[payload] == 2 else 4
        item = int.from_bytes(iinf[payload + 4 : payload + 4 + id_size], "big")
        type_at = payload + 4 + id_size + 2
        yield item, iinf[type_at : type_at + 4]


def exif_items(data: bytes) -> list[tuple[int, int]]:
    """(start, stop) in `data` of the TIFF structure of every `Exif` item, read from iinf + iloc directly
    (libheif drops an Exif item whose references are damaged; ExifTool still reads it). A box cut
    short after the `meta` box (a truncated image or secondary image) does not hide an Exif item stored
    before the cut: check() reports the cut itself."""
    children = _meta_children(data, cut_ok=True)
    if b"iinf" not in children or b"iloc" not in children:
        return []
    exif_ids = {item for item, kind in _item_types(data[slice(*children[b"iinf"])]) if kind == b"Exif"}
    out = []
    for item, method, offset, length in iloc_extents(data[slice(*children[b"iloc"])]):
        if item not in exif_ids or method != 0 or offset + length > len(data) or length < 12:
            continue
        skip = int.from_bytes(data[offset : offset + 4], "big")  # offset of the TIFF header after this field
        start = offset + 4 + skip
        if start + 8 <= offset + length and data[start : start + 4] in (b"II*\x00", b"MM\x00*"):
            out.append((start, offset + length))
    return out
