"""The upload's caches (``BuildTally``) give what the uncached functions give: the same hash, the same refusal
with the same reason every time a value repeats, the same event built from remembered parts (user, priced
properties, page) as built afresh, and no answer carried from one value to another that merely compares equal
(``7`` and ``7.0``); they stay bounded."""

from __future__ import annotations

import json

import pytest

from airflow_provider_tiktok.events import rules
from airflow_provider_tiktok.events.build import build_event
from airflow_provider_tiktok.events.rules import BuildTally, EventRules
from airflow_provider_tiktok.utils.hashing import InvalidIdentifier, hash_email, hash_external_id, hash_phone

pytestmark = pytest.mark.unit


def reason(function, *args) -> str:
    with pytest.raises(InvalidIdentifier) as info:
        function(*args)
    return f"{info.value.field}: {info.value.reason}"


@pytest.mark.parametrize(
    ("method", "function", "args"),
    [
        ("hash_phone", hash_phone, ("555-0199", "US")),
        ("hash_phone", hash_phone, ("901820", "DE")),
        ("hash_email", hash_email, ("a@example.com; b@example.org",)),
        ("hash_external_id", hash_external_id, ("cust-42'",)),
    ],
)
def test_a_refusal_is_given_again_with_its_reason(method, function, args):
    tally = BuildTally()
    expected = reason(function, *args)
    assert [reason(getattr(tally, method), *args) for _ in range(3)] == [expected] * 3
    assert len(tally.refusals) == 1


def test_hashes_are_given_again_and_remembered_by_text():
    tally = BuildTally()
    assert tally.hash_email(" Pat@Example.com") == tally.hash_email(" Pat@Example.com") == hash_email("pat@example.com")
    assert tally.hash_external_id("cust-7") == hash_external_id("cust-7")
    assert tally.hash_phone("030 12345678", "DE") == hash_phone("+493012345678")
    assert (len(tally.email_hashes), len(tally.external_id_hashes), len(tally.phone_hashes)) == (1, 1, 1)


def test_equal_values_of_another_type_are_not_answered_from_the_cache():
    tally = BuildTally()
    assert tally.hash_external_id("7") == hash_external_id("7")
    assert tally.hash_external_id(7) == hash_external_id(7)  # a whole number is an id too...
    assert reason(tally.hash_external_id, 7.0) == "external_id: must be text"  # ...a float is not, cache or not
    assert not tally.external_id_hashes.keys() - {"7"}


def test_the_caches_are_bounded(monkeypatch):
    monkeypatch.setattr(rules, "IDENTIFIER_CACHE_SIZE", 3)
    tally = BuildTally()
    for n in range(10):
        tally.hash_email(f"pat{n}@example.com")
        with pytest.raises(InvalidIdentifier):
            tally.hash_email(f"pat{n}")
    assert len(tally.email_hashes) <= 3
    assert len(tally.refusals) <= 3


def test_ip_addresses_are_remembered_with_their_standard_form_or_none():
    from airflow_provider_tiktok.events.build import _ip_address
    from airflow_provider_tiktok.events.values import as_ip

    tally = BuildTally()
    given = ["198.51.100.7", "2001:0db8:0000:0000:0000:0000:0000:0001", "300.1.1.1", "localhost", 7]
    for value in given * 2:
        assert _ip_address(value, tally) == as_ip(value)
    assert tally.ip_addresses == {text: as_ip(text) for text in given if isinstance(text, str)}


# ------------------------------------------------------------------ parts of events remembered by their fields
NOW_S = 1_773_156_600
RULES = EventRules(event_source="web", now=NOW_S, default_phone_region="GB")


def funnel_row(n: int) -> dict:
    """Row ``n`` of a shop's funnel: customers repeat (same identity), products repeat (same price), pages repeat;
    some customers have a phone not in use, some rows blank cells."""
    customer = n // 3
    return {
        "event": ("ViewContent", "AddToCart", "CompletePayment")[n % 3],
        "event_time": f"2026-03-10T{10 + n % 5:02d}:{n % 60:02d}:{(n * 7) % 60:02d}Z",
        "email": f" Customer.{customer}@Example.com",
        "phone": f"07400 {customer % 1000:06d}" if customer % 7 else "07610 858220",
        "external_id": f"cust-{customer}" if customer % 5 else "",
        "ip": f"198.51.100.{customer % 250}",
        "page_url": f"https://shop.example.com/p/{n % 4}",
        "content_id": f"sku-{n % 4}",
        "price": ("19.99", "5", "0.50", "120.00")[n % 4],
        "quantity": str(1 + n % 2),
        "order_id": f"SO-{n}",
    }


def encoded(event: dict) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def test_events_built_from_remembered_parts_equal_events_built_afresh():
    shared = BuildTally()
    rows = [funnel_row(n) for n in range(300)]
    for row, record in enumerate(rows, start=1):
        remembered = build_event(record, row, RULES, shared)
        assert encoded(remembered) == encoded(build_event(record, row, RULES, BuildTally())), row
    assert shared.users  # the parts were remembered, and used
    assert shared.pages
    assert len(shared.priced) <= 8 < len(rows)


def test_an_identifier_dropped_from_a_row_is_counted_for_every_row():
    tally = BuildTally()
    record = {**funnel_row(0), "phone": "07610 858220"}  # not a number in use
    events = [build_event(record, row, RULES, tally) for row in (1, 2, 3)]
    assert all("phone" not in event["user"] for event in events)
    assert tally.dropped_fields["phone"] == 3
    assert not tally.users


def test_events_share_no_part_with_each_other():
    tally = BuildTally()
    first, second = (build_event(funnel_row(0), row, RULES, tally) for row in (1, 2))
    first["user"]["email"] = first["properties"]["contents"][0]["price"] = first["page"]["url"] = "changed"
    first["properties"]["contents"].append({})
    third = build_event(funnel_row(0), 3, RULES, tally)
    for event in (second, third):
        assert event["user"]["email"] != "changed"
        assert event["page"]["url"] != "changed"
        assert event["properties"]["contents"] == [{"content_id": "sku-0", "price": 19.99, "quantity": 1}]


def test_rows_with_fields_that_are_not_text_are_built_each_time():
    tally = BuildTally()
    as_number = build_event({**funnel_row(15), "external_id": 1}, 1, RULES, tally)
    assert as_number["user"]["external_id"] == hash_external_id("1")
    as_flag = build_event({**funnel_row(15), "external_id": True}, 2, RULES, tally)  # equal to 1 as a key
    assert "external_id" not in as_flag["user"]
    assert tally.dropped_fields["external_id"] == 1
    listed = [{"content_id": "sku-1", "price": 3, "quantity": 2}]
    for row in (3, 4):  # a list is no key: built each row
        record = {**funnel_row(1), "contents": listed, "content_id": None, "price": None, "quantity": None}
        assert build_event(record, row, RULES, tally)["properties"]["value"] == 6
    assert all(value is None or isinstance(value, str) for key in tally.users for value in key)


def test_remembered_parts_are_bounded(monkeypatch):
    monkeypatch.setattr(rules, "IDENTIFIER_CACHE_SIZE", 3)
    tally = BuildTally()
    for n in range(60):
        build_event(funnel_row(n * 3), n + 1, RULES, tally)
    assert 0 < max(len(tally.users), len(tally.priced), len(tally.pages)) <= 3
