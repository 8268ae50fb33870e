"""Video metadata (MP4, MOV, 3GP, M4V): GPS and device/owner tags from the `moov` box, read by a bounded,
strict box walker.

Where phones put them: `©xyz` (an ISO 6709 string in `moov/udta`, Android and older iPhones), `loci`
(3GPP location: fixed-point longitude, latitude, altitude), and Apple's QuickTime keys (`moov/meta` with
`keys` + `ilst`: `com.apple.quicktime.location.ISO6709`, `...make`, `...model`, `...software`,
`...creationdate`); `udta/meta/ilst` iTunes-style items too; XMP packets (`udta/XMP_`, a top-level
Adobe `uuid` box) for the XMP reader. A telemetry track (GoPro GPMF `gpmd`, `camm`) is named as not read.
Only `moov`, `trak`, `mdia`, `minf`, `stbl`, `udta`, `meta`, `ilst` are entered, at most MAX_DEPTH deep;
a box that does not fit its parent, an unknown structure inside a metadata box or an unreadable location
string is a problem (the caller makes it an error: review).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import CorruptItem
from .isobmff import MAX_BOXES, boxes

MAX_DEPTH = 6  # moov/trak/udta/meta/ilst/item: deeper than any metadata phones write
MAX_VALUE = 65_536  # one metadata value; longer ones are cut (they are reported, not parsed)
_CONTAINERS = {b"moov", b"trak", b"udta", b"mdia", b"minf", b"stbl"}
_TELEMETRY = {b"gpmd": "GoPro GPMF", b"camm": "camera motion (camm)"}  # GPS tracks in samples: not read here
_TEXT_ATOMS = {  # QuickTime/iTunes user-data atoms -> (name, category)
    b"\xa9mak": ("Make", "device"), b"\xa9mod": ("Model", "device"), b"\xa9swr": ("Software", "device"),
    b"\xa9too": ("Encoder", "device"), b"\xa9day": ("CreationDate", "time"), b"\xa9nam": ("Title", "text"),
    b"\xa9ART": ("Artist", "identity"), b"\xa9aut": ("Author", "identity"), b"\xa9cpy": ("Copyright", "identity"),
    b"\xa9cmt": ("Comment", "text"), b"\xa9des": ("Description", "text"), b"\xa9inf": ("Information", "text"),
    b"auth": ("Author", "identity"), b"perf": ("Performer", "identity"), b"cprt": ("Copyright", "identity"),
    b"titl": ("Title", "text"), b"dscp": ("Description", "text"),
}
_KEYS = {  # Apple QuickTime `mdta` keys -> (name, category)
    "com.apple.quicktime.make": ("Make", "device"), "com.apple.quicktime.model": ("Model", "device"),
    "com.apple.quicktime.software": ("Software", "device"),
    "com.apple.quicktime.creationdate": ("CreationDate", "time"),
    "com.apple.quicktime.author": ("Author", "identity"), "com.apple.quicktime.artist": ("Artist", "identity"),
    "com.apple.quicktime.copyright": ("Copyright", "identity"),
    "com.apple.quicktime.displayname": ("DisplayName", "identity"),
    "com.apple.quicktime.location.name": ("LocationName", "identity"),
    "com.apple.quicktime.description": ("Description", "text"), "com.apple.quicktime.title": ("Title", "text"),
    "com.apple.quicktime.comment": ("Comment", "text"), "com.apple.quicktime.keywords": ("Keywords", "text"),
}
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
_LOCATION_KEYS = {"com.apple.quicktime.location.iso6709", "location", "com.android.location"}
_ISO6709 = re.compile(r"^\s*([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)")


@dataclass(slots=True)
class VideoMeta:
    """What the `moov` box says: positions (where, lat, lon), fields (category, name, value), problems."""

    positions: list[tuple[str, float, float]] = field(default_factory=list)
    fields: list[tuple[str, str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    xmp: list[bytes] = field(default_factory=list)  # XMP packets (`moov/udta/XMP_`, Adobe's top-level `uuid`)


def _angle(text: str, degree_digits: int) -> float:
    """One ISO 6709 component: ±DD[D].d, ±DDMM.m or ±DDMMSS.s (the integer part's length tells which)."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text[1:]
    whole, _, frac = body.partition(".")
    frac_value = float("0." + frac) if frac else 0.0
    if len(whole) <= degree_digits:
        value = float(whole or "0") + frac_value
    elif len(whole) == degree_digits + 2:
        value = int(whole[:degree_digits]) + (int(whole[degree_digits:]) + frac_value) / 60
    elif len(whole) == degree_digits + 4:
        deg, mins, secs = whole[:degree_digits], whole[degree_digits : degree_digits + 2], whole[degree_digits + 2 :]
        value = int(deg) + int(mins) / 60 + (int(secs) + frac_value) / 3600
    else:
        raise ValueError(f"ISO 6709 component {text!r} has an unknown form")
    return sign * value


def parse_iso6709(text: str) -> tuple[float, float] | None:
    """(lat, lon) from "+51.9225+004.4792+010.0/", "+5155.35+00428.75/" ...; None when not ISO 6709."""
    m = _ISO6709.match(text)
    if not m:
        return None
    try:
        return _angle(m.group(1), 2), _angle(m.group(2), 3)
    except ValueError:
        return None


def _children(data: bytes, start: int, stop: int, where: str) -> Iterator[tuple[bytes, int, int, int]]:
    """The boxes filling [start, stop) exactly; anything else (bytes that are not a box, a box past its
    parent's end) is CorruptItem. A 4-byte zero terminator (old QuickTime `udta`) is allowed."""
    end = start
    for kind, box_start, payload, box_end in boxes(data, start, stop):
        end = box_end
        yield kind, box_start, payload, box_end
    rest = data[end:stop]
    if len(rest) > 4 or rest.strip(b"\x00"):
        raise CorruptItem(f"{where}: {len(rest)} bytes that are not a box")


def _text(raw: bytes) -> str:
    if raw.startswith((b"\xfe\xff", b"\xff\xfe")):
        return raw.decode("utf-16", "replace").rstrip("\x00")
    return raw.decode("utf-8", "replace").rstrip("\x00").strip()


def _intl_text(payload: bytes) -> str:
    """A QuickTime international text atom (2-byte length, 2-byte language, text), or iTunes `data` items."""
    if payload[4:8] == b"data" or (len(payload) >= 16 and payload[12:16] == b"data"):
        return "; ".join(_data_values(payload))
    if len(payload) < 4:
        raise CorruptItem("QuickTime text atom is truncated")
    (size,) = struct.unpack(">H", payload[:2])
    return _text(payload[4 : 4 + min(size, MAX_VALUE)])


def _data_values(payload: bytes) -> list[str]:
    """The text of each `data` box in an item (type 1: UTF-8, 2: UTF-16; others are not text)."""
    out = []
    for kind, _s, p, e in _children(payload, 0, len(payload), "ilst item"):
        if kind != b"data" or e - p < 8:
            continue
        type_code = int.from_bytes(payload[p + 1 : p + 4], "big")
        raw = payload[p + 8 : min(e, p + 8 + MAX_VALUE)]
        if type_code == 1:
            out.append(_text(raw))
        elif type_code == 2:
            out.append(raw.decode("utf-16-be", "replace"))
    return out


def _loci(payload: bytes, meta: VideoMeta) -> None:
    """3GPP `loci`: version/flags, language, name (NUL-ended), role, longitude, latitude, altitude (16.16)."""
    name_end = payload.find(b"\x00\x00" if payload[6:8] in (b"\xfe\xff", b"\xff\xfe") else b"\x00", 6)
    if name_end < 0 or name_end + 14 > len(payload):
        raise CorruptItem("3GPP loci box is truncated")
    pos = name_end + (2 if payload[6:8] in (b"\xfe\xff", b"\xff\xfe") else 1) + 1  # the name's end, then role
    lon, lat, _alt = struct.unpack(">iii", payload[pos : pos + 12])
    meta.positions.append(("3GPP loci", lat / 65536, lon / 65536))
    name = _text(payload[6:name_end])
    if name:
        meta.fields.append(("identity", "LocationName", name))


def _location(text: str, where: str, meta: VideoMeta) -> None:
    position = parse_iso6709(text)
    if position is None:
        meta.problems.append(f"{where} location value is not readable")
    else:
        meta.positions.append((where, *position))


def _keys(data: bytes, payload: int, stop: int) -> list[str]:
    """Names of an Apple `keys` box (full box: version/flags, count, then size + namespace + name)."""
    (count,) = struct.unpack(">I", data[payload + 4 : payload + 8])
    if count > MAX_BOXES:
        raise CorruptItem(f"QuickTime keys box lists {count} keys")
    names, pos = [], payload + 8
    for _ in range(count):
        if pos + 8 > stop:
            raise CorruptItem("QuickTime keys box is truncated")
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        if size < 8 or pos + size > stop:
            raise CorruptItem("QuickTime key entry does not fit its box")
        names.append(data[pos + 8 : pos + size].decode("utf-8", "replace"))
        pos += size
    return names


def _ilst(data: bytes, start: int, stop: int, keys: list[str], meta: VideoMeta) -> None:
    """Items of an `ilst`: their types are 1-based indexes into `keys` (Apple) or atom names (iTunes)."""
    pos = start
    for _ in range(MAX_BOXES):
        if pos + 8 > stop:
            break
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size < 8 or pos + size > stop:
            raise CorruptItem("QuickTime ilst item does not fit its box")
        values = _data_values(data[pos + 8 : pos + size])
        index = int.from_bytes(kind, "big")
        name = keys[index - 1].lower() if keys and 1 <= index <= len(keys) else None
        for value in values:
            if name in _LOCATION_KEYS or kind == b"\xa9xyz":
                _location(value, "QuickTime keys" if name else "iTunes ilst", meta)
            elif name is not None:
                label, category = _KEYS.get(name, (keys[index - 1], "other"))
                meta.fields.append((category, label, value))
            elif kind in _TEXT_ATOMS:
                label, category = _TEXT_ATOMS[kind]
                meta.fields.append((category, label, value))
        pos += size
    if pos != stop:
        raise CorruptItem("QuickTime ilst ends inside an item")


def _meta(data: bytes, payload: int, stop: int, meta: VideoMeta) -> None:
    """A `meta` box: ISO (full box) or QuickTime (no version/flags); its `keys` and `ilst`."""
    if data[payload + 4 : payload + 8] not in (b"hdlr", b"keys", b"ilst"):
        payload += 4  # ISO full box: version and flags first
    found = {kind: (p, e) for kind, _s, p, e in _children(data, payload, stop, "meta box")}
    keys = _keys(data, *found[b"keys"]) if b"keys" in found else []
    if b"ilst" in found:
        _ilst(data, *found[b"ilst"], keys, meta)


def _sample_entries(data: bytes, payload: int, stop: int, meta: VideoMeta) -> None:
    """A track's sample descriptions (full box, entry count, then one box per format): a telemetry track
    (GoPro GPMF, camm) may hold a GPS track in its samples, which this reader does not decode."""
    for kind, _s, _p, _e in _children(data, payload + 8, stop, "stsd box"):
        if kind in _TELEMETRY:
            meta.problems.append(f"{_TELEMETRY[kind]} telemetry track (may hold a GPS track) not read")


def _walk(data: bytes, start: int, stop: int, depth: int, meta: VideoMeta) -> None:
    if depth > MAX_DEPTH:
        raise CorruptItem(f"video metadata boxes nested deeper than {MAX_DEPTH}")
    for kind, _s, payload, end in _children(data, start, stop, "moov box"):
        if kind in _CONTAINERS:
            _walk(data, payload, end, depth + 1, meta)
        elif kind == b"meta":
            _meta(data, payload, end, meta)
        elif kind == b"\xa9xyz":
            _location(_intl_text(data[payload:end]), "QuickTime ©xyz", meta)
        elif kind == b"loci":
            _loci(data[payload:end], meta)
        elif kind == b"XMP_":
            meta.xmp.append(data[payload:end])
        elif kind == b"stsd":
            _sample_entries(data, payload, end, meta)
        elif kind in _TEXT_ATOMS and depth > 0:
            label, category = _TEXT_ATOMS[kind]
            value = _intl_text(data[payload:end]) if kind.startswith(b"\xa9") else _text(data[payload + 6 : end])
            if value:
                meta.fields.append((category, label, value))


def read(data: bytes) -> VideoMeta:
    """Everything the `moov` box says about place, device and owner. Raises CorruptItem when the box
    structure is malformed; a file cut after `moov` (a cut `mdat`) is a problem, its metadata still read."""
    meta = VideoMeta()
    moov = False
    for kind, _s, payload, end in boxes(data, cut_ok=True):
        if end == len(data) and _s + _declared(data, _s) > len(data):
            meta.problems.append(f"box '{kind.decode('latin-1')}' is cut short (truncated file)")
            if kind == b"moov":
                raise CorruptItem("video moov box is cut short (truncated file): its metadata is unreadable")
        if kind == b"moov":
            moov = True
            _walk(data, payload, end, 0, meta)
        elif kind == b"uuid" and data[payload : payload + 16] == XMP_UUID:
            meta.xmp.append(data[payload + 16 : end])
    if not moov:
        meta.problems.append("no moov box: the video's metadata and index are missing")
    return meta


def _declared(data: bytes, pos: int) -> int:
    (size,) = struct.unpack(">I", data[pos : pos + 4])
    if size == 1:
        (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
    return size or len(data) - pos
