"""The settings and vocabulary of event building: canonical field names, TikTok's standard events and limits,
the upload's rules (checked once) and what building noticed (the tally)."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pycountry

from airflow_provider_tiktok.exceptions import TikTokConfigError, TikTokInputError
from airflow_provider_tiktok.utils.hashing import (
    InvalidIdentifier,
    PersonalData,
    hash_email,
    hash_external_id,
    hash_phone,
    personal_data_in,
    phone_region,
)
from airflow_provider_tiktok.utils.readers import is_column_name

EVENT_SOURCES = ("web", "app", "offline", "crm")
CONTENT_TYPES = ("product", "product_group")
CONTENT_FIELDS = ("content_id", "content_name", "content_category", "brand", "price", "quantity")
USER_TEXT_FIELDS = ("ttclid", "ttp", "user_agent", "locale")
PROPERTY_TEXT_FIELDS = ("order_id", "shop_id", "query", "description")
DEVICE_ID_FIELDS = ("idfa", "idfv", "gaid")
HASHED_FIELDS = ("email", "phone", "external_id")
#: The fields the ``user`` object, the priced part of ``properties`` and ``page`` are each built from.
USER_FIELDS = (*HASHED_FIELDS, *DEVICE_ID_FIELDS, "ip", *USER_TEXT_FIELDS)
PRICED_FIELDS = ("value", "currency", "content_type", "contents", "num_items", *CONTENT_FIELDS)
PAGE_FIELDS = ("page_url", "referrer_url")
#: App events carry an ``app`` object (``app_id``: the app's store id), CRM events a ``lead`` object; app events
#: may say the iOS tracking consent in ``user.att_status`` (TikTok's Events API 2.0 as its partners send it).
APP_FIELDS = ("app_id", "app_name", "app_version")
LEAD_FIELDS = ("lead_id", "lead_event_source")
ATT_STATUSES = ("AUTHORIZED", "DENIED", "NOT_DETERMINED", "RESTRICTED", "NOT_APPLICABLE")
SOURCE_FIELDS = {"app": (*APP_FIELDS, "att_status"), "crm": LEAD_FIELDS}
CONTENT_FIELD_SET = frozenset(CONTENT_FIELDS)
DEVICE_ID_SET = frozenset(DEVICE_ID_FIELDS)
PROPERTY_FIELD_SET = frozenset(
    {"value", "currency", "content_type", "contents", "num_items", *CONTENT_FIELDS, *PROPERTY_TEXT_FIELDS}
)
CANONICAL_FIELDS = frozenset(
    {
        "event",
        "event_time",
        "event_id",
        "ip",
        "page_url",
        "referrer_url",
        "value",
        "currency",
        "content_type",
        "num_items",
        "contents",
        "limited_data_use",
        "att_status",
        *APP_FIELDS,
        *LEAD_FIELDS,
        *HASHED_FIELDS,
        *USER_TEXT_FIELDS,
        *DEVICE_ID_FIELDS,
        *CONTENT_FIELDS,
        *PROPERTY_TEXT_FIELDS,
    }
)
#: TikTok's standard event names (Events API 2.0 and the names Amplitude/Amperity offer); others are custom.
STANDARD_EVENTS = frozenset(
    {
        "AddPaymentInfo",
        "AddToCart",
        "AddToWishlist",
        "ClickButton",
        "CompletePayment",
        "CompleteRegistration",
        "Contact",
        "CustomizeProduct",
        "Download",
        "FindLocation",
        "InitiateCheckout",
        "Lead",
        "PlaceAnOrder",
        "Purchase",
        "Schedule",
        "Search",
        "SubmitForm",
        "Subscribe",
        "ViewContent",
    }
)
#: ISO 4217 codes from pycountry's maintained list.
CURRENCIES = frozenset(currency.alpha_3 for currency in pycountry.currencies)
MAX_EVENT_AGE_DAYS = 28
MAX_FUTURE_SECONDS = 300
EVENT_ID_LENGTH = 36
#: Hashes remembered by raw value, up to this many of each identifier (a customer sends several events): a
#: few MB in all, full after some 40,000 events, so an upload's memory does not grow with its size.
IDENTIFIER_CACHE_SIZE = 10_000
#: Clear texts (event names, user agents, pages repeat across events) found free of personal data are
#: remembered, up to this many of each kind and this long.
CLEAR_TEXT_CACHE_SIZE = 50_000
CLEAR_TEXT_CACHED_LENGTH = 512
#: Kinds of clear text, checked for personal data a little differently: a plain text, the event name (a bare
#: number is a phone there), a URL (an e-mail may be %-encoded there).
PLAIN_TEXT, EVENT_NAME, URL_TEXT = 0, 1, 2
#: Our bounds, not TikTok's documented limits: a longer event name or text is data in the wrong column, and
#: one such field must not grow a request by megabytes (or be copied into a rejects file).
MAX_EVENT_NAME_LENGTH = 255
MAX_TEXT_LENGTH = 8192
#: Amounts above this lose cents as JSON numbers (doubles); counts above this are not quantities.
MAX_AMOUNT = Decimal(10) ** 15
MAX_COUNT = 2**31 - 1


class RowRejected(TikTokInputError):
    """One input row cannot become an event; ``reason`` says why (never quoting the value)."""

    def __init__(self, reason: str, *, row: int | None, field: str) -> None:
        self.reason = reason
        super().__init__(reason, row=row, field=field)


@dataclass(frozen=True)
class EventRules:
    """The upload's settings that shape every event; checked once, before any row is read.

    :param now: the current instant in Unix seconds, for the age and future checks.
    """

    event_source: str
    now: int
    default_event: str | None = None
    default_phone_region: str = "US"
    default_currency: str = "USD"
    default_content_type: str = "product"
    limited_data_use: bool = False
    max_event_age_days: int = MAX_EVENT_AGE_DAYS
    default_app_id: str | None = None

    def __post_init__(self) -> None:
        """Refuse settings TikTok would reject on every row."""
        if self.event_source not in EVENT_SOURCES:
            raise TikTokConfigError(f"event_source must be one of {', '.join(EVENT_SOURCES)}")
        object.__setattr__(self, "default_phone_region", phone_region(self.default_phone_region))
        if str(self.default_currency).upper() not in CURRENCIES:
            raise TikTokConfigError("default_currency must be an ISO 4217 code such as USD")
        object.__setattr__(self, "default_currency", str(self.default_currency).upper())
        if self.default_content_type not in CONTENT_TYPES:
            raise TikTokConfigError(f"default_content_type must be one of {', '.join(CONTENT_TYPES)}")
        if not isinstance(self.limited_data_use, bool):
            raise TikTokConfigError("limited_data_use must be True or False")
        age = self.max_event_age_days
        if isinstance(age, bool) or not isinstance(age, int) or not 1 <= age <= MAX_EVENT_AGE_DAYS:
            raise TikTokConfigError(f"max_event_age_days must be a whole number from 1 to {MAX_EVENT_AGE_DAYS}")
        if self.default_event is not None and not str(self.default_event).strip():
            raise TikTokConfigError("default_event must be an event name such as Purchase, or None")
        if self.default_app_id is not None and (self.event_source != "app" or not str(self.default_app_id).strip()):
            raise TikTokConfigError("app_id is the store id of the app that app events (event_source='app') come from")

    @functools.cached_property
    def oldest(self) -> int:
        """The oldest accepted event time (Unix seconds)."""
        return self.now - self.max_event_age_days * 86_400


@dataclass
class BuildTally:
    """What building events noticed without rejecting rows (dropped identifiers, custom event names), and the
    upload's identifier hashes by raw value: parsing a phone costs more than the rest of an event, and a
    customer sends several events (bounded; held in memory only, never logged or written; dropped with the
    upload). Likewise the personal-data checks of clear texts (event names, user agents and pages repeat)."""

    dropped_fields: Counter[str] = field(default_factory=Counter)
    nonstandard_event_names: Counter[str] = field(default_factory=Counter)
    phone_hashes: dict[Any, str] = field(default_factory=dict, repr=False)
    #: E-mail and external_id hashes by raw text (only texts: ``1`` and ``1.0`` are equal keys, not equal input),
    #: and why texts were refused, by what they were read as (the phone's region, "email", "external_id").
    email_hashes: dict[Any, str] = field(default_factory=dict, repr=False)
    external_id_hashes: dict[Any, str] = field(default_factory=dict, repr=False)
    refusals: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict, repr=False)
    #: IP addresses as given -> their standard form, or None when not an address (a customer's events share one).
    ip_addresses: dict[str, str | None] = field(default_factory=dict, repr=False)
    #: Parts of events by the row fields they are built from (all given as text), for the next rows with the same
    #: fields: the ``user`` object by USER_FIELDS when nothing in it was dropped (a customer's events share it;
    #: three hashes, the IP and the user agent), the priced part of ``properties`` by PRICED_FIELDS (a product
    #: sells at one price, mostly one at a time), ``page`` by PAGE_FIELDS. Bounded like the hashes.
    users: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict, repr=False)
    priced: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict, repr=False)
    pages: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict, repr=False)
    #: Clear texts found to hold no personal data, by kind (PLAIN_TEXT, EVENT_NAME, URL_TEXT): tested first.
    clean_texts: tuple[set[str], set[str], set[str]] = field(default_factory=lambda: (set(), set(), set()), repr=False)

    def hash_phone(self, value: Any, region: str) -> str:
        """``hash_phone`` through the bounded caches (numbers given as numbers are remembered too)."""
        if value.__class__ is str:
            return _remembered(self.phone_hashes, self.refusals, value, region, hash_phone)
        digest = self.phone_hashes.get(value)
        if digest is None:
            digest = hash_phone(value, region)
            _remember(self.phone_hashes, value, digest)
        return digest

    def hash_email(self, value: Any) -> str:
        """``hash_email`` through the bounded caches."""
        if value.__class__ is not str:
            return hash_email(value)
        return _remembered(self.email_hashes, self.refusals, value, "email", _hash_email)

    def hash_external_id(self, value: Any) -> str:
        """``hash_external_id`` through the bounded caches."""
        if value.__class__ is not str:
            return hash_external_id(value)
        return _remembered(self.external_id_hashes, self.refusals, value, "external_id", _hash_external_id)

    @staticmethod
    def remember(parts: dict[tuple[Any, ...], dict[str, Any]], key: tuple[Any, ...], part: dict[str, Any]) -> None:
        """Keep ``part`` in ``parts`` for the rows whose fields are ``key``, when they are all text or absent (``1``
        and ``1.0`` are equal keys, not equal input)."""
        if all(value is None or value.__class__ is str for value in key):
            _remember(parts, key, part)

    def personal_data(self, text: str, kind: int, region: str) -> PersonalData | None:
        """``personal_data_in`` for a clear text of ``kind``; a text found clean is remembered (bounded) in
        ``clean_texts[kind]``, which callers test before calling this."""
        found = personal_data_in(text, region, bare_number=kind == EVENT_NAME, url=kind == URL_TEXT)
        if found is None and len(text) <= CLEAR_TEXT_CACHED_LENGTH:
            clean = self.clean_texts[kind]
            if len(clean) >= CLEAR_TEXT_CACHE_SIZE:
                clean.clear()
            clean.add(text)
        return found


def _remembered(
    hashes: dict[Any, str],
    refusals: dict[tuple[str, str], tuple[str, str]],
    text: str,
    context: str,
    function: Callable[[str, str], str],
) -> str:
    """``function(text, context)``, or the refusal it raised, remembered (bounded) by text and context (the
    refusal as its field and reason: a kept exception would keep its traceback's frames alive)."""
    digest = hashes.get(text)
    if digest is not None:
        return digest
    refused = refusals.get((context, text))
    if refused is not None:
        raise InvalidIdentifier(*refused)
    try:
        digest = function(text, context)
    except InvalidIdentifier as err:
        _remember(refusals, (context, text), (err.field, err.reason))
        raise
    _remember(hashes, text, digest)
    return digest


def _hash_email(text: str, _: str) -> str:
    return hash_email(text)


def _hash_external_id(text: str, _: str) -> str:
    return hash_external_id(text)


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """``cache[key] = value``, the cache emptied first when it holds IDENTIFIER_CACHE_SIZE entries."""
    if len(cache) >= IDENTIFIER_CACHE_SIZE:
        cache.clear()
    cache[key] = value


def check_fields(record: Mapping[str, Any], row: int) -> None:
    """Raise at the first field that is not a canonical name (it needs a ``field_map`` entry); names that do
    not look like column names are not quoted (a CSV without its header row has values there)."""
    unknown = record.keys() - CANONICAL_FIELDS
    if unknown:
        names = sorted(str(key) for key in unknown)
        if not all(is_column_name(name) for name in names):
            raise TikTokInputError(
                "has columns whose names are not field names (is the CSV header row missing?): give the file a "
                "header of Events API field names, or map the columns with field_map",
                row=row,
            )
        name = names[0]
        raise TikTokInputError(
            "is not an Events API field: rename it with field_map={'<column>': '<field>'} or drop it with "
            "field_map={'<column>': None}",
            row=row,
            field=name,
        )
