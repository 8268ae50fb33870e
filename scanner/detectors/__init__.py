"""Built-in detectors. They run in an order derived from the facts each provides and needs
(scanner/facts.py): the visual detector provides scene cues the text detector needs, so it runs first.

Adding a detector = one module + one line here. Third-party detectors register under the
`leakscan.detectors` entry-point group.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points

from .. import facts
from ..config import ACTION_TABLES, Settings, did_you_mean
from ..engines import EngineSet
from ..errors import ConfigError
from ..text.rules import pattern_ids
from .base import Detector, DetectorFactory
from .faces import FacesDetector
from .metadata import MetadataDetector
from .text import TextDetector
from .visual import VisualDetector

BUILTIN: tuple[DetectorFactory, ...] = (MetadataDetector, TextDetector, VisualDetector, FacesDetector)


def available() -> tuple[DetectorFactory, ...]:
    """Every detector, built-in and plugin, in run order (providers of a fact before those that need it)."""
    plugins = tuple(ep.load() for ep in entry_points(group="leakscan.detectors"))
    return run_order(BUILTIN + plugins)


def run_order(factories: Sequence[DetectorFactory]) -> tuple[DetectorFactory, ...]:
    """A stable topological order: each detector after every detector that provides a fact it needs."""
    unknown = {f"{f.id}: {n}" for f in factories for n in (_needs(f) | _provides(f)) - facts.NAMES}
    if unknown:
        raise ConfigError(f"detectors name facts that do not exist: {', '.join(sorted(unknown))}")
    done: list[DetectorFactory] = []
    pending = list(factories)
    while pending:
        ready = next((f for f in pending if not any(_needs(f) & _provides(p) for p in pending if p is not f)), None)
        if ready is None:
            raise ConfigError(f"detectors need each other's facts: {', '.join(f.id for f in pending)}")
        done.append(ready)
        pending.remove(ready)
    return tuple(done)


def _needs(factory: DetectorFactory) -> frozenset[str]:
    return frozenset(getattr(factory, "needs", ()))  # a plugin that declares nothing needs nothing


def _provides(factory: DetectorFactory) -> frozenset[str]:
    return frozenset(getattr(factory, "provides", ()))


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
    stray = set(settings.sections) - ids - ACTION_TABLES
    if stray:
        first = min(stray)
        raise ConfigError(f"unknown policy tables: {', '.join(f'[{t}]' for t in sorted(stray))}"
                          f"{did_you_mean(first, ids)}")
    check_rule_ids(settings, factories)
    return [factory(settings, engines) for factory in factories if settings.wants(factory.id)]
