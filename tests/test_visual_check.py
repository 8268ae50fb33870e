"""`refs check` rendering: weak labels name the references that were not found again, with advice."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.visual.check import CheckReport, LabelReport, render


def report() -> CheckReport:
    weak = LabelReport("lab-2", 5, 2, 0.3, {"server-room": 1},
                       (("restricted/lab-2/a.jpg", None), ("restricted/lab-2/b.jpg", "server-room"),
                        ("restricted/lab-2/c.jpg", None)))
    strong = LabelReport("server-room", 5, 5, 0.3)
    return CheckReport((weak, strong), allowed=4, false_matches=(), known_images=0, known_skipped=())


def test_weak_label_lists_missed_references_and_advice() -> None:
    text = render(report())
    assert "label lab-2: 2/5 found again" in text
    assert "  restricted/lab-2/b.jpg (looked like server-room)" in text.splitlines()
    assert "  restricted/lab-2/a.jpg" in text.splitlines()
    assert "advice:" in text and "label server-room:" not in text


def test_strong_labels_get_no_advice_and_json_keeps_the_misses() -> None:
    strong = CheckReport((LabelReport("server-room", 5, 5, 0.3),), 4, (), 0, ())
    assert "advice" not in render(strong)
    missed = report().to_dict()["labels"][0]["missed"]  # type: ignore[index]
    assert missed[1] == {"reference": "restricted/lab-2/b.jpg", "matched": "server-room"}
