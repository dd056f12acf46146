"""Normalise and SHA-256 hash personal identifiers exactly as TikTok matches them.

Pure functions (no Airflow import). Errors say which field and why, never the value: they end up in
logs, task failures and rejects files.

Identifiers arrive the way exports wrap them: a JSON column cast to text keeps its quotes (``"a@b.com"``), a
CRM writes ``Pat Doe <pat@example.com>`` or ``mailto:pat@example.com``, a telephony system ``tel:+1...``, a
spreadsheet a leading ``'`` that keeps a number as text. What can be unwrapped unambiguously is; a value whose
wrapping is ambiguous (two addresses, a list, an unbalanced quote) is refused with a reason naming the shape.
A phone is kept only when libphonenumber says it is a valid number of its country: a number that is merely
"possible" (a local number without its area code) would be hashed as a made-up E.164 number.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple
from urllib.parse import unquote

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher, ValidationResult

from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.utils.phone_shapes import NANP_REGIONS, nanp_e164, national_e164

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
#: A local part without spaces, angle brackets, quotes or list separators; a domain of dot-separated labels
#: (no empty label: ``pat@example.com.`` is refused); what is left of a wrapper makes the address invalid.
_LABEL = r"[^@\s<>()\[\]{},;:\"'`/\\?#!$%&*+=^|~.]+"
_EMAIL = re.compile(rf"[^@\s<>()\[\],;:\"]+@(?:{_LABEL}\.)+{_LABEL}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"
#: RFC 5321's longest usable address (a longer one cannot be delivered, so it identifies no one).
MAX_EMAIL_LENGTH = 254

#: Opening quote -> the closing quotes that balance it: straight, backtick, typographic (English, German,
#: Swedish, French guillemets both ways), full-width and CJK corner brackets.
_QUOTE_PAIRS = {
    '"': '"',
    "'": "'",
    "`": "`",
    "\u201c": "\u201d",
    "\u201d": "\u201d",
    "\u201e": "\u201c\u201d",
    "\u2018": "\u2019",
    "\u2019": "\u2019",
    "\u201a": "\u2018\u2019",
    "\u00ab": "\u00bb",
    "\u00bb": "\u00ab\u00bb",
    "\u2039": "\u203a",
    "\u203a": "\u2039\u203a",
    "\uff02": "\uff02",
    "\u300c": "\u300d",
    "\u300e": "\u300f",
}
_QUOTES = frozenset(_QUOTE_PAIRS) | frozenset("".join(_QUOTE_PAIRS.values()))
#: Where a list of values splits: spaces, commas, semicolons, pipes (and slashes, for phones).
_EMAIL_LIST = re.compile(r"[\s,;|]+")
_PHONE_LIST = re.compile(r"[,;/|]")
_SPACES = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")

#: Personal data in clear text (class 5 of issue 15): an e-mail address anywhere, or a run of digits and
#: phone punctuation that may be a phone number (checked with libphonenumber before it counts).
_EMAIL_IN_TEXT = re.compile(r"[\w.%+'\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}")
_PHONE_RUN = re.compile(r"\d[\d \t\u00a0().\-/]{5,}\d")
_BARE_PHONE = re.compile(r"\+?\d{7,15}")
#: Characters of text around a candidate run that libphonenumber's matcher sees (it refuses a number glued
#: to letters, or one that is part of a date or a longer run).
_CONTEXT = 8


class InvalidIdentifier(ValueError):
    """An identifier cannot be normalised; carries the field name and a reason, never the value."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def is_sha256_hex(value: object) -> bool:
    """True when ``value`` already is a SHA-256 hex digest (64 hex characters)."""
    if not isinstance(value, str) or len(value) < 64:
        return False
    return _HEX64.fullmatch(value.strip()) is not None


def prehashed(value: object) -> str | None:
    """A SHA-256 hex digest given instead of the identifier (also in quotes, as a JSON column cast to text
    gives it), lower-cased; None for anything else."""
    if not isinstance(value, str) or len(value) < 64:
        return None
    text = value.strip()
    if text[:1] in _QUOTES:
        try:
            text = _unquoted(text, "")
        except InvalidIdentifier:
            return None
    return text.lower() if _HEX64.fullmatch(text) else None


def sha256_hex(text: str) -> str:
    """SHA-256 of the UTF-8 bytes of ``text``, as lower-case hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value: object, field: str) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidIdentifier(field, "must be text")
    if isinstance(value, int) and value.bit_length() > 256:  # str() refuses ints of over 4300 digits
        raise InvalidIdentifier(field, "is too long")
    text = str(value).strip()
    if not text:
        raise InvalidIdentifier(field, "is empty")
    return text


def _unquoted(text: str, field: str, *, text_marker: bool = False) -> str:
    """``text`` without the balanced quotes around it (several layers: a JSON string inside CSV quotes).

    ``text_marker``: a single leading ``'`` without a closing one is a spreadsheet's mark for "keep this as
    text" (a phone's ``+`` or an id's leading zeros), not a quote, and is removed.
    """
    if text_marker and text[0] == "'" and text[-1] != "'":
        text = text[1:].strip()
        if not text:
            raise InvalidIdentifier(field, "is only quotes")
    while text[0] in _QUOTES or text[-1] in _QUOTES:
        if len(text) < 2 or text[-1] not in _QUOTE_PAIRS.get(text[0], ""):
            raise InvalidIdentifier(field, "has an unbalanced quote (is the column cut or badly quoted?)")
        text = text[1:-1].strip()
        if not text:
            raise InvalidIdentifier(field, "is only quotes")
    return text


def _several_emails() -> InvalidIdentifier:
    return InvalidIdentifier("email", "holds more than one e-mail address (a list?): give one address a row")


def _unwrapped_email(text: str) -> str:
    """The address inside quotes, a display-name form (``Pat <pat@example.com>``) or a ``mailto:`` URI;
    raises for a list of addresses or a wrapping that is not balanced."""
    if text[-1] in _QUOTES or (text[0] in _QUOTES and text[-1] != ">"):  # not '"Doe, Pat" <pat@...>'
        text = _unquoted(text, "email")
    if text[0] == "[" and text[-1] == "]":
        raise InvalidIdentifier("email", "is a list in brackets (a JSON array?): give one address a row")
    if "<" in text or ">" in text:
        text = _angle_address(text)
    if text[0] in "mM" and text[:7].lower() == "mailto:":
        text = _mailto_address(text[7:])
    if text.count("@") > 1 and sum("@" in part for part in _EMAIL_LIST.split(text)) > 1:
        raise _several_emails()
    return text


def _angle_address(text: str) -> str:
    """The address of ``Display Name <address>`` or ``<address>`` (Slack's ``<mailto:a|a>`` too)."""
    opening, closing = text.count("<"), text.count(">")
    if opening > 1 or closing > 1:
        if text.count("@") > 1:
            raise _several_emails()
        raise InvalidIdentifier("email", "has unbalanced angle brackets")
    start, end = text.find("<"), text.find(">")
    if opening != 1 or closing != 1 or end < start:
        raise InvalidIdentifier("email", "has unbalanced angle brackets")
    if end != len(text) - 1:
        raise InvalidIdentifier("email", "has text after the address in angle brackets")
    name, address = text[:start].strip(), text[start + 1 : end].strip()
    if "|" in address:  # Slack's link form: <mailto:address|shown text>
        target, _, shown = address.partition("|")
        address = target.strip()
        if "@" in shown and _bare(shown) != _bare(address):
            raise InvalidIdentifier("email", "holds two different e-mail addresses")
    if not address:
        raise InvalidIdentifier("email", "has nothing in its angle brackets")
    if "@" in name:  # "pat@example.com <pat@example.com>" (Outlook) is one address; two different ones are not
        try:
            same = _bare(_unquoted(name, "email")) == _bare(address)
        except InvalidIdentifier:
            same = False
        if not same:
            raise InvalidIdentifier("email", "holds two different e-mail addresses")
    return address


def _bare(address: str) -> str:
    """An address without a ``mailto:`` scheme, lower-cased (to compare two spellings of one address)."""
    address = address.strip()
    if address[:7].lower() == "mailto:":
        address = address[7:].strip()
    return address.lower()


def _mailto_address(rest: str) -> str:
    """The address of a ``mailto:`` URI: headers (``?subject=``) left out, %-escapes decoded."""
    address = rest.split("?", 1)[0].strip()
    if "%" in address:
        address = unquote(address).strip()
    if not address:
        raise InvalidIdentifier("email", "has no address after mailto:")
    return address


def normalise_email(value: object) -> str:
    """Trimmed and lower-cased e-mail address, unwrapped from quotes, a display name or a ``mailto:`` URI;
    raises when it is not shaped like one address."""
    text = _text(value, "email").lower()
    plain = _EMAIL.fullmatch(text) is not None and text[0] not in _QUOTES and text[-1] not in _QUOTES
    if not plain:
        text = _unwrapped_email(text)
    if len(text) > MAX_EMAIL_LENGTH:
        raise InvalidIdentifier("email", f"is longer than {MAX_EMAIL_LENGTH} characters")
    if not plain and not _EMAIL.fullmatch(text):
        raise InvalidIdentifier("email", "is not a valid e-mail address")
    if not text.isprintable():  # controls and invisible formatting (zero-width spaces, direction overrides)
        raise InvalidIdentifier("email", "contains invisible or control characters")
    return text


def hash_email(value: object) -> str:
    """SHA-256 of the trimmed, lower-cased address; a 64-hex value passes through lower-cased."""
    if isinstance(value, str) and len(value) >= 64:
        hashed = prehashed(value)
        if hashed:
            return hashed
    return sha256_hex(normalise_email(value))


def phone_region(region: object) -> str:
    """``region`` upper-cased, when phonenumbers knows it (US, DE...) and can read national numbers in it."""
    if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise TikTokConfigError("default_phone_region must be a two-letter region code such as US or DE")
    return region.upper()


def _unwrapped_phone(text: str) -> str:
    """The number inside quotes (a leading spreadsheet ``'`` too) or after a ``tel:`` scheme (parameters such
    as ``;ext=`` are left to phonenumbers)."""
    if text[0] in _QUOTES or text[-1] in _QUOTES:
        text = _unquoted(text, "phone", text_marker=True)
    if text[0] in "tT" and text[:4].lower() == "tel:" and ";" not in text:
        text = text[4:].strip()
    return text


def _several_phones(text: str) -> bool:
    """True when ``text`` is a list of numbers: two parts of 7 or more digits split by a comma, semicolon,
    slash, pipe or space (``030/901820`` is one number: its parts have 3 and 6 digits)."""
    for pattern in (_PHONE_LIST, _SPACES):
        parts = pattern.split(text)
        if len(parts) > 1 and sum(len(_DIGIT.findall(part)) >= 7 for part in parts) > 1:
            return True
    return False


def normalise_phone(value: object, default_region: str = "US") -> str:
    """E.164 form (``+14155552671``) of a number valid in its country; numbers without a country code are
    read in ``default_region``. A number libphonenumber finds merely possible (``555-0199``: a local number
    without its area code) is refused: its E.164 form would be made up. The most common shapes take exact
    shortcuts (``phone_shapes``); the rest, and every refusal, phonenumbers' full parse."""
    text = _unwrapped_phone(_text(value, "phone"))
    region = default_region.upper()
    e164 = nanp_e164(text) if region in NANP_REGIONS else None
    if e164:
        return e164
    if len(text) >= 15 and _several_phones(text):  # two numbers of 7 digits and a separator: 15 characters
        raise InvalidIdentifier("phone", "holds more than one phone number (a list?): give one number a row")
    return national_e164(text, region) or full_parse(text, region)


def full_parse(text: str, region: str) -> str:
    """phonenumbers' reading of ``text`` (unwrapped, one number): E.164 of a valid number, or the refusal with
    its reason. The path every shortcut must agree with, and the one that gives every refusal."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier("phone", f"is not a phone number (read in region {region})") from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible not in (ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        raise InvalidIdentifier("phone", f"has an impossible length for its country (region {region})")
    if not number.national_number:
        raise InvalidIdentifier("phone", "is all zeros")
    if not phonenumbers.is_valid_number(number):
        where = region
        if number.country_code and number.country_code != phonenumbers.country_code_for_region(region):
            where = phonenumbers.region_code_for_country_code(number.country_code)
        hint = (
            "a local number without its area code?"
            if possible == ValidationResult.IS_POSSIBLE_LOCAL_ONLY
            else "a local number without its area code, or a prefix not in use?"
        )
        raise InvalidIdentifier("phone", f"is not a valid number for region {where} ({hint})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def hash_phone(value: object, default_region: str = "US") -> str:
    """SHA-256 of the E.164 number; a 64-hex value passes through lower-cased."""
    if isinstance(value, str) and len(value) >= 64:
        hashed = prehashed(value)
        if hashed:
            return hashed
    return sha256_hex(normalise_phone(value, default_region))


#: Customer files (audiences) follow TikTok's customer-file page, not the Events API's rules. Its August 2025
#: version shows phones as digits with the country code and no "+" (``16577770000``); older versions, and the
#: September 2025 "create a Custom Audience" page's recommendation, show E.164 with "+". The hash differs, so
#: the choice is the user's (``phone_format``); "digits" follows the dedicated normalisation page.
PHONE_FORMATS = ("digits", "e164")
#: The same page (August 2025, and its older versions) removes a "+tag" before the @; the September 2025 page
#: does not mention it. Older versions also removed dots in the local part; the current one does not.
EMAIL_TAG_RULES = ("remove", "keep")


def normalise_customer_email(value: object, tag_rule: str = "remove") -> str:
    """Customer-file e-mail: trimmed, lower-cased, and (``tag_rule="remove"``) without a ``+tag`` before the @."""
    text = normalise_email(value)
    if tag_rule == "keep":
        return text
    local, _, domain = text.rpartition("@")
    local = local.split("+", 1)[0]
    if not local:
        raise InvalidIdentifier("email", "has nothing before the @ once its +tag is removed")
    return f"{local}@{domain}"


def normalise_customer_phone(value: object, default_region: str = "US", phone_format: str = "digits") -> str:
    """Customer-file phone: E.164 (``+14155552671``), or its digits with the country code (``14155552671``)."""
    e164 = normalise_phone(value, default_region)
    return e164 if phone_format == "e164" else e164[1:]


def normalise_external_id(value: object) -> str:
    """The trimmed id without quotes around it (case kept: ids are case-sensitive)."""
    text = _text(value, "external_id")
    if text[0] in _QUOTES or text[-1] in _QUOTES:
        text = _unquoted(text, "external_id", text_marker=True)
    return text


def hash_external_id(value: object) -> str:
    """SHA-256 of the trimmed, unquoted id (case kept: ids are case-sensitive); a 64-hex value passes through."""
    text = normalise_external_id(value)
    if is_sha256_hex(text):
        return text.lower()
    return sha256_hex(text)


def normalise_maid(value: object, field: str = "maid") -> str:
    """Lower-cased IDFA/GAID in UUID form (quotes around it removed); the all-zero id (tracking disabled)
    identifies no one."""
    text = _text(value, field)
    if text[0] in _QUOTES or text[-1] in _QUOTES:
        text = _unquoted(text, field)
    text = text.lower()
    if not _UUID.fullmatch(text):
        raise InvalidIdentifier(field, "is not a device id in UUID form (8-4-4-4-12 hex)")
    if text == _ZERO_UUID:
        raise InvalidIdentifier(field, "is the all-zero device id (ad tracking disabled)")
    return text


def hash_maid(value: object, field: str = "maid") -> str:
    """SHA-256 of the lower-cased IDFA/GAID; a 64-hex value passes through lower-cased."""
    return prehashed(value) or sha256_hex(normalise_maid(value, field))


# ------------------------------------------------------------------------------- personal data in clear text
class PersonalData(NamedTuple):
    """What :func:`personal_data_in` found: ``kind`` "email" or "phone" (the field it belongs in), and whether
    it is the ``whole`` text (a column mapped to the wrong field) or a part of it (free text, a URL)."""

    kind: str
    whole: bool


def may_hold_personal_data(text: str, *, url: bool = False) -> bool:
    """False when ``personal_data_in`` cannot find anything in ``text``: it has no ``@`` (nor ``%40`` in a URL)
    and no run of digits and phone punctuation of 7 characters or more (every number it looks at is one). A
    quick test, so that most texts (order ids, short names) skip the search."""
    return "@" in text or (url and "%40" in text) or _PHONE_RUN.search(text) is not None


def personal_data_in(text: str, region: str, *, bare_number: bool = False, url: bool = False) -> PersonalData | None:
    """The e-mail address or phone number clear ``text`` holds, or None (a 64-hex hash holds neither).

    - E-mail: ``local@domain.tld`` anywhere (in a URL also %-encoded: ``?email=pat%40example.com``).
    - Phone: a run of 7 or more digits that libphonenumber's matcher (strict grouping: dates, versions and
      ids grouped unlike a phone are not numbers) finds valid, read in ``region`` unless written with ``+``,
      and that is written with a leading ``+`` or with phone punctuation (spaces, hyphens, dots, parentheses,
      slashes). A bare run of digits (an order number, a SKU, a timestamp) is not taken for a phone, unless
      ``bare_number`` and the whole text is one valid number (an event name is never a number).
    """
    text = text.strip()
    if "@" in text:
        found = _EMAIL_IN_TEXT.search(text)
        if found:
            return PersonalData("email", found.group() == text)
    if url and "%40" in text and _EMAIL_IN_TEXT.search(unquote(text)):
        return PersonalData("email", False)
    match = _PHONE_RUN.search(text)
    while match is not None:
        run, start = match.group(), match.start()
        if (not run.isdigit() or text[start - 1 : start] == "+") and len(_DIGIT.findall(run)) >= 7:
            window = text[max(0, start - _CONTEXT) : match.end() + _CONTEXT]
            for number in PhoneNumberMatcher(window, region, leniency=Leniency.STRICT_GROUPING):
                raw = number.raw_string
                if raw[0] == "+" or not raw.isdigit():
                    return PersonalData("phone", raw == text)
        match = _PHONE_RUN.search(text, match.end())
    if bare_number and _BARE_PHONE.fullmatch(text):
        try:
            valid = phonenumbers.is_valid_number(phonenumbers.parse(text, region))
        except phonenumbers.NumberParseException:
            valid = False
        if valid:
            return PersonalData("phone", True)
    return None
