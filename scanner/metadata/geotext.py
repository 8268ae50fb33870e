"""Location files written as text: Google Takeout photo sidecars (`IMG_1234.jpg.json`: `geoData`, `geoDataExif` and
the tagged `people`), GPX (`trkpt`, `wpt`, `rtept` lat/lon attributes), KML (`coordinates` as lon,lat[,alt],
`gx:coord`, a `LookAt`'s or `Camera`'s longitude/latitude), GeoJSON (a geometry's `coordinates`, lon,lat), Google
Location History (Takeout's `Records.json` and semantic history: `latitudeE7`/`longitudeE7`; a phone's Timeline
export: `"latLng": "52.37°, 4.89°"`) and NMEA logs (`$GPGGA`, `$GPRMC`, `$GPGLL` sentences of a GPS logger).
`shape` tells them by content, never by name.

Read within the metadata cap: JSON walked with a value budget, XML streamed through defusedxml (no tree kept).
What looks like one of these files but cannot be fully read (malformed, cut short, over the cap, a coordinate
that is no number) is a problem (review), never "no location"; what was read before the damage is kept.
Takeout writes 0.0/0.0 for "no position": not a position. Numbers out of range are not positions either.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

from defusedxml.common import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from ..formats import decode_text

TAKEOUT, GPX, KML = "Google Takeout sidecar", "GPX", "KML"
GEOJSON, HISTORY, NMEA = "GeoJSON", "Google Location History", "NMEA log"
SNIFF_CHARS = 4096  # an XML file's root element is looked for in this much of its start
FEED_BYTES = 65_536  # XML is handed to the parser in pieces this big
MAX_POINTS = 200_000  # positions of one file kept for the sites check (more are counted only)
MAX_VALUES = 20_000  # JSON values walked in one file
MAX_PEOPLE = 100  # tagged people reported from one file
Coordinate = tuple[str, str, float | None, float | None]  # (where, label, lat, lon); NaN: present, unreadable

# what may come before the root element: XML declaration, processing instructions, comments, a DOCTYPE (its
# internal subset too); then the root element, under any prefix
_PROLOG = re.compile(r"[\ufeff\s]*(?:(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)\s*)*", re.DOTALL)
_ROOT = re.compile(r"<(?:[\w.-]+:)?(gpx|kml)(?:[\s/>]|\Z)")
_OPEN_PROLOG = ("<?", "<!--", "<!DOCTYPE")  # a prolog item not closed within the sample: look further
_TAKEOUT_KEY = re.compile(rb'"geoData(?:Exif)?"\s*:')
_HISTORY_KEY = re.compile(rb'"(?:latitudeE7|longitudeE7)"\s*:|"latLng"\s*:\s*"\s*-?\d')
_GEOMETRIES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
_GEOJSON_TYPE = re.compile(rb'"type"\s*:\s*"(?:Feature|FeatureCollection|GeometryCollection|'
                           + "|".join(_GEOMETRIES).encode() + rb')"')
_GEOJSON_KEY = re.compile(rb'"coordinates"\s*:')
_E7_PAIR = re.compile(r'"latitudeE7"\s*:\s*(-?\d+)\s*,\s*"longitudeE7"\s*:\s*(-?\d+)'
                      r'|"longitudeE7"\s*:\s*(-?\d+)\s*,\s*"latitudeE7"\s*:\s*(-?\d+)')
_LAT_LNG = re.compile(r'"latLng"\s*:\s*"\s*(-?\d+(?:\.\d+)?)\s*°?\s*,\s*(-?\d+(?:\.\d+)?)\s*°?\s*"')
_NMEA_LINE = re.compile(r"^\$(?:G[PNLAB]|BD)(GGA|RMC|GLL),([^*\r\n]*)", re.MULTILINE)
_NMEA_FIELDS = {"GGA": 1, "RMC": 2, "GLL": 0}  # where latitude starts among a sentence's fields (after its name)
MAX_DEPTH = 64  # nested GeoJSON coordinate arrays
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_GPX_POINTS = {"trkpt": "track point", "wpt": "waypoint", "rtept": "route point"}
_KML_VIEWS = {"LookAt": "view point", "Camera": "camera position", "Location": "model position"}


@dataclass(slots=True)
class GeoText:
    """What one location file holds: valid positions by (where, label), how many, what else was seen."""

    shape: str
    points: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    odd: list[Coordinate] = field(default_factory=list)  # out of range, half a pair or unreadable (first of each)
    people: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    kept: int = 0

    def add(self, where: str, label: str, lat: float | None, lon: float | None) -> None:
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:  # NaN compares False
            key = (where, label)
            self.counts[key] = self.counts.get(key, 0) + 1
            if self.kept < MAX_POINTS or key not in self.points:
                self.points.setdefault(key, []).append((lat, lon))
                self.kept += 1
        elif not any(w == where and lb == label for w, lb, _, _ in self.odd):
            self.odd.append((where, label, lat, lon))


def shape(data: bytes, limit: int) -> str | None:
    """TAKEOUT, GPX or KML when the text is one of them (by content), else None. Cheap: called per text item."""
    head = decode_text(data[:SNIFF_CHARS]).lstrip("\ufeff \t\r\n")
    if head.startswith("<"):
        root = _root(head)
        if root == "" and len(data) > SNIFF_CHARS:  # a long comment or DOCTYPE first: the root is further on
            root = _root(decode_text(data[:limit]))
        return {"gpx": GPX, "kml": KML}.get(root or "")
    if head.startswith(("{", "[")):
        text = _json_bytes(data, limit)
        if _TAKEOUT_KEY.search(text):
            return TAKEOUT
        if _HISTORY_KEY.search(text):
            return HISTORY
        if _GEOJSON_KEY.search(text) and _GEOJSON_TYPE.search(text):
            return GEOJSON
        return None
    if _NMEA_LINE.match(head):
        return NMEA
    return None


def _root(text: str) -> str | None:
    """The root element's name when it is gpx or kml, None when it is another, "" when the sample ends first."""
    prolog = _PROLOG.match(text)
    rest = text[prolog.end() :] if prolog else text
    m = _ROOT.match(rest)
    if m is not None:
        return m.group(1)
    return "" if not rest or rest.startswith(_OPEN_PROLOG) else None


def _json_bytes(data: bytes, limit: int) -> bytes:
    """Where to look for Takeout's keys: the whole file (UTF-8), or its first `limit` bytes as UTF-8 (UTF-16)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return decode_text(data[:limit]).encode("utf-8", "replace")
    return data


def read(data: bytes, limit: int) -> GeoText | None:
    """The positions (and Takeout's people) of a location file; None when the text is none of them."""
    kind = shape(data, limit)
    if kind is None:
        return None
    out = GeoText(kind)
    if len(data) > limit:
        out.problems.append(f"{len(data)} bytes, over the metadata cap of {limit}: only the first {limit} read")
    if kind == TAKEOUT:
        _takeout(data, limit, out)
    elif kind == GEOJSON:
        _geojson(data, limit, out)
    elif kind == HISTORY:
        _history(data, limit, out)
    elif kind == NMEA:
        _nmea(data, limit, out)
    else:
        _xml(data, limit, out)
    return out


# --- Google Takeout JSON -----------------------------------------------------------------------------------
def _json(data: bytes, limit: int, out: GeoText) -> object:
    """The parsed document; None (said as a problem) when it is cut at the cap or is not valid JSON."""
    if len(data) > limit:
        return None  # a JSON document cut at the cap does not parse; the problem is already said
    try:
        return json.loads(decode_text(data).lstrip("\ufeff"))
    except (ValueError, RecursionError) as exc:
        out.problems.append(f"not valid JSON ({type(exc).__name__})")
        return None


def _takeout(data: bytes, limit: int, out: GeoText) -> None:
    doc = _json(data, limit, out)
    if doc is None:
        return
    for obj in _objects(doc, out):
        for key in ("geoData", "geoDataExif"):
            geo = obj.get(key)
            if isinstance(geo, dict):
                _geo_data(key, geo, out)
            elif key in obj:
                out.problems.append(f"{key} is not an object")
        people = obj.get("people")
        if isinstance(people, list):
            names = [p["name"] for p in people if isinstance(p, dict) and isinstance(p.get("name"), str)]
            out.people.extend(n for n in names[: MAX_PEOPLE - len(out.people)] if n.strip())


def _objects(doc: object, out: GeoText) -> Iterator[dict[str, object]]:
    """Every JSON object in the document (a sidecar, or a list of them), within the value budget."""
    stack, seen = [doc], 0
    while stack:
        value = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            out.problems.append(f"over {MAX_VALUES} JSON values: the rest not read")
            return
        if isinstance(value, dict):
            yield value
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


# --- GeoJSON, Location History, NMEA ------------------------------------------------------------------------
def _geojson(data: bytes, limit: int, out: GeoText) -> None:
    doc = _json(data, limit, out)
    if doc is None:
        return
    for obj in _objects(doc, out):
        kind = obj.get("type")
        if isinstance(kind, str) and kind in _GEOMETRIES and "coordinates" in obj:
            _geojson_positions(obj["coordinates"], "GeoJSON coordinates", out, 0)


def _geojson_positions(value: object, where: str, out: GeoText, depth: int) -> None:
    """A geometry's positions ([lon, lat(, alt)]) at any nesting (a polygon's rings, a multi-geometry's parts)."""
    if depth > MAX_DEPTH:
        out.problems.append("coordinates nested too deep")
        return
    if isinstance(value, list) and value and all(isinstance(v, int | float) and not isinstance(v, bool)
                                                 for v in value):
        lon, lat = (float(value[0]), float(value[1])) if len(value) >= 2 else (float(value[0]), math.nan)
        out.add(where, "feature", lat, lon)
    elif isinstance(value, list):
        for part in value:
            _geojson_positions(part, where, out, depth + 1)
    else:
        out.add(where, "feature", math.nan, math.nan)  # a position that is no number pair: unreadable


def _history(data: bytes, limit: int, out: GeoText) -> None:
    """Every `latitudeE7`/`longitudeE7` pair and `latLng` text within the cap (a history runs to hundreds of MB:
    read as text, not parsed, so the part within the cap is read even when the rest is not)."""
    text = decode_text(data[:limit])
    for m in _E7_PAIR.finditer(text):
        lat, lon = (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(4), m.group(3))
        out.add(HISTORY, "visit", int(lat) / 1e7, int(lon) / 1e7)
    for m in _LAT_LNG.finditer(text):
        out.add(f"{HISTORY} latLng", "visit", float(m.group(1)), float(m.group(2)))
    if len(data) <= limit and _json(data, limit, out) is not None and not out.counts and not out.odd:
        out.problems.append("location keys without a position read")


def _nmea(data: bytes, limit: int, out: GeoText) -> None:
    """GGA, RMC and GLL sentences' positions (ddmm.mmmm with N/S, dddmm.mmmm with E/W); a sentence without a fix
    (empty fields) is no position."""
    for m in _NMEA_LINE.finditer(decode_text(data[:limit])):
        fields = m.group(2).split(",")
        at = _NMEA_FIELDS[m.group(1)]
        if len(fields) < at + 4 or not fields[at] or not fields[at + 2]:
            continue
        lat, lon = _nmea_degrees(fields[at], fields[at + 1], 2), _nmea_degrees(fields[at + 2], fields[at + 3], 3)
        out.add("NMEA sentences", "track point", lat, lon)


def _nmea_degrees(value: str, hemisphere: str, width: int) -> float:
    """`4807.038`, `N` -> 48.1173; NaN when it is not a ddmm.mmmm number with a hemisphere."""
    if not _NUMBER.fullmatch(value) or hemisphere not in ("N", "S", "E", "W") or len(value.split(".")[0]) < width:
        return math.nan
    degrees = float(value[:width]) + float(value[width:]) / 60
    return -degrees if hemisphere in ("S", "W") else degrees


def _geo_data(key: str, geo: dict[str, object], out: GeoText) -> None:
    lat, lon = _json_number(geo.get("latitude")), _json_number(geo.get("longitude"))
    if lat is None and lon is None:
        out.problems.append(f"{key} without a latitude or longitude")
    elif lat != 0 or lon != 0:  # Takeout's 0.0/0.0 is "no position"
        out.add(f"Google Takeout {key}", "photo", lat, lon)


def _json_number(value: object) -> float | None:
    """A JSON number (or a number written as text) -> float; absent: None; anything else: NaN (unreadable)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return math.nan


def _text_number(text: str) -> float:
    return float(text) if _NUMBER.fullmatch(text.strip()) else math.nan


# --- GPX and KML (streamed) --------------------------------------------------------------------------------
class _Points:
    """A parser target that keeps only coordinates: GPX point attributes, KML coordinate texts and views."""

    def __init__(self, out: GeoText) -> None:
        self.out = out
        self.text: list[str] = []
        self.views: list[dict[str, str]] = []  # per open element: its latitude/longitude children's text

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        name = tag.rpartition("}")[2]
        if self.out.shape == GPX and name in _GPX_POINTS:
            lat, lon = attrib.get("lat"), attrib.get("lon")
            self.out.add(f"GPX {name}", _GPX_POINTS[name], None if lat is None else _text_number(lat),
                         None if lon is None else _text_number(lon))
        self.text = []
        self.views.append({})

    def data(self, text: str) -> None:
        self.text.append(text)

    def end(self, tag: str) -> None:
        name, text = tag.rpartition("}")[2], "".join(self.text)
        self.text = []
        view = self.views.pop() if self.views else {}
        if self.out.shape != KML:
            return
        if name == "coordinates":
            for point in re.sub(r"\s*,\s*", ",", text).split():
                parts = point.split(",")
                self._add("KML coordinates", "placemark", parts[1] if len(parts) > 1 else None, parts[0])
        elif name == "coord":  # gx:Track: "lon lat alt"
            parts = text.split()
            self._add("KML gx:coord", "track point", parts[1] if len(parts) > 1 else None,
                      parts[0] if parts else None)
        elif name in ("latitude", "longitude") and self.views:
            self.views[-1][name] = text
        elif name in _KML_VIEWS and view:
            self._add(f"KML {name}", _KML_VIEWS[name], view.get("latitude"), view.get("longitude"))

    def _add(self, where: str, label: str, lat: str | None, lon: str | None) -> None:
        self.out.add(where, label, None if lat is None else _text_number(lat),
                     None if lon is None else _text_number(lon))

    def close(self) -> None:
        return None


def _xml(data: bytes, limit: int, out: GeoText) -> None:
    parser = DefusedXMLParser(target=_Points(out))
    try:
        for start in range(0, min(len(data), limit), FEED_BYTES):
            parser.feed(data[start : min(start + FEED_BYTES, limit)])
        if len(data) <= limit:
            parser.close()
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        out.problems.append(f"not well-formed XML ({type(exc).__name__})")
