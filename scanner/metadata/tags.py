"""Which metadata fields identify someone, which are context, which are known to be harmless (as data)."""

from __future__ import annotations

OTHER = "other"  # a field with no category of its own: only the text rules read it

# EXIF (IFD0 and Exif IFD): tag -> (name, category). Categories map to rule ids in the detector.
EXIF_TAGS: dict[int, tuple[str, str]] = {
    0x013B: ("Artist", "identity"),
    0x8298: ("Copyright", "identity"),
    0x013C: ("HostComputer", "identity"),
    0xA420: ("ImageUniqueID", "identity"),
    0xA430: ("CameraOwnerName", "identity"),
    0xA431: ("BodySerialNumber", "serial"),
    0xA435: ("LensSerialNumber", "serial"),
    0x9C9D: ("XPAuthor", "identity"),
    0x010E: ("ImageDescription", "text"),
    0x9286: ("UserComment", "text"),
    0x9C9B: ("XPTitle", "text"),
    0x9C9C: ("XPComment", "text"),
    0x9C9E: ("XPKeywords", "text"),
    0x9C9F: ("XPSubject", "text"),
    0x010D: ("DocumentName", "text"),
    0x010F: ("Make", "device"),
    0x0110: ("Model", "device"),
    0xA433: ("LensMake", "device"),
    0xA434: ("LensModel", "device"),
    0x0131: ("Software", "device"),
    0x9003: ("DateTimeOriginal", "time"),
    0x9004: ("DateTimeDigitized", "time"),
    0x0132: ("DateTime", "time"),
}

# IPTC IIM datasets (record 2): (record, dataset) -> (name, category)
IPTC_TAGS: dict[tuple[int, int], tuple[str, str]] = {
    (2, 80): ("By-line", "identity"),
    (2, 85): ("By-lineTitle", "identity"),
    (2, 110): ("Credit", "identity"),
    (2, 115): ("Source", "identity"),
    (2, 116): ("CopyrightNotice", "identity"),
    (2, 118): ("Contact", "identity"),
    (2, 122): ("Writer-Editor", "identity"),
    (2, 90): ("City", "location"),
    (2, 92): ("Sub-location", "location"),
    (2, 95): ("Province-State", "location"),
    (2, 100): ("Country-PrimaryLocationCode", "location"),
    (2, 101): ("Country-PrimaryLocationName", "location"),
    (2, 5): ("ObjectName", "text"),
    (2, 25): ("Keywords", "text"),
    (2, 105): ("Headline", "text"),
    (2, 120): ("Caption-Abstract", "text"),
}

# XMP local property names (any namespace) -> category.
XMP_TAGS: dict[str, str] = {
    "creator": "identity",
    "rights": "identity",
    "Owner": "identity",
    "Artist": "identity",
    "AuthorsPosition": "identity",
    "CaptionWriter": "identity",
    "Credit": "identity",
    "OwnerName": "identity",
    "CameraOwnerName": "identity",
    "CiEmailWork": "identity",
    "CiTelWork": "identity",
    "CiAdrExtadr": "identity",
    "SerialNumber": "serial",
    "BodySerialNumber": "serial",
    "LensSerialNumber": "serial",
    "InternalSerialNumber": "serial",
    "ImageUniqueID": "identity",
    "City": "location",
    "State": "location",
    "Country": "location",
    "Location": "location",
    "Sublocation": "location",
    "CountryCode": "location",
    "CreatorTool": "device",
    "Make": "device",
    "Model": "device",
    "CreateDate": "time",
    "DateTimeOriginal": "time",
    "description": "text",
    "title": "text",
    "subject": "text",
    "Headline": "text",
    # a PDF's document XMP (pdf:, pdfx:), read by the same reader
    "Author": "identity",
    "Company": "identity",
    "Producer": "device",
    "Keywords": "text",
}

# Maker-note fields (as exifread names them) that identify a camera body or its owner.
MAKERNOTE_IDENTITY = ("Serial", "CameraID", "OwnerName", "Owner Name")

# Makers whose maker notes exifread decodes and that keep serial numbers there (phones do not).
MAKERNOTE_MAKERS = ("canon", "nikon", "fujifilm", "olympus", "om digital", "casio", "pentax", "ricoh")
