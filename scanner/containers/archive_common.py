"""Shared by the archive readers: admitting members against the budget, capped reads, link fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from ..errors import ItemTooLarge, ScannerError
from ..model import ErrorRecord
from .base import Budget, error, safe_name

CHUNK = 1 << 20  # bytes per read while decompressing a member
MAX_FIELDS = 1_000  # link/special members listed in one archive's fields; then one "more" line
SYSTEM_ACCOUNTS = frozenset({"root", "wheel", "staff", "users", "nobody", "nogroup", "admin", "daemon", "bin"})
LINK = ("history", "link member")
SPECIAL = ("history", "special member")
Field = tuple[str, str, str]
T = TypeVar("T")


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def _reader(stream: Readable) -> Callable[[int], bytes]:
    """read1 where the stream has it: one underlying read per call, so bytes before a failure are kept."""
    read1 = getattr(stream, "read1", None)
    return read1 if callable(read1) else stream.read


def admit(budget: Budget, size: int, compressed: int | None, name: str) -> ErrorRecord | None:
    """Count a member; a member over its own caps (size, ratio) is an error record, the others go on.

    When the whole file's budget (member count, total bytes) is spent, ItemTooLarge propagates:
    the pipeline records it on the container and nothing further is read.
    """
    try:
        budget.admit(size, compressed, "member")
    except ItemTooLarge as exc:
        lim = budget.limits
        if budget.members > lim.max_members or budget.bytes > lim.max_total_bytes:
            raise
        return error(exc, "expand", name)
    return None


def stream_cap(budget: Budget, compressed: int) -> int:
    """The most a stream of `compressed` bytes may expand to: the member cap, or the ratio cap if lower."""
    lim = budget.limits
    return max(0, min(lim.max_member_bytes, int(lim.max_ratio * compressed)))


def read_capped(stream: Readable, cap: int) -> tuple[bytes, Exception | None]:
    """Read at most `cap` + 1 bytes (one more than allowed tells the caller it was over).

    A parser error part-way keeps what was read before it: (bytes so far, the exception).
    """
    out, read = bytearray(), _reader(stream)
    try:
        while len(out) <= cap:
            chunk = read(min(CHUNK, cap + 1 - len(out)))
            if not chunk:
                break
            out += chunk
    except ScannerError:
        raise
    except Exception as exc:  # any third-party parser failure is a damaged part (type name only)
        return bytes(out), exc
    return bytes(out), None


def guarded(call: Callable[[], T]) -> tuple[T | None, Exception | None]:
    """Run a third-party parser call; its failure comes back as a value (ScannerErrors pass through)."""
    try:
        return call(), None
    except ScannerError:
        raise
    except Exception as exc:  # mapped by the caller to CorruptItem with the type name only
        return None, exc


def read_member(budget: Budget, size: int, compressed: int | None, name: str,
                opener: Callable[[], Readable | None]) -> tuple[ErrorRecord | None, bytes, Exception | None]:
    """(refused, bytes, damage) for one member: admitted against the budget by its declared sizes first,
    then opened and read with the member cap; a parser failure keeps what was read before it."""
    refused = admit(budget, size, compressed, name)
    if refused is not None:
        return refused, b"", None
    stream, exc = guarded(opener)
    if stream is None:
        return None, b"", exc
    try:
        data, exc = read_capped(stream, budget.limits.max_member_bytes)
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            close()
    return None, data, exc


def decode_name(raw: bytes) -> str:
    """A stored name as display text (UTF-8, else Latin-1: every byte is shown, nothing is trusted)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class FieldList:
    """The archive's own fields (links, special members, comments), bounded."""

    def __init__(self) -> None:
        self.rows: list[Field] = []
        self.dropped = 0
        self.owners: set[str] = set()

    def add(self, kind: tuple[str, str], value: str) -> None:
        if len(self.rows) < MAX_FIELDS:
            self.rows.append((kind[0], kind[1], safe_name(value)))
        else:
            self.dropped += 1

    def link(self, name: str, target: str = "") -> None:
        self.add(LINK, f"{name} -> {target}" if target else name)

    def owner(self, label: str, value: str) -> None:
        """A user or group name stored with members (tar uname/gname), once per name; system accounts skipped."""
        if value and value not in SYSTEM_ACCOUNTS and value not in self.owners:
            self.owners.add(value)
            self.add(("identity", label), value)

    def text(self, label: str, value: str) -> None:
        if value.strip() and len(self.rows) < MAX_FIELDS:
            self.rows.append(("text", label, value))

    def final(self) -> list[Field]:
        extra = [("other", "more members", f"{self.dropped} more link/special members")] if self.dropped else []
        return self.rows + extra
