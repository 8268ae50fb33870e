"""`leakscan refs check`: per-label leave-one-out recall and false matches of the reference gallery."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..text_safety import printable
from .gallery import Gallery
from .phash import KnownImages

WEAK_RECALL = 0.8  # below this leave-one-out recall, `render` lists the missed references and advice


@dataclass(frozen=True, slots=True)
class LabelReport:
    label: str
    references: int
    recalled: int  # left out one at a time, matched back to this label
    threshold: float
    confused_with: dict[str, int] = field(default_factory=dict)  # matched to another restricted label
    missed: tuple[tuple[str, str | None], ...] = ()  # (reference, the other label it matched or None)
    by_local_features: int = 0  # of `recalled`: verified by local features (SIFT + RANSAC inliers)

    @property
    def recall(self) -> float:
        return self.recalled / self.references if self.references else 0.0


@dataclass(frozen=True, slots=True)
class CheckReport:
    labels: tuple[LabelReport, ...]
    allowed: int
    false_matches: tuple[tuple[str, str], ...]  # (allowed reference, restricted label it matched)
    known_images: int
    known_skipped: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "labels": [
                {"label": r.label, "references": r.references, "recalled": r.recalled, "recall": round(r.recall, 3),
                 "threshold": round(r.threshold, 3), "confused_with": dict(r.confused_with),
                 "by_local_features": r.by_local_features,
                 "missed": [{"reference": ref, "matched": other} for ref, other in r.missed]}
                for r in self.labels
            ],
            "allowed": self.allowed,
            "false_matches": [{"reference": a, "label": b} for a, b in self.false_matches],
            "known_images": self.known_images,
            "known_skipped": list(self.known_skipped),
        }


def check_gallery(gallery: Gallery, known: KnownImages | None = None) -> CheckReport:
    """Leave each reference out in turn (thresholds recalibrated without it) and match it back."""
    labels = []
    for li, label in enumerate(gallery.labels):
        idx = np.flatnonzero(gallery.label_of == li)
        recalled, local, confused, missed = 0, 0, dict[str, int](), []
        for i in idx:
            m = gallery.left_out(int(i))
            if m is not None and m.label == label:
                recalled += 1
                local += m.inliers is not None
                continue
            if m is not None:
                confused[m.label] = confused.get(m.label, 0) + 1
            missed.append((_rel(gallery, int(i)), m.label if m is not None else None))
        labels.append(LabelReport(label, len(idx), recalled, float(gallery.thresholds[li]), confused, tuple(missed),
                                  local))
    false = []
    allowed = np.flatnonzero(gallery.allowed)
    for j in allowed:
        m = gallery.left_out(int(j))
        if m is not None:
            false.append((_rel(gallery, int(j)), m.label))
    return CheckReport(
        tuple(labels),
        len(allowed),
        tuple(false),
        len(known) if known is not None else 0,
        tuple(p.name for p in known.skipped) if known is not None else (),
    )


def _rel(gallery: Gallery, i: int) -> str:
    ref = gallery.refs[i]
    root: Path | None = gallery.options.refs
    try:
        return str(ref.path.relative_to(root)) if root else str(ref.path)
    except ValueError:
        return str(ref.path)


def render(report: CheckReport) -> str:
    lines = [f"{'label':<24} {'refs':>4} {'recall':>8} {'threshold':>9}  confused with"]
    for r in report.labels:
        confused = ", ".join(f"{k} x{v}" for k, v in r.confused_with.items()) or "-"
        counts = f"{r.recalled:>3}/{r.references:<3}"
        lines.append(f"{r.label:<24} {r.references:>4} {counts} {r.threshold:>9.3f}  {confused}")
    local = [f"{printable(r.label)} {r.by_local_features}" for r in report.labels if r.by_local_features]
    if local:
        lines.append(f"found again through local features (matching points in the same layout): {', '.join(local)}")
    lines.append(f"allowed references: {report.allowed}; false matches (left out, matched a restricted label): "
                 f"{len(report.false_matches)}")
    lines.extend(f"  {ref} -> {label}" for ref, label in report.false_matches)
    lines.append(f"known images: {report.known_images}")
    if report.known_skipped:
        lines.append(f"  too flat to hash, never matched: {', '.join(report.known_skipped)}")
    weak = [r for r in report.labels if r.references >= 3 and r.recall < WEAK_RECALL]
    for r in weak:  # folder and file names are untrusted: one printable line each
        lines.append(f"label {printable(r.label)}: {r.recalled}/{r.references} found again when left out; not found:")
        lines.extend(f"  {printable(ref, 300)}" + (f" (looked like {printable(other)})" if other else "")
                     for ref, other in r.missed)
    if weak:
        lines.append("advice: a photo that none of the others resembles will not be caught either: enrol more")
        lines.append("  photos of the same place or object, from the angles people take them, or split a label")
        lines.append("  that covers several places into one label per place")
    if any(r.references < 3 for r in report.labels):
        lines.append("note: labels with fewer than 3 references cannot be checked meaningfully; add photos")
    return "\n".join(lines)
