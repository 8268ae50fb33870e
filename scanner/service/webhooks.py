"""Signed webhooks (Standard Webhooks): `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.

The signature is HMAC-SHA256 over "id.timestamp.body" with the shared secret; a secret written as
`whsec_<base64>` is the base64-decoded bytes (the Standard Webhooks form), any other is its UTF-8 bytes.
Delivery is retried with exponential backoff, a bounded number of times; only http(s) URLs are called.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ..errors import ConfigError

SECRET_ENV = "LEAKSCAN_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix)
ATTEMPT_TIMEOUT_S = 10.0
MAX_BACKOFF_S = 300.0
MIN_SECRET_BYTES = 16


def parse_secret(text: str) -> bytes:
    text = text.strip()
    raw = base64.b64decode(text[len(SECRET_PREFIX):]) if text.startswith(SECRET_PREFIX) else text.encode()
    if len(raw) < MIN_SECRET_BYTES:
        raise ConfigError(f"the webhook secret is shorter than {MIN_SECRET_BYTES} bytes")
    return raw


def load_secret(secret_file: str | None, env: dict[str, str] | None = None) -> bytes | None:
    """The secret from --webhook-secret-file, else LEAKSCAN_WEBHOOK_SECRET, else None (no callbacks then)."""
    if secret_file:
        try:
            return parse_secret(Path(secret_file).read_text("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"cannot read the webhook secret file: {type(exc).__name__}") from None
    value = (env or {}).get(SECRET_ENV)
    return parse_secret(value) if value else None


def sign(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def valid_callback(url: str) -> bool:
    """Only http(s) with a host: never file:, gopher: or a bare path."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@dataclass
class Delivery:
    """What happened to one webhook: attempts made and the final state (pending, delivered, failed)."""

    state: str = "pending"
    attempts: int = 0


async def deliver(url: str, msg_id: str, body: bytes, secret: bytes, attempts: int, backoff_s: float,
                  delivery: Delivery, on_attempt: Callable[[str], None] = lambda _: None) -> None:
    """POST `body` to `url` until a 2xx, at most `attempts` times, waiting backoff_s x 2^n in between."""
    async with httpx.AsyncClient(timeout=ATTEMPT_TIMEOUT_S, follow_redirects=False, trust_env=False) as client:
        for n in range(attempts):
            timestamp = int(time.time())
            headers = {"content-type": "application/json", "webhook-id": msg_id,
                       "webhook-timestamp": str(timestamp),
                       "webhook-signature": sign(secret, msg_id, timestamp, body)}
            delivery.attempts = n + 1
            try:
                response = await client.post(url, content=body, headers=headers)
                ok = 200 <= response.status_code < 300
            except httpx.HTTPError:
                ok = False
            on_attempt("delivered" if ok else "failed")
            if ok:
                delivery.state = "delivered"
                return
            if n + 1 < attempts:
                await asyncio.sleep(min(MAX_BACKOFF_S, backoff_s * 2**n))
    delivery.state = "failed"
