"""Bearer tokens: read from a file (one per line) and LEAKSCAN_TOKENS (comma-separated), checked in constant time."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import ConfigError

TOKENS_ENV = "LEAKSCAN_TOKENS"
MIN_TOKEN_CHARS = 16  # a guessable token is worse than none: refuse it at start-up
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
BEARER = "bearer "


def load_tokens(token_file: str | None, env: Mapping[str, str]) -> tuple[str, ...]:
    """Tokens from `token_file` (blank lines and `#` comments skipped) and LEAKSCAN_TOKENS; too short: ConfigError."""
    found: list[str] = []
    if token_file:
        try:
            text = Path(token_file).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the token file: {type(exc).__name__}") from None
        found += [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    found += [t.strip() for t in env.get(TOKENS_ENV, "").split(",") if t.strip()]
    for number, token in enumerate(found, 1):  # never quote a token in an error message
        if len(token) < MIN_TOKEN_CHARS or not token.isprintable() or " " in token:
            raise ConfigError(f"token {number} is shorter than {MIN_TOKEN_CHARS} characters or has spaces")
    return tuple(dict.fromkeys(found))


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or a loopback name; anything else (0.0.0.0, a LAN address, a hostname) is not."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_auth_config(tokens: Sequence[str], no_auth: bool, host: str) -> None:
    """Refuse to serve without a token, unless --no-auth on a loopback address."""
    if no_auth and not is_loopback(host):
        raise ConfigError("--no-auth is only allowed on a loopback address (127.0.0.1, ::1, localhost)")
    if not no_auth and not tokens:
        raise ConfigError(f"no API token: give --token-file FILE or set {TOKENS_ENV} (or --no-auth on loopback)")


def authorized(header: str | None, tokens: Sequence[str]) -> bool:
    """True when `Authorization: Bearer <t>` names one of `tokens` (every token compared, in constant time)."""
    if not header or header[: len(BEARER)].lower() != BEARER:
        return False
    given = header[len(BEARER):].strip().encode()
    matched = False
    for token in tokens:  # no early exit: the time does not tell which token nearly matched
        matched |= hmac.compare_digest(given, token.encode())
    return matched
