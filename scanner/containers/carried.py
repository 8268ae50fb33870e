"""Files carried inside text: `data:` URIs (HTML, SVG, CSS, Markdown, notebooks), RTF pictures and uuencoded blocks.

A web page, an SVG drawing, an RTF document or an e-mail body can hold a whole photo as text; a reader shows
the picture, so it is scanned like an attachment. `carried(text)` finds them; `TextExpander` yields them as
children of a text item (the text itself is still read by the text rules). An RTF file is a kind of its own,
opened by rtf.py (its pictures, objects and properties); the picture finder here is for RTF carried inside other
text (an e-mail body). Bounded: at most MAX_FILES a text, each admitted to the budget before it is decoded.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from functools import partial
from urllib.parse import unquote_to_bytes

from ..errors import CorruptItem
from ..formats import TEXT_KIND, UNKNOWN_KIND, decode_text, sniff
from ..model import Item
from .base import Budget, Expansion, child, error, safe_name

MAX_FILES = 200
MIN_DATA_CHARS = 64  # a data: URI shorter than this holds no picture worth a child (a 1x1 spacer, a tiny icon)
_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[\w.+-]+)*)(;base64)?,([A-Za-z0-9+/=%\s._~-]+)",
                       re.IGNORECASE)
_RTF_PICT = re.compile(r"\\(?:jpegblip|pngblip|emfblip|wmetafile\d*|dibitmap\d*)\b[^{}]*?\s((?:[0-9a-fA-F]{2}\s*)+)")
_UUENCODED = re.compile(r"^begin(?:-base64)? [0-7]{3,4} ([^\r\n]+)\r?\n(.*?)^end\s*$", re.MULTILINE | re.DOTALL)
_MARKERS = ("data:", "\\pict", "begin ")


def carried(text: str, budget: Budget) -> Iterator[tuple[str, bytes] | CorruptItem]:
    """(name, bytes) of each file the text carries, or an error for one that cannot be decoded."""
    if not any(marker in text for marker in _MARKERS):
        return
    found = 0
    for name, decode in _candidates(text):
        found += 1
        if found > MAX_FILES:
            yield CorruptItem(f"over {MAX_FILES} files carried in the text: the rest not decoded")
            return
        try:
            data = decode()
        except (ValueError, binascii.Error) as exc:
            yield CorruptItem(f"{name}: cannot be decoded ({type(exc).__name__})")
            continue
        if sniff(data) == UNKNOWN_KIND:
            continue  # a web font, a Windows metafile: bytes no check here reads (as a package's fonts are skipped)
        budget.admit(len(data), what=name)
        yield name, data


def _candidates(text: str) -> Iterator[tuple[str, Callable[[], bytes]]]:
    n = 0
    for m in _DATA_URI.finditer(text):
        payload = m.group(4)
        if len(payload) < MIN_DATA_CHARS:
            continue
        n += 1
        yield f"data-uri[{n}]:{m.group(1) or 'text/plain'}", partial(_data, payload, bool(m.group(3)))
    for k, m in enumerate(_RTF_PICT.finditer(text), 1):
        yield f"rtf-picture[{k}]", partial(bytes.fromhex, "".join(m.group(1).split()))
    for k, m in enumerate(_UUENCODED.finditer(text), 1):
        yield f"uuencoded[{k}]:{safe_name(m.group(1).strip())}", partial(_uudecode, m.group(2))


def _data(payload: str, is_base64: bool) -> bytes:
    if is_base64:
        clean = "".join(unquote_to_bytes(payload).decode("ascii", "replace").split())
        return base64.b64decode(clean + "=" * (-len(clean) % 4), validate=True)
    return unquote_to_bytes(payload)


def _uudecode(body: str) -> bytes:
    out = bytearray()
    for line in body.splitlines():
        if not line.strip() or line.strip() == "`":
            continue
        out += binascii.a2b_uu(line)
    return bytes(out)


class TextExpander:
    """text/plain (which includes HTML, SVG, CSS and notebooks: all sniffed as text) -> the files it carries."""

    id = "carried"
    kinds = frozenset({TEXT_KIND})
    covers = False  # the text itself is the text detector's (not selected: the file is reviewed, as before)

    def __init__(self, settings: object | None = None) -> None:
        del settings  # nothing to keep

    def expand(self, item: Item, budget: Budget) -> Expansion:
        for out in carried(decode_text(item.data), budget):
            if isinstance(out, CorruptItem):
                yield error(out, "expand")
            else:
                yield child(item, out[0], out[1])
