"""Rows that ride along: a scan stage of the Ray engines runs on the rows to scan and carries every other row.

    carry(batch, stage, adds) -> batch   `stage` over the rows whose `kind` is SCAN; META kept for every row

A manifest read on the cluster (ray_manifest.py) gives rows of four kinds: a file to scan, a file the result store
already answers, a file the listing could not take (missing, not a regular file) and a folder with no file in it.
Only the first kind goes through the scan stages (ScanActor, or the split engine's three stages); every row keeps
its META columns (its manifest line, the path as listed, the store key), so the driver accounts for every line.
Paths travel as bytes (os.fsencode): a file name that is not UTF-8 cannot be an Arrow string.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

SCAN, STORED, PROBLEM, EMPTY = "scan", "stored", "problem", "empty"
META = ("index", "line", "sub", "count", "kind", "path", "shown", "size", "key", "sha", "code", "message", "stage")
Batch = dict[str, Any]
Stage = Callable[[Batch], Batch]


def carry(batch: Batch, stage: Stage, adds: str) -> Batch:
    """`stage` over the SCAN rows (paths decoded, as the stages take them); the column it `adds` (a pickled Pack
    or report) filled in for those rows and b"" for the others; the META columns of every row kept, in order."""
    kinds = [str(k) for k in batch["kind"]]
    todo = [i for i, k in enumerate(kinds) if k == SCAN]
    out: Batch = {col: list(batch[col]) for col in META}
    out[adds] = [b""] * len(kinds)  # every block has the same columns, scanned rows or not
    if not todo:
        return out
    given: Batch = {col: [batch[col][i] for i in todo] for col in batch if col not in META}
    given["index"] = [int(batch["index"][i]) for i in todo]
    given["path"] = [os.fsdecode(bytes(batch["path"][i])) for i in todo]
    values = stage(given)[adds]
    for i, value in zip(todo, values, strict=True):
        out[adds][i] = value
    return out


class CarriedActor:
    """An actor stage (a class built once per actor) that carries the rows it does not scan."""

    def __init__(self, inner: type, adds: str, **kwargs: Any) -> None:
        self.inner = inner(**kwargs)
        self.adds = adds

    def __call__(self, batch: Batch) -> Batch:
        return carry(batch, self.inner, self.adds)
