"""Built-in detectors, in the order they run (later ones may read earlier ones' hints).

Adding a detector = one module + one line here. Third-party detectors register under the
`leakscan.detectors` entry-point group.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points

from ..config import Settings, did_you_mean
from ..engines import EngineSet
from ..errors import ConfigError
from ..text.rules import pattern_ids
from .base import Detector, DetectorFactory
from .metadata import MetadataDetector
from .text import TextDetector
from .visual import VisualDetector

# visual runs before text: its scene cue ("document", "screen", "whiteboard") makes OCR look harder
BUILTIN: tuple[DetectorFactory, ...] = (MetadataDetector, VisualDetector, TextDetector)


def available() -> tuple[DetectorFactory, ...]:
    plugins = tuple(ep.load() for ep in entry_points(group="leakscan.detectors"))
    return BUILTIN + plugins


def known_rule_ids(factories: Sequence[DetectorFactory], settings: Settings | None = None) -> frozenset[str]:
    """Every rule id the detectors may report, every prefix that governs a family ("metadata",
    "metadata.gps" for "metadata.gps.site"), and the ids of the policy's own `[[text.patterns]]`."""
    ids = [rule for factory in factories for rule in factory.rules]
    if settings is not None:
        ids += pattern_ids(settings.sections.get("text", {}))
    known: set[str] = set()
    for rule in ids:
        parts = rule.split(".")
        known.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return frozenset(known)


def check_rule_ids(settings: Settings, factories: Sequence[DetectorFactory]) -> None:
    """A `[rules."<id>"]` that names no rule would be silently ignored: a ConfigError instead."""
    known = known_rule_ids(factories, settings)
    for rule_id in sorted(settings.policy.rules):
        if rule_id not in known:
            raise ConfigError(f'[rules."{rule_id}"]: unknown rule id{did_you_mean(rule_id, known)}')


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
        first = min(stray)
        raise ConfigError(f"unknown policy tables: {', '.join(f'[{t}]' for t in sorted(stray))}"
                          f"{did_you_mean(first, ids)}")
    check_rule_ids(settings, factories)
    return [factory(settings, engines) for factory in factories if settings.wants(factory.id)]
