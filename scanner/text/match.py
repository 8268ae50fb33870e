"""Pattern rules over a Page: payment cards, IBAN, e-mail, phone, secrets, tokens, names, custom.

Every Hit carries masked or hashed evidence; the matched value never leaves this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..model import Region, Severity
from . import mask
from .national import national_ids
from .normalize import repair_line, skeleton_char
from .page import Hit, Line, Page, union
from .rules import Name, TextRules
from .scoring import score_pos, score_receipt
from .validators import card_scheme, iban_valid, luhn_valid

_CARD_RUN = re.compile(r"(?<![\d])\d(?:[ \-.]?\d){11,18}(?![\d])")
_CARD_SHAPE = re.compile(r"^\d{4}([ \-.])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?$|^\d{4}([ \-.])\d{6}\2\d{5}$")
_EXPIRY = re.compile(r"(?<![\d/])(0?[1-9]|1[0-2])\s?/\s?(\d{2}|20\d{2})(?![\d/])")
_IBAN = re.compile(r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Z0-9])")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![\w-])")
_VALUE = re.compile(r"\s*(?:[:=\-–>]\s*|\s+)(\S{4,64})")
_OTP = re.compile(r"\D{0,12}?(\d{4,8})(?!\d)")


def find_hits(page: Page, rules: TextRules, scene: str | None = None) -> list[Hit]:
    """All rules over one page, disabled ones dropped."""
    hits: list[Hit] = []
    hits += _cards(page, rules)
    hits += _ibans(page, rules)
    hits += _emails(page, rules)
    hits += _phones(page, rules, taken=[h.box for h in hits if h.box])
    hits += _secrets(page, rules)
    hits += _tokens(page, rules)
    hits += _names(page, rules)
    hits += _patterns(page, rules)
    hits += national_ids(page, rules)
    hits += [h for h in (score_receipt(page, rules), score_pos(page, rules, scene)) if h]
    return [h for h in hits if rules.enabled(h.rule_id)]


def _hit(rules: TextRules, rule_id: str, conf: float, message: str, box: Region | None, **evidence: object) -> Hit:
    ev = {k: v for k, v in evidence.items() if isinstance(v, str | int | float | bool)}
    return Hit(rule_id, rules.severity.get(rule_id, Severity.MEDIUM), conf, message, box, ev)


def _card_context(page: Page, rules: TextRules) -> str | None:
    m = rules.card_context.search(page.text.lower())
    if m:
        return m.group(0)
    return "expiry date" if _EXPIRY.search(page.text) else None


def _cards(page: Page, rules: TextRules) -> Iterator[Hit]:
    context = None
    looked = False
    for line in page.lines:
        text = repair_line(line.text)
        for m in _CARD_RUN.finditer(text):
            raw = m.group(0)
            digits = re.sub(r"\D", "", raw)
            if not 13 <= len(digits) <= 19:
                continue
            scheme = card_scheme(digits)
            luhn = luhn_valid(digits)
            shaped = bool(_CARD_SHAPE.match(raw))
            if not looked:
                context, looked = _card_context(page, rules), True
            if luhn and (scheme or context):
                conf = 0.95 if scheme and (context or shaped) else 0.8
                why = "Luhn-valid" + (f", {scheme} range" if scheme else "")
            elif luhn and shaped:
                conf, why = 0.6, "Luhn-valid, card-shaped"
            elif shaped and context:
                conf, why = 0.5, f"Luhn-invalid, card-shaped next to '{context}'"
            else:
                continue
            yield _hit(
                rules,
                "text.payment_card",
                conf,
                f"payment card number ending {digits[-4:]} ({why})",
                line.box_for(m.start(), m.end()),
                masked=mask.last4(digits),
                luhn=luhn,
                scheme=scheme or "unknown",
                digits=len(digits),
                hash=mask.digest(digits, rules.hash_key),
            )


def _ibans(page: Page, rules: TextRules) -> Iterator[Hit]:
    for line in page.lines:
        for m in _IBAN.finditer(line.text.upper()):
            candidate = m.group(0).replace(" ", "")
            # the run may swallow a following word: shrink until the checksum holds
            for end in range(len(candidate), 14, -1):
                if iban_valid(candidate[:end]):
                    value = candidate[:end]
                    yield _hit(
                        rules,
                        "text.iban",
                        0.9,
                        f"IBAN {mask.iban(value)} (mod-97 valid)",
                        line.box_for(m.start(), m.end()),
                        masked=mask.iban(value),
                        hash=mask.digest(value, rules.hash_key),
                    )
                    break


def _emails(page: Page, rules: TextRules) -> Iterator[Hit]:
    for line in page.lines:
        for m in _EMAIL.finditer(line.text):
            value = m.group(0)
            yield _hit(
                rules,
                "text.email",
                0.8,
                f"e-mail address {mask.email(value)}",
                line.box_for(m.start(), m.end()),
                masked=mask.email(value),
                hash=mask.digest(value.lower(), rules.hash_key),
            )


def _overlaps(a: Region, b: Region) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def _phones(page: Page, rules: TextRules, taken: list[Region]) -> Iterator[Hit]:
    import phonenumbers

    for line in page.lines:
        has_context = bool(rules.phone_context.search(line.text.lower()))
        seen: set[tuple[int, int]] = set()
        for region in rules.phone_regions:
            for pm in phonenumbers.PhoneNumberMatcher(line.text, region, leniency=phonenumbers.Leniency.VALID):
                span = (pm.start, pm.end)
                international = pm.raw_string.lstrip().startswith(("+", "00"))
                if span in seen or not (international or has_context):
                    continue
                box = line.box_for(pm.start, pm.end)
                if any(_overlaps(box, t) for t in taken):
                    continue
                seen.add(span)
                e164 = phonenumbers.format_number(pm.number, phonenumbers.PhoneNumberFormat.E164)
                yield _hit(
                    rules,
                    "text.phone",
                    0.8 if international else 0.6,
                    f"phone number {mask.phone(e164)}",
                    box,
                    masked=mask.phone(e164),
                    hash=mask.digest(e164, rules.hash_key),
                )


def _secret_value(page: Page, index: int, end: int, rules: TextRules) -> tuple[str, Line, int, int] | None:
    line = page.lines[index]
    m = _VALUE.match(line.text, end)
    if m:
        return m.group(1), line, m.start(1), m.end(1)
    if line.text[end:].strip(" :=-") == "" and index + 1 < len(page.lines):
        nxt = page.lines[index + 1]
        if nxt.box.y - (line.box.y + line.box.h) < 2 * line.box.h:
            token = nxt.text.split(" ", 1)[0]
            if 4 <= len(token) <= 64:
                return token, nxt, 0, len(token)
    return None


def _plausible_secret(value: str, separated: bool, rules: TextRules) -> bool:
    core = value.strip(".,;)('\"")
    if len(core) < 4 or core.lower() in rules.stopwords or "@" in core or core.lower().startswith("http"):
        return False
    varied = any(c.isdigit() for c in core) or not core.isalnum() or any(c.isupper() for c in core[1:])
    return varied or (separated and len(core) >= 6)


def _secrets(page: Page, rules: TextRules) -> Iterator[Hit]:
    for i, line in enumerate(page.lines):
        low = line.text.lower()
        for km in rules.otp_keywords.finditer(low):
            om = _OTP.match(line.text, km.end())
            if om:
                code = om.group(1)
                yield _hit(
                    rules,
                    "text.secret",
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
            separated = bool(re.match(r"\s*[:=]", line.text[km.end() :])) or vline is not line
            if km.group(0) == "pin" and not value.isdigit():
                continue
            if not _plausible_secret(value, separated, rules):
                continue
            box = union([line.box_for(km.start(), km.end()), vline.box_for(start, end)])
            yield _hit(
                rules,
                "text.secret",
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


def _tokens(page: Page, rules: TextRules) -> Iterator[Hit]:
    for line in page.lines:
        variants = [line.text]
        squeezed = line.text.replace(" ", "")
        if squeezed != line.text:
            variants.append(squeezed)  # OCR splits long tokens at random places
        done = False
        for label, rx in rules.tokens:
            for text in variants:
                m = rx.search(text)
                if m:
                    value = m.group(0)
                    box = line.box_for(m.start(), m.end()) if text is line.text else line.box
                    yield _hit(
                        rules,
                        "text.secret",
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


def _names(page: Page, rules: TextRules) -> Iterator[Hit]:
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
        yield _hit(
            rules,
            "text.codename",
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


def _patterns(page: Page, rules: TextRules) -> Iterator[Hit]:
    for pattern in rules.patterns:
        for line in page.lines:
            m = pattern.regex.search(line.text)
            if m:
                value = m.group(0)
                yield Hit(
                    pattern.rule_id,
                    pattern.severity,
                    0.8,
                    pattern.message,
                    line.box_for(m.start(), m.end()),
                    {"masked": mask.secret(value), "hash": mask.digest(value, rules.hash_key)},
                )
