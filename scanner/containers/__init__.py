"""Built-in expanders: containers (documents, archives, e-mail) -> child items.

Adding an expander = one module + one line in BUILTIN. Third-party expanders register under the
`leakscan.expanders` entry-point group. Each kind is opened by the first expander that lists it.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol

from .archive import ArchiveExpander
from .base import Expander
from .carried import TextExpander
from .epub import EpubExpander
from .mail import EmailExpander
from .odf import OdfExpander
from .odf_flat import FlatOdfExpander
from .office import OoxmlExpander
from .ole import OleExpander
from .outlook import OutlookExpander
from .pdf import PdfExpander
from .rtf import RtfExpander
from .video import VideoExpander

if TYPE_CHECKING:
    from ..config import Settings


class ExpanderFactory(Protocol):
    """Every expander class is built the same way, once per worker process."""

    id: str
    kinds: frozenset[str]

    def __call__(self, settings: Settings) -> Expander: ...


BUILTIN: tuple[ExpanderFactory, ...] = (PdfExpander, OoxmlExpander, OdfExpander, FlatOdfExpander, EpubExpander,
                                         EmailExpander, OutlookExpander, ArchiveExpander, OleExpander, RtfExpander,
                                         VideoExpander,
                                         TextExpander)


def available() -> tuple[ExpanderFactory, ...]:
    plugins = tuple(ep.load() for ep in entry_points(group="leakscan.expanders"))
    return BUILTIN + plugins


def build(settings: Settings) -> dict[str, Expander]:
    """kind -> the expander that opens it, for this process."""
    by_kind: dict[str, Expander] = {}
    for factory in available():
        expander = factory(settings)
        for kind in factory.kinds:
            by_kind.setdefault(kind, expander)
    return by_kind
