"""Readers for embedded metadata: EXIF/GPS, XMP, IPTC, hidden content, offline geography."""
