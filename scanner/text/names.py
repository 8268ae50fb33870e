"""Project codenames and customer names from the policy, matched despite OCR confusions and broken spacing."""

from __future__ import annotations

from collections.abc import Iterator

from .normalize import skeleton_char
from .page import Hit, Page, union
from .rules import Name, TextRules


def _stream(page: Page) -> tuple[str, list[tuple[int, int]], set[int], set[int]]:
    """Skeleton of the whole page, per skeleton char its (line, char index), word starts and ends."""
    chars: list[str] = []
    where: list[tuple[int, int]] = []
    starts: set[int] = set()
    ends: set[int] = set()
    for li, line in enumerate(page.lines):
        text = line.text.replace("rn", "m\x00").replace("RN", "M\x00")
        for ws, we in line.spans:
            first = True  # a token starts at each word and after any space or punctuation inside it
            for ci in range(ws, we):
                ch = text[ci]
                if ch == "\x00":
                    continue
                if not (ch.isalnum() or ch in "$!|"):
                    if not first:
                        ends.add(len(chars))
                    first = True
                    continue
                if first:
                    starts.add(len(chars))
                    first = False
                chars.append(skeleton_char(ch))
                where.append((li, ci))
            if not first:
                ends.add(len(chars))
    return "".join(chars), where, starts, ends


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def names(page: Page, rules: TextRules) -> Iterator[Hit]:
    if not rules.names:
        return
    stream, where, starts, ends = _stream(page)
    for name in rules.names:
        best = _find_name(name, stream, starts, ends, rules.fuzzy_min_length)
        if best is None:
            continue
        lo, hi, dist = best
        spans: dict[int, list[int]] = {}
        for k in range(lo, hi):
            spans.setdefault(where[k][0], []).append(where[k][1])
        boxes = [page.lines[li].box_for(min(ix), max(ix) + 1) for li, ix in spans.items()]
        seen = " / ".join(page.lines[li].text[min(ix) : max(ix) + 1] for li, ix in spans.items())
        label = "project codename" if name.kind == "codename" else "customer name"
        note = "" if seen == name.name else f" (matched '{seen}')"
        yield rules.hit("text.codename",
            0.9 if dist == 0 else 0.7,
            f"{label} '{name.name}'{note}",
            union(boxes),
            name=name.name,
            kind=name.kind,
            edits=dist,
        )


def _find_name(
    name: Name, stream: str, starts: set[int], ends: set[int], fuzzy_min: int
) -> tuple[int, int, int] | None:
    target = name.skeleton
    n = len(target)
    pos = stream.find(target)
    while pos != -1:
        if pos in starts and pos + n in ends:
            return pos, pos + n, 0
        pos = stream.find(target, pos + 1)
    if n < fuzzy_min:
        return None
    for s in sorted(starts):
        for length in (n - 1, n + 1, n):
            e = s + length
            if e in ends and e <= len(stream) and _distance(stream[s:e], target) <= 1:
                return s, e, 1
    return None
