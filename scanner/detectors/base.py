"""The detector contract: a stable id, accepts(), detect(); batch detectors add detect_batch()."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..config import Settings
from ..engines import EngineSet
from ..model import Finding
from ..subject import Subject


@runtime_checkable
class Detector(Protocol):
    """Looks at one subject and says what it saw. Never decides, never writes files.

    Raise an ItemError (or EngineError) when the subject cannot be fully analysed: the pipeline
    records it and the policy turns it into `review`.

    Optional, looked up with getattr: `kinds` (media-type prefixes it looks at: when the detector is not
    selected, items of those kinds are noted as skipped instead of reviewed) and `skipped_checks() ->
    list[SkippedCheck]` (what this set-up leaves out on purpose, e.g. no reference folder; said once per
    scan, scanner/coverage.py). A check that was wanted but cannot run is an error, never a skipped check.
    `pictures` (the (max_side, fast_resize) pictures it asks its Subject for): the pipeline tells each Subject
    those of the detectors that accept it, so pictures that decode from the same pixels are decoded once.
    """

    id: str

    @property
    def rules(self) -> tuple[str, ...]:
        """Every rule id it may report (documented in docs/policy.md; tests/test_docs.py checks)."""

    def accepts(self, subject: Subject) -> bool: ...

    def detect(self, subject: Subject) -> list[Finding]: ...


@runtime_checkable
class BatchDetector(Detector, Protocol):
    """A detector that is faster on many subjects at once (a model on the GPU)."""

    def detect_batch(self, subjects: Sequence[Subject]) -> list[list[Finding]]: ...


class DetectorFactory(Protocol):
    """Every detector class is built the same way, once per worker process."""

    id: str

    @property
    def provides(self) -> frozenset[str]:
        """Facts fields its detectors fill in (scanner/facts.py)."""

    @property
    def needs(self) -> frozenset[str]:
        """Facts fields they read: they run after the detectors that provide them."""

    @property
    def rules(self) -> tuple[str, ...]: ...

    def __call__(self, settings: Settings, engines: EngineSet) -> Detector: ...
