"""The phone shortcuts (``utils.phone_shapes``) against phonenumbers itself, on seeded random numbers of each
region: real numbering ranges with random digits, written nationally, with "+" or the international prefix,
with the punctuation people type and with characters the shortcuts leave to phonenumbers, and random strings of
digits. Wherever a shortcut answers, its E.164 form is the one phonenumbers' parse, validity check and format
give (a shortcut never answers for a number phonenumbers refuses); ``normalise_phone`` as a whole (shortcuts,
then phonenumbers) gives what the full parse gives, refusals and their reasons included.

``PHONE_SAMPLES`` (numbers a region, default 20,000: under a second a region) makes the run larger.
"""

from __future__ import annotations

import functools
import os
import random

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from airflow_provider_tiktok.utils.hashing import (
    InvalidIdentifier,
    _several_phones,
    _text,
    _unwrapped_phone,
    full_parse,
    normalise_phone,
)
from airflow_provider_tiktok.utils.phone_shapes import NATIONAL_REGIONS, national_e164

pytestmark = pytest.mark.unit

SAMPLES = int(os.environ.get("PHONE_SAMPLES", "20000"))
#: Regions whose numbers are written in the samples with "+" (the shortcut's own and others).
OTHER_CODES = ["1", "7", "39", "49", "44", "33", "81", "55", "91", "353", "880", "0", "999"]
TYPES = [
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.UAN,
    PhoneNumberType.PAGER,
]
SEPARATORS = [" ", " ", "-", ".", "/", "", "  ", " - ", ")", "(", "\u00a0", "\u2010", ",", "x", "#", "*"]


def reference(raw: object, region: str) -> str:
    """``normalise_phone`` without its shortcuts: the provider's unwrapping and list check, then only its full
    parse (phonenumbers' parse, possibility and validity checks, E.164 format and the refusal reasons)."""
    text = _unwrapped_phone(_text(raw, "phone"))
    if len(text) >= 15 and _several_phones(text):
        raise InvalidIdentifier("phone", "holds more than one phone number (a list?): give one number a row")
    return full_parse(text, region)


def outcome(function, raw: object, region: str) -> str:
    try:
        return function(raw, region)
    except InvalidIdentifier as err:
        return f"refused: {err.reason}"


def _grouped(rng: random.Random, digits: str) -> str:
    """``digits`` with separators typed between some of them (mostly the usual ones)."""
    out = []
    for n, digit in enumerate(digits):
        if n and rng.random() < 0.25:
            out.append(rng.choice(SEPARATORS[:6]) if rng.random() < 0.9 else rng.choice(SEPARATORS))
        out.append(digit)
    return "".join(out)


@functools.cache
def _example(region: str, kind: int) -> phonenumbers.PhoneNumber | None:
    return phonenumbers.example_number_for_type(region, kind)


def _real(rng: random.Random, region: str) -> str:
    """A number of a real range of ``region`` (an example number of a random type, its tail randomised, now
    and then a digit longer or shorter), written as people write it."""
    example = None
    while example is None:
        example = _example(region, rng.choice(TYPES))
    nsn = str(example.national_number)
    keep = rng.randint(1, len(nsn))
    nsn = nsn[:keep] + "".join(rng.choice("0123456789") for _ in range(len(nsn) - keep))
    if rng.random() < 0.1:
        nsn = nsn + rng.choice("0123456789") if rng.random() < 0.5 else nsn[:-1]
    code = str(example.country_code)
    prefix = rng.choice(["0", "0", "0", "", "+" + code, "+" + code + " ", "00" + code, "+" + code + " (0)", "(0"])
    if region == "BR" and rng.random() < 0.2:
        prefix = rng.choice(["0 21 ", "021", "0 15 ", "90", "0 99 "])  # carrier selection codes
    if region == "JP" and rng.random() < 0.1:
        prefix = rng.choice(["010", "0003768", "0002"])
    body = _grouped(rng, nsn)
    if prefix == "(0" and len(nsn) > 3:
        body = f"{nsn[:2]}) {_grouped(rng, nsn[2:])}"
    return prefix + body


def _random(rng: random.Random) -> str:
    """Random digits (1 to 17) after a random prefix, some with characters phonenumbers reads differently."""
    prefix = rng.choice(["", "", "0", "00", "+", "+0", "(", "'", "tel:"]) + (
        rng.choice(OTHER_CODES) if rng.random() < 0.3 else ""
    )
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 17)))
    text = prefix + _grouped(rng, digits)
    if rng.random() < 0.03:
        text = text.replace(rng.choice("0123456789"), rng.choice(["\u0663", "\uff13", "A", "O"]))
    return text


def sample(rng: random.Random, region: str) -> str:
    return _real(rng, region) if rng.random() < 0.7 else _random(rng)


@pytest.mark.parametrize("region", NATIONAL_REGIONS)
def test_the_national_shortcut_answers_only_as_phonenumbers_does(region):
    rng = random.Random(f"shortcut-{region}")
    answered = 0
    for _ in range(SAMPLES):
        text = sample(rng, region).strip()
        got = national_e164(text, region) if text else None
        if got is not None:
            answered += 1
            assert outcome(full_parse, text, region) == got, (text, region)
    assert answered > SAMPLES * 0.3  # the samples reach the shortcut, not only phonenumbers


@pytest.mark.parametrize("region", [*NATIONAL_REGIONS, "US", "CA", "IT", "AU"])
def test_normalising_a_phone_gives_what_the_full_parse_gives(region):
    rng = random.Random(f"whole-{region}")
    for _ in range(max(SAMPLES // 15, 1000)):
        raw = sample(rng, rng.choice(NATIONAL_REGIONS) if region not in NATIONAL_REGIONS else region)
        assert outcome(normalise_phone, raw, region) == outcome(reference, raw, region), (raw, region)


def test_the_bench_numbers_take_the_shortcut():
    """Numbers as customers of each region type them (the shapes of ``bench/events.py``) take the shortcut."""
    typed = {
        "DE": ["030 12345678", "0151 2345 6789", "0171 2345678", "089 1234567", "+49 30 12345678", "040/1234567"],
        "GB": ["07400 123456", "020 7946 0018", "0161 496 0123", "+44 7400 123456", "(020) 7946 0018"],
        "FR": ["06 12 34 56 78", "01 23 45 67 89", "0612345678", "+33 6 12 34 56 78", "+33 (0)6 12 34 56 78"],
        "JP": ["090-1234-5678", "03-1234-5678", "(03) 1234-5678", "+81 90 1234 5678"],
        "BR": ["(11) 91234-5678", "(21) 3123-4567", "11 91234 5678", "0 11 91234 5678", "+55 11 91234-5678"],
        "IN": ["98765 43210", "098765 43210", "022 2345 6789", "+91 98765 43210", "011-23456789"],
    }
    for region, numbers in typed.items():
        for text in numbers:
            assert national_e164(text, region) == full_parse(text, region), (text, region)
