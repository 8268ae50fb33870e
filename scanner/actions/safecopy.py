"""`fix`: scan with the policy, write a safe copy of each file, scan the copy again with the same policy.

    fix_paths(paths, settings, out_dir=None, force=False) -> Iterator[FixResult]

The original is only read. A copy is `<stem>.safe.<ext>` next to its original, or in `out_dir`; it is
never written over a file being fixed (same inode), nor over an existing file unless `force`. It is
written to a temporary name in the same folder first, then linked into place (atomic; an existing
name is never clobbered without `force`). A copy is approved only when its own re-scan approves it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import api, sources
from ..config import Settings
from ..containers.base import Budget
from ..engines import EngineSet
from ..errors import ItemError
from ..execution import Pool
from ..expansion import shown_path
from ..model import Decision, FileReport
from . import FIXERS
from .base import Change, Context, Fixed, FixOptions, Unfixable

SAFE_TAG = "safe"
SAME_EXT = {"jpg": {"jpg", "jpeg", "jpe", "jfif"}, "tif": {"tif", "tiff"}}


@dataclass(slots=True)
class FixResult:
    """One input file: its report, the copy written (or why none was), the changes, the copy's report."""

    path: str
    before: FileReport
    safe_path: str | None = None
    after: FileReport | None = None
    changes: list[Change] = field(default_factory=list)
    problem: str | None = None  # why no copy was written

    @property
    def decision(self) -> Decision:
        """The copy's decision; `review` when there is no copy."""
        return self.after.decision if self.after is not None else Decision.REVIEW

    @property
    def needs_human(self) -> list[str]:
        """What still stands between this file and `approve`, in the scanner's words."""
        out = [self.problem] if self.problem else []
        report = self.after if self.after is not None else self.before
        out += [f"{r.location}: {r.message}" if r.location else r.message for r in report.verdict.reasons
                if r.decision != Decision.APPROVE]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "safe_copy": self.safe_path, "decision": self.decision.label,
                "original_decision": self.before.decision.label, "problem": self.problem,
                "changes": [c.to_dict() for c in self.changes], "needs_human": self.needs_human,
                "rescan": self.after.to_dict() if self.after is not None else None}


def target_path(path: str, fixed: Fixed, out_dir: str | None) -> str:
    """`<stem>.safe.<ext>`: the original's extension when the format is kept, else the new format's."""
    src = Path(path)
    suffix = src.suffix[1:]
    ext = fixed.ext or suffix
    if suffix.lower() == ext or suffix.lower() in SAME_EXT.get(ext, ()):
        ext = suffix
    name = f"{src.stem}.{SAFE_TAG}.{ext}" if ext else f"{src.name}.{SAFE_TAG}"
    return os.path.join(out_dir if out_dir is not None else str(src.parent), name)


def write_copy(target: str, data: bytes, protected: frozenset[tuple[int, int]], force: bool,
               shown: str | None = None) -> None:
    """Write `data` at `target` through a temporary file; ItemError-free refusals as FileExistsError, naming the
    target as `shown` (as reports show it: a name the text rules hit masked), else its display path."""
    name = shown if shown is not None else sources.display_path(target)
    with contextlib.suppress(FileNotFoundError):
        st = os.stat(target)
        if (st.st_dev, st.st_ino) in protected:
            raise FileExistsError(f"{name} is a file being fixed")
        if not force:
            raise FileExistsError(f"{name} exists (use --force to overwrite)")
    fd, tmp = tempfile.mkstemp(prefix=".leakscan-", suffix=".part", dir=os.path.dirname(target) or ".")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as any new file (mkstemp's 0600 kept the copy from a DAM's account)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise FileExistsError(f"{name} exists (use --force to overwrite)") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def make_copy(path: str, report: FileReport, settings: Settings, options: FixOptions) -> Fixed:
    """The safe copy's bytes for one file already scanned; Unfixable (or another ItemError) when there is none."""
    item = sources.read_item(path, int(settings.max_file_mb * 1_000_000))
    if report.sha256 is not None and item.sha256 != report.sha256:  # the boxes belong to the bytes scanned
        raise Unfixable("the file changed after it was scanned")
    reports = {r.location: r for r in report.walk()}
    ctx = Context(options, int(settings.max_megapixels * 1_000_000), Budget(settings.limits), reports, FIXERS)
    fixer = ctx.fixer_for(item.kind)
    if fixer is None:
        raise Unfixable(f"no safe copy can be made of {item.kind} files (yet)")
    try:
        return fixer.fix(item.data, item.kind, "", ctx, keep_format=False)
    except ItemError:
        raise
    except Exception as exc:  # a file that breaks a fixer has no copy; the others still get theirs (type name only)
        raise Unfixable(f"the safe copy failed ({type(exc).__name__})") from None


def _once_each(walked: api.Plan) -> api.Plan:
    """The same file named twice (`fix a.jpg .`) is fixed once: its second copy would collide with its first."""
    seen: set[tuple[int, int]] = set()
    files = []
    for entry in walked.files:
        if entry.key is None or entry.key not in seen:
            files.append(entry)
        if entry.key is not None:
            seen.add(entry.key)
    return api.Plan(tuple(files), walked.problems)


def fix_paths(paths: list[str], settings: Settings, out_dir: str | None = None, force: bool = False,
              engines: EngineSet | None = None) -> Iterator[FixResult]:
    """Scan, copy, re-scan; one FixResult per input file (after all copies are scanned again)."""
    options = FixOptions.parse(settings.sections.get("fix"))
    walked = _once_each(api.plan(paths))
    pool = Pool(settings, min(settings.worker_count, max(1, len(walked.files)))) if engines is None else None
    with pool if pool is not None else contextlib.nullcontext():
        befores = {r.path: r for r in api.scan_iter(walked, settings, engines, pool=pool)}

        def shown(path: str) -> str:  # as the reports show it (a card number in a name masked)
            return shown_path(settings, sources.display_path(path))

        results = [FixResult(shown(p.path), befores[shown(p.path)],
                             problem=p.problem.message if p.problem else None) for p in walked.problems]
        written: dict[str, FixResult] = {}  # by the copy's absolute path: two inputs must not make one copy
        for entry in walked.files:
            result = FixResult(shown(entry.path), befores[shown(entry.path)])
            results.append(result)
            try:
                fixed = make_copy(entry.path, result.before, settings, options)
                target = target_path(entry.path, fixed, out_dir)
                other = written.get(os.path.abspath(target))
                if other is not None:  # a.heic and a.jpg both make a.safe.jpg: the first keeps it, never replaced
                    raise FileExistsError(f"{shown(target)} is the safe copy of {other.path}, "
                                          "made in this run")
                write_copy(target, fixed.data, walked.keys, force, shown(target))
            except (ItemError, OSError) as exc:
                result.problem = f"no safe copy: {exc}"
                continue
            result.safe_path, result.changes = shown(target), fixed.changes
            written[os.path.abspath(target)] = result
        by_label = {shown(path): result for path, result in written.items()}
        for after in api.scan_iter(list(written), settings, engines, pool=pool):
            if after.path in by_label:
                by_label[after.path].after = after
    yield from results
