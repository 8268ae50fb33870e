"""JSON (one document, written incrementally) and JSON Lines (one object per file) reporters."""

from __future__ import annotations

import json
from typing import Any, TextIO

from .. import __version__
from ..config import Settings
from ..model import SCHEMA_VERSION, FileReport


def dumps(obj: Any) -> str:
    # ensure_ascii keeps control characters and odd code points escaped in the output
    return json.dumps(obj, ensure_ascii=True, sort_keys=False, default=str)


class JsonLinesReporter:
    """One object per input file per line: easy to stream, grep and resume for huge batches."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def start(self, settings: Settings) -> None:
        pass

    def add(self, report: FileReport) -> None:
        self.out.write(dumps(report.to_dict()) + "\n")
        self.out.flush()

    def finish(self, counts: dict[str, int]) -> None:
        pass


class JsonReporter:
    """{schema_version, scanner_version, settings, files: [...], summary}, files streamed in."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.first = True

    def start(self, settings: Settings) -> None:
        head = {"schema_version": SCHEMA_VERSION, "scanner_version": __version__, "settings": settings.to_dict()}
        self.out.write(dumps(head)[:-1] + ', "files": [\n')

    def add(self, report: FileReport) -> None:
        self.out.write(("" if self.first else ",\n") + dumps(report.to_dict()))
        self.first = False

    def finish(self, counts: dict[str, int]) -> None:
        self.out.write('\n], "summary": ' + dumps(counts) + "}\n")
        self.out.flush()
