"""Identifier normalisation and hashing, checked against digests computed independently here."""

from __future__ import annotations

import hashlib
import random

import phonenumbers
import pytest

from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.utils.hashing import (
    InvalidIdentifier,
    PersonalData,
    hash_email,
    hash_external_id,
    hash_maid,
    hash_phone,
    is_sha256_hex,
    normalise_customer_email,
    normalise_customer_phone,
    normalise_email,
    normalise_phone,
    personal_data_in,
    phone_region,
    prehashed,
)
from airflow_provider_tiktok.utils.phone_shapes import valid_nanp

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
        ("07400 123456", "GB", "+447400123456"),  # was 07700 900123: Ofcom's drama range, not a valid number
        ("090-1234-5678", "JP", "+819012345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        (14155552671, "CA", "+14155552671"),
    ],
)
def test_phone_is_e164_then_hashed(raw, region, e164):
    assert normalise_phone(raw, region) == e164
    assert hash_phone(raw, region) == digest(e164)


def test_the_north_american_shortcut_agrees_with_phonenumbers_on_random_shapes():
    """Random area codes (100-999) and exchanges (000-999): the shortcut accepts exactly the numbers
    phonenumbers finds valid (not merely possible), with the same E.164 form."""
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
                expected = expected if phonenumbers.is_valid_number(number) else None
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


# Issue 15, class 1: identifiers wrapped the way exports wrap them.
@pytest.mark.parametrize(
    "raw",
    [
        "mailto:Pat.Doe@Example.com",  # a CRM's link column
        "MAILTO:pat.doe@example.com?subject=Your%20order",  # headers are not part of the address
        "mailto:pat.doe%40example.com",  # %-escaped, as URIs may be
        '"pat.doe@example.com"',  # a JSON column cast to text
        "'pat.doe@example.com'",
        '""pat.doe@example.com""',  # a JSON string inside CSV quotes
        "\u201cpat.doe@example.com\u201d",  # typographic quotes from a word processor
        "\u201epat.doe@example.com\u201c",  # German quotes
        "\u00abpat.doe@example.com\u00bb",
        "Pat Doe <pat.doe@example.com>",  # RFC 5322 display name (Outlook, Gmail exports)
        '"Doe, Pat" <Pat.Doe@example.com>',
        "<pat.doe@example.com>",
        "<mailto:pat.doe@example.com>",
        "<mailto:pat.doe@example.com|pat.doe@example.com>",  # Slack's export
        "pat.doe@example.com <pat.doe@example.com>",  # one address twice
        ' "Pat Doe <pat.doe@example.com>" ',
    ],
)
def test_wrapped_emails_are_unwrapped_then_hashed(raw):
    assert normalise_email(raw) == "pat.doe@example.com"
    assert hash_email(raw) == digest("pat.doe@example.com")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("a.buyer@example.com; b.buyer@example.org", "holds more than one e-mail address (a list?)"),
        ("a.buyer@example.com, b.buyer@example.org", "holds more than one e-mail address (a list?)"),
        ("a.buyer@example.com b.buyer@example.org", "holds more than one e-mail address (a list?)"),
        ("A <a.buyer@example.com>, B <b.buyer@example.org>", "holds more than one e-mail address (a list?)"),
        ("mailto:a.buyer@example.com,b.buyer@example.org", "holds more than one e-mail address (a list?)"),
        ("b.buyer@example.org <a.buyer@example.com>", "holds two different e-mail addresses"),
        ("<mailto:a.buyer@example.com|b.buyer@example.org>", "holds two different e-mail addresses"),
        ('["a.buyer@example.com"]', "is a list in brackets (a JSON array?)"),
        ('"a.buyer@example.com', "has an unbalanced quote"),
        ("a.buyer@example.com'", "has an unbalanced quote"),
        ("\"a.buyer@example.com'", "has an unbalanced quote"),
        ("<a.buyer@example.com", "has unbalanced angle brackets"),
        ("A Buyer <a.buyer@example.com> (work)", "has text after the address in angle brackets"),
        ("A Buyer <>", "has nothing in its angle brackets"),
        ("mailto:", "has no address after mailto:"),
        ('""', "is only quotes"),
        ("a.buyer@example.com.", "is not a valid e-mail address"),  # a sentence's full stop
        ("a.buyer@example..com", "is not a valid e-mail address"),
    ],
)
def test_ambiguously_wrapped_emails_are_refused_naming_the_shape(raw, reason):
    with pytest.raises(InvalidIdentifier) as info:
        normalise_email(raw)
    assert info.value.field == "email"
    assert info.value.reason.startswith(reason)
    assert "buyer" not in str(info.value)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("tel:+1-415-555-2671", "US", "+14155552671"),  # RFC 3966, as telephony exports write it
        ("TEL:415.555.2671", "US", "+14155552671"),
        ("tel:+49-30-901820;ext=12", "US", "+4930901820"),
        ('"(415) 555-2671"', "US", "+14155552671"),  # a JSON column cast to text
        ("'+14155552671", "US", "+14155552671"),  # a spreadsheet's text marker keeping the +
        ("'030 901820", "DE", "+4930901820"),
        ("\u201c+44 7400 123456\u201d", "DE", "+447400123456"),
        ("Phone: (415) 555-2671", "US", "+14155552671"),  # a label: phonenumbers reads past it
        ("Tel. 030 901820", "DE", "+4930901820"),
    ],
)
def test_wrapped_phones_are_unwrapped(raw, region, e164):
    assert normalise_phone(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("415-555-2671, 650-253-0000", "holds more than one phone number (a list?)"),
        ("415-555-2671 / 650-253-0000", "holds more than one phone number (a list?)"),
        ("4155552671 6502530000", "holds more than one phone number (a list?)"),
        ("415-555-2671 or 650-253-0000", "holds more than one phone number (a list?)"),
        ('"415-555-2671', "has an unbalanced quote"),
        ("415-555-2671\u201d", "has an unbalanced quote"),
    ],
)
def test_ambiguously_wrapped_phones_are_refused(raw, reason):
    with pytest.raises(InvalidIdentifier) as info:
        normalise_phone(raw, "US")
    assert info.value.reason.startswith(reason)
    assert "2671" not in str(info.value)


def test_a_slash_inside_one_number_is_no_list():
    assert normalise_phone("030/901820", "DE") == "+4930901820"
    assert normalise_phone("0151/23456789", "DE") == "+4915123456789"


@pytest.mark.parametrize(
    ("raw", "text"),
    [('"CUST-42"', "CUST-42"), ("'00123", "00123"), ("\u2018C-7\u2019", "C-7"), (" 'x 1' ", "x 1")],
)
def test_external_ids_lose_their_quotes_and_spreadsheet_marker(raw, text):
    assert hash_external_id(raw) == digest(text)


def test_an_external_id_with_an_unbalanced_quote_is_refused():
    with pytest.raises(InvalidIdentifier, match="unbalanced quote"):
        hash_external_id('CUST-42"')


def test_quoted_hashes_and_device_ids_are_unwrapped():
    hashed = digest("someone@example.com")
    assert prehashed(f'"{hashed.upper()}"') == hashed
    for function in (hash_email, hash_phone, hash_external_id, hash_maid):
        assert function(f'"{hashed}"') == hashed
    assert hash_maid('"6D92078A-8246-4BA4-AE5B-76104861E7DC"') == digest("6d92078a-8246-4ba4-ae5b-76104861e7dc")
    assert prehashed(f'"{hashed}') is None


# Issue 15, class 2: only numbers valid in their country are hashed.
@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("555-0199", "US", "is not a valid number for region US (a local number without its area code?)"),
        ("555 0199", "CA", "is not a valid number for region CA (a local number without its area code?)"),
        ("901820", "DE", "is not a valid number for region DE (a local number without its area code"),
        ("123456", "DE", "is not a valid number for region DE"),
        ("7946 0958", "GB", "is not a valid number for region GB"),
        ("(415) 123-4567", "US", "is not a valid number for region US"),  # exchange 1xx is not in use
        ("(999) 555-0123", "US", "is not a valid number for region US"),  # area code 999 is not in use
        ("+1 415 123 4567", "DE", "is not a valid number for region US"),  # written international, still invalid
        ("+49 123456", "US", "is not a valid number for region DE"),
    ],
)
def test_numbers_only_possible_or_invalid_are_refused(raw, region, reason):
    with pytest.raises(InvalidIdentifier) as info:
        normalise_phone(raw, region)
    assert info.value.field == "phone"
    assert info.value.reason.startswith(reason)
    with pytest.raises(InvalidIdentifier):
        normalise_customer_phone(raw, region)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(876) 555-0123", "US", "+18765550123"),  # Jamaica, in the North American plan: valid, not US
        ("(613) 555-0123", "US", "+16135550123"),  # Canada
        ("(800) 555-0199", "US", "+18005550199"),  # toll free
        ("+49 30 901820", "US", "+4930901820"),
        ("030 901820", "DE", "+4930901820"),
    ],
)
def test_valid_numbers_of_other_plan_regions_and_types_are_kept(raw, region, e164):
    assert normalise_phone(raw, region) == e164


def test_the_north_american_validity_pattern_agrees_with_phonenumbers():
    """The one-pattern check of the shortcut against phonenumbers' own, on every area code with random rest."""
    rng = random.Random(15)
    for area in range(200, 1000):
        for _ in range(12):
            national = f"{area}{rng.randint(0, 999):03d}{rng.randint(0, 9999):04d}"
            number = phonenumbers.PhoneNumber(country_code=1, national_number=int(national))
            assert valid_nanp(national) == phonenumbers.is_valid_number(number), national


# Issue 15, class 5: personal data in clear-text fields.
@pytest.mark.parametrize(
    ("text", "region", "found"),
    [
        ("pat.doe@example.com", "US", PersonalData("email", True)),
        ("Order for Pat.Doe@Example.com", "US", PersonalData("email", False)),
        ("(415) 555-2671", "US", PersonalData("phone", True)),
        ("+1 415 555 2671", "DE", PersonalData("phone", True)),
        ("+14155552671", "DE", PersonalData("phone", True)),
        ("call 415-555-2671 after 5", "US", PersonalData("phone", False)),
        ("030 901820", "DE", PersonalData("phone", True)),
        ("+49 30 901820", "US", PersonalData("phone", True)),
    ],
)
def test_personal_data_in_clear_text_is_found(text, region, found):
    assert personal_data_in(text, region) == found


def test_personal_data_in_a_url_is_found_percent_encoded_too():
    url = "https://shop.example.com/thanks?email=pat.doe%40example.com"
    assert personal_data_in(url, "US") is None
    assert personal_data_in(url, "US", url=True) == PersonalData("email", False)
    assert personal_data_in("https://shop.example.com/?e=pat.doe@example.com", "US") == PersonalData("email", False)


@pytest.mark.parametrize(
    "text",
    [
        "Purchase",
        "SignUp2024",
        "4155552671",  # a bare run of digits: an order number as far as anyone can tell
        "ORD-2026-000123",  # grouped unlike a phone
        "2026-03-10",
        "10.03.2026 14:30",
        "03/10/2026",
        "198.51.100.141",
        "sku-1234-5678-90",
        "1234 5678 9012 3456",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82",
        "Mozilla/5.0 (Linux; Android 13; SM-S918B Build/TP1A.220624.014; wv) Chrome/120.0.6099.230 "
        "musical_ly_2023208030",
        "https://medium.com/@shop/spring-sale-2026",
        "Follow @shop on TikTok",
        "Day Pack 20L",
        digest("pat.doe@example.com"),
        "555-0199",  # not a valid number in the region
    ],
)
def test_ordinary_clear_texts_hold_no_personal_data(text):
    for region in ("US", "DE", "GB", "BR"):
        assert personal_data_in(text, region) is None, region


def test_a_bare_number_counts_only_where_asked_and_when_valid():
    assert personal_data_in("4155552671", "US", bare_number=True) == PersonalData("phone", True)
    assert personal_data_in("+4930901820", "US", bare_number=True) == PersonalData("phone", True)
    assert personal_data_in("1234567", "US", bare_number=True) is None
    assert personal_data_in("42", "US", bare_number=True) is None
