"""Settings (frozen), built once from the policy TOML, the environment and flags, in that order.

Every setting is declared in SETTINGS (name, default, environment variable, help); a test fails
when one is missing from the docs. Detector-specific tables of the policy file (`[text]`,
`[visual]`, ...) travel untouched in `Settings.sections` and are validated by their detector.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .policy import Policy, parse_policy

POLICY_FILE_NAME = "leakscan.toml"
KNOWN_TABLES = {"decisions", "rules", "sites", "limits", "scan"}


@dataclass(frozen=True, slots=True)
class Setting:
    """Declaration of one setting: where it lives in the policy file and in the environment."""

    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    table: str = "scan"

    @property
    def env(self) -> str:
        return "LEAKSCAN_" + self.name.upper()


def _positive_int(value: Any) -> int:
    n = int(value)
    if n < 0:
        raise ValueError("must be >= 0")
    return n


def _positive_float(value: Any) -> float:
    x = float(value)
    if x <= 0:
        raise ValueError("must be > 0")
    return x


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in options:
            raise ValueError(f"one of {', '.join(options)}")
        return text

    return parse


def _names(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(i).strip() for i in items if str(i).strip())


def _optional_path(value: Any) -> Path | None:
    return Path(str(value)).expanduser() if value not in (None, "") else None


SETTINGS: tuple[Setting, ...] = (
    Setting("jobs", 0, _positive_int, "worker processes, one thread each; 0 = number of cores"),
    Setting("detectors", ("all",), _names, "detector ids to run (metadata, visual, text) or all"),
    Setting("device", "auto", _choice("auto", "cpu", "cuda"), "where models run: auto picks cuda when present"),
    Setting("batch_size", 16, _positive_int, "images per model batch"),
    Setting("ocr_engine", "auto", _choice("auto", "tesseract", "rapidocr", "both"), "OCR back end"),
    Setting("ocr_lang", "eng+nld+deu", str, "Tesseract language data to use"),
    Setting("refs", None, _optional_path, "reference photo folder (restricted/<label>, allowed/<label>)"),
    Setting("cache_dir", None, _optional_path, "where derived data (reference embeddings) is cached"),
    Setting("max_file_mb", 200.0, _positive_float, "files larger than this are not analysed (review)", "limits"),
    Setting("max_megapixels", 120.0, _positive_float, "images with more pixels are not decoded (review)", "limits"),
    Setting("max_metadata_kb", 4096.0, _positive_float, "metadata blocks larger than this are not parsed", "limits"),
    Setting("timeout_s", 120.0, _positive_float, "per-file analysis time limit (review when exceeded)", "limits"),
    Setting("max_batch_mb", 256.0, _positive_float, "file bytes one worker holds at once (batches split)", "limits"),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a scan needs to know, immutable and passed down (never a global)."""

    policy: Policy = field(default_factory=Policy)
    jobs: int = 0
    detectors: tuple[str, ...] = ("all",)
    device: str = "auto"
    batch_size: int = 16
    ocr_engine: str = "auto"
    ocr_lang: str = "eng+nld+deu"
    refs: Path | None = None
    cache_dir: Path | None = None
    max_file_mb: float = 200.0
    max_megapixels: float = 120.0
    max_metadata_kb: float = 4096.0
    timeout_s: float = 120.0
    max_batch_mb: float = 256.0
    policy_path: str | None = None
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # keys the evidence hashes of secrets; random per scan, shared with the workers, never reported
    hash_key: bytes = field(default_factory=lambda: os.urandom(32), repr=False, compare=False)

    @property
    def cache_path(self) -> Path:
        """Where derived data is cached: cache_dir, else $XDG_CACHE_HOME/leakscan, else ~/.cache/leakscan."""
        if self.cache_dir:
            return self.cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "leakscan"

    @property
    def worker_count(self) -> int:
        return self.jobs or (os.cpu_count() or 1)

    def wants(self, detector_id: str) -> bool:
        return "all" in self.detectors or detector_id in self.detectors

    def to_dict(self) -> dict[str, Any]:
        """The settings used, for the JSON report (no secrets live here)."""
        out = {s.name: getattr(self, s.name) for s in SETTINGS}
        out["refs"] = str(self.refs) if self.refs else None
        out["cache_dir"] = str(self.cache_dir) if self.cache_dir else None
        out["detectors"] = list(self.detectors)
        out["policy_path"] = self.policy_path
        out["sites"] = [s.name for s in self.policy.sites]
        return out


def _parse_setting(setting: Setting, value: Any, origin: str) -> Any:
    try:
        return setting.parse(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: {setting.name}: invalid value {value!r} ({exc})") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read policy file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"policy file {path} is not valid TOML: {exc}") from None


def find_policy_file(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    if explicit:
        return Path(explicit)
    if env.get("LEAKSCAN_POLICY"):
        return Path(env["LEAKSCAN_POLICY"])
    local = Path(POLICY_FILE_NAME)
    return local if local.is_file() else None


def build_settings(
    policy_file: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Policy file, then LEAKSCAN_* environment, then explicit overrides (flags) win."""
    env = os.environ if env is None else env
    path = find_policy_file(policy_file, env)
    data = _read_toml(path) if path else {}
    values: dict[str, Any] = {}
    for s in SETTINGS:
        table = data.get(s.table, {})
        if isinstance(table, Mapping) and s.name in table:
            values[s.name] = _parse_setting(s, table[s.name], f"[{s.table}]")
        if env.get(s.env):
            values[s.name] = _parse_setting(s, env[s.env], s.env)
        if overrides and overrides.get(s.name) is not None:
            values[s.name] = _parse_setting(s, overrides[s.name], "option")
    for table_name in ("limits", "scan"):
        unknown = set(data.get(table_name, {})) - {s.name for s in SETTINGS if s.table == table_name}
        if unknown:
            raise ConfigError(f"[{table_name}] unknown keys: {', '.join(sorted(unknown))}")
    sections = {k: dict(v) for k, v in data.items() if k not in KNOWN_TABLES and isinstance(v, Mapping)}
    return Settings(
        policy=parse_policy(data),
        policy_path=str(path) if path else None,
        sections=dict(sections),
        **values,
    )
