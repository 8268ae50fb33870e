"""E-mail (.eml, message/rfc822): header fields, the body text, and every attachment and inline part as a child.

Parsed with the standard library only, in memory. A nested message is yielded whole (its bytes) so the
pipeline expands it again. An encrypted or opaque-signed S/MIME or PGP body cannot be read: it is an
error on the message (review), never an empty `approve`.
"""

from __future__ import annotations

import codecs
import contextlib
import email
import email.errors
import email.policy
import email.utils
import re
from collections.abc import Iterable, Iterator
from email.header import decode_header, make_header
from email.message import Message
from typing import TYPE_CHECKING

from ..errors import CorruptItem, ItemError, ItemTooLarge, UnsupportedItem
from ..formats import TEXT_KIND, UNKNOWN_KIND, sniff
from ..model import ErrorRecord, Item
from ..text.markup import html_to_text
from .base import Budget, Expansion, child, error, fields_item, safe_name, text_item
from .carried import carried

if TYPE_CHECKING:
    from ..config import Settings

Field = tuple[str, str, str]

# header name (lower case) -> field category; anything else in a mail header is not read
HEADER_CATEGORIES: dict[str, str] = {
    "from": "contact", "sender": "contact", "reply-to": "contact", "to": "contact", "cc": "contact",
    "bcc": "contact", "delivered-to": "contact", "return-path": "contact",
    "subject": "text", "date": "time", "x-mailer": "device", "user-agent": "device",
    "received": "other", "message-id": "other",
    "organization": "identity", "organisation": "identity", "x-originating-ip": "identity",
}
MACHINE_HEADERS = ("dkim-", "arc-", "authentication-results", "received-spf", "x-ms-", "x-microsoft-", "x-google-",
                   "x-gm-", "x-received", "x-forefront-", "x-ses-", "x-mailgun-", "x-spam", "x-virus",
                   "x-originatorg", "list-", "mime-version", "x-mimeole", "thread-index", "x-ms-exchange")
MAX_HEADERS = 500  # header lines read per message
MAX_HEADER_CHARS = 4000  # one header value, as a field
MAX_PART_DEPTH = 40  # multipart levels inside one message
ENCRYPTED_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime", "multipart/encrypted"})
SIGNATURE_TYPES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature",
                             "application/pgp-signature"})
BODY_TYPES = frozenset({"text/plain", "text/html"})
ENCRYPTED_MESSAGE = "encrypted message: content not analysed"
_BROKEN_B64 = (email.errors.InvalidBase64CharactersDefect, email.errors.InvalidBase64LengthDefect)
_BROKEN_MULTIPART = (email.errors.StartBoundaryNotFoundDefect, email.errors.CloseBoundaryNotFoundDefect,
                     email.errors.MultipartInvariantViolationDefect, email.errors.NoBoundaryInMultipartDefect)
KNOWN_ENCODINGS = frozenset({"", "7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "uuencode",
                             "x-uue", "uue"})  # what the standard library decodes; anything else is left as text
_MBOX_FROM = re.compile(rb"^From [^\r\n]*\r?\n", re.MULTILINE)
# what the standard library's e-mail package raises on hostile input
PARSE_ERRORS = (ValueError, TypeError, IndexError, KeyError, AttributeError, LookupError, AssertionError,
                RecursionError, email.errors.MessageError)
_RECEIVED_HOST = re.compile(r"\b(?:from|by)\s+([A-Za-z0-9.\-_:\[\]]+)", re.IGNORECASE)
_IP = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f]*:[0-9A-Fa-f:.]+)\]|\b((?:\d{1,3}\.){3}\d{1,3})\b")


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes of a text part as text; an unknown charset or a bad byte is replaced, never fatal."""
    try:
        codec = codecs.lookup(charset or "utf-8").name
    except LookupError:
        codec = "utf-8"
    try:
        return data.decode(codec, errors="replace")
    except PARSE_ERRORS:
        return data.decode("utf-8", errors="replace")


def header_value(raw: str) -> str:
    """A raw header value unfolded, with RFC 2047 encoded words decoded when they are well formed."""
    text = " ".join(str(raw).split())
    with contextlib.suppress(*PARSE_ERRORS):
        text = str(make_header(decode_header(text)))
    return text[:MAX_HEADER_CHARS]


def _received_hosts(value: str) -> str:
    hosts = [m.group(1).strip("[]").removeprefix("IPv6:") for m in _RECEIVED_HOST.finditer(value)]
    ips = [m.group(1) or m.group(2) for m in _IP.finditer(value)]
    return " ".join(dict.fromkeys(hosts + ips))


def header_fields(headers: Iterable[tuple[str, str]]) -> Iterator[Field]:
    """(category, header name, value) for the headers in HEADER_CATEGORIES, in their order, and every other
    header a person writes or a client shows (Comments, Keywords, Thread-Topic, X-Note...) as "other" for the text
    rules; relays' signatures and routing stamps (DKIM, ARC, anti-spam results) are machine text, left out."""
    for n, (name, raw) in enumerate(headers):
        if n >= MAX_HEADERS:
            return
        key = str(name).strip().lower()
        category = HEADER_CATEGORIES.get(key)
        if category is None:
            if key.startswith(MACHINE_HEADERS) or (key.startswith("content-") and key != "content-description"):
                continue
            category = "other"
        value = header_value(raw)
        yield category, str(name).strip(), _received_hosts(value) if category == "other" and \
            name.lower() == "received" else value


class EmailExpander:
    """message/rfc822 -> fields (addresses, subject, date, mailer, relays), body text, attachments."""

    id = "email"
    kinds = frozenset({"message/rfc822"})

    def __init__(self, settings: Settings | None = None) -> None:
        del settings  # nothing to keep: the parser has no options

    def expand(self, item: Item, budget: Budget) -> Expansion:
        starts = [m.start() for m in _MBOX_FROM.finditer(item.data)] if item.data.startswith(b"From ") else []
        if len(starts) > 1:  # an mbox file: each message on its own (the parser would read the first alone)
            for k, (start, end) in enumerate(zip(starts, [*starts[1:], len(item.data)], strict=True), 1):
                budget.admit(end - start, what=f"message[{k}]")
                yield child(item, f"message[{k}]", item.data[start:end])
            return
        msg = parse_message(item.data)
        walk = _Walk(item, budget)
        fields = list(header_fields(msg.raw_items()))
        out = list(walk.part(msg, 0))
        fields.extend(walk.fields)
        found = fields_item(item, "headers", fields)
        if found is not None:
            yield found
        subject = [v for c, n, v in fields if n.lower() == "subject"][:1]
        body = text_item(item, "body", subject + walk.texts + walk.hidden_texts)
        if body is not None:
            yield body
        yield from out


def parse_message(data: bytes) -> Message:
    try:
        return email.message_from_bytes(data, policy=email.policy.default)
    except PARSE_ERRORS as exc:
        raise CorruptItem(f"e-mail cannot be parsed ({type(exc).__name__})") from None


class _Walk:
    """One pass over a message's MIME tree: body texts collected, other parts yielded as children."""

    def __init__(self, item: Item, budget: Budget) -> None:
        self.item = item
        self.budget = budget
        self.texts: list[str] = []
        self.hidden_texts: list[str] = []  # multipart preambles and epilogues
        self.fields: list[Field] = []
        self.counts = {"attachment": 0, "inline": 0}

    def part(self, part: Message, depth: int) -> Iterator[Item | ErrorRecord]:
        try:
            yield from self._part(part, depth)
        except ItemTooLarge:
            raise
        except ItemError as exc:
            yield error(exc, "expand")
        except PARSE_ERRORS as exc:
            yield error(CorruptItem(f"e-mail part cannot be read ({type(exc).__name__})"), "expand")

    def _part(self, part: Message, depth: int) -> Iterator[Item | ErrorRecord]:
        ctype = part.get_content_type()
        if len(part.get_all("Content-Type", [])) > 1:  # readers disagree on which one counts
            yield error(CorruptItem("part has two Content-Type headers: other readers may see other content"),
                        "expand")
        if ctype.startswith("multipart/") and not part.is_multipart():  # no boundary: the parts cannot be found
            yield error(CorruptItem("multipart structure is damaged (no boundary): its parts were not read"),
                        "expand")
        encoding = _encoding(part)
        if encoding not in KNOWN_ENCODINGS and not part.is_multipart():
            yield error(UnsupportedItem(f"transfer encoding {encoding[:40]!r} cannot be decoded"), "expand")
            return
        if ctype in ENCRYPTED_TYPES:
            yield error(UnsupportedItem(ENCRYPTED_MESSAGE), "expand")
        elif ctype in SIGNATURE_TYPES:
            self.fields.append(("other", "signature", ctype))
        elif ctype == "message/rfc822":
            yield from self._nested(part)
        elif part.is_multipart():
            yield from self._multipart(part, depth)
        elif ctype in BODY_TYPES and part.get_content_disposition() != "attachment" and not part.get_filename():
            yield from self._body(part, ctype)
        else:
            yield from self._member(part)

    def _multipart(self, part: Message, depth: int) -> Iterator[Item | ErrorRecord]:
        if depth >= MAX_PART_DEPTH:
            raise CorruptItem(f"multipart nested deeper than {MAX_PART_DEPTH} levels")
        # text before the first boundary and after the last: clients hide it, the bytes travel with the message
        self.hidden_texts.extend(t for t in (part.preamble, part.epilogue) if isinstance(t, str) and t.strip())
        if any(isinstance(d, _BROKEN_MULTIPART) for d in part.defects):
            yield error(CorruptItem("multipart structure is damaged (boundary missing)"), "expand")
        payload = part.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if isinstance(sub, Message):
                yield from self.part(sub, depth + 1)

    def _body(self, part: Message, ctype: str) -> Iterator[Item | ErrorRecord]:
        try:
            data = self._decoded(part, "body text")
        except (ItemTooLarge, CorruptItem) as exc:
            yield error(exc, "expand", "body")
            return
        if data is None:
            return
        if sniff(data) not in (TEXT_KIND, UNKNOWN_KIND):  # a picture or a document sent as a "text" part
            name = self._name(part, "body.bin")
            self.budget.admit(len(data), what=name)
            yield child(self.item, name, data)
            return
        text = decode_text(data, part.get_content_charset())
        if str(part.get_param("format", "") or "").lower() == "flowed":  # RFC 3676: a line ending in a space goes on
            text = re.sub(r" \r?\n(?!-- \r?\n)", " ", text)
        if ctype == "text/html":  # the text kept is what a reader sees: files in its data: URIs go as children
            for out in carried(text, self.budget):
                yield error(out, "expand", "body") if isinstance(out, CorruptItem) else \
                    child(self.item, f"body:{out[0]}", out[1])
        self.texts.append(html_to_text(text) if ctype == "text/html" else text)

    def _decoded(self, part: Message, what: str) -> bytes | None:
        """The part's decoded bytes, or None after an error on it; never more than the member cap."""
        encoded = part.get_payload(decode=False)
        if not isinstance(encoded, str):
            return None
        cap = self.budget.limits.max_member_bytes
        if len(encoded) * 3 // 4 > cap:  # decoded base64 is 3/4 of its text; other encodings no bigger
            raise ItemTooLarge(f"{what} of about {len(encoded) * 3 // 4 / 1e6:.1f} MB is over the "
                               f"{cap / 1e6:.0f} MB cap")
        before = len(part.defects)
        data = part.get_payload(decode=True)
        broken = [d for d in part.defects[before:] if isinstance(d, _BROKEN_B64)]
        if broken:
            lost = any(isinstance(d, email.errors.InvalidBase64LengthDefect) for d in broken)
            raise CorruptItem(f"{what}: base64 is malformed ({type(broken[0]).__name__})"
                              + (": not decoded" if lost else ""))
        return data if isinstance(data, bytes) else None

    def _name(self, part: Message, fallback: str) -> str:
        disposition = part.get_content_disposition()
        cid = str(part.get("Content-ID", "") or "").strip().strip("<>")
        filename = part.get_filename()
        if filename:
            self.fields.append(("other", "attachment filename", header_value(filename)))
        named = part.get_param("name")  # Content-Type's name: what a client shows when the disposition's is ignored
        if named is not None:
            other = header_value(email.utils.collapse_rfc2231_value(named))
            if other != header_value(filename or ""):
                self.fields.append(("other", "attachment name", other))
        kind = "inline" if disposition == "inline" or (cid and disposition != "attachment") else "attachment"
        self.counts[kind] += 1
        label = (cid if kind == "inline" and cid else "") or filename or fallback
        base = re.split(r"[\\/]", label)[-1] or fallback
        return safe_name(f"{kind}[{self.counts[kind]}]:{base}")

    def _member(self, part: Message) -> Iterator[Item | ErrorRecord]:
        name = self._name(part, "part.bin")
        try:
            data = self._decoded(part, "attachment")
        except (ItemTooLarge, CorruptItem) as exc:
            yield error(exc, "expand", name)
            return
        if data is None:
            yield error(CorruptItem("part has no readable content"), "expand", name)
            return
        self.budget.admit(len(data), what=name)
        yield child(self.item, name, data)

    def _nested(self, part: Message) -> Iterator[Item | ErrorRecord]:
        name = self._name(part, "message.eml")
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(inner, Message):
            yield error(CorruptItem("attached message is empty or malformed"), "expand", name)
            return
        encoding = _encoding(part)
        if encoding in ("base64", "quoted-printable"):  # the parser read the encoded text as the message
            decoded = _decoded_text(inner.get_payload(), encoding)
            if decoded is None:
                yield error(CorruptItem(f"attached message: {encoding} is malformed"), "expand", name)
                return
            inner = parse_message(decoded)
        data = inner.as_bytes()
        if len(data) > self.budget.limits.max_member_bytes:
            yield error(ItemTooLarge(f"attached message of {len(data) / 1e6:.1f} MB is over the cap"), "expand",
                        name)
            return
        self.budget.admit(len(data), what=name)
        yield child(self.item, name, data)


def _encoding(part: Message) -> str:
    return str(part.get("Content-Transfer-Encoding", "") or "").strip().lower()


def _decoded_text(payload: object, encoding: str) -> bytes | None:
    """An attached message's text as its transfer encoding gives it (None when that does not decode)."""
    import base64
    import binascii
    import quopri

    if not isinstance(payload, str):
        return None
    raw = payload.encode("ascii", "replace")
    try:
        return base64.b64decode(b"".join(raw.split()), validate=True) if encoding == "base64" else \
            quopri.decodestring(raw)
    except (binascii.Error, ValueError):
        return None
