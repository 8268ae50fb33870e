"""Typed facts that detectors share about one item, each with the detectors that provide and need it.

A detector declares `provides` and `needs` (names of Facts fields); the registry derives the run
order from them (providers first), so no comment or list position has to say it. A need whose
provider is not running is simply left at its default (the text detector then reads without scene
cues). Timings are not a fact: every detector may add its sub-stage seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(slots=True)
class Facts:
    # provided by: visual. needed by: text (a screen, whiteboard or document cue makes OCR look harder)
    scenes: list[str] = field(default_factory=list)
    # provided by: text (diagnostics for tests and benchmarks)
    text_notes: int | None = None  # sticky notes found by colour and shape
    text_located: int | None = None  # text lines the detection-only gate located
    text_present: bool | None = None  # whether the picture holds text at all
    # seconds per detector sub-stage (text.ocr.rapidocr, visual.embed, ...), added by any detector
    timings: dict[str, float] = field(default_factory=dict)


NAMES = frozenset(f.name for f in fields(Facts)) - {"timings"}
