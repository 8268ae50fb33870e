"""OpenDocument packages (odt, ods, odp, odg) -> pictures and objects, the document's text, its metadata fields.

Read in memory (zipfile + defusedxml, see zipparts.py). meta.xml gives the people, the generator and
the dates; content.xml and styles.xml (also those of embedded objects, `Object 1/content.xml`) give
the text (paragraphs, headings, cells, notes, deleted text kept by change tracking, annotations, and
values kept in attributes: filled-in form controls, cell values, validation lists, named expressions,
user fields, alt text), where links point (fields, as OOXML's external targets) and the history
(tracked changes and their authors, annotations and theirs, hidden sheets, slides and sections,
speaker notes). VersionList.xml names who saved each stored earlier version; the versions themselves
(Versions/*) are child documents, counted as history. Every other member (Pictures/*, Thumbnails/*,
ObjectReplacements/*) is a child item with its bytes as stored. Entries that META-INF/manifest.xml
marks as encrypted are an error each ("encrypted"); whatever is not encrypted (often meta.xml and the
thumbnail) is still read.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import UnsupportedItem
from .base import safe_name
from .office_parts import NOTES_NOISE, Facts, PartReader
from .package import PackageExpander
from .zipparts import ZipDoc, blocks, flatten, identity_or_other, local

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element
    from zipfile import ZipInfo


ODF = "application/vnd.oasis.opendocument"
KINDS = frozenset({f"{ODF}.{kind}" for kind in (
    "text", "spreadsheet", "presentation", "graphics", "text-template", "spreadsheet-template",
    "presentation-template", "graphics-template", "text-master", "formula", "chart", "image", "database")})
MANIFEST = "META-INF/manifest.xml"
META_CATEGORY = {
    "initial-creator": "identity", "creator": "identity", "printed-by": "identity", "generator": "device",
    "creation-date": "time", "date": "time", "print-date": "time", "title": "text", "subject": "text",
    "description": "text", "keyword": "text",
}
META_PREFIX = {"creator": "dc", "date": "dc", "title": "dc", "subject": "dc", "description": "dc", "language": "dc"}
CONTENT_PART = re.compile(r"(?:.*/)?(?:content|styles)\.xml", re.DOTALL)
META_PART = re.compile(r"(?:.*/)?meta\.xml", re.DOTALL)
SKIPPED = re.compile(r"mimetype|META-INF/.*|Configurations2/.*|(?:.*/)?(?:settings\.xml|manifest\.rdf)", re.DOTALL)
BLOCKS = frozenset({"p", "h"})
# who and when of an annotation or a change: fields, not text
NOT_TEXT = frozenset({"creator", "date", "creator-initials", "sender-initials", "change-info"})
HIDING = {("display", "false"), ("visibility", "hidden"), ("display", "none")}
HIDDEN_WHAT = {"table": "hidden sheet", "page": "hidden slide", "section": "hidden section"}
FIELDS_NAME = "meta.xml"
# LibreOffice's version history (File > Versions): who saved each version and why, and each earlier version whole
VERSION_LIST = "VersionList.xml"
VERSIONS = "Versions/"
_NS = "urn:oasis:names:tc:opendocument:xmlns:"
OFFICE, FORM, TABLE, TEXT, SVG = (f"{{{_NS}{n}}}" for n in ("office:1.0", "form:1.0", "table:1.0", "text:1.0",
                                                             "svg-compatible:1.0"))
XLINK = "{http://www.w3.org/1999/xlink}"
# attributes that hold what a person typed or a reader shows (never style names, ids or sizes): a cell's or a user
# field's value, a filled-in form control, a link's tooltip, a validation list, a named expression, a cell formula,
# an autofilter's value, conditional and hidden text, a field's description
ATTR_TEXTS = frozenset({
    f"{OFFICE}value", f"{OFFICE}string-value", f"{OFFICE}title",
    f"{FORM}current-value", f"{FORM}value", f"{FORM}label", f"{FORM}title", f"{FORM}command", f"{FORM}datasource",
    f"{FORM}list-source",
    f"{TABLE}condition", f"{TABLE}expression", f"{TABLE}formula", f"{TABLE}value",
    f"{TEXT}string-value", f"{TEXT}string-value-if-true", f"{TEXT}string-value-if-false", f"{TEXT}description",
    f"{TEXT}condition", f"{XLINK}title",
})
ELEMENT_TEXTS = frozenset({f"{SVG}title", f"{SVG}desc"})  # alt text, read where no paragraph holds it
HREF = f"{XLINK}href"
# a member of the package (Pictures/1.png, ./Object 1) or a place in the document (#Slide 2): not a link out
INTERNAL_HREF = re.compile(r"(?:\./)?[^:/\\#.][^:]*|#.*", re.DOTALL)


class OdfExpander(PackageExpander):
    """Opens OpenDocument text, spreadsheets, presentations and drawings."""

    id = "odf"
    kinds = KINDS
    fields_name = FIELDS_NAME
    skipped = SKIPPED

    def survey(self, doc: ZipDoc) -> set[str]:
        return _encrypted(doc)

    def part(self, doc: ZipDoc, info: ZipInfo, facts: Facts, context: set[str]) -> bool:
        name = info.filename
        if name in context:
            doc.fail(UnsupportedItem("member is encrypted (password-protected document)"), name)
        elif name == VERSION_LIST:
            _with_xml(doc, info, facts, versions)
        elif META_PART.fullmatch(name):
            _with_xml(doc, info, facts, meta)
        elif CONTENT_PART.fullmatch(name):
            _with_xml(doc, info, facts, content)
        else:
            return False
        return True

    def member(self, name: str, facts: Facts) -> None:
        facts.count("stored earlier versions", name.startswith(VERSIONS))


def _encrypted(doc: ZipDoc) -> set[str]:
    """Members that the manifest says are encrypted (a file-entry with encryption-data)."""
    root = doc.xml(doc.get(MANIFEST))
    if root is None:
        return set()
    out: set[str] = set()
    for entry in root.iter():
        if local(entry.tag) == "file-entry" and any(local(sub.tag) == "encryption-data" for sub in entry):
            out.update(v for k, v in entry.attrib.items() if local(k) == "full-path")
    return out


def _with_xml(doc: ZipDoc, info: ZipInfo, facts: Facts, reader: PartReader) -> None:
    root = doc.xml(info)
    if root is not None:
        reader(root, facts, safe_name(info.filename))


def meta(root: Element, facts: Facts, name: str) -> None:
    """meta.xml: people, generator, dates, title and keywords, template, user-defined properties."""
    for el in root.iter():
        tag = local(el.tag)
        value = (el.text or "").strip()
        if tag == "user-defined":
            facts.fields.append(("text", _attr(el, "name") or "meta:user-defined", value))
        elif tag in ("template", "auto-reload"):
            href = _attr(el, "href")
            facts.fields.append((identity_or_other(href), f"meta:{tag}", href))
        elif tag in META_CATEGORY:
            facts.fields.append((META_CATEGORY[tag], f"{META_PREFIX.get(tag, 'meta')}:{tag}", value))
        elif tag in ("editing-cycles", "editing-duration", "language"):
            facts.fields.append(("other", f"{META_PREFIX.get(tag, 'meta')}:{tag}", value))


def versions(root: Element, facts: Facts, name: str) -> None:
    """VersionList.xml: who saved each stored version, when, and the comment they wrote (the versions themselves are
    members under Versions/, read as documents of their own)."""
    comments = []
    for el in root.iter():
        if local(el.tag) == "version-entry":
            facts.person("version author", _attr(el, "creator"))
            facts.fields.append(("time", "version saved", _attr(el, "date-time")))
            comments.append(_attr(el, "comment"))
    facts.add_texts(name, comments)


def content(root: Element, facts: Facts, name: str) -> None:
    """content.xml / styles.xml: text (attributes' too), links, tracked changes, annotations, hidden parts, speaker
    notes."""
    hiding_styles = _hiding_styles(root)
    for el in root.iter():
        tag = local(el.tag)
        if tag == "changed-region":
            facts.count("tracked changes", 1)
            for who in _creators(el):
                facts.person("tracked change author", who)
        elif tag == "annotation":
            facts.count("annotations", 1)
            for who in _creators(el):
                facts.person("annotation author", who)
        elif tag in HIDDEN_WHAT and (_attr(el, "style-name") in hiding_styles or _attr(el, "display") == "none"):
            facts.fields.append(("history", HIDDEN_WHAT[tag], _attr(el, "name") or "?"))
        elif tag in ("hidden-text", "hidden-paragraph"):
            facts.count("hidden text", 1)
        elif tag == "notes" and not NOTES_NOISE.fullmatch(flatten(el, None, NOT_TEXT)):
            facts.count("speaker notes", 1)
    facts.texts.append((name, blocks(root, BLOCKS, None, NOT_TEXT)))
    facts.add_texts(name, attribute_texts(root))  # each once, and not again when a paragraph shows it
    links(root, facts)


def attribute_texts(root: Element) -> list[str]:
    """Text kept in attributes (ATTR_TEXTS) and alt text (svg:title, svg:desc), one line each."""
    out: list[str] = []
    for el in root.iter():
        out.extend(v for k, v in el.attrib.items() if k in ATTR_TEXTS and v.strip())
        if el.tag in ELEMENT_TEXTS:
            out.append(flatten(el, None))
    return out


def links(root: Element, facts: Facts) -> None:
    """Where links point (text:a, draw:a, form controls and linked pictures): fields, as OOXML's external targets
    are; a link to a member of the package or to a place in the document is not one."""
    for el in root.iter():
        href = el.get(HREF, "").strip()
        if href and not INTERNAL_HREF.fullmatch(href):
            facts.fields.append((identity_or_other(href), "xlink:href", href))


def _hiding_styles(root: Element) -> set[str]:
    """Automatic styles that hide what uses them (table:display="false", presentation:visibility="hidden")."""
    out = set()
    for style in root.iter():
        if local(style.tag) != "style":
            continue
        for prop in style:
            if any((local(k), v) in HIDING for k, v in prop.attrib.items()):
                out.add(_attr(style, "name"))
    out.discard("")
    return out


def _creators(el: Element) -> list[str]:
    return [c.text.strip() for c in el.iter() if local(c.tag) == "creator" and c.text and c.text.strip()]


def _attr(el: Element, name: str) -> str:
    """An attribute by its local name, whatever its namespace prefix."""
    for key, value in el.attrib.items():
        if local(key) == name:
            return value
    return ""
