"""Visual leaks: restricted places/objects by reference photos, known confidential images, scene cues."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import Settings
from ..engines import EngineSet
from ..engines.embedder import ImageEmbedder, build_embedder
from ..model import Finding, Severity, SkippedCheck
from ..subject import Subject
from ..text_safety import printable
from ..visual.cues import Cue, cues_for, image_stats
from ..visual.gallery import Gallery
from ..visual.local import extract
from ..visual.options import VisualOptions, parse_options
from ..visual.phash import KnownImages
from ..visual.store import DECODE_SIDE, holds_places
from ..visual.terminal import KEYPAD_SCORE, keypad_box

if TYPE_CHECKING:
    from PIL import Image

CUE_RULES = {"screen": "visual.screen", "whiteboard": "visual.whiteboard", "document": "visual.document",
             "terminal": "visual.card_terminal"}
CUE_TEXT = {"terminal": "shows a payment terminal, card terminal or ATM"}
HASH_BITS = 256  # the perceptual hash's length: a distance is out of this many bits
CUE_SEVERITY = {"screen": Severity.INFO, "whiteboard": Severity.INFO, "document": Severity.INFO,
                "terminal": Severity.MEDIUM}  # a payment terminal or ATM in the picture: a person looks first


class VisualDetector:
    """Batches subjects through one embedder; the gallery and known hashes load once per process."""

    id = "visual"
    kinds = ("image/",)  # media-type prefixes it looks at (what is left unread when it is not selected)
    provides = frozenset({"scenes"})
    needs = frozenset[str]()
    pictures = ((DECODE_SIDE, True),)  # what it asks its Subject for (decoded once with pictures of the same draft)
    rules = ("visual.restricted", "visual.known_image", "visual.screen", "visual.whiteboard", "visual.document",
             "visual.card_terminal")

    def __init__(self, settings: Settings, engines: EngineSet) -> None:
        self.settings = settings
        self.options: VisualOptions = parse_options(settings)
        self._engines = engines
        self._known: KnownImages | None = None

    def accepts(self, subject: Subject) -> bool:
        return subject.item.kind.startswith("image/")

    def skipped_checks(self) -> list[SkippedCheck]:
        """What this set-up cannot check (said once per scan; scanner/coverage.py)."""
        out = []
        if self.options.refs is None:
            out.append(SkippedCheck("visual.restricted",
                                    "restricted places not checked: no reference folder (--refs or [visual] refs)"))
        known = self.options.known_dir
        if known is None or not known.is_dir():
            out.append(SkippedCheck("visual.known_image", "known confidential images not checked: no folder of "
                                    "known images ([visual] known_images, or known/ in the reference folder)"))
        if not self.options.cues:
            out.append(SkippedCheck("visual.screen", "screens, whiteboards and documents not recognised "
                                    "([visual] cues = false)"))
        return out

    @property
    def embedder(self) -> ImageEmbedder:
        engine: ImageEmbedder = self._engines.get("embedder", build_embedder)
        return engine

    def gallery(self) -> Gallery | None:
        """The reference gallery, loaded once per process; a failed load is not retried per batch.

        A references folder that holds only a consent list (refs/consented/, the faces detector's) has no
        places to match: no gallery, rather than an error on every file."""
        refs = self.options.refs
        if refs is None or not holds_places(refs):
            return None
        gallery: Gallery = self._engines.get(
            "visual.gallery", lambda s: Gallery.load(self.options, self.embedder, s.cache_path))
        return gallery

    def known(self) -> KnownImages | None:
        folder = self.options.known_dir
        if self._known is None and folder is not None and folder.is_dir():
            self._known = KnownImages.load(folder)
        return self._known

    def detect(self, subject: Subject) -> list[Finding]:
        return self.detect_batch([subject])[0]

    def detect_batch(self, subjects: Sequence[Subject]) -> list[list[Finding]]:
        """Decode (draft JPEG) -> one model batch -> gallery, hashes, cues.

        A decode error (ItemError) is raised for the whole batch; the pipeline then retries the
        subjects one by one so only the bad file ends up in review.
        """
        embedder, gallery, known = self.embedder, self.gallery(), self.known()
        pictures: list[Image.Image] = [s.picture(*self.pictures[0]) for s in subjects]
        batch = np.stack([embedder.prepare(p) for p in pictures])  # CPU side: resize to the model input
        started = time.perf_counter()
        emb = embedder.embed_arrays(batch)  # model side: copy in, forward pass, copy out
        per_item = (time.perf_counter() - started) / max(1, len(subjects))
        keypoints, local_s = None, 0.0
        if gallery is not None and gallery.keypoints is not None:  # local features on: verify the shortlist
            started = time.perf_counter()
            keypoints = [extract(p, self.options.max_keypoints) for p in pictures]
            local_s = time.perf_counter() - started
        started = time.perf_counter()
        matches = gallery.match(emb.features, emb.patches, keypoints) if gallery is not None else [None] * len(subjects)
        local_s = (local_s + time.perf_counter() - started) / max(1, len(subjects))
        out: list[list[Finding]] = []
        for i, subject in enumerate(subjects):
            subject.facts.timings["visual.embed"] = per_item
            if keypoints is not None:
                subject.facts.timings["visual.local"] = local_s
            findings: list[Finding] = []
            match = matches[i]
            if match is not None:
                findings.append(self._restricted(match))
            if known is not None:
                hit = known.best(pictures[i])
                if hit is not None and hit.distance <= self.options.known_distance:
                    findings.append(self._known_finding(hit.path.name, hit.distance, hit.how))
            if self.options.cues:
                findings.extend(self._cues(subject, emb.probs[i], pictures[i]))
            out.append(findings)
        return out

    def _restricted(self, match: object) -> Finding:
        from ..visual.gallery import Match

        assert isinstance(match, Match)
        nearest = self._relative(match.nearest)
        how = "" if match.inliers is None else f"; {match.inliers} matching points in the same layout (local features)"
        return Finding(
            rule_id="visual.restricted",
            detector=self.id,
            severity=Severity.HIGH,
            confidence=match.confidence,
            message=f"looks like the restricted place or object '{printable(match.label, 80)}' "
                    f"(closest reference photo: {printable(nearest, 200)}{how})",
            location="pixels",
            evidence={  # the numbers behind the match: for the JSON report, not the headline
                "label": match.label,
                "similarity": round(match.similarity, 3),
                "threshold": round(match.threshold, 3),
                "allowed_similarity": round(match.allowed_similarity, 3),
                "nearest_reference": nearest,
                **({"head_score": round(match.score, 3)} if match.score is not None else {}),
                **({"matched_by": "local features", "inliers": match.inliers, "min_inliers": int(match.threshold)}
                   if match.inliers is not None else {"matched_by": "embedding"}),
            },
        )

    def _relative(self, path: Path) -> str:
        """A reference as the user enrolled it: relative to the reference folder (never the whole path)."""
        root = self.options.refs
        if root is not None:
            with contextlib.suppress(ValueError):
                return path.relative_to(root).as_posix()
        return path.name

    def _known_finding(self, name: str, distance: int, how: str) -> Finding:
        limit = max(1, self.options.known_distance)
        return Finding(
            rule_id="visual.known_image",
            detector=self.id,
            severity=Severity.HIGH,
            confidence=float(min(0.99, 1.0 - 0.4 * distance / limit)),
            message=f"a copy of the known confidential image '{printable(name, 120)}'",
            location="pixels",
            evidence={"known_image": name, "distance": distance, "distance_of": HASH_BITS, "matched_as": how},
        )

    def _cues(self, subject: Subject, probs: np.ndarray, picture: Image.Image) -> list[Finding]:
        findings = []
        cues = cues_for(probs, image_stats(picture), self.options.cue_min)
        if not any(c.scene == "terminal" for c in cues):
            started = time.perf_counter()
            if keypad_box(picture) is not None:
                cues.append(Cue("terminal", KEYPAD_SCORE, "shape:keypad under a display"))
            subject.facts.timings["visual.keypad"] = time.perf_counter() - started
        for cue in cues:
            subject.facts.scenes.append(cue.scene)
            findings.append(
                Finding(
                    rule_id=CUE_RULES[cue.scene],
                    detector=self.id,
                    severity=CUE_SEVERITY[cue.scene],
                    confidence=float(min(0.99, max(0.01, cue.score))),
                    message=CUE_TEXT.get(cue.scene, f"shows a {cue.scene}"),
                    location="pixels",
                    evidence={"scene": cue.scene, "score": round(cue.score, 3), "basis": cue.basis},
                )
            )
        return findings
