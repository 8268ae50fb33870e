"""C2PA manifests (Content Credentials): the JUMBF manifest stores of a JPEG (APP11), PNG (caBX) or ISOBMFF file
(a C2PA `uuid` box), walked with bounds; each JSON or CBOR assertion's text values, its GPS (XMP notation, as
in `stds.exif`) and any XMP packet. What is damaged is listed as a problem; what was read before it is kept."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import CorruptItem
from . import cbor, isobmff, png, xmp
from .tags import OTHER, XMP_TAGS

MAX_DEPTH = 16  # JUMBF superboxes nested in each other, and levels of one assertion's JSON or CBOR
MAX_BOXES = 10_000  # JUMBF boxes in the manifest stores of one file
MAX_VALUES = 20_000  # text values taken from the assertions of one file
C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")  # ISOBMFF `uuid` box of a C2PA manifest store
_APP11, _JP, _JUMB = 0xEB, b"JP", b"jumb"
_SAFE_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,79}")
# keys (local names) whose value, or whose object's `name`, is a person, and other known keys
_PEOPLE = frozenset({"author", "creator", "contributor", "copyrightHolder", "accountablePerson", "editor",
                     "producer", "publisher", "sdPublisher", "maintainer"})
_TAGS = {**XMP_TAGS, **dict.fromkeys(_PEOPLE, "identity"), "claim_generator": "device", "softwareAgent": "device"}
Coordinate = tuple[str, str, float | None, float | None]  # (where, "photo"/"destination", lat, lon); NaN: unreadable


@dataclass(slots=True)
class Manifests:
    """What the file's manifest stores hold: text fields by assertion, GPS, XMP packets, and what was damaged."""

    fields: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # where -> (category, name, value)
    positions: list[Coordinate] = field(default_factory=list)
    xmp: list[bytes] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    boxes_left: int = MAX_BOXES
    values_left: int = MAX_VALUES
    cut: bool = False  # the store being walked is cut short (said once: the boxes around the cut end there too)


def read(data: bytes, limit: int) -> Manifests:
    """Every manifest store of the file; a store over `limit` bytes is a problem, not read."""
    out = Manifests()
    for carrier, store in _stores(data, out.problems):
        if len(store) > limit:
            out.problems.append(f"{carrier} manifest store of {len(store)} bytes is over the metadata cap")
            continue
        out.cut = False
        for kind, start, stop in _boxes(store, 0, len(store), out):
            if kind == _JUMB:
                _superbox(store, start, stop, (), 0, out)
    return out


# --- where the stores are ----------------------------------------------------------------------------------
def _stores(data: bytes, problems: list[str]) -> list[tuple[str, bytes]]:
    if data.startswith(b"\xff\xd8"):
        return _jpeg_stores(data, problems)
    if data.startswith(png.SIGNATURE):
        return [("PNG caBX", data[start:stop]) for kind, start, stop in png.chunks(data) if kind == b"caBX"]
    if data[4:8] == b"ftyp":
        return _isobmff_stores(data, problems)
    return []


def _jpeg_stores(data: bytes, problems: list[str]) -> list[tuple[str, bytes]]:
    """JUMBF boxes of APP11 segments ('JP', box instance En, packet sequence Z from 1, then the box header, repeated
    in every packet, and the next part of its payload), each box's packets joined in sequence order."""
    from .hidden import jpeg_segments

    packets: dict[bytes, dict[int, bytes]] = {}
    headers: dict[bytes, tuple[bytes, int]] = {}
    for marker, start, end in jpeg_segments(data):
        body = data[start:end]
        if marker != _APP11 or not body.startswith(_JP) or len(body) < 16 or body[12:16] != _JUMB:
            continue
        size, head = int.from_bytes(body[8:12], "big"), 8
        if size == 1 and len(body) >= 24:
            size, head = int.from_bytes(body[16:24], "big"), 16
        instance, seq = body[2:4], int.from_bytes(body[4:8], "big")
        if seq in packets.setdefault(instance, {}):
            problems.append(f"APP11 JUMBF packet {seq} appears twice")
            continue
        packets[instance][seq] = body[8 + head :]
        if seq == 1:
            headers[instance] = (body[8 : 8 + head], size)
    out = []
    for instance, parts in packets.items():
        if instance not in headers:
            problems.append("APP11 JUMBF packets without their first packet")
            continue
        header, size = headers[instance]
        run = 0  # the packets 1, 2, ... up to the first one missing
        while run + 1 in parts:
            run += 1
        if run < max(parts):
            problems.append(f"APP11 JUMBF packet {run + 1} of {max(parts)} is missing")
        store = header + b"".join(parts[n] for n in range(1, run + 1))
        if len(store) != size:
            problems.append(f"APP11 JUMBF box holds {len(store)} of the {size} bytes it declares")
        out.append(("APP11", store[:size]))
    return out


def _isobmff_stores(data: bytes, problems: list[str]) -> list[tuple[str, bytes]]:
    """A top-level `uuid` box with the C2PA UUID: version and flags, a purpose ("manifest"), an 8-byte offset to
    the Merkle data, then the manifest store."""
    out = []
    try:
        for kind, _start, payload, stop in isobmff.boxes(data, cut_ok=True):
            if kind != b"uuid" or data[payload : payload + 16] != C2PA_UUID:
                continue
            purpose, nul, rest = data[payload + 20 : stop].partition(b"\x00")
            if not nul or len(rest) < 8:
                problems.append("ISOBMFF C2PA box is cut short")
            elif purpose == b"manifest":
                out.append(("ISOBMFF uuid", rest[8:]))
    except CorruptItem as exc:
        problems.append(str(exc))
    return out


# --- the JUMBF boxes -------------------------------------------------------------------------------------------
def _name(kind: bytes) -> str:
    return kind.decode("latin-1") if all(0x20 <= b < 0x7F for b in kind) else kind.hex()


def _boxes(buf: bytes, start: int, stop: int, out: Manifests) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, end) of each box between `start` and `stop`; a box cut short is yielded up to
    `stop` and reported, as are bytes that are not a box."""
    pos = start
    while pos + 8 <= stop:
        out.boxes_left -= 1
        if out.boxes_left < 0:
            out.problems.append(f"more than {MAX_BOXES} JUMBF boxes")
            return
        size, kind, payload = int.from_bytes(buf[pos : pos + 4], "big"), buf[pos + 4 : pos + 8], pos + 8
        if size == 1 and pos + 16 <= stop:
            size, payload = int.from_bytes(buf[pos + 8 : pos + 16], "big"), pos + 16
        elif size == 0:
            size = stop - pos
        if size < payload - pos:
            out.problems.append(f"JUMBF box '{_name(kind)}' has an impossible size {size}")
            return
        if pos + size > stop:
            if not out.cut:
                short = pos + size - stop
                out.problems.append(f"JUMBF box '{_name(kind)}' runs {short} bytes past its end (cut short)")
            out.cut = True
            yield kind, payload, stop
            return
        yield kind, payload, pos + size
        pos += size
    if pos != stop:
        out.problems.append(f"{stop - pos} bytes after the last JUMBF box")


def _label(jumd: bytes, out: Manifests) -> str:
    """A description box's label: 16 bytes of type UUID, a toggles byte, then (toggle 2) a NUL-ended UTF-8 label."""
    if len(jumd) < 17:
        out.problems.append("JUMBF description box is cut short")
        return ""
    if not jumd[16] & 0x02:
        return ""
    label, nul, _rest = jumd[17:].partition(b"\x00")
    if not nul:
        out.problems.append("JUMBF label has no end")
    return label.decode("utf-8", "replace")


def _superbox(buf: bytes, start: int, stop: int, labels: tuple[str, ...], depth: int, out: Manifests) -> None:
    if depth > MAX_DEPTH:
        out.problems.append(f"JUMBF boxes nested deeper than {MAX_DEPTH}")
        return
    children = _boxes(buf, start, stop, out)
    first = next(children, None)
    if first is None or first[0] != b"jumd":
        out.problems.append("JUMBF superbox without its description box")
        return
    path = (*labels, _label(buf[first[1] : first[2]], out))
    for kind, payload, end in children:
        if kind == _JUMB:
            _superbox(buf, payload, end, path, depth + 1, out)
        else:
            _content(kind, buf[payload:end], path, out)


def _where(path: tuple[str, ...]) -> str:
    """`C2PA <assertion label>` (a label that is not a plain name is not shown)."""
    label = path[-1] if path else ""
    return f"C2PA {label}" if _SAFE_LABEL.fullmatch(label) else "C2PA manifest"


def _content(kind: bytes, body: bytes, path: tuple[str, ...], out: Manifests) -> None:
    where = _where(path)
    if kind == b"json":
        try:
            value = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            out.problems.append(f"{where} JSON is unreadable")
            return
    elif kind == b"cbor":
        try:
            value = cbor.decode(body, MAX_DEPTH)
        except CorruptItem as exc:
            out.problems.append(f"{where} {exc}")
            return
    else:
        if kind == b"xml ":
            out.xmp.append(body)
        return  # binary data (thumbnails), salts, other content types: no text of their own
    _values(value, where, out)


# --- the values of an assertion --------------------------------------------------------------------------------
def _local(key: object) -> str:
    return str(key).rpartition(":")[2]


def _values(value: Any, where: str, out: Manifests) -> None:
    """Text values as fields (named by their key; an object's `name` by the object's key), GPS keys as positions."""
    stack: list[tuple[Any, str, int]] = [(value if isinstance(value, dict | list) else [value], "", 0)]
    while stack:
        node, key, depth = stack.pop()
        if depth > MAX_DEPTH:
            out.problems.append(f"{where} values nested deeper than {MAX_DEPTH}")
            continue
        items = node.items() if isinstance(node, dict) else ((key, v) for v in node)
        coords: dict[str, list[float | None]] = {}
        for name, item in items:
            local = _local(name)
            if isinstance(node, dict) and local in xmp.GPS_PROPERTIES:
                label, axis = xmp.GPS_PROPERTIES[local]
                coords.setdefault(label, [None, None])[axis] = _coordinate(item)
            elif isinstance(item, dict | list):
                stack.append((item, local, depth + 1))
            elif isinstance(item, str) and item.strip():
                _field(where, key if local == "name" and key else local, item, out)
        out.positions.extend((where, label, lat, lon) for label, (lat, lon) in coords.items())


def _field(where: str, name: str, value: str, out: Manifests) -> None:
    out.values_left -= 1
    if out.values_left == -1:
        out.problems.append(f"more than {MAX_VALUES} text values in the C2PA manifests")
    if out.values_left >= 0:
        out.fields.setdefault(where, []).append((_TAGS.get(name, OTHER), name, value))


def _coordinate(value: object) -> float:
    """A GPS value as XMP writes it ("39,21.102N") or a number; NaN when it is neither (or not finite)."""
    parsed: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        parsed = float(value) if abs(value) < 1e6 else None  # a 5000-digit integer has no float
    elif isinstance(value, str):
        parsed = xmp.parse_coordinate(value)
    return parsed if parsed is not None and math.isfinite(parsed) else math.nan
