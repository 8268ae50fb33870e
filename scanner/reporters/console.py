"""Readable console output (rich): a line per file with its verdict, then its reasons and what to do about them;
one line naming the checks that did not run; a summary table."""

from __future__ import annotations

import codecs
import os
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..config import Settings
from ..model import Decision, FileReport, SkippedCheck
from ..text_safety import printable

STYLE = {Decision.APPROVE: "bold green", Decision.REVIEW: "bold yellow", Decision.BLOCK: "bold red"}
# glyphs in every UTF-8 terminal font (no emoji, no private-use code points), and plain ASCII otherwise
ICON = {Decision.APPROVE: "✔", Decision.REVIEW: "⚠", Decision.BLOCK: "✖"}
ASCII_ICON = {Decision.APPROVE: "+", Decision.REVIEW: "!", Decision.BLOCK: "x"}
PLAIN_LOCALES = ("C", "POSIX")
INDENT = " " * 4
FIX_INDENT = " " * 12  # under the reason's text, past "    review  "


def plain_terminal(out: TextIO) -> bool:
    """True when `out` should get ASCII only: its encoding is not UTF-8, NO_COLOR or TERM=dumb is set, or the
    user's locale is C/POSIX (Python then writes UTF-8 anyway, but the terminal is likely not set up for it)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return True
    locale = os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    if locale in PLAIN_LOCALES:
        return True
    encoding = getattr(out, "encoding", None)
    if not encoding:  # an in-memory stream: str all the way
        return False
    try:
        return codecs.lookup(encoding).name != "utf-8"
    except LookupError:
        return True


class ConsoleReporter:
    """Untrusted text (paths, metadata, OCR) goes through `printable` and rich Text, never markup."""

    def __init__(self, out: TextIO, color: bool | None = None) -> None:
        self.ascii = plain_terminal(out)
        no_color = color is False or (color is None and bool(os.environ.get("NO_COLOR")))
        self.console = Console(file=out, highlight=False, no_color=no_color, force_terminal=color or None,
                               soft_wrap=True, emoji=False)
        self.skipped: dict[str, SkippedCheck] = {}

    def start(self, settings: Settings) -> None:
        pass

    def _text(self, text: str) -> str:
        """On a plain terminal, every non-ASCII character as an escape (a backslash is already doubled in paths)."""
        if not self.ascii:
            return text
        return text.replace("…", "...").encode("ascii", "backslashreplace").decode("ascii")

    def _print(self, text: str, style: str) -> None:
        self.console.print(Text(self._text(text), style=style))

    def add(self, report: FileReport) -> None:
        d = report.decision
        icon = (ASCII_ICON if self.ascii else ICON)[d]
        line = Text()
        line.append(f"{icon} {d.label.upper():7} ", style=STYLE[d])
        line.append(self._text(printable(report.path, max(300, len(report.path)))))  # whole: a cut path is ambiguous
        if report.parts:
            line.append(f"  ({sum(1 for _ in report.walk()) - 1} parts)", style="dim")
        self.console.print(line)
        for reason in report.verdict.reasons:
            style = "yellow" if reason.decision == Decision.REVIEW else "red"
            self._print(f"{INDENT}{reason.decision.label:6}  {_where(reason.location)}{printable(reason.message, 300)}",
                        style)
            if reason.fix:
                self._print(f"{FIX_INDENT}fix: {printable(reason.fix, 300)}", "dim")
        decided = {(r.location, r.message) for r in report.verdict.reasons}
        for node in report.walk():
            for f in node.findings:
                if (node.location, f.message) not in decided:
                    self._print(f"{INDENT}note    {_where(node.location)}{printable(f.message, 300)}", "dim")
            for check in node.checks_skipped:
                self.skipped.setdefault(check.check, check)

    def finish(self, counts: dict[str, int]) -> None:
        if self.skipped:  # once per scan, not per file
            reasons = "; ".join(printable(c.reason, 200) for c in self.skipped.values())
            self._print(f"not checked in this scan: {reasons}", "yellow")
        table = Table(title="leakscan summary", show_edge=False, box=box.ASCII if self.ascii else box.HEAVY_HEAD)
        for d in Decision:
            table.add_column(d.label, style=STYLE[d], justify="right")
        table.add_row(*(str(counts.get(d.label, 0)) for d in Decision))
        self.console.print(table)


def _where(location: str) -> str:
    """`ppt/media/image7.png: ` before a reason or note about a part; nothing for the file itself."""
    return f"{printable(location, 200)}: " if location else ""
