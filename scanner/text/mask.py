"""Evidence that identifies without revealing: last four digits, first/last character, hash prefix."""

from __future__ import annotations

from ..text_safety import fingerprint


def digest(value: str, key: bytes) -> str:
    """A keyed hash (per-scan key) to correlate repeats of one secret without revealing it."""
    return fingerprint(value, key)


def secret(value: str) -> str:
    """'FidM236!' -> 'F******!'; values shorter than 6 characters are fully masked."""
    if len(value) < 6:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 2) + value[-1]


def email(value: str) -> str:
    local, _, domain = value.partition("@")
    return (local[:1] + "***@" + domain) if domain else secret(value)


def iban(value: str) -> str:
    compact = value.replace(" ", "").upper()
    return compact[:2] + "** **** " + compact[-4:]


def phone(value: str) -> str:
    digits = [c for c in value if c.isdigit()]
    return ("+" if value.strip().startswith("+") else "") + "*" * max(0, len(digits) - 3) + "".join(digits[-3:])
