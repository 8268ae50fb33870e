"""Perceptual hashes (64-bit DCT pHash, numpy + OpenCV) for near-duplicates of known confidential images.

A known image is hashed whole and as a few slightly cropped versions. A query is hashed whole,
with flat borders trimmed, and - to catch a screenshot of the file shown inside an application
window - each large rectangular panel found by edge contours. A match is the smallest Hamming
distance (of 256 bits) to any known hash at or under the limit. Images too flat to carry a
hash (blank or near-uniform) are never matched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import media
from ..errors import ConfigError, ItemError
from .store import IMAGE_SUFFIXES, MAX_PIXELS

if TYPE_CHECKING:
    from PIL import Image

WORK_SIDE = 512  # queries are hashed at this longest side
BAND = 16  # DCT low band side: 16 x 16 = 256-bit hashes (64-bit ones confused slides of one template)
BITS = BAND * BAND
MIN_DETAIL = 6.0  # grey-level std below which an image carries too little to hash reliably
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def phash_gray(gray: np.ndarray) -> np.ndarray:
    """256-bit pHash of a 2-D array as 32 uint8: 64x64 area resize, DCT, 16x16 low band vs its median."""
    import cv2

    small = cv2.resize(gray.astype(np.float32), (4 * BAND, 4 * BAND), interpolation=cv2.INTER_AREA)
    band = cv2.dct(small)[:BAND, :BAND].flatten()
    bits = band > np.median(band[1:])
    out: np.ndarray = np.packbits(bits)
    return out


def informative(gray: np.ndarray) -> bool:
    import cv2

    small = cv2.resize(gray.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    return float(small.std()) >= MIN_DETAIL


def to_gray(image: Image.Image, side: int = WORK_SIDE) -> np.ndarray:
    from PIL import Image as PILImage

    im = image.convert("L")  # a new image: shrink it in place
    im.thumbnail((side, side), PILImage.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between one packed hash a (32,) and packed hashes b (N, 32)."""
    out: np.ndarray = _POPCOUNT[np.bitwise_xor(b, a[None, :])].sum(axis=1, dtype=np.int64)
    return out


def trim_borders(gray: np.ndarray, tol: float = 8.0) -> np.ndarray:
    """Cut away rows/columns at the edges that are nearly one flat colour (window chrome, letterboxing)."""
    rows = np.flatnonzero(gray.std(axis=1) >= tol)
    cols = np.flatnonzero(gray.std(axis=0) >= tol)
    if rows.size < 16 or cols.size < 16:
        return gray
    return gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def reference_hashes(gray: np.ndarray) -> list[np.ndarray]:
    """The known image whole, 3% / 6% trimmed all round, and 5% cut from each single side (crop tolerance)."""
    h, w = gray.shape
    out = [phash_gray(gray)]
    for f in (0.03, 0.06):
        dy, dx = int(h * f), int(w * f)
        out.append(phash_gray(gray[dy : h - dy, dx : w - dx]))
    dy, dx = int(h * 0.05), int(w * 0.05)
    for crop in (gray[:, dx:], gray[:, : w - dx], gray[dy:, :], gray[: h - dy, :]):
        out.append(phash_gray(crop))
    return out


def rectangles(gray: np.ndarray, min_area: float = 0.08) -> list[np.ndarray]:
    """Axis-aligned rectangular panels (an image shown inside a window): large 4-corner contours."""
    import cv2

    edges = cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 6, 18)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    h, w = gray.shape
    out: list[np.ndarray] = []
    boxes: set[tuple[int, int, int, int]] = set()
    for c in sorted(contours, key=lambda c: cv2.boundingRect(c)[2] * cv2.boundingRect(c)[3], reverse=True)[:60]:
        x, y, bw, bh = cv2.boundingRect(c)
        if bw * bh < min_area * w * h or (bw > 0.97 * w and bh > 0.97 * h):
            continue
        x1, y1 = x + bw - 1, y + bh - 1
        sides = (edges[y, x:x1], edges[y1, x:x1], edges[y:y1, x], edges[y:y1, x1])
        straight = min(float(side.mean()) for side in sides) >= 0.6 * 255
        if not straight and len(cv2.approxPolyDP(c, 0.02 * cv2.arcLength(c, True), True)) != 4:
            continue  # neither a straight-edged box nor a 4-corner outline
        key = (x // 4, y // 4, bw // 4, bh // 4)
        if key in boxes:
            continue
        boxes.add(key)
        inset = 3  # skip the panel's own border line
        out.append(gray[y + inset : y + bh - inset, x + inset : x + bw - inset])
        if len(out) >= 6:
            break
    return out


@dataclass(frozen=True, slots=True)
class KnownHit:
    path: Path
    distance: int
    how: str  # whole | trimmed | window


class KnownImages:
    """Hashes of the files in the known-images folder (any depth)."""

    def __init__(self, paths: list[Path], hashes: np.ndarray, owner: np.ndarray, skipped: list[Path]) -> None:
        self.paths = paths
        self.hashes = hashes  # (H, 32) uint8 packed 256-bit hashes
        self.owner = owner  # (H,) index into paths
        self.skipped = skipped  # known files too flat to hash (reported by `refs check`)

    @classmethod
    def load(cls, folder: Path) -> KnownImages:
        if not folder.is_dir():
            raise ConfigError(f"known-images folder {folder} does not exist")
        paths: list[Path] = []
        skipped: list[Path] = []
        hashes: list[np.ndarray] = []
        owner: list[int] = []
        seen: set[str] = set()
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            try:
                gray = to_gray(media.decode(data, MAX_PIXELS, 1024))
            except ItemError as exc:
                raise ConfigError(f"known image {path} cannot be read: {exc}") from None
            gray = trim_borders(gray)
            if not informative(gray):
                skipped.append(path)
                continue
            for value in reference_hashes(gray):
                hashes.append(value)
                owner.append(len(paths))
            paths.append(path)
        packed = np.stack(hashes) if hashes else np.zeros((0, BITS // 8), np.uint8)
        return cls(paths, packed, np.array(owner, dtype=np.int64), skipped)

    def __len__(self) -> int:
        return len(self.paths)

    def best(self, image: Image.Image) -> KnownHit | None:
        """The nearest known image and its distance (None when nothing is enrolled)."""
        if not self.paths:
            return None
        gray = to_gray(image)
        best: KnownHit | None = None
        candidates = [("whole", gray), ("trimmed", trim_borders(gray))]
        candidates += [("panel", trim_borders(panel)) for panel in rectangles(gray)]
        for how, candidate in candidates:
            if candidate.shape[0] >= 16 and candidate.shape[1] >= 16 and informative(candidate):
                best = self._better(best, phash_gray(candidate), how)
        return best

    def _better(self, best: KnownHit | None, value: np.ndarray, how: str) -> KnownHit | None:
        d = hamming(value, self.hashes)
        i = int(d.argmin())
        dist = int(d[i])
        if best is None or dist < best.distance:
            return KnownHit(self.paths[int(self.owner[i])], dist, how)
        return best
