"""Normalise and SHA-256 hash personal identifiers exactly as TikTok matches them.

Pure functions (no Airflow import). Errors say which field and why, never the value: they end up in
logs, task failures and rejects files.
"""

from __future__ import annotations

import hashlib
import re

import phonenumbers

from airflow_provider_tiktok.exceptions import TikTokConfigError

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"
#: RFC 5321's longest usable address (a longer one cannot be delivered, so it identifies no one).
MAX_EMAIL_LENGTH = 254
#: US/Canadian numbers in their everyday shapes (``(415) 555-2671``, ``+1 415.555.2671``): E.164 is "+1" and
#: the ten digits, as phonenumbers gives (the tests compare both on random shapes), at a twentieth of the
#: cost. Everything else goes through phonenumbers.
_NANP_SHAPE = re.compile(r"(?:\+?1[ .-]?)?\(?([2-9]\d{2})\)?[ .-]?(\d{3})[ .-]?(\d{4})")
_NANP_FAST_REGIONS = frozenset({"US", "CA"})


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


def normalise_email(value: object) -> str:
    """Trimmed and lower-cased e-mail address; raises when it is not shaped like one."""
    text = _text(value, "email").lower()
    if len(text) > MAX_EMAIL_LENGTH:
        raise InvalidIdentifier("email", f"is longer than {MAX_EMAIL_LENGTH} characters")
    if not _EMAIL.fullmatch(text):
        raise InvalidIdentifier("email", "is not a valid e-mail address")
    if not text.isprintable():  # controls and invisible formatting (zero-width spaces, direction overrides)
        raise InvalidIdentifier("email", "contains invisible or control characters")
    return text


def hash_email(value: object) -> str:
    """SHA-256 of the trimmed, lower-cased address; a 64-hex value passes through lower-cased."""
    if is_sha256_hex(value):
        return str(value).strip().lower()
    return sha256_hex(normalise_email(value))


def phone_region(region: object) -> str:
    """``region`` upper-cased, when phonenumbers knows it (US, DE...) and can read national numbers in it."""
    if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise TikTokConfigError("default_phone_region must be a two-letter region code such as US or DE")
    return region.upper()


def normalise_phone(value: object, default_region: str = "US") -> str:
    """E.164 form (``+14155552671``); numbers without a country code are read in ``default_region``."""
    text = _text(value, "phone")
    if default_region.upper() in _NANP_FAST_REGIONS:
        match = _NANP_SHAPE.fullmatch(text)
        if match:
            return "+1" + "".join(match.groups())
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier("phone", f"is not a phone number (read in region {default_region.upper()})") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentifier("phone", f"has an impossible length for its country (region {default_region.upper()})")
    if not number.national_number:
        raise InvalidIdentifier("phone", "is all zeros")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def hash_phone(value: object, default_region: str = "US") -> str:
    """SHA-256 of the E.164 number; a 64-hex value passes through lower-cased."""
    if is_sha256_hex(value):
        return str(value).strip().lower()
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


def hash_external_id(value: object) -> str:
    """SHA-256 of the trimmed id (case kept: ids are case-sensitive); a 64-hex value passes through."""
    text = _text(value, "external_id")
    if is_sha256_hex(text):
        return text.lower()
    return sha256_hex(text)


def normalise_maid(value: object, field: str = "maid") -> str:
    """Lower-cased IDFA/GAID in UUID form; the all-zero id (tracking disabled) identifies no one."""
    text = _text(value, field).lower()
    if not _UUID.fullmatch(text):
        raise InvalidIdentifier(field, "is not a device id in UUID form (8-4-4-4-12 hex)")
    if text == _ZERO_UUID:
        raise InvalidIdentifier(field, "is the all-zero device id (ad tracking disabled)")
    return text


def hash_maid(value: object, field: str = "maid") -> str:
    """SHA-256 of the lower-cased IDFA/GAID; a 64-hex value passes through lower-cased."""
    if is_sha256_hex(value):
        return str(value).strip().lower()
    return sha256_hex(normalise_maid(value, field))
