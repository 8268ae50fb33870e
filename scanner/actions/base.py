"""What a fix is made of: its options (the policy's [fix] table), the changes it records, the Fixer protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..config import did_you_mean
from ..errors import ConfigError, ItemError
from ..model import FileReport, Region

if TYPE_CHECKING:
    from ..containers.base import Budget

FACE_STYLES = ("pixelate", "blur")
HEIC_OUTPUTS = ("jpeg", "png")
JPEG_KEEP = "keep"  # re-use the original's quantisation tables and subsampling


class Unfixable(ItemError):
    """No safe copy can be made of this item (undecodable, encrypted member, a format that cannot be rewritten)."""

    code = "unfixable"


@dataclass(frozen=True, slots=True)
class FixOptions:
    """The policy's `[fix]` table, validated: how faces are hidden, what HEIC becomes, JPEG quality."""

    faces: str = FACE_STYLES[0]
    heic: str = HEIC_OUTPUTS[0]
    jpeg_quality: int | str = JPEG_KEEP

    @classmethod
    def parse(cls, table: Mapping[str, Any] | None) -> FixOptions:
        table = dict(table or {})
        known = {"faces", "heic", "jpeg_quality"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"[fix] unknown keys: {', '.join(unknown)}{did_you_mean(unknown[0], known)}")
        faces = _choice(table.get("faces", FACE_STYLES[0]), FACE_STYLES, "faces")
        heic = _choice(table.get("heic", HEIC_OUTPUTS[0]), HEIC_OUTPUTS, "heic")
        quality = table.get("jpeg_quality", JPEG_KEEP)
        if quality != JPEG_KEEP and (isinstance(quality, bool) or not isinstance(quality, int)
                                     or not 1 <= quality <= 100):
            raise ConfigError(f'[fix] jpeg_quality: invalid value {quality!r} (1..100 or "keep")')
        return cls(faces=faces, heic=heic, jpeg_quality=quality)


def _choice(value: Any, options: tuple[str, ...], key: str) -> str:
    if not isinstance(value, str) or value.strip().lower() not in options:
        raise ConfigError(f"[fix] {key}: invalid value {value!r} (one of {', '.join(options)})")
    return value.strip().lower()


@dataclass(frozen=True, slots=True)
class Change:
    """One edit made to the copy: what (action), why (rule_id, may be ""), where (location, region)."""

    action: str
    rule_id: str = ""
    location: str = ""
    region: Region | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "rule_id": self.rule_id, "location": self.location,
                "region": self.region.to_dict() if self.region else None, "detail": self.detail}


@dataclass(slots=True)
class Fixed:
    """A safe copy's bytes, the extension it is written with (no dot), and the changes made."""

    data: bytes
    ext: str
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Context:
    """What every fixer needs for one file: the options, the caps, the original's report tree, the fixers."""

    options: FixOptions
    max_pixels: int
    budget: Budget  # what the file's members may expand into (the scanner's [limits])
    reports: Mapping[str, FileReport]  # location -> report of that part ("" = the file itself)
    fixers: Sequence[Fixer]

    def report(self, location: str) -> FileReport | None:
        return self.reports.get(location)

    def fixer_for(self, kind: str) -> Fixer | None:
        return next((f for f in self.fixers if f.accepts(kind)), None)


class Fixer(Protocol):
    """Makes a safe copy of one family of items (by media type); raises Unfixable when it cannot.

    `keep_format`: the item sits inside a document, whose member name and content type fix its format.
    """

    id: str

    def accepts(self, kind: str) -> bool: ...

    def fix(self, data: bytes, kind: str, location: str, ctx: Context, keep_format: bool) -> Fixed: ...
