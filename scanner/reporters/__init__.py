"""Reporters turn FileReports into output as they arrive: console, json, jsonl (FORMATS)."""

from __future__ import annotations

from typing import Protocol, TextIO

from ..config import Settings
from ..model import FileReport


class Reporter(Protocol):
    def start(self, settings: Settings) -> None: ...

    def add(self, report: FileReport) -> None: ...

    def finish(self, counts: dict[str, int]) -> None: ...


def make(fmt: str, out: TextIO, color: bool | None = None) -> Reporter:
    from .console import ConsoleReporter
    from .json import JsonLinesReporter, JsonReporter

    if fmt == "json":
        return JsonReporter(out)
    if fmt == "jsonl":
        return JsonLinesReporter(out)
    return ConsoleReporter(out, color)


FORMATS = ("console", "json", "jsonl")
