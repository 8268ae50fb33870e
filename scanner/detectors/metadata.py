"""Metadata detector: GPS (EXIF, XMP, C2PA; GPX, KML and Takeout location files), sites, identifying tags,
stale thumbnails, trailing data.

Like mat2 it reports everything it knows to be revealing; what it cannot read is recorded as an
error (-> review), so "could not read EXIF" never looks like "no GPS".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from .. import frames
from ..config import Settings
from ..engines import EngineSet
from ..engines.exiftool import ExifToolReader, build_exiftool
from ..errors import CorruptItem, EngineError, ItemError, ItemTimeout
from ..formats import FIELDS_KIND, TEXT_KIND, VIDEO_KINDS, XMP_KIND, decode_fields
from ..metadata import c2pa, geotext, hidden, icc, makernote, payload, video, xmp
from ..metadata import exif as exif_mod
from ..metadata.geo import Geocoder, Position, sites_near, valid
from ..metadata.tags import MAKERNOTE_MAKERS, OTHER, XMP_TAGS
from ..model import Finding, Severity
from ..subject import Subject
from ..text import load_rules
from ..text.fields import PATTERN_RULES
from ..text_safety import printable
from .metadata_fields import FieldReporter

if TYPE_CHECKING:
    from PIL import Image

T = TypeVar("T")
EXIFTOOL_TIMEOUT_S = 10.0  # the second reader's answer for one file (then review)
EXIFTOOL_SAME_DEG = 1e-3  # ExifTool's coordinate within this of one of ours is the same position
XMP_WRAPPER = re.compile(rb"<\?xpacket[^>]{0,200}>|\xef\xbb\xbf")  # an empty packet's wrapper: no content


class MetadataDetector:
    id = "metadata"
    kinds = ("image/", FIELDS_KIND, XMP_KIND)  # media-type prefixes it looks at (left unread when it is not selected)
    provides = frozenset[str]()
    needs = frozenset[str]()
    rules = ("metadata.gps", "metadata.gps.site", "metadata.gps.partial", "metadata.gps.malformed",
             "metadata.identity", "metadata.device", "metadata.capture_time", "metadata.text", "metadata.thumbnail",
             "metadata.trailing_data", "metadata.hidden_payload", "metadata.contact", "metadata.history",
             "metadata.sidecar", *PATTERN_RULES)

    def __init__(self, settings: Settings, engines: EngineSet) -> None:
        self.settings = settings
        self.max_meta = int(settings.max_metadata_kb * 1024)
        # the text rules read every metadata string; a bad [text] table is a ConfigError here, not mid-scan
        self.fields = FieldReporter(self.id, load_rules(settings.sections.get("text"), settings.hash_key))
        self.geocoder: Geocoder = engines.get("geocoder", lambda s: Geocoder(s.cache_path))
        self.engines = engines

    def accepts(self, subject: Subject) -> bool:
        """Images, and the metadata fields a container's expander read (document properties, mail headers); text
        that is a location file (GPX, KML, a Google Takeout photo sidecar: told by content)."""
        if subject.item.generated:  # a frame or page the scanner rendered: its metadata is ours (and ExifTool costs)
            return False
        kind = subject.item.kind
        if kind == TEXT_KIND:
            return geotext.shape(subject.item.data, self.max_meta) is not None
        return kind.startswith("image/") or kind in (FIELDS_KIND, XMP_KIND) or kind in VIDEO_KINDS

    def detect(self, subject: Subject) -> list[Finding]:
        if subject.item.kind == FIELDS_KIND:
            return self.fields.findings(decode_fields(subject.item.data), "properties")
        if subject.item.kind == TEXT_KIND:  # no second reader: ExifTool reads no GPX point and no KML position
            return self._location_file(subject)
        findings = self._detect(subject)
        findings.extend(self._second_reader(subject, findings))
        return findings

    def _second_reader(self, subject: Subject, findings: list[Finding]) -> list[Finding]:
        """Coordinates ExifTool reads that our readers did not (vendor GPS records): metadata.gps too."""
        reader: ExifToolReader | None = self.engines.get(
            "exiftool", lambda s: build_exiftool(s.exiftool, min(EXIFTOOL_TIMEOUT_S, s.timeout_s / 2)))
        if reader is None:
            return []
        try:
            theirs = reader.gps(subject.item.data)
        except EngineError as exc:
            subject.note_error(exc, "metadata.exiftool")
            return []
        ours = [(float(lat), float(lon)) for f in findings if f.rule_id.startswith("metadata.gps")
                for lat, lon in [(f.evidence.get("lat"), f.evidence.get("lon"))]
                if isinstance(lat, int | float) and isinstance(lon, int | float)]
        missed = [(f"exiftool {c.group}", "photo", c.lat, c.lon) for c in theirs
                  if not any(abs(c.lat - lat) < EXIFTOOL_SAME_DEG and abs(c.lon - lon) < EXIFTOOL_SAME_DEG
                             for lat, lon in ours)]
        return self._gps_findings(missed)

    def _detect(self, subject: Subject) -> list[Finding]:
        if subject.item.kind == XMP_KIND:
            return self._sidecar(subject)
        if subject.item.kind in VIDEO_KINDS:
            return self._video(subject)
        try:
            im = subject.header()
        except ItemTimeout:
            raise
        except ItemError as exc:  # the error stays (review); what the header bytes hold is still reported
            subject.note_error(exc, "metadata")
            return self._header_bytes(subject)
        findings: list[Finding] = []
        positions: list[tuple[str, str, float, float]] = []
        block = self._step(subject, "metadata.exif", lambda: exif_mod.read_exif(im, self.max_meta, subject.item.data))
        if block is not None:
            self._exif(subject, im, block, findings)
        structures = self._step(subject, "metadata.exif",
                                lambda: exif_mod.exif_structures(im, subject.item.data, self.max_meta)) or []
        # an MPO's further pictures (read once: their EXIF here, the bytes between them below); None: index damaged
        mpo = self._step(subject, "metadata.structure", lambda: frames.mpo_ranges(im, subject.item.data))
        if mpo:
            structures += self._step(subject, "metadata.exif",
                                     lambda: exif_mod.frame_structures(subject.item.data, mpo, self.max_meta)) or []
        for structure in structures:
            self._fields(subject, exif_mod.structure_fields(structure), structure.where, findings)
        self._exif_gps(subject, block, structures, positions, findings)
        self._step(subject, "metadata.text", lambda: self._fields(subject,
            exif_mod.info_text_fields(im, subject.item.data, self.max_meta), f"{im.format} text fields", findings))
        self._step(subject, "metadata.iptc", lambda: self._fields(subject, exif_mod.iptc_fields(im), "IPTC", findings))
        profile = im.info.get("icc_profile")
        if isinstance(profile, bytes) and profile:
            self._step(subject, "metadata.icc", lambda: self._icc(subject, profile, findings))
        self._step(subject, "metadata.xmp", lambda: self._xmp(subject, positions, findings))
        self._step(subject, "metadata.c2pa", lambda: self._c2pa(subject, positions, findings))
        findings.extend(self._gps_findings(positions))
        trailer = None if mpo is None else self._step(subject, "metadata.structure", lambda: hidden.trailing_data(
            subject.item.data, im.format or "", mpo))
        if trailer:
            findings.append(self._trailer(trailer))
        if self.settings.policy.enabled("metadata.thumbnail"):
            self._step(subject, "metadata.thumbnail", lambda: self._other_thumbnails(subject, findings))
        found = self._step(subject, "metadata.structure", lambda: payload.find(subject.item.data))
        findings.extend(self._payload(subject.item.data, im.format or "", p) for p in found or ())
        return findings

    def _sidecar(self, subject: Subject) -> list[Finding]:
        """An XMP sidecar: its properties like a photo's XMP; it has no picture, which is said, not an error."""
        what = "XMP packet" if subject.item.depth else "XMP sidecar file"  # inside a document, or beside a photo
        findings = [Finding("metadata.sidecar", self.id, Severity.INFO, 1.0,
                            f"{what}: metadata only, no picture (the pixel checks do not apply)", location="XMP")]
        positions: list[tuple[str, str, float, float]] = []
        read = self._step(subject, "metadata.xmp", lambda: self._xmp(subject, positions, findings))
        if read == 0 and XMP_WRAPPER.sub(b"", subject.item.data).strip():  # a document's XMP stream with no packet
            subject.note_error(CorruptItem(f"{what} holds no XMP packet that can be read"), "metadata.xmp")
        findings.extend(self._gps_findings(positions))
        return findings

    def _location_file(self, subject: Subject) -> list[Finding]:
        """A GPX track, KML file or Takeout sidecar: one `metadata.gps` per kind of point (the first, with how many
        there are), a point inside a site besides it; Takeout's tagged people are identifying; damage: review."""
        found = self._step(subject, "metadata.geotext", lambda: geotext.read(subject.item.data, self.max_meta))
        if found is None:
            return []
        for problem in found.problems:
            subject.note_error(CorruptItem(f"{found.shape}: {problem}"), "metadata.geotext")
        findings: list[Finding] = []
        self._fields(subject, (("identity", f"person {i}", name) for i, name in enumerate(found.people, 1)),
                     found.shape, findings)
        positions: list[tuple[str, str, float, float]] = []
        for where, label, lat, lon in found.odd:
            self._xmp_position(subject, label, lat, lon, positions, findings, where, "metadata.geotext")
        for (where, label), points in found.points.items():
            positions.append((where, label, *points[0]))
            positions.extend((where, label, lat, lon) for lat, lon in self._in_a_site(points))
        counts = {where: n for (where, _label), n in found.counts.items()}
        findings.extend(replace(f, evidence={**f.evidence, "points": counts[f.location]}) if f.location in counts
                        else f for f in self._gps_findings(positions))
        return findings

    def _in_a_site(self, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """The first point of a track that lies inside a site of the policy (a track that passes one)."""
        sites = self.settings.policy.sites
        for lat, lon in points if sites else ():
            if sites_near(Position(lat, lon), sites):
                return [(lat, lon)]
        return []

    def _video(self, subject: Subject) -> list[Finding]:
        """GPS and device/owner tags of a video's `moov` box (its frames are the video expander's children)."""
        meta = self._step(subject, "metadata.video", lambda: video.read(subject.item.data))
        if meta is None:
            return []
        for problem in meta.problems:
            subject.note_error(CorruptItem(f"video structure: {problem}"), "metadata.video")
        findings: list[Finding] = []
        self._fields(subject, meta.fields, "QuickTime", findings)
        positions = [(where, "photo", lat, lon) for where, lat, lon in meta.positions if valid(lat, lon)]
        for packet in meta.xmp:
            self._xmp_packet(subject, packet, positions, findings)
        self._step(subject, "metadata.c2pa", lambda: self._c2pa(subject, positions, findings))
        findings.extend(self._gps_findings(positions))
        for where, lat, lon in meta.positions:
            if not valid(lat, lon):
                findings.append(self._partial(where, "photo", {"lat": lat, "lon": lon}))
        return findings

    def _xmp_packet(self, subject: Subject, packet: bytes, positions: list[tuple[str, str, float, float]],
                   findings: list[Finding]) -> None:
        self._step(subject, "metadata.xmp", lambda: self._xmp(subject, positions, findings, packet))

    def _header_bytes(self, subject: Subject) -> list[Finding]:
        """EXIF and XMP read from the bytes when the image itself cannot be opened (a file cut inside its
        header tables, a broken secondary image): a GPS position stored before the damage is never lost."""
        findings: list[Finding] = []
        positions: list[tuple[str, str, float, float]] = []
        structures = self._step(subject, "metadata.exif",
                                lambda: exif_mod.exif_structures(None, subject.item.data, self.max_meta)) or []
        for structure in structures:
            self._fields(subject, exif_mod.structure_fields(structure), structure.where, findings)
        self._exif_gps(subject, None, structures, positions, findings)
        self._step(subject, "metadata.xmp", lambda: self._xmp(subject, positions, findings))
        self._step(subject, "metadata.c2pa", lambda: self._c2pa(subject, positions, findings))
        findings.extend(self._gps_findings(positions))
        return findings

    @staticmethod
    def _step(subject: Subject, stage: str, fn: Callable[[], T]) -> T | None:
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

    # --- EXIF ---------------------------------------------------------------------------
    def _exif(self, subject: Subject, im: Image.Image, block: exif_mod.ExifBlock, findings: list[Finding]) -> None:
        if exif_mod.MAKERNOTE in block.tags:
            self._step(subject, "metadata.makernote", lambda: self._makernote(subject, im, block, findings))
        if block.thumbnail and self.settings.policy.enabled("metadata.thumbnail"):
            thumb = block.thumbnail
            self._step(subject, "metadata.thumbnail", lambda: self._thumbnail(subject, thumb, findings))

    def _exif_gps(self, subject: Subject, block: exif_mod.ExifBlock | None, structures: list[exif_mod.ExifStructure],
                  positions: list[tuple[str, str, float, float]], findings: list[Finding]) -> None:
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
                finding = self._partial(where, label, shown)
                partial.setdefault(finding.message, finding)
            if not reading.positions and not reading.partial:
                problems.update(dict.fromkeys(reading.problems))
        findings.extend(partial.values())
        if problems and not positions and not partial:
            findings.append(Finding("metadata.gps.malformed", self.id, Severity.LOW, 0.9,
                                    "GPS block present but unusable: " + "; ".join(problems), location="EXIF GPS"))

    def _partial(self, where: str, label: str, shown: dict[str, float]) -> Finding:
        """Half a position, or numbers out of range: not a place, but a reader shows them (fail closed)."""
        names = {"lat": "latitude", "lon": "longitude"}
        values = ", ".join(f"{names[axis]} {value:.4f}" for axis, value in shown.items())
        missing = [names[axis] for axis in names if axis not in shown]
        text = f"GPS {label} {values}" + (f" without a usable {missing[0]}" if missing else " (out of range)")
        return Finding("metadata.gps.partial", self.id, Severity.MEDIUM, 0.8, text, location=where,
                       evidence={**{axis: round(v, 6) for axis, v in shown.items()}, "source": where})

    def _makernote(self, subject: Subject, im: Image.Image, block: exif_mod.ExifBlock,
                   findings: list[Finding]) -> None:
        make = exif_mod.text_of(block.tags.get(0x010F, "")).lower()
        note = block.tags[exif_mod.MAKERNOTE]
        pairs = makernote.pillow_serials(block.makernote_ifd)
        if isinstance(note, bytes):
            pairs += makernote.serials(block.tiff, note, make)
        if not pairs and im.format in ("JPEG", "TIFF", "MPO") and make.startswith(MAKERNOTE_MAKERS):
            try:
                pairs = exif_mod.makernote_serials(subject.item.data)
            except Exception as exc:  # exifread raises anything on vendor data; map at the boundary
                raise CorruptItem(f"maker note unreadable ({type(exc).__name__})") from None
        self._fields(subject, (("serial" if "Serial" in name else "identity", name, value) for name, value in pairs),
                     "EXIF maker note", findings)

    def _thumbnail(self, subject: Subject, thumb: bytes, findings: list[Finding],
                   where: str = "EXIF IFD1 thumbnail", kind: str = "EXIF") -> None:
        from .. import media

        main = media.open_image(subject.item.data, subject.max_pixels)
        if main.format == "JPEG":
            main.draft("L", (256, 256))
        result = hidden.thumbnail_differs(thumb, main)
        if result and result[0]:
            findings.append(Finding(
                "metadata.thumbnail", self.id, Severity.MEDIUM, 0.7,
                f"embedded {kind} thumbnail shows a different picture (content cropped or edited away may be visible)",
                location=where, evidence={"correlation": round(result[1], 3)}))

    def _other_thumbnails(self, subject: Subject, findings: list[Finding]) -> None:
        """JFXX and Photoshop thumbnails, compared with the picture as the EXIF one is."""
        for where, thumb in hidden.other_thumbnails(subject.item.data):
            self._thumbnail(subject, thumb, findings, where, where.removesuffix(" thumbnail"))

    # --- XMP / IPTC / shared ------------------------------------------------------------
    def _xmp(self, subject: Subject, positions: list[tuple[str, str, float, float]],
             findings: list[Finding], data: bytes | None = None) -> int:
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
            self._fields(subject, fields, "XMP", findings)
            for label, (lat, lon) in coords.items():
                self._xmp_position(subject, label, lat, lon, positions, findings)
        return len(packets)

    def _xmp_position(self, subject: Subject, label: str, lat: float | None, lon: float | None,
                      positions: list[tuple[str, str, float, float]], findings: list[Finding],
                      where: str = "XMP", stage: str = "metadata.xmp") -> None:
        if lat is not None and lon is not None and valid(lat, lon):
            positions.append((where, label, lat, lon))
            return
        shown = {axis: v for axis, v in (("lat", lat), ("lon", lon)) if v is not None and math.isfinite(v)}
        if shown:  # half a position, or out of range: a reader shows it
            findings.append(self._partial(where, label, shown))
        if any(v is not None and math.isnan(v) for v in (lat, lon)):  # a notation we do not read: fail closed
            subject.note_error(CorruptItem(f"{where} {label} GPS value present but not readable"), stage)

    def _c2pa(self, subject: Subject, positions: list[tuple[str, str, float, float]],
              findings: list[Finding]) -> None:
        """C2PA manifests (Content Credentials): their assertions' text through the text rules, their GPS (a
        camera's `stds.exif`), their XMP; damage is an error (review), what was read before it still counts."""
        found = c2pa.read(subject.item.data, self.max_meta)
        for problem in found.problems:
            subject.note_error(CorruptItem(f"C2PA manifest: {problem}"), "metadata.c2pa")
        for where, fields in found.fields.items():
            self._fields(subject, fields, where, findings)
        for where, label, lat, lon in found.positions:
            self._xmp_position(subject, label, lat, lon, positions, findings, where, "metadata.c2pa")
        for packet in found.xmp:
            self._xmp_packet(subject, packet, positions, findings)

    def _icc(self, subject: Subject, profile: bytes, findings: list[Finding]) -> None:
        """The colour profile's text tags through the text rules, and an archive or document hidden in it (a
        PNG's profile is compressed, so the search over the file's bytes cannot see it)."""
        self._fields(subject, icc.text_fields(profile), "ICC profile", findings)
        if profile not in subject.item.data:
            findings.extend(Finding("metadata.hidden_payload", self.id, Severity.MEDIUM, 0.9,
                                    f"{printable(p.detail, 120)} hidden in the ICC colour profile", "ICC profile",
                                    None, {"kind": p.kind})
                            for p in payload.find(profile, start=0))

    def _fields(self, subject: Subject, fields: Iterable[tuple[str, str, str]], where: str,
                findings: list[Finding]) -> None:
        """One finding per category of known fields, and the text rules over every name and value."""
        findings.extend(self.fields.findings(fields, where))

    def _gps_findings(self, positions: list[tuple[str, str, float, float]]) -> list[Finding]:
        out: list[Finding] = []
        seen: list[Position] = []
        for where, label, lat, lon in positions:
            pos = Position(lat, lon)
            if any(abs(p.lat - lat) < 1e-4 and abs(p.lon - lon) < 1e-4 for p in seen):
                continue
            seen.append(pos)
            null_island = lat == 0 and lon == 0
            place = None if null_island else self.geocoder.place(pos)
            text = f"GPS position {pos.describe()}" + (f" ({place})" if place else "")
            if label != "photo":
                text = f"GPS {label} {pos.describe()}" + (f" ({place})" if place else "")
            if null_island:
                text += " - 0,0 is often a placeholder"
            evidence = {"lat": round(lat, 6), "lon": round(lon, 6), "place": place, "source": where}
            near = sites_near(pos, self.settings.policy.sites)
            if near:
                site, dist = near[0]
                out.append(Finding("metadata.gps.site", self.id, Severity.HIGH, 1.0,
                                   f"{text} - {dist:.0f} m from site '{printable(site.name, 60)}'",
                                   location=where, evidence={**evidence, "site": site.name, "distance_m": round(dist)}))
            out.append(Finding("metadata.gps", self.id, Severity.MEDIUM, 0.5 if null_island else 1.0, text,
                               location=where, evidence=evidence))
        return out

    def _trailer(self, trailer: hidden.Trailer) -> Finding:
        return Finding("metadata.trailing_data", self.id, Severity.MEDIUM, 0.9 if trailer.looks_like != "unknown data"
                       else 0.6, f"{trailer.size} bytes hidden after the end of the image ({trailer.looks_like})",
                       location=f"offset {trailer.offset}", evidence={"offset": trailer.offset, "size": trailer.size,
                                                                       "looks_like": trailer.looks_like})

    def _payload(self, data: bytes, fmt: str, found: payload.Payload) -> Finding:
        where = hidden.region(data, fmt, found.offset)
        return Finding("metadata.hidden_payload", self.id, Severity.MEDIUM, 0.9,
                       f"{printable(found.detail, 120)} hidden in the file ({where})",
                       location=f"{where}, offset {found.offset}",
                       evidence={"offset": found.offset, "kind": found.kind, "where": where})
