"""The expander contract: a container item -> child items (members, pictures, text, metadata fields).

An expander never decides and never writes files. It reads the container's bytes in memory and
yields, in a stable order:
- child `Item`s for what the container holds (pictures, nested documents and archives, any member:
  the pipeline sniffs and routes each one, recursively);
- a `text_item` with the container's own text (document body, slide text, notes, cells, PDF text
  layer, e-mail subject and body), read by the text rules;
- a `fields_item` with its metadata as (category, name, value) fields (author, last modified by,
  company, template path, comments and their authors, tracked changes...), read by the metadata
  detector like EXIF fields;
- an `ErrorRecord` for each part it could not open (encrypted, damaged, over a limit): the
  container's node then gets `review`; the other parts are still yielded.

Limits are enforced through `Budget` (members, bytes, compression ratio); an expander raises
`ItemTooLarge` when a limit is crossed and the pipeline records it on the container.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..errors import ItemError, ItemTooLarge
from ..formats import FIELDS_KIND, TEXT_KIND, decode_fields, encode_fields, sniff
from ..model import ErrorRecord, Item

LOCATION_SEP = "!"  # between nesting levels: deck.pptx!ppt/media/image7.png, mail.eml!attachment[2]:a.zip!b.jpg

__all__ = ["FIELDS_KIND", "LOCATION_SEP", "TEXT_KIND", "Budget", "Expander", "Expansion", "Limits", "child", "error",
           "fields_item", "read_fields", "safe_name", "text_item"]

Expansion = Iterator[Item | ErrorRecord]


@dataclass(frozen=True, slots=True)
class Limits:
    """How far a container may be opened (all from the policy's [limits] table)."""

    max_depth: int = 5  # nesting levels below the file given
    max_members: int = 10_000  # child items of one scanned file, all levels together
    max_member_bytes: int = 200_000_000  # one expanded member
    max_total_bytes: int = 1_000_000_000  # all expanded members of one scanned file
    max_ratio: float = 200.0  # expanded / compressed size of one member (zip bombs)


@runtime_checkable
class Expander(Protocol):
    """Opens one family of containers. `kinds` are the media types it expands (see formats.py). An expander
    that only finds files carried inside an item it does not analyse (text) sets `covers = False`: the item
    still needs a detector of its own, or it is reviewed as not analysed."""

    id: str
    kinds: frozenset[str]

    def expand(self, item: Item, budget: Budget) -> Expansion: ...


class Budget:
    """What one scanned file may still expand into; shared by every level of its tree."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.members = 0
        self.bytes = 0

    def admit(self, size: int, compressed: int | None = None, what: str = "member") -> None:
        """Count one member of `size` bytes (before reading it when the size is declared); raise when over."""
        lim = self.limits
        if size > lim.max_member_bytes:
            raise ItemTooLarge(f"{what} of {size / 1e6:.1f} MB is over the {lim.max_member_bytes / 1e6:.0f} MB cap")
        if compressed is not None and compressed > 0 and size / compressed > lim.max_ratio:
            raise ItemTooLarge(f"{what} expands {size / compressed:.0f}x (over {lim.max_ratio:g}x: a zip bomb?)")
        self.members += 1
        self.bytes += size
        if self.members > lim.max_members:
            raise ItemTooLarge(f"more than {lim.max_members} members in one file")
        if self.bytes > lim.max_total_bytes:
            raise ItemTooLarge(f"members expand past {lim.max_total_bytes / 1e6:.0f} MB in one file")


def child(parent: Item, name: str, data: bytes, kind: str | None = None, *, generated: bool = False) -> Item:
    """A member of `parent` named `name` (a display name built by the expander: never a file-system path);
    its kind sniffed from its bytes unless the expander made it (its text, its fields). `generated`: the
    expander encoded these pixels itself (a frame, a page render), so they carry no metadata worth reading."""
    location = f"{parent.location}{LOCATION_SEP}{name}" if parent.location else name
    return Item(source=parent.source, data=data, sha256=hashlib.sha256(data).hexdigest(),
                kind=kind or sniff(data), location=location, depth=parent.depth + 1, generated=generated)


def text_item(parent: Item, name: str, texts: Iterable[str]) -> Item | None:
    """The container's own text (one string per paragraph, cell, slide...), or None when there is none."""
    body = "\n".join(t for t in texts if t and t.strip())
    if not body:
        return None
    return child(parent, name, body.encode("utf-8", "surrogatepass"), TEXT_KIND)


def fields_item(parent: Item, name: str, fields: Iterable[tuple[str, str, str]]) -> Item | None:
    """Metadata of the container as (category, name, value) fields; categories as in metadata/tags.py."""
    data = encode_fields(fields)
    if not data:
        return None
    return child(parent, name, data, FIELDS_KIND)


def read_fields(item: Item) -> list[tuple[str, str, str]]:
    """The fields a `fields_item` carries."""
    return decode_fields(item.data)


def error(exc: ItemError, stage: str, where: str = "") -> ErrorRecord:
    """A part of the container that could not be opened (the container gets review)."""
    return ErrorRecord(exc.code, str(exc), stage, where)


def safe_name(name: str, limit: int = 200) -> str:
    """A member name fit for a location: no control characters, no `!` (the level separator), bounded."""
    cleaned = "".join(ch if ch.isprintable() and ch != LOCATION_SEP else "?" for ch in name)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
