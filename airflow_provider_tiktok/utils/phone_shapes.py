"""Exact shortcuts for the phone numbers customers type most: the E.164 form phonenumbers would give, read off
the number's digits and phonenumbers' own metadata at a small part of the cost of ``parse`` and
``is_valid_number``, or None when the shortcut cannot be sure (then phonenumbers decides).

A shortcut answers only for a number it finds valid; everything it does not recognise, and every number it
does not find valid, goes to phonenumbers, which gives the answer and the reason for a refusal. The tests
compare both on hundreds of thousands of random numbers of each region, in every shape the shortcuts accept
and many they refuse.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumberDesc

#: US/Canadian numbers in their everyday shapes (``(415) 555-2671``, ``+1 415.555.2671``): E.164 is "+1" and
#: the ten digits, when the number is valid (``valid_nanp``).
_NANP_SHAPE = re.compile(r"(?:\+?1[ .-]?)?\(?([2-9]\d{2})\)?[ .-]?(\d{3})[ .-]?(\d{4})")
NANP_REGIONS = frozenset({"US", "CA"})
#: The first region of country code 1 (US): phonenumbers tries it first when it looks for a number's region.
_NANP_MAIN_REGION = phonenumbers.region_code_for_country_code(1)

#: The regions whose national numbers take the national shortcut (``national_e164``); numbers written with
#: "+" and the country code of one of them take it in any region.
NATIONAL_REGIONS = ("DE", "GB", "FR", "JP", "BR", "IN")
#: ASCII digits with the punctuation people type between them (spaces, hyphens, dots, slashes, parentheses),
#: optionally after one "+"; phonenumbers reads such a number by its digits alone.
_NATIONAL_SHAPE = re.compile(r"\+?\(?[0-9][0-9 ().\-/]*")
_PUNCTUATION = str.maketrans("", "", "+ ().-/")
#: Longer texts (runs of spaces) are left to phonenumbers, which refuses texts over 250 characters.
_MAX_SHAPE_LENGTH = 40


def nanp_e164(text: str) -> str | None:
    """E.164 of a North American number in an everyday shape, when it is valid; None otherwise."""
    match = _NANP_SHAPE.fullmatch(text)
    if match is None:
        return None
    national = "".join(match.groups())
    return "+1" + national if valid_nanp(national) else None


@functools.cache
def _main_nanp_region_pattern() -> re.Pattern[str]:
    """One compiled pattern for the ten-digit numbers phonenumbers finds valid in the first region of country
    code 1 (US): its general pattern and any of its number types, each taken when ten digits is one of its
    lengths, as ``phonenumbers.is_valid_number_for_region`` checks them one by one."""
    meta = PhoneMetadata.metadata_for_region(_NANP_MAIN_REGION)
    assert meta is not None
    return _valid_pattern(meta, 10)


def valid_nanp(national: str) -> bool:
    """A ten-digit North American number is valid somewhere in the plan (phonenumbers' metadata): the main
    region (most numbers) by one pattern, then phonenumbers' own check over every region of country code 1."""
    if _main_nanp_region_pattern().fullmatch(national):
        return True
    return phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=1, national_number=int(national)))


def _type_descs(meta: PhoneMetadata) -> list[PhoneNumberDesc | None]:
    """The number types phonenumbers' validity check tries (any match makes a number valid)."""
    return [
        meta.premium_rate,
        meta.toll_free,
        meta.shared_cost,
        meta.voip,
        meta.personal_number,
        meta.pager,
        meta.uan,
        meta.voicemail,
        meta.fixed_line,
        meta.mobile,
    ]


def _valid_pattern(meta: PhoneMetadata, length: int) -> re.Pattern[str]:
    """The national numbers of ``length`` digits phonenumbers finds valid in ``meta``'s region: the general
    pattern and any type's pattern, each type taken when ``length`` is one of its possible lengths."""

    def of_length(desc: PhoneNumberDesc | None) -> str | None:
        if desc is None or not desc.national_number_pattern:
            return None
        lengths = desc.possible_length
        return desc.national_number_pattern if not lengths or length in lengths else None

    types = [pattern for pattern in map(of_length, _type_descs(meta)) if pattern]
    general = of_length(meta.general_desc)
    if not general or not types:
        return re.compile(r"(?!)")  # never matches: such numbers take phonenumbers' own check
    return re.compile(f"(?=(?:{general})\\Z)(?:{'|'.join(f'(?:{pattern})' for pattern in types)})")


@dataclass(frozen=True)
class _Plan:
    """What the national shortcut needs of one region's numbering plan (phonenumbers' metadata)."""

    country_code: str
    national_prefix: str
    prefix_for_parsing: re.Pattern[str] | None
    international_prefix: re.Pattern[str]
    #: Pattern of the valid national numbers of each length the region's numbers may have; lengths that are
    #: only possible locally are left out (phonenumbers keeps the national prefix on such numbers).
    valid: dict[int, re.Pattern[str]]

    def national(self, digits: str) -> str | None:
        """The national significant number of ``digits`` (country code already removed), when valid."""
        if self.prefix_for_parsing is not None:
            match = self.prefix_for_parsing.match(digits)
            if match is not None:
                # Only the plain national prefix, nothing captured (a carrier code or a transformed prefix).
                if match.group() != self.national_prefix or match.lastindex is not None:
                    return None
                digits = digits[match.end() :]
        pattern = self.valid.get(len(digits))
        if pattern is None or digits[0] == "0" or not pattern.fullmatch(digits):
            return None  # a leading zero would be kept by phonenumbers as an "Italian" zero
        return digits


@functools.cache
def _plan(region: str) -> _Plan | None:
    """The shortcut's view of ``region``'s plan; None when phonenumbers' rules for the region are not all of the
    plain kind the shortcut follows (the region is not the first of its country code, or has leading digits)."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.country_code is None or meta.leading_digits:
        return None
    if COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code, ())[:1] != (region,):
        return None
    general = meta.general_desc
    if general is None or not meta.international_prefix or not meta.national_prefix:
        return None
    local_only = set(general.possible_length_local_only or ())
    lengths = [length for length in general.possible_length if length > 0 and length not in local_only]
    return _Plan(
        country_code=str(meta.country_code),
        national_prefix=meta.national_prefix,
        prefix_for_parsing=re.compile(meta.national_prefix_for_parsing) if meta.national_prefix_for_parsing else None,
        international_prefix=re.compile(meta.international_prefix),
        valid={length: _valid_pattern(meta, length) for length in lengths},
    )


@functools.cache
def _plans_by_country_code() -> dict[str, _Plan]:
    """The national shortcut's plans by country code, for numbers written with "+"."""
    plans = {region: _plan(region) for region in NATIONAL_REGIONS}
    return {plan.country_code: plan for plan in plans.values() if plan is not None}


def national_e164(text: str, region: str) -> str | None:
    """E.164 of a number of digits and the usual punctuation, national (read in ``region``, one of
    ``NATIONAL_REGIONS``) or after "+" and the country code of one of them, when it is valid; None otherwise.

    phonenumbers reads such a number by its digits: after "+", the country code (the first one to three
    digits that are one) and the rest; otherwise, unless it starts with the region's international prefix or
    country code (phonenumbers would look for a country code there), the digits with the region's national
    prefix removed. The number is valid when the rest matches one of the region's number types."""
    if len(text) > _MAX_SHAPE_LENGTH or not _NATIONAL_SHAPE.fullmatch(text):
        return None
    digits = text.translate(_PUNCTUATION)
    if text[0] == "+":
        plan, rest = _after_country_code(digits)
    else:
        plan = _plan(region) if region in NATIONAL_REGIONS else None
        if plan is None or plan.international_prefix.match(digits) or digits.startswith(plan.country_code):
            return None
        rest = digits
    if plan is None or not rest:
        return None
    national = plan.national(rest)
    return None if national is None else f"+{plan.country_code}{national}"


def _after_country_code(digits: str) -> tuple[_Plan | None, str]:
    """The plan of the country code ``digits`` start with (as phonenumbers reads it after "+": the first one to
    three digits that are a country code) and the digits after it; no plan for other country codes."""
    plans = _plans_by_country_code()
    for size in (1, 2, 3):
        code = digits[:size]
        if code in plans:
            return plans[code], digits[size:]
        if int(code) in COUNTRY_CODE_TO_REGION_CODE:
            break
    return None, ""
