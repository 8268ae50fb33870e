"""Metadata blocks any item can carry (XMP packets, C2PA manifests) and the items that have no picture: XMP
sidecars, location files written as text (GPX, KML, GeoJSON, Takeout, Location History, NMEA) and videos.

Each part is read through `step`: what one part cannot read is recorded as an error (-> review) and the other
parts go on, so a GPS position found by one part is never lost to another part's damage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TypeVar

from ..errors import CorruptItem, ItemError, ItemTimeout
from ..metadata import c2pa, geotext, video, xmp
from ..metadata.geo import valid
from ..metadata.tags import OTHER, XMP_TAGS
from ..model import Finding, Severity
from ..subject import Subject
from .metadata_fields import FieldReporter
from .metadata_gps import GpsReporter, Spot

T = TypeVar("T")
XMP_WRAPPER = re.compile(rb"<\?xpacket[^>]{0,200}>|\xef\xbb\xbf")  # an empty packet's wrapper: no content


def step(subject: Subject, stage: str, fn: Callable[[], T]) -> T | None:
    """Run one part; if it cannot be read, record why and go on with the other parts (a GPS position
    found by one part is never lost to another part's damage).

    A timeout is not a part's problem: it ends the whole detector (the pipeline records it). Any other
    exception of a parser (Pillow, exifread and our own readers raise what their data makes them raise)
    is mapped here, at the boundary, to a corrupt part; only its type name is kept (no file content).
    """
    try:
        return fn()
    except ItemTimeout:
        raise
    except ItemError as exc:
        subject.note_error(exc, stage)
    except Exception as exc:
        subject.note_error(CorruptItem(f"{stage} unreadable ({type(exc).__name__})"), stage)
    return None


def note_problems(subject: Subject, problems: Iterable[str], what: str, stage: str) -> None:
    """Damage a reader read past: an error each (review); what it read before the damage still counts."""
    for problem in problems:
        subject.note_error(CorruptItem(f"{what}: {problem}"), stage)


class BlockReader:
    """The `metadata` detector's readers of XMP, C2PA and the items that are not pictures."""

    def __init__(self, detector: str, fields: FieldReporter, gps: GpsReporter, max_meta: int) -> None:
        self.detector = detector
        self.fields = fields
        self.gps = gps
        self.max_meta = max_meta

    # --- blocks in any item -------------------------------------------------------------
    def embedded(self, subject: Subject, positions: list[Spot], findings: list[Finding]) -> None:
        """The item's XMP packets and C2PA manifests, then one finding per place found by any of its readers."""
        step(subject, "metadata.xmp", lambda: self.xmp(subject, positions, findings))
        step(subject, "metadata.c2pa", lambda: self.c2pa(subject, positions, findings))
        findings.extend(self.gps.findings(positions))

    def xmp(self, subject: Subject, positions: list[Spot], findings: list[Finding], data: bytes | None = None) -> int:
        """Each XMP packet's fields and GPS; how many packets were read."""
        packets = xmp.find_packets(subject.item.data if data is None else data, self.max_meta)
        for packet in packets:
            coords: dict[str, list[float | None]] = {}
            fields = []
            for _ns, name, value in xmp.properties(packet):
                if name in xmp.GPS_PROPERTIES:
                    label, idx = xmp.GPS_PROPERTIES[name]
                    parsed = xmp.parse_coordinate(value)
                    coords.setdefault(label, [None, None])[idx] = math.nan if parsed is None else parsed
                else:  # every value passes the text rules; known names also count by category
                    fields.append((XMP_TAGS.get(name, OTHER), name, value))
            findings.extend(self.fields.findings(fields, "XMP"))
            for label, (lat, lon) in coords.items():
                self.gps.coordinate(subject, label, lat, lon, positions, findings)
        return len(packets)

    def xmp_packet(self, subject: Subject, packet: bytes, positions: list[Spot], findings: list[Finding]) -> None:
        step(subject, "metadata.xmp", lambda: self.xmp(subject, positions, findings, packet))

    def c2pa(self, subject: Subject, positions: list[Spot], findings: list[Finding]) -> None:
        """C2PA manifests (Content Credentials): their assertions' text through the text rules, their GPS (a
        camera's `stds.exif`), their XMP; damage is an error (review), what was read before it still counts."""
        found = c2pa.read(subject.item.data, self.max_meta)
        note_problems(subject, found.problems, "C2PA manifest", "metadata.c2pa")
        for where, fields in found.fields.items():
            findings.extend(self.fields.findings(fields, where))
        for where, label, lat, lon in found.positions:
            self.gps.coordinate(subject, label, lat, lon, positions, findings, where, "metadata.c2pa")
        for packet in found.xmp:
            self.xmp_packet(subject, packet, positions, findings)

    # --- items that are not pictures ----------------------------------------------------
    def sidecar(self, subject: Subject) -> list[Finding]:
        """An XMP sidecar: its properties like a photo's XMP; it has no picture, which is said, not an error."""
        what = "XMP packet" if subject.item.depth else "XMP sidecar file"  # inside a document, or beside a photo
        findings = [Finding("metadata.sidecar", self.detector, Severity.INFO, 1.0,
                            f"{what}: metadata only, no picture (the pixel checks do not apply)", location="XMP")]
        positions: list[Spot] = []
        read = step(subject, "metadata.xmp", lambda: self.xmp(subject, positions, findings))
        if read == 0 and XMP_WRAPPER.sub(b"", subject.item.data).strip():  # a document's XMP stream with no packet
            subject.note_error(CorruptItem(f"{what} holds no XMP packet that can be read"), "metadata.xmp")
        findings.extend(self.gps.findings(positions))
        return findings

    def location_file(self, subject: Subject) -> list[Finding]:
        """A GPX track, KML file or Takeout sidecar: one `metadata.gps` per kind of point (the first, with how many
        there are), a point inside a site besides it; Takeout's tagged people are identifying; damage: review."""
        found = step(subject, "metadata.geotext", lambda: geotext.read(subject.item.data, self.max_meta))
        if found is None:
            return []
        note_problems(subject, found.problems, found.shape, "metadata.geotext")
        people = (("identity", f"person {i}", name) for i, name in enumerate(found.people, 1))
        findings = self.fields.findings(people, found.shape)
        positions: list[Spot] = []
        for where, label, lat, lon in found.odd:
            self.gps.coordinate(subject, label, lat, lon, positions, findings, where, "metadata.geotext")
        for (where, label), points in found.points.items():
            positions.append((where, label, *points[0]))
            positions.extend((where, label, lat, lon) for lat, lon in self.gps.in_a_site(points))
        counts = {where: n for (where, _label), n in found.counts.items()}
        findings.extend(replace(f, evidence={**f.evidence, "points": counts[f.location]}) if f.location in counts
                        else f for f in self.gps.findings(positions))
        return findings

    def video(self, subject: Subject) -> list[Finding]:
        """GPS and device/owner tags of a video's `moov` box (its frames are the video expander's children)."""
        meta = step(subject, "metadata.video", lambda: video.read(subject.item.data))
        if meta is None:
            return []
        note_problems(subject, meta.problems, "video structure", "metadata.video")
        findings = self.fields.findings(meta.fields, "QuickTime")
        positions = [(where, "photo", lat, lon) for where, lat, lon in meta.positions if valid(lat, lon)]
        for packet in meta.xmp:
            self.xmp_packet(subject, packet, positions, findings)
        step(subject, "metadata.c2pa", lambda: self.c2pa(subject, positions, findings))
        findings.extend(self.gps.findings(positions))
        for where, lat, lon in meta.positions:
            if not valid(lat, lon):
                findings.append(self.gps.partial(where, "photo", {"lat": lat, "lon": lon}))
        return findings
