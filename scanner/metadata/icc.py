"""An ICC colour profile's text: description, copyright, device maker and model names.

The profile rides along in a JPEG (APP2), a PNG (iCCP, compressed), WebP, TIFF and HEIC; Pillow hands it over
as `info["icc_profile"]`. Its text tags are free text anyone can write (a name, an e-mail address, a card
number), so they pass the same rules as other metadata text. Read within the profile's bounds: a tag that
points outside it, or more tags than MAX_TAGS, is skipped.
"""

from __future__ import annotations

import struct

from .tags import OTHER

HEADER = 128
MAX_TAGS = 200
MAX_TEXT = 4096  # characters kept of one tag


def text_fields(profile: bytes) -> list[tuple[str, str, str]]:
    """(OTHER, "ICC <tag>", text) for each text tag (types desc, text, mluc) of the profile."""
    if len(profile) < HEADER + 4 or profile[36:40] != b"acsp":
        return []
    count = struct.unpack_from(">I", profile, HEADER)[0]
    fields = []
    for i in range(min(count, MAX_TAGS)):
        at = HEADER + 4 + 12 * i
        if at + 12 > len(profile):
            break
        signature, offset, size = struct.unpack_from(">4sII", profile, at)
        data = profile[offset : offset + size] if offset + size <= len(profile) else b""
        text = _text(data)
        if text.strip():
            name = signature.decode("latin-1")
            fields.append((OTHER, f"ICC {name if name.isprintable() else 'tag'}", text[:MAX_TEXT]))
    return fields


def _text(data: bytes) -> str:
    kind = data[:4]
    if kind == b"text":
        return data[8:].split(b"\0", 1)[0].decode("latin-1")
    if kind == b"desc" and len(data) >= 12:
        length = struct.unpack_from(">I", data, 8)[0]
        return data[12 : 12 + length].split(b"\0", 1)[0].decode("latin-1")
    if kind == b"mluc" and len(data) >= 16:
        records, size = struct.unpack_from(">II", data, 8)
        texts = []
        for r in range(min(records, 64)):
            at = 16 + r * max(size, 12)
            if at + 12 > len(data):
                break
            length, offset = struct.unpack_from(">II", data, at + 4)
            texts.append(data[offset : offset + length].decode("utf-16-be", "replace"))
        return " | ".join(dict.fromkeys(t for t in texts if t.strip()))
    return ""
