"""Built-in detectors, in the order they run (later ones may read earlier ones' hints).

Adding a detector = one module + one line here. Third-party detectors register under the
`leakscan.detectors` entry-point group.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from ..config import Settings
from ..engines import EngineSet
from .base import Detector, DetectorFactory
from .metadata import MetadataDetector
from .text import TextDetector
from .visual import VisualDetector

# visual runs before text: its scene cue ("document", "screen", "whiteboard") makes OCR look harder
BUILTIN: tuple[DetectorFactory, ...] = (MetadataDetector, VisualDetector, TextDetector)


def available() -> tuple[DetectorFactory, ...]:
    plugins = tuple(ep.load() for ep in entry_points(group="leakscan.detectors"))
    return BUILTIN + plugins


def build(settings: Settings, engines: EngineSet) -> list[Detector]:
    """One instance of each wanted detector, for this process."""
    return [factory(settings, engines) for factory in available() if settings.wants(factory.id)]
