"""Which checks a scan leaves out on purpose, said in words (`SkippedCheck`), never silently.

A detector not selected (`--detectors`), a check its detector cannot do with this set-up (no
reference folder) or that the policy switched off is a note in the report's `checks_skipped`, not
an error: the person chose it and is told once. A check that was wanted but could not run stays an
error (review): fail closed. A detector says what it leaves out through an optional
`skipped_checks()` method; one that was not selected is described here by its id.
"""

from __future__ import annotations

from collections.abc import Sequence

from .config import Settings
from .detectors.base import Detector, DetectorFactory
from .model import SkippedCheck

FACES = "faces"  # a detector of that id checks people (an optional part of the installation)
NOT_SELECTED = {
    "metadata": "metadata not checked (location, authors, hidden data)",
    "visual": "pixels not checked (restricted places, known images, screens)",
    "text": "text not read",
    FACES: "faces not checked",
}


def not_selected(factory_id: str, settings: Settings) -> SkippedCheck:
    """The note for a detector left out by the `detectors` setting."""
    what = NOT_SELECTED.get(factory_id, f"detector {factory_id!r} not run")
    chosen = "" if "all" in settings.detectors else f" (detectors = {', '.join(settings.detectors)})"
    return SkippedCheck(factory_id, f"{what}: not selected{chosen}")


def scan_skips(settings: Settings, factories: Sequence[DetectorFactory],
               detectors: Sequence[Detector]) -> tuple[SkippedCheck, ...]:
    """Every check this scan leaves out: detectors the settings do not select, what the running ones skip,
    and faces when no face detector is installed."""
    out = [not_selected(f.id, settings) for f in factories if not settings.wants(f.id)]
    if FACES not in {f.id for f in factories}:
        out.append(SkippedCheck(FACES, "faces not checked: no face detector is installed"))
    for det in detectors:
        own = getattr(det, "skipped_checks", None)
        if callable(own):
            out.extend(own())
    return tuple(out)


def handled_by(factories: Sequence[DetectorFactory], kind: str) -> list[DetectorFactory]:
    """The detectors that declare they look at items of media type `kind` (`kinds`: prefixes, optional)."""
    return [f for f in factories if any(kind.startswith(k) for k in getattr(f, "kinds", ()))]
