"""A file -> the tree of items it holds: expanders open containers level by level, under one budget.

The root is the file as read. Each item an expander accepts (by kind) is opened and its children
(members, pictures, pages, text, metadata fields) join the tree, then are opened in turn, up to
`max_depth` levels. What cannot be opened is an error on that node (the policy makes it `review`);
the members already yielded are still scanned. Nothing here reads from or writes to the disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Protocol

from .containers.base import LOCATION_SEP, Budget, Expander, Limits
from .errors import ItemError, ItemTooLarge
from .model import ErrorRecord, Finding, Item
from .text import TextRules
from .text.fields import field_hits


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


class MemberNames:
    """The text rules over each member's name: a hit masks the name in the location and is a finding."""

    def __init__(self, rules: TextRules) -> None:
        self.rules = rules

    def guard(self, item: Item) -> tuple[Item, list[Finding]]:
        parent, sep, name = item.location.rpartition(LOCATION_SEP)
        found = self._findings(name)
        if not found:
            return item, []
        return replace(item, location=f"{parent}{sep}[name masked {item.sha256[:8]}]"), found

    def guard_record(self, record: ErrorRecord) -> tuple[ErrorRecord, list[Finding]]:
        """An error about a member that could not be opened names it too (an encrypted member, a broken
        attachment): the same rules over the name, masked in the location and wherever the message quotes it."""
        parent, sep, name = record.location.rpartition(LOCATION_SEP)
        found = self._findings(name)
        if not found:
            return record, []
        message = record.message.replace(name, MASKED)
        if field_hits([message], self.rules):  # quoted in some other form: the message is not shown
            message = "(the message is not shown: it quotes the member's name)"
        return replace(record, location=f"{parent}{sep}{MASKED}", message=message), found

    def _findings(self, name: str) -> list[Finding]:
        return [Finding(h.hit.rule_id, "metadata", h.hit.severity, h.hit.confidence,
                        f"{h.hit.message} in the name of a member", "member name", None, dict(h.hit.evidence))
                for h in field_hits([name], self.rules)]
