"""Instance-level matching: SIFT keypoints, ratio test and RANSAC homography inliers between a query and
the few references its embedding ranks nearest (the shortlist), so a new photo of an enrolled room or
object matches even when its global similarity is low.

Reference keypoints are extracted once per file and cached by sha256 (one .npz per extraction setting);
OpenCV is imported lazily. Cost is bounded by `max_keypoints` per picture, the side SIFT runs at
(`SIDE`: pictures decoded at store.DECODE_SIDE are shrunk to it first) and `local_top_k` verifications
per query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import media
from ..cachefiles import mark_used, write_npz
from ..errors import ConfigError, ItemError

if TYPE_CHECKING:
    from PIL import Image

    from .store import Reference

CACHE_VERSION = "1"
SIDE = 400  # longest side SIFT runs at (queries and references alike): 640 cost 2.6x, same recall (docs/visual.md)
RATIO = 0.75  # Lowe's ratio test
RANSAC_PX = 4.0  # reprojection error (pixels at the extraction side) for a homography inlier
MIN_MATCHES = 8  # fewer tentative matches than this: no geometry is fitted


@dataclass(frozen=True, slots=True)
class Keypoints:
    """One picture's keypoint positions (N, 2) and SIFT descriptors (N, 128, uint8)."""

    xy: np.ndarray
    desc: np.ndarray

    def __len__(self) -> int:
        return len(self.xy)

    def root(self) -> np.ndarray:
        """RootSIFT: L1-normalised square roots (Euclidean distance then compares like Hellinger)."""
        d = self.desc.astype(np.float32)
        out: np.ndarray = np.sqrt(d / (d.sum(axis=1, keepdims=True) + 1e-7)).astype(np.float32)
        return out


EMPTY = Keypoints(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8))


def extract(picture: Image.Image, max_keypoints: int, side: int = SIDE) -> Keypoints:
    """The strongest `max_keypoints` SIFT keypoints of a picture (greyscale, its longest side shrunk to
    `side` by area averaging when larger; positions are in the shrunk picture's pixels)."""
    import cv2

    grey = np.asarray(picture.convert("L"))
    h, w = grey.shape
    if max(h, w) > side:
        scale = side / max(h, w)
        grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    # nfeatures, nOctaveLayers, contrastThreshold, edgeThreshold, sigma (OpenCV's defaults), uint8 descriptors
    sift = cv2.SIFT_create(max_keypoints, 3, 0.04, 10.0, 1.6, cv2.CV_8U)  # type: ignore[attr-defined]
    kps, desc = sift.detectAndCompute(grey, None)
    if desc is None or not kps:
        return EMPTY
    xy = np.array([k.pt for k in kps], np.float32)
    return Keypoints(xy[:max_keypoints], np.asarray(desc, np.uint8)[:max_keypoints])


def inliers(query: Keypoints, ref: Keypoints, query_root: np.ndarray | None = None) -> int:
    """Tentative matches (ratio test, one query keypoint per reference keypoint) consistent with one
    RANSAC homography: the count of geometrically verified correspondences (0 when too few to fit)."""
    import cv2

    if len(query) < MIN_MATCHES or len(ref) < MIN_MATCHES:
        return 0
    q = query.root() if query_root is None else query_root
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(q, ref.root(), k=2)
    best: dict[int, tuple[float, int]] = {}  # reference keypoint -> (distance, query keypoint)
    for pair in pairs:
        if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance:
            m = pair[0]
            if m.trainIdx not in best or m.distance < best[m.trainIdx][0]:
                best[m.trainIdx] = (m.distance, m.queryIdx)
    if len(best) < MIN_MATCHES:
        return 0
    src = np.array([query.xy[qi] for _, qi in best.values()], np.float32)
    dst = ref.xy[np.array(list(best), np.int64)]
    cv2.setRNGSeed(0)  # the same pair always gives the same count
    _, mask = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PX, maxIters=2000, confidence=0.995)
    return 0 if mask is None else int(mask.sum())


class KeypointCache:
    """One .npz per extraction setting: sha256 -> keypoints; rewritten atomically when refs change."""

    def __init__(self, path: Path | None, stale_pattern: str | None = None) -> None:
        self.path = path
        self.stale_pattern = stale_pattern
        self.entries: dict[str, Keypoints] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as data:
                    shas, counts, xy, desc = data["sha256"], data["counts"], data["xy"], data["desc"]
                ends = np.cumsum(counts)
                for s, end, n in zip(shas, ends, counts, strict=True):
                    self.entries[str(s)] = Keypoints(xy[end - n : end], desc[end - n : end])
                mark_used(path)
            except (OSError, KeyError, ValueError):
                self.entries = {}  # unreadable cache: rebuilt

    @classmethod
    def for_setting(cls, folder: Path, max_keypoints: int, side: int = SIDE) -> KeypointCache:
        """`<folder>/sift<max_keypoints>[-<side>px]-refs-v<CACHE_VERSION>.npz` (no side part at 640 px, the
        name older versions used); other versions and sides of it are stale."""
        tag = f"sift{max_keypoints}" + ("" if side == 640 else f"-{side}px")
        return cls(folder / f"{tag}-refs-v{CACHE_VERSION}.npz", f"sift{max_keypoints}-*refs-v*.npz")

    def save(self, keep: Sequence[str]) -> None:
        if self.path is None or (not self.dirty and set(keep) == set(self.entries)):
            return
        keep = [s for s in dict.fromkeys(keep) if s in self.entries]
        kps = [self.entries[s] for s in keep]
        write_npz(self.path, self.stale_pattern, sha256=np.array(keep, dtype="U64"),
                  counts=np.array([len(k) for k in kps], np.int64),
                  xy=np.concatenate([k.xy for k in kps] or [EMPTY.xy]),
                  desc=np.concatenate([k.desc for k in kps] or [EMPTY.desc]))


def reference_keypoints(
    refs: Sequence[Reference], cache: KeypointCache, max_keypoints: int, side: int = SIDE
) -> list[Keypoints]:
    """Keypoints of every reference, decoded and shrunk like the queries, from the cache where possible."""
    from .store import DECODE_SIDE, MAX_PIXELS

    for ref in refs:
        if ref.sha256 in cache.entries:
            continue
        try:
            picture = media.decode(ref.path.read_bytes(), MAX_PIXELS, DECODE_SIDE, fast_resize=True)
        except (OSError, ItemError) as exc:
            raise ConfigError(f"reference {ref.path} cannot be read: {exc}") from None
        cache.entries[ref.sha256] = extract(picture, max_keypoints, side)
        cache.dirty = True
    cache.save([r.sha256 for r in refs])
    return [cache.entries[r.sha256] for r in refs]


@dataclass(frozen=True, slots=True)
class Verified:
    """The shortlist's best geometrically verified restricted reference."""

    ref: int
    inliers: int
    allowed_inliers: int  # the most inliers any allowed reference in the shortlist had


def verify(
    query: Keypoints,
    ref_kps: Sequence[Keypoints],
    sims: np.ndarray,
    restricted: np.ndarray,
    top_k: int,
    min_inliers: int,
    exclude: int | None = None,
) -> Verified | None:
    """Re-rank the `top_k` references nearest by embedding (`sims`, (M,)) by homography inliers.

    A restricted reference verifies when it has at least `min_inliers` inliers and more than every
    allowed reference in the shortlist (an enrolled allowed place seen as strongly is not a match)."""
    order = [int(i) for i in np.argsort(-sims) if int(i) != exclude][:top_k]
    if not order or len(query) < MIN_MATCHES:
        return None
    q_root = query.root()
    counts = {i: inliers(query, ref_kps[i], q_root) for i in order}
    allowed = max((n for i, n in counts.items() if not restricted[i]), default=0)
    best = max((i for i in order if restricted[i]), key=lambda i: counts[i], default=None)
    if best is None or counts[best] < min_inliers or counts[best] <= allowed:
        return None
    return Verified(best, counts[best], allowed)
