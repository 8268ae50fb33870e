"""GPS positions -> findings of the `metadata` detector: one `metadata.gps` per place (and `metadata.gps.site`
inside a site of the policy), half or out-of-range coordinates as `metadata.gps.partial`, an unusable EXIF GPS
block as `metadata.gps.malformed`.

Every reader collects the positions it finds as `Spot`s; the detector turns them into findings once per item,
so the same place read from EXIF, XMP and C2PA is reported once.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..errors import CorruptItem
from ..metadata import exif as exif_mod
from ..metadata.geo import Geocoder, Position, sites_near, valid
from ..model import Finding, Severity
from ..subject import Subject
from ..text_safety import printable

if TYPE_CHECKING:
    from ..policy import Site

Spot = tuple[str, str, float, float]  # where it was read, its label ("photo", "destination"...), lat, lon
SAME_PLACE_DEG = 1e-4  # a position within this of one already reported is the same place


class GpsReporter:
    """Turns the positions read from one item into findings of the `metadata` detector."""

    def __init__(self, detector: str, geocoder: Geocoder, sites: tuple[Site, ...]) -> None:
        self.detector = detector
        self.geocoder = geocoder
        self.sites = sites

    def findings(self, positions: list[Spot]) -> list[Finding]:
        """One finding per place (the first reader that found it names it), and one per site it is in."""
        out: list[Finding] = []
        seen: list[Position] = []
        for where, label, lat, lon in positions:
            pos = Position(lat, lon)
            if any(abs(p.lat - lat) < SAME_PLACE_DEG and abs(p.lon - lon) < SAME_PLACE_DEG for p in seen):
                continue
            seen.append(pos)
            null_island = lat == 0 and lon == 0
            place = None if null_island else self.geocoder.place(pos)
            what = "position" if label == "photo" else label
            text = f"GPS {what} {pos.describe()}" + (f" ({place})" if place else "")
            if null_island:
                text += " - 0,0 is often a placeholder"
            evidence = {"lat": round(lat, 6), "lon": round(lon, 6), "place": place, "source": where}
            near = sites_near(pos, self.sites)
            if near:
                site, dist = near[0]
                out.append(Finding("metadata.gps.site", self.detector, Severity.HIGH, 1.0,
                                   f"{text} - {dist:.0f} m from site '{printable(site.name, 60)}'",
                                   location=where, evidence={**evidence, "site": site.name, "distance_m": round(dist)}))
            out.append(Finding("metadata.gps", self.detector, Severity.MEDIUM, 0.5 if null_island else 1.0, text,
                               location=where, evidence=evidence))
        return out

    def partial(self, where: str, label: str, shown: dict[str, float]) -> Finding:
        """Half a position, or numbers out of range: not a place, but a reader shows them (fail closed)."""
        names = {"lat": "latitude", "lon": "longitude"}
        values = ", ".join(f"{names[axis]} {value:.4f}" for axis, value in shown.items())
        missing = [names[axis] for axis in names if axis not in shown]
        text = f"GPS {label} {values}" + (f" without a usable {missing[0]}" if missing else " (out of range)")
        return Finding("metadata.gps.partial", self.detector, Severity.MEDIUM, 0.8, text, location=where,
                       evidence={**{axis: round(v, 6) for axis, v in shown.items()}, "source": where})

    def coordinate(self, subject: Subject, label: str, lat: float | None, lon: float | None,
                   positions: list[Spot], findings: list[Finding],
                   where: str = "XMP", stage: str = "metadata.xmp") -> None:
        """A coordinate pair read as text (NaN: a notation we do not read): a position, a partial one, or an error."""
        if lat is not None and lon is not None and valid(lat, lon):
            positions.append((where, label, lat, lon))
            return
        shown = {axis: v for axis, v in (("lat", lat), ("lon", lon)) if v is not None and math.isfinite(v)}
        if shown:  # half a position, or out of range: a reader shows it
            findings.append(self.partial(where, label, shown))
        if any(v is not None and math.isnan(v) for v in (lat, lon)):  # a notation we do not read: fail closed
            subject.note_error(CorruptItem(f"{where} {label} GPS value present but not readable"), stage)

    def exif(self, subject: Subject, block: exif_mod.ExifBlock | None, structures: list[exif_mod.ExifStructure],
             positions: list[Spot], findings: list[Finding]) -> None:
        """GPS from every EXIF block (strict walker) and from Pillow's reading of the first; a block that did
        not parse cleanly is an error (review), whatever GPS was recovered from it."""
        sources = [("EXIF GPS", block.gps)] if block is not None and (block.gps_pointer or block.gps) else []
        for structure in structures:
            if structure.walk.problems:
                damage = "; ".join(structure.walk.problems)
                subject.note_error(CorruptItem(f"{structure.where} structure is damaged: {damage}"), "metadata.exif")
            sources.extend((structure.where.replace("EXIF", "EXIF GPS"), gps) for gps in structure.gps())
        problems: dict[str, None] = {}
        partial: dict[str, Finding] = {}
        for where, gps in sources:
            reading = exif_mod.read_gps(gps)
            positions.extend((where, label, lat, lon) for label, lat, lon in reading.positions)
            for label, shown in reading.partial:
                finding = self.partial(where, label, shown)
                partial.setdefault(finding.message, finding)
            if not reading.positions and not reading.partial:
                problems.update(dict.fromkeys(reading.problems))
        findings.extend(partial.values())
        if problems and not positions and not partial:
            findings.append(Finding("metadata.gps.malformed", self.detector, Severity.LOW, 0.9,
                                    "GPS block present but unusable: " + "; ".join(problems), location="EXIF GPS"))

    def in_a_site(self, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """The first point of a track that lies inside a site of the policy (a track that passes one)."""
        for lat, lon in points if self.sites else ():
            if sites_near(Position(lat, lon), self.sites):
                return [(lat, lon)]
        return []
