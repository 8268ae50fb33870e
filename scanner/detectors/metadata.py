"""Metadata detector: GPS (EXIF, XMP, C2PA; GPX, KML and Takeout location files), sites, identifying tags,
stale thumbnails, trailing data.

Like mat2 it reports everything it knows to be revealing; what it cannot read is recorded as an
error (-> review), so "could not read EXIF" never looks like "no GPS".

This module holds the detector and its picture path (EXIF, maker notes, thumbnails, ICC, trailing data);
`metadata_items` reads XMP, C2PA and the items that are not pictures (sidecars, location files, videos),
`metadata_gps` turns positions into findings and `metadata_fields` does the same for metadata fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import frames
from ..config import Settings
from ..engines import EngineSet
from ..engines.exiftool import ExifToolReader, build_exiftool
from ..errors import CorruptItem, EngineError, ItemError, ItemTimeout
from ..formats import FIELDS_KIND, TEXT_KIND, VIDEO_KINDS, XMP_KIND, decode_fields
from ..metadata import exif as exif_mod
from ..metadata import geotext, hidden, icc, makernote, payload
from ..metadata.geo import Geocoder
from ..metadata.tags import MAKERNOTE_MAKERS
from ..model import Finding, Severity
from ..subject import Subject
from ..text import load_rules
from ..text.fields import PATTERN_RULES
from ..text_safety import printable
from .metadata_fields import FieldReporter
from .metadata_gps import GpsReporter, Spot
from .metadata_items import BlockReader, step

if TYPE_CHECKING:
    from PIL import Image

EXIFTOOL_TIMEOUT_S = 10.0  # the second reader's answer for one file (then review)
EXIFTOOL_SAME_DEG = 1e-3  # ExifTool's coordinate within this of one of ours is the same position


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
        self.gps = GpsReporter(self.id, self.geocoder, settings.policy.sites)
        self.blocks = BlockReader(self.id, self.fields, self.gps, self.max_meta)
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
            return self.blocks.location_file(subject)
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
        return self.gps.findings(missed)

    def _detect(self, subject: Subject) -> list[Finding]:
        if subject.item.kind == XMP_KIND:
            return self.blocks.sidecar(subject)
        if subject.item.kind in VIDEO_KINDS:
            return self.blocks.video(subject)
        try:
            im = subject.header()
        except ItemTimeout:
            raise
        except ItemError as exc:  # the error stays (review); what the header bytes hold is still reported
            subject.note_error(exc, "metadata")
            return self._header_bytes(subject)
        findings: list[Finding] = []
        positions: list[Spot] = []
        data = subject.item.data
        block = step(subject, "metadata.exif", lambda: exif_mod.read_exif(im, self.max_meta, data))
        if block is not None:
            self._exif(subject, im, block, findings)
        structures = step(subject, "metadata.exif", lambda: exif_mod.exif_structures(im, data, self.max_meta)) or []
        # an MPO's further pictures (read once: their EXIF here, the bytes between them below); None: index damaged
        mpo = step(subject, "metadata.structure", lambda: frames.mpo_ranges(im, data))
        if mpo:
            structures += step(subject, "metadata.exif",
                               lambda: exif_mod.frame_structures(data, mpo, self.max_meta)) or []
        self._structures(subject, block, structures, positions, findings)
        step(subject, "metadata.text", lambda: findings.extend(self.fields.findings(
            exif_mod.info_text_fields(im, data, self.max_meta), f"{im.format} text fields")))
        step(subject, "metadata.iptc", lambda: findings.extend(self.fields.findings(exif_mod.iptc_fields(im), "IPTC")))
        profile = im.info.get("icc_profile")
        if isinstance(profile, bytes) and profile:
            step(subject, "metadata.icc", lambda: self._icc(subject, profile, findings))
        self.blocks.embedded(subject, positions, findings)
        trailer = None if mpo is None else step(subject, "metadata.structure", lambda: hidden.trailing_data(
            data, im.format or "", mpo))
        if trailer:
            findings.append(self._trailer(trailer))
        if self.settings.policy.enabled("metadata.thumbnail"):
            step(subject, "metadata.thumbnail", lambda: self._other_thumbnails(subject, findings))
        found = step(subject, "metadata.structure", lambda: payload.find(data))
        findings.extend(self._payload(data, im.format or "", p) for p in found or ())
        return findings

    def _header_bytes(self, subject: Subject) -> list[Finding]:
        """EXIF and XMP read from the bytes when the image itself cannot be opened (a file cut inside its
        header tables, a broken secondary image): a GPS position stored before the damage is never lost."""
        findings: list[Finding] = []
        positions: list[Spot] = []
        structures = step(subject, "metadata.exif",
                          lambda: exif_mod.exif_structures(None, subject.item.data, self.max_meta)) or []
        self._structures(subject, None, structures, positions, findings)
        self.blocks.embedded(subject, positions, findings)
        return findings

    # --- EXIF ---------------------------------------------------------------------------
    def _exif(self, subject: Subject, im: Image.Image, block: exif_mod.ExifBlock, findings: list[Finding]) -> None:
        if exif_mod.MAKERNOTE in block.tags:
            step(subject, "metadata.makernote", lambda: self._makernote(subject, im, block, findings))
        if block.thumbnail and self.settings.policy.enabled("metadata.thumbnail"):
            thumb = block.thumbnail
            step(subject, "metadata.thumbnail", lambda: self._thumbnail(subject, thumb, findings))

    def _structures(self, subject: Subject, block: exif_mod.ExifBlock | None, structures: list[exif_mod.ExifStructure],
                    positions: list[Spot], findings: list[Finding]) -> None:
        """Every EXIF block's fields, then the GPS of all of them."""
        for structure in structures:
            findings.extend(self.fields.findings(exif_mod.structure_fields(structure), structure.where))
        self.gps.exif(subject, block, structures, positions, findings)

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
        findings.extend(self.fields.findings(
            (("serial" if "Serial" in name else "identity", name, value) for name, value in pairs), "EXIF maker note"))

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

    # --- ICC profile, hidden data ------------------------------------------------------
    def _icc(self, subject: Subject, profile: bytes, findings: list[Finding]) -> None:
        """The colour profile's text tags through the text rules, and an archive or document hidden in it (a
        PNG's profile is compressed, so the search over the file's bytes cannot see it)."""
        findings.extend(self.fields.findings(icc.text_fields(profile), "ICC profile"))
        if profile not in subject.item.data:
            findings.extend(Finding("metadata.hidden_payload", self.id, Severity.MEDIUM, 0.9,
                                    f"{printable(p.detail, 120)} hidden in the ICC colour profile", "ICC profile",
                                    None, {"kind": p.kind})
                            for p in payload.find(profile, start=0))

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
