"""The policy: rule overrides, severity -> decision map, sites; findings + errors -> Verdict.

The policy alone decides. Detectors report what they saw with a default severity; the policy
may change a rule's severity or switch it off, maps each severity to a decision, and turns every
error into at least `review` (fail closed: `on_error` cannot be `approve`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ConfigError
from .model import Decision, ErrorRecord, Finding, Reason, Severity, Verdict

DEFAULT_DECISIONS: Mapping[Severity, Decision] = dict(
    {
        Severity.INFO: Decision.APPROVE,
        Severity.LOW: Decision.APPROVE,
        Severity.MEDIUM: Decision.REVIEW,
        Severity.HIGH: Decision.BLOCK,
        Severity.CRITICAL: Decision.BLOCK,
    }
)


DEFAULT_SITE_RADIUS_M = 250.0
SITE_KEYS = {"name", "lat", "lon", "radius_m"}


@dataclass(frozen=True, slots=True)
class Site:
    """A named place whose location must not be posted (a geofence)."""

    name: str
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class RuleOverride:
    severity: Severity | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Policy:
    decisions: Mapping[Severity, Decision] = field(default_factory=lambda: DEFAULT_DECISIONS)
    on_error: Decision = Decision.REVIEW
    rules: Mapping[str, RuleOverride] = field(default_factory=dict)
    sites: tuple[Site, ...] = ()

    def apply(self, finding: Finding) -> Finding | None:
        """The finding with the policy's severity for its rule, or None if the rule is off."""
        override = self._override(finding.rule_id)
        if override is None:
            return finding
        if not override.enabled:
            return None
        if override.severity is not None and override.severity != finding.severity:
            return replace(finding, severity=override.severity)
        return finding

    def enabled(self, rule_id: str) -> bool:
        """False when the policy switched the rule off: detectors may then skip the work."""
        override = self._override(rule_id)
        return override is None or override.enabled

    @property
    def disabled_rules(self) -> tuple[str, ...]:
        """Rule ids and families this policy switches off."""
        return tuple(sorted(r for r, o in self.rules.items() if not o.enabled))

    def relaxations(self) -> list[str]:
        """Overrides that let findings through: severities that now approve, decisions milder than the default."""
        out = [
            f'[rules."{r}"] severity = {o.severity.label} ({self.decisions[o.severity].label})'
            for r, o in sorted(self.rules.items())
            if o.enabled and o.severity is not None and self.decisions[o.severity] == Decision.APPROVE
        ]
        out += [
            f"[decisions] {sev.label} = {self.decisions[sev].label}"
            for sev in Severity
            if self.decisions[sev] < DEFAULT_DECISIONS[sev]
        ]
        return out

    def _override(self, rule_id: str) -> RuleOverride | None:
        # "text.secret" is governed by [rules."text.secret"], else by [rules."text"].
        parts = rule_id.split(".")
        for n in range(len(parts), 0, -1):
            hit = self.rules.get(".".join(parts[:n]))
            if hit is not None:
                return hit
        return None

    def decide(self, findings: Iterable[Finding], errors: Iterable[ErrorRecord]) -> Verdict:
        reasons: list[Reason] = []
        for f in findings:
            decision = self.decisions[f.severity]
            if decision > Decision.APPROVE:
                reasons.append(Reason(f.rule_id, decision, f.message, fix=f.fix))
        for e in errors:
            part = f" {e.location}" if e.location else ""  # a member the container could not open
            reasons.append(Reason(f"error.{e.code}", self.on_error, f"could not fully analyse{part}: {e.message}"))
        reasons.sort(key=lambda r: -r.decision)
        decision = max((r.decision for r in reasons), default=Decision.APPROVE)
        return Verdict(decision, tuple(reasons))

    @staticmethod
    def combine(own: Verdict, parts: Iterable[tuple[str, Verdict]]) -> Verdict:
        """A container's verdict: the strictest of its own and its parts' (location, verdict); every reason
        of a part is kept with the part's location, so a person sees where inside the file it is."""
        reasons = list(own.reasons)
        for location, verdict in parts:
            reasons += [replace(r, location=r.location or location) for r in verdict.reasons]
        reasons.sort(key=lambda r: -r.decision)
        return Verdict(max((r.decision for r in reasons), default=Decision.APPROVE), tuple(reasons))


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{key}] must be a table")
    return value


def _word(value: Any, origin: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{origin}: expected a word in quotes, got {type(value).__name__} {value!r}")
    return value


def _severity(value: Any, origin: str) -> Severity:
    try:
        return Severity.parse(_word(value, origin))
    except ValueError as exc:
        raise ConfigError(f"{origin}: {exc}") from None


def _decision(value: Any, origin: str) -> Decision:
    try:
        return Decision.parse(_word(value, origin))
    except ValueError as exc:
        raise ConfigError(f"{origin}: {exc}") from None


def _coordinate(spec: Mapping[str, Any], key: str, name: str, default: float | None = None) -> float:
    value = spec.get(key, default)
    if value is None:
        raise ConfigError(f"[[sites]] {name!r}: {key} is missing (sites need name, lat, lon and optionally radius_m)")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"[[sites]] {name!r}: {key} must be a finite number, not {value!r}")
    return float(value)


def _parse_decisions(table: Mapping[str, Any]) -> tuple[Mapping[Severity, Decision], Decision]:
    decisions = dict(DEFAULT_DECISIONS)
    on_error = Decision.REVIEW
    for key, value in table.items():
        decision = _decision(value, f"[decisions] {key}")
        if key == "on_error":
            on_error = decision
        else:
            decisions[_severity(key, "[decisions]")] = decision
    if on_error == Decision.APPROVE:
        raise ConfigError("[decisions] on_error cannot be 'approve': unreadable files must be reviewed")
    return dict(decisions), on_error


def _parse_rules(table: Mapping[str, Any]) -> Mapping[str, RuleOverride]:
    rules: dict[str, RuleOverride] = {}
    for rule_id, spec in table.items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f'[rules."{rule_id}"] must be a table')
        unknown = set(spec) - {"severity", "enabled"}
        if unknown:
            raise ConfigError(f'[rules."{rule_id}"] unknown keys: {", ".join(sorted(unknown))}')
        origin = f'[rules."{rule_id}"] severity'
        severity = _severity(spec["severity"], origin) if "severity" in spec else None
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f'[rules."{rule_id}"] enabled must be true or false, not {enabled!r}')
        rules[rule_id] = RuleOverride(severity, enabled)
    return dict(rules)


def _parse_site(spec: Any) -> Site:
    if not isinstance(spec, Mapping):
        raise ConfigError("[[sites]] entries must be tables")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"[[sites]] name must be a non-empty string, not {name!r}")
    unknown = set(spec) - SITE_KEYS
    if unknown:
        raise ConfigError(f"[[sites]] {name!r}: unknown keys: {', '.join(sorted(unknown))}")
    site = Site(name, _coordinate(spec, "lat", name), _coordinate(spec, "lon", name),
                _coordinate(spec, "radius_m", name, DEFAULT_SITE_RADIUS_M))
    if not (-90 <= site.lat <= 90 and -180 <= site.lon <= 180) or site.radius_m <= 0:
        raise ConfigError(f"[[sites]] {site.name!r}: lat/lon out of range or radius_m <= 0")
    return site


def parse_policy(data: Mapping[str, Any]) -> Policy:
    """Build a Policy from the parsed TOML document (validated here, early)."""
    decisions, on_error = _parse_decisions(_table(data, "decisions"))
    sites_raw = data.get("sites", [])
    if not isinstance(sites_raw, list):
        raise ConfigError("sites must be an array of tables ([[sites]])")
    return Policy(
        decisions=decisions,
        on_error=on_error,
        rules=_parse_rules(_table(data, "rules")),
        sites=tuple(_parse_site(s) for s in sites_raw),
    )
