"""Typed values of one input row: event time, text, amounts, counts, flags and IP addresses, each checked
and normalised, raising :class:`RowRejected` that names the row and field, never the value."""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from airflow_provider_tiktok.events.rules import MAX_AMOUNT, MAX_COUNT, MAX_TEXT_LENGTH, RowRejected

#: Above this, a numeric timestamp is in milliseconds (1e11 seconds is the year 5138).
_MILLISECONDS_FROM = 100_000_000_000
_DIGITS = re.compile(r"\d+(\.\d*)?")
_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")
_DATE_ONLY = re.compile(r"\d{4}-?\d{2}-?\d{2}")
_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
_UTC = timezone.utc
_UNITS = "0123456789"
#: Unix seconds of the minutes of ISO times read so far (``2026-03-10T15:30`` -> 1773156600), a few thousand at most.
_MINUTES: dict[str, int] = {}
_MINUTES_KEPT = 10_000


def parse_event_time(value: Any, row: int | None = None) -> int:
    """Unix seconds (UTC) from ISO 8601 (with or without offset; none means UTC), Unix seconds or
    milliseconds (numbers or digit strings) or a datetime."""
    if isinstance(value, str):
        value = _time_text(value, row)
        if isinstance(value, int):
            return value
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


def _time_text(value: str, row: int | None) -> datetime | int:
    """An event time written as text: an ISO 8601 date and time, or Unix seconds/milliseconds as digits."""
    text = value.strip()
    if len(text) == 20 and text[19] == "Z" and text[16] == ":" and text[17] in "012345" and text[18] in _UNITS:
        # UTC to the second, the commonest spelling: the minute read once (its events share it), then its seconds.
        minute = _MINUTES.get(text[:16])
        if minute is None:
            moment = _time_text(text[:16] + ":00+00:00", row)
            minute = moment if isinstance(moment, int) else int(moment.timestamp() // 1)
            if len(_MINUTES) >= _MINUTES_KEPT:
                _MINUTES.clear()
            _MINUTES[text[:16]] = minute
        return minute + int(text[17:19])
    if len(text) > 10 and text[4] == "-":  # ISO 8601 date and time
        if text[-1] in "Zz":
            text = text[:-1] + "+00:00"
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise RowRejected("is not ISO 8601, Unix seconds or milliseconds", row=row, field="event_time") from None
    if _DIGITS.fullmatch(text):
        return _epoch(Decimal(text), row)
    if not text:
        raise RowRejected("is missing", row=row, field="event_time")
    if _DATE_ONLY.fullmatch(text):
        raise RowRejected("needs a date and a time", row=row, field="event_time")
    raise RowRejected("is not ISO 8601, Unix seconds or milliseconds", row=row, field="event_time")


def _epoch(number: float | Decimal, row: int | None) -> int:
    if number != number or number in (float("inf"), float("-inf")) or number < 0:
        raise RowRejected("must be a positive Unix timestamp", row=row, field="event_time")
    whole = math.floor(number)  # exact for any size (Decimal's ``//`` fails beyond 28 digits)
    return whole // 1000 if whole >= _MILLISECONDS_FROM else whole


def as_text(value: Any, name: str, row: int) -> str | None:
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


def as_decimal(value: Any, name: str, row: int) -> Decimal | None:
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


def as_count(value: Any, name: str, row: int) -> int | None:
    """A non-negative whole number (quantity, num_items); ``"2"`` and ``2.0`` are 2, ``2.5`` is an error."""
    if value.__class__ is int and 0 <= value <= MAX_COUNT:
        return value
    if value.__class__ is str and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    number = as_decimal(value, name, row)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise RowRejected("must be a whole number", row=row, field=name)
    if number > MAX_COUNT:
        raise RowRejected(f"is too large (at most {MAX_COUNT:,})", row=row, field=name)
    return int(number)


def json_number(number: Decimal) -> int | float:
    """A JSON number: integral amounts as integers, others as the nearest float (``19.99`` stays ``19.99``)."""
    nearest = float(number)
    return int(number) if nearest.is_integer() else nearest


def as_flag(value: Any, row: int) -> bool:
    """A boolean from True/False, 1/0 or their usual spellings."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowRejected("must be true or false", row=row, field="limited_data_use")


def as_ip(value: Any) -> str | None:
    """The IPv4 or IPv6 address in its standard form (IPv6 compressed), or None when it is not one.

    An IPv4-mapped IPv6 address (``::ffff:1.2.3.4``, as dual-stack servers log IPv4 clients) is the IPv4 address
    it carries: that is the client, and Python 3.13 spells such addresses differently from 3.10-3.12, which
    would change the payload and the derived event_id with the Python version.
    """
    text = str(value).strip()
    if _IPV4.fullmatch(text):
        return text
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return str(mapped or address)
