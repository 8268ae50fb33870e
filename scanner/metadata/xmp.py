"""XMP packets: find them in any container, parse them safely (defusedxml), flatten properties."""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from ..errors import CorruptItem
from . import png

_PACKET = re.compile(rb"<x:xmpmeta[\s>].*?</x:xmpmeta>", re.DOTALL)
_RDF_LI = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}li"


_STD = b"http://ns.adobe.com/xap/1.0/\x00"
_EXT = b"http://ns.adobe.com/xmp/extension/\x00"


def _jpeg_packets(data: bytes) -> list[bytes]:
    """Standard XMP and reassembled Extended XMP (split over several APP1 segments) of a JPEG."""
    from .hidden import jpeg_segments

    packets: list[bytes] = []
    extended: dict[bytes, dict[int, bytes]] = {}
    for marker, start, end in jpeg_segments(data):
        if marker != 0xE1:
            continue
        body = data[start:end]
        if body.startswith(_STD):
            packets.append(body[len(_STD):])
        elif body.startswith(_EXT) and len(body) >= len(_EXT) + 40:
            head = len(_EXT)
            guid, offset = body[head : head + 32], int.from_bytes(body[head + 36 : head + 40], "big")
            extended.setdefault(guid, {})[offset] = body[head + 40 :]
    for parts in extended.values():
        packets.append(b"".join(parts[k] for k in sorted(parts)))
    return packets


def find_packets(data: bytes, limit: int) -> list[bytes]:
    """Every XMP packet: JPEG APP1 (Extended XMP reassembled); elsewhere any uncompressed
    packet in the bytes (PNG iTXt, WebP, TIFF, HEIC)."""
    if data.startswith(b"\xff\xd8"):
        raw = b"".join(_jpeg_packets(data))
    elif data.startswith(png.SIGNATURE):  # iTXt may be compressed
        raw = "".join(text for key, text in png.text_chunks(data, limit) if key == "XML:com.adobe.xmp").encode()
    else:
        raw = data
    packets = []
    for m in _PACKET.finditer(raw):
        if m.end() - m.start() > limit:
            raise CorruptItem(f"XMP packet of {m.end() - m.start()} bytes is over the metadata cap")
        packets.append(m.group(0))
    return packets


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def properties(packet: bytes) -> Iterator[tuple[str, str, str]]:
    """(namespace, local name, text) for every simple property, attribute or list item."""
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
            if ns != "http://www.w3.org/1999/02/22-rdf-syntax-ns#":
                yield ns, name, value
        text = (el.text or "").strip()
        if text and len(el) == 0:
            ns, name = _local(el.tag)
            if el.tag == _RDF_LI:
                yield from _owner_of(parents, el, text)
            else:
                yield ns, name, text


def _owner_of(
    parents: dict[Element, Element], li: Element, text: str
) -> Iterator[tuple[str, str, str]]:
    """A list item (rdf:Seq/Bag/Alt) is reported under the property that holds the list."""
    node = parents.get(li)
    while node is not None and node.tag.startswith("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"):
        node = parents.get(node)
    if node is not None:
        ns, name = _local(node.tag)
        yield ns, name, text


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
