"""The strict emulator over HTTP: one test per constraint class, each refused with TikTok's code and a message
naming the field and the rule (never the value), and what TikTok's definitions allow still accepted."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests

from airflow_provider_tiktok.emulator import ADVERTISER_A, APP_ID
from airflow_provider_tiktok.emulator.data import advertiser_today
from tests.emulator.test_audiences import create, path_of, update, upload
from tests.emulator.test_events import PIXEL, batch, event
from tests.helpers.emulator_api import FIXED_NOW, Api, sha256

pytestmark = pytest.mark.integration

GET = "dmp/custom_audience/get/"


def refused(answer: dict[str, Any], code: int, message: str) -> None:
    """The answer is ``code`` and its message starts with (or, for a row, contains) ``message``."""
    assert answer["code"] == code, answer
    assert message in answer["message"], answer


@pytest.fixture
def audience(api: Api, hashed_ids: Callable[..., list[str]]) -> str:
    """An audience of 1,500 users (all matched at the default match rate)."""
    answer = create(api, [path_of(api, hashed_ids(1500))])
    assert answer["code"] == 0, answer
    return answer["data"]["custom_audience_id"]


def get_audience(api: Api, **params: Any) -> dict:
    """``dmp/custom_audience/get/`` with JSON-encoded list parameters (as TikTok's SDK: a space after commas)."""
    query = {"advertiser_id": ADVERTISER_A, **params}
    return api.get(GET, {k: json.dumps(v) if isinstance(v, list) else v for k, v in query.items()})


def test_missing_required_fields(api: Api, emulator) -> None:
    refused(api.get(GET, {"advertiser_id": ADVERTISER_A}), 40002, "custom_audience_ids: is required")
    refused(api.get("advertiser/info/", {}), 40002, "advertiser_ids: is required")
    refused(api.get("ad/get/", {}), 40002, "advertiser_id: is required")
    refused(api.get("report/integrated/get/", {"advertiser_id": ADVERTISER_A}), 40002, "report_type: is required")
    body = {"event_source": "web", "data": [event(int(emulator.state.now().timestamp()))]}
    refused(api.post("event/track/", body), 40002, "event_source_id: is required")
    refused(api.post("oauth2/access_token/", {"app_id": APP_ID}, token=None), 40002, "secret: is required")


def test_wrong_types(api: Api, hashed_ids, audience: str) -> None:
    refused(
        get_audience(api, custom_audience_ids=[audience], history_size="ten"), 40002, "history_size: must be an integer"
    )
    # A JSON body must carry JSON types: "30" is text, not an integer (the definitions forbid numbers as text).
    refused(
        create(api, [path_of(api, hashed_ids(3))], retention_in_days="30"),
        40002,
        "retention_in_days: must be an integer",
    )
    refused(create(api, [path_of(api, hashed_ids(3))], audience_enhancement="yes"), 40002, "audience_enhancement")
    refused(api.get("advertiser/info/", {"advertiser_ids": '{"a": 1}'}), 40002, "advertiser_ids: must be a JSON array")
    refused(api.get("advertiser/info/", {"advertiser_ids": "[not json"}), 40002, "advertiser_ids: must be valid JSON")


def test_enums(api: Api, hashed_ids) -> None:
    # MAID_* upload types are aliases of FIRST_*: accepted by upload, not by create, which takes FIRST_*.
    maid = path_of(api, hashed_ids(3), calculate_type="MAID_SHA256")
    refused(create(api, [maid], calculate_type="MAID_SHA256"), 40002, "calculate_type: must be one of EMAIL_SHA256")
    assert create(api, [maid], calculate_type="FIRST_SHA256")["code"] == 0
    refused(
        create(api, [maid], calculate_type="FIRST_SHA256", audience_sub_type="LOOKALIKE"), 40002, "audience_sub_type"
    )
    refused(upload(api, hashed_ids(3), calculate_type="EMAIL"), 40002, "calculate_type: must be one of")
    day = str(advertiser_today(ADVERTISER_A, FIXED_NOW) - timedelta(days=2))
    report = {
        "advertiser_id": ADVERTISER_A,
        "report_type": "BASIC",
        "data_level": "AUCTION_AD",
        "dimensions": '["ad_id"]',
        "start_date": day,
        "end_date": day,
    }
    refused(api.get("report/integrated/get/", {**report, "order_type": "UP"}), 40002, "order_type: must be one of ASC")
    refused(api.get("report/integrated/get/", {**report, "query_mode": "FAST"}), 40002, "query_mode: must be one of")
    refused(api.get("report/integrated/get/", {**report, "service_type": "X"}), 40002, "service_type: must be one of")
    bad_filter = [{"field_name": "ad_status", "filter_type": "EQUALS", "filter_value": '["STATUS_ALL"]'}]
    refused(
        api.get("report/integrated/get/", {**report, "filtering": json.dumps(bad_filter)}),
        40002,
        "filtering.0.filter_type: must be one of BETWEEN",
    )
    no_value = [{"field_name": "ad_status", "filter_type": "IN"}]
    refused(
        api.get("report/integrated/get/", {**report, "filtering": json.dumps(no_value)}),
        40002,
        "filtering.0.filter_value: is required",
    )
    list_value = [{"field_name": "ad_status", "filter_type": "IN", "filter_value": ["STATUS_ALL"]}]
    refused(
        api.get("report/integrated/get/", {**report, "filtering": json.dumps(list_value)}),
        40002,
        "filtering.0.filter_value: must be a string",
    )
    refused(
        api.get("ad/get/", {"advertiser_id": ADVERTISER_A, "filtering": '{"primary_status": "GONE"}'}),
        40002,
        "filtering.primary_status",
    )
    assert (
        api.get("ad/get/", {"advertiser_id": ADVERTISER_A, "filtering": '{"primary_status": "STATUS_FROZEN"}'})["code"]
        == 0
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"history_size": 0}, "history_size: must be between 1 and 100"),
        ({"history_size": 101}, "history_size: must be between 1 and 100"),
    ],
    ids=["history-size-0", "history-size-101"],
)
def test_numeric_ranges_of_get(api: Api, audience: str, params: dict, message: str) -> None:
    refused(get_audience(api, custom_audience_ids=[audience], **params), 40002, message)


def test_numeric_ranges(api: Api, hashed_ids, audience: str) -> None:
    for size in (1, 100):
        assert get_audience(api, custom_audience_ids=[audience], history_size=size)["code"] == 0
    listing = {"advertiser_id": ADVERTISER_A}
    refused(api.get("dmp/custom_audience/list/", {**listing, "page": 0}), 40002, "page: must be at least 1")
    refused(
        api.get("dmp/custom_audience/list/", {**listing, "page_size": 101}),
        40002,
        "page_size: must be between 1 and 100",
    )
    refused(api.get("ad/get/", {**listing, "page_size": 1001}), 40002, "page_size: must be between 1 and 1000")
    path = path_of(api, hashed_ids(3))
    refused(create(api, [path], retention_in_days=0), 40002, "retention_in_days: must be between 1 and 365")
    refused(create(api, [path], retention_in_days=366), 40002, "retention_in_days: must be between 1 and 365")
    assert create(api, [path], retention_in_days=365)["code"] == 0


def test_string_lengths(api: Api, hashed_ids) -> None:
    path = path_of(api, hashed_ids(3))
    assert len(path) == 16
    assert path == path.lower()
    assert int(path, 16) >= 0  # 16 lower-case hex characters
    refused(create(api, [path], name=""), 40002, "custom_audience_name: must be between 1 and 128 characters long")
    refused(create(api, [path], name="x" * 129), 40002, "custom_audience_name: must be between 1 and 128 characters")
    assert create(api, [path], name="x" * 128)["code"] == 0
    refused(create(api, [path, path[:15]]), 40002, "file_paths.1: must be exactly 16 characters long")
    refused(create(api, [path + "0"]), 40002, "file_paths.0: must be exactly 16 characters long")


def test_item_counts(api: Api, emulator, audience: str) -> None:
    many = [str(10**18 + i) for i in range(101)]
    refused(
        get_audience(api, custom_audience_ids=many),
        40002,
        "custom_audience_ids: must hold between 1 and 100 items, got 101",
    )
    refused(
        get_audience(api, custom_audience_ids=[]),
        40002,
        "custom_audience_ids: must hold between 1 and 100 items, got 0",
    )
    delete = {"advertiser_id": ADVERTISER_A, "custom_audience_ids": []}
    refused(api.post("dmp/custom_audience/delete/", delete), 40002, "custom_audience_ids: must hold between 1 and 100")
    refused(create(api, []), 40002, "file_paths: must hold between 1 and 500 items, got 0")
    now = int(emulator.state.now().timestamp())
    refused(api.post("event/track/", batch(now, [])), 40061, "data: must hold between 1 and 1000 items, got 0")


def test_int64_ids(api: Api, audience: str) -> None:
    refused(
        get_audience(api, advertiser_id="7000-0001", custom_audience_ids=[audience]),
        40002,
        "advertiser_id: must be an int64 id (digits only)",
    )
    refused(
        get_audience(api, custom_audience_ids=[audience, "aud-1"]), 40002, "custom_audience_ids.1: must be an int64 id"
    )
    refused(get_audience(api, custom_audience_ids=[str(2**63)]), 40002, "custom_audience_ids.0: must be an int64 id")
    refused(
        api.get("advertiser/info/", {"advertiser_ids": '["adv-1"]'}), 40002, "advertiser_ids.0: must be an int64 id"
    )
    as_numbers = get_audience(api, custom_audience_ids=[int(audience)])  # JSON numbers convert as well
    assert as_numbers["code"] == 0
    assert as_numbers["data"]["list"][0]["audience_details"]["audience_id"] == audience
    rename = {"advertiser_id": ADVERTISER_A, "custom_audience_id": "x1", "custom_audience_name": "n"}
    refused(api.post("dmp/custom_audience/update/", rename), 40002, "custom_audience_id: must be an int64 id")


def test_update_needs_a_name_or_files_and_a_known_action(api: Api, emulator, audience: str, hashed_ids) -> None:
    before = emulator.state.audience_calls_today(audience)
    refused(update(api, audience, None, None), 40002, "custom_audience_name, file_paths: one of them is required")
    refused(
        update(api, audience, [path_of(api, hashed_ids(3))], "MERGE"),
        40002,
        "action: must be one of REPLACE, APPEND, REMOVE",
    )
    # As before the strict checks, a refused update that names an existing audience spends one of its daily calls.
    assert emulator.state.audience_calls_today(audience) == before + 2


def test_event_conditional_requirements(api: Api, emulator) -> None:
    now = int(emulator.state.now().timestamp())
    app_event = event(now, user={"idfa": "IDFA-1", "att_status": "AUTHORIZED"})
    app_event.pop("page")
    refused(
        api.post("event/track/", batch(now, [app_event], "app")),
        40002,
        "data.0.app: is required when event_source is app",
    )
    app_event["app"] = {"app_name": "Shop"}
    refused(api.post("event/track/", batch(now, [app_event], "app")), 40002, "data.0.app.app_id: is required")
    app_event["app"]["app_id"] = "com.example.shop"
    assert api.post("event/track/", batch(now, [app_event], "app"))["code"] == 0
    app_event["user"]["att_status"] = "YES"
    refused(
        api.post("event/track/", batch(now, [app_event], "app")),
        40002,
        "data.0.user.att_status: must be one of AUTHORIZED",
    )

    crm_event = event(now)
    refused(
        api.post("event/track/", batch(now, [crm_event], "crm")),
        40002,
        "data.0.lead: is required when event_source is crm",
    )
    crm_event["lead"] = {"lead_event_source": "HubSpot"}
    refused(api.post("event/track/", batch(now, [crm_event], "crm")), 40002, "data.0.lead.lead_id: is required")
    crm_event["lead"]["lead_id"] = "lead-42"
    assert api.post("event/track/", batch(now, [crm_event], "crm"))["code"] == 0
    assert api.post("event/track/", batch(now, [event(now, 7)]))["code"] == 0  # web needs neither


def test_hashed_identifiers_as_strings_or_lists_never_echoed(api: Api, emulator) -> None:
    now = int(emulator.state.now().timestamp())
    listed = event(now, user={"email": [sha256("a@example.com"), sha256("b@example.com")], "phone": [sha256("+1")]})
    assert api.post("event/track/", batch(now, [listed]))["code"] == 0
    clear = event(now, 1, user={"email": "someone.private@example.com"})
    answer = api.post("event/track/", batch(now, [clear]))
    refused(answer, 40062, "data.0.user.email")
    assert "someone.private" not in answer["message"]
    secret_name = "Top customers of Jane Q. Private " + "x" * 120
    answer = create(api, ["0123456789abcdef"], name=secret_name)
    refused(answer, 40002, "custom_audience_name: must be between 1 and 128")
    assert "Jane" not in answer["message"]


def test_invalid_price_answers_40000_naming_the_row_field(api: Api, emulator) -> None:
    now = int(emulator.state.now().timestamp())
    events = [event(now, i) for i in range(5)]
    events[3]["properties"]["contents"][0]["price"] = -1
    refused(
        api.post("event/track/", batch(now, events)), 40000, "Invalid Price Field: data.3.properties.contents.0.price"
    )
    events[3]["properties"]["contents"][0]["price"] = 6.25
    events[2]["properties"]["value"] = "twelve"
    answer = api.post("event/track/", batch(now, events))
    assert (answer["code"], answer["message"]) == (40000, "Invalid Price Field: data.2.properties.value")
    assert emulator.state.event_summary(PIXEL)["unique"] == 0
    emulator.state.settings.event_errors_without_index = True
    answer = api.post("event/track/", batch(now, events))
    assert (answer["code"], answer["message"]) == (40000, "Invalid Price Field: properties.value")
    emulator.state.settings.event_errors_without_index = False
    emulator.state.settings.partial_success_events = True
    answer = api.post("event/track/", batch(now, events))
    assert answer["code"] == 20001
    assert [(f["index"], f["code"], f["message"]) for f in answer["data"]["failed_events"]] == [
        (2, 40000, "Invalid Price Field: data.2.properties.value")
    ]
    assert emulator.state.event_summary(PIXEL)["unique"] == 4
    events[2]["properties"]["value"] = 0  # zero is a price
    assert api.post("event/track/", batch(now, events))["code"] == 0


def test_upload_accepts_name_file_name_and_context_info(api: Api, hashed_ids) -> None:
    lines = hashed_ids(3)
    content = "\n".join(lines).encode()
    import hashlib

    form = {
        "advertiser_id": ADVERTISER_A,
        "calculate_type": "EMAIL_SHA256",
        "file_signature": hashlib.md5(content).hexdigest(),
        "name": "cohort.txt",
        "context_info": '{"core_user_id": 7300000000000000001}',
    }
    files = {"file": ("upload.bin", content, "text/plain")}
    answer = api.post("dmp/custom_audience/file/upload/", data=form, files=files)
    assert answer["code"] == 0, answer
    refused(
        api.post("dmp/custom_audience/file/upload/", data={**form, "name": "cohort.xlsx"}, files=files),
        40908,
        "file: must be a .csv or .txt file",
    )
    missing = {k: v for k, v in form.items() if k != "file_signature"}
    refused(
        api.post("dmp/custom_audience/file/upload/", data=missing, files=files), 40002, "file_signature: is required"
    )
    refused(api.post("dmp/custom_audience/file/upload/", data=form), 40002, "file: is required")


def test_refused_requests_are_answered_as_refused_in_the_stats(api: Api, emulator) -> None:
    api.get(GET, {"advertiser_id": ADVERTISER_A, "custom_audience_ids": "[]"})
    stats = requests.get(f"{emulator.url}/_emulator/stats", timeout=5).json()
    assert stats["codes"] == {"40002": 1}
