"""The policy's `[visual]` table, validated once into frozen VisualOptions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..config import Settings
from ..errors import ConfigError

VIEW_NAMES = ("full", "flip", "center", "tl", "tr", "bl", "br")
KNOWN_KEYS = {
    "refs", "model", "runtime", "k", "margin", "floor", "thresholds", "views", "patches",
    "known_images", "known_distance", "cues", "cue_min", "method", "head_lambda", "calibration",
    "local_features", "min_inliers", "local_top_k", "max_keypoints",
}
METHODS = ("head", "knn")
CALIBRATIONS = ("global", "per-label")
LOCAL_INTS = {"min_inliers": 15, "local_top_k": 5, "max_keypoints": 1000}
LOCAL_RANGES = {"min_inliers": (8, 10_000), "local_top_k": (1, 1000), "max_keypoints": (50, 20_000)}


@dataclass(frozen=True, slots=True)
class VisualOptions:
    """How references are matched. Defaults were chosen on the dev corpus (benchmarks/bench_visual.py)."""

    refs: Path | None = None
    model: str = "lite2"
    runtime: str = "auto"
    method: str = "head"  # head: logistic head fitted on the references at load | knn: nearest reference
    head_lambda: float = 1.0  # L2 penalty of the head
    calibration: str = "global"  # head threshold: one over all labels (global) or one per label
    k: int = 1  # k-NN: mean of the k best similarities to a label's references
    margin: float = 0.03  # restricted similarity must beat the best allowed one by this much
    floor: float = 0.55  # calibrated thresholds never go below this
    thresholds: Mapping[str, float] = field(default_factory=dict)  # per-label overrides
    views: tuple[str, ...] = ("full",)  # reference views matched (augmented views measured no better)
    patches: bool = False  # also match the query's 2x2 feature-map cells
    known_images: Path | None = None  # folder of known confidential files (default: <refs>/known)
    known_distance: int = 40  # max Hamming distance (of 256 bits) for visual.known_image
    cues: bool = True
    cue_min: float = 0.35  # summed ImageNet probability for a screen/document cue
    local_features: bool = True  # re-rank the embedding shortlist by SIFT + RANSAC inliers (visual/local.py)
    min_inliers: int = 15  # homography inliers for a local-feature match (unrelated pairs on dev: <= 7)
    local_top_k: int = 5  # references (nearest by embedding) verified per query
    max_keypoints: int = 1000  # SIFT keypoints kept per picture

    @property
    def known_dir(self) -> Path | None:
        if self.known_images is not None:
            return self.known_images
        return self.refs / "known" if self.refs is not None else None


def _float(table: Mapping[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    if key not in table:
        return default
    try:
        value = float(table[key])
    except (TypeError, ValueError):
        raise ConfigError(f"[visual] {key}: not a number: {table[key]!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"[visual] {key}: {value} is outside {lo}..{hi}")
    return value


def _path(value: Any, base: Path | None) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() or base is None else base / path


def parse_options(settings: Settings) -> VisualOptions:
    """`--refs` (settings.refs) wins over `[visual] refs`; relative paths are taken from the policy file's folder."""
    table: Mapping[str, Any] = settings.sections.get("visual", {})
    unknown = set(table) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"[visual] unknown keys: {', '.join(sorted(unknown))}")
    base = Path(settings.policy_path).parent if settings.policy_path else None
    refs = settings.refs or (_path(table["refs"], base) if table.get("refs") else None)
    if refs is not None and not refs.is_dir():
        raise ConfigError(f"reference folder {refs} does not exist or is not a folder")
    thresholds = table.get("thresholds", {})
    if not isinstance(thresholds, Mapping):
        raise ConfigError("[visual] thresholds: expected a table of label = similarity")
    parsed = {str(k): _float(thresholds, k, 0.0, 0.0, 1.0) for k in thresholds}
    views = tuple(str(v) for v in table.get("views", ("full",)))
    bad = [v for v in views if v not in VIEW_NAMES]
    if bad or not views or views[0] != "full":
        raise ConfigError(f"[visual] views: must start with 'full' and use {', '.join(VIEW_NAMES)}")
    try:
        k = int(table.get("k", 1))
        known_distance = int(table.get("known_distance", 40))
        local = {key: int(table.get(key, default)) for key, default in LOCAL_INTS.items()}
    except (TypeError, ValueError):
        raise ConfigError(f"[visual] k, known_distance, {', '.join(LOCAL_INTS)} must be integers") from None
    method = str(table.get("method", "head"))
    calibration = str(table.get("calibration", "global"))
    if method not in METHODS or calibration not in CALIBRATIONS:
        raise ConfigError(f"[visual] method must be one of {METHODS}, calibration one of {CALIBRATIONS}")
    if k < 1 or not 0 <= known_distance <= 128:
        raise ConfigError("[visual] k must be >= 1 and known_distance 0..128")
    for key, (lo, hi) in LOCAL_RANGES.items():
        if not lo <= local[key] <= hi:
            raise ConfigError(f"[visual] {key}: {local[key]} is outside {lo}..{hi}")
    if not isinstance(table.get("local_features", True), bool):
        raise ConfigError("[visual] local_features: expected true or false")
    return VisualOptions(
        refs=refs,
        model=str(table.get("model", "lite2")),
        runtime=str(table.get("runtime", "auto")),
        method=method,
        head_lambda=_float(table, "head_lambda", 1.0, 1e-4, 1e4),
        calibration=calibration,
        k=k,
        margin=_float(table, "margin", 0.03, -1.0, 1.0),
        floor=_float(table, "floor", 0.55, 0.0, 1.0),
        thresholds=MappingProxyType(parsed),
        views=views,
        patches=bool(table.get("patches", False)),
        known_images=_path(table["known_images"], base) if table.get("known_images") else None,
        known_distance=known_distance,
        cues=bool(table.get("cues", True)),
        cue_min=_float(table, "cue_min", 0.35, 0.0, 1.0),
        local_features=bool(table.get("local_features", True)),
        min_inliers=local["min_inliers"],
        local_top_k=local["local_top_k"],
        max_keypoints=local["max_keypoints"],
    )
