"""People in pictures: face options, the consent list and the ID-badge check (used by detectors/faces.py)."""
