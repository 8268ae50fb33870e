"""Readable console output (rich): a line per file with its verdict, then its reasons; a summary table."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..config import Settings
from ..model import Decision, FileReport
from ..text_safety import printable

STYLE = {Decision.APPROVE: "bold green", Decision.REVIEW: "bold yellow", Decision.BLOCK: "bold red"}
ICON = {Decision.APPROVE: "✔", Decision.REVIEW: "?", Decision.BLOCK: "✖"}


class ConsoleReporter:
    """Untrusted text (paths, metadata, OCR) goes through `printable` and rich Text, never markup."""

    def __init__(self, out: TextIO, color: bool | None = None) -> None:
        self.console = Console(file=out, highlight=False, no_color=color is False, force_terminal=color or None,
                               soft_wrap=True)

    def start(self, settings: Settings) -> None:
        pass

    def add(self, report: FileReport) -> None:
        d = report.decision
        line = Text()
        line.append(f"{ICON[d]} {d.label.upper():7} ", style=STYLE[d])
        line.append(printable(report.path, max(300, len(report.path))))  # whole: a cut path is ambiguous
        if report.parts:
            line.append(f"  ({sum(1 for _ in report.walk()) - 1} parts)", style="dim")
        self.console.print(line)
        for reason in report.verdict.reasons:
            text = f"    {reason.decision.label:6}  {_where(reason.location)}{printable(reason.message, 300)}"
            self.console.print(Text(text, style="yellow" if reason.decision == Decision.REVIEW else "red"))
        decided = {(r.location, r.message) for r in report.verdict.reasons}
        for node in report.walk():
            for f in node.findings:
                if (node.location, f.message) not in decided:
                    self.console.print(Text(f"    note    {_where(node.location)}{printable(f.message, 300)}",
                                            style="dim"))

    def finish(self, counts: dict[str, int]) -> None:
        table = Table(title="leakscan summary", show_edge=False)
        for d in Decision:
            table.add_column(d.label, style=STYLE[d], justify="right")
        table.add_row(*(str(counts.get(d.label, 0)) for d in Decision))
        self.console.print(table)


def _where(location: str) -> str:
    """`ppt/media/image7.png: ` before a reason or note about a part; nothing for the file itself."""
    return f"{printable(location, 200)}: " if location else ""
