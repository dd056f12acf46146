"""A fixed corpus of raw event records (seeded, every event source and phone region, good and bad values of
every field) and the outcome of building each one, as one JSON-safe line: the fixture
``tests/data/events/build_corpus.json`` holds these outcomes as the provider produced them before event
building was made faster, so any change to a hash, a normalised value, a rejection or a derived event_id shows.

    .venv/bin/python -m tests.events.build_corpus   # prints the outcomes as JSON (how the fixture was written)
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from airflow_provider_tiktok.events.build import build_event, redacted
from airflow_provider_tiktok.events.rules import BuildTally, EventRules, RowRejected
from airflow_provider_tiktok.exceptions import TikTokInputError

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc)
NOW_S = int(NOW.timestamp())
SEED = 20_260_310
CASES_PER_GROUP = 80
SOURCES = ("web", "app", "offline", "crm")
REGIONS = ("US", "DE", "GB", "FR", "JP", "BR", "IN", "CA")

#: Numbers as customers of each region type them (valid, local-only, invalid, international, lists, wrapped).
PHONES = {
    "US": ["(415) 555-2671", "415.555.2671", "+1 650 253 0000", "555-0199", "(415) 123-4567", "1-800-555-0100"],
    "DE": ["030 12345678", "0151 23456789", "+49 30 901820", "0049 30 12345678", "901820", "030/901820"],
    "GB": ["07400 123456", "020 7946 0958", "+44 7400 123456", "07700 900123", "0121 496 0000", "7400123456"],
    "FR": ["06 12 34 56 78", "01 23 45 67 89", "+33 6 12 34 56 78", "0033612345678", "12 34 56 78", "0612345678"],
    "JP": ["03-1234-5678", "090-1234-5678", "+81 3 1234 5678", "0120-123-456", "1234-5678", "(03) 1234 5678"],
    "BR": ["(11) 91234-5678", "11 3123-4567", "0 11 91234 5678", "+55 11 91234 5678", "0 21 11 91234 5678"],
    "IN": ["98765 43210", "098765 43210", "+91 98765 43210", "022 2345 6789", "011-2345678", "91234 56789"],
    "CA": ["(604) 555-0123", "416-555-0199", "+1 613 555 0100", "(604) 123-4567", "604 555 01234"],
}
ODD_PHONES = [
    "",
    "   ",
    "tel:+1-415-555-2671",
    '"030 12345678"',
    "'+49 30 12345678",
    "415-555-2671, 650-253-0000",
    "030 1234567 / 030 7654321",
    "+1 415 555 2671 ext. 12",
    "(415) 555-2671 x 3",
    "not a phone",
    "+999 1234567",
    "0000000",
    "+",
    4155552671,
    3012345678,
    "\u0664\u0661\u0665\u0665\u0665\u0665\u0662\u0666\u0667\u0661",
    "a" * 70,
    "0" * 17,
]
EMAILS = [
    " Jane.Doe@Example.COM ",
    "pat@example.com",
    "mailto:Pat@Example.com",
    "Pat Doe <pat@example.com>",
    '"pat@example.com"',
    "a@example.com; b@example.org",
    "not-an-email",
    "pat@example.com.",
    "x" * 250 + "@example.com",
    hashlib.sha256(b"pat@example.com").hexdigest().upper(),
    "\u00fcser@b\u00fccher.example",
    "",
    None,
    42,
]
TEXTS = [
    "plain",
    "  spaced  ",
    "Call 030 12345678 now",
    "mail jane@example.com",
    "\u00dcber gr\u00f6\u00dfe \u2603 \u2028 line",
    'quote " and \\ backslash',
    "ctrl \x01\x1f\x7f",
    "SO-123456789",
    "2026-03-10 14:30",
    "v1.2.3.4",
    "+33 6 12 34 56 78",
    "x" * 9000,
    12345,
    10**80,
    True,
    3.5,
    "",
]
URLS = [
    "https://shop.example.com/products/sku-1",
    "http://shop.example.com/?q=shoes",
    "https://shop.example.com/?email=pat%40example.com",
    "https://shop.example.com/u/pat@example.com",
    "https://shop.example.com/call/+49-30-1234567",
    "ftp://shop.example.com/x",
    "shop.example.com",
    "HTTPS://SHOP.EXAMPLE.COM/\u00fc",
    "",
]
PRICES = ["19.99", "19.990", "20.0", 9.99, 20, Decimal("0.1"), "0.00001", "1e-7", "123456789012.345", "-1", "abc"]
PRICES += ["1e16", float("nan"), True, "", None, "0", Decimal("0.0001"), 0.00012, "999999999999999.9"]
QUANTITIES = ["1", 2, "3", 2.0, "2.5", -1, "x", "", None, 2**31, "007"]
TIMES = ["Z", "+02:00", "epoch", "ms", "digits", "float", "datetime", "naive", "date", "old", "future", "bad", None]
EVENTS = ["Purchase", "ViewContent", "AddToCart", "MyCustomEvent", " Lead ", "", None, "4155552671"]
EVENTS += ["jane@example.com", "Call +49 30 12345678", "e" * 300, 12345, "\u00c9v\u00e9nement"]
CONTENTS = [
    '[{"content_id": "a", "price": "1.5", "quantity": 2}, {"content_id": "b", "price": 2, "quantity": 1}]',
    [{"content_id": "c", "price": 3.25, "quantity": "4", "brand": "Acme"}],
    [{"content_id": "d", "colour": "red"}],
    "not json",
    '{"content_id": "e"}',
    [],
    [{"content_name": "call 0151 23456789", "price": "5"}],
]
IPS = ["198.51.100.7", "2001:0db8:0000:0000:0000:0000:0000:0001", "300.1.1.1", "::ffff:1.2.3.4", "", "localhost"]
DEVICE_IDS = ["6D92078A-8246-4BA4-AE5B-76104861E7DC", "00000000-0000-0000-0000-000000000000", "not-a-uuid", ""]
FLAGS = ["true", "0", "yes", "N", True, "maybe"]


def _time(rng: random.Random) -> Any:
    """An event time of one of the shapes exports write (and a few that are refused)."""
    kind = rng.choice(TIMES)
    moment = NOW - timedelta(seconds=rng.randrange(60, 86_400 * 3))
    shapes: dict[str | None, Any] = {
        "Z": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "+02:00": moment.astimezone(timezone(timedelta(hours=2))).isoformat(),
        "epoch": int(moment.timestamp()),
        "ms": int(moment.timestamp()) * 1000 + rng.randrange(1000),
        "digits": str(int(moment.timestamp())),
        "float": moment.timestamp() + 0.25,
        "datetime": moment,
        "naive": moment.replace(tzinfo=None).isoformat(),
        "date": moment.date().isoformat(),
        "old": (NOW - timedelta(days=40)).isoformat(),
        "future": (NOW + timedelta(minutes=10)).isoformat(),
        "bad": "yesterday",
        None: None,
    }
    return shapes[kind]


def _pick(rng: random.Random, good: Any, odd: list[Any], share: float = 0.04) -> Any:
    """``good`` mostly, now and then one of the ``odd`` values."""
    return rng.choice(odd) if rng.random() < share else good


def _maybe(rng: random.Random, record: dict[str, Any], name: str, good: Any, odd: list[Any], given: float) -> None:
    """Give field ``name`` in a share ``given`` of the records."""
    if rng.random() < given:
        record[name] = _pick(rng, good, odd)


def _record(rng: random.Random, region: str, customer: int) -> dict[str, Any]:
    """One raw record: mostly a plausible event of a repeat customer, each field now and then odd."""
    record: dict[str, Any] = {"event": _pick(rng, "Purchase", EVENTS, 0.2)}
    record["event_time"] = _pick(rng, (NOW - timedelta(hours=2)).isoformat(), [_time(rng)], 0.3)
    record["email"] = _pick(rng, f" Customer.{customer}@Example.com", EMAILS, 0.3)
    phones = PHONES[region]
    record["phone"] = _pick(rng, phones[customer % len(phones)], ODD_PHONES, 0.15)
    _maybe(rng, record, "external_id", f"cust-{customer}", [f"'00{customer}", '"x"', "", 7], 0.6)
    _maybe(rng, record, "ip", "198.51.100.7", IPS, 0.5)
    _maybe(rng, record, "user_agent", "Mozilla/5.0 (iPhone)", TEXTS, 0.5)
    record["page_url"] = _pick(rng, f"https://shop.example.com/p/{customer % 40}", URLS, 0.2)
    _maybe(rng, record, "referrer_url", "https://www.tiktok.com/", URLS, 0.2)
    _maybe(rng, record, "currency", "USD", ["eur", " jpy ", "XXX", "EURO", ""], 0.6)
    if rng.random() < 0.15:
        record["contents"] = rng.choice(CONTENTS)
    else:
        _maybe(rng, record, "content_id", f"sku-{customer % 30}", TEXTS, 0.7)
        _maybe(rng, record, "price", "19.99", PRICES, 0.6)
        _maybe(rng, record, "quantity", "1", QUANTITIES, 0.5)
        _maybe(rng, record, "content_name", "Red shoe", TEXTS, 0.1)
    _maybe(rng, record, "value", "59.97", PRICES, 0.15)
    _maybe(rng, record, "content_type", "product", ["product_group", "service"], 0.1)
    _maybe(rng, record, "num_items", "2", QUANTITIES, 0.1)
    for name in ("order_id", "shop_id", "query", "description", "ttclid", "ttp", "locale"):
        _maybe(rng, record, name, f"SO-{rng.randrange(10**9)}", TEXTS, 0.15)
    _maybe(rng, record, "event_id", f"order-{customer}", [" given ", "", "pat@example.com", "0151 23456789"], 0.1)
    _maybe(rng, record, "limited_data_use", "false", FLAGS, 0.1)
    for name in ("idfa", "idfv", "gaid"):
        _maybe(rng, record, name, DEVICE_IDS[0], DEVICE_IDS, 0.08)
    for name in ("app_id", "app_name", "app_version", "lead_id", "lead_event_source"):
        _maybe(rng, record, name, "com.example.app", ["1234567890", "v2", "", "call 030 12345678"], 0.5)
    _maybe(rng, record, "att_status", "AUTHORIZED", ["authorized", "DENIED", "unknown"], 0.1)
    if rng.random() < 0.02:
        record["colour"] = "red"
    return record


def groups() -> Iterator[tuple[EventRules, list[dict[str, Any]]]]:
    """The corpus: for each event source and phone region, its rules and records (seeded, fixed)."""
    rng = random.Random(SEED)
    for source in SOURCES:
        for region in REGIONS:
            rules = EventRules(
                event_source=source,
                now=NOW_S,
                default_phone_region=region,
                default_event="Purchase" if rng.random() < 0.5 else None,
                limited_data_use=rng.random() < 0.2,
                default_app_id="com.example.default" if source == "app" and rng.random() < 0.5 else None,
            )
            records = [_record(rng, region, rng.randrange(40)) for _ in range(CASES_PER_GROUP)]
            yield rules, records


def outcome(record: dict[str, Any], row: int, rules: EventRules, tally: BuildTally) -> list[Any]:
    """The event built from ``record`` (its event_id and a digest of the whole), or why it was refused (and a
    digest of its rejects-file copy)."""
    try:
        event = build_event(record, row, rules, tally)
    except RowRejected as err:
        return ["rejected", err.field, err.reason, digest(redacted(record, rules))]
    except TikTokInputError as err:
        return ["input error", str(err)]
    return ["event", event["event_id"], digest(event)]


def digest(value: Any) -> str:
    """SHA-256 of ``value`` as JSON text with its keys in their order (a change of order shows too)."""
    return hashlib.sha256(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def outcomes() -> Iterator[dict[str, Any]]:
    """Each group's outcomes, row by row, and what its tally counted."""
    for rules, records in groups():
        tally = BuildTally()
        rows = [outcome(record, row, rules, tally) for row, record in enumerate(records, start=1)]
        yield {
            "source": rules.event_source,
            "region": rules.default_phone_region,
            "rows": rows,
            "dropped_fields": dict(sorted(tally.dropped_fields.items())),
            "nonstandard_event_names": dict(sorted(tally.nonstandard_event_names.items())),
        }


if __name__ == "__main__":
    print(json.dumps(list(outcomes()), indent=0))
