"""POST /v1/fix: the upload's safe copy, made from its report and scanned again with the same policy.

The copy is made in this process (the fixers need no model: the report's boxes say what to cover) from the
upload on disk, written into the service's private folder and sent through the same batcher as any upload,
so its decision is the policy's, never assumed. The response is the copy itself; its decision (and the
original's) travel in headers. When no copy can be made (an unsupported kind, a file that changed, a copy
over the limits), the answer is 422 with `review` and why, in JSON.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

import anyio

from ..actions.base import FixOptions
from ..actions.safecopy import SAFE_TAG, make_copy
from ..errors import ItemError
from ..store import report_from_dict
from .scanning import Scans
from .uploads import Upload

DECISION_HEADER = "X-Leakscan-Decision"
ORIGINAL_HEADER = "X-Leakscan-Original-Decision"
CHANGES_HEADER = "X-Leakscan-Changes"  # how many things were covered or removed
_ASCII_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class FixAnswer:
    """The copy's bytes and type, its name, its re-scan report, the original's decision, the changes made;
    or (data None) the original's report and why there is no copy."""

    original: dict[str, Any]
    data: bytes | None = None
    media_type: str = "application/octet-stream"
    filename: str = ""
    rescan: dict[str, Any] | None = None
    changes: tuple[dict[str, Any], ...] = ()
    problem: str = ""

    @property
    def decision(self) -> str:
        return str(self.rescan["decision"]) if self.rescan is not None else "review"

    def headers(self) -> dict[str, str]:
        ascii_name = _ASCII_NAME.sub("_", self.filename).strip("._") or f"upload.{SAFE_TAG}"
        return {DECISION_HEADER: self.decision, ORIGINAL_HEADER: str(self.original["decision"]),
                CHANGES_HEADER: str(len(self.changes)),
                "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                                       f"filename*=UTF-8''{quote(self.filename, safe='')}"}

    def problem_body(self) -> dict[str, Any]:
        return {"decision": "review", "original_decision": self.original["decision"], "problem": self.problem,
                "report": self.original}


def safe_name(label: str, ext: str) -> str:
    """`<stem>.safe.<ext>` from the upload's label (already a bare name); the copy's format decides `ext`, and a
    copy in the original's format (a document, an archive: `ext` empty) keeps the label's extension."""
    path = PurePosixPath(label)
    ext = ext or path.suffix[1:]
    stem = path.stem or "upload"
    return f"{stem}.{SAFE_TAG}.{ext}" if ext else f"{stem}.{SAFE_TAG}"


async def fix_upload(scans: Scans, upload: Upload) -> FixAnswer:
    """Scan the upload (cache and audit trail as /v1/scan), make its copy, scan the copy."""
    first = await scans.scan(upload)
    options = FixOptions.parse(scans.settings.sections.get("fix"))
    try:
        fixed = await anyio.to_thread.run_sync(make_copy, upload.path, report_from_dict(first.report),
                                               scans.settings, options, limiter=scans.fixing)
    except (ItemError, OSError) as exc:
        return FixAnswer(first.report, problem=f"no safe copy: {exc}")
    name = safe_name(scans.label(upload), fixed.ext)  # never the card number of a name the rules hit
    path = os.path.join(scans.folder.name, secrets.token_hex(16))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(fixed.data)
    copy = Upload(path, name, len(fixed.data), hashlib.sha256(fixed.data).hexdigest())
    try:
        second = await scans.scan(copy)
    finally:
        copy.remove()
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FixAnswer(first.report, fixed.data, media_type, name, second.report,
                     tuple(c.to_dict() for c in fixed.changes))
