"""`leakscan history`: the latest decisions of the audit trail (scan, watch, serve), as text or JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import click

from .config import build_settings
from .model import Decision
from .text_safety import printable

NAME_MAX_CHARS = 120
REASONS_MAX_CHARS = 200


def _since(value: str | None) -> str | None:
    """An ISO date or date-time, normalised for comparison with the stored UTC times."""
    if value is None:
        return None
    try:
        if len(value) == len("2026-11-30"):
            return date.fromisoformat(value).isoformat()
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{printable(value, 40)!r} is not an ISO date (2026-11-30) or time") from None
    if moment.tzinfo is not None:  # the trail is in UTC and compared as text
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat()


def _line(row: dict[str, Any]) -> str:
    rules = ", ".join(row["rule_ids"]) or "-"
    reused = " (answered from the trail)" if row["reused"] else ""
    text = f"{row['time']}  {row['decision'].upper():7} {row['source']:5}  {row['name']}  [{rules}]{reused}"
    return printable(text, NAME_MAX_CHARS + REASONS_MAX_CHARS)


@click.command("history")
@click.option("--since", help="Only decisions at or after this UTC date or time (2026-11-30).")
@click.option("--decision", type=click.Choice([d.label for d in Decision]), help="Only this decision.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most this many.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=str), help="Policy TOML.")
def history(since: str | None, decision: str | None, limit: int, fmt: str, policy_file: str | None) -> None:
    """The latest decisions recorded in the audit trail (audit_db), newest first."""
    from .audit import AuditStore

    path = build_settings(policy_file).audit_path
    if path is None:
        raise click.UsageError("the audit trail is off (audit_db = \"off\")")
    if not path.exists():
        raise click.UsageError("no audit trail yet: nothing has been scanned with audit_db set")
    rows = AuditStore(path).history(_since(since), decision, limit)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            click.echo(_line(row))
