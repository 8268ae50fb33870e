"""A small bounded CBOR (RFC 8949) decoder for metadata (C2PA assertions): nesting, item count and lengths are
capped, and malformed input is a CorruptItem, never another exception. Tags are dropped (their content kept)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from ..errors import CorruptItem

MAX_DEPTH = 32  # arrays and maps nested in each other
MAX_ITEMS = 100_000  # data items in one document
_BREAK = 0xFF
_INDEFINITE = 31
_SIMPLE = {20: False, 21: True, 22: None, 23: None}  # false, true, null, undefined
_FLOATS = {25: (">e", 2), 26: (">f", 4), 27: (">d", 8)}


def decode(data: bytes, max_depth: int = MAX_DEPTH, max_items: int = MAX_ITEMS) -> Any:
    """The one data item `data` holds (bytes as bytes, text as str, maps as dicts); CorruptItem when it is
    malformed, cut short, nested deeper than `max_depth`, has more than `max_items` items or bytes after it."""
    reader = _Reader(data, max_depth, max_items)
    value = reader.item(0)
    if reader.pos != len(data):
        raise CorruptItem(f"CBOR data has {len(data) - reader.pos} bytes after its item")
    return value


class _Reader:
    def __init__(self, data: bytes, max_depth: int, max_items: int) -> None:
        self.data, self.pos = data, 0
        self.max_depth, self.items_left = max_depth, max_items

    def _take(self, size: int) -> bytes:
        if size > len(self.data) - self.pos:
            raise CorruptItem(f"CBOR data is cut short (wants {size} bytes, {len(self.data) - self.pos} left)")
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def _head(self) -> tuple[int, int, int]:
        """(major type, additional information, argument); the argument is 0 for an indefinite length."""
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            return major, info, info
        if info in (24, 25, 26, 27):
            return major, info, int.from_bytes(self._take(1 << (info - 24)), "big")
        if info == _INDEFINITE and major in (2, 3, 4, 5, 7):
            return major, info, 0
        raise CorruptItem(f"CBOR item with reserved additional information {info}")

    def _count(self, n: int, each: int) -> int:
        """A declared number of items, each at least `each` bytes: never more than the bytes left can hold."""
        if n * each > len(self.data) - self.pos:
            raise CorruptItem(f"CBOR container declares {n} items, more than its bytes hold")
        return n

    def item(self, depth: int) -> Any:
        if depth > self.max_depth:
            raise CorruptItem(f"CBOR data nested deeper than {self.max_depth}")
        self.items_left -= 1
        if self.items_left < 0:
            raise CorruptItem("CBOR data has too many items")
        major, info, arg = self._head()
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major in (2, 3):
            raw = self._chunks(major) if info == _INDEFINITE else self._take(arg)
            return raw if major == 2 else raw.decode("utf-8", "replace")
        if major == 4:
            if info == _INDEFINITE:
                return list(self._until_break(depth))
            return [self.item(depth + 1) for _ in range(self._count(arg, 1))]
        if major == 5:
            return self._map(depth, None if info == _INDEFINITE else self._count(arg, 2))
        if major == 6:
            return self.item(depth + 1)  # a tag: its content
        return self._simple(info, arg)

    def _simple(self, info: int, arg: int) -> Any:
        if info == _INDEFINITE:
            raise CorruptItem("CBOR break outside an indefinite-length item")
        if info in _FLOATS:
            fmt, size = _FLOATS[info]
            return struct.unpack(fmt, arg.to_bytes(size, "big"))[0]
        return _SIMPLE.get(arg)

    def _until_break(self, depth: int) -> Iterator[Any]:
        while True:
            if self.pos >= len(self.data):
                raise CorruptItem("CBOR indefinite-length item has no break")
            if self.data[self.pos] == _BREAK:
                self.pos += 1
                return
            yield self.item(depth + 1)

    def _chunks(self, major: int) -> bytes:
        """An indefinite-length byte or text string: definite chunks of the same type up to the break."""
        parts: list[bytes] = []
        while True:
            if self.pos >= len(self.data):
                raise CorruptItem("CBOR indefinite-length string has no break")
            if self.data[self.pos] == _BREAK:
                self.pos += 1
                return b"".join(parts)
            chunk_major, info, arg = self._head()
            if chunk_major != major or info == _INDEFINITE:
                raise CorruptItem("CBOR indefinite-length string holds a chunk of another type")
            parts.append(self._take(arg))

    def _map(self, depth: int, pairs: int | None) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        keys = self._until_break(depth) if pairs is None else (self.item(depth + 1) for _ in range(pairs))
        for key in keys:
            value = self.item(depth + 1)
            out[key if isinstance(key, str | int | float | bytes | bool) or key is None else repr(key)] = value
        return out
