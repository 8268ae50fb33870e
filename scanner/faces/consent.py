"""The consent list: <folder>/<name>/*.jpg photos of people who agreed -> one face embedding per photo.

Each photo must show exactly one face (the person); a photo with none or several is a problem that
`leakscan refs check` reports, and it is left out of matching. Embeddings are cached by the file's
sha256 (one .npz per embedding model), like the visual reference gallery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import media
from ..cachefiles import mark_used, write_npz
from ..errors import ConfigError, ItemError
from ..visual.store import IMAGE_SUFFIXES, MAX_PIXELS

if TYPE_CHECKING:
    from ..engines.face_embed import FaceEmbedder
    from ..engines.faces import FaceDetector

CACHE_VERSION = "1"


@dataclass(frozen=True, slots=True)
class ConsentPhoto:
    name: str  # the person: the folder name below the consent folder
    path: Path
    sha256: str
    faces: int  # faces found at the detector's threshold (1 = usable)


@dataclass(frozen=True, slots=True)
class ConsentMatch:
    name: str
    distance: float


def scan_photos(root: Path) -> list[tuple[str, Path, str]]:
    """(name, path, sha256) of every image under root/<name>/, sorted."""
    out = []
    for person in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(person.rglob("*")):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
                out.append((person.name, path, hashlib.sha256(path.read_bytes()).hexdigest()))
    return out


class ConsentGallery:
    """Embeddings of the consented people; `match` names the nearest one within `max_distance`."""

    def __init__(self, photos: Sequence[ConsentPhoto], vectors: np.ndarray, max_distance: float) -> None:
        self.photos = tuple(photos)
        self.usable = tuple(p for p in self.photos if p.faces == 1)
        self.vectors = vectors  # (len(usable), D)
        self.max_distance = max_distance

    @property
    def people(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.name for p in self.usable))

    @property
    def problems(self) -> tuple[ConsentPhoto, ...]:
        """Photos that cannot be used: no face, or several (whose would it be?)."""
        return tuple(p for p in self.photos if p.faces != 1)

    @classmethod
    def load(cls, root: Path, detector: FaceDetector, embedder: FaceEmbedder, min_score: float,
             max_distance: float, cache_dir: Path | None) -> ConsentGallery:
        cache = _Cache(cache_dir / "faces" / f"{embedder.model_id}-consent-v{CACHE_VERSION}.npz" if cache_dir else None)
        photos: list[ConsentPhoto] = []
        vectors: list[np.ndarray] = []
        for name, path, sha in scan_photos(root):
            if sha not in cache.entries:
                cache.entries[sha] = _embed_photo(path, detector, embedder, min_score)
                cache.dirty = True
            faces, vector = cache.entries[sha]
            photos.append(ConsentPhoto(name, path, sha, faces))
            if faces == 1:
                vectors.append(vector)
        if cache.dirty:
            cache.save({p.sha256 for p in photos})
        stacked = np.stack(vectors) if vectors else np.zeros((0, 128), np.float32)
        return cls(photos, stacked.astype(np.float32), max_distance)

    def match(self, vectors: np.ndarray) -> list[ConsentMatch | None]:
        """For each (D,) face vector: the nearest consented person within max_distance, else None."""
        out: list[ConsentMatch | None] = []
        for v in vectors:
            if len(self.vectors) == 0:
                out.append(None)
                continue
            dist = np.linalg.norm(self.vectors - v[None, :], axis=1)
            i = int(np.argmin(dist))
            out.append(ConsentMatch(self.usable[i].name, float(dist[i])) if dist[i] <= self.max_distance else None)
        return out


def _embed_photo(path: Path, detector: FaceDetector, embedder: FaceEmbedder,
                 min_score: float) -> tuple[int, np.ndarray]:
    """(faces found, embedding of the face when there is exactly one, else zeros)."""
    try:
        picture = media.decode(path.read_bytes(), MAX_PIXELS, detector.max_side)
    except (OSError, ItemError) as exc:
        raise ConfigError(f"consent photo {path} cannot be read: {exc}") from None
    pixels = np.asarray(picture)
    boxes = [b for b in detector.detect([pixels])[0] if b.score >= min_score]
    if len(boxes) != 1:
        return len(boxes), np.zeros(128, np.float32)
    return 1, embedder.embed(pixels, boxes)[0]


class _Cache:
    """sha256 -> (faces, vector), one .npz; rewritten atomically when photos change."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, tuple[int, np.ndarray]] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as data:
                    self.entries = {str(s): (int(data["faces"][i]), data["vectors"][i])
                                    for i, s in enumerate(data["sha256"])}
                mark_used(path)
            except (OSError, KeyError, ValueError):
                self.entries = {}

    def save(self, keep: set[str]) -> None:
        if self.path is None or not keep:
            return
        shas = sorted(s for s in keep if s in self.entries)
        write_npz(self.path, sha256=np.array(shas, dtype="U64"),
                  faces=np.array([self.entries[s][0] for s in shas], np.int32),
                  vectors=np.stack([self.entries[s][1] for s in shas]).astype(np.float32))
