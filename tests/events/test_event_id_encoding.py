"""The derived event_id of a built event goes through msgspec, four times faster than ``json``: both encoders
must give the same canonical bytes for everything a built event holds (texts of any characters, booleans,
whole numbers, amounts within the bounds), and amounts outside the bounds must take ``json``'s path. Random
seeded values, compared byte for byte; the pinned corpus (``test_build_corpus``) compares the ids themselves."""

from __future__ import annotations

import json
import math
import random
import sys

import pytest

from airflow_provider_tiktok.events.event_ids import (
    _FAST_CANONICAL,
    _FAST_FLOATS,
    _plain_amounts,
    built_event_id,
    derive_event_id,
)

pytestmark = pytest.mark.unit

#: Characters a text may hold, weighted towards the ones encoders treat specially.
SPECIAL = ['"', "\\", "/", "\x7f", "\u2028", "\u2029", "\ufeff", "\u00e9", "\U0001f600", "\u0301", "\x00", "\x1f"]


def canonical(value: object) -> bytes:
    """``derive_event_id``'s canonical form of ``value`` as ``json`` writes it."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def random_text(rng: random.Random) -> str:
    chars = []
    for _ in range(rng.randint(0, 24)):
        pick = rng.random()
        if pick < 0.3:
            chars.append(rng.choice(SPECIAL))
        elif pick < 0.5:
            chars.append(chr(rng.randint(0, 0x7F)))
        elif pick < 0.9:
            chars.append(chr(rng.randint(0x80, 0xD7FF)))
        else:
            chars.append(chr(rng.randint(0xE000, 0x10FFFF)))
    return "".join(chars)


def random_amount(rng: random.Random) -> float:
    """A float between the bounds: random magnitude and significant digits, or a value next to a bound."""
    low, high = _FAST_FLOATS
    pick = rng.random()
    if pick < 0.05:
        return rng.choice([low, math.nextafter(low, high), math.nextafter(high, 0), 0.1 + 0.2, 1 / 3, 19.99])
    if pick < 0.5:
        return round(10 ** rng.uniform(-4, 16), rng.randint(0, 6))
    return float(f"{rng.randint(1, 10 ** rng.randint(1, 17))}e{rng.randint(-20, 0)}")


def test_texts_are_written_alike():
    rng = random.Random(11)
    for _ in range(20_000):
        value = {random_text(rng): random_text(rng), "k": [random_text(rng), True, False, None]}
        assert _FAST_CANONICAL.encode(value) == canonical(value), value


def test_amounts_and_whole_numbers_between_the_bounds_are_written_alike():
    rng = random.Random(12)
    low, high = _FAST_FLOATS
    for _ in range(50_000):
        amount = random_amount(rng)
        if not low <= amount < high:
            continue
        value = {"value": amount, "n": rng.randint(0, 2**63), "big": rng.randint(0, 10**30)}
        assert _FAST_CANONICAL.encode(value) == canonical(value), value


def test_just_outside_the_bounds_the_encoders_differ():
    low, high = _FAST_FLOATS
    for amount in (math.nextafter(low, 0), 1e-05, high, 1.5e16):
        assert _FAST_CANONICAL.encode(amount) != canonical(amount), amount


@pytest.mark.parametrize("amount", [1e-05, 0.00009999, 1e16, 1.5e16, 1e22, 5e-324, sys.float_info.max])
def test_amounts_outside_the_bounds_take_the_json_path(amount):
    for properties in ({"value": amount}, {"contents": [{"content_id": "a"}, {"price": amount, "quantity": 1}]}):
        assert not _plain_amounts(properties)
        event = {"event": "Purchase", "event_time": 1, "event_id": None, "properties": properties}
        assert built_event_id(event) == derive_event_id(event)


def test_built_events_get_the_id_of_derive_event_id():
    rng = random.Random(13)
    for _ in range(5_000):
        event = {
            "event": random_text(rng),
            "event_time": rng.randint(0, 2**40),
            "event_id": None,
            "user": {"email": "0" * 64, "user_agent": random_text(rng)},
            "properties": {
                "value": random_amount(rng) if rng.random() < 0.8 else rng.randint(0, 10**15),
                "contents": [{"content_id": random_text(rng), "price": random_amount(rng), "quantity": 2}],
            },
            "limited_data_use": rng.random() < 0.5,
        }
        assert built_event_id(event) == derive_event_id(event), event


def test_a_lone_surrogate_fails_as_it_always_did():
    event = {"event": "Purchase", "event_time": 1, "event_id": None, "user": {"user_agent": "\ud800"}}
    with pytest.raises(UnicodeEncodeError):
        derive_event_id(event)
    with pytest.raises(UnicodeEncodeError):
        built_event_id(event)
