"""Outlook messages (.msg, an OLE file): sender, recipients, subject, dates, body text, and every
attachment (embedded .msg attachments as whole .msg children, expanded again by the pipeline).

Read in memory with the `extract_msg` package (imported lazily). An S/MIME message whose content is
opaque (encrypted or opaque-signed) is an error on the message: its headers are still reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.parser import HeaderParser
from email.policy import compat32
from typing import TYPE_CHECKING, Any

from ..errors import CorruptItem, ItemTooLarge, UnsupportedItem
from ..model import ErrorRecord, Item
from ..text.markup import html_to_text
from .base import Budget, Expansion, child, error, fields_item, safe_name, text_item
from .mail import ENCRYPTED_MESSAGE, Field, decode_text, header_fields

if TYPE_CHECKING:
    from ..config import Settings

# MAPI string properties that name people (MS-OXPROPS): creator and last modifier of the item
IDENTITY_STREAMS = {"__substg1.0_3FF8": "creator name", "__substg1.0_3FFA": "last modified by"}
OPAQUE_CLASS_SUFFIX = ".smime"  # IPM.Note.SMIME: encrypted or opaque-signed (MultipartSigned is readable)
HTML_STREAM = "__substg1.0_10130102"  # PR_HTML (binary)
MESSAGE_TYPES = ("MSG", "SIGNED_EMBEDDED")


def _open(data: bytes) -> Any:
    import extract_msg

    try:
        return extract_msg.openMsg(data, strict=False, delayAttachments=True)
    except Exception as exc:
        raise CorruptItem(f"Outlook message cannot be read ({type(exc).__name__})") from None


def _safe(read: Any, default: Any = None) -> Any:
    """One property of the message; a damaged property reads as absent (its error is not fatal)."""
    try:
        return read()
    except Exception:
        return default


class OutlookExpander:
    """application/vnd.ms-outlook -> fields (people, subject, date, transport headers), body text, attachments."""

    id = "outlook"
    kinds = frozenset({"application/vnd.ms-outlook"})

    def __init__(self, settings: Settings | None = None) -> None:
        del settings  # nothing to keep

    def expand(self, item: Item, budget: Budget) -> Expansion:
        msg = _open(item.data)
        try:
            yield from _expand(msg, item, budget)
        finally:
            _safe(msg.close)


def _expand(msg: Any, item: Item, budget: Budget) -> Expansion:
    opaque = str(_safe(lambda: msg.classType, "") or "").lower().endswith(OPAQUE_CLASS_SUFFIX)
    out: list[Item | ErrorRecord] = []
    names: list[Field] = []
    if opaque:
        out.append(error(UnsupportedItem(ENCRYPTED_MESSAGE), "expand"))
    else:
        out.extend(_attachments(msg, item, budget, names))
    found = fields_item(item, "properties", _unique([*_fields(msg), *names]))
    if found is not None:
        yield found
    body = text_item(item, "body", _texts(msg))
    if body is not None:
        yield body
    yield from out


def _unique(fields: list[Field]) -> list[Field]:
    """The fields in order, without a value repeated in one category (transport From and sender...)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for category, name, value in fields:
        if (category, value.strip()) not in seen:
            seen.add((category, value.strip()))
            out.append((category, name, value))
    return out


def _fields(msg: Any) -> Iterator[Field]:
    headers = _safe(lambda: msg.headerText)
    if headers:
        parsed = _safe(lambda: HeaderParser(policy=compat32).parsestr(str(headers)))
        if parsed is not None:
            yield from header_fields(parsed.items())
    yield "contact", "sender", str(_safe(lambda: msg.sender, "") or "")
    for recipient in _safe(lambda: msg.recipients, []) or []:
        kind = getattr(_safe(lambda r=recipient: r.type), "name", "recipient").lower()
        name, addr = _safe(lambda r=recipient: r.name, ""), _safe(lambda r=recipient: r.email, "")
        yield "contact", kind, f"{name or ''} <{addr or ''}>" if addr else str(name or "")
    yield "text", "subject", str(_safe(lambda: msg.subject, "") or "")
    date = _safe(lambda: msg.date)
    if date is not None:
        yield "time", "date", str(date)
    for stream, label in IDENTITY_STREAMS.items():
        yield "identity", label, str(_safe(lambda s=stream: msg.getStringStream(s), "") or "")


def _texts(msg: Any) -> list[str]:
    texts = [str(_safe(lambda: msg.subject, "") or ""), str(_safe(lambda: msg.body, "") or "")]
    html = _safe(lambda: msg.getStream(HTML_STREAM))  # the stored HTML body, not one made from the text
    if isinstance(html, bytes):
        texts.append(html_to_text(decode_text(html, "utf-8")))
    return texts


def _attachments(msg: Any, item: Item, budget: Budget, names: list[Field]) -> Iterator[Item | ErrorRecord]:
    try:
        attachments = list(msg.attachments)
    except Exception as exc:
        yield error(CorruptItem(f"attachments cannot be read ({type(exc).__name__})"), "expand")
        return
    counts = {"attachment": 0, "inline": 0}
    for att in attachments:
        name = _name(att, counts, names)
        try:
            data = _data(att)
        except (CorruptItem, UnsupportedItem) as exc:
            yield error(exc, "expand", name)
            continue
        if len(data) > budget.limits.max_member_bytes:
            yield error(ItemTooLarge(f"attachment of {len(data) / 1e6:.1f} MB is over the "
                                     f"{budget.limits.max_member_bytes / 1e6:.0f} MB cap"), "expand", name)
            continue
        budget.admit(len(data), what=name)
        yield child(item, name, data)


def _name(att: Any, counts: dict[str, int], names: list[Field]) -> str:
    filename = str(_safe(lambda: att.longFilename or att.name, "") or "")
    if filename:
        names.append(("other", "attachment filename", filename))
    cid = str(_safe(lambda: att.contentId, "") or "").strip().strip("<>")
    kind = "inline" if cid and _safe(lambda: att.hidden, False) else "attachment"
    counts[kind] += 1
    label = (cid if kind == "inline" else "") or filename.replace("\\", "/").split("/")[-1] or "part.bin"
    return safe_name(f"{kind}[{counts[kind]}]:{label}")


def _data(att: Any) -> bytes:
    """An attachment's bytes; an embedded message is exported whole as a .msg of its own."""
    kind = getattr(_safe(lambda: att.type), "name", "UNKNOWN")
    try:
        data = att.data
        if kind in MESSAGE_TYPES or (data is not None and not isinstance(data, bytes)):
            data = data.exportBytes()
    except Exception as exc:
        raise CorruptItem(f"attachment cannot be read ({type(exc).__name__})") from None
    if not isinstance(data, bytes):
        raise UnsupportedItem(f"attachment of type {kind.lower()} holds no readable data")
    return data


__all__ = ["OutlookExpander"]
