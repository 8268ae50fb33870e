"""Making untrusted strings safe to show: control characters out, secrets masked or hashed."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, limit: int = 200) -> str:
    """One line, no control or bidi characters (terminal escapes, RTL tricks), at most `limit` chars."""
    text = _CONTROL.sub("", text.replace("\n", " ").replace("\t", " ").replace("\r", " "))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cs"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mask_tail(value: str, keep: int = 4) -> str:
    """`**** 4242`: all but the last `keep` characters hidden."""
    compact = re.sub(r"[\s-]", "", value)
    return "****" if len(compact) <= keep else f"**** {printable(compact[-keep:])}"


def fingerprint(value: str, key: bytes) -> str:
    """A keyed hash to tell secrets apart within one scan without showing them.

    Keyed (HMAC) with a random per-scan key, because a plain hash of a low-entropy value such as a
    card number, a PIN or a one-time code can be reversed by trying every candidate.
    """
    return "hmac:" + hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:16]
