"""Safe copy of a ZIP-based file (DOCX, PPTX, XLSX, ODT/ODS/ODP, plain ZIP): pictures replaced, metadata cleared.

Members are read with the scanner's own ZIP reader (budget, caps, encryption and duplicate checks).
Every picture is replaced by its safe copy in its own format (its name and content type must stay
true); a nested document or archive is rewritten the same way; the document properties parts
(docProps/core.xml, app.xml, custom.xml; meta.xml) are replaced by empty ones; an OpenDocument file's
version history (VersionList.xml: who saved each version; Versions/*: each earlier version whole) is
not copied, nor are its entries in META-INF/manifest.xml; member times, comments and the archive
comment are not copied. Text, comments and tracked changes are kept as
they are: they are for a person to review (the re-scan reports them). An encrypted or unreadable
member makes the whole file unfixable (fail closed: a copy with a member silently missing is not safe).
"""

from __future__ import annotations

import io
import re
import stat
import zipfile

from ..containers.base import LOCATION_SEP, safe_name
from ..containers.zipparts import ZipDoc
from ..formats import sniff
from ..sources import item_from_bytes
from .base import Change, Context, Fixed, Unfixable

OOXML_PREFIX = "application/vnd.openxmlformats-officedocument."
ODF_PREFIX = "application/vnd.oasis.opendocument."
ZIP_KIND = "application/zip"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time ZIP can store: no trace of when the copy was made
FILE_MODE = 0o100644 << 16
DIR_MODE = 0o040755 << 16
UNIX = 3
_OOXML_NS = "http://schemas.openxmlformats.org/officeDocument/2006/"
_XML = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
EMPTY_PARTS: dict[str, bytes] = {
    "docProps/core.xml": _XML + b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
                                b'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
                                b'xmlns:dcterms="http://purl.org/dc/terms/"/>',
    "docProps/app.xml": _XML + f'<Properties xmlns="{_OOXML_NS}extended-properties" '
                               f'xmlns:vt="{_OOXML_NS}docPropsVTypes"/>'.encode(),
    "docProps/custom.xml": _XML + f'<Properties xmlns="{_OOXML_NS}custom-properties" '
                                  f'xmlns:vt="{_OOXML_NS}docPropsVTypes"/>'.encode(),
    "meta.xml": _XML + b'<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                       b'office:version="1.2"><office:meta/></office:document-meta>',
}
# LibreOffice's version history: who saved each version (VersionList.xml) and each earlier version whole (Versions/*)
ODF_HISTORY = re.compile(r"VersionList\.xml|Versions/.*", re.DOTALL)
ODF_MANIFEST = "META-INF/manifest.xml"
_HISTORY_ENTRY = re.compile(rb"<(?P<p>(?:[\w.-]+:)?)file-entry\b[^>]*?full-path\s*=\s*(?P<q>[\"'])"
                            rb"(?:/?VersionList\.xml|/?Versions/[^\"']*)(?P=q)[^>]*?(?:/>|>.*?</(?P=p)file-entry\s*>)",
                            re.DOTALL)
_WRITABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def _join(location: str, name: str) -> str:
    return f"{location}{LOCATION_SEP}{name}" if location else name


class PackageFixer:
    """ZIP archives and the office documents built on ZIP."""

    id = "package"

    def accepts(self, kind: str) -> bool:
        flat = kind.endswith("-flat-xml")  # a flat OpenDocument file is one XML document, not a package
        return kind == ZIP_KIND or kind.startswith(OOXML_PREFIX) or (kind.startswith(ODF_PREFIX) and not flat)

    def fix(self, data: bytes, kind: str, location: str, ctx: Context, keep_format: bool) -> Fixed:
        del keep_format  # a package is always written as what it is
        try:
            doc = ZipDoc(item_from_bytes(location or "<file>", data, location), ctx.budget)
        except Exception as exc:  # CorruptItem from the reader, or a zipfile error on a damaged directory
            raise Unfixable(f"archive cannot be read ({type(exc).__name__})") from None
        self._refuse(doc)
        out = io.BytesIO()
        changes: list[Change] = []
        with doc.zf, zipfile.ZipFile(out, "w") as dst:
            for info in doc.zf.infolist():
                if info.is_dir():
                    entry = zipfile.ZipInfo(info.filename, FIXED_TIME)
                    entry.external_attr, entry.create_system = DIR_MODE, UNIX
                    dst.writestr(entry, b"")
                    continue
                if kind.startswith(ODF_PREFIX) and ODF_HISTORY.fullmatch(info.filename):
                    where = _join(location, safe_name(info.filename))
                    changes.append(Change("dropped", "", where, None, "version history (earlier versions, who saved)"))
                    continue
                body = self._member(doc, info, kind, location, ctx, changes)
                entry = zipfile.ZipInfo(info.filename, FIXED_TIME)
                entry.compress_type = info.compress_type if info.compress_type in _WRITABLE_METHODS else \
                    zipfile.ZIP_DEFLATED
                entry.external_attr, entry.create_system = FILE_MODE, UNIX
                dst.writestr(entry, body)
        changes.append(Change("cleared", "", location, None, "member times and comments not copied"))
        ext = "zip" if kind == ZIP_KIND else ""
        return Fixed(out.getvalue(), ext, changes)

    @staticmethod
    def _refuse(doc: ZipDoc) -> None:
        errors = list(doc.drain())
        if errors:
            raise Unfixable(f"{errors[0].location or 'archive'}: {errors[0].message}")
        for info in doc.zf.infolist():
            mode = info.external_attr >> 16
            special = stat.S_ISLNK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) \
                or stat.S_ISSOCK(mode)
            if info.create_system == UNIX and special:
                raise Unfixable(f"{safe_name(info.filename)}: a link or special file cannot be copied safely")

    @staticmethod
    def _member(doc: ZipDoc, info: zipfile.ZipInfo, kind: str, location: str, ctx: Context,
                changes: list[Change]) -> bytes:
        where = _join(location, safe_name(info.filename))
        data = doc.read(info)
        if data is None:
            errors = list(doc.drain())
            raise Unfixable(f"{where}: {errors[0].message if errors else 'member cannot be read'}")
        if kind.startswith(ODF_PREFIX) and info.filename == ODF_MANIFEST:
            return _without_history(doc, data, where)
        if kind != ZIP_KIND and info.filename in EMPTY_PARTS:
            changes.append(Change("cleared", "", where, None, "document properties"))
            return EMPTY_PARTS[info.filename]
        fixer = ctx.fixer_for(sniff(data))
        if fixer is None:
            return data
        fixed = fixer.fix(data, sniff(data), where, ctx, keep_format=True)
        changes.extend(fixed.changes)
        return fixed.data


def _without_history(doc: ZipDoc, manifest: bytes, where: str) -> bytes:
    """The manifest without the entries of the version history (the copy lists only what it holds); a manifest
    that is not well-formed XML after that makes the file unfixable."""
    out = _HISTORY_ENTRY.sub(b"", manifest)
    if out != manifest and doc.parse(out, ODF_MANIFEST) is None:
        raise Unfixable(f"{where}: the manifest cannot be rewritten without the version history")
    return out
