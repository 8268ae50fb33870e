"""Frozen records that flow through the scanner: Item, Region, Finding, Severity, Decision, FileReport."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from .hints import fix_for

SCHEMA_VERSION = "2.1"

EvidenceValue = str | int | float | bool | None


class _Ordered(enum.IntEnum):
    """An ordered enum that reads and writes itself as a lower-case word (`medium`, `review`)."""

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Self:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(m.label for m in cls)
            raise ValueError(f"unknown {cls.__name__.lower()} {text!r} (one of {names})") from None


class Severity(_Ordered):
    """How bad a finding is, independent of how sure the detector is (bandit's two axes)."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class Decision(_Ordered):
    """The verdict for one file; ordered so that max() picks the strictest."""

    APPROVE = 0
    REVIEW = 1
    BLOCK = 2


@dataclass(frozen=True, slots=True)
class Region:
    """A pixel box in the oriented image (EXIF orientation already applied)."""

    x: int
    y: int
    w: int
    h: int

    def to_dict(self) -> dict[str, int]:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h}


class Box(Protocol):
    """Anything with a pixel box (a Region, a face engine's FaceBox)."""

    @property
    def x(self) -> int: ...
    @property
    def y(self) -> int: ...
    @property
    def w(self) -> int: ...
    @property
    def h(self) -> int: ...


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    iw = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    ih = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a.w * a.h + b.w * b.h - inter)


def _copy(mapping: Mapping[str, EvidenceValue] | None) -> Mapping[str, EvidenceValue]:
    return dict(mapping or {})


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a detector saw. `evidence` is masked or hashed, never the secret itself."""

    rule_id: str
    detector: str
    severity: Severity
    confidence: float
    message: str
    location: str = ""
    region: Region | None = None
    evidence: Mapping[str, EvidenceValue] = field(default_factory=dict)
    fix: str = ""  # what the person can do; "" = the rule's hint (scanner/hints.py)

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence out of range: {self.confidence}")
        object.__setattr__(self, "evidence", _copy(self.evidence))
        if not self.fix:
            object.__setattr__(self, "fix", fix_for(self.rule_id))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "detector": self.detector,
            "severity": self.severity.label,
            "confidence": round(self.confidence, 3),
            "message": self.message,
            "fix": self.fix,
            "location": self.location,
            "region": self.region.to_dict() if self.region else None,
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """Why a file (or part of it) could not be fully analysed. The policy turns it into `review`."""

    code: str
    message: str
    stage: str
    location: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "stage": self.stage, "location": self.location}


@dataclass(frozen=True, slots=True)
class Item:
    """Bytes to scan: a file, or something a container held (then `location` says where)."""

    source: str
    data: bytes
    sha256: str
    kind: str
    location: str = ""  # where inside `source`: "" for the file itself, else e.g. ppt/media/image7.png
    depth: int = 0  # container levels above it
    generated: bool = False  # pixels the scanner encoded (a video frame, a rendered page): no metadata of its own

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class Reason:
    """One line of the verdict a person reads: which rule, what it led to, and in which part ("" = the item itself)."""

    rule_id: str
    decision: Decision
    message: str
    location: str = ""
    fix: str = ""  # "" = the rule's hint (errors: `error.<code>`)

    def __post_init__(self) -> None:
        if not self.fix:
            object.__setattr__(self, "fix", fix_for(self.rule_id))

    def to_dict(self) -> dict[str, str]:
        return {"rule_id": self.rule_id, "decision": self.decision.label, "message": self.message,
                "fix": self.fix, "location": self.location}


@dataclass(frozen=True, slots=True)
class SkippedCheck:
    """A check that did not run on purpose (a detector not selected, no reference folder): said, not an error.

    A check that was wanted but could not run is an ErrorRecord instead (fail closed)."""

    check: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class FileReport:
    """Everything known about one item: a file given to the scanner, or (in `parts`) what it holds.

    The report is a tree: a container's `parts` are the reports of its members, pictures, text and
    metadata, each with its own findings and errors; its verdict is the strictest of its own and its
    parts' (the pipeline builds it so). `location` says where a part sits inside `path`.
    """

    path: str
    sha256: str | None
    kind: str | None
    size: int | None
    verdict: Verdict
    findings: tuple[Finding, ...] = ()
    errors: tuple[ErrorRecord, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    location: str = ""
    parts: tuple[FileReport, ...] = ()
    checks_skipped: tuple[SkippedCheck, ...] = ()

    @property
    def decision(self) -> Decision:
        return self.verdict.decision

    @property
    def where(self) -> str:
        """`path` for a file, `path!location` for a part (the location already joins nested levels with `!`)."""
        return f"{self.path}!{self.location}" if self.location else self.path

    def walk(self) -> Iterator[FileReport]:
        """This report and every part below it, depth first."""
        yield self
        for part in self.parts:
            yield from part.walk()

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **self._body()}

    def _body(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "location": self.location,
            "sha256": self.sha256,
            "kind": self.kind,
            "size": self.size,
            "decision": self.decision.label,
            "reasons": [r.to_dict() for r in self.verdict.reasons],
            "findings": [f.to_dict() for f in self.findings],
            "errors": [e.to_dict() for e in self.errors],
            "checks_skipped": [c.to_dict() for c in self.checks_skipped],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "parts": [p._body() for p in self.parts],
        }


@dataclass(frozen=True, slots=True)
class ScanReport:
    """All file reports of one scan (for library callers; the CLI streams FileReports instead)."""

    files: tuple[FileReport, ...]

    @property
    def decision(self) -> Decision:
        return max((f.decision for f in self.files), default=Decision.APPROVE)

    def counts(self) -> dict[str, int]:
        out = {d.label: 0 for d in Decision}
        for f in self.files:
            out[f.decision.label] += 1
        return out
