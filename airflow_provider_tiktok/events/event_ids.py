"""The derived event_id: 36 hex characters of the SHA-256 of the whole event as sent (event_id left out), in a
canonical JSON form, and the fast way to the same bytes for the events ``build_event`` makes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from airflow_provider_tiktok.events.rules import EVENT_ID_LENGTH
from airflow_provider_tiktok.events.values import json_number


def derive_event_id(event: Mapping[str, Any]) -> str:
    """36 hex characters of the SHA-256 of the whole event as sent, ``event_id`` left out: every field (the
    hashed identity, device ids, event name, time, value, currency, contents, order/shop/query/description,
    page, app, lead, limited_data_use) counts, so a rerun of a row keeps its id and any other event gets
    another one (two purchases of one shopper in one second differ in what they bought or paid).

    The serialisation is canonical: keys sorted, no spaces, text as UTF-8 (not ``\\u`` escapes). Amounts are
    plain JSON numbers by now (``json_number``: ``19.990`` and ``19.99`` give ``19.99``, ``20.0`` gives
    ``20``); a Decimal, should one reach here, is written the same way.
    """
    canonical = _CANONICAL.encode({key: value for key, value in event.items() if key != "event_id"})
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:EVENT_ID_LENGTH]


def _canonical_number(value: Any) -> Any:
    """The JSON form of a value ``json`` does not know: a Decimal as ``json_number`` sends it."""
    if isinstance(value, Decimal):
        return json_number(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


#: The encoder of ``derive_event_id``, built once (``json.dumps`` with options builds one a call); a built event
#: cannot hold itself, so the check for circular references is left out (it costs a tenth of the time).
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False, default=_canonical_number
)
#: The same canonical bytes at a quarter of the cost, for events ``build_event`` made (strings, bools, bounded
#: ints, amounts from ``json_number``): msgspec escapes strings as ``json`` does (quote, backslash, controls;
#: nothing else) and writes floats as ``repr`` does between these bounds, outside which it differs (``1e-05``
#: is ``0.00001`` there, ``1e+16`` is ``1e16``). The tests compare both encoders on the pinned corpus and on
#: random texts and amounts.
_FAST_CANONICAL = msgspec.json.Encoder(order="sorted")
_FAST_FLOATS = (1e-4, 1e16)


def built_event_id(event: dict[str, Any]) -> str:
    """``derive_event_id`` of an event ``build_event`` made (with or without its ``event_id`` key), through the
    faster encoder when its amounts (its only floats) are within the bounds where both encoders write them alike."""
    properties = event.get("properties")
    if properties and not _plain_amounts(properties):
        return derive_event_id(event)
    if "event_id" in event:
        event = {key: value for key, value in event.items() if key != "event_id"}
    try:
        canonical = _FAST_CANONICAL.encode(event)
    except UnicodeEncodeError:  # a lone surrogate: derive_event_id raises as it always did
        return derive_event_id(event)
    return hashlib.sha256(canonical).hexdigest()[:EVENT_ID_LENGTH]


def _plain_amounts(properties: Mapping[str, Any]) -> bool:
    """True when ``value`` and every content ``price`` is an int or a float both encoders write alike."""
    low, high = _FAST_FLOATS
    value = properties.get("value")
    if value.__class__ is float and not low <= value < high:
        return False
    for content in properties.get("contents", ()):
        price = content.get("price")
        if price.__class__ is float and not low <= price < high:
            return False
    return True
