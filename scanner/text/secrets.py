"""Secrets written in the picture: a value next to password/wifi/pin keywords, one-time codes, API tokens.

The matched value never leaves this module: evidence is masked (`F******!`) and keyed-hashed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from . import mask
from .normalize import lower_same_length
from .page import Hit, Line, Page, union
from .rules import TextRules

# after the keyword: ':' '=' '->' ':=' or spaces, then the value, quoted or not; or, in config syntax, the key's closing
# quote or bracket (and an attribute's `value`) then ':' or '=' only (`"password": "x"`, `$cfg['pass'] = 'x'`,
# `<add key="Password" value="x"/>`; not `id="HTTP_TOKEN">`, not `[-p PASSWORD] [-d]`)
_QUOTED_KEY = r"""\s*["'\]]{1,2}(?:\s*value)?\s*[:=]+\s*"""
_QUOTED_VALUE = r"""(?:"([^"\s]{4,64})"|'([^'\s]{4,64})'|(\S{4,64}))"""
_VALUE = re.compile(rf"""(?:{_QUOTED_KEY}|\s*(?:[:=\-–>]+\s*|\s+)){_QUOTED_VALUE}""")
_QUOTED_KEY_RE = re.compile(_QUOTED_KEY)
_SEPARATED = re.compile(r"""\s*["'\]]{0,2}(?:\s*value)?\s*[:=]""")
_OTP = re.compile(r"\D{0,12}?(\d{4,8})(?!\d)")


def _secret_value(page: Page, index: int, end: int, rules: TextRules) -> tuple[str, Line, int, int] | None:
    line = page.lines[index]
    m = _VALUE.match(line.text, end)
    if m:
        group = m.lastindex or 1  # the one alternative that matched
        return m.group(group), line, m.start(group), m.end(group)
    if line.text[end:].strip(" :=-") == "" and index + 1 < len(page.lines):
        nxt = page.lines[index + 1]
        if nxt.box.y - (line.box.y + line.box.h) < 2 * line.box.h:
            token = nxt.text.split(" ", 1)[0]
            if 4 <= len(token) <= 64:
                return token, nxt, 0, len(token)
    return None


# a value that stands for a password without being one: a template's placeholder (`${DB_PASSWORD}`, `{{ pass }}`,
# `<your-password>`, `%(password)s`), a variable's or constant's name (`$DB_PASS`, `ERR_INVALID_TOKEN`) or a masked
# field (`********`, `xxxxxx`, `•••••`)
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}|\{\{.*\}\}|<[^<>]*>|%\(\w*\)s|\$?[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"
                          r"|([*xX•·.])\1{3,}")


def _plausible_secret(value: str, separated: bool, rules: TextRules) -> bool:
    core = value.strip(".,;)('\"")
    if len(core) < 4 or core.lower() in rules.stopwords or "@" in core or core.lower().startswith("http"):
        return False
    if _PLACEHOLDER.fullmatch(core):
        return False
    varied = any(c.isdigit() for c in core) or not core.isalnum() or any(c.isupper() for c in core[1:])
    return varied or (separated and len(core) >= 6)


def secrets(page: Page, rules: TextRules) -> Iterator[Hit]:
    for i, line in enumerate(page.lines):
        low = lower_same_length(line.text)  # offsets into `low` are offsets into line.text
        for km in rules.otp_keywords.finditer(low):
            om = _OTP.match(line.text, km.end())
            if om:
                code = om.group(1)
                yield rules.hit("text.secret",
                    0.7,
                    f"one-time code shown next to '{km.group(0)}'",
                    line.box_for(om.start(1), om.end(1)),
                    masked="*" * len(code),
                    hash=mask.digest(code, rules.hash_key),
                    keyword=km.group(0),
                    kind="otp",
                )
        for km in rules.secret_keywords.finditer(low):
            found = _secret_value(page, i, km.end(), rules)
            if not found:
                continue
            value, vline, start, end = found
            value = value.strip(".,;)('\"")
            # a value on the next line is a label's value in a picture, but typed text's next line is only that after
            # "Password:" (a table's header cell "Password" above "Password for reading" is none)
            below = vline is not line and (page.ocr or line.text.rstrip().endswith((":", "=")))
            separated = bool(_SEPARATED.match(line.text, km.end())) or below
            if km.group(0) == "pin" and not value.isdigit():
                continue
            if _QUOTED_KEY_RE.match(line.text, km.end()) and value.isalpha():
                continue  # a config key's value that is a word ("input_token": "NextToken"): an identifier
            if not _plausible_secret(value, separated, rules):
                continue
            box = union([line.box_for(km.start(), km.end()), vline.box_for(start, end)])
            yield rules.hit("text.secret",
                0.85 if separated else 0.65,
                f"password written next to '{km.group(0)}'",
                box,
                masked=mask.secret(value),
                hash=mask.digest(value, rules.hash_key),
                keyword=km.group(0),
                length=len(value),
                kind="password",
            )
            break


def tokens(page: Page, rules: TextRules) -> Iterator[Hit]:
    for line in page.lines:
        variants = [line.text]
        squeezed = line.text.replace(" ", "")
        if squeezed != line.text and page.ocr:
            variants.append(squeezed)  # OCR splits long tokens at random places (typed text does not)
        done = False
        for label, rx in rules.tokens:
            for text in variants:
                m = rx.search(text)
                if m:
                    value = m.group(0)
                    box = line.box_for(m.start(), m.end()) if text is line.text else line.box
                    yield rules.hit("text.secret",
                        0.9,
                        f"{label} visible",
                        box,
                        masked=mask.secret(value),
                        hash=mask.digest(value, rules.hash_key),
                        kind="token",
                    )
                    done = True
                    break
            if done:
                break
