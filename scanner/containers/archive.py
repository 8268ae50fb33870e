"""Archives -> their members as child items: ZIP, TAR (also inside gzip/bzip2/xz), single gzip/bzip2/xz streams, 7z.

Everything is read in memory; member names are display text only (`../../etc/passwd`, `/abs/x.jpg`,
`C:\\x.jpg` and control characters never reach the disk). Each member is admitted to the budget
before it is decompressed (declared size and ratio), and every read is capped, so a lying header or
a zip bomb cannot blow memory. Encrypted members, damaged parts and refused members are error
records (the archive gets review); link and special members carry no content and are listed as
`history` fields. A nested archive is yielded as a child: the pipeline opens it in turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Item
from .archive_7z import expand_7z
from .archive_tar import OPENERS, TAR_KIND, expand_stream, expand_tar
from .archive_zip import expand_zip
from .base import Budget, Expansion

if TYPE_CHECKING:
    from ..config import Settings

ZIP_KIND = "application/zip"
SEVEN_ZIP_KIND = "application/x-7z-compressed"


class ArchiveExpander:
    """ZIP, TAR, gzip/bzip2/xz and 7z. Keeps nothing from the settings: all limits come from the budget."""

    id = "archive"
    kinds = frozenset({ZIP_KIND, TAR_KIND, SEVEN_ZIP_KIND, *OPENERS})

    def __init__(self, settings: Settings | None = None) -> None:
        del settings  # stateless: nothing to keep

    def expand(self, item: Item, budget: Budget) -> Expansion:
        if item.kind == ZIP_KIND:
            return expand_zip(item, budget)
        if item.kind == TAR_KIND:
            return expand_tar(item, item.data, budget)
        if item.kind == SEVEN_ZIP_KIND:
            return expand_7z(item, budget)
        if item.kind in OPENERS:
            return expand_stream(item, budget)
        return iter(())
