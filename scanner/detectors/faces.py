"""People in pictures: faces not on the consent list, consented faces (a note), ID badges and name tags."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..config import Settings
from ..engines import EngineSet
from ..engines.face_embed import FaceEmbedder, build_face_embedder
from ..engines.faces import MAX_SIDE, FaceBox, FaceDetector, build_face_detector
from ..engines.ocr import OcrEngine, build_ocr
from ..errors import EngineError
from ..faces.badge import BadgeHit, read_badge, read_worn
from ..faces.confirm import candidates, confirmed, mirrored
from ..faces.consent import ConsentGallery, ConsentMatch
from ..faces.options import FaceOptions, parse_options
from ..model import Finding, Region, Severity
from ..subject import Subject

if TYPE_CHECKING:
    from PIL import Image

MAX_BADGE_FACES = 4  # the largest faces are checked for a badge (each costs one OCR pass)


class FacesDetector:
    """Detects faces in a batch of pictures, matches them against the consent list, looks for badges."""

    id = "faces"
    provides = frozenset[str]()
    needs = frozenset[str]()
    pictures = ((MAX_SIDE, False),)  # Lanczos: the box filter cost recall on dev
    rules = ("faces.person", "faces.consented", "faces.badge")

    def __init__(self, settings: Settings, engines: EngineSet) -> None:
        self.settings = settings
        self.options: FaceOptions = parse_options(settings)  # a bad [faces] table fails here, not mid-scan
        self._engines = engines

    def accepts(self, subject: Subject) -> bool:
        return subject.item.kind.startswith("image/") and any(self.settings.policy.enabled(r) for r in self.rules)

    @property
    def detector(self) -> FaceDetector:
        engine: FaceDetector = self._engines.get("faces.detector", build_face_detector)
        return engine

    @property
    def embedder(self) -> FaceEmbedder:
        engine: FaceEmbedder = self._engines.get("faces.embedder", build_face_embedder)
        return engine

    def consent(self) -> ConsentGallery | None:
        """The consent list, loaded once per process (None when no consent folder is configured)."""
        folder, opts = self.options.consented, self.options
        if folder is None:
            return None
        gallery: ConsentGallery = self._engines.get("faces.consent", lambda s: ConsentGallery.load(
            folder, self.detector, self.embedder, opts.min_score, opts.match_distance, s.cache_path))
        return gallery

    def detect(self, subject: Subject) -> list[Finding]:
        return self.detect_batch([subject])[0]

    def detect_batch(self, subjects: Sequence[Subject]) -> list[list[Finding]]:
        pictures = [s.picture(*self.pictures[0]) for s in subjects]
        pixels = [np.asarray(p) for p in pictures]
        started = time.perf_counter()
        found = [self._sized(boxes, p.size) for boxes, p in zip(self.detector.detect(pixels), pictures, strict=True)]
        second = self._second_look(pixels, found)
        per_item = (time.perf_counter() - started) / max(1, len(subjects))
        opts = self.options
        out = []
        for subject, picture, array, boxes, again in zip(subjects, pictures, pixels, found, second, strict=True):
            subject.facts.timings["faces.detect"] = per_item
            kept = confirmed(boxes, again, opts.min_score, opts.candidate_score, opts.confirm_score)
            out.append(self._findings(subject, picture, array, kept))
        return out

    def _sized(self, boxes: list[FaceBox], size: tuple[int, int]) -> list[FaceBox]:
        """Boxes at or above the size limit (smaller ones are bystanders too small to identify)."""
        short = min(size)
        return [b for b in boxes if max(b.w, b.h) >= self.options.min_size * short]

    def _second_look(self, pixels: list[np.ndarray], found: list[list[FaceBox]]) -> list[list[FaceBox] | None]:
        """The mirrored pictures searched again, only for pictures with a doubtful candidate (None otherwise)."""
        opts = self.options
        doubtful = [i for i, boxes in enumerate(found) if candidates(boxes, opts.min_score, opts.candidate_score)]
        out: list[list[FaceBox] | None] = [None] * len(found)
        if doubtful:
            flipped = [np.ascontiguousarray(pixels[i][:, ::-1]) for i in doubtful]
            for i, boxes in zip(doubtful, self.detector.detect(flipped), strict=True):
                out[i] = mirrored(boxes, int(pixels[i].shape[1]))
        return out

    def _findings(self, subject: Subject, picture: Image.Image, array: np.ndarray,
                  faces: list[FaceBox]) -> list[Finding]:
        if not faces:
            return []
        full_w, full_h = subject.oriented_size()
        scale = (full_w / picture.width, full_h / picture.height)
        matches = self._consented(subject, array, faces)
        out = [self._face(face, match, len(faces), picture.size, scale)
               for face, match in zip(faces, matches, strict=True)]
        badge = self._badge(subject, picture, faces)
        if badge is not None:
            out.append(self._badge_finding(badge[0], badge[1], scale))
        return out

    def _consented(self, subject: Subject, array: np.ndarray, faces: list[FaceBox]) -> list[ConsentMatch | None]:
        gallery = self.consent()
        if gallery is None or not gallery.usable:
            return [None] * len(faces)
        started = time.perf_counter()
        matches = gallery.match(self.embedder.embed(array, faces))
        subject.facts.timings["faces.embed"] = time.perf_counter() - started
        return matches

    def _badge(self, subject: Subject, picture: Image.Image, faces: list[FaceBox]) -> tuple[FaceBox, BadgeHit] | None:
        """The first of the largest faces on a card with a name or number, else the first wearing a card.

        OCR errors are recorded (review)."""
        if not self.options.badges or not self.settings.policy.enabled("faces.badge"):
            return None
        started = time.perf_counter()
        try:
            ocr: OcrEngine = self._engines.get("ocr", build_ocr)[0]
            largest = sorted(faces, key=lambda b: -b.w * b.h)[:MAX_BADGE_FACES]
            for read in (read_badge, read_worn):
                for face in largest:
                    hit = read(picture, face, ocr)
                    if hit is not None:
                        return face, hit
        except EngineError as exc:  # the faces stand; the badge check did not run: review (fail closed)
            subject.note_error(exc, "faces.badge")
        finally:
            subject.facts.timings["faces.badge"] = time.perf_counter() - started
        return None

    def _face(self, face: FaceBox, match: ConsentMatch | None, count: int, size: tuple[int, int],
              scale: tuple[float, float]) -> Finding:
        evidence: dict[str, str | int | float | bool | None] = {
            "faces": count,
            "relative_size": round(max(face.w, face.h) / min(size), 3),
            "score": round(face.score, 3),
        }
        if match is not None:
            evidence.update(consented=match.name, distance=round(match.distance, 3))
            return Finding("faces.consented", self.id, Severity.INFO, face.score,
                           f"The face of {match.name}, who is on the consent list.", "pixels",
                           _scaled(face, scale), evidence)
        return Finding("faces.person", self.id, Severity.MEDIUM, face.score,
                       "A person's face is visible, and they are not on the consent list.", "pixels",
                       _scaled(face, scale), evidence)

    def _badge_finding(self, face: FaceBox, hit: BadgeHit, scale: tuple[float, float]) -> Finding:
        read = (("a name", hit.has_name), ("an ID number", hit.has_number), ("a badge word", hit.has_word))
        what = " and ".join(w for w, on in read if on)
        card = FaceBox(hit.card.x, hit.card.y, hit.card.w, hit.card.h, face.score)
        evidence: dict[str, str | int | float | bool | None] = {"name": hit.has_name, "id_number": hit.has_number}
        if hit.worn:  # found by shape and print; what it says is a bonus (often too small to read)
            evidence.update(worn=True, badge_word=hit.has_word)
            message = f"A person wears an ID badge or card{f' with {what}' if what else ''}."
            confidence = min(0.8 if what else 0.6, face.score)
        else:
            message = f"An ID badge or name tag with a photo and {what} is visible."
            confidence = min(0.9, face.score)
        return Finding("faces.badge", self.id, Severity.MEDIUM, confidence, message, "pixels",
                       _scaled(card, scale), evidence)


def _scaled(box: FaceBox, scale: tuple[float, float]) -> Region:
    """A box in the searched picture -> the oriented full-size image."""
    sx, sy = scale
    return Region(round(box.x * sx), round(box.y * sy), max(1, round(box.w * sx)), max(1, round(box.h * sy)))
