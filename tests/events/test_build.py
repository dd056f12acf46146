"""Event building: every canonical field, normalisation and hashing vectors, checked against values computed
independently here (hashlib on literal normalised strings, datetime for timestamps)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from airflow_provider_tiktok.events.build import build_event, derive_event_id, redacted
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
        ("07700 900123", "GB", "+447700900123"),
        ("+44 7700 900123", "US", "+447700900123"),
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
    parts = ["Purchase", str(AN_HOUR_AGO), sha("a@example.com"), sha("+14155552671"), "", "", "", "", "", "", ""]
    assert first["event_id"] == hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:36]
    assert len(first["event_id"]) == 36
    assert first["event_id"].isalnum()
    assert derive_event_id(first) == first["event_id"]
    assert build({"order_id": "A"})["event_id"] != build({"order_id": "B"})["event_id"]
    assert build({"event_id": " given-1 "})["event_id"] == "given-1"


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
