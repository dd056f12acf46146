"""Event building: every canonical field, normalisation and hashing vectors, checked against values computed
independently here (hashlib on literal normalised strings, datetime for timestamps)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from airflow_provider_tiktok.events.build import build_event, redacted
from airflow_provider_tiktok.events.event_ids import derive_event_id
from airflow_provider_tiktok.events.rules import CANONICAL_FIELDS, BuildTally, EventRules, RowRejected
from airflow_provider_tiktok.events.values import parse_event_time
from airflow_provider_tiktok.exceptions import TikTokConfigError, TikTokInputError

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc)
NOW_S = int(NOW.timestamp())
AN_HOUR_AGO = NOW_S - 3600
PAGE = "https://shop.example.com/p/1"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def rules(**overrides) -> EventRules:
    return EventRules(**{"event_source": "web", "now": NOW_S, **overrides})


def build(record: dict, tally: BuildTally | None = None, **overrides) -> dict:
    base = {"event": "Purchase", "event_time": AN_HOUR_AGO, "email": "a@example.com", "page_url": PAGE}
    return build_event({**base, **record}, 7, rules(**overrides), tally or BuildTally())


def test_a_full_web_event_has_the_exact_api_shape():
    record = {
        "event": "Purchase",
        "event_time": "2026-03-10T14:30:00Z",
        "event_id": "order-1001",
        "email": "  Jane.Doe@Example.COM ",
        "phone": "(415) 555-2671",
        "external_id": " cust-42 ",
        "ttclid": "E.C.P.abc",
        "ttp": "2Xyz_cookie",
        "ip": "2001:0db8:0000:0000:0000:0000:0000:0001",
        "user_agent": "Mozilla/5.0 (iPhone)",
        "locale": "en-US",
        "page_url": PAGE,
        "referrer_url": "https://www.tiktok.com/",
        "currency": "eur",
        "content_type": "product_group",
        "content_id": "sku-1",
        "content_name": "Red shoe",
        "content_category": "shoes",
        "brand": "Acme",
        "price": "19.99",
        "quantity": "3",
        "num_items": 3,
        "order_id": 1001,
        "shop_id": "web-eu",
        "query": "red shoes",
        "description": "first order",
        "limited_data_use": "true",
    }
    assert set(record) <= CANONICAL_FIELDS
    event = build_event(record, 1, rules(), BuildTally())
    assert json.dumps(event) == json.dumps(
        {
            "event": "Purchase",
            "event_time": NOW_S - 3600,
            "event_id": "order-1001",
            "user": {
                "email": sha("jane.doe@example.com"),
                "phone": sha("+14155552671"),
                "external_id": sha("cust-42"),
                "ip": "2001:db8::1",
                "ttclid": "E.C.P.abc",
                "ttp": "2Xyz_cookie",
                "user_agent": "Mozilla/5.0 (iPhone)",
                "locale": "en-US",
            },
            "properties": {
                "currency": "EUR",
                "value": 59.97,
                "content_type": "product_group",
                "contents": [
                    {
                        "content_id": "sku-1",
                        "content_name": "Red shoe",
                        "content_category": "shoes",
                        "brand": "Acme",
                        "price": 19.99,
                        "quantity": 3,
                    }
                ],
                "num_items": 3,
                "order_id": "1001",
                "shop_id": "web-eu",
                "query": "red shoes",
                "description": "first order",
            },
            "page": {"url": PAGE, "referrer": "https://www.tiktok.com/"},
            "limited_data_use": True,
        }
    )


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [(" Jane.Doe@Example.COM", "jane.doe@example.com"), ("\tBOB@EXAMPLE.ORG  ", "bob@example.org")],
)
def test_emails_are_trimmed_lowercased_and_hashed(raw, normalised):
    assert build({"email": raw})["user"]["email"] == sha(normalised)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(415) 555-2671", "US", "+14155552671"),
        ("+1 415-555-2671", "DE", "+14155552671"),
        ("030 12345678", "DE", "+493012345678"),
        ("0049 30 12345678", "DE", "+493012345678"),
        ("07400 123456", "GB", "+447400123456"),  # was 07700 900123: Ofcom's drama range is not a valid number
        ("+44 7400 123456", "US", "+447400123456"),
        ("03-1234-5678", "JP", "+81312345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
    ],
)
def test_phones_in_national_and_international_forms(raw, region, e164):
    assert build({"phone": raw}, default_phone_region=region)["user"]["phone"] == sha(e164)


def test_prehashed_identifiers_pass_through_lowercased():
    hashed = sha("someone@example.com")
    event = build({"email": hashed.upper(), "phone": hashed, "external_id": hashed.upper()})
    assert event["user"]["email"] == event["user"]["phone"] == event["user"]["external_id"] == hashed


# Issue 15, class 1: identifiers wrapped the way exports wrap them are unwrapped, ambiguous ones dropped.
@pytest.mark.parametrize(
    ("record", "user"),
    [
        ({"email": "mailto:Jane.Doe@Example.COM"}, {"email": sha("jane.doe@example.com")}),
        ({"email": '"jane.doe@example.com"'}, {"email": sha("jane.doe@example.com")}),
        ({"email": "Jane Doe <jane.doe@example.com>"}, {"email": sha("jane.doe@example.com")}),
        ({"email": "\u201cjane.doe@example.com\u201d"}, {"email": sha("jane.doe@example.com")}),
        ({"phone": "tel:+1-415-555-2671"}, {"phone": sha("+14155552671")}),
        ({"phone": '"(415) 555-2671"'}, {"phone": sha("+14155552671")}),
        ({"external_id": '"cust-42"'}, {"external_id": sha("cust-42")}),
    ],
)
def test_wrapped_identifiers_are_unwrapped_before_hashing(record, user):
    tally = BuildTally()
    event = build({"email": None, **record}, tally)
    assert event["user"] == user
    assert tally.dropped_fields == {}


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        ({"email": "a@example.com; b@example.org"}, "email", "holds more than one e-mail address (a list?)"),
        ({"email": "b@example.org <a@example.com>"}, "email", "holds two different e-mail addresses"),
        ({"email": '"a@example.com'}, "email", "has an unbalanced quote"),
        ({"phone": "415-555-2671, 650-253-0000"}, "phone", "holds more than one phone number (a list?)"),
        ({"external_id": "cust-42'"}, "external_id", "has an unbalanced quote"),
    ],
)
def test_ambiguously_wrapped_identifiers_are_dropped_and_counted(record, field, reason):
    tally = BuildTally()
    other = {"email": None, "external_id": "c9"} if field != "external_id" else {}  # another usable identity
    event = build({**other, **record}, tally)
    assert field not in event["user"]
    assert tally.dropped_fields == {field: 1}
    with pytest.raises(RowRejected) as info:  # the only identifier: the row is rejected naming the shape
        build({"email": None, **record})
    assert info.value.field == field
    assert info.value.reason.startswith(reason)
    assert "example" not in str(info.value)
    assert "555" not in str(info.value)


# Issue 15, class 2: a phone only possible in its region (no area code) is dropped, not made up.
@pytest.mark.parametrize(
    ("raw", "region"), [("555-0199", "US"), ("901820", "DE"), ("(415) 123-4567", "US"), ("+49 123456", "US")]
)
def test_phones_not_valid_in_their_region_are_dropped_and_counted(raw, region):
    tally = BuildTally()
    event = build({"phone": raw}, tally, default_phone_region=region)
    assert "phone" not in event["user"]
    assert tally.dropped_fields == {"phone": 1}
    with pytest.raises(RowRejected, match=r"is not a valid number for region (US|DE)") as info:
        build({"email": None, "phone": raw}, default_phone_region=region)
    assert info.value.field == "phone"


# Issue 15, class 5: personal data in clear-text fields rejects the row, and is never listed or kept.
@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        (
            {"event": "Jane.Doe@Example.com"},
            "event",
            "looks like an e-mail address: personal data must not be sent in clear; map the column to email",
        ),
        (
            {"event": "(415) 555-2671"},
            "event",
            "looks like a phone number: personal data must not be sent in clear; map the column to phone",
        ),
        ({"event": "4155552671"}, "event", "looks like a phone number"),  # an event name is never a number
        ({"content_name": "jane.doe@example.com"}, "content_name", "looks like an e-mail address"),
        ({"content_category": "+1 415 555 2671"}, "content_category", "looks like a phone number"),
        ({"brand": "jane.doe@example.com"}, "brand", "looks like an e-mail address"),
        ({"description": "gift for jane.doe@example.com"}, "description", "holds an e-mail address"),
        ({"query": "call 415-555-2671"}, "query", "holds a phone number"),
        ({"order_id": "jane.doe@example.com"}, "order_id", "looks like an e-mail address"),
        ({"order_id": "+14155552671"}, "order_id", "looks like a phone number"),
        ({"shop_id": "415.555.2671"}, "shop_id", "looks like a phone number"),
        ({"user_agent": "jane.doe@example.com"}, "user_agent", "looks like an e-mail address"),
        ({"locale": "(415) 555-2671"}, "locale", "looks like a phone number"),
        ({"event_id": "jane.doe@example.com"}, "event_id", "looks like an e-mail address"),
        (
            {"page_url": "https://shop.example.com/thanks?email=jane.doe%40example.com"},
            "page_url",
            "holds an e-mail address: personal data must not be sent in clear; remove it from the URL",
        ),
        ({"referrer_url": "https://mail.example.com/?to=jane.doe@example.com"}, "referrer_url", "holds an e-mail"),
        (
            {"contents": [{"content_id": "sku-1"}, {"content_id": "sku-2", "content_name": "jane.doe@example.com"}]},
            "contents.1.content_name",
            "looks like an e-mail address",
        ),
    ],
)
def test_personal_data_in_a_clear_text_field_rejects_the_row(record, field, reason):
    tally = BuildTally()
    with pytest.raises(RowRejected) as info:
        build(record, tally)
    assert (info.value.row, info.value.field) == (7, field)
    assert info.value.reason.startswith(reason)
    assert "jane" not in str(info.value)
    assert "555" not in str(info.value)
    assert tally.nonstandard_event_names == {}


def test_personal_data_in_app_and_crm_fields_rejects_the_row():
    app = {"email": None, "page_url": None, "idfa": "6d92078a-8246-4ba4-ae5b-76104861e7dc", "app_id": "1"}
    with pytest.raises(RowRejected) as info:
        build({**app, "app_name": "jane.doe@example.com"}, event_source="app")
    assert info.value.field == "app_name"
    with pytest.raises(RowRejected) as info:
        build({"page_url": None, "lead_id": "(415) 555-2671"}, event_source="crm")
    assert info.value.field == "lead_id"


@pytest.mark.parametrize(
    "record",
    [
        {"event": "SignUp2026"},
        {"order_id": "4155552671"},  # a numeric order id is no phone
        {"order_id": "ORD-2026-000123"},
        {"description": "delivered 2026-03-10, order 10.03.2026"},
        {"user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0.6367.82"},
        {"page_url": "https://medium.com/@shop/post-2026"},
        {"content_name": "Day Pack 20L", "content_id": "sku-3001-20"},
        {"query": "555-0199"},  # not a valid number in US
        {"event_id": sha("jane.doe@example.com")},  # a hash is not personal data in clear
    ],
)
def test_ordinary_clear_texts_are_sent(record):
    tally = BuildTally()
    build(record, tally)
    assert tally.dropped_fields == {}


def test_personal_data_never_reaches_the_rejects_copy():
    record = {
        "event": "Jane.Doe@Example.com",
        "description": "call (415) 555-2671",
        "page_url": "https://shop.example.com/?e=jane.doe%40example.com",
        "contents": [{"content_name": "+1 415 555 2671"}],
        "order_id": "o-1",
    }
    assert redacted(record, rules()) == {
        "event": "<an e-mail address, not kept>",
        "description": "<a phone number, not kept>",
        "page_url": "<an e-mail address, not kept>",
        "contents": [{"content_name": "<a phone number, not kept>"}],
        "order_id": "o-1",
    }
    assert redacted({"event": 4155552671}, rules()) == {"event": "<a phone number, not kept>"}


def test_an_unusable_phone_is_dropped_and_counted_the_row_keeps_its_email():
    tally = BuildTally()
    event = build({"phone": "call me maybe"}, tally)
    assert event["user"] == {"email": sha("a@example.com")}
    assert tally.dropped_fields == {"phone": 1}


def test_device_ids_in_clear_idfa_upper_gaid_lower_zero_idfa_dropped():
    tally = BuildTally()
    event = build(
        {
            "idfa": "6d92078a-8246-4ba4-ae5b-76104861e7dc",
            "idfv": "00000000-0000-0000-0000-000000000000",
            "gaid": "38400000-8CF0-11BD-B23E-10B96E40000D",
            "ip": "999.1.1.1",
        },
        tally,
    )
    assert event["user"]["idfa"] == "6D92078A-8246-4BA4-AE5B-76104861E7DC"
    assert event["user"]["gaid"] == "38400000-8cf0-11bd-b23e-10b96e40000d"
    assert "idfv" not in event["user"]
    assert "ip" not in event["user"]
    assert tally.dropped_fields == {"idfv": 1, "ip": 1}


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-10T14:30:00Z",
        "2026-03-10T14:30:00+00:00",
        "2026-03-10T16:30:00+02:00",
        "2026-03-10T07:30:00-07:00",
        "2026-03-10 14:30:00",  # no offset: UTC
        "2026-03-10T14:30:00.999Z",  # fractions are cut, not rounded
        NOW_S - 3600,
        str(NOW_S - 3600),
        (NOW_S - 3600) * 1000 + 999,
        str((NOW_S - 3600) * 1000),
        float(NOW_S - 3600) + 0.5,
        Decimal(NOW_S - 3600),
        datetime(2026, 3, 10, 14, 30, tzinfo=timezone.utc),
        datetime(2026, 3, 10, 14, 30),  # naive: UTC
        datetime(2026, 3, 10, 23, 30, tzinfo=timezone(timedelta(hours=9))),
    ],
)
def test_every_timestamp_form_gives_unix_seconds_utc(value):
    expected = int(datetime(2026, 3, 10, 14, 30, tzinfo=timezone.utc).timestamp())
    assert parse_event_time(value) == expected
    assert build({"event_time": value})["event_time"] == expected


@pytest.mark.parametrize("value", [None, "", "yesterday", "10/03/2026 14:30", True, -5, [], "2026-03-10"])
def test_unusable_timestamps_are_rejected_with_the_field(value):
    with pytest.raises(RowRejected) as info:
        build({"event_time": value})
    assert (info.value.row, info.value.field) == (7, "event_time")


def test_age_window_28_days_back_5_minutes_ahead():
    oldest = NOW_S - 28 * 86_400
    assert build({"event_time": oldest})["event_time"] == oldest
    assert build({"event_time": NOW_S + 300})["event_time"] == NOW_S + 300
    for moment, reason in ((oldest - 1, "older than 28 days"), (NOW_S + 301, "5 minutes in the future")):
        with pytest.raises(RowRejected, match=reason):
            build({"event_time": moment})
    with pytest.raises(RowRejected, match="older than 7 days"):
        build({"event_time": NOW_S - 7 * 86_400 - 1}, max_event_age_days=7)


def test_currency_is_iso_4217_uppercased_and_defaulted_for_amounts():
    assert build({"value": 5, "currency": " jpy "})["properties"]["currency"] == "JPY"
    assert build({"value": 5})["properties"] == {"currency": "USD", "value": 5}
    assert build({"value": 5}, default_currency="eur")["properties"]["currency"] == "EUR"
    assert "properties" not in build({})  # no amount, no currency
    with pytest.raises(RowRejected) as info:
        build({"value": 5, "currency": "XYZ"})
    assert info.value.field == "currency"
    assert "XYZ" not in str(info.value)


def test_value_is_the_exact_sum_of_price_times_quantity():
    contents = [
        {"content_id": "a", "price": "0.1", "quantity": 3},
        {"content_id": "b", "price": 19.99, "quantity": "2"},
    ]
    properties = build({"contents": contents})["properties"]
    assert properties["value"] == 40.28  # 0.1 * 3 + 19.99 * 2, without binary rounding noise
    assert properties["contents"] == [
        {"content_id": "a", "price": 0.1, "quantity": 3},
        {"content_id": "b", "price": 19.99, "quantity": 2},
    ]
    assert properties["content_type"] == "product"
    assert build({"contents": contents, "value": "12.50"})["properties"]["value"] == 12.5
    assert "value" not in build({"contents": [{"content_id": "a", "price": 3}]})["properties"]


def test_contents_from_a_json_cell_and_conflicts():
    cell = json.dumps([{"content_id": "sku-9", "price": 5, "quantity": 1}])
    assert build({"contents": cell})["properties"]["value"] == 5
    for record, name in (
        ({"contents": cell, "content_id": "x"}, "contents"),
        ({"contents": "not json"}, "contents"),
        ({"contents": [{"sku": "x"}]}, "contents.0.sku"),
        ({"contents": [{"content_id": "x", "quantity": 1.5}]}, "contents.0.quantity"),
        ({"price": "1,000"}, "price"),
        ({"value": "-3"}, "value"),
        ({"num_items": "two"}, "num_items"),
        ({"content_type": "service"}, "content_type"),
    ):
        with pytest.raises(RowRejected) as info:
            build(record)
        assert info.value.field == name, record


def test_default_event_names_rows_without_one_and_custom_names_are_counted():
    tally = BuildTally()
    assert build({"event": None}, tally, default_event="Lead")["event"] == "Lead"
    assert build({"event": "MyCustomThing"}, tally)["event"] == "MyCustomThing"
    assert tally.nonstandard_event_names == {"MyCustomThing": 1}
    with pytest.raises(RowRejected, match="default_event"):
        build({"event": " "})


def test_identity_and_page_rules_per_event_source():
    with pytest.raises(RowRejected) as info:
        build({"email": None, "page_url": PAGE})
    assert info.value.field == "user"
    with pytest.raises(RowRejected) as info:
        build({"page_url": None})
    assert info.value.field == "page_url"
    with pytest.raises(RowRejected):
        build({"email": None, "external_id": "c1", "page_url": None}, event_source="offline")
    app = build(
        {"email": None, "page_url": None, "idfa": "6d92078a-8246-4ba4-ae5b-76104861e7dc", "app_id": "id1"},
        event_source="app",
    )
    assert "page" not in app
    assert set(app["user"]) == {"idfa"}


def test_app_events_carry_their_app_and_tracking_consent():
    row = {"email": None, "page_url": None, "idfa": "6d92078a-8246-4ba4-ae5b-76104861e7dc"}
    with pytest.raises(RowRejected) as info:
        build(row, event_source="app")
    assert info.value.field == "app_id"
    assert info.value.row == 7
    event = build(
        {**row, "app_id": "1234567890", "app_name": "Shop", "app_version": "2.1", "att_status": " authorized "},
        event_source="app",
    )
    assert event["app"] == {"app_id": "1234567890", "app_name": "Shop", "app_version": "2.1"}
    assert event["user"]["att_status"] == "AUTHORIZED"
    assert list(event) == ["event", "event_time", "event_id", "user", "app", "limited_data_use"]
    assert build(row, event_source="app", default_app_id="com.example.shop")["app"] == {"app_id": "com.example.shop"}
    with pytest.raises(RowRejected) as info:
        build({**row, "app_id": "1", "att_status": "yes"}, event_source="app")
    assert info.value.field == "att_status"
    assert "AUTHORIZED" in str(info.value)
    with pytest.raises(TikTokConfigError, match="app_id"):
        rules(event_source="web", default_app_id="com.example.shop")


def test_crm_events_carry_their_lead_and_other_sources_drop_those_fields():
    with pytest.raises(RowRejected) as info:
        build({"page_url": None}, event_source="crm")
    assert info.value.field == "lead_id"
    event = build({"page_url": None, "lead_id": 98765, "lead_event_source": "HubSpot"}, event_source="crm")
    assert event["lead"] == {"lead_id": "98765", "lead_event_source": "HubSpot"}
    assert "app" not in event
    tally = BuildTally()
    web = build({"lead_id": "1", "app_id": "2", "att_status": "DENIED"}, tally)
    assert "lead" not in web
    assert "app" not in web
    assert "att_status" not in web["user"]
    assert tally.dropped_fields == {"lead_id": 1, "app_id": 1, "att_status": 1}


def test_derived_event_id_is_36_hex_deterministic_and_distinguishes_orders():
    first = build({"phone": "+14155552671"})
    assert first["event_id"] == build({"phone": "(415) 555-2671"})["event_id"]  # same person, same id
    # SHA-256 of the whole event as sent without its event_id: canonical JSON (sorted keys, no spaces, UTF-8)
    canonical = (
        f'{{"event":"Purchase","event_time":{AN_HOUR_AGO},"limited_data_use":false,"page":{{"url":"{PAGE}"}},'
        f'"user":{{"email":"{sha("a@example.com")}","phone":"{sha("+14155552671")}"}}}}'
    )
    assert first["event_id"] == hashlib.sha256(canonical.encode()).hexdigest()[:36]
    assert len(first["event_id"]) == 36
    assert first["event_id"].isalnum()
    assert derive_event_id(first) == first["event_id"]
    assert build({"order_id": "A"})["event_id"] != build({"order_id": "B"})["event_id"]
    assert build({"event_id": " given-1 "})["event_id"] == "given-1"


#: One field changed at a time on a purchase (web unless the source is named): each is another event.
ONE_FIELD_CHANGED = [
    ("web", {"event": "AddToCart"}),
    ("web", {"event_time": AN_HOUR_AGO + 1}),
    ("web", {"email": "b@example.com"}),
    ("web", {"phone": "(415) 555-2672"}),
    ("web", {"external_id": "cust-2"}),
    ("web", {"ttclid": "click-2"}),
    ("web", {"ttp": "cookie-2"}),
    ("web", {"ip": "198.51.100.8"}),
    ("web", {"user_agent": "Mozilla/5.0 (Android)"}),
    ("web", {"locale": "de-DE"}),
    ("web", {"value": "25.00"}),
    ("web", {"currency": "EUR"}),
    ("web", {"content_type": "product_group"}),
    ("web", {"content_id": "sku-2"}),
    ("web", {"content_name": "Blue shoe"}),
    ("web", {"content_category": "boots"}),
    ("web", {"brand": "Other"}),
    ("web", {"price": "9.50"}),
    ("web", {"quantity": 3}),
    ("web", {"num_items": 3}),
    ("web", {"order_id": "o-2"}),
    ("web", {"shop_id": "shop-2"}),
    ("web", {"query": "red shoes"}),
    ("web", {"description": "gift"}),
    ("web", {"page_url": "https://shop.example.com/p/2"}),
    ("web", {"referrer_url": "https://www.tiktok.com/"}),
    ("web", {"limited_data_use": True}),
    ("app", {"app_id": "2"}),
    ("app", {"app_name": "Shop 2"}),
    ("app", {"app_version": "2.2"}),
    ("app", {"idfa": "6D92078A-8246-4BA4-AE5B-76104861E702"}),
    ("app", {"idfv": "6D92078A-8246-4BA4-AE5B-76104861E703"}),
    ("app", {"gaid": "38400000-8cf0-11bd-b23e-10b96e400002"}),
    ("app", {"att_status": "DENIED"}),
    ("crm", {"lead_id": "lead-2"}),
    ("crm", {"lead_event_source": "HubSpot"}),
]
#: The purchase the changes above start from, per event source (no order_id: nothing else tells them apart).
BASE_EVENT = {
    "web": {"content_id": "sku-1", "price": "19.99", "quantity": 1, "currency": "USD"},
    "app": {"page_url": None, "app_id": "1", "app_name": "Shop", "app_version": "2.1", "att_status": "AUTHORIZED"},
    "crm": {"phone": "(415) 555-2671", "lead_id": "lead-1", "lead_event_source": "Salesforce"},
}


@pytest.mark.parametrize(
    ("source", "change"), ONE_FIELD_CHANGED, ids=[next(iter(change)) for _, change in ONE_FIELD_CHANGED]
)
def test_a_derived_event_id_changes_with_any_field_of_the_event(source, change):
    base = BASE_EVENT[source]
    before, after = build(base, event_source=source), build({**base, **change}, event_source=source)
    assert before != after  # the change reaches the event as sent...
    assert before["event_id"] != after["event_id"]  # ...and so its id


def test_two_purchases_of_one_shopper_in_one_second_without_order_id_keep_both():
    moment = "2026-03-10T14:00:00Z"
    shoes = build({"event_time": moment, "content_id": "shoes", "price": "59.00", "quantity": 1, "currency": "USD"})
    socks = build({"event_time": moment, "content_id": "socks", "price": "4.00", "quantity": 2, "currency": "USD"})
    tip = build({"event_time": moment, "value": "4.00", "currency": "USD"})
    assert len({shoes["event_id"], socks["event_id"], tip["event_id"]}) == 3
    # the same row read again (a rerun) keeps its id
    again = build({"event_time": moment, "content_id": "socks", "price": "4.00", "quantity": 2, "currency": "USD"})
    assert again["event_id"] == socks["event_id"]


def test_day_level_timestamps_keep_different_purchases_apart():
    day = "2026-03-10T00:00:00Z"  # a warehouse DATE cast to a timestamp: every purchase of the day at midnight
    first = build({"event_time": day, "value": "12.50", "currency": "USD"})
    second = build({"event_time": day, "value": "30.00", "currency": "USD"})
    third = build({"event_time": day, "value": "12.50", "currency": "USD", "description": "second visit"})
    assert first["event_time"] == second["event_time"] == int(datetime(2026, 3, 10, tzinfo=timezone.utc).timestamp())
    assert len({first["event_id"], second["event_id"], third["event_id"]}) == 3
    assert build({"event_time": day, "value": "12.50", "currency": "USD"})["event_id"] == first["event_id"]


@pytest.mark.parametrize(
    "same",
    [
        {"value": "19.990"},
        {"value": 19.99},
        {"value": Decimal("19.99")},
        {"value": " 19.99 "},
        {"currency": " usd"},
        {"contents": '[{"quantity": 1, "price": "19.99", "content_id": "sku-1"}]', "content_id": None},
        {"contents": [{"price": 19.99, "content_id": "sku-1", "quantity": "1"}], "content_id": None},
    ],
)
def test_a_derived_event_id_ignores_how_the_same_values_are_written(same):
    base = {"content_id": "sku-1", "price": "19.99", "quantity": 1, "value": "19.99", "currency": "USD"}
    given = {**base, **same}
    if given.get("content_id") is None:
        given = {key: value for key, value in given.items() if key not in CONTENT_FIELDS_OF_ONE}
    assert build(dict(reversed(list(given.items()))))["event_id"] == build(base)["event_id"]


#: The single-content fields a ``contents`` list replaces.
CONTENT_FIELDS_OF_ONE = ("content_id", "price", "quantity")


def test_whole_amounts_are_one_number_however_written():
    ids = {
        build({"value": value, "currency": "USD"})["event_id"] for value in (20, "20", "20.00", 20.0, Decimal("2E1"))
    }
    assert len(ids) == 1


def test_derive_event_id_ignores_the_event_id_key_order_and_decimals():
    event = build({"content_id": "sku-1", "price": "19.99", "quantity": 2})
    derived = event["event_id"]
    assert derive_event_id({**event, "event_id": "something-else"}) == derived
    assert derive_event_id({key: value for key, value in event.items() if key != "event_id"}) == derived
    shuffled = {key: event[key] for key in sorted(event, reverse=True)}
    shuffled["user"] = dict(reversed(list(event["user"].items())))
    shuffled["properties"] = dict(reversed(list(event["properties"].items())))
    assert derive_event_id(shuffled) == derived
    assert event["properties"]["value"] == 39.98
    with_decimals = {**event, "properties": {**event["properties"], "value": Decimal("39.980")}}
    assert derive_event_id(with_decimals) == derived


def test_limited_data_use_row_value_wins_over_the_default():
    assert build({})["limited_data_use"] is False
    assert build({}, limited_data_use=True)["limited_data_use"] is True
    assert build({"limited_data_use": "0"}, limited_data_use=True)["limited_data_use"] is False
    with pytest.raises(RowRejected):
        build({"limited_data_use": "maybe"})


def test_unknown_fields_fail_naming_the_field_and_how_to_map_it():
    with pytest.raises(TikTokInputError, match=r"row 7, field 'mail'.*field_map") as info:
        build({"mail": "secret@example.com"})
    assert not isinstance(info.value, RowRejected)
    assert "secret" not in str(info.value)


def test_redacted_records_hold_hashes_never_raw_identifiers():
    record = {"email": " A@Example.com", "phone": "(415) 555-2671", "external_id": "c1", "value": Decimal("1.5")}
    assert redacted(record, rules()) == {
        "email": sha("a@example.com"),
        "phone": sha("+14155552671"),
        "external_id": sha("c1"),
        "value": "1.5",
    }
    assert redacted({"email": "not an email", "event": "Lead"}, rules()) == {"event": "Lead"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"event_source": "tv"},
        {"default_phone_region": "XX"},
        {"default_currency": "ABC"},
        {"default_content_type": "sku"},
        {"max_event_age_days": 29},
        {"max_event_age_days": 0},
        {"default_event": "  "},
    ],
)
def test_bad_settings_are_refused_before_any_row(overrides):
    with pytest.raises(TikTokConfigError):
        rules(**overrides)
