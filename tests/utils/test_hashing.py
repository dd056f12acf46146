"""Identifier normalisation and hashing, checked against digests computed independently here."""

from __future__ import annotations

import hashlib
import random

import phonenumbers
import pytest

from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.utils.hashing import (
    InvalidIdentifier,
    hash_email,
    hash_external_id,
    hash_maid,
    hash_phone,
    is_sha256_hex,
    normalise_customer_email,
    normalise_customer_phone,
    normalise_phone,
    phone_region,
)

pytestmark = pytest.mark.unit


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("jane.doe@example.com", "jane.doe@example.com"),
        ("  Jane.Doe@Example.COM \t", "jane.doe@example.com"),
        ("JOSÉ@exämple.de", "josé@exämple.de"),
        ("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
    ],
)
def test_email_is_trimmed_lowercased_then_hashed(raw, normalised):
    assert hash_email(raw) == digest(normalised)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "US", "+14155552671"),
        ("+1 415 555 2671", "DE", "+14155552671"),  # an international number ignores the region
        ("030 12345678", "DE", "+493012345678"),
        ("+49 (0)30 1234 5678", "US", "+493012345678"),
        ("07700 900123", "GB", "+447700900123"),
        ("090-1234-5678", "JP", "+819012345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        (14155552671, "CA", "+14155552671"),
    ],
)
def test_phone_is_e164_then_hashed(raw, region, e164):
    assert normalise_phone(raw, region) == e164
    assert hash_phone(raw, region) == digest(e164)


def test_the_north_american_shortcut_agrees_with_phonenumbers_on_random_shapes():
    rng = random.Random(7)
    separators = ["", " ", "-", ".", "  "]
    for _ in range(5000):
        prefix = rng.choice(["", "1", "+1", "1 ", "+1 ", "+1-", "+", "011 ", "01"])
        opening, closing = rng.choice([("(", ")"), ("", ""), ("(", ""), ("", ")")])
        area, exchange, line = rng.randint(100, 999), rng.randint(0, 999), rng.randint(0, 9999)
        text = (
            f"{prefix}{opening}{area}{closing}{rng.choice(separators)}{exchange:03d}{rng.choice(separators)}{line:04d}"
        )
        for region in ("US", "CA"):
            try:
                number = phonenumbers.parse(text, region)
                expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                expected = expected if phonenumbers.is_possible_number(number) else None
            except phonenumbers.NumberParseException:
                expected = None
            try:
                got = normalise_phone(text, region)
            except InvalidIdentifier:
                got = None
            assert got == expected, (text, region)


def test_external_id_keeps_case_and_trims():
    assert hash_external_id(" User-42 ") == digest("User-42")
    assert hash_external_id(42) == digest("42")


@pytest.mark.parametrize("raw", ["6D92078A-8246-4BA4-AE5B-76104861E7DC", " 6d92078a-8246-4ba4-ae5b-76104861e7dc "])
def test_device_ids_are_lowercased_then_hashed(raw):
    assert hash_maid(raw) == digest("6d92078a-8246-4ba4-ae5b-76104861e7dc")


def test_prehashed_values_pass_through_lowercased():
    hashed = digest("someone@example.com")
    for function in (hash_email, hash_phone, hash_external_id, hash_maid):
        assert function(hashed.upper()) == hashed
    assert is_sha256_hex(hashed)
    assert not is_sha256_hex(hashed[:-1])
    assert not is_sha256_hex("z" * 64)


@pytest.mark.parametrize(
    ("function", "raw", "field"),
    [
        (hash_email, "not-an-email", "email"),
        (hash_email, "two@@example.com", "email"),
        (hash_email, "", "email"),
        (hash_email, None, "email"),
        (hash_phone, "call me maybe", "phone"),
        (hash_phone, "12", "phone"),
        (hash_external_id, "   ", "external_id"),
        (hash_maid, "not-a-uuid", "maid"),
        (hash_maid, "00000000-0000-0000-0000-000000000000", "maid"),
    ],
)
def test_invalid_values_name_the_field_never_the_value(function, raw, field):
    with pytest.raises(InvalidIdentifier) as info:
        function(raw)
    assert info.value.field == field
    if raw and str(raw).strip():
        assert str(raw) not in str(info.value)


@pytest.mark.parametrize("region", ["XX", "usa", "", None, 49])
def test_an_unknown_phone_region_is_a_config_error(region):
    with pytest.raises(TikTokConfigError, match="default_phone_region must be a two-letter region code"):
        phone_region(region)


def test_a_known_phone_region_comes_back_upper_cased():
    assert (phone_region("de"), phone_region("US")) == ("DE", "US")


# Customer files (audiences) follow TikTok's customer-file normalisation page, not the Events API's rules.
@pytest.mark.parametrize(
    ("raw", "tag_rule", "normalised"),
    [
        (" John.Doe+News@Gmail.COM ", "remove", "john.doe@gmail.com"),  # +tag removed, dots kept (Aug 2025 page)
        (" John.Doe+News@Gmail.COM ", "keep", "john.doe+news@gmail.com"),
        ("pat@example.org", "remove", "pat@example.org"),
        ("a+b+c@example.org", "remove", "a@example.org"),
    ],
)
def test_customer_file_emails(raw, tag_rule, normalised):
    assert normalise_customer_email(raw, tag_rule) == normalised


def test_a_customer_file_email_of_only_a_tag_is_invalid():
    with pytest.raises(InvalidIdentifier, match="nothing before the @"):
        normalise_customer_email("+news@example.org")


@pytest.mark.parametrize(
    ("raw", "region", "phone_format", "normalised"),
    [
        ("(657) 777-0000", "US", "digits", "16577770000"),  # TikTok's customer-file page example
        ("(657) 777-0000", "US", "e164", "+16577770000"),
        ("+374 93 828222", "US", "digits", "37493828222"),  # the page's second example
        ("030 1234567", "DE", "digits", "49301234567"),
        ("030 1234567", "DE", "e164", "+49301234567"),
    ],
)
def test_customer_file_phones(raw, region, phone_format, normalised):
    assert normalise_customer_phone(raw, region, phone_format) == normalised
