"""A PDF's structure read with pypdf: Info fields, XMP streams, annotations, form values, actions, attachments.

Everything here works on objects pypdf has already parsed (strict=False); every value is turned
into a string and nothing is ever written to disk. XMP streams are not parsed here: the expander yields each
one as an XMP item, read (GPS included) by the metadata detector like a photo's XMP or a sidecar file.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import CorruptItem, ItemError, ItemTooLarge
from ..metadata.tags import OTHER
from .base import Budget, safe_name

Field = tuple[str, str, str]

INFO_CATEGORY = {
    "/Author": "identity", "/Creator": "device", "/Producer": "device", "/CreationDate": "time",
    "/ModDate": "time", "/Title": "text", "/Subject": "text", "/Keywords": "text",
}
MARKUP_SKIP = frozenset({"/Link", "/Widget", "/Popup"})  # not something a person wrote on the page
RISKY_ACTIONS = frozenset({"/JavaScript", "/Launch", "/SubmitForm", "/ImportData"})
MAX_OBJECTS = 200_000  # objects looked through for page and picture XMP
MAX_NAME_TREE_NODES = 10_000
MAX_NAME_TREE_DEPTH = 32


@dataclass
class Structure:
    """What the pypdf pass found; the expander turns it into items."""

    fields: list[Field] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    attachments: list[tuple[str, Any]] = field(default_factory=list)  # (display name, file stream)
    streams: list[tuple[str, Any]] = field(default_factory=list)  # page thumbnails
    xmp: list[tuple[str, Any]] = field(default_factory=list)  # XMP streams: the catalog's (`xmp`), `xmp[n]` the others
    jpegs: list[tuple[str, Any]] = field(default_factory=list)  # every JPEG image stream of the file
    errors: list[tuple[ItemError, str]] = field(default_factory=list)


def deref(value: Any) -> Any:
    """The object an indirect reference points at (None stays None)."""
    return value.get_object() if hasattr(value, "get_object") else value


def text_of(value: Any) -> str:
    """Any PDF value as text (strings, names, arrays of them), whole: a cut value could hide what follows
    (the file cap bounds it)."""
    value = deref(value)
    if isinstance(value, list | tuple):
        return "; ".join(text_of(v) for v in value)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value)


def info_fields(trailer: Any) -> list[Field]:
    info = deref(trailer.get("/Info"))
    if not hasattr(info, "items"):
        return []
    return [(INFO_CATEGORY.get(str(key), OTHER), str(key).lstrip("/"), text_of(val)) for key, val in info.items()]


def stream_bytes(stream: Any, budget: Budget, what: str) -> bytes:
    """A stream's decoded bytes, admitted to the budget, never inflating more than the member cap + 1."""
    cap = budget.limits.max_member_bytes
    raw: bytes = stream._data  # the bytes as stored (pypdf keeps them encoded)
    filters = stream.get("/Filter")
    names = [str(f) for f in (filters if isinstance(filters, list) else [filters] if filters else [])]
    declared = _declared_size(stream)
    if declared is not None:
        budget.admit(declared, len(raw) or None, what)
    if not names:
        data = raw
    elif names == ["/FlateDecode"] and stream.get("/DecodeParms") is None:
        data = zlib.decompressobj().decompress(raw, cap + 1)
    else:
        data = stream.get_data()
    if declared is None or len(data) != declared:
        budget.admit(len(data), len(raw) or None, what)
    return bytes(data)


def _declared_size(stream: Any) -> int | None:
    params = stream.get("/Params")
    params = deref(params)
    size = params.get("/Size") if hasattr(params, "get") else None
    return int(size) if isinstance(size, int) and size >= 0 else None


def _name_tree(node: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """(name, value) pairs of a PDF name tree, bounded in depth and size: past a bound, ItemTooLarge after what
    was read (the attachments beyond it are not known to be harmless; a cycle of /Kids ends here too)."""
    node = deref(node)
    if not hasattr(node, "get"):
        return
    if depth > MAX_NAME_TREE_DEPTH:
        raise ItemTooLarge(f"name tree deeper than {MAX_NAME_TREE_DEPTH} levels (or a cycle): the rest not read")
    names = node.get("/Names")
    names = deref(names)
    names = names if isinstance(names, list) else []
    for i in range(0, min(len(names), 2 * MAX_NAME_TREE_NODES) - 1, 2):
        yield text_of(names[i]), deref(names[i + 1])
    kids = node.get("/Kids")
    kids = kids if isinstance(kids, list) else []
    for kid in kids[:MAX_NAME_TREE_NODES]:
        yield from _name_tree(kid, depth + 1)
    if len(names) > 2 * MAX_NAME_TREE_NODES or len(kids) > MAX_NAME_TREE_NODES:
        raise ItemTooLarge(f"name tree node with over {MAX_NAME_TREE_NODES} entries: the rest not read")


def _filespec_streams(spec: Any) -> list[tuple[str, Any]]:
    """(name, stream) of each file a file specification embeds: /UF and /F, and the platform ones (/DOS, /Mac,
    /Unix) that other readers take (ISO 32000-1 table 43); one stream listed under several keys once."""
    if not hasattr(spec, "get"):
        return []
    ef = spec.get("/EF")
    ef = deref(ef)
    if not hasattr(ef, "get"):
        return []
    name = text_of(spec.get("/UF") or spec.get("/F") or "")
    out: list[tuple[str, Any]] = []
    seen: set[int] = set()
    for key in ("/UF", "/F", "/DOS", "/Mac", "/Unix"):
        stream = deref(ef.get(key))
        if stream is not None and id(stream) not in seen:
            seen.add(id(stream))
            out.append((name if not out else f"{name or 'file'} ({key[1:]})", stream))
    return out


def catalog_parts(root: Any, out: Structure) -> None:
    """Attachments in the /EmbeddedFiles tree, document JavaScript, open actions, form values, XMP."""
    names = root.get("/Names")
    names = deref(names)
    if hasattr(names, "get"):
        for i, (key, spec) in enumerate(_name_tree(names.get("/EmbeddedFiles")), 1):
            for name, stream in _filespec_streams(spec):
                out.attachments.append((safe_name(f"attachment[{i}]:{name or key}"), stream))
        scripts = list(_name_tree(names.get("/JavaScript")))
        if scripts:
            out.fields.append(("history", "JavaScript", f"{len(scripts)} document script(s)"))
    associated = deref(root.get("/AF"))  # PDF 2.0 associated files: a reader lists them beside the attachments
    for i, spec in enumerate(associated[:MAX_NAME_TREE_NODES] if isinstance(associated, list) else [], 1):
        for name, stream in _filespec_streams(deref(spec)):
            out.attachments.append((safe_name(f"associated[{i}]:{name or 'file'}"), stream))
    for key, label in (("/OpenAction", "open action"), ("/AA", "automatic actions")):
        if root.get(key) is not None:
            out.fields.append(("history", label, _action_kind(root.get(key))))


def _action_kind(action: Any) -> str:
    action = deref(action)
    if hasattr(action, "get") and action.get("/S") is not None:
        return text_of(action.get("/S")).lstrip("/")
    return "present"


def form_values(reader: Any, out: Structure) -> None:
    try:
        values = reader.get_form_text_fields() or {}
    except Exception as exc:  # pypdf raises many types on damaged forms
        out.errors.append((CorruptItem(f"form fields unreadable ({type(exc).__name__})"), "form"))
        return
    filled = [(str(k), text_of(v)) for k, v in values.items() if v]
    out.texts.extend(v for _, v in filled)
    if filled:
        out.fields.append(("history", "filled form fields", str(len(filled))))


def annotation_parts(page_no: int, annots: Any, out: Structure) -> None:
    """Comments (/Contents, their /T author), file attachments and risky actions on one page."""
    annots = deref(annots)
    markup = 0
    for j, ref in enumerate(annots if isinstance(annots, list) else [], 1):
        annot = deref(ref)
        if not hasattr(annot, "get"):
            continue
        subtype = str(annot.get("/Subtype", ""))
        action = annot.get("/A")
        if action is not None and _action_kind(action) in {a.lstrip("/") for a in RISKY_ACTIONS}:
            out.fields.append(("history", f"page {page_no} action", _action_kind(action)))
        if subtype == "/FileAttachment":
            for name, stream in _filespec_streams(deref(annot.get("/FS"))):
                out.attachments.append((safe_name(f"page[{page_no}]/attachment[{j}]:{name}"), stream))
        if subtype in MARKUP_SKIP:
            continue
        markup += 1
        if annot.get("/T") is not None:
            out.fields.append(("identity", "annotation author", text_of(annot.get("/T"))))
        if annot.get("/Contents") is not None:
            out.texts.append(text_of(annot.get("/Contents")))
    if markup:
        out.fields.append(("history", f"page {page_no} annotations", str(markup)))


def metadata_streams(reader: Any, out: Structure) -> None:
    """Every XMP stream besides the catalog's (a page's, a picture's: ExifTool reads their GPS too), found by its
    /Type /Metadata or by a /Metadata key pointing at it (a writer may leave the /Type out), every page thumbnail
    stored as a JPEG or JPEG 2000 file, and every JPEG image stream (the expander yields those the pages did not
    draw), as (name, stream)."""
    from pypdf.generic import StreamObject

    root = reader.trailer["/Root"]
    catalog = deref(root).get("/Metadata")
    skip = catalog.idnum if hasattr(catalog, "idnum") else None
    ids = sorted({i for table in reader.xref.values() for i in table} | set(reader.xref_objStm))
    if len(ids) > MAX_OBJECTS:
        raise ItemTooLarge(f"{len(ids)} PDF objects: over {MAX_OBJECTS} to look through for XMP")
    thumbs = set()
    for n, page in enumerate(reader.pages, 1):
        ref = page.get("/Thumb")
        thumb = deref(ref)
        if isinstance(thumb, StreamObject) and _last_filter(thumb) in ("/DCTDecode", "/JPXDecode"):
            out.streams.append((f"page[{n}] thumbnail", thumb))  # a picture file; raw samples are the page's own
            thumbs.add(getattr(ref, "idnum", None))
    damaged = 0
    others: dict[int, Any] = {}  # streams that are neither XMP by their /Type nor JPEG pictures
    pointed: set[int] = set()  # objects some dictionary's /Metadata points at
    for idnum in ids:
        try:
            obj = reader.get_object(idnum)
        except Exception:  # pypdf raises many types on a damaged object
            damaged += 1
            obj = None
        meta = getattr(obj.get("/Metadata") if hasattr(obj, "get") else None, "idnum", None)
        if isinstance(meta, int):
            pointed.add(meta)
        if not isinstance(obj, StreamObject) or idnum in (skip, *thumbs):
            continue
        if obj.get("/Type") == "/Metadata":
            out.xmp.append((f"xmp[{idnum}]", obj))
        elif obj.get("/Subtype") == "/Image" and _last_filter(obj) == "/DCTDecode":
            out.jpegs.append((f"object[{idnum}]", obj))  # drawn by a pattern, a soft mask, an annotation, or not
        else:
            others[idnum] = obj
    out.xmp.extend((f"xmp[{idnum}]", obj) for idnum, obj in others.items() if idnum in pointed)
    if damaged:
        raise CorruptItem(f"{damaged} PDF object(s) unreadable: not known to hold no XMP")


def _last_filter(stream: Any) -> str:
    filters = stream.get("/Filter")
    names = [str(f) for f in (filters if isinstance(filters, list) else [filters] if filters else [])]
    return names[-1] if names else ""
