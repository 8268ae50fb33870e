"""Reference gallery: restricted/<label>/* and allowed/<label>/* photos -> cached embeddings -> k-NN matching.

Each reference is embedded once per model as a few views (the photo, its mirror image and five
crops) and cached on disk keyed by the file's sha256, so adding, changing or removing a photo
re-embeds only that photo. A query matches label L when its similarity to L's nearest references
reaches L's threshold and beats its similarity to every allowed reference by `margin`. Thresholds
are calibrated from the references themselves (leave-one-out, see `calibrate`) unless the policy
sets them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import media
from ..errors import ConfigError, ItemError
from .options import VIEW_NAMES, VisualOptions

if TYPE_CHECKING:
    from PIL import Image

    from ..engines.embedder import ImageEmbedder

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp", ".gif", ".avif"}
KINDS = ("restricted", "allowed")
CACHE_VERSION = "1"
DECODE_SIDE = 640
MAX_PIXELS = 200_000_000


@dataclass(frozen=True, slots=True)
class Reference:
    kind: str  # restricted | allowed
    label: str
    path: Path
    sha256: str


@dataclass(frozen=True, slots=True)
class Match:
    """The best restricted label for one query."""

    label: str
    similarity: float
    threshold: float
    allowed_similarity: float
    nearest: Path

    @property
    def confidence(self) -> float:
        span = max(1e-6, 1.0 - self.threshold)
        return float(min(0.99, 0.6 + 0.39 * (self.similarity - self.threshold) / span))


def scan_references(root: Path) -> list[Reference]:
    """Every image under root/restricted/<label>/ and root/allowed/<label>/ (sorted, hashed)."""
    if not root.is_dir():
        raise ConfigError(f"reference folder {root} does not exist")
    refs: list[Reference] = []
    for kind in KINDS:
        base = root / kind
        if not base.is_dir():
            continue
        for label_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            for path in sorted(label_dir.rglob("*")):
                if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                    refs.append(Reference(kind, label_dir.name, path, digest))
    if not any(r.kind == "restricted" for r in refs):
        raise ConfigError(f"reference folder {root} has no images under restricted/<label>/")
    return refs


def make_views(image: Image.Image) -> list[Image.Image]:
    """The reference views, in VIEW_NAMES order: photo, mirror, centre 80%, four 65% corners."""
    from PIL import ImageOps

    w, h = image.size
    cw, ch = int(w * 0.8), int(h * 0.8)
    qw, qh = int(w * 0.65), int(h * 0.65)
    out = [image, ImageOps.mirror(image), image.crop(((w - cw) // 2, (h - ch) // 2, (w + cw) // 2, (h + ch) // 2))]
    for x, y in ((0, 0), (w - qw, 0), (0, h - qh), (w - qw, h - qh)):
        out.append(image.crop((x, y, x + qw, y + qh)))
    return out


class EmbeddingCache:
    """One .npz per model: sha256 -> (views, cells) arrays; rewritten atomically when refs change."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as data:
                    shas, views, cells = data["sha256"], data["views"], data["cells"]
                    self.entries = {str(s): (views[i], cells[i]) for i, s in enumerate(shas)}
            except (OSError, KeyError, ValueError):
                self.entries = {}  # unreadable cache: rebuilt below

    def save(self, keep: Sequence[str]) -> None:
        if self.path is None or (not self.dirty and set(keep) == set(self.entries)):
            return
        keep = [s for s in dict.fromkeys(keep) if s in self.entries]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=self.path.parent)
        os.close(fd)
        try:
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    sha256=np.array(keep, dtype="U64"),
                    views=np.stack([self.entries[s][0] for s in keep]),
                    cells=np.stack([self.entries[s][1] for s in keep]),
                )
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)  # a read-only cache only costs time


def embed_references(
    refs: Sequence[Reference], embedder: ImageEmbedder, cache: EmbeddingCache, batch: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """(M, V, D) view features and (M, 4, D) cell features for refs, from the cache where possible."""
    todo = [r for r in dict.fromkeys(refs) if r.sha256 not in cache.entries]
    seen: set[str] = set()
    pending: list[tuple[str, list[np.ndarray]]] = []
    for ref in todo:
        if ref.sha256 in seen:
            continue
        seen.add(ref.sha256)
        try:
            picture = media.decode(ref.path.read_bytes(), MAX_PIXELS, DECODE_SIDE)
        except (OSError, ItemError) as exc:
            raise ConfigError(f"reference {ref.path} cannot be read: {exc}") from None
        pending.append((ref.sha256, [embedder.prepare(v) for v in make_views(picture)]))
        if len(pending) >= batch:
            _flush(pending, embedder, cache)
    _flush(pending, embedder, cache)
    views = np.stack([cache.entries[r.sha256][0] for r in refs]) if refs else np.zeros((0, len(VIEW_NAMES), 1))
    cells = np.stack([cache.entries[r.sha256][1] for r in refs]) if refs else np.zeros((0, 4, 1))
    return views.astype(np.float32), cells.astype(np.float32)


def _flush(pending: list[tuple[str, list[np.ndarray]]], embedder: ImageEmbedder, cache: EmbeddingCache) -> None:
    if not pending:
        return
    arrays = np.stack([a for _, views in pending for a in views])
    emb = embedder.embed_arrays(arrays)
    nv = len(VIEW_NAMES)
    for i, (sha, _) in enumerate(pending):
        cache.entries[sha] = (emb.features[i * nv : (i + 1) * nv], emb.patches[i * nv])
    cache.dirty = True
    pending.clear()


class Gallery:
    """Reference embeddings plus the per-label thresholds they calibrate."""

    def __init__(self, refs: Sequence[Reference], views: np.ndarray, cells: np.ndarray, options: VisualOptions) -> None:
        self.refs = tuple(refs)
        self.options = options
        mask = [VIEW_NAMES.index(v) for v in options.views]
        self.views = views[:, mask, :]  # (M, V, D)
        self.cells = cells  # (M, 4, D)
        self.labels = tuple(dict.fromkeys(r.label for r in self.refs if r.kind == "restricted"))
        self.label_of = np.array([self.labels.index(r.label) if r.kind == "restricted" else -1 for r in self.refs])
        self.allowed = np.array([r.kind == "allowed" for r in self.refs])
        self.ref_sims = self.similarities(self._queries(views[:, 0, :], cells))
        self.thresholds = calibrate(self, self.ref_sims)

    @classmethod
    def load(cls, options: VisualOptions, embedder: ImageEmbedder, cache_dir: Path | None) -> Gallery:
        if options.refs is None:
            raise ConfigError("no reference folder configured ([visual] refs or --refs)")
        refs = scan_references(options.refs)
        cache_path = cache_dir / "visual" / f"{embedder.model_id}-refs-v{CACHE_VERSION}.npz" if cache_dir else None
        cache = EmbeddingCache(cache_path)
        views, cells = embed_references(refs, embedder, cache)
        cache.save([r.sha256 for r in refs])
        return cls(refs, views, cells, options)

    def _queries(self, features: np.ndarray, cells: np.ndarray) -> np.ndarray:
        if self.options.patches:
            return np.concatenate([features[:, None, :], cells], axis=1)
        return features[:, None, :]

    def similarities(self, queries: np.ndarray) -> np.ndarray:
        """(N, Q, D) query vectors -> (N, M): best cosine over query vectors x reference views."""
        sims = np.einsum("nqd,mvd->nmqv", queries, self.views, optimize=True)
        out: np.ndarray = sims.reshape(sims.shape[0], sims.shape[1], -1).max(axis=2)
        return out

    def label_scores(self, sims: np.ndarray, exclude: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For one query's (M,) sims: per-label k-NN score, nearest ref index per label, best allowed sim."""
        sims = sims.copy()
        if exclude is not None:
            sims[exclude] = -np.inf
        k = self.options.k
        scores = np.full(len(self.labels), -1.0)
        nearest = np.full(len(self.labels), -1)
        for li in range(len(self.labels)):
            idx = np.flatnonzero(self.label_of == li)
            vals = sims[idx]
            finite = np.isfinite(vals)
            if not finite.any():
                continue
            order = np.argsort(-vals)
            top = vals[order[: min(k, int(finite.sum()))]]
            scores[li] = float(top.mean())
            nearest[li] = int(idx[order[0]])
        allowed = sims[self.allowed]
        allowed = allowed[np.isfinite(allowed)]
        best_allowed = float(allowed.max()) if allowed.size else -1.0
        return scores, nearest, np.array(best_allowed)

    def decide(
        self, sims: np.ndarray, exclude: int | None = None, thresholds: np.ndarray | None = None
    ) -> Match | None:
        thr = self.thresholds if thresholds is None else thresholds
        scores, nearest, best_allowed = self.label_scores(sims, exclude)
        allowed = float(best_allowed)
        passing = [
            li for li in range(len(self.labels))
            if nearest[li] >= 0 and scores[li] >= thr[li] and scores[li] - allowed >= self.options.margin
        ]
        if not passing:
            return None
        li = max(passing, key=lambda i: scores[i] - thr[i])
        return Match(self.labels[li], float(scores[li]), float(thr[li]), allowed, self.refs[int(nearest[li])].path)

    def match(self, features: np.ndarray, cells: np.ndarray) -> list[Match | None]:
        if len(features) == 0:
            return []
        sims = self.similarities(self._queries(features, cells))
        return [self.decide(row) for row in sims]


def calibrate(gallery: Gallery, ref_sims: np.ndarray, skip: int | None = None) -> np.ndarray:
    """Per-label threshold: just above the best-scoring allowed reference that the margin does not already
    stop (each scored leave-one-out), never below `floor`; a policy override wins.

    `skip` leaves one more reference out entirely (for leave-one-out evaluation of that reference).
    """
    opts = gallery.options
    thr = np.full(len(gallery.labels), opts.floor)
    for j in (int(x) for x in np.flatnonzero(gallery.allowed)):
        if j == skip:
            continue
        row = ref_sims[j].copy()
        if skip is not None:
            row[skip] = -np.inf
        scores, nearest, best_allowed = gallery.label_scores(row, exclude=j)
        for li in range(len(gallery.labels)):
            if nearest[li] >= 0 and scores[li] - float(best_allowed) >= opts.margin:
                thr[li] = max(thr[li], float(scores[li]) + 0.01)
    for li, label in enumerate(gallery.labels):
        if label in opts.thresholds:
            thr[li] = opts.thresholds[label]
    return thr

