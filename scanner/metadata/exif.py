"""EXIF through Pillow (IFD0/Exif IFD text tags, IFD1 thumbnail) and our strict walker (every EXIF block of
every container, GPS IFDs, structural problems), IPTC, maker notes (exifread)."""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import CorruptItem
from . import isobmff, photoshop, png, tags, tiff

if TYPE_CHECKING:
    from PIL import Image

GPS_IFD = 0x8825
EXIF_IFD = 0x8769
MAKERNOTE = 0x927C
ORIENTATION = 0x0112
_GPS_PAIRS = (("", 1, 2, 3, 4), ("destination ", 19, 20, 21, 22))


@dataclass(slots=True)
class GpsReading:
    """What a GPS IFD holds: usable positions, coordinates a reader shows without a usable position
    (half a pair, out of range), and what was wrong with the rest (empty, undefined values)."""

    positions: list[tuple[str, float, float]] = field(default_factory=list)
    partial: list[tuple[str, dict[str, float]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ExifStructure:
    """One EXIF block of the file as the strict walker read it."""

    where: str
    walk: tiff.Walk

    def gps(self) -> list[dict[int, Any]]:
        return [ifd.entries for ifd in self.walk.named("GPS")]


@dataclass(slots=True)
class ExifBlock:
    tags: dict[int, Any]
    gps: dict[int, Any]
    gps_pointer: bool
    raw: bytes
    thumbnail: bytes | None
    makernote_ifd: dict[int, Any] = field(default_factory=dict)

    @property
    def tiff(self) -> bytes:
        return tiff_of(self.raw)


def tiff_of(raw: bytes) -> bytes:
    """The TIFF structure of an EXIF block, without the JPEG APP1 `Exif\\0\\0` prefix."""
    return raw[6:] if raw.startswith(b"Exif\x00\x00") else raw


def _rational_tuple(value: Any) -> list[float]:
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    if isinstance(value, str):  # stored as text ("52 22 12", "52,22.2"): ExifTool reads the numbers in it
        numbers = re.findall(r"\d+(?:\.\d+)?", value)
        return [float(n) for n in numbers[:3]] or [math.nan]
    seq = value if isinstance(value, (tuple, list)) else (value,)
    out = []
    for v in seq:
        try:
            out.append(float(v))
        except (TypeError, ValueError, ZeroDivisionError):
            out.append(math.nan)
    return out


def _ref(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    return str(value or "").strip("\x00 ").upper()[:1]


def _coordinate(gps: dict[int, Any], tag: int, ref_tag: int, negative: str) -> float | None:
    """A signed coordinate in degrees; None when the tag is absent, NaN when its value is undefined."""
    from .geo import dms_to_degrees

    if tag not in gps:
        return None
    value = dms_to_degrees(_rational_tuple(gps[tag]))
    return -value if _ref(gps.get(ref_tag)) == negative else value


def read_gps(gps: dict[int, Any]) -> GpsReading:
    """Positions from GPS IFD tags; malformed values are described, never turned into a position."""
    from .geo import valid

    reading = GpsReading()
    for label, lat_ref, lat_tag, lon_ref, lon_tag in _GPS_PAIRS:
        lat = _coordinate(gps, lat_tag, lat_ref, "S")
        lon = _coordinate(gps, lon_tag, lon_ref, "W")
        if lat is None and lon is None:
            continue
        if lat is not None and lon is not None and valid(lat, lon):
            reading.positions.append((label.strip() or "photo", lat, lon))
            continue
        shown = {axis: v for axis, v in (("lat", lat), ("lon", lon)) if v is not None and math.isfinite(v)}
        if shown:  # a reader shows these numbers even though they are not a position
            reading.partial.append((label.strip() or "photo", shown))
        else:
            reading.problems.append(f"{label}coordinates undefined")
    if not gps:
        reading.problems.append("GPS block present but empty")
    return reading


_EXIF_APP1 = re.compile(rb".{0,4}?Exif\x00.", re.DOTALL | re.IGNORECASE)  # ExifTool's test (/is): up to 4 junk
# bytes, "Exif" in any case, any pad byte
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")


def exif_structures(im: Image.Image | None, data: bytes, max_bytes: int) -> list[ExifStructure]:
    """Every EXIF block of the file, walked strictly: each JPEG APP1 EXIF segment (not only the first),
    every PNG eXIf chunk, the TIFF file itself, or the block Pillow found (WebP, HEIC, AVIF).

    `im` None: the image header could not be opened (a file cut in its header tables, say); the blocks
    are then read from the bytes alone, so a GPS position stored before the damage is still found.
    """
    if data[:4] in _TIFF_MAGIC:
        return [ExifStructure("TIFF", tiff.walk(data))]
    blocks = _byte_blocks(data, max_bytes)
    if blocks is None:
        raw = im.info.get("exif") or b"" if im is not None else b""
        blocks = [(raw, len(raw) - len(tiff_of(raw)), len(raw))] if raw else []
        if data[4:8] == b"ftyp":  # HEIC/AVIF: the Exif items as stored, also those libheif did not attach
            blocks += [(data, start, stop) for start, stop in isobmff.exif_items(data)
                       if data[start:stop] != tiff_of(raw)]
    return _structures("EXIF", blocks, max_bytes)


def frame_structures(data: bytes, frames: list[tuple[int, int]], max_bytes: int) -> list[ExifStructure]:
    """The EXIF blocks of the further pictures of an MPO (`frames`: their (start, end) in the file), each frame's
    APP1 segments walked as the first picture's are: a gain map or preview is let go as pixels, not as metadata
    (ExifTool reads a GPS position stored in it)."""
    out = []
    for n, (start, stop) in enumerate(frames, 2):
        out += _structures(f"MPO frame {n} EXIF", _jpeg_blocks(data[start:stop]), max_bytes)
    return out


def _structures(where: str, blocks: list[tuple[bytes, int, int]], max_bytes: int) -> list[ExifStructure]:
    """Each (buffer, TIFF start, end) block walked, named `where`, `where block 2`, ...; one over the cap: an error."""
    out = []
    for n, (buf, start, stop) in enumerate(blocks, 1):
        if stop - start > max_bytes:
            raise CorruptItem(f"EXIF block of {stop - start} bytes is over the metadata cap")
        out.append(ExifStructure(where if n == 1 else f"{where} block {n}", tiff.walk(buf, start, stop)))
    return out


def _byte_blocks(data: bytes, max_bytes: int) -> list[tuple[bytes, int, int]] | None:
    """EXIF blocks found by walking the file's own structure (JPEG segments, PNG chunks); None for
    formats whose EXIF comes from Pillow's reading."""
    if data.startswith(b"\xff\xd8"):
        return _jpeg_blocks(data)
    if data.startswith(png.SIGNATURE):  # eXIf anywhere (also after IDAT), and ImageMagick's hex profiles
        # any case of eXIf (ExifTool reads exIf too, with a warning), and zxIf (compressed: ExifTool inflates it)
        listed = list(png.chunks(data))
        blocks = [(data, start, stop) for kind, start, stop in listed if kind.lower() == b"exif"]
        raws = [_zxif(data[start:stop], max_bytes) for kind, start, stop in listed if kind == b"zxIf"]
        raws += _png_raw_profiles(data, max_bytes)
        return blocks + [(raw, len(raw) - len(tiff_of(raw)), len(raw)) for raw in raws if raw]
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":  # every EXIF chunk: Pillow keeps the first only
        return [(data, start + (6 if data[start : start + 6] == b"Exif\x00\x00" else 0), stop)
                for fourcc, start, stop in _riff_chunks(data) if fourcc == b"EXIF"]
    return None


def _zxif(body: bytes, max_bytes: int) -> bytes:
    """A zxIf chunk's EXIF: a compression byte (0: deflate), the inflated size, the zlib stream."""
    import zlib

    if len(body) < 6 or body[0] != 0:
        return b""
    try:
        return zlib.decompressobj().decompress(body[5:], max_bytes)
    except zlib.error:
        return b""


def _riff_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(fourcc, data start, data end) of each top-level chunk of a RIFF file (WebP)."""
    pos = 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        yield data[pos : pos + 4], pos + 8, min(len(data), pos + 8 + size)
        pos += 8 + size + (size & 1)


_RAW_PROFILES = ("Raw profile type exif", "Raw profile type APP1")
_RAW_8BIM = "Raw profile type 8bim"


def _png_raw_profiles(data: bytes, limit: int) -> list[bytes]:
    """EXIF kept by ImageMagick as hex text ("\\nexif\\n  <length>\\n<hex lines>"), also inside a Photoshop 8BIM
    profile's EXIF resources; ExifTool reads both."""
    out = []
    for key, text in png.text_chunks(data, limit):
        if key in _RAW_PROFILES:
            raws = [png.raw_profile(key, text)]
        elif key == _RAW_8BIM:
            body = png.raw_profile(key, text)
            body = body if body.startswith(photoshop.HEADER) else photoshop.HEADER + body
            raws = [body[rs:re_] for rid, rs, re_ in photoshop.resources(body) if rid in photoshop.EXIF_RESOURCES]
        else:
            continue
        out += [raw for raw in raws if raw.startswith(b"Exif\x00\x00") or raw[:4] in _TIFF_MAGIC]
    return out


def _jpeg_blocks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(file bytes, TIFF start, segment end) of every APP1 EXIF segment and every EXIF copy in a Photoshop
    APP13 segment; offsets past the segment end still read from the file, as readers that read from the file do."""
    from .hidden import jpeg_segments

    out = []
    for marker, start, end in jpeg_segments(data):
        m = _EXIF_APP1.match(data, start, end) if marker == 0xE1 else None
        if m:
            out.append((data, m.end(), end))
        elif marker == 0xED:
            body = data[start:end]
            out += [(body, rs, re_) for rid, rs, re_ in photoshop.resources(body)
                    if rid in photoshop.EXIF_RESOURCES and body[rs : rs + 4] in _TIFF_MAGIC]
    return out


def _thumbnail(raw: bytes, ifd1: dict[int, Any]) -> bytes | None:
    offset, length = ifd1.get(0x0201), ifd1.get(0x0202)
    if not isinstance(offset, int) or not isinstance(length, int) or length <= 0:
        return None
    tiff = tiff_of(raw)
    blob = tiff[offset : offset + length]
    return blob if blob.startswith(b"\xff\xd8") else None


def read_exif(im: Image.Image, max_bytes: int, data: bytes | None = None) -> ExifBlock | None:
    """The EXIF of an opened image, or None when it has none. Raises CorruptItem when unreadable.

    `data`: the file's bytes. A PNG's eXIf chunk is then found by walking its chunks, where Pillow's getexif()
    would decode (and keep) every pixel of `im` to look past the image data; a PNG cut short or holding an
    ImageMagick raw profile is left to Pillow, so what is read is the same either way.
    """
    from PIL import ExifTags, Image

    raw = im.info.get("exif") or b""
    walked = False
    if not raw and data is not None and im.format == "PNG":  # the walk sees the raw profiles im.info holds too
        walked, chunk = png.exif_chunk(data)
        raw = (chunk or b"") if walked else b""
    if len(raw) > max_bytes:
        raise CorruptItem(f"EXIF block of {len(raw)} bytes is over the metadata cap")
    try:
        if walked:
            exif = Image.Exif()
            if raw:
                exif.load(raw)
        else:
            exif = im.getexif()
        if not exif and not raw:
            return None
        exif_ifd = exif.get_ifd(EXIF_IFD)
        block = ExifBlock(
            tags={**dict(exif), **exif_ifd},
            gps=dict(exif.get_ifd(GPS_IFD)),
            gps_pointer=GPS_IFD in exif,
            raw=raw,
            thumbnail=_thumbnail(raw, exif.get_ifd(ExifTags.IFD.IFD1)) if raw else None,
            makernote_ifd=dict(exif.get_ifd(MAKERNOTE)) if MAKERNOTE in exif_ifd else {},
        )
    except (OSError, ValueError, SyntaxError, EOFError, KeyError, TypeError, IndexError) as exc:
        raise CorruptItem(f"EXIF block unreadable: {exc}") from None
    if raw and not exif and not _valid_tiff_header(raw):
        raise CorruptItem(f"EXIF block of {len(raw)} bytes present but its header is unreadable")
    return block


def _valid_tiff_header(raw: bytes) -> bool:
    tiff = tiff_of(raw)
    if tiff[:4] not in (b"II*\x00", b"MM\x00*") or len(tiff) < 8:
        return False
    offset = int.from_bytes(tiff[4:8], "little" if tiff[:2] == b"II" else "big")
    return 8 <= offset < len(tiff)


def text_of(value: Any) -> str:
    """A printable string from an EXIF/IPTC value (bytes, UTF-16 XP* tuples, lists)."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) for v in value):
        value = bytes(value).decode("utf-16-le", "replace")
    elif isinstance(value, (list, tuple)):
        value = "; ".join(text_of(v) for v in value)
    if isinstance(value, bytes):
        if value.startswith(b"UNICODE\x00"):  # UCS-2 in the file's byte order: the one that reads as text
            value = max((value[8:].decode(order, "replace") for order in ("utf-16-le", "utf-16-be")),
                        key=lambda t: sum(c.isprintable() and c != "\ufffd" for c in t))
        else:
            if value.startswith((b"ASCII\x00\x00\x00", b"\x00" * 8)):
                value = value[8:]
            value = value.decode("utf-8", "replace")
    return str(value).replace("\x00", "").strip()


_BINARY_TAGS = {MAKERNOTE, 0x02BC, 0x8773, 0x83BB}  # maker note, XMP, ICC, IPTC: parsed elsewhere
_MIN_TEXT_RATIO = 0.8  # an undefined-type value is read as text when this share of its bytes is printable


def structure_fields(structure: ExifStructure) -> Iterator[tuple[str, str, str]]:
    """(category, tag name, value) for every text value of every IFD of one EXIF block: known tags with
    their category, any other string (or mostly printable byte string) as "other" for the text rules."""
    from PIL import ExifTags

    for ifd in structure.walk.ifds:
        names = ExifTags.GPSTAGS if ifd.name == "GPS" else ExifTags.TAGS
        for tag, raw in ifd.entries.items():
            value = _as_text_value(tag, raw)
            known = tags.EXIF_TAGS.get(tag)
            if known is not None:
                text = text_of(value)
                if text:
                    yield known[1], known[0], text
            elif tag not in _BINARY_TAGS and _is_text(value):
                text = text_of(value)
                if text:
                    yield tags.OTHER, names.get(tag, f"{ifd.name} tag 0x{tag:04x}"), text


_XP_TAGS = range(0x9C9B, 0x9CA0)  # Windows XPTitle ... XPSubject: UTF-16 in BYTE values


def _as_text_value(tag: int, value: Any) -> Any:
    """BYTE values as bytes (UTF-16 text for the XP* tags), everything else as the walker read it."""
    if isinstance(value, tuple) and value and all(isinstance(v, int) and 0 <= v < 256 for v in value):
        raw = bytes(value)
        return raw.decode("utf-16-le", "replace").rstrip("\x00") if tag in _XP_TAGS else raw
    return value


def _is_text(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if not isinstance(value, bytes) or not value:
        return False
    printable = sum(1 for b in value if 32 <= b < 127 or b in (9, 10, 13))
    return printable >= _MIN_TEXT_RATIO * len(value.rstrip(b"\x00"))


_INFO_TEXT = {"author": "identity", "copyright": "identity", "artist": "identity", "creator": "identity",
              "software": "device", "creation time": "time", "comment": "text", "description": "text",
              "title": "text", "disclaimer": "text", "source": "device", "warning": "text"}


def info_text_fields(im: Image.Image, data: bytes, limit: int) -> Iterator[tuple[str, str, str]]:
    """PNG text chunks (tEXt, iTXt, zTXt; read from the bytes, so no pixel is decoded) and JPEG/GIF comments."""
    chunks: list[tuple[str, object]] = list(png.text_chunks(data, limit)) if im.format == "PNG" else []
    if "comment" in im.info:  # every chunk, also under a keyword used twice (readers show each)
        chunks.append(("comment", im.info["comment"]))
    for key, value in chunks:
        if key.startswith("Raw profile type ") and key.split()[-1].lower() not in ("exif", "xmp", "app1"):
            yield tags.OTHER, key, _profile_text(value)  # ImageMagick's hex IPTC, 8BIM, note...: their strings
            continue
        if key.startswith(("XML:com.adobe.xmp", "Raw profile type")):
            continue  # parsed as XMP / EXIF
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        if text.strip():
            yield _INFO_TEXT.get(key.lower(), "text"), key, text.strip()


def _profile_text(value: object) -> str:
    """The readable strings (4+ characters) of an ImageMagick raw profile: a name line, a length, then hex."""
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    lines = text.strip().split("\n", 2)
    digits = "".join(lines[2].split()) if len(lines) == 3 else ""
    try:
        raw = bytes.fromhex(digits[: len(digits) // 2 * 2])
    except ValueError:
        return text
    return "\n".join(re.findall(r"[^\x00-\x1f\x7f-\x9f]{4,}", raw.decode("utf-8", "replace")))


def iptc_fields(im: Image.Image) -> Iterator[tuple[str, str, str]]:
    from PIL import IptcImagePlugin

    try:
        info = IptcImagePlugin.getiptcinfo(im) or {}  # type: ignore[arg-type]
    except (OSError, ValueError, SyntaxError, IndexError, TypeError) as exc:
        raise CorruptItem(f"IPTC block unreadable: {exc}") from None
    for key, value in info.items():
        known = tags.IPTC_TAGS.get(key)
        text = text_of(value)
        if text:
            name, category = known or (f"IPTC {key[0]}:{key[1]}", tags.OTHER)
            yield category, name, text


def makernote_serials(data: bytes) -> list[tuple[str, str]]:
    """Serial numbers and owner names inside a vendor maker note (Canon, Nikon, Fujifilm ...)."""
    import exifread

    logging.getLogger("exifread").setLevel(logging.CRITICAL)
    found = exifread.process_file(io.BytesIO(data), details=True, extract_thumbnail=False)
    out = []
    for key, value in found.items():
        if key.startswith("MakerNote ") and any(m in key for m in tags.MAKERNOTE_IDENTITY):
            text = text_of(str(value))
            if text and text.strip("0 ") and text not in ("[]", "None"):
                out.append((key.removeprefix("MakerNote "), text))
    return out
