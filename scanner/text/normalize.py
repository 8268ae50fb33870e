"""Normalisation for matching OCR text: NFKC, look-alike folding, digit repair, skeletons.

PP-OCR's Chinese-dictionary model returns look-alikes (`一` for `-`, fullwidth colons); Cyrillic
screens come back as Latin look-alikes (РАЗОМ -> PA3OM). `fold` makes the text comparable;
`skeleton` collapses the usual OCR confusions (O/0, l/1/I, S/5, B/8, rn/m, Z/2, G/6) so a
codename matches however the engine misread it.
"""

from __future__ import annotations

import re
import unicodedata

_FOLD = str.maketrans(
    {
        "一": "-", "—": "-", "–": "-", "‐": "-", "‑": "-", "−": "-", "ー": "-", "・": ".", "。": ".",
        "，": ",", "：": ":", "；": ";", "（": "(", "）": ")", "|": "I", "‘": "'", "’": "'", "“": '"', "”": '"',
        # Cyrillic letters that OCR engines and fonts render like Latin ones
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
        "Х": "X", "У": "Y", "З": "3", "І": "I", "Ї": "I", "а": "a", "е": "e", "о": "o", "р": "p", "с": "c",
        "у": "y", "х": "x", "і": "i", "ї": "i", "к": "k", "м": "m", "т": "t", "н": "h", "в": "b",
    }
)

# In a token that is mostly digits, these letters are almost always misread digits.
_DIGIT_FIX = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "i": "1", "|": "1",
                            "!": "1", "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2", "G": "6", "b": "6"})

_DIGIT_LOOKALIKES = frozenset("OoDQIli|!SsBZzGb")

_SKELETON = str.maketrans({"0": "O", "Q": "O", "D": "O", "1": "I", "L": "I", "!": "I", "|": "I",
                           "5": "S", "$": "S", "8": "B", "2": "Z", "6": "G"})


# Format characters (category Cf) render as nothing: a card written 4242<ZWSP>4242<ZWSP>... reads as one number
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
                        "\ufff9-\ufffb]")
_ANY_DIGIT = re.compile(r"\d")  # with re's Unicode classes: Arabic-Indic, Devanagari and every other decimal digit


def fold(text: str) -> str:
    """NFKC plus look-alike folding, invisible format characters removed and every decimal digit made ASCII
    (NFKC leaves Arabic-Indic or Devanagari digits as they are); keeps length close to the input's."""
    out = unicodedata.normalize("NFKC", text)
    if not out.isascii():
        out = _INVISIBLE.sub("", out)
        out = _ANY_DIGIT.sub(lambda m: m.group(0) if m.group(0).isascii() else str(unicodedata.digit(m.group(0))),
                             out)
    return out.translate(_FOLD)


def lower_same_length(text: str) -> str:
    """`text.lower()` where that keeps each character one character ('İ'.lower() is two: the offsets of a match
    in the lowered text would point past the word in `text`)."""
    if text.isascii():
        return text.lower()
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def repair_digits(token: str) -> str:
    """'4OOO' -> '4000', 'l234' -> '1234': mostly digits, or only digits and digit look-alikes."""
    alnum = [c for c in token if c.isalnum()]
    digits = sum(c.isdigit() for c in alnum)
    confusable = all(c.isdigit() or c in _DIGIT_LOOKALIKES for c in alnum)
    if alnum and ((digits * 2 >= len(alnum) and digits >= 2) or (confusable and digits >= 1)):
        return token.translate(_DIGIT_FIX)
    return token


def repair_line(text: str, ocr: bool = True) -> str:
    """repair_digits on every space-separated token (OCR text only); the result has the same length as `text`."""
    if not ocr:
        return text
    return re.sub(r"\S+", lambda m: repair_digits(m.group(0)), text)


def skeleton_char(ch: str) -> str:
    return ch.upper().translate(_SKELETON)


def skeleton(text: str) -> str:
    """Upper-case, alphanumerics only, confusions collapsed: 'FA1 CON' and 'Falcon' -> 'FAICON'."""
    out = fold(text).replace("rn", "m").replace("RN", "M").replace("vv", "w").replace("VV", "W")
    return "".join(skeleton_char(c) for c in out if c.isalnum() or c in "$!|")

