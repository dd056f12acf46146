"""Turn one flat input record into one Events API 2.0 event, exactly as TikTok expects it.

Pure functions (no Airflow import). A record uses the canonical flat field names below (``field_map``
renames source columns to them); the result is the nested ``{"event", "event_time", "event_id", "user",
"properties", "page", "limited_data_use"}`` object of ``event/track/``. A row that cannot be sent raises
:class:`RowRejected` naming the row and field, never the value; an identifier that cannot be
normalised (e.g. an unparseable phone) is dropped from its row and counted, the row keeps the others.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry

from airflow_provider_tiktok.exceptions import TikTokConfigError, TikTokInputError
from airflow_provider_tiktok.utils.hashing import (
    InvalidIdentifier,
    hash_email,
    hash_external_id,
    hash_maid,
    hash_phone,
    is_sha256_hex,
    normalise_maid,
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
_CONTENT_FIELD_SET = frozenset(CONTENT_FIELDS)
_DEVICE_ID_SET = frozenset(DEVICE_ID_FIELDS)
_PROPERTY_FIELD_SET = frozenset(
    {"value", "currency", "content_type", "contents", "num_items", *CONTENT_FIELDS, *PROPERTY_TEXT_FIELDS}
)
_ZERO = Decimal(0)
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
PHONE_CACHE_SIZE = 50_000
#: Our bounds, not TikTok's documented limits: a longer event name or text is data in the wrong column, and
#: one such field must not grow a request by megabytes (or be copied into a rejects file).
MAX_EVENT_NAME_LENGTH = 255
MAX_TEXT_LENGTH = 8192
#: Amounts above this lose cents as JSON numbers (doubles); counts above this are not quantities.
MAX_AMOUNT = Decimal(10) ** 15
MAX_COUNT = 2**31 - 1
#: Above this, a numeric timestamp is in milliseconds (1e11 seconds is the year 5138).
_MILLISECONDS_FROM = 100_000_000_000
_DIGITS = re.compile(r"\d+(\.\d*)?")
_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")
_DATE_ONLY = re.compile(r"\d{4}-?\d{2}-?\d{2}")
_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
_UTC = timezone.utc
#: How deep a rejects-file copy of a record follows nested lists and objects.
_REDACT_DEPTH = 4


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

    @property
    def oldest(self) -> int:
        """The oldest accepted event time (Unix seconds)."""
        return self.now - self.max_event_age_days * 86_400


@dataclass
class BuildTally:
    """What building events noticed without rejecting rows (dropped identifiers, custom event names), and the
    upload's phone hashes by raw value: parsing a phone costs more than the rest of an event, and a customer
    sends several events (bounded; dropped with the upload)."""

    dropped_fields: Counter[str] = field(default_factory=Counter)
    nonstandard_event_names: Counter[str] = field(default_factory=Counter)
    phone_hashes: dict[Any, str] = field(default_factory=dict, repr=False)

    def hash_phone(self, value: Any, region: str) -> str:
        """``hash_phone`` through the bounded cache."""
        digest = self.phone_hashes.get(value)
        if digest is None:
            digest = hash_phone(value, region)
            if len(self.phone_hashes) >= PHONE_CACHE_SIZE:
                self.phone_hashes.clear()
            self.phone_hashes[value] = digest
        return digest


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


def build_event(record: Mapping[str, Any], row: int, rules: EventRules, tally: BuildTally) -> dict[str, Any]:
    """The ``event/track/`` event for one canonical record; raises :class:`RowRejected` for a bad row."""
    if not record.keys() <= CANONICAL_FIELDS:
        check_fields(record, row)
    given = {key: value for key, value in record.items() if value is not None and value != ""}
    name = _text(given["event"], "event", row) if "event" in given else None
    name = name or rules.default_event
    if not name:
        raise RowRejected("is missing: add an event column or set default_event", row=row, field="event")
    if len(name) > MAX_EVENT_NAME_LENGTH:
        raise RowRejected(f"is longer than {MAX_EVENT_NAME_LENGTH} characters", row=row, field="event")
    if name not in STANDARD_EVENTS:
        tally.nonstandard_event_names[name] += 1
    moment = parse_event_time(given.get("event_time"), row)
    if moment < rules.oldest:
        raise RowRejected(f"is older than {rules.max_event_age_days} days", row=row, field="event_time")
    if moment > rules.now + MAX_FUTURE_SECONDS:
        raise RowRejected("is more than 5 minutes in the future", row=row, field="event_time")
    event: dict[str, Any] = {"event": name, "event_time": moment, "event_id": None, "user": None}
    event["user"] = _user(given, row, rules, tally)
    if not given.keys().isdisjoint(_PROPERTY_FIELD_SET):
        properties = _properties(given, row, rules)
        if properties:
            event["properties"] = properties
    page = _page(given, row, rules)
    if page:
        event["page"] = page
    event["limited_data_use"] = (
        _flag(given["limited_data_use"], row) if "limited_data_use" in given else rules.limited_data_use
    )
    event_id = _text(given["event_id"], "event_id", row) if "event_id" in given else None
    event["event_id"] = event_id or derive_event_id(event)
    return event


def derive_event_id(event: Mapping[str, Any]) -> str:
    """36 hex characters from the hashed identity, event name, time and order id: reruns give the same id."""
    user = event.get("user") or {}
    get = user.get
    order_id = (event.get("properties") or {}).get("order_id") or ""
    key = (
        f"{event['event']}\x1f{event['event_time']}\x1f{get('email') or ''}\x1f{get('phone') or ''}\x1f"
        f"{get('external_id') or ''}\x1f{get('idfa') or ''}\x1f{get('idfv') or ''}\x1f{get('gaid') or ''}\x1f"
        f"{get('ttclid') or ''}\x1f{get('ttp') or ''}\x1f{order_id}"
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:EVENT_ID_LENGTH]


def parse_event_time(value: Any, row: int | None = None) -> int:
    """Unix seconds (UTC) from ISO 8601 (with or without offset; none means UTC), Unix seconds or
    milliseconds (numbers or digit strings) or a datetime."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 10 and text[4] == "-":  # ISO 8601 date and time
            if text[-1] in "Zz":
                text = text[:-1] + "+00:00"
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                raise RowRejected(
                    "is not ISO 8601, Unix seconds or milliseconds", row=row, field="event_time"
                ) from None
        elif _DIGITS.fullmatch(text):
            return _epoch(Decimal(text), row)
        elif not text:
            raise RowRejected("is missing", row=row, field="event_time")
        elif _DATE_ONLY.fullmatch(text):
            raise RowRejected("needs a date and a time", row=row, field="event_time")
        else:
            raise RowRejected("is not ISO 8601, Unix seconds or milliseconds", row=row, field="event_time")
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=_UTC)).timestamp() // 1)
    if value is None:
        raise RowRejected("is missing", row=row, field="event_time")
    if isinstance(value, date):
        raise RowRejected("needs a date and a time", row=row, field="event_time")
    if isinstance(value, bool):
        raise RowRejected("must be ISO 8601 text, Unix seconds or milliseconds", row=row, field="event_time")
    if isinstance(value, int | float | Decimal):
        return _epoch(value, row)
    raise RowRejected("must be ISO 8601 text, Unix seconds or milliseconds", row=row, field="event_time")


def _epoch(number: float | Decimal, row: int | None) -> int:
    if number != number or number in (float("inf"), float("-inf")) or number < 0:
        raise RowRejected("must be a positive Unix timestamp", row=row, field="event_time")
    whole = math.floor(number)  # exact for any size (Decimal's ``//`` fails beyond 28 digits)
    return whole // 1000 if whole >= _MILLISECONDS_FROM else whole


def _text(value: Any, name: str, row: int) -> str | None:
    """Trimmed text, or None when absent or blank; whole numbers are accepted as text (ids)."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > MAX_TEXT_LENGTH:
            raise RowRejected(f"is longer than {MAX_TEXT_LENGTH} characters", row=row, field=name)
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 256:
            raise RowRejected("is too long", row=row, field=name)
        return str(value)
    raise RowRejected("must be text", row=row, field=name)


def _user(given: Mapping[str, Any], row: int, rules: EventRules, tally: BuildTally) -> dict[str, Any]:
    """Hashed email/phone/external_id, device ids and clear-text signals; unusable identifiers dropped (a row
    left without the identity its source needs is rejected, naming the identifier that was unusable)."""
    user: dict[str, Any] = {}
    unusable: InvalidIdentifier | None = None
    for name in HASHED_FIELDS:
        if name not in given:
            continue
        try:
            if name == "email":
                user[name] = hash_email(given[name])
            elif name == "phone":
                user[name] = tally.hash_phone(given[name], rules.default_phone_region)
            else:
                user[name] = hash_external_id(given[name])
        except InvalidIdentifier as err:
            tally.dropped_fields[name] += 1
            unusable = unusable or err
    if not given.keys().isdisjoint(_DEVICE_ID_SET):
        for name in DEVICE_ID_FIELDS:
            if name in given:
                try:
                    user[name] = _device_id(given[name], name)
                except InvalidIdentifier:
                    tally.dropped_fields[name] += 1
    if "ip" in given:
        address = _ip(given["ip"])
        if address:
            user["ip"] = address
        else:
            tally.dropped_fields["ip"] += 1
    for name in USER_TEXT_FIELDS:
        if name in given:
            text = _text(given[name], name, row)
            if text:
                user[name] = text
    if rules.event_source == "web" and "email" not in user and "phone" not in user and "external_id" not in user:
        _no_identity("a web event needs a usable email, phone or external_id", row, unusable)
    if rules.event_source == "offline" and "email" not in user and "phone" not in user:
        _no_identity("an offline event needs a usable email or phone", row, unusable)
    return user


def _no_identity(need: str, row: int, unusable: InvalidIdentifier | None) -> None:
    """Reject a row without a usable identity, naming the identifier that could not be used, if any."""
    if unusable is None:
        raise RowRejected(need, row=row, field="user")
    raise RowRejected(f"{unusable.reason}, and {need}", row=row, field=unusable.field)


def _ip(value: Any) -> str | None:
    """The IPv4 or IPv6 address in its standard form (IPv6 compressed), or None when it is not one."""
    text = str(value).strip()
    if _IPV4.fullmatch(text):
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def hash_identifier(name: str, value: Any, phone_region: str) -> str:
    """SHA-256 of a normalised email, phone (E.164, national numbers read in ``phone_region``) or external_id."""
    if name == "email":
        return hash_email(value)
    if name == "phone":
        return hash_phone(value, phone_region)
    return hash_external_id(value)


def _device_id(value: Any, name: str) -> str:
    """IDFA/IDFV upper-case and GAID lower-case UUIDs, as the devices report them (sent in clear); a 64-hex
    (already hashed) value passes through lower-cased."""
    if is_sha256_hex(value):
        return str(value).strip().lower()
    normalised = normalise_maid(value, name)
    return normalised if name == "gaid" else normalised.upper()


def _properties(given: Mapping[str, Any], row: int, rules: EventRules) -> dict[str, Any]:
    """currency, value, content_type, contents, num_items and the order/shop/search/description texts."""
    properties: dict[str, Any] = {}
    contents = _contents(given, row)
    value = _decimal(given["value"], "value", row) if "value" in given else None
    if value is None and contents and all("price" in c and "quantity" in c for c in contents):
        value = sum([c["price"] * c["quantity"] for c in contents], _ZERO)
    currency = _text(given["currency"], "currency", row) if "currency" in given else None
    if currency:
        currency = currency.upper()
        if currency not in CURRENCIES:
            raise RowRejected("is not an ISO 4217 currency code", row=row, field="currency")
    elif value is not None or any("price" in c for c in contents):
        currency = rules.default_currency
    if currency:
        properties["currency"] = currency
    if value is not None:
        properties["value"] = _json_number(value)
    content_type = _text(given["content_type"], "content_type", row) if "content_type" in given else None
    if content_type and content_type not in CONTENT_TYPES:
        raise RowRejected(f"must be one of {', '.join(CONTENT_TYPES)}", row=row, field="content_type")
    if content_type or contents:
        properties["content_type"] = content_type or rules.default_content_type
    if contents:
        for content in contents:
            if "price" in content:
                content["price"] = _json_number(content["price"])
        properties["contents"] = contents
    if "num_items" in given:
        properties["num_items"] = _count(given["num_items"], "num_items", row)
    for name in PROPERTY_TEXT_FIELDS:
        if name in given:
            text = _text(given[name], name, row)
            if text:
                properties[name] = text
    return properties


def _contents(given: Mapping[str, Any], row: int) -> list[dict[str, Any]]:
    """``contents`` (a list, or its JSON text from a CSV cell), or one entry built from the row's content_*
    fields; prices stay Decimal here so that ``value`` sums exactly."""
    raw = given.get("contents")
    if given.keys().isdisjoint(_CONTENT_FIELD_SET):
        single = None
    else:
        single = {name: given[name] for name in CONTENT_FIELDS if name in given}
    if raw is None or raw == []:
        return [_content(single, row, "")] if single else []
    if single:
        raise RowRejected("give either contents or content_* fields, not both", row=row, field="contents")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise RowRejected("is not a JSON list", row=row, field="contents") from None
    if not isinstance(raw, list) or not all(isinstance(item, Mapping) for item in raw):
        raise RowRejected("must be a list of objects", row=row, field="contents")
    return [_content(item, row, f"contents.{n}.") for n, item in enumerate(raw) if item]


def _content(item: Mapping[str, Any], row: int, prefix: str) -> dict[str, Any]:
    """One contents entry in TikTok's field order: price as Decimal, quantity as int, the rest as text."""
    if not item.keys() <= _CONTENT_FIELD_SET:
        unknown = sorted(item.keys() - _CONTENT_FIELD_SET)[0]
        raise RowRejected("is not a contents field", row=row, field=prefix + unknown)
    content: dict[str, Any] = {}
    for name in CONTENT_FIELDS:
        value = item.get(name)
        if value is None:
            continue
        if name == "price":
            value = _decimal(value, prefix + name, row)
        elif name == "quantity":
            value = _count(value, prefix + name, row)
        else:
            value = _text(value, prefix + name, row)
        if value is not None:
            content[name] = value
    return content


def _decimal(value: Any, name: str, row: int) -> Decimal | None:
    """A non-negative amount (price, value), kept exact as Decimal until it is sent; blank is None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RowRejected("must be a number", row=row, field=name)
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise RowRejected("must be a number", row=row, field=name) from None
    if not number.is_finite():
        raise RowRejected("must be a finite number", row=row, field=name)
    if number < 0:
        raise RowRejected("must not be negative", row=row, field=name)
    if number >= MAX_AMOUNT:
        raise RowRejected(f"is too large (at most {MAX_AMOUNT:,.0f})", row=row, field=name)
    return number


def _count(value: Any, name: str, row: int) -> int | None:
    """A non-negative whole number (quantity, num_items); ``"2"`` and ``2.0`` are 2, ``2.5`` is an error."""
    if value.__class__ is int and 0 <= value <= MAX_COUNT:
        return value
    if value.__class__ is str and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    number = _decimal(value, name, row)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise RowRejected("must be a whole number", row=row, field=name)
    if number > MAX_COUNT:
        raise RowRejected(f"is too large (at most {MAX_COUNT:,})", row=row, field=name)
    return int(number)


def _json_number(number: Decimal) -> int | float:
    """A JSON number: integral amounts as integers, others as the nearest float (``19.99`` stays ``19.99``)."""
    nearest = float(number)
    return int(number) if nearest.is_integer() else nearest


def _page(given: Mapping[str, Any], row: int, rules: EventRules) -> dict[str, str]:
    page: dict[str, str] = {}
    url = _text(given["page_url"], "page_url", row) if "page_url" in given else None
    if url:
        if not url[:8].lower().startswith(("https://", "http://")):
            raise RowRejected("must be an http(s) URL", row=row, field="page_url")
        page["url"] = url
    elif rules.event_source == "web":
        raise RowRejected("is required for web events", row=row, field="page_url")
    referrer = _text(given["referrer_url"], "referrer_url", row) if "referrer_url" in given else None
    if referrer:
        page["referrer"] = referrer
    return page


def _flag(value: Any, row: int) -> bool:
    """A boolean from True/False, 1/0 or their usual spellings."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowRejected("must be true or false", row=row, field="limited_data_use")


def redacted(record: Mapping[str, Any], rules: EventRules) -> dict[str, Any]:
    """The record as it may be written to a rejects file: email, phone, external_id and device ids hashed (or
    left out when they cannot be normalised), texts longer than MAX_TEXT_LENGTH replaced by their length,
    other values as the user gave them (strict JSON: NaN and infinities as text)."""
    safe: dict[str, Any] = {}
    for key, value in record.items():
        if value not in (None, "") and (key in HASHED_FIELDS or key in _DEVICE_ID_SET):
            try:
                value = (
                    hash_maid(value, key)
                    if key in _DEVICE_ID_SET
                    else hash_identifier(key, value, rules.default_phone_region)
                )
            except InvalidIdentifier:
                continue
        safe[str(key)[:MAX_TEXT_LENGTH]] = _kept(value, _REDACT_DEPTH)
    return safe


def _kept(value: Any, depth: int) -> Any:
    """A JSON-safe copy of a rejected value: long texts and deep nesting replaced by a note of what they were."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT_LENGTH else f"<{len(value)} characters, not kept>"
    if value is None or isinstance(value, bool | int):
        return value if not isinstance(value, int) or value.bit_length() <= 256 else "<a very large number>"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list | dict):
        if depth <= 0:
            return "<nested value, not kept>"
        if isinstance(value, list):
            return [_kept(item, depth - 1) for item in value[:1000]]
        return {str(k)[:MAX_TEXT_LENGTH]: _kept(v, depth - 1) for k, v in list(value.items())[:1000]}
    return _kept(str(value), depth)
