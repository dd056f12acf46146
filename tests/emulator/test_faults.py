"""Fault injection: rule syntax, rate/count selection, locks, rate limits, HTTP 5xx, resets and latency."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A, API_PREFIX
from airflow_provider_tiktok.emulator.faults import FaultRule, Faults
from tests.emulator.test_events import PIXEL, event
from tests.helpers.emulator_api import Api

AD_GET = {"advertiser_id": ADVERTISER_A}
PATH = "/open_api/v1.3/ad/get/"


@pytest.mark.unit
def test_rule_spec_parsing() -> None:
    rule = FaultRule.parse("path=event/track,kind=code,code=40133,rate=0.2")
    assert (rule.path, rule.kind, rule.code, rule.rate, rule.count) == ("event/track", "code", 40133, 0.2, None)
    assert FaultRule.parse("kind=lock,seconds=2.5").lock_seconds == 2.5
    assert FaultRule.parse("kind=delay,ms=40,count=3").delay_ms == 40
    for bad in ("kind=explode", "path=x,colour=red", "kind=code,rate=1.5", "kind=http,status=200", "code"):
        with pytest.raises(ValueError, match="fault"):
            FaultRule.parse(bad)


@pytest.mark.unit
def test_count_rate_and_lock_selection_on_synthetic_time() -> None:
    faults = Faults(seed=1)
    faults.add("path=ad/get,kind=code,code=50000,count=2")
    answers = [faults.evaluate(PATH, 0.0)[1] for _ in range(3)]
    assert [a.code if a else 0 for a in answers] == [50000, 50000, 0]
    assert faults.evaluate("/open_api/v1.3/report/integrated/get/", 0.0)[1] is None

    faults.clear()
    faults.add({"kind": "code", "code": 40100, "rate": 0.25})
    hits = sum(faults.evaluate(PATH, 0.0)[1] is not None for _ in range(2000))
    assert 400 < hits < 600

    faults.clear()
    faults.add("kind=lock,seconds=300,count=1")
    assert faults.evaluate(PATH, 10.0)[1].code == 40100
    assert faults.evaluate("/open_api/v1.3/event/track/", 309.9)[1].code == 40100  # everything is locked
    assert faults.evaluate(PATH, 310.1)[1] is None
    faults.lock(5, path="report", now=400.0)
    assert faults.evaluate("/open_api/v1.3/report/integrated/get/", 404.0)[1].code == 40100
    assert faults.evaluate(PATH, 404.0)[1] is None


@pytest.mark.unit
def test_rate_limit_enforcement_on_synthetic_time() -> None:
    faults = Faults(seed=1)
    faults.set_rate_limit(qps=10, per_minute=30, lock_seconds=300)
    assert all(faults.evaluate(PATH, 0.01 * i)[1] is None for i in range(10))
    assert faults.evaluate(PATH, 0.5)[1].code == 40100  # 11th within a second
    assert faults.evaluate(PATH, 299.0)[1].code == 40100  # locked for 300 s
    assert faults.evaluate("/open_api/v1.3/event/track/", 299.0)[1] is None  # Events API has its own limit
    assert faults.evaluate(PATH, 301.0)[1] is None
    faults.clear()
    faults.set_rate_limit(per_minute=30, lock_seconds=5)
    assert all(faults.evaluate(PATH, 2.0 * i)[1] is None for i in range(30))  # 30 in 58 s
    assert faults.evaluate(PATH, 59.0)[1].code == 40100


@pytest.mark.integration
def test_code_and_count_over_http(api: Api, emulator) -> None:
    emulator.state.faults.add("path=ad/get,kind=code,code=40133,count=2")
    answers = [api.get("ad/get/", AD_GET) for _ in range(3)]
    assert [a["code"] for a in answers] == [40133, 40133, 0]
    assert answers[0]["request_id"]
    assert answers[0]["data"] == {}
    log = [(e["path"], e["code"], e["fault"]) for e in emulator.state.requests()]
    assert log == [(PATH, 40133, "code"), (PATH, 40133, "code"), (PATH, 0, None)]


@pytest.mark.integration
def test_lock_answers_40100_until_cleared(api: Api, emulator) -> None:
    emulator.state.faults.add("path=*,kind=lock,seconds=60,count=1")
    assert api.get("ad/get/", AD_GET)["code"] == 40100
    assert api.get("campaign/get/", AD_GET)["code"] == 40100
    emulator.state.faults.clear()
    assert api.get("ad/get/", AD_GET)["code"] == 0


@pytest.mark.integration
def test_qps_limit_over_http(api: Api, emulator) -> None:
    emulator.state.faults.set_rate_limit(qps=3, lock_seconds=60)
    codes = [api.get("ad/get/", AD_GET)["code"] for _ in range(5)]
    assert codes[:3] == [0, 0, 0]
    assert codes[3:] == [40100, 40100]


@pytest.mark.integration
@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_errors(emulator, status: int) -> None:
    emulator.state.faults.add(f"path=ad/get,kind=http,status={status},count=1")
    url = f"{emulator.url}{API_PREFIX}/ad/get/"
    first = requests.get(url, params=AD_GET, headers={"Access-Token": ACCESS_TOKEN}, timeout=5)
    assert first.status_code == status
    assert not first.headers["content-type"].startswith("application/json")
    assert requests.get(url, params=AD_GET, headers={"Access-Token": ACCESS_TOKEN}, timeout=5).json()["code"] == 0


@pytest.mark.integration
def test_reset_drops_the_connection(emulator) -> None:
    emulator.state.faults.add("path=ad/get,kind=reset,count=1")
    url = f"{emulator.url}{API_PREFIX}/ad/get/"
    session = requests.Session()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(url, params=AD_GET, headers={"Access-Token": ACCESS_TOKEN}, timeout=5)
    assert session.get(url, params=AD_GET, headers={"Access-Token": ACCESS_TOKEN}, timeout=5).json()["code"] == 0


@pytest.mark.integration
def test_delay_and_latency(api: Api, emulator) -> None:
    emulator.state.faults.add("path=ad/get,kind=delay,ms=150,count=1")
    started = time.perf_counter()
    assert api.get("ad/get/", AD_GET)["code"] == 0
    assert time.perf_counter() - started >= 0.15
    emulator.state.faults.latency_ms = 50
    started = time.perf_counter()
    api.get("campaign/get/", AD_GET)
    assert time.perf_counter() - started >= 0.05


@pytest.mark.integration
def test_control_api(api: Api, emulator) -> None:
    url = f"{emulator.url}/_emulator/faults"
    body = {
        "rules": ["path=ad/get,kind=code,code=50000,count=1", {"path": "campaign/get", "kind": "http"}],
        "max_report_days": 5,
        "qps": 100,
    }
    view = requests.post(url, json=body, timeout=5).json()
    assert [r["code"] for r in view["rules"]] == [50000, 40100]
    assert view["max_report_days"] == 5
    assert api.get("ad/get/", AD_GET)["code"] == 50000
    assert requests.get(url, timeout=5).json()["rules"][0]["count"] == 0
    assert requests.post(url, json={"rules": ["kind=nope"]}, timeout=5).status_code == 400
    assert requests.post(url, json={"colour": 1}, timeout=5).status_code == 400
    assert requests.delete(url, timeout=5).json()["rules"] == []
    assert requests.post(url, json={"lock_seconds": 30}, timeout=5).json()["locks"][0]["path"] == "*"
    assert api.get("ad/get/", AD_GET)["code"] == 40100
    requests.delete(url, timeout=5)
    assert api.get("ad/get/", AD_GET)["code"] == 0


@pytest.mark.unit
def test_virtual_seconds_age_locks_and_rate_windows() -> None:
    faults = Faults(seed=1)
    faults.add("kind=lock,seconds=300,count=1")
    assert faults.evaluate(PATH, 1000.0)[1].code == 40100
    faults.advance(299.0)
    assert faults.evaluate(PATH, 1000.5)[1].code == 40100  # 299.5 virtual seconds in
    faults.advance(1.0)
    assert faults.evaluate(PATH, 1000.5)[1] is None  # 300.5 s: the lock is over
    faults.set_rate_limit(per_minute=2, lock_seconds=10)
    assert [faults.evaluate(PATH, 1001.0)[1] for _ in range(2)] == [None, None]
    faults.advance(60.0)
    assert faults.evaluate(PATH, 1001.0)[1] is None  # the minute window forgot the two earlier arrivals
    with pytest.raises(ValueError, match="only be advanced forwards"):
        faults.advance(-1)


@pytest.mark.integration
def test_a_20001_fault_accepts_the_rest_of_the_batch_and_names_the_failed_events(api: Api, emulator) -> None:
    now = int(emulator.state.now().timestamp())
    emulator.state.faults.add("path=event/track,kind=code,code=20001,failed=3,count=1")
    events = [event(now, i) for i in range(10)]
    answer = api.post("event/track/", {"event_source": "web", "event_source_id": PIXEL, "data": events})
    assert answer["code"] == 20001
    assert answer["message"] == "Partial success: 3 of 10 events were rejected."
    assert answer["data"]["failed_events"] == [
        {
            "index": i,
            "event_id": events[i]["event_id"],
            "code": 40002,
            "message": f"data.{i}: rejected by an injected partial-success fault",
        }
        for i in (0, 3, 6)
    ]
    assert emulator.state.event_summary(PIXEL)["receipts"] == {events[i]["event_id"]: 1 for i in (1, 2, 4, 5, 7, 8, 9)}
    assert [(e["code"], e["fault"]) for e in emulator.state.requests()] == [(20001, "code")]
    # Once the rule is spent the same batch is accepted whole (the 7 earlier ones de-duplicated by event_id).
    assert api.post("event/track/", {"event_source": "web", "event_source_id": PIXEL, "data": events})["code"] == 0


@pytest.mark.integration
def test_a_20001_fault_merges_with_the_rows_the_emulator_refuses_itself(api: Api, emulator) -> None:
    now = int(emulator.state.now().timestamp())
    emulator.state.settings.partial_success_events = True
    emulator.state.faults.add("path=event/track,kind=code,code=20001,failed=1,count=1")
    events = [event(now, i) for i in range(4)]
    events[2]["event_time"] = now - 40 * 86_400  # too old: refused by validation, at index 1 of the rest
    answer = api.post("event/track/", {"event_source": "web", "event_source_id": PIXEL, "data": events})
    failed = answer["data"]["failed_events"]
    assert [(f["index"], f["event_id"], f["code"]) for f in failed] == [
        (0, events[0]["event_id"], 40002),
        (2, events[2]["event_id"], 40002),
    ]
    assert failed[1]["message"] == "Invalid value for data.2.event_time: is older than 28 days"
    assert sorted(emulator.state.event_summary(PIXEL)["receipts"]) == [events[1]["event_id"], events[3]["event_id"]]


@pytest.mark.integration
def test_a_20001_fault_failing_every_event_rejects_the_batch(api: Api, emulator) -> None:
    now = int(emulator.state.now().timestamp())
    emulator.state.faults.add("path=event/track,kind=code,code=20001,failed=5,count=1")
    answer = api.post("event/track/", {"event_source": "web", "event_source_id": PIXEL, "data": [event(now, 1)]})
    assert answer["code"] == 40002
    assert emulator.state.event_summary(PIXEL)["unique"] == 0


@pytest.mark.integration
def test_a_20001_fault_elsewhere_is_answered_without_processing(api: Api, emulator) -> None:
    emulator.state.faults.add("path=ad/get,kind=code,code=20001,count=1")
    answer = api.get("ad/get/", AD_GET)
    assert (answer["code"], answer["data"]) == (20001, {})
    assert api.get("ad/get/", AD_GET)["data"]["list"]
    with pytest.raises(ValueError, match="must be >= 1"):
        FaultRule.parse("kind=code,code=20001,failed=0")


@pytest.mark.integration
def test_a_request_delayed_past_the_client_timeout_is_still_processed(emulator) -> None:
    now = int(emulator.state.now().timestamp())
    emulator.state.faults.add("path=event/track,kind=delay,ms=400,count=1")
    url = f"{emulator.url}{API_PREFIX}/event/track/"
    body = {"event_source": "web", "event_source_id": PIXEL, "data": [event(now, 7)]}
    with pytest.raises(requests.Timeout):
        requests.post(url, json=body, headers={"Access-Token": ACCESS_TOKEN}, timeout=0.1)
    deadline = time.monotonic() + 5
    while not emulator.state.requests() and time.monotonic() < deadline:
        time.sleep(0.02)
    [entry] = emulator.state.requests()
    assert (entry["code"], entry["fault"]) == (0, "delay")
    assert entry["t"] - entry["arrived"] >= 0.39  # wall clock vs the event loop's monotonic one
    assert emulator.state.event_summary(PIXEL)["receipts"] == {event(now, 7)["event_id"]: 1}


@pytest.mark.integration
def test_an_http_fault_carries_the_request_id_header(emulator) -> None:
    emulator.state.faults.add("path=ad/get,kind=http,status=502,count=1")
    answer = requests.get(
        f"{emulator.url}{API_PREFIX}/ad/get/", params=AD_GET, headers={"Access-Token": ACCESS_TOKEN}, timeout=5
    )
    [entry] = emulator.state.requests()
    assert answer.status_code == 502
    assert answer.headers["X-Tt-Logid"] == entry["request_id"]


@pytest.mark.integration
def test_reset_waits_for_a_delayed_request_so_it_cannot_land_in_the_fresh_state(emulator) -> None:
    now = int(emulator.state.now().timestamp())
    emulator.state.faults.add("path=event/track,kind=delay,ms=300,count=1")
    url = f"{emulator.url}{API_PREFIX}/event/track/"
    body = {"event_source": "web", "event_source_id": PIXEL, "data": [event(now, 8)]}
    with pytest.raises(requests.Timeout):
        requests.post(url, json=body, headers={"Access-Token": ACCESS_TOKEN}, timeout=0.05)
    assert emulator.state.in_flight == 1
    emulator.reset()
    assert emulator.state.in_flight == 0
    time.sleep(0.05)
    assert emulator.state.event_summary(PIXEL)["unique"] == 0
    assert emulator.state.requests() == []
