"""The one table of formats: media type, how its bytes start, Pillow's name for it, and its family.

`sniff(data)` decides a file's type from its bytes (never from its name). ZIP-based documents
(OOXML, OpenDocument, EPUB) are told apart by their members, an Outlook message by its OLE
streams, an e-mail by its header lines. Other modules key their per-format code (end-of-data
finders in metadata/hidden.py, XMP locators in metadata/xmp.py) by `Format.pillow`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# items the expanders make from a container's own content (not files): its text, and its metadata fields
TEXT_KIND = "text/plain"
FIELDS_KIND = "application/x-leakscan-fields+json"
UNKNOWN_KIND = "application/octet-stream"  # bytes no format here recognises
RTF_KIND = "application/rtf"  # a document in text: its own kind, so its objects, pictures and \info are read
XMP_KIND = "application/rdf+xml"  # a standalone XMP packet: a sidecar file kept next to a RAW photo


def encode_fields(fields: Iterable[tuple[str, str, str]]) -> bytes:
    """(category, name, value) fields as the bytes of a FIELDS_KIND item; empty values dropped."""
    rows = [[c, n, v] for c, n, v in fields if v and v.strip()]
    return json.dumps(rows, ensure_ascii=False).encode("utf-8", "surrogatepass") if rows else b""


def decode_fields(data: bytes) -> list[tuple[str, str, str]]:
    rows = json.loads(data.decode("utf-8", "surrogatepass"))
    return [(str(c), str(n), str(v)) for c, n, v in rows]


@dataclass(frozen=True, slots=True)
class Format:
    mime: str
    family: str  # image | document | archive | email | video | sidecar | text | other
    pillow: str | None  # Image.format when Pillow opens it
    magic: Callable[[bytes], bool]


def _starts(*prefixes: bytes) -> Callable[[bytes], bool]:
    return lambda head: head.startswith(prefixes)


_FTYP_BRANDS = {
    b"heic": "image/heic", b"heix": "image/heic", b"hevc": "image/heic", b"heim": "image/heic",
    b"heis": "image/heic", b"mif1": "image/heif", b"msf1": "image/heif", b"avif": "image/avif",
    b"avis": "image/avif", b"crx ": "image/x-canon-cr3",
}


_VIDEO_BRANDS = {  # the major brand of a video: QuickTime, 3GPP, Apple's M4V; anything else is MP4
    b"qt  ": "video/quicktime", b"3gp4": "video/3gpp", b"3gp5": "video/3gpp", b"3gp6": "video/3gpp",
    b"3gp7": "video/3gpp", b"3gg6": "video/3gpp", b"3g2a": "video/3gpp", b"3ge6": "video/3gpp",
    b"3ge7": "video/3gpp", b"M4V ": "video/x-m4v", b"M4VH": "video/x-m4v", b"M4VP": "video/x-m4v",
}
VIDEO_KINDS = frozenset({"video/mp4", "video/quicktime", "video/3gpp", "video/x-m4v"})
_QT_FIRST_BOXES = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")  # QuickTime files before `ftyp`


def _ftyp(head: bytes) -> str | None:
    if head[4:8] != b"ftyp":
        if head[4:8] in _QT_FIRST_BOXES and int.from_bytes(head[:4], "big") >= 8:
            return "video/quicktime"
        return None
    for brand in (head[8:12], *(head[i : i + 4] for i in range(16, min(len(head), 64), 4))):
        if brand in _FTYP_BRANDS:
            return _FTYP_BRANDS[brand]
    return _VIDEO_BRANDS.get(head[8:12], "video/mp4")


_XMP_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:xmpmeta|xapmeta)[\s>]|<rdf:RDF[^>]*ns\.adobe\.com")


# what may come before a sidecar's root element: an XML declaration, comments, a doctype
_XML_PROLOGUE = re.compile(rb"\s*(?:<\?xml[^>]{0,200}\?>|<!--.{0,2000}?-->|<!DOCTYPE[^>]{0,500}>)", re.DOTALL)
_XMP_FIRST = re.compile(rb"\s*(?:<\?xpacket|<(?:[A-Za-z_][\w.-]*:)?(?:xmpmeta|xapmeta)[\s>])")
# a bare rdf:RDF is XMP when it uses XMP's namespaces (an ODF manifest.rdf or an RSS 1.0 feed does not)
_RDF_FIRST = re.compile(rb"\s*<rdf:RDF[\s>]")
_XMP_NAMESPACE = re.compile(rb"ns\.adobe\.com/|purl\.org/dc/elements/|cipa\.jp/exif/")


def _after_prologue(head: bytes) -> bytes:
    """`head` from its root element on: the byte-order mark, an XML declaration and a few comments skipped (the head
    is a sample: a long prologue leaves the rest)."""
    text = head.removeprefix(b"\xef\xbb\xbf")
    for _ in range(8):
        m = _XML_PROLOGUE.match(text)
        if m is None:
            break
        text = text[m.end():]
    return text


def _xmp_sidecar(head: bytes) -> bool:
    """A file that is one XMP packet: `<?xpacket`, `<x:xmpmeta` or a bare `<rdf:RDF>` (Lightroom, darktable and
    ExifTool write each) first, after an XML declaration, comments or a doctype; in UTF-8, or UTF-16 with a
    byte-order mark (the XMP reader reads both)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", "replace").encode("utf-8")
    text = _after_prologue(head)
    if _XMP_FIRST.match(text) or (_RDF_FIRST.match(text) and _XMP_NAMESPACE.search(text)):
        return True
    return head.lstrip().startswith(b"<?xml") and _XMP_ROOT.search(head) is not None


FORMATS: tuple[Format, ...] = (
    Format("image/jpeg", "image", "JPEG", _starts(b"\xff\xd8\xff")),
    Format("image/png", "image", "PNG", _starts(b"\x89PNG\r\n\x1a\n")),
    Format("image/gif", "image", "GIF", _starts(b"GIF87a", b"GIF89a")),
    Format("image/webp", "image", "WEBP", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP"),
    Format("image/tiff", "image", "TIFF", _starts(b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")),
    Format("image/heic", "image", "HEIF", lambda h: _ftyp(h) == "image/heic"),
    Format("image/heif", "image", "HEIF", lambda h: _ftyp(h) == "image/heif"),
    Format("image/avif", "image", "AVIF", lambda h: _ftyp(h) == "image/avif"),
    Format("image/x-canon-cr3", "image", None, lambda h: _ftyp(h) == "image/x-canon-cr3"),  # RAW: review
    Format("video/mp4", "video", None, lambda h: _ftyp(h) == "video/mp4"),
    Format("video/quicktime", "video", None, lambda h: _ftyp(h) == "video/quicktime"),
    Format("video/3gpp", "video", None, lambda h: _ftyp(h) == "video/3gpp"),
    Format("video/x-m4v", "video", None, lambda h: _ftyp(h) == "video/x-m4v"),
    Format("application/pdf", "document", None, _starts(b"%PDF-")),
    Format(RTF_KIND, "document", None, lambda h: h.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{\\rtf")),
    Format("application/zip", "archive", None, _starts(b"PK\x03\x04", b"PK\x05\x06")),
    Format("application/x-ole-storage", "document", None, _starts(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")),
    Format("application/gzip", "archive", None, _starts(b"\x1f\x8b")),
    Format("application/x-bzip2", "archive", None, _starts(b"BZh")),
    Format("application/x-xz", "archive", None, _starts(b"\xfd7zXZ\x00")),
    Format("application/x-7z-compressed", "archive", None, _starts(b"7z\xbc\xaf\x27\x1c")),
    Format("application/x-tar", "archive", None, lambda h: len(h) >= 262 and h[257:262] == b"ustar"),
    Format(XMP_KIND, "sidecar", None, _xmp_sidecar),
)
OOXML_KINDS = {"word/": "wordprocessingml.document", "ppt/": "presentationml.presentation",
               "xl/": "spreadsheetml.sheet"}
_ODF_MIMETYPE = re.compile(rb"^PK\x03\x04.{26}mimetype(application/vnd\.oasis\.opendocument\.[a-z.\-]+)", re.DOTALL)
_EPUB_MIMETYPE = re.compile(rb"^PK\x03\x04.{26}mimetypeapplication/epub\+zip", re.DOTALL)
_MAIL_HEADER = re.compile(rb"^(?:(?:Return-Path|Received|From|To|Subject|Date|Message-ID|MIME-Version|Delivered-To|"
                          rb"X-[A-Za-z0-9-]+|Content-Type|Reply-To|Cc)[ \t]*:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*){3}",
                          re.IGNORECASE)
_FIELD_NAME = re.compile(rb"([!-9;-~]{1,76})[ \t]*:")  # RFC 5322: printable ASCII but the colon
_MESSAGE_FIELDS = frozenset({b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type"})
MAIL_SNIFF_BYTES = 65_536  # a DKIM-signed message relayed a few times has kilobytes of headers first
_MSG_STREAM = "__substg1.0_".encode("utf-16-le")
HEAD_BYTES = 512  # what the magic tests look at
TEXT_SNIFF_BYTES = 65_536  # a file is text when this much of its start is UTF-8 without NUL bytes
BY_MIME = {f.mime: f for f in FORMATS}


def family(mime: str) -> str:
    fmt = BY_MIME.get(mime)
    if fmt is not None:
        return fmt.family
    if mime.startswith("application/vnd.openxmlformats") or mime.startswith("application/vnd.oasis"):
        return "document"
    return {"application/epub+zip": "document", "message/rfc822": "email",
            "application/vnd.ms-outlook": "email"}.get(mime, "other")


def sniff(data: bytes) -> str:
    """The media type from the bytes; the file name is never trusted."""
    head = data[:HEAD_BYTES]
    for fmt in FORMATS:
        if fmt.magic(head):
            return _refine(fmt.mime, data)
    if _MAIL_HEADER.match(data[:8192]) or _header_block(data[:MAIL_SNIFF_BYTES]):
        return "message/rfc822"
    flat = _flat_odf(data[:TEXT_SNIFF_BYTES])
    if flat:
        return flat
    if _is_text(data[:TEXT_SNIFF_BYTES]):
        return TEXT_KIND
    return UNKNOWN_KIND


def _header_block(head: bytes) -> bool:
    """Mail whose first headers are not the usual ones (a DKIM signature, a relay's results, a saved web page's
    `Snapshot-Content-Location`), or an mbox file (a `From ` line first): the text up to the first blank line is
    all header fields, and at least two of them are ones every message has."""
    lines = head.split(b"\n")
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]
    names: set[bytes] = set()
    for line in lines[:-1]:  # the last may be cut by the sample
        line = line.rstrip(b"\r")
        if not line:
            return len(names & _MESSAGE_FIELDS) >= 2
        if line[:1] in (b" ", b"\t") and names:
            continue  # a folded header goes on
        field = _FIELD_NAME.match(line)
        if field is None:
            return False
        names.add(field.group(1).lower())
    return False


# a flat OpenDocument file (.fodt, .fods, .fodp, .fodg): one XML document whose root is office:document
_ODF_ROOT = re.compile(rb"\s*<(?:([A-Za-z_][\w.-]*):)?document[\s>]")
_ODF_OFFICE_NS = re.escape(b"urn:oasis:names:tc:opendocument:xmlns:office:1.0")
_ODF_FLAT_KIND = re.compile(rb"""mimetype\s*=\s*["']application/vnd\.oasis\.opendocument\.(text|spreadsheet|"""
                            rb"""presentation|graphics)["']""")


def _flat_odf(head: bytes) -> str | None:
    """`application/vnd.oasis.opendocument.<kind>-flat-xml` when the first element is `document` in the ODF
    office namespace (its kind from office:mimetype; text when it says none), else None."""
    text = _after_prologue(head)
    root = _ODF_ROOT.match(text)
    if root is None:
        return None
    tag = text[root.start(): text.find(b">", root.start())]
    prefix = b"xmlns:" + root.group(1) if root.group(1) else b"xmlns"
    if not re.search(re.escape(prefix) + rb"""\s*=\s*["']""" + _ODF_OFFICE_NS + rb"""["']""", tag):
        return None
    kind = _ODF_FLAT_KIND.search(tag)
    return f"application/vnd.oasis.opendocument.{kind.group(1).decode() if kind else 'text'}-flat-xml"


def decode_text(data: bytes) -> str:
    """A TEXT_KIND item's characters (UTF-16 when it starts with a byte-order mark, else UTF-8); bad bytes replaced."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    return data.decode("utf-8", "replace")


def _is_text(head: bytes) -> bool:
    """UTF-8 (or UTF-16 with a byte-order mark) without NUL bytes: a text file (notes, CSV, code, JSON)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a character cut at the end of the sample
    return True


def _refine(mime: str, data: bytes) -> str:
    if mime == "application/zip":
        return _zip_kind(data)
    if mime == "application/x-ole-storage" and _MSG_STREAM in data[:1_000_000]:
        return "application/vnd.ms-outlook"
    return mime


def _zip_kind(data: bytes) -> str:
    m = _ODF_MIMETYPE.match(data[:200])
    if m:
        return m.group(1).decode()
    if _EPUB_MIMETYPE.match(data[:200]):
        return "application/epub+zip"
    names = _central_names(data)
    if "mimetype" in names and "META-INF/manifest.xml" in names:  # ODF whose mimetype member is not first
        declared = _member_head(data, "mimetype")
        if declared.startswith(b"application/vnd.oasis.opendocument."):
            return declared.decode("ascii", "replace").strip()
    if "[Content_Types].xml" in names:
        for prefix, kind in OOXML_KINDS.items():
            if any(n.startswith(prefix) for n in names):
                return f"application/vnd.openxmlformats-officedocument.{kind}"
        return "application/vnd.openxmlformats-officedocument"
    if "META-INF/container.xml" in names and "mimetype" in names:
        return "application/epub+zip"
    return "application/zip"


def _member_head(data: bytes, name: str, limit: int = 100) -> bytes:
    """The first `limit` bytes of one ZIP member (a capped read: a lying size cannot make it large)."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open(name) as fh:
            return fh.read(limit)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, KeyError, RuntimeError):
        return b""


def _central_names(data: bytes) -> set[str]:
    """Member names from the ZIP's central directory, without trusting or decompressing anything."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return set()
