"""EPUB books -> images, the book's text (XHTML, NCX), its metadata fields (OPF package document).

Read in memory (zipfile + defusedxml, see zipparts.py). The OPF named by META-INF/container.xml
gives the people (creator, contributor, publisher, rights), title and description, dates and the
generator. Every XHTML/HTML member (content documents, the nav document) and the NCX table of contents
gives its markup as written, as a text item: the text rules read it as they read a standalone .html file,
as written (head, attributes, comments, scripts) and as a reader shows it (text/markup.py). Every other
member except stylesheets and fonts (images, audio, nested files) is a child item with its bytes as stored.
Members listed in META-INF/encryption.xml with a real cipher (DRM) are an error each ("encrypted"); fonts
that are only obfuscated (the IDPF and Adobe font mangling) are skipped as fonts anyway.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import UnsupportedItem
from ..formats import decode_text
from .base import safe_name
from .office_parts import Facts
from .package import PackageExpander
from .zipparts import ZipDoc, local

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element
    from zipfile import ZipInfo


KINDS = frozenset({"application/epub+zip"})
CONTAINER = "META-INF/container.xml"
ENCRYPTION = "META-INF/encryption.xml"
FONT_MANGLING = frozenset({"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"})
DC_CATEGORY = {
    "creator": "identity", "contributor": "identity", "publisher": "identity", "rights": "identity",
    "title": "text", "description": "text", "subject": "text", "date": "time",
}
MARKUP = re.compile(r".*\.(?:xhtml|html|htm|ncx)", re.IGNORECASE | re.DOTALL)  # pages, nav, NCX
OPF = re.compile(r".*\.opf", re.IGNORECASE | re.DOTALL)
SKIPPED = re.compile(r"mimetype|META-INF/.*|.*\.(?:css|otf|ttf|woff2?|xpgt)", re.IGNORECASE | re.DOTALL)


class EpubExpander(PackageExpander):
    """Opens EPUB 2 and 3 books (not DRM-encrypted content: an error per encrypted member)."""

    id = "epub"
    kinds = KINDS
    fields_name = "package.opf"
    skipped = SKIPPED

    def survey(self, doc: ZipDoc) -> tuple[set[str], set[str]]:
        return _encrypted(doc), _rootfiles(doc)

    def part(self, doc: ZipDoc, info: ZipInfo, facts: Facts, context: tuple[set[str], set[str]]) -> bool:
        name = info.filename
        encrypted, packages = context
        if name in encrypted:
            doc.fail(UnsupportedItem("member is encrypted (DRM)"), name)
        elif name in packages or OPF.fullmatch(name):
            if (root := doc.xml(info)) is not None:
                package(root, facts)
        elif MARKUP.fullmatch(name):
            if (data := doc.read(info)) is not None:
                doc.parse(data, name)  # not well-formed: an error on the page (review); its markup is still read
                facts.texts.append((safe_name(name), [decode_text(data)]))
        else:
            return False
        return True


def _rootfiles(doc: ZipDoc) -> set[str]:
    root = doc.xml(doc.get(CONTAINER))
    if root is None:
        return set()
    return {el.get("full-path", "") for el in root.iter() if local(el.tag) == "rootfile"} - {""}


def _encrypted(doc: ZipDoc) -> set[str]:
    """Members encrypted with a real cipher (font obfuscation is not encryption of the author's content)."""
    root = doc.xml(doc.get(ENCRYPTION))
    if root is None:
        return set()
    out = set()
    for data in root.iter():
        if local(data.tag) != "EncryptedData":
            continue
        methods = {m.get("Algorithm", "") for m in data.iter() if local(m.tag) == "EncryptionMethod"}
        uris = {r.get("URI", "") for r in data.iter() if local(r.tag) == "CipherReference"}
        if not methods <= FONT_MANGLING:
            out.update(uris)
    return out


def package(root: Element, facts: Facts) -> None:
    """The OPF's metadata: Dublin Core elements and <meta> entries (EPUB 2 name/content, EPUB 3 property)."""
    for meta in root.iter():
        if local(meta.tag) != "metadata":
            continue
        for el in meta:
            tag = local(el.tag)
            value = (el.text or "").strip()
            if tag == "meta":
                _meta(el, value, facts)
            elif tag in DC_CATEGORY:
                facts.fields.append((DC_CATEGORY[tag], f"dc:{tag}", value))
            else:
                facts.fields.append(("other", f"dc:{tag}", value))


def _meta(el: Element, value: str, facts: Facts) -> None:
    prop = el.get("property") or el.get("name") or "meta"
    value = value or el.get("content", "")
    if prop == "generator":
        facts.fields.append(("device", prop, value))
    elif "modified" in prop or "date" in prop:
        facts.fields.append(("time", prop, value))
    elif "file-as" in prop or "author" in prop or "creator" in prop:
        facts.fields.append(("identity", prop, value))
    else:
        facts.fields.append(("other", prop, value))
