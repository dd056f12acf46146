"""Events API 2.0 on the emulator: validation, batch limits, de-duplication, partial success and speed."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import pytest
import requests

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, API_PREFIX
from tests.helpers.emulator_api import Api, sha256

pytestmark = pytest.mark.integration

PIXEL = "CEMULATORPIXEL0001"
DAY = 86_400


def event(now: int, i: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid web Purchase event ``i`` at emulator time ``now``."""
    body = {
        "event": "Purchase",
        "event_time": now - 60,
        "event_id": f"evt{i:033d}",
        "user": {"email": sha256(f"user{i}@example.com"), "ip": "203.0.113.7", "user_agent": "Mozilla/5.0"},
        "properties": {
            "currency": "USD",
            "value": 12.5,
            "contents": [{"content_id": "sku1", "price": 6.25, "quantity": 2}],
        },
        "page": {"url": "https://demo-store.example.com/checkout"},
    }
    body.update(overrides)
    return body


def batch(now: int, events: list[dict[str, Any]], source: str = "web") -> dict[str, Any]:
    """An event/track body for the test pixel."""
    return {"event_source": source, "event_source_id": PIXEL, "data": events}


@pytest.fixture
def now(emulator) -> int:
    """The emulator clock in Unix seconds."""
    return int(emulator.state.now().timestamp())


def test_valid_batch_is_stored_once_per_event_id(api: Api, emulator, now: int) -> None:
    events = [event(now, i) for i in range(3)]
    first = api.post("event/track/", batch(now, events))
    assert first["code"] == 0
    assert first["message"] == "OK"
    # A retried batch (same event ids) is counted per receipt but de-duplicated.
    assert api.post("event/track/", batch(now, events[:2]))["code"] == 0
    summary = requests.get(f"{emulator.url}/_emulator/events", params={"event_source_id": PIXEL}, timeout=5).json()
    assert summary["unique"] == 3
    assert summary["receipts"] == {events[0]["event_id"]: 2, events[1]["event_id"]: 2, events[2]["event_id"]: 1}


def test_1001_events_reject_the_whole_request(api: Api, emulator, now: int) -> None:
    answer = api.post("event/track/", batch(now, [event(now, i) for i in range(1001)]))
    assert answer["code"] == 40061
    assert "1001" in answer["message"]
    assert emulator.state.event_summary(PIXEL)["unique"] == 0
    assert api.post("event/track/", batch(now, []))["code"] == 40061
    assert api.post("event/track/", batch(now, [event(now, i) for i in range(1000)]))["code"] == 0


@pytest.mark.parametrize(
    ("age_seconds", "code"),
    [(28 * DAY - 10, 0), (28 * DAY + 10, 40002), (-290, 0), (-310, 40002)],
    ids=["27.99-days-old", "28-days-and-10s-old", "in-290s", "in-310s"],
)
def test_event_time_window(api: Api, now: int, age_seconds: int, code: int) -> None:
    answer = api.post("event/track/", batch(now, [event(now, event_time=now - age_seconds)]))
    assert answer["code"] == code, answer
    if code:
        assert "data.0.event_time" in answer["message"]


def test_one_bad_event_fails_the_batch_naming_the_field(api: Api, emulator, now: int) -> None:
    events = [event(now, i) for i in range(20)]
    events[12]["properties"]["currency"] = "USX"
    answer = api.post("event/track/", batch(now, events))
    assert answer["code"] == 40002
    assert "data.12.properties.currency" in answer["message"]
    assert emulator.state.event_summary(PIXEL)["total_receipts"] == 0

    emulator.state.settings.event_errors_without_index = True
    answer = api.post("event/track/", batch(now, events))
    assert answer["code"] == 40002
    assert "properties.currency" in answer["message"]
    assert "data.12" not in answer["message"]


@pytest.mark.parametrize(
    ("mutate", "code", "field"),
    [
        (lambda e: e["user"].update(email="Someone@Example.com"), 40062, "data.0.user.email"),
        (lambda e: e["user"].update(phone=sha256("+14155552671").upper()), 40062, "data.0.user.phone"),
        (lambda e: e["user"].update(external_id=["ab" * 32, "not-hashed"]), 40062, "data.0.user.external_id"),
        (lambda e: e.update(user={"ip": "203.0.113.7"}), 40002, "data.0.user"),
        (lambda e: e.pop("page"), 40002, "data.0.page.url"),
        (lambda e: e.update(event=""), 40002, "data.0.event"),
        (lambda e: e.update(event_time=str(e["event_time"])), 40002, "data.0.event_time"),
        (lambda e: e.update(event_time=e["event_time"] + 0.5), 40002, "data.0.event_time"),
        (lambda e: e["properties"].update(value="12.50"), 40000, "Invalid Price Field: data.0.properties.value"),
        (lambda e: e["properties"]["contents"][0].update(quantity=1.5), 40002, "data.0.properties.contents.0.quantity"),
        (
            lambda e: e["properties"]["contents"][0].update(price="6.25"),
            40000,
            "Invalid Price Field: data.0.properties.contents.0.price",
        ),
    ],
    ids=[
        "email-clear",
        "phone-upper-hex",
        "external-id-list",
        "no-identity",
        "no-page-url",
        "empty-name",
        "time-string",
        "time-float",
        "value-string",
        "quantity-float",
        "price-string",
    ],
)
def test_per_event_rules(api: Api, now: int, mutate, code: int, field: str) -> None:
    bad = event(now)
    mutate(bad)
    answer = api.post("event/track/", batch(now, [event(now, 1), bad]))
    assert answer["code"] == code, answer
    assert field.replace("data.0", "data.1") in answer["message"]


def test_source_specific_identity_rules(api: Api, now: int) -> None:
    offline = event(now, user={"external_id": sha256("crm-42")})
    offline.pop("page")
    answer = api.post("event/track/", batch(now, [offline], source="offline"))
    assert answer["code"] == 40002
    assert "data.0.user" in answer["message"]
    offline["user"]["phone"] = sha256("+14155552671")
    assert api.post("event/track/", batch(now, [offline], source="offline"))["code"] == 0
    app_event = event(now, user={})
    app_event.pop("page")
    no_app = api.post("event/track/", batch(now, [app_event], source="app"))
    assert no_app["code"] == 40002
    assert "data.0.app: is required when event_source is app" in no_app["message"]
    app_event["app"] = {"app_id": "com.example.shop", "app_name": "Shop", "app_version": "2.1"}
    assert api.post("event/track/", batch(now, [app_event], source="app"))["code"] == 0
    assert api.post("event/track/", batch(now, [app_event], source="email"))["code"] == 40002
    assert api.post("event/track/", {"event_source": "web", "data": [event(now)]})["code"] == 40002


def test_partial_success_details(api: Api, emulator, now: int) -> None:
    emulator.state.settings.partial_success_events = True
    events = [event(now, i) for i in range(5)]
    events[1]["user"]["email"] = "clear@example.com"
    events[3]["properties"]["currency"] = "euro"
    answer = api.post("event/track/", batch(now, events))
    assert answer["code"] == 20001
    failed = answer["data"]["failed_events"]
    assert [(f["index"], f["event_id"], f["code"]) for f in failed] == [
        (1, events[1]["event_id"], 40062),
        (3, events[3]["event_id"], 40002),
    ]
    assert "data.3.properties.currency" in failed[1]["message"]
    assert set(emulator.state.event_summary(PIXEL)["receipts"]) == {events[i]["event_id"] for i in (0, 2, 4)}
    # All rows bad: still rejected as a whole.
    assert api.post("event/track/", batch(now, [events[1]]))["code"] == 40062


def test_a_thousand_event_batch_costs_the_emulator_linear_time(emulator, now: int) -> None:
    """A 1,000-event batch takes at most 20 times a 100-event one (linear: at most 10, plus noise), measured in
    turns in the same run, so a slow or loaded machine cannot fail it but a validation gone quadratic does."""
    session = requests.Session()
    url = f"{emulator.url}{API_PREFIX}/event/track/"
    headers = {"Access-Token": ACCESS_TOKEN, "Content-Type": "application/json"}
    small = json.dumps(batch(now, [event(now, 10_000 + i) for i in range(100)])).encode()
    body = json.dumps(batch(now, [event(now, i) for i in range(1000)])).encode()
    timings: dict[bytes, list[float]] = {small: [], body: []}
    for _ in range(7):
        for payload, times in timings.items():
            started = time.perf_counter()
            answer = session.post(url, data=payload, headers=headers, timeout=10).json()
            times.append((time.perf_counter() - started) * 1000)
            assert answer["code"] == 0
    median, small_median = statistics.median(timings[body]), statistics.median(timings[small])
    print(f"\n1,000-event event/track round trip: median {median:.1f} ms; 100 events: {small_median:.1f} ms")
    assert median <= 20 * small_median
    assert emulator.state.event_summary(PIXEL) | {"receipts": None} == {
        "event_source_id": PIXEL,
        "receipts": None,
        "unique": 1100,
        "total_receipts": 7700,
        "without_event_id": 0,
    }
