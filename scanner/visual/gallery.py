"""Reference gallery: restricted/<label>/* and allowed/<label>/* photos -> cached embeddings -> matching.

Two methods (`[visual] method`). `head` (default): a one-vs-rest logistic head is fitted on the
reference embeddings when the gallery loads (see head.py) and one threshold is calibrated from
left-out reference scores, so enrolling is still only adding photos. `knn`: a query matches label L
when its similarity to L's nearest references reaches L's threshold and beats its similarity to every
allowed reference by `margin` (thresholds calibrated leave-one-out, see `calibrate`). Policy
`[visual.thresholds]` overrides either method's per-label threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from .head import Head, fit_head, loo_scores, threshold_from
from .local import KeypointCache, Keypoints, Verified, reference_keypoints, verify
from .options import VIEW_NAMES, VisualOptions
from .store import (
    IMAGE_SUFFIXES,
    EmbeddingCache,
    Reference,
    embed_references,
    make_views,
    scan_references,
)

if TYPE_CHECKING:
    from ..engines.embedder import ImageEmbedder

__all__ = [
    "IMAGE_SUFFIXES", "EmbeddingCache", "Gallery", "Match", "Reference", "calibrate", "make_views", "scan_references",
]


@dataclass(frozen=True, slots=True)
class Match:
    """The best restricted label for one query."""

    label: str
    similarity: float
    threshold: float
    allowed_similarity: float
    nearest: Path
    score: float | None = None  # the head's logit (method "head"); threshold is then on this score
    inliers: int | None = None  # set when local features verified it: homography inliers with `nearest`

    @property
    def confidence(self) -> float:
        if self.inliers is not None:  # geometric evidence: min_inliers -> 0.75, twice that -> 0.87, ...
            return float(min(0.99, 0.99 - 0.24 * self.threshold / max(self.inliers, 1)))
        if self.score is not None:
            return float(min(0.99, 0.6 + 0.39 * np.tanh(2.0 * (self.score - self.threshold))))
        span = max(1e-6, 1.0 - self.threshold)
        return float(min(0.99, 0.6 + 0.39 * (self.similarity - self.threshold) / span))


HEAD_MIN_SCORE = 0.0  # a head threshold never goes below the decision boundary (class-balanced p = 0.5)


class Gallery:
    """Reference embeddings plus the per-label thresholds they calibrate."""

    def __init__(
        self, refs: Sequence[Reference], views: np.ndarray, cells: np.ndarray, options: VisualOptions,
        keypoints: Sequence[Keypoints] | None = None,
    ) -> None:
        self.refs = tuple(refs)
        self.keypoints = tuple(keypoints) if keypoints is not None and options.local_features else None
        self.options = options
        mask = [VIEW_NAMES.index(v) for v in options.views]
        self.views = views[:, mask, :]  # (M, V, D)
        self.cells = cells  # (M, 4, D)
        self.labels = tuple(dict.fromkeys(r.label for r in self.refs if r.kind == "restricted"))
        self.label_of = np.array([self.labels.index(r.label) if r.kind == "restricted" else -1 for r in self.refs])
        self.allowed = np.array([r.kind == "allowed" for r in self.refs])
        self.ref_sims = self.similarities(self._queries(views[:, 0, :], cells))
        self.features = views[:, 0, :]  # the full view: what the head is fitted on
        self.head: Head | None = None
        if options.method == "head":
            self.head, self.thresholds = self._fit(np.ones(len(self.refs), bool))
        else:
            self.thresholds = calibrate(self, self.ref_sims)

    @classmethod
    def load(cls, options: VisualOptions, embedder: ImageEmbedder, cache_dir: Path | None) -> Gallery:
        if options.refs is None:
            raise ConfigError("no reference folder configured ([visual] refs or --refs)")
        refs = scan_references(options.refs)
        # cache_dir: the scanner passes settings.cache_path (never None); None only disables caching
        cache = EmbeddingCache.for_model(cache_dir / "visual", embedder.model_id) if cache_dir else EmbeddingCache(None)
        views, cells = embed_references(refs, embedder, cache)
        cache.save([r.sha256 for r in refs])
        keypoints = None
        if options.local_features:
            kp_cache = KeypointCache.for_setting(cache_dir / "visual", options.max_keypoints) if cache_dir else \
                KeypointCache(None)
            keypoints = reference_keypoints(refs, kp_cache, options.max_keypoints)
        return cls(refs, views, cells, options, keypoints)

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

    def _fit(self, keep: np.ndarray) -> tuple[Head, np.ndarray]:
        """Head on the kept references and its thresholds from their left-out scores (policy overrides win)."""
        x, lab, opts = self.features[keep], self.label_of[keep], self.options
        head = fit_head(x, lab, len(self.labels), opts.head_lambda)
        left_out = loo_scores(x, lab, len(self.labels), opts.head_lambda)
        thr = threshold_from(left_out, lab, per_label=opts.calibration == "per-label")
        thr = np.maximum(thr, HEAD_MIN_SCORE)
        for li, label in enumerate(self.labels):
            if label in opts.thresholds:
                thr[li] = opts.thresholds[label]
        return head, thr

    def decide_head(
        self, scores: np.ndarray, sims: np.ndarray, thresholds: np.ndarray, exclude: int | None = None
    ) -> Match | None:
        """One query's (L,) head scores and (M,) similarities -> the label with the largest lead, if any."""
        _, nearest, best_allowed = self.label_scores(sims, exclude)

        def closer_than_allowed(li: int) -> bool:  # "looks like L" needs a reference of L nearer than any allowed one
            return nearest[li] >= 0 and float(sims[nearest[li]]) > float(best_allowed)

        passing = [li for li in range(len(self.labels)) if scores[li] >= thresholds[li] and closer_than_allowed(li)]
        if not passing:
            return None
        li = max(passing, key=lambda i: scores[i] - thresholds[i])
        sim = float(sims[nearest[li]]) if nearest[li] >= 0 else 0.0
        ref = self.refs[int(nearest[li])].path if nearest[li] >= 0 else Path()
        return Match(self.labels[li], sim, float(thresholds[li]), float(best_allowed), ref, float(scores[li]))

    def left_out(self, i: int) -> Match | None:
        """Reference i matched against the gallery without it (head refitted / thresholds recalibrated)."""
        if self.options.method == "head":
            keep = np.ones(len(self.refs), bool)
            keep[i] = False
            head, thr = self._fit(keep)
            found = self.decide_head(head.scores(self.features[i : i + 1])[0], self.ref_sims[i], thr, exclude=i)
        else:
            found = self.decide(self.ref_sims[i], exclude=i, thresholds=calibrate(self, self.ref_sims, skip=i))
        if self.keypoints is None:
            return found
        return self.verified(self.keypoints[i], self.ref_sims[i], exclude=i) or found

    def match(
        self, features: np.ndarray, cells: np.ndarray, keypoints: Sequence[Keypoints] | None = None
    ) -> list[Match | None]:
        """Each query's match; with local features on and the queries' `keypoints` given, a geometrically
        verified reference in the embedding shortlist wins over the embedding's own decision."""
        if len(features) == 0:
            return []
        sims = self.similarities(self._queries(features, cells))
        if self.head is not None:
            scores = self.head.scores(features)
            found = [self.decide_head(scores[n], sims[n], self.thresholds) for n in range(len(sims))]
        else:
            found = [self.decide(row) for row in sims]
        if self.keypoints is None or keypoints is None:
            return found
        return [self.verified(kp, sims[n]) or found[n] for n, kp in enumerate(keypoints)]

    def verified(self, query: Keypoints, sims: np.ndarray, exclude: int | None = None) -> Match | None:
        """The local-feature match among the `local_top_k` references nearest by embedding, if any."""
        assert self.keypoints is not None
        opts = self.options
        hit: Verified | None = verify(query, self.keypoints, sims, self.label_of >= 0, opts.local_top_k,
                                      opts.min_inliers, exclude)
        if hit is None:
            return None
        allowed = sims[self.allowed & (np.arange(len(self.refs)) != exclude)]
        return Match(self.labels[int(self.label_of[hit.ref])], float(sims[hit.ref]), float(opts.min_inliers),
                     float(allowed.max()) if allowed.size else -1.0, self.refs[hit.ref].path, inliers=hit.inliers)


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

