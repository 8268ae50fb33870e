"""The policy's `[faces]` table, validated once into frozen FaceOptions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import ConfigError

KNOWN_KEYS = {"min_score", "candidate_score", "confirm_score", "min_size", "consented", "match_distance", "badges"}
CONSENT_FOLDER = "consented"  # <refs>/consented/<name>/*.jpg


@dataclass(frozen=True, slots=True)
class FaceOptions:
    """When a face counts. Defaults chosen on the dev corpus (benchmarks/bench_faces.py, docs/people.md)."""

    min_score: float = 0.80  # detector score (0..1) at which a face is reported without a second look
    # a candidate from candidate_score up to min_score is reported only when the detector finds it again
    # in the mirrored picture at >= confirm_score (scanner/faces/confirm.py); candidate_score = min_score: off
    candidate_score: float = 0.60
    confirm_score: float = 0.70
    # a face whose longer side is smaller than this fraction of the picture's shorter side is a
    # bystander too small to identify and is not reported (posed or not: size is the only test)
    min_size: float = 0.02
    consented: Path | None = None  # folder of consented people (default <refs>/consented)
    match_distance: float = 0.45  # embedding distance at most this = the same person
    badges: bool = True  # look for an ID badge / name tag around each face (OCR of the card)


def _float(table: Mapping[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"[faces] {key}: not a number: {value!r}")
    if not lo <= float(value) <= hi:
        raise ConfigError(f"[faces] {key}: {value} is outside {lo}..{hi}")
    return float(value)


def _consent_folder(settings: Settings, table: Mapping[str, Any]) -> Path | None:
    """`[faces] consented` (relative to the policy file), else <refs>/consented when that folder exists."""
    if "consented" in table:
        if not isinstance(table["consented"], str) or not table["consented"]:
            raise ConfigError("[faces] consented: expected a folder path")
        path = Path(table["consented"]).expanduser()
        if not path.is_absolute() and settings.policy_path:
            path = Path(settings.policy_path).parent / path
        if not path.is_dir():
            raise ConfigError(f"[faces] consented: folder {path} does not exist")
        return path
    refs = settings.refs or _visual_refs(settings)
    folder = refs / CONSENT_FOLDER if refs is not None else None
    return folder if folder is not None and folder.is_dir() else None


def _visual_refs(settings: Settings) -> Path | None:
    value = settings.sections.get("visual", {}).get("refs")
    if not isinstance(value, str) or not value:
        return None
    path = Path(value).expanduser()
    return Path(settings.policy_path).parent / path if not path.is_absolute() and settings.policy_path else path


def parse_options(settings: Settings) -> FaceOptions:
    table: Mapping[str, Any] = settings.sections.get("faces", {})
    unknown = set(table) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"[faces] unknown keys: {', '.join(sorted(unknown))}")
    badges = table.get("badges", True)
    if not isinstance(badges, bool):
        raise ConfigError(f"[faces] badges: expected true or false, got {badges!r}")
    min_score = _float(table, "min_score", 0.80, 0.0, 1.0)
    candidate_score = _float(table, "candidate_score", min(0.60, min_score), 0.0, 1.0)
    if candidate_score > min_score:
        raise ConfigError(f"[faces] candidate_score: {candidate_score} is above min_score {min_score}")
    return FaceOptions(
        min_score=min_score,
        candidate_score=candidate_score,
        confirm_score=_float(table, "confirm_score", 0.70, 0.0, 1.0),
        min_size=_float(table, "min_size", 0.02, 0.0, 1.0),
        consented=_consent_folder(settings, table),
        match_distance=_float(table, "match_distance", 0.45, 0.0, 2.0),
        badges=badges,
    )
