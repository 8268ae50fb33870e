"""XMP packets: find them in any container, parse them safely (defusedxml), flatten properties."""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from ..errors import CorruptItem
from . import png

# A packet is found by its element, whatever the prefix: x:xmpmeta, x:xapmeta (old Photoshop), or a bare rdf:RDF.
# The outermost one is taken; its end tag is looked for within the metadata cap (no unbounded scan).
_START = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?(xmpmeta|xapmeta|RDF)[\s/>]")
_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDF_LI, _RDF_VALUE, _RDF_RESOURCE = (f"{{{_RDF_NS}}}{name}" for name in ("li", "value", "resource"))


_EXT = b"http://ns.adobe.com/xmp/extension/\x00"
_RAW_PROFILE = "Raw profile type "  # ImageMagick keeps profiles as hex text (xmp, APP1, 8bim: each may hold XMP)


def _jpeg_packets(data: bytes) -> list[bytes]:
    """Each header segment of a JPEG (APP1 XMP whatever its header, other APPn, COM) and reassembled
    Extended XMP (split over several APP1 segments)."""
    from .hidden import jpeg_segments

    bodies: list[bytes] = []
    extended: dict[bytes, dict[int, bytes]] = {}
    for marker, start, end in jpeg_segments(data):
        body = data[start:end]
        if marker == 0xE1 and body.startswith(_EXT) and len(body) >= len(_EXT) + 40:
            head = len(_EXT)
            guid, offset = body[head : head + 32], int.from_bytes(body[head + 36 : head + 40], "big")
            extended.setdefault(guid, {})[offset] = body[head + 40 :]
        elif marker >= 0xE0 or marker == 0xFE:
            bodies.append(body)
    for parts in extended.values():
        bodies.append(b"".join(parts[k] for k in sorted(parts)))
    return bodies


def _scan(raw: bytes, limit: int) -> Iterator[bytes]:
    """The outermost XMP packets in `raw`, located by element (any prefix), each at most `limit` bytes."""
    pos = 0
    while (m := _START.search(raw, pos)) is not None:
        prefix, name = m.group(1), m.group(2)
        end_tag = b"</" + (prefix + b":" if prefix else b"") + name + b">"
        end = raw.find(end_tag, m.start(), m.start() + limit + len(end_tag))
        if end < 0:
            if raw.find(end_tag, m.start()) >= 0:
                raise CorruptItem(f"XMP packet at offset {m.start()} is over the metadata cap")
            if raw[m.start() : raw.find(b">", m.start()) + 1].endswith(b"/>"):
                pos = m.end()  # an empty element holds nothing
                continue
            raise CorruptItem(f"XMP packet at offset {m.start()} has no end")
        yield raw[m.start() : end + len(end_tag)]
        pos = end + len(end_tag)


def find_packets(data: bytes, limit: int) -> list[bytes]:
    """Every XMP packet: in each JPEG header segment (Extended XMP reassembled); in PNG text chunks
    (iTXt may be compressed) and the raw chunks; elsewhere any uncompressed packet in the bytes
    (WebP, TIFF, HEIC). Duplicates are dropped."""
    if data.startswith(b"\xff\xd8"):
        sources = _jpeg_packets(data)
    elif data.startswith(png.SIGNATURE):  # text chunks inflated; any other chunk as it is
        sources = [png.raw_profile(key, text) if key.startswith(_RAW_PROFILE) else text.encode()
                   for key, text in png.text_chunks(data, limit)]
        sources += [data[start:stop] for kind, start, stop in png.chunks(data) if kind not in png.TEXT_CHUNKS]
    else:
        sources = [data]
    packets: dict[bytes, None] = {}
    for raw in sources + [text for source in sources for text in _utf16(source)]:
        packets.update(dict.fromkeys(_scan(raw, limit)))
    return list(packets)


_UTF16_MARKS = tuple((mark.encode(order), order) for order in ("utf-16-le", "utf-16-be")
                     for mark in ("xmpmeta", "xapmeta", "rdf:RDF"))


def _utf16(raw: bytes) -> Iterator[bytes]:
    """A packet written in UTF-16 (the XMP spec allows it; ExifTool reads it), re-encoded as UTF-8 for the scan."""
    for mark, order in _UTF16_MARKS:
        at = raw.find(mark)
        if at >= 0:
            yield raw[at % 2 :].decode(order, "replace").encode("utf-8")
            return


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def properties(packet: bytes) -> Iterator[tuple[str, str, str]]:
    """(namespace, local name, text) for every simple property, attribute or list item; a property written as
    `rdf:resource="..."` or through `rdf:value` (a qualified value) is reported with that value, as ExifTool
    reads it."""
    try:
        root = ElementTree.fromstring(packet)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise CorruptItem(f"XMP packet is not well-formed XML: {exc}") from None
    parents: dict[Element, Element] = {}
    for p in root.iter():
        for c in p:
            parents[c] = p
    for el in root.iter():
        for key, value in el.attrib.items():
            ns, name = _local(key)
            if ns != _RDF_NS:
                yield ns, name, value
            elif key == _RDF_RESOURCE and value.strip():
                yield from _owner_of(parents, el, value.strip(), itself=True)
        text = (el.text or "").strip()
        if text and len(el) == 0:
            ns, name = _local(el.tag)
            if el.tag in (_RDF_LI, _RDF_VALUE):
                yield from _owner_of(parents, el, text)
            else:
                yield ns, name, text


def _owner_of(
    parents: dict[Element, Element], li: Element, text: str, itself: bool = False
) -> Iterator[tuple[str, str, str]]:
    """A list item (rdf:Seq/Bag/Alt) or an rdf:value is reported under the property that holds it (`itself`: the
    element's own property, unless it is an RDF element)."""
    node = li if itself else parents.get(li)
    while node is not None and node.tag.startswith("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"):
        node = parents.get(node)
    if node is not None:
        ns, name = _local(node.tag)
        yield ns, name, text


# GPS properties (local names, any namespace) -> (what the position is, 0: latitude / 1: longitude)
GPS_PROPERTIES = {"GPSLatitude": ("photo", 0), "GPSLongitude": ("photo", 1), "GPSDestLatitude": ("destination", 0),
                  "GPSDestLongitude": ("destination", 1), "GpsLatitude": ("photo", 0), "GpsLongitude": ("photo", 1)}
_SYMBOLS = re.compile("[°º'′\"″]")
_DMS = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)(?:[,\s]+(\d+(?:\.\d+)?))?(?:[,\s]+(\d+(?:\.\d+)?))?\s*([NSEWnsew])?\s*$")


def parse_coordinate(text: str) -> float | None:
    """XMP GPS values: "52,22.386N", "52,22,23.1N", "52.3731" or "-4.89"; None when unparsable."""
    m = _DMS.match(_SYMBOLS.sub(" ", text))
    if not m:
        return None
    deg, minutes, seconds, ref = m.groups()
    value = abs(float(deg)) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
    negative = deg.startswith("-") or (ref or "").upper() in ("S", "W")
    return -value if negative else value
