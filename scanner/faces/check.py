"""`leakscan refs check`, consent part: how many people and photos, and photos that cannot be used."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..text_safety import printable
from .consent import ConsentGallery


@dataclass(frozen=True, slots=True)
class ConsentReport:
    folder: str
    people: int
    photos: int
    problems: tuple[tuple[str, int], ...]  # (photo relative to the folder, faces found: 0 or 2+)

    def to_dict(self) -> dict[str, object]:
        return {"people": self.people, "photos": self.photos,
                "problems": [{"photo": photo, "faces": faces} for photo, faces in self.problems]}


def check_consent(gallery: ConsentGallery, folder: Path) -> ConsentReport:
    def rel(path: Path) -> str:
        try:
            return str(path.relative_to(folder))
        except ValueError:
            return path.name

    return ConsentReport(folder.name, len(gallery.people), len(gallery.photos),
                         tuple((rel(p.path), p.faces) for p in gallery.problems))


def render_consent(report: ConsentReport) -> str:
    lines = [f"consent list: {report.people} people, {report.photos} photos"]
    for photo, faces in report.problems:  # folder and file names are untrusted: printable only
        why = "no face found" if faces == 0 else f"{faces} faces (whose consent is it?)"
        lines.append(f"  not used: {printable(photo, 300)}: {why}; each photo must show exactly one face")
    if report.people == 0:
        lines.append("  no usable photo: every face will be reported as not consented")
    return "\n".join(lines)
