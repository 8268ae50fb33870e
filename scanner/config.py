"""Settings (frozen), built once from the policy TOML, the environment and flags, in that order.

Every setting is declared in SETTINGS (name, default, environment variable, help); a test fails
when one is missing from the docs. Detector-specific tables of the policy file (`[text]`,
`[visual]`, ...) travel untouched in `Settings.sections` and are validated by their detector.
"""

from __future__ import annotations

import difflib
import importlib.util
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .model import Decision, Severity
from .policy import Policy, parse_policy

if TYPE_CHECKING:
    from .containers.base import Limits
from .text_safety import printable

POLICY_FILE_NAME = "leakscan.toml"
KNOWN_TABLES = {"decisions", "rules", "sites", "limits", "scan"}
ACTION_TABLES = frozenset({"fix"})  # read (and validated) by scanner.actions, not by a detector
NOTICE_MAX_CHARS = 1000  # per stderr line of policy_notice
SUGGEST_CUTOFF = 0.75  # difflib similarity for a "did you mean" (metdata.gps -> metadata.gps: 0.96)
AUDIT_OFF = "off"
OCR_DET_SIDE_MIN, OCR_DET_SIDE_MAX = 320, 4000  # smaller misses receipt lines; the picture is <= 2000 px anyway
LANGUAGES = re.compile(r"[A-Za-z0-9_/-]+(?:\+[A-Za-z0-9_/-]+)*")


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


def _number(value: Any) -> float:
    """A finite number: an int or float from TOML, or the text of an environment variable or flag."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError("must be a finite number")
    return x


def _whole(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        x = _number(value)
        if not x.is_integer():
            raise ValueError("must be a whole number")
        if x < minimum:
            raise ValueError(f"must be >= {minimum}")
        return int(x)

    return parse


def _positive_float(value: Any) -> float:
    x = _number(value)
    if x <= 0:
        raise ValueError("must be > 0")
    return x


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value).strip().lower()
        if text not in options:
            raise ValueError(f"one of {', '.join(options)}")
        return text

    return parse


def _ocr_backend(value: Any) -> str:
    """auto, onnxruntime or openvino; asking for OpenVINO without it installed is a usage error."""
    backend = _choice("auto", "onnxruntime", "openvino")(value)
    if backend == "openvino" and importlib.util.find_spec("openvino") is None:
        raise ValueError("openvino is not installed (pip install 'leakscan[openvino]'), or use onnxruntime")
    return backend


def _det_side(value: Any) -> int:
    """0 (the picture as decoded) or a longest side of OCR_DET_SIDE_MIN..OCR_DET_SIDE_MAX pixels."""
    side = _whole(0)(value)
    if side and not OCR_DET_SIDE_MIN <= side <= OCR_DET_SIDE_MAX:
        raise ValueError(f"0 or {OCR_DET_SIDE_MIN}..{OCR_DET_SIDE_MAX} pixels")
    return side


def _rec_width(value: Any) -> int:
    """The narrowest recognition input, 48..960 pixels (one text-line height to three times RapidOCR's 320)."""
    width = _whole(48)(value)
    if width > 960:
        raise ValueError("48..960 pixels")
    return width


def _languages(value: Any) -> str:
    text = _text(value).strip()
    if not LANGUAGES.fullmatch(text):
        raise ValueError("Tesseract language names joined by '+', e.g. eng+deu")
    return text


def _names(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError("expected a list of names or a comma-separated string")
    names = tuple(i.strip() for i in items if i.strip())
    if not names:
        raise ValueError("names at least one detector (or all)")
    return names


def _optional_path(value: Any) -> Path | None:
    if value is None:
        return None
    return Path(_text(value)).expanduser() if value != "" else None


def _audit_db(value: Any) -> str | None:
    """A path (~ expanded), or "off" when the value is "" or "off" (no audit trail)."""
    if value is None:
        return None
    text = _text(value).strip()
    return AUDIT_OFF if text.lower() in ("", AUDIT_OFF) else os.path.expanduser(text)


SETTINGS: tuple[Setting, ...] = (
    Setting("jobs", 0, _whole(0), "worker processes, one thread each; 0 = number of cores"),
    Setting("detectors", ("all",), _names, "detector ids to run (metadata, visual, text, faces) or all"),
    Setting("device", "auto", _choice("auto", "cpu", "cuda"), "where models run: auto picks cuda when present"),
    Setting("batch_size", 16, _whole(1), "images per model batch"),
    Setting("ocr_engine", "auto", _choice("auto", "tesseract", "rapidocr", "both"), "OCR back end"),
    Setting("ocr_lang", "eng+nld+deu", _languages, "Tesseract language data to use"),
    Setting("exiftool", "auto", _choice("auto", "on", "off"),
            "ExifTool as a second GPS reader (-stay_open, one per worker): auto uses it when installed"),
    Setting("ocr_backend", "auto", _ocr_backend, "RapidOCR inference: auto (onnxruntime), onnxruntime, openvino"),
    Setting("ocr_det_side", 736, _det_side, "cap on the side RapidOCR's text detection sees; 0 = none"),
    Setting("ocr_det_recheck", 4, _whole(0),
            "fewer text lines than this read under the detection cap: detect again on the whole picture; 0 = never"),
    Setting("ocr_rec_batch", 6, _whole(1), "text lines per RapidOCR recognition call (apart from batch_size)"),
    Setting("ocr_rec_width", 160, _rec_width, "narrowest RapidOCR recognition input, pixels (screens: >= 320)"),
    Setting("ocr_alphabet", "latin", _choice("latin", "full"),
            "RapidOCR recognition classes: latin (no Han, Kana, Hangul: what the rules read) or full"),
    Setting("refs", None, _optional_path, "reference photo folder (restricted/<label>, allowed/<label>)"),
    Setting("cache_dir", None, _optional_path, "where derived data (reference embeddings) is cached"),
    Setting("audit_db", None, _audit_db, "SQLite audit trail of every decision; default under $XDG_DATA_HOME; off"),
    Setting("max_file_mb", 200.0, _positive_float, "files larger than this are not analysed (review)", "limits"),
    Setting("max_megapixels", 120.0, _positive_float, "images with more pixels are not decoded (review)", "limits"),
    Setting("max_metadata_kb", 4096.0, _positive_float, "metadata blocks larger than this are not parsed", "limits"),
    Setting("timeout_s", 120.0, _positive_float, "per-file analysis time limit (review when exceeded)", "limits"),
    Setting("max_batch_mb", 256.0, _positive_float, "file bytes one worker holds at once (batches split)", "limits"),
    Setting("max_depth", 5, _whole(0), "container levels opened below a file (a ZIP in a ZIP is 2)", "limits"),
    Setting("max_members", 10_000, _whole(1), "items one file may expand into, all levels together", "limits"),
    Setting("max_expanded_mb", 1000.0, _positive_float, "bytes one file may expand into, all levels", "limits"),
    Setting("max_ratio", 200.0, _positive_float, "expanded/compressed size of one member (zip bombs)", "limits"),
)


_DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}  # declared once, in SETTINGS


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a scan needs to know, immutable and passed down (never a global)."""

    policy: Policy = field(default_factory=Policy)
    jobs: int = _DEFAULTS["jobs"]
    detectors: tuple[str, ...] = _DEFAULTS["detectors"]
    device: str = _DEFAULTS["device"]
    batch_size: int = _DEFAULTS["batch_size"]
    ocr_engine: str = _DEFAULTS["ocr_engine"]
    ocr_lang: str = _DEFAULTS["ocr_lang"]
    exiftool: str = _DEFAULTS["exiftool"]
    ocr_backend: str = _DEFAULTS["ocr_backend"]
    ocr_det_side: int = _DEFAULTS["ocr_det_side"]
    ocr_det_recheck: int = _DEFAULTS["ocr_det_recheck"]
    ocr_rec_batch: int = _DEFAULTS["ocr_rec_batch"]
    ocr_rec_width: int = _DEFAULTS["ocr_rec_width"]
    ocr_alphabet: str = _DEFAULTS["ocr_alphabet"]
    refs: Path | None = _DEFAULTS["refs"]
    cache_dir: Path | None = _DEFAULTS["cache_dir"]
    audit_db: str | None = _DEFAULTS["audit_db"]  # None: the default location; "off": no audit trail
    max_file_mb: float = _DEFAULTS["max_file_mb"]
    max_megapixels: float = _DEFAULTS["max_megapixels"]
    max_metadata_kb: float = _DEFAULTS["max_metadata_kb"]
    timeout_s: float = _DEFAULTS["timeout_s"]
    max_batch_mb: float = _DEFAULTS["max_batch_mb"]
    max_depth: int = _DEFAULTS["max_depth"]
    max_members: int = _DEFAULTS["max_members"]
    max_expanded_mb: float = _DEFAULTS["max_expanded_mb"]
    max_ratio: float = _DEFAULTS["max_ratio"]
    policy_path: str | None = None
    policy_origin: str | None = None  # "--policy", "LEAKSCAN_POLICY" or "working directory"
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
    def audit_path(self) -> Path | None:
        """The audit database: audit_db, else $XDG_DATA_HOME/leakscan/audit.sqlite; None when "off"."""
        if self.audit_db == AUDIT_OFF:
            return None
        if self.audit_db:
            return Path(self.audit_db)
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        return Path(base) / "leakscan" / "audit.sqlite"

    @property
    def limits(self) -> Limits:
        """How far containers are opened (one member may not exceed the file cap)."""
        from .containers.base import Limits  # not at import time: `leakscan --help` loads no expander

        return Limits(max_depth=self.max_depth, max_members=self.max_members,
                      max_member_bytes=int(self.max_file_mb * 1_000_000),
                      max_total_bytes=int(self.max_expanded_mb * 1_000_000), max_ratio=self.max_ratio)

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
        out["policy_origin"] = self.policy_origin
        out["disabled_rules"] = list(self.disabled_rules)
        out["relaxed"] = list(self.relaxations)
        out["sites"] = [s.name for s in self.policy.sites]
        return out

    @property
    def disabled_rules(self) -> tuple[str, ...]:
        """Rule ids (or families) switched off: `[rules."<id>"] enabled = false` and `[text] disable`."""
        text_off = self.sections.get("text", {}).get("disable", [])
        extra = [r for r in text_off if isinstance(r, str)] if isinstance(text_off, list) else []
        return tuple(sorted({*self.policy.disabled_rules, *extra}))

    @property
    def relaxations(self) -> tuple[str, ...]:
        """Everything else that lets a finding through: approve-level severities, milder decisions, fewer detectors."""
        out = self.policy.relaxations() + _text_relaxations(self.sections.get("text", {}), self.policy)
        if "all" not in self.detectors:
            out.append(f"only these detectors run: {', '.join(self.detectors)}")
        return tuple(out)


def _text_relaxations(text: Mapping[str, Any], policy: Policy) -> list[str]:
    """`[text.severity]` entries that now approve (validated later, by the text rules)."""
    table = text.get("severity", {})
    if not isinstance(table, Mapping):
        return []
    levels = {r: v.strip().upper() for r, v in table.items() if isinstance(v, str)}
    return [f'[text.severity] "{r}" = {v.lower()} (approve)' for r, v in sorted(levels.items())
            if v in Severity.__members__ and policy.decisions[Severity[v]] == Decision.APPROVE]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean "metadata.gps"?)' for a misspelt id, else ''."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=SUGGEST_CUTOFF)
    return f' (did you mean "{close[0]}"?)' if close else ""


def policy_notice(settings: Settings) -> list[str]:
    """Lines for stderr: which policy file is in force, which rules it turns off, what else it relaxes.

    A leakscan.toml dropped into the working directory changes verdicts; it must never do so silently.
    Folder names and rule ids are untrusted: the lines carry no control characters.
    """
    if settings.policy_path is None:
        return []
    where = os.path.abspath(settings.policy_path)
    lines = [f"leakscan: policy file in force: {where} (from {settings.policy_origin or 'settings'})"]
    if settings.disabled_rules:
        lines.append(f"leakscan: the policy turns off: {', '.join(settings.disabled_rules)}")
    if settings.relaxations:
        lines.append(f"leakscan: the policy relaxes: {'; '.join(settings.relaxations)}")
    return [printable(line, NOTICE_MAX_CHARS) for line in lines]


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


def locate_policy_file(explicit: str | None, env: Mapping[str, str]) -> tuple[Path, str] | None:
    """The policy file and where it came from: --policy, else $LEAKSCAN_POLICY, else ./leakscan.toml."""
    if explicit:
        return Path(explicit), "--policy"
    if env.get("LEAKSCAN_POLICY"):
        return Path(env["LEAKSCAN_POLICY"]), "LEAKSCAN_POLICY"
    local = Path(POLICY_FILE_NAME)
    return (local, "working directory") if local.is_file() else None


def _check_tables(data: Mapping[str, Any]) -> None:
    """Every top-level entry is a table (or the [[sites]] array); [limits] and [scan] hold known keys only."""
    for key, value in data.items():
        if key == "sites":
            continue
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} = {value!r}: top-level keys must be tables ([{key}])")
    for table_name in ("limits", "scan"):
        known = {s.name for s in SETTINGS if s.table == table_name}
        unknown = set(data.get(table_name, {})) - known
        if unknown:
            name = min(unknown)
            raise ConfigError(f"[{table_name}] unknown keys: {', '.join(sorted(unknown))}{did_you_mean(name, known)}")


def build_settings(
    policy_file: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Policy file, then LEAKSCAN_* environment, then explicit overrides (flags) win."""
    env = os.environ if env is None else env
    found = locate_policy_file(policy_file, env)
    path, origin = found if found else (None, None)
    data = _read_toml(path) if path else {}
    _check_tables(data)
    values: dict[str, Any] = {}
    for s in SETTINGS:
        table = data.get(s.table, {})
        if s.name in table:
            values[s.name] = _parse_setting(s, table[s.name], f"[{s.table}]")
        if env.get(s.env):
            values[s.name] = _parse_setting(s, env[s.env], s.env)
        if overrides and overrides.get(s.name) is not None:
            values[s.name] = _parse_setting(s, overrides[s.name], "option")
    sections = {k: dict(v) for k, v in data.items() if k not in KNOWN_TABLES}
    return Settings(
        policy=parse_policy(data),
        policy_path=str(path) if path else None,
        policy_origin=origin,
        sections=dict(sections),
        **values,
    )
