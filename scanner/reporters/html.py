"""The HTML batch report: a summary, then each flagged file with a thumbnail, its reasons, evidence and fix hints.

Rendered by Jinja2 with autoescape on (names, EXIF and OCR text are attacker-controlled), streamed to the
file. Self-contained and offline: thumbnails inline as data: URIs, no script, no remote resource, and a
Content-Security-Policy that forbids all of them (the style sheet is allowed by its hash only).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import TextIO

from .. import __version__
from ..model import Decision
from .stored import FileView, Summary
from .thumbs import thumbnail


@dataclass(frozen=True, slots=True)
class Shown:
    view: FileView
    thumb: str | None


def csp_for(css: str) -> str:
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; img-src data:; style-src 'sha256-{digest}'; base-uri 'none'; "
            "form-action 'none'")


def write_html(out: TextIO, summary: Summary, files: Iterator[FileView], *, store_name: str, limit: int,
               thumbs: bool, max_bytes: int, max_pixels: int) -> None:
    """Stream the report to `out`; `files`: the flagged files to show (at most `limit`)."""
    import jinja2

    folder = resources.files("scanner.reporters").joinpath("templates")
    css = folder.joinpath("report.css").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    template = env.from_string(folder.joinpath("report.html.j2").read_text("utf-8"))
    shown = (Shown(v, thumbnail(v.name, v.body, v.boxes, max_bytes, max_pixels) if thumbs else None)
             for v in files)
    more = max(0, summary.flagged - limit)
    for chunk in template.generate(
            css=css, csp=csp_for(css), summary=summary, files=shown, store_name=store_name, more=more,
            decisions=[d.label for d in Decision], version=__version__,
            made=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")):
        out.write(chunk)

