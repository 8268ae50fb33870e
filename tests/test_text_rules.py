"""Text rules on synthetic pages (no OCR): table of positives and near-misses that must not fire."""

from __future__ import annotations

import pytest

from scanner.errors import ConfigError
from scanner.model import Severity
from scanner.text import find_hits, load_rules
from scanner.text.normalize import repair_digits, skeleton
from scanner.text.page import page_from_text
from scanner.text.validators import card_scheme, iban_valid, luhn_valid

RULES = load_rules({"codenames": ["FALCON", "Blue Heron"], "customers": ["Acme Retail"]})


def rule_ids(text: str) -> set[str]:
    return {h.rule_id for h in find_hits(page_from_text(text), RULES)}


POSITIVES = [
    ("visa luhn-valid, no context", "Card 4111 1111 1111 1111", "text.payment_card"),
    ("visa with dashes", "4539-1488-0343-6467", "text.payment_card"),
    ("amex 4-6-5", "3782 822463 10005", "text.payment_card"),
    # a card next to another number: the run takes both in and fails Luhn, the card inside it is found
    ("card then its CVV", "Jan de Vries 4532015112830366 123", "text.payment_card"),
    ("grouped card then its CVV", "4532 0151 1283 0366 123", "text.payment_card"),
    ("a number before the card", "order 12 4532015112830366", "text.payment_card"),
    ("a float's .0", "Jan,4532015112830366.0", "text.payment_card"),
    ("OCR'd O for 0", "4OOO 1234 5678 9010\nVALID THRU 09/17", "text.payment_card"),
    ("luhn-invalid specimen with context", "5412 7512 3456 7890\nVALID THRU 10/21", "text.payment_card"),
    ("luhn-invalid with expiry only", "4000 1234 5678 9010\n09/27", "text.payment_card"),
    ("IBAN NL spaced", "IBAN NL91 ABNA 0417 1643 00", "text.iban"),
    ("IBAN DE compact", "DE89370400440532013000", "text.iban"),
    ("email", "mail: jan.jansen@example.nl", "text.email"),
    ("phone with context", "Tel. 020-1234567", "text.phone"),
    ("phone international", "+49 30 901820", "text.phone"),
    ("pw colon", "pw: FidM236!", "text.secret"),
    ("wachtwoord", "Wachtwoord: Zomer2024", "text.secret"),
    ("passwort =", "Passwort = geheim123", "text.secret"),
    ("wifi value on next line", "WiFi\nSommer2024!", "text.secret"),
    ("pin digits", "PIN: 4821", "text.secret"),
    # config syntax: the keyword's closing quote or bracket, an attribute's value= (found by a review: all approved)
    ("json", '{"user": "svc", "password": "Tr0ub4dor-x9"}', "text.secret"),
    ("oauth client_secret.json", '{"installed":{"client_secret":"k3Xq9vLmN2pRt7YwZ8aB"}}', "text.secret"),
    (".NET appSettings", '<add key="Password" value="Tr0ub4dor-x9" />', "text.secret"),
    ("php array", "$config['password'] = 'Tr0ub4dor-x9';", "text.secret"),
    ("libpq environment", "export PGPASSWORD=Tr0ub4dor-x9", "text.secret"),
    ("one-time code", "Your verification code is 482913", "text.secret"),
    ("aws key (detect-secrets)", "AKIAIOSFODNN7EXAMPLE", "text.secret"),
    ("github token", "ghp_" + "a1B2" * 9, "text.secret"),
    ("google api key", "AIza" + "SyD3" * 8 + "abc", "text.secret"),
    ("private key header", "-----BEGIN RSA PRIVATE KEY-----", "text.secret"),
    # credential files (a review found each approved)
    ("URL with an empty user", "REDIS_URL=redis://:Sup3rS3cretPw!@cache.internal:6379/0", "text.secret"),
    ("HTTP basic", 'curl -H "Authorization: Basic amFuOlN1cDNyUzNjcmV0UHch" https://api.example.com', "text.secret"),
    ("docker config", '{"auths": {"registry.example.com": {"auth": "amFuOlN1cDNyUzNjcmV0UHch"}}}', "text.secret"),
    ("kubeconfig key", "    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=", "text.secret"),
    ("PuTTY key", "PuTTY-User-Key-File-3: ssh-ed25519", "text.secret"),
    ("pgpass", "db.internal:5432:prod:app:Sup3rS3cretPw!", "text.secret"),
    ("codename exact", "Project FALCON kickoff", "text.codename"),
    ("codename 1 for L", "Project FA1CON kickoff", "text.codename"),
    ("codename 0 for O", "FALC0N", "text.codename"),
    ("codename broken spacing", "B L U E HER0N", "text.codename"),
    ("codename across a line break", "Blue\nHeron", "text.codename"),
    ("codename one OCR edit", "FALCQN rollout", "text.codename"),
    ("customer rn for m", "for acrne retail", "text.codename"),
    ("receipt NL", "Brood 2,49\nMelk 1,19\nTOTAAL 3,68\nBTW 9% 0,30\nPIN 3,68\nTerminal ID T4K8", "text.receipt"),
    ("receipt DE", "Kassenbon\nBrot 2,49\nSUMME EUR 2,49\nMwSt 7% 0,16\nRückgeld 2,51", "text.receipt"),
    ("receipt EN", "Milk 1.45\nBread 1.20\nSUBTOTAL 2.65\nVAT 20% 0.44\nChange 0.00", "text.receipt"),
    ("POS screen", "Dagomzet 4.812,40\nTransacties 143\nContant 1.204,10\nKassa 3", "text.pos_screen"),
    ("POS keypad", "7 8 9\n4 5 6\n1 2 3\n0 00\nTotal 22.0\nCash 100.0", "text.pos_screen"),
]

NEAR_MISSES = [
    ("luhn-invalid, no card context", "Order 4000 1234 5678 9011", "text.payment_card"),
    ("16 digits luhn-invalid run", "Ref 1234567812345678", "text.payment_card"),
    ("luhn-invalid card-shaped window", "Order 4000 1234 5678 9011 12", "text.payment_card"),
    ("a float's fraction", "lgamma -0.1 -> 2.368961332728788655", "text.payment_card"),
    ("an id among long numbers", "OU=0002 48146308100036", "text.payment_card"),
    ("an attribute's closing quote and a tag", '<a id="ERR_INVALID_HTTP_TOKEN"></a></p>', "text.secret"),
    ("a usage line", "usage: msodde [-p PASSWORD] [-d] file", "text.secret"),
    ("long reference number", "Artikelnr 8712345678906", "text.payment_card"),
    ("date and time", "Datum 15.01.2024 12:30", "text.payment_card"),
    ("date as phone", "Datum 15.01.2024 12:30", "text.phone"),
    ("phone-like order number", "Order 0612345678", "text.phone"),
    ("bestelnummer", "Bestelnummer 030 1234 5678", "text.phone"),
    ("IBAN with bad checksum", "NL91 ABNA 0417 1643 01", "text.iban"),
    ("forgot password link", "Forgot password?", "text.secret"),
    ("password field label", "Password: required", "text.secret"),
    ("password manager", "password manager", "text.secret"),
    ("a time with seconds", "Tijd:12:30:45:1234", "text.secret"),
    ("a URL with a port", "see https://example.com:8443/login for details", "text.secret"),
    ("template placeholder", 'password: "${DB_PASSWORD}"', "text.secret"),
    ("jinja placeholder", "password = '{{ vault_password }}'", "text.secret"),
    ("masked field", "Password: ********", "text.secret"),
    ("env reference", "export PGPASSWORD=$DB_PASS", "text.secret"),
    ("a constant's name", "An invalid HTTP token ERR_INVALID_HTTP_TOKEN was given", "text.secret"),
    ("pin word not digits", "PIN betaling", "text.secret"),
    ("pinned item", "Pinned: weekly notes", "text.secret"),
    ("codename inside a word", "FALCONRY club", "text.codename"),
    ("short different word", "FALSE CON", "text.codename"),
    ("slide with one total", "Total revenue grew 12%", "text.receipt"),
    ("price list alone", "Apples 1.20\nPears 1.40", "text.receipt"),
    ("receipt is not a till screen", "Kassenbon\nBrot 2,49\nSUMME EUR 2,49\nMwSt 7% 0,16\nKasse 2", "text.pos_screen"),
]


@pytest.mark.parametrize(("name", "text", "rule"), POSITIVES, ids=[p[0] for p in POSITIVES])
def test_rule_fires(name: str, text: str, rule: str) -> None:
    assert rule in rule_ids(text)


@pytest.mark.parametrize(("name", "text", "rule"), NEAR_MISSES, ids=[n[0] for n in NEAR_MISSES])
def test_near_miss_does_not_fire(name: str, text: str, rule: str) -> None:
    assert rule not in rule_ids(text)


@pytest.mark.parametrize(
    ("number", "valid"),
    [("4111111111111111", True), ("4539148803436467", True), ("378282246310005", True), ("4000123456789010", False),
     ("0000000000000000", True), ("1", False), ("41111111111x1111", False)],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("number", "scheme"),
    [("4111111111111111", "visa"), ("5412751234567890", "mastercard"), ("2221000000000009", "mastercard"),
     ("378282246310005", "amex"), ("6011111111111117", "discover"), ("9999999999999999", None)],
)
def test_card_scheme(number: str, scheme: str | None) -> None:
    assert card_scheme(number) == scheme


@pytest.mark.parametrize(
    ("iban", "valid"),
    [("NL91ABNA0417164300", True), ("DE89 3704 0044 0532 0130 00", True), ("GB82WEST12345698765432", True),
     ("NL91ABNA0417164301", False), ("NL91ABNA041716430", False), ("XX00", False)],
)
def test_iban(iban: str, valid: bool) -> None:
    assert iban_valid(iban) is valid


def test_skeleton_collapses_ocr_confusions() -> None:
    assert skeleton("FA1CON") == skeleton("Falcon") == skeleton("FAL C0N")
    assert skeleton("Acrne") == skeleton("ACME")
    assert skeleton("S8") == skeleton("5B")
    assert repair_digits("4OOO") == "4000"
    assert repair_digits("BOOK") == "BOOK"


def test_evidence_is_masked() -> None:
    hits = find_hits(page_from_text("Card 4111 1111 1111 1111\npw: FidM236!\nIBAN NL91 ABNA 0417 1643 00"), RULES)
    blob = repr([(h.message, dict(h.evidence)) for h in hits])
    for secret in ("4111 1111 1111 1111", "4111111111111111", "FidM236!", "NL91ABNA0417164300", "ABNA 0417"):
        assert secret not in blob
    card = next(h for h in hits if h.rule_id == "text.payment_card")
    assert card.evidence["masked"] == "**** 1111"
    assert card.message == "payment card number ending 1111 (Luhn-valid, visa range)"
    assert card.severity is Severity.HIGH


def test_codename_message_names_the_match() -> None:
    hit = next(h for h in find_hits(page_from_text("FA1CON"), RULES) if h.rule_id == "text.codename")
    assert hit.message == "project codename 'FALCON' (matched 'FA1CON')"


def test_regions_point_at_the_match() -> None:
    page = page_from_text("Name Jan\nCard 4111 1111 1111 1111 ok")
    hit = next(h for h in find_hits(page, RULES) if h.rule_id == "text.payment_card")
    assert hit.box is not None and hit.box.y == 20 and hit.box.x == 50


def test_policy_extends_and_disables() -> None:
    rules = load_rules({
        "patterns": [{"id": "text.ticket", "regex": r"INC-\d{6}", "severity": "high", "message": "ticket number"}],
        "disable": ["text.email"],
        "severity": {"text.phone": "medium"},
    })
    hits = find_hits(page_from_text("see INC-123456 mail a@example.com +31 6 12345678"), rules)
    by_id = {h.rule_id: h for h in hits}
    assert by_id["text.ticket"].severity is Severity.HIGH and "INC-123456" not in repr(by_id["text.ticket"])
    assert "text.email" not in by_id
    assert by_id["text.phone"].severity is Severity.MEDIUM


@pytest.mark.parametrize(
    "section",
    [{"codenames": "FALCON"}, {"codenames": ["ab"]}, {"unknown": 1}, {"patterns": [{"id": "x", "regex": "a"}]},
     {"patterns": [{"id": "text.x", "regex": "("}]}, {"patterns": [{"id": "text.email", "regex": "a"}]},
     {"severity": {"text.phone": "loud"}}],
)
def test_bad_policy_section_is_a_config_error(section: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        load_rules(section)


def test_evidence_hashes_are_keyed_per_scan() -> None:
    """A plain hash of a card number can be reversed by trying every number; a keyed one cannot."""
    import hashlib

    pan = "4539148803436467"
    page = page_from_text(f"VISA {pan[:4]} {pan[4:8]} {pan[8:12]} {pan[12:]} VALID THRU 12/27")
    first = [h for h in find_hits(page, load_rules(hash_key=b"a" * 32)) if h.rule_id == "text.payment_card"]
    second = [h for h in find_hits(page, load_rules(hash_key=b"b" * 32)) if h.rule_id == "text.payment_card"]
    h1, h2 = first[0].evidence["hash"], second[0].evidence["hash"]
    assert h1 != h2 and str(h1).startswith("hmac:")
    assert hashlib.sha256(pan.encode()).hexdigest()[:12] not in str(h1)


def test_screen_scene_helps_a_till_screen_even_when_the_visual_detector_also_saw_a_board() -> None:
    from scanner.text.scoring import score_pos

    page = page_from_text("Omzet vandaag 812,40\nKassa 3")  # just short of a till screen on its words alone
    assert score_pos(page, RULES) is None
    for scenes in ({"screen"}, {"whiteboard", "screen"}):
        hit = score_pos(page, RULES, frozenset(scenes))
        assert hit is not None and "screen scene" in hit.message
    assert score_pos(page, RULES, frozenset({"whiteboard"})) is None


def test_a_card_stored_as_a_number_with_thousands_separators_is_found_in_typed_text() -> None:
    """A CSV export of a number column ("4,532,015,112,830,366"); an amount with separators is no card."""
    from scanner.text.fields import field_hits

    assert [h.hit.rule_id for h in field_hits(['"4,532,015,112,830,366",10'], RULES)] == ["text.payment_card"]
    assert not [h for h in field_hits(["Total 1,234,567.89", "Revenue 12,345,678,901,234"], RULES)
                if h.hit.rule_id == "text.payment_card"]


@pytest.mark.parametrize("text", [
    '{"input_token": "NextToken", "output_token": "NextToken"}',  # a config key's value that is a word
    "Password\nPassword for reading/writing",  # a table's header cell above a row (typed text)
    "PyCA Cryptography nor the names of its contributors may be used",  # prose, not a Twilio key without spaces
])
def test_typed_text_that_only_looks_like_a_secret(text: str) -> None:
    from scanner.text.fields import field_hits

    assert not [h for h in field_hits([text], RULES) if h.hit.rule_id == "text.secret"]
