"""What the XML parts of an OOXML package (docx, xlsx, pptx) say: properties, people, history, text.

Each reader takes one parsed part and adds to a `Facts`: metadata fields (category, name, value) and
text blocks. People (authors of comments and tracked changes) are collected once each; counts
(tracked changes, comments) are summed over the parts and become `history` fields at the end.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .base import Expansion, fields_item, text_item
from .zipparts import blocks, flatten, identity_or_other, local

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from ..model import Item

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
SML = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
CORE_CATEGORY = {
    "creator": ("identity", "dc:creator"), "lastModifiedBy": ("identity", "cp:lastModifiedBy"),
    "title": ("text", "dc:title"), "subject": ("text", "dc:subject"), "keywords": ("text", "cp:keywords"),
    "description": ("text", "dc:description"), "category": ("text", "cp:category"),
    "contentStatus": ("text", "cp:contentStatus"), "created": ("time", "dcterms:created"),
    "modified": ("time", "dcterms:modified"), "lastPrinted": ("time", "cp:lastPrinted"),
}
APP_CATEGORY = {"Company": "identity", "Manager": "identity", "Application": "device", "AppVersion": "device",
                "HyperlinkBase": "other", "TitlesOfParts": "other"}
APP_COUNTS = frozenset({"HiddenSlides", "Notes"})  # PowerPoint's own count of hidden slides and notes pages
TEXT_BLOCKS = frozenset({"p", "si", "c", "pt", "comment", "is"})  # paragraph, shared string, cell, chart point
TEXT_LEAVES = frozenset({"t", "delText", "instrText", "v", "f", "text"})
CELL_VALUE = frozenset({"t", "v"})  # an inline string's runs, or the stored value
SKIP = frozenset({"Fallback"})  # mc:AlternateContent repeats its content in a fallback
CHANGE_TAGS = frozenset({"ins", "del", "moveFrom", "moveTo", "rPrChange", "pPrChange", "cellIns", "cellDel"})
HIDDEN_STATES = frozenset({"hidden", "veryHidden"})
NOTES_NOISE = re.compile(r"[\d\s]*")  # a notes page holding only its slide number
PEOPLE_TAGS = frozenset({"person", "cmAuthor", "author", "presenceInfo"})
PEOPLE_ATTRS = frozenset({"author", "name", "displayName", "userId", "initials"})


class Facts:
    """Fields and text gathered from the parts of one package (one expansion, never shared)."""

    def __init__(self) -> None:
        self.fields: list[tuple[str, str, str]] = []
        self.people: dict[tuple[str, str], None] = {}  # (name, who) in first-seen order
        self.counts: dict[str, int] = {}
        self.texts: list[tuple[str, list[str]]] = []  # (part name, blocks)

    def person(self, role: str, who: str | None) -> None:
        if who and who.strip():
            self.people.setdefault((role, who.strip()), None)

    def count(self, what: str, n: int) -> None:
        if n:
            self.counts[what] = self.counts.get(what, 0) + n

    def add_texts(self, part: str, lines: list[str]) -> None:
        """More lines of `part`'s text (its block if it has one), each line once."""
        block = next((texts for name, texts in self.texts if name == part), None)
        if block is None:
            self.texts.append((part, list(dict.fromkeys(lines))))
        else:
            seen = set(block)
            block.extend(line for line in dict.fromkeys(lines) if line not in seen)

    def all_fields(self) -> list[tuple[str, str, str]]:
        people = [("identity", role, who) for role, who in self.people]
        counts = [("history", what, str(n)) for what, n in self.counts.items()]
        return self.fields + people + counts

    def items(self, parent: Item, fields_name: str) -> Expansion:
        """The package's own items: its fields (as `fields_name`), then one text item per part that has text."""
        fields = fields_item(parent, fields_name, self.all_fields())
        if fields is not None:
            yield fields
        for part, texts in self.texts:
            text = text_item(parent, f"{part}#text", texts)
            if text is not None:
                yield text


def core(root: Element, facts: Facts, name: str) -> None:
    for el in root:
        category, label = CORE_CATEGORY.get(local(el.tag), ("other", f"cp:{local(el.tag)}"))
        facts.fields.append((category, label, (el.text or "").strip()))


def app(root: Element, facts: Facts, name: str) -> None:
    for el in root:
        tag = local(el.tag)
        value = " | ".join(t.strip() for t in el.itertext() if t.strip())
        if tag == "Template":
            facts.fields.append((identity_or_other(value), "app:Template", value))
        elif tag in APP_COUNTS and value not in ("", "0"):
            facts.fields.append(("history", f"app:{tag}", value))
        elif tag in APP_CATEGORY:
            facts.fields.append((APP_CATEGORY[tag], f"app:{tag}", value))


def custom(root: Element, facts: Facts, name: str) -> None:
    for prop in root:
        value = " ".join(t.strip() for t in prop.itertext() if t.strip())
        facts.fields.append(("text", prop.get("name") or "custom property", value))


def rels(root: Element, facts: Facts, name: str) -> None:
    """External targets (hyperlinks, linked files, an attached template) named by a relationships part."""
    for rel in root:
        if rel.get("TargetMode") != "External":
            continue
        target = rel.get("Target") or ""
        kind = (rel.get("Type") or "").rsplit("/", 1)[-1]
        if kind == "attachedTemplate":
            facts.fields.append((identity_or_other(target), "w:attachedTemplate", target))
        else:
            facts.fields.append((identity_or_other(target), "external target", target))


def word_part(root: Element, facts: Facts, name: str) -> None:
    """Body, headers, footers, notes, comments: text (deleted text included), change and comment authors."""
    changes = 0
    for el in root.iter():
        tag = local(el.tag)
        if tag in CHANGE_TAGS:
            changes += 1
            facts.person("tracked change author", el.get(f"{W}author"))
        elif tag == "comment":
            facts.count("comments", 1)
            facts.person("comment author", el.get(f"{W}author"))
            facts.person("comment initials", el.get(f"{W}initials"))
    facts.count("tracked changes", changes)
    facts.texts.append((name, blocks(root, TEXT_BLOCKS, TEXT_LEAVES, SKIP) + unseen_texts(root)))


def unseen_texts(root: Element) -> list[str]:
    """Text a reader can show that the blocks leave out: pictures' alternative text and titles (docPr, cNvPr
    `descr`/`title`), and an mc:Fallback that says something its mc:Choice does not (a reader that does not
    know the Choice's namespace shows the Fallback)."""
    out: list[str] = []
    for el in root.iter():
        tag = local(el.tag)
        if tag in ("docPr", "cNvPr"):
            out.extend(v for k, v in el.attrib.items() if local(k) in ("descr", "title") and v.strip())
        elif tag == "AlternateContent":
            parts = {local(sub.tag): flatten(sub, TEXT_LEAVES) for sub in el}
            fallback = parts.get("Fallback", "").strip()
            if fallback and fallback != parts.get("Choice", "").strip():
                out.append(fallback)
    return out


# attributes that hold what a person typed or a reader shows: a hyperlink's tooltip and text, a content control's
# list items, a pivot cache's stored values (`<s v="...">`: the rows survive their sheet), an autofilter's values
ATTR_TEXTS = frozenset({"tooltip", "display", "displayText", "alias", "caption", "descr", "title", "v", "value",
                        "screenTip", "userName"})
# elements whose `val` is text: a document variable, a content control's alias or tag, a legacy form field's
# default, result, help and status texts, a drop-down's entries, an autofilter's criteria
VAL_TEXTS = frozenset({"docVar", "alias", "tag", "default", "result", "statusText", "helpText", "listEntry",
                       "filter", "customFilter", "dateGroupItem"})
FORMULA_TEXTS = frozenset({"formula1", "formula2", "definedName", "formula"})  # lists and constants a person wrote


def attribute_texts(root: Element) -> list[str]:
    """Text kept in attributes (and in data validations and defined names) that the blocks do not read: one line each,
    a document variable as "name: value"."""
    out: list[str] = []
    for el in root.iter():
        tag = local(el.tag)
        attrs = {local(k): v for k, v in el.attrib.items() if v and v.strip()}
        if tag == "docVar":
            out.append(f"{attrs.get('name', 'document variable')}: {attrs.get('val', '')}")
            continue
        out.extend(v for k, v in attrs.items() if k in ATTR_TEXTS and not (k == "v" and _index(tag, v)))
        if tag in VAL_TEXTS and "val" in attrs:
            out.append(attrs["val"])
        if tag in FORMULA_TEXTS and el.text and el.text.strip():
            out.append(el.text)
    return out


def _index(tag: str, value: str) -> bool:
    """A pivot record's `<x v="3">` points into the shared items (read there): no text of its own."""
    return tag == "x" and value.isdigit()


def people(root: Element, facts: Facts, name: str) -> None:
    """word/people.xml, xl/persons, ppt authors: who commented (names, e-mail-like user ids)."""
    for el in root.iter():
        tag = local(el.tag)
        if tag not in PEOPLE_TAGS:
            continue
        for key, value in el.attrib.items():
            if local(key) in PEOPLE_ATTRS:
                facts.person(f"{tag} {local(key)}", value)
        if tag == "author" and el.text:  # xl/comments: <authors><author>Jan</author></authors>
            facts.person("comment author", el.text)


def comment_part(root: Element, facts: Facts, name: str) -> None:
    """ppt/comments/*, xl/comments*, threaded comments: a count, the authors, the text."""
    people(root, facts, name)
    facts.count("comments", sum(1 for el in root.iter() if local(el.tag) in ("cm", "comment", "threadedComment")))
    facts.texts.append((name, blocks(root, TEXT_BLOCKS, TEXT_LEAVES, SKIP)))


def slide(root: Element, facts: Facts, name: str) -> None:
    if root.get("show") in ("0", "false"):
        facts.fields.append(("history", "hidden slide", name))
    facts.texts.append((name, blocks(root, TEXT_BLOCKS, TEXT_LEAVES, SKIP) + unseen_texts(root)))


def notes(root: Element, facts: Facts, name: str) -> None:
    found = blocks(root, TEXT_BLOCKS, TEXT_LEAVES, SKIP)
    if not NOTES_NOISE.fullmatch("".join(found)):
        facts.count("speaker notes", 1)
    facts.texts.append((name, found))


def workbook(root: Element, facts: Facts, name: str) -> None:
    """Hidden sheets, the user who shared the workbook, the folder it was saved from."""
    for el in root.iter():
        tag = local(el.tag)
        if tag == "sheet" and el.get("state") in HIDDEN_STATES:
            facts.fields.append(("history", f"{el.get('state')} sheet", el.get("name") or "?"))
        elif tag == "fileSharing":
            facts.person("fileSharing userName", el.get("userName"))
        elif tag == "absPath":
            url = el.get("url") or ""
            facts.fields.append((identity_or_other(url), "x15ac:absPath", url))
        elif tag == "definedName" and el.get("hidden") in ("1", "true"):
            facts.count("hidden defined names", 1)


def sheet(root: Element, facts: Facts, name: str) -> None:
    """Cell values except shared-string indices (the strings come from sharedStrings.xml), formulas included."""
    cells = [_cell(c) for c in root.iter(f"{SML}c") if c.get("t") != "s"]
    hidden = sum(1 for el in root.iter() if local(el.tag) in ("row", "col") and el.get("hidden") in ("1", "true"))
    facts.count("hidden rows and columns", hidden)
    facts.texts.append((name, cells))


def _cell(cell: Element) -> str:
    formula = cell.find(f"{SML}f")
    value = flatten(cell, CELL_VALUE, frozenset({"f"}))
    return f"{value} {formula.text}" if formula is not None and formula.text else value


def revisions(root: Element, facts: Facts, name: str) -> None:
    """xl/revisions: a shared workbook's change log (who changed what)."""
    for el in root.iter():
        facts.person("revision user", el.get("userName"))
    facts.count("tracked changes", sum(1 for el in root.iter() if local(el.tag) == "header"))
    facts.texts.append((name, blocks(root, TEXT_BLOCKS, TEXT_LEAVES, SKIP)))


def text_only(root: Element, facts: Facts, name: str) -> None:
    facts.texts.append((name, blocks(root, TEXT_BLOCKS, TEXT_LEAVES, SKIP)))


def settings(root: Element, facts: Facts, name: str) -> None:
    """word/settings.xml: nothing of its own; its document variables (`w:docVar`, a template's or a macro's stored
    values) are read by `attribute_texts`, as for every part."""
    del root, facts, name


def data_part(root: Element, facts: Facts, name: str) -> None:
    """customXml items (SharePoint metadata and other data): all their text."""
    facts.texts.append((name, [flatten(root, None)]))


PartReader = Callable[["Element", Facts, str], None]
Reader = PartReader | None  # None: a part with nothing to tell
STRUCTURE = r"(?:styles|stylesWithEffects|fontTable|webSettings|numbering|presProps|viewProps|tableStyles|calcChain)"
READERS: tuple[tuple[re.Pattern[str], Reader], ...] = tuple((re.compile(p, re.IGNORECASE), r) for p, r in (
    (r"docProps/core\.xml", core),
    (r"docProps/app\.xml", app),
    (r"docProps/custom\.xml", custom),
    (r"(?:.*/)?_rels/[^/]*\.rels", rels),
    (rf"(?:word|ppt|xl)/{STRUCTURE}\.xml|(?:word|ppt|xl)/theme/.*", None),
    (r"word/settings\.xml", settings),
    (r"word/(?:people|commentsExtensible|commentsIds)\.xml", people),
    (r"word/[^/]+\.xml", word_part),
    (r"ppt/(?:commentAuthors|authors)\.xml|xl/persons/[^/]+\.xml", people),
    (r"ppt/comments/[^/]+\.xml|xl/comments[^/]*\.xml|xl/threadedComments/[^/]+\.xml", comment_part),
    (r"ppt/slides/[^/]+\.xml", slide),
    (r"ppt/notesSlides/[^/]+\.xml", notes),
    (r"xl/workbook\.xml", workbook),
    (r"xl/worksheets/[^/]+\.xml", sheet),
    (r"xl/revisions/[^/]+\.xml", revisions),
    (r"customXml/item\d+\.xml", data_part),
    (r"(?:word|ppt|xl)/.+\.xml", text_only),
    (r"\[Content_Types\]\.xml", None),
))


def reader_for(name: str) -> Reader:
    """The reader of a part; None for parts with nothing to tell (styles, themes, content types); `text_only` for a
    part at a place no pattern knows (a document's main part may be anywhere its relationships point)."""
    for pattern, reader in READERS:
        if pattern.fullmatch(name):
            return reader
    return text_only
