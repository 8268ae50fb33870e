"""Reference photos on disk -> embeddings cached by file sha256 (one .npz per model).

Each reference is embedded once per model as a few views (the photo, its mirror image and five
crops) and cached keyed by the file's sha256, so adding, changing or removing a photo re-embeds only
that photo.
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
from .options import VIEW_NAMES

if TYPE_CHECKING:
    from PIL import Image

    from ..engines.embedder import ImageEmbedder

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp", ".gif", ".avif"}
KINDS = ("restricted", "allowed")
CACHE_VERSION = "2"  # 2: references decoded with the box-filtered fast resize, like queries
DECODE_SIDE = 640
MAX_PIXELS = 200_000_000  # reference and known-image files are the security team's own (trusted) input


@dataclass(frozen=True, slots=True)
class Reference:
    kind: str  # restricted | allowed
    label: str
    path: Path
    sha256: str


def holds_places(refs: Path) -> bool:
    """Whether a references folder is meant to name places: a folder that holds only a consent list
    (refs/consented/, the faces detector's) has none to match or calibrate, which is not an error."""
    return (refs / "restricted").exists() or not (refs / "consented").is_dir()


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

    def __init__(self, path: Path | None, stale_pattern: str | None = None) -> None:
        self.path = path
        self.stale_pattern = stale_pattern  # older versions of this file, deleted once it is rewritten
        self.entries: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as data:
                    shas, views, cells = data["sha256"], data["views"], data["cells"]
                    self.entries = {str(s): (views[i], cells[i]) for i, s in enumerate(shas)}
                mark_used(path)
            except (OSError, KeyError, ValueError):
                self.entries = {}  # unreadable cache: rebuilt below

    @classmethod
    def for_model(cls, folder: Path, model_id: str) -> EmbeddingCache:
        """`<folder>/<model_id>-refs-v<CACHE_VERSION>.npz`; other cache versions of that model are stale."""
        return cls(folder / f"{model_id}-refs-v{CACHE_VERSION}.npz", f"{model_id}-refs-v*.npz")

    def save(self, keep: Sequence[str]) -> None:
        if self.path is None or (not self.dirty and set(keep) == set(self.entries)):
            return
        keep = [s for s in dict.fromkeys(keep) if s in self.entries]
        write_npz(self.path, self.stale_pattern, sha256=np.array(keep, dtype="U64"),
                  views=np.stack([self.entries[s][0] for s in keep]),
                  cells=np.stack([self.entries[s][1] for s in keep]))


def embed_references(
    refs: Sequence[Reference], embedder: ImageEmbedder, cache: EmbeddingCache, batch: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """(M, V, D) view features and (M, 4, D) cell features for refs, from the cache where possible."""
    todo: dict[str, Reference] = {}  # one embedding per distinct file (the first path that has it)
    for r in refs:
        if r.sha256 not in cache.entries:
            todo.setdefault(r.sha256, r)
    pending: list[tuple[str, list[np.ndarray]]] = []
    for ref in todo.values():
        try:
            picture = media.decode(ref.path.read_bytes(), MAX_PIXELS, DECODE_SIDE, fast_resize=True)
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
