"""Rule tables: scanner/rules/text.toml (shipped) merged with the policy's [text] table.

Policy keys: `codenames`, `customers` (lists of names), `patterns` (array of tables with `id`,
`regex`, optional `severity`, `message`), `disable` (rule ids), `severity` (rule id -> level).
Unknown keys and bad regexes are ConfigErrors, raised when the detector is built.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..config import did_you_mean
from ..errors import ConfigError
from ..model import Region, Severity
from .normalize import fold, skeleton
from .page import Hit

POLICY_KEYS = {"codenames", "customers", "patterns", "disable", "severity"}
PATTERN_KEYS = {"id", "regex", "severity", "message"}
RULE_IDS: tuple[str, ...] = (
    "text.payment_card",
    "text.iban",
    "text.email",
    "text.phone",
    "text.secret",
    "text.codename",
    "text.receipt",
    "text.pos_screen",
    "text.whiteboard",
    "text.sticky_notes",
    "text.national_id",
    "text.person_name",
)


@dataclass(frozen=True, slots=True)
class Group:
    """One family of receipt/POS signals: counts once with its weight."""

    name: str
    weight: float
    pattern: re.Pattern[str] | None = None
    specific: bool = False
    keypad_min: int = 0


@dataclass(frozen=True, slots=True)
class ScoreSpec:
    threshold: float
    price_weight: float
    price_cap: float
    groups: tuple[Group, ...]


@dataclass(frozen=True, slots=True)
class Pattern:
    """An extra regex rule from the policy."""

    rule_id: str
    regex: re.Pattern[str]
    severity: Severity
    message: str


@dataclass(frozen=True, slots=True)
class Name:
    """A codename or customer name and its confusion-folded skeleton."""

    name: str
    kind: str  # "codename" | "customer"
    skeleton: str


@dataclass(frozen=True, slots=True)
class TextRules:
    severity: Mapping[str, Severity]
    disabled: frozenset[str]
    card_context: re.Pattern[str]
    phone_regions: tuple[str, ...]
    phone_context: re.Pattern[str]
    secret_keywords: re.Pattern[str]
    otp_keywords: re.Pattern[str]
    stopwords: frozenset[str]
    tokens: tuple[tuple[str, re.Pattern[str]], ...]
    names: tuple[Name, ...]
    fuzzy_min_length: int
    receipt: ScoreSpec
    pos_screen: ScoreSpec
    patterns: tuple[Pattern, ...] = field(default=())
    national_context: Mapping[str, re.Pattern[str]] = field(default_factory=dict)  # kind -> context words
    phone_not_context: re.Pattern[str] = field(default_factory=lambda: keyword_regex([]))  # phones.py
    person_labels: re.Pattern[str] = field(default_factory=lambda: keyword_regex([]))  # [person_name] (people.py)
    person_closings: re.Pattern[str] = field(default_factory=lambda: keyword_regex([]))
    person_titles: re.Pattern[str] = field(default_factory=lambda: keyword_regex([]))
    not_names: frozenset[str] = frozenset()
    hash_key: bytes = field(default=b"", repr=False)  # keys evidence hashes (mask.digest); set by load_rules

    def hit(self, rule_id: str, conf: float, message: str, box: Region | None, **evidence: object) -> Hit:
        """A Hit with this policy's severity for the rule; evidence keeps only plain values."""
        ev = {k: v for k, v in evidence.items() if isinstance(v, str | int | float | bool)}
        return Hit(rule_id, self.severity.get(rule_id, Severity.MEDIUM), conf, message, box, ev)

    def enabled(self, rule_id: str) -> bool:
        return rule_id not in self.disabled


def keyword_regex(words: Sequence[str]) -> re.Pattern[str]:
    """Whole-word, case-insensitive alternation over folded keywords (longest first)."""
    alts = sorted({re.escape(fold(w).lower()) for w in words if w.strip()}, key=len, reverse=True)
    if not alts:
        return re.compile(r"(?!x)x")
    return re.compile(r"(?<![^\W_])(?:" + "|".join(alts) + r")(?![^\W_])", re.IGNORECASE)


def _compile(regex: str, origin: str) -> re.Pattern[str]:
    try:
        return re.compile(regex)
    except re.error as exc:
        raise ConfigError(f"{origin}: invalid regex: {exc}") from None


def _spec(table: Mapping[str, Any], origin: str) -> ScoreSpec:
    groups = []
    for name, g in table.get("groups", {}).items():
        pattern = None
        if "words" in g:
            pattern = keyword_regex(g["words"])
        elif "regex" in g:
            pattern = _compile(g["regex"], f"{origin}.groups.{name}")
        groups.append(
            Group(name, float(g["weight"]), pattern, bool(g.get("specific", False)), int(g.get("keypad_min", 0)))
        )
    return ScoreSpec(float(table["threshold"]), float(table["price_weight"]), float(table["price_cap"]), tuple(groups))


def _detect_secrets_tokens(names: Sequence[str]) -> list[tuple[str, re.Pattern[str]]]:
    """The denylist regexes of detect-secrets plugins (their class docstrings name them)."""
    import importlib

    out: list[tuple[str, re.Pattern[str]]] = []
    for ref in names:
        module, _, cls_name = ref.partition(":")
        try:
            cls = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), cls_name)
        except (ImportError, AttributeError):
            continue  # an older detect-secrets without this plugin; the others still apply
        label = str(getattr(cls, "secret_type", cls_name))
        out.extend((label, rx) for rx in getattr(cls, "denylist", ()))
    return out


def _strings(section: Mapping[str, Any], key: str) -> list[str]:
    values = section.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"[text] {key} must be a list of strings, not {values!r}")
    return values


def pattern_ids(section: Mapping[str, Any]) -> list[str]:
    """The rule ids the policy's `[[text.patterns]]` declare (validated by load_rules)."""
    patterns = section.get("patterns", [])
    if not isinstance(patterns, list):
        return []
    return [p["id"] for p in patterns if isinstance(p, Mapping) and isinstance(p.get("id"), str)]


def _check_ids(ids: Sequence[str], known: Sequence[str], origin: str) -> None:
    for rule_id in ids:
        if rule_id not in known:
            raise ConfigError(f'{origin} "{rule_id}": unknown text rule id{did_you_mean(rule_id, known)}')


def _severities(section: Mapping[str, Any], known: Sequence[str]) -> dict[str, Severity]:
    table = section.get("severity", {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"[text] severity must be a table of rule id = level, not {table!r}")
    _check_ids(list(table), known, "[text.severity]")
    out = {}
    for rule_id, level in table.items():
        try:
            if not isinstance(level, str):
                raise ValueError(f"expected a word in quotes, got {level!r}")
            out[rule_id] = Severity.parse(level)
        except ValueError as exc:
            raise ConfigError(f"[text.severity] {rule_id}: {exc}") from None
    return out


def _names(section: Mapping[str, Any], key: str, kind: str) -> list[Name]:
    values = _strings(section, key)
    out = []
    for v in values:
        sk = skeleton(v)
        if len(sk) < 3:
            raise ConfigError(f"[text] {key}: {v!r} is too short to match safely (3+ letters)")
        out.append(Name(v.strip(), kind, sk))
    return out


def _pattern(p: Any, origin: str) -> Pattern:
    if not isinstance(p, Mapping) or "id" not in p or "regex" not in p:
        raise ConfigError(f"{origin}: needs `id` and `regex`")
    unknown = set(p) - PATTERN_KEYS
    if unknown:
        raise ConfigError(f"{origin}: unknown keys: {', '.join(sorted(unknown))}")
    if not all(isinstance(p.get(k, ""), str) for k in PATTERN_KEYS):
        raise ConfigError(f"{origin}: {', '.join(sorted(PATTERN_KEYS))} must be strings")
    rule_id = p["id"]
    if not rule_id.startswith("text.") or rule_id in RULE_IDS:
        raise ConfigError(f"{origin}: id must start with 'text.' and not reuse a built-in id")
    try:
        sev = Severity.parse(p.get("severity", "medium"))
    except ValueError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    return Pattern(rule_id, _compile(p["regex"], origin), sev, p.get("message", rule_id))


def _patterns(section: Mapping[str, Any]) -> list[Pattern]:
    patterns = section.get("patterns", [])
    if not isinstance(patterns, list):
        raise ConfigError("[text] patterns must be an array of tables ([[text.patterns]])")
    return [_pattern(p, f"[[text.patterns]] #{i + 1}") for i, p in enumerate(patterns)]


def load_rules(section: Mapping[str, Any] | None = None, hash_key: bytes | None = None) -> TextRules:
    """Built-in tables plus the policy's [text] table (`Settings.sections.get("text")`).

    `hash_key` keys the evidence hashes (`Settings.hash_key`, one per scan); a random one by default.
    """
    section = dict(section or {})
    unknown = set(section) - POLICY_KEYS
    if unknown:
        first = min(unknown)
        raise ConfigError(f"[text] unknown keys: {', '.join(sorted(unknown))}{did_you_mean(first, POLICY_KEYS)}")
    data = tomllib.loads(resources.files("scanner").joinpath("rules", "text.toml").read_text("utf-8"))
    severity = {f"text.{k}": Severity.parse(v["severity"]) for k, v in data.items() if "severity" in v}
    severity["text.whiteboard"] = Severity.MEDIUM
    severity["text.sticky_notes"] = Severity.MEDIUM
    patterns = _patterns(section)
    known = RULE_IDS + tuple(p.rule_id for p in patterns)
    severity.update(_severities(section, known))
    disabled = _strings(section, "disable")
    _check_ids(disabled, known, "[text] disable")
    secret = data["secret"]
    tokens = _detect_secrets_tokens(secret.get("detect_secrets_plugins", []))
    tokens += [(t["name"], _compile(t["regex"], f"secret.tokens {t['name']}")) for t in secret.get("tokens", [])]
    return TextRules(
        severity=severity,
        disabled=frozenset(disabled),
        card_context=keyword_regex(data["payment_card"]["context"]),
        phone_regions=tuple(data["phone"]["regions"]),
        phone_context=keyword_regex(data["phone"]["context"]),
        secret_keywords=keyword_regex(secret["keywords"]),
        otp_keywords=keyword_regex(secret["otp_keywords"]),
        stopwords=frozenset(fold(w).lower() for w in secret["stopwords"]),
        tokens=tuple(tokens),
        names=tuple(_names(section, "codenames", "codename") + _names(section, "customers", "customer")),
        fuzzy_min_length=int(data["codename"]["fuzzy_min_length"]),
        receipt=_spec(data["receipt"], "receipt"),
        pos_screen=_spec(data["pos_screen"], "pos_screen"),
        patterns=tuple(patterns),
        national_context={k: keyword_regex(v) for k, v in data["national_id"]["context"].items()},
        phone_not_context=keyword_regex(data["phone"]["not_context"]),
        person_labels=keyword_regex(data["person_name"]["labels"]),
        person_closings=keyword_regex(data["person_name"]["closings"]),
        person_titles=keyword_regex(data["person_name"]["titles"]),
        not_names=frozenset(fold(w).lower() for w in data["person_name"]["not_names"]),
        hash_key=hash_key or os.urandom(32),
    )
