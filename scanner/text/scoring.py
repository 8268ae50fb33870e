"""Receipt and POS-screen scores: several independent signal groups, never one keyword."""

from __future__ import annotations

import re

from ..model import Region
from .page import Hit, Page, union
from .rules import ScoreSpec, TextRules

# an amount at the end of a line: 12,50 / 1.234,56 / 28.60 / RM8.35 / 3.20 SR / € 4,99 A
_PRICE_END = re.compile(r"(?<![\d])(?:\d{1,3}(?:[.,]\d{3})*|\d+)[.,]\d{1,2}(?:\s?(?:€|EUR|RM|[A-Z]{1,3}\.?|\*))?\s*$")
_DIGIT_KEY = re.compile(r"^(?:\d|00|\.|,|C|CE|<|x|×)$")


def price_lines(page: Page) -> list[int]:
    return [i for i, line in enumerate(page.lines) if _PRICE_END.search(line.text)]


def keypad_keys(page: Page) -> int:
    """Single-digit words: a numeric keypad on a till screen shows 0-9 as separate keys."""
    digits = {w.text.strip() for line in page.lines for w in line.words if _DIGIT_KEY.match(w.text.strip())}
    return len(digits)


def _score(page: Page, spec: ScoreSpec) -> tuple[float, list[str], list[Region], bool]:
    low = [line.text.lower() for line in page.lines]
    score, found, boxes, specific = 0.0, [], [], False
    for group in spec.groups:
        if group.keypad_min:
            if keypad_keys(page) >= group.keypad_min:
                score += group.weight
                found.append(group.name)
                specific = specific or group.specific
            continue
        if group.pattern is None:
            continue
        hit_lines = [i for i, t in enumerate(low) if group.pattern.search(t)]
        if hit_lines:
            score += group.weight
            found.append(group.name)
            specific = specific or group.specific
            boxes += [page.lines[i].box for i in hit_lines]
    prices = price_lines(page)
    if prices:
        score += min(spec.price_cap, spec.price_weight * len(prices))
        found.append(f"{len(prices)} price lines")
        boxes += [page.lines[i].box for i in prices]
    return score, found, boxes, specific


def score_receipt(page: Page, rules: TextRules) -> Hit | None:
    spec = rules.receipt
    score, found, boxes, _ = _score(page, spec)
    if score < spec.threshold or not boxes:
        return None
    conf = min(0.95, 0.5 + 0.05 * (score - spec.threshold + 1))
    return rules.hit("text.receipt", conf, "receipt: " + ", ".join(found), union(boxes),
                     score=round(score, 2), signals=",".join(found))


def score_pos(page: Page, rules: TextRules, scenes: frozenset[str] = frozenset()) -> Hit | None:
    spec = rules.pos_screen
    score, found, boxes, specific = _score(page, spec)
    if "screen" in scenes:  # the visual detector saw a screen (also when it saw a board on one)
        score += 1.0
        found.append("screen scene")
    if score < spec.threshold or not specific or not boxes:
        return None
    conf = min(0.9, 0.45 + 0.05 * (score - spec.threshold + 1))
    return rules.hit("text.pos_screen", conf, "POS/till screen: " + ", ".join(found), union(boxes),
                     score=round(score, 2), signals=",".join(found))
