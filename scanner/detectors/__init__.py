"""Built-in detectors, in the order they run (later ones may read earlier ones' hints).

Adding a detector = one module + one line here. Third-party detectors register under the
`leakscan.detectors` entry-point group.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from ..config import Settings
from ..engines import EngineSet
from ..errors import ConfigError
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
    """One instance of each wanted detector, for this process (constructors validate their config).

    A misspelt detector id or policy table is a ConfigError, never a detector silently left out.
    """
    factories = available()
    ids = {f.id for f in factories}
    unknown = set(settings.detectors) - ids - {"all"}
    if unknown:
        raise ConfigError(f"unknown detector ids: {', '.join(sorted(unknown))} (known: {', '.join(sorted(ids))})")
    stray = set(settings.sections) - ids
    if stray:
        raise ConfigError(f"unknown policy tables: {', '.join(f'[{t}]' for t in sorted(stray))}")
    return [factory(settings, engines) for factory in factories if settings.wants(factory.id)]
