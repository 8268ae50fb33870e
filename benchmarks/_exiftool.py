"""ExifTool as the reference reader: GPS coordinates in any group (EXIF, XMP, QuickTime...), one process per batch.

    coordinates(paths) -> {path: [Coordinate, ...]}   # empty list: ExifTool read no coordinate

Shared by bench_exiftool_diff.py, fuzz_metadata.py and tests/test_exiftool_differential.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scanner.engines.exiftool import number, signed

# -n: numbers, not "52 deg 22' N"; -G1: the group that holds each tag; -a: duplicates too;
# -ee: embedded streams (video tracks, ...). `-GPS*` is every tag named GPS* in every group.
# (`-GPS*:all` selects *groups* named GPS*, which is only the EXIF GPS IFD.)
EXIFTOOL_ARGS = ("-n", "-j", "-G1", "-a", "-ee", "-GPS*")
DERIVED_GROUPS = frozenset({"Composite"})  # computed by ExifTool from the other groups: not a second source
_PAIRS = (("GPSLatitude", "GPSLongitude", "photo"), ("GPSDestLatitude", "GPSDestLongitude", "destination"))
_JOINED = ("GPSCoordinates", "GPSPosition")  # "lat lon [alt]" in one value (QuickTime, Keys, ...)
MAX_LAT, MAX_LON = 90.0, 180.0


@dataclass(frozen=True, slots=True)
class Coordinate:
    """One position ExifTool read: the group that holds it, what it is (photo/destination), the numbers."""

    group: str
    label: str
    lat: float
    lon: float

    def describe(self) -> str:
        return f"{self.group} {self.label} {self.lat:.5f},{self.lon:.5f}"


def available() -> bool:
    return shutil.which("exiftool") is not None


def _in_range(lat: float | None, lon: float | None) -> bool:
    return lat is not None and lon is not None and abs(lat) <= MAX_LAT and abs(lon) <= MAX_LON


def parse_record(record: Mapping[str, object]) -> list[Coordinate]:
    """The coordinates of one ExifTool JSON record (`-G1` keys: "Group:Tag"); latitude and longitude
    count as a coordinate only as a pair from the same group, in range, as numbers. A Composite position
    counts only when no other group holds one (ExifTool shows a 3GPP `loci` box only as Composite)."""
    found = _coordinates(record, lambda group: group not in DERIVED_GROUPS)
    return found or _coordinates(record, lambda group: group in DERIVED_GROUPS)


def _coordinates(record: Mapping[str, object], take: Callable[[str], bool]) -> list[Coordinate]:
    by_group: dict[str, dict[str, object]] = {}
    for key, value in record.items():
        group, _, tag = key.rpartition(":")
        if group and take(group):
            by_group.setdefault(group, {})[tag] = value
    out: list[Coordinate] = []
    for group, tags in sorted(by_group.items()):
        for lat_tag, lon_tag, label in _PAIRS:
            lat, lon = signed(tags, lat_tag, "S"), signed(tags, lon_tag, "W")
            if _in_range(lat, lon):
                out.append(Coordinate(group, label, lat or 0.0, lon or 0.0))
        for tag in _JOINED:
            parts = str(tags.get(tag, "")).replace(",", " ").split()
            if len(parts) >= 2:
                lat, lon = number(parts[0]), number(parts[1])
                if _in_range(lat, lon):
                    out.append(Coordinate(group, "photo", lat or 0.0, lon or 0.0))
    return out


def read_records(paths: Sequence[Path], extra: Iterable[str] = ()) -> dict[Path, dict[str, object]]:
    """One ExifTool run over all `paths` (listed in an argument file, so any number fits)."""
    if not paths:
        return {}
    with tempfile.NamedTemporaryFile("w", suffix=".args", encoding="utf-8") as argfile:
        argfile.write("\n".join(str(p) for p in paths) + "\n")
        argfile.flush()
        done = subprocess.run(["exiftool", *EXIFTOOL_ARGS, *extra, "-charset", "filename=utf8", "-@", argfile.name],
                              capture_output=True, check=False)
    records = json.loads(done.stdout or b"[]")
    by_text = {str(p): p for p in paths}
    return {by_text[str(r["SourceFile"])]: r for r in records if str(r.get("SourceFile")) in by_text}


def coordinates(paths: Sequence[Path], extra: Iterable[str] = ()) -> dict[Path, list[Coordinate]]:
    """{path: coordinates ExifTool reads} for every path (empty list when none, or ExifTool skipped it)."""
    records = read_records(paths, extra)
    return {p: parse_record(records.get(p, {})) for p in paths}
