"""A file -> the tree of items it holds: expanders open containers level by level, under one budget.

The root is the file as read. Each item an expander accepts (by kind) is opened and its children
(members, pictures, pages, text, metadata fields) join the tree, then are opened in turn, up to
`max_depth` levels. What cannot be opened is an error on that node (the policy makes it `review`);
the members already yielded are still scanned. Nothing here reads from or writes to the disk.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .config import Settings
from .containers.base import LOCATION_SEP, Budget, Expander, Limits
from .errors import ItemError, ItemTooLarge
from .model import ErrorRecord, Finding, Item
from .text import Hit, TextRules, load_rules
from .text.fields import field_hits
from .text.match import card_spellings


@dataclass(slots=True)
class Node:
    """One item of the tree; `parent` is an index into the tree's node list (None for the root)."""

    item: Item
    parent: int | None = None
    children: list[int] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # about the item's name inside its container
    expanded: bool = False


class NameGuard(Protocol):
    """Member names are untrusted text: in a child's location and in an error about a member."""

    def guard(self, item: Item) -> tuple[Item, list[Finding]]: ...

    def guard_record(self, record: ErrorRecord) -> tuple[ErrorRecord, list[Finding]]: ...


def expand_tree(root: Item, expanders: Mapping[str, Expander], limits: Limits,
                deadline: Callable[[], AbstractContextManager[None]], guard: NameGuard | None = None) -> list[Node]:
    """Every item under `root`, breadth first (the root first); each container opened under `deadline()`.

    `guard` sees every child as it is yielded, before it is opened in turn, and every error about a member the
    container could not open: a member name is untrusted text (a card number as a file name), so it may be
    replaced in the location (and the error's message) and reported as a finding on the container.
    """
    nodes = [Node(root)]
    budget = Budget(limits)
    i = 0
    while i < len(nodes):
        node, index = nodes[i], i
        i += 1
        expander = expanders.get(node.item.kind)
        if expander is None:
            continue
        node.expanded = getattr(expander, "covers", True)  # False: the item still needs a detector of its own
        if node.item.depth >= limits.max_depth:
            node.errors.append(_record(ItemTooLarge(f"nested {node.item.depth} levels deep: not opened "
                                                    f"(max_depth {limits.max_depth})"), node.item))
            continue
        try:
            with deadline():
                for out in _guarded(expander, node.item, budget):
                    if isinstance(out, ErrorRecord):
                        record, found = guard.guard_record(out) if guard is not None else (out, [])
                        node.errors.append(record)
                        node.findings.extend(found)
                    else:
                        item, found = guard.guard(out) if guard is not None else (out, [])
                        node.children.append(len(nodes))
                        nodes.append(Node(item, parent=index, findings=found))
        except ItemError as exc:
            node.errors.append(_record(exc, node.item))
    return nodes


def _guarded(expander: Expander, item: Item, budget: Budget) -> Iterator[Item | ErrorRecord]:
    """The expander's output; a bug or an unmapped library error in it is an error on the container."""
    try:
        yield from expander.expand(item, budget)
    except ItemError:
        raise
    except Exception as exc:  # fail closed; the type name only (a message may quote the file's content)
        yield ErrorRecord("internal", f"{expander.id} expander failed: {type(exc).__name__}", "expand", item.location)


def _record(exc: ItemError, item: Item) -> ErrorRecord:
    return ErrorRecord(exc.code, str(exc), "expand", item.location)


MASKED = "[name masked]"  # a member name the text rules hit, in an error about that member
PATH_SEP = "/"
FILE_NAME = "file name"  # the location of a finding about a file's own name
RENAME = "Rename it before sharing: the name travels with the file (a copy from `leakscan fix` keeps it)."
_EXTENSION = re.compile(r"\.(?=[0-9]*[A-Za-z])[A-Za-z0-9]{1,5}$")  # ".pdf", ".mp4"; not ".1111" (a card's last group)
_COPY_MARK = re.compile(r"(?:[ _-]\(?\d{1,3}\)?|[ _-]copy(?: \d{1,3})?)$", re.I)  # "x 2", "x (1)", "x_01", "x copy"
_ESCAPE = re.compile(r"\\\\|\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\U[0-9a-f]{8}")  # sources.display_path's escapes
# secret keywords that are ordinary words in a file name ("Boarding pass 2024.pdf", "Login-Page-v2.png"): a hit on
# one counts in a name only with ':' or '=' after it, or after the word or two that follow it ("wifi pass: x.png")
NAME_LOOSE_KEYWORDS = frozenset({"pass", "login", "wifi", "wi-fi", "wlan", "ssid", "pin", "token", "secret", "psk"})
NAME_MAX_RUN = 16  # a card number written as one run of digits in a name: longer runs are app ids (Telegram: 19)
# a name with two runs of this many digits is a string of ids (Instagram and Facebook: "<9>_<16>_<19>_n.jpg"), and a
# Luhn-valid run among them is chance (1 in 10); a date (8 digits) or a time (6) beside a card does not count
NAME_ID_RUN = 10
# what apps put before the id they name a saved picture by (underscores are spaces here): Messenger's "received_",
# Facebook's "FB_IMG_", cameras' and screenshot tools' prefixes
_APP_ID = re.compile(r"(?:^|\s)(?:received|fb img|img|vid|pxl|mvimg|photo|image|screenshot)[ -]?\d{13,19}(?!\d)", re.I)
# a UUID ("547d053e-0372-5113-acab-5c6111c1d2cf"): its digit groups are no phone number or card
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)


class MemberNames:
    """The text rules over names: a member's, or a file's own; a hit is a finding and the name is masked.

    A name travels with what it names (an attachment's file name, an upload's, an archive member's), so a hit
    in it is a finding; and the scanner must not print what it found, so the name is masked wherever it is
    shown: locations, reports, the result store and the audit trail.
    """

    def __init__(self, rules: TextRules, key: bytes) -> None:
        self.rules = rules
        self.key = key  # of the masked names' hashes: the scan's own (settings.hash_key), as for masked values
        self._part_hits = functools.lru_cache(maxsize=4096)(self._hits)  # a batch repeats its folders

    def guard(self, item: Item) -> tuple[Item, list[Finding]]:
        parent, sep, name = item.location.rpartition(LOCATION_SEP)
        found = self._findings(name, "a member")
        if not found:
            return item, []
        return replace(item, location=f"{parent}{sep}[name masked {item.sha256[:8]}]"), found

    def guard_record(self, record: ErrorRecord) -> tuple[ErrorRecord, list[Finding]]:
        """An error about a member that could not be opened names it too (an encrypted member, a broken
        attachment): the same rules over the name, masked in the location and wherever the message quotes it. A message
        that quotes the container's bytes (an unknown transfer encoding's header value) gets the rules too."""
        parent, sep, name = record.location.rpartition(LOCATION_SEP)
        found = self._findings(name, "a member")
        if found:
            message = record.message.replace(name, MASKED)
            if field_hits([message], self.rules):  # quoted in some other form: the message is not shown
                message = "(the message is not shown: it quotes the member's name)"
            return replace(record, location=f"{parent}{sep}{MASKED}", message=message), found
        quoted = [h.hit for h in field_hits([record.message], self.rules)]
        if not quoted:
            return record, []
        # the message quotes the container's own bytes (a header value): what the rules found there is a finding, and
        # the message is not shown
        return (replace(record, message="(the message is not shown: it quotes what the text rules found)"),
                [Finding(h.rule_id, "metadata", h.severity, h.confidence,
                         f"{h.message} in a part that could not be read", "unreadable part", None, dict(h.evidence))
                 for h in quoted])

    def guard_root(self, item: Item) -> tuple[Item, list[Finding]]:
        """A file's own name gets the rules as a member's does (findings on the file); its path is `shown`."""
        found = self.name_findings(item.source)
        shown = self.shown(item.source)
        return (item if shown == item.source else replace(item, source=shown)), found

    def name_findings(self, path: str) -> list[Finding]:
        """The findings of the rules over the name (the last part) of `path`: a file's, an upload's."""
        return self._findings(path.rpartition(PATH_SEP)[2], "the file")

    def shown(self, path: str) -> str:
        """`path` (a display path) with each part the rules hit replaced by `[name masked <12 hex>]`, a keyed hash of
        the part: two masked names never print the same within a scan (a front end finds its file's report by it),
        and with the scan's own key a hash cannot be matched by trying every card number."""
        parts = path.split(PATH_SEP)
        if not any(self._part_hits(part) for part in parts if part):
            return path
        return PATH_SEP.join(f"[name masked {self._digest(part)}]" if part and self._part_hits(part) else part
                             for part in parts)

    def _digest(self, part: str) -> str:
        return hmac.new(self.key, part.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:12]

    def _hits(self, name: str) -> bool:
        return bool(self._name_hits(name))

    def _name_hits(self, name: str) -> list[Hit]:
        """The rules' hits in a name, each rule once: the name as written and without a copy mark ("x 2", "x (1)"),
        less the hits that ordinary names make (NAME_LOOSE_KEYWORDS, NAME_MAX_RUN)."""
        hits: dict[str, Hit] = {}
        for stem in dict.fromkeys(_stems(name)):
            for found in field_hits([stem], self.rules):
                if found.hit.rule_id not in hits and _counts_in_a_name(found.hit, stem):
                    hits[found.hit.rule_id] = found.hit
        return list(hits.values())

    def _findings(self, name: str, whose: str) -> list[Finding]:
        where = "member name" if whose == "a member" else FILE_NAME
        return [Finding(h.rule_id, "metadata", h.severity, h.confidence, f"{h.message} in the name of {whose}",
                        where, None, dict(h.evidence), RENAME) for h in self._name_hits(name)]


def _stems(name: str) -> list[str]:
    """A name as the rules read it: display escapes decoded (an invisible character or a newline before a number
    must not hide it: the rules drop invisible characters, a control character is a space), without its extension
    ("password policy.pdf" is not a password next to a keyword), underscores as spaces ("password_Sup3rS3cret.png"
    is one); and the same without a copy mark ("card 4111 1111 1111 1111 2.jpg"). An invisible character is read both
    as nothing ("pass\\u00adword") and as a space ("card\\u200b4111 ...")."""
    out = []
    for gap in ("", " "):
        stem = _UUID.sub(" ", _EXTENSION.sub("", _unescaped(name, gap))).replace("_", " ")
        out += [stem, _COPY_MARK.sub("", stem)]
    return out


def _unescaped(name: str, invisible: str) -> str:
    """`name` with sources.display_path's escapes decoded: a control or line-separator character as a space, an
    invisible (format) character as `invisible`, an undecodable byte as a space."""
    def one(m: re.Match[str]) -> str:
        text = m.group()
        if text == "\\\\" or text.startswith("\\x"):
            return "\\" if text == "\\\\" else " "
        ch = chr(int(text[2:], 16))
        category = unicodedata.category(ch)
        return " " if category in ("Cc", "Zl", "Zp") else invisible if category == "Cf" else ch

    return _ESCAPE.sub(one, name)


def _counts_in_a_name(hit: Hit, stem: str) -> bool:
    keyword = str(hit.evidence.get("keyword", "")).lower()
    if hit.rule_id.startswith("text.secret") and keyword in NAME_LOOSE_KEYWORDS:
        return re.search(re.escape(keyword) + r"[\w -]{0,12}?[:=]", stem, re.I) is not None  # "wifi pass: x"
    if hit.rule_id.startswith("text.payment_card"):
        digits = int(str(hit.evidence.get("digits", 0)) or 0)
        spelt = card_spellings(stem, digits)
        if "shaped" in spelt or not spelt:
            return True  # in a card's groups ("4111 1111 1111 1111"): a person's writing, not an app's id
        if "run" not in spelt:
            return False  # other groups ("Order 505-1640300-8491522"): an order or tracking number
        # one run of digits: a card when it is not longer than one, stands alone (not one of a name's ids) and
        # does not follow an app's prefix ("received_<id>.jpeg")
        runs = [len(run) for run in re.findall(r"\d+", stem)]
        return (digits <= NAME_MAX_RUN and sum(1 for n in runs if n >= NAME_ID_RUN) <= 1
                and not _APP_ID.search(stem))
    if hit.rule_id == "text.phone":  # a camera's "PXL_20230802_003529568": a date beside a time, not "00 3529568"
        return sum(1 for run in re.findall(r"\d+", stem) if len(run) >= 8) <= 1
    return True



def shown_path(settings: Settings, path: str) -> str:
    """A display path as reports show it under `settings`' text rules: what a report of that file says its path is
    (a front end matching reports to the files it gave uses this, and so does a result store's name)."""
    return names_for(settings).shown(path)


def answers_under(settings: Settings, body: Mapping[str, Any], path: str) -> bool:
    """Whether a stored report of the same bytes may answer the file at `path` (a display path): not when a name
    has findings, the stored one's or this one's (a clean name's approve must not cover a card-named copy)."""
    return not has_name_findings(body) and not names_for(settings).name_findings(path)


def has_name_findings(body: Mapping[str, Any]) -> bool:
    """A stored report (to_dict) with findings about its file's own name: it is not the answer for the same bytes
    under another name."""
    return any(f.get("location") == FILE_NAME for f in body.get("findings", ()))


def names_for(settings: Settings) -> MemberNames:
    """The name checks of `settings`' text rules and hash key, built once for each."""
    return names_with_key(settings, settings.hash_key)


def names_with_key(settings: Settings, key: bytes) -> MemberNames:
    """The name checks of `settings`' text rules, masked names hashed with `key` (a result store's own)."""
    cache_key = (json.dumps(settings.sections.get("text"), sort_keys=True, default=str), key)
    found = _NAMES.get(cache_key)
    if found is None:
        if len(_NAMES) >= 8:  # a process that builds many settings (tests, a long service) keeps a few
            _NAMES.clear()
        found = _NAMES[cache_key] = MemberNames(load_rules(settings.sections.get("text"), key), key)
    return found


_NAMES: dict[tuple[str, bytes], MemberNames] = {}
