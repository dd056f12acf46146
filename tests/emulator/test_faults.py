"""Fault injection: rule syntax, rate/count selection, locks, rate limits, HTTP 5xx, resets and latency."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A, API_PREFIX
from airflow_provider_tiktok.emulator.faults import FaultRule, Faults
from tests.emulator.conftest import Api

AD_GET = {"advertiser_id": ADVERTISER_A}
PATH = "/open_api/v1.3/ad/get/"


def test_rule_spec_parsing() -> None:
    rule = FaultRule.parse("path=event/track,kind=code,code=40133,rate=0.2")
    assert (rule.path, rule.kind, rule.code, rule.rate, rule.count) == ("event/track", "code", 40133, 0.2, None)
    assert FaultRule.parse("kind=lock,seconds=2.5").lock_seconds == 2.5
    assert FaultRule.parse("kind=delay,ms=40,count=3").delay_ms == 40
    for bad in ("kind=explode", "path=x,colour=red", "kind=code,rate=1.5", "kind=http,status=200", "code"):
        with pytest.raises(ValueError):
            FaultRule.parse(bad)


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


def test_code_and_count_over_http(api: Api, emulator) -> None:
    emulator.state.faults.add("path=ad/get,kind=code,code=40133,count=2")
    answers = [api.get("ad/get/", AD_GET) for _ in range(3)]
    assert [a["code"] for a in answers] == [40133, 40133, 0]
    assert answers[0]["request_id"] and answers[0]["data"] == {}
    log = [(e["path"], e["code"], e["fault"]) for e in emulator.state.requests()]
    assert log == [(PATH, 40133, "code"), (PATH, 40133, "code"), (PATH, 0, None)]


def test_lock_answers_40100_until_cleared(api: Api, emulator) -> None:
    emulator.state.faults.add("path=*,kind=lock,seconds=60,count=1")
    assert api.get("ad/get/", AD_GET)["code"] == 40100
    assert api.get("campaign/get/", AD_GET)["code"] == 40100
    emulator.state.faults.clear()
    assert api.get("ad/get/", AD_GET)["code"] == 0


def test_qps_limit_over_http(api: Api, emulator) -> None:
    emulator.state.faults.set_rate_limit(qps=3, lock_seconds=60)
    codes = [api.get("ad/get/", AD_GET)["code"] for _ in range(5)]
    assert codes[:3] == [0, 0, 0] and codes[3:] == [40100, 40100]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_errors(emulator, status: int) -> None:
    emulator.state.faults.add(f"path=ad/get,kind=http,status={status},count=1")
    url = f"{emulator.url}{API_PREFIX}/ad/get/"
    first = requests.get(url, params=AD_GET, headers={"Access-Token": ACCESS_TOKEN}, timeout=5)
    assert first.status_code == status and not first.headers["content-type"].startswith("application/json")
    assert requests.get(url, params=AD_GET, headers={"Access-Token": ACCESS_TOKEN}, timeout=5).json()["code"] == 0


def test_reset_drops_the_connection(emulator) -> None:
    emulator.state.faults.add("path=ad/get,kind=reset,count=1")
    url = f"{emulator.url}{API_PREFIX}/ad/get/"
    session = requests.Session()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(url, params=AD_GET, headers={"Access-Token": ACCESS_TOKEN}, timeout=5)
    assert session.get(url, params=AD_GET, headers={"Access-Token": ACCESS_TOKEN}, timeout=5).json()["code"] == 0


def test_delay_and_latency(api: Api, emulator) -> None:
    emulator.state.faults.add("path=ad/get,kind=delay,ms=150,count=1")
    started = time.perf_counter()
    assert api.get("ad/get/", AD_GET)["code"] == 0
    assert time.perf_counter() - started >= 0.15
    emulator.state.faults.latency_ms = 50
    started = time.perf_counter()
    api.get("campaign/get/", AD_GET)
    assert time.perf_counter() - started >= 0.05


def test_control_api(api: Api, emulator) -> None:
    url = f"{emulator.url}/_emulator/faults"
    body = {
        "rules": ["path=ad/get,kind=code,code=50000,count=1", {"path": "campaign/get", "kind": "http"}],
        "max_report_days": 5,
        "qps": 100,
    }
    view = requests.post(url, json=body, timeout=5).json()
    assert [r["code"] for r in view["rules"]] == [50000, 40100] and view["max_report_days"] == 5
    assert api.get("ad/get/", AD_GET)["code"] == 50000
    assert requests.get(url, timeout=5).json()["rules"][0]["count"] == 0
    assert requests.post(url, json={"rules": ["kind=nope"]}, timeout=5).status_code == 400
    assert requests.post(url, json={"colour": 1}, timeout=5).status_code == 400
    assert requests.delete(url, timeout=5).json()["rules"] == []
    assert requests.post(url, json={"lock_seconds": 30}, timeout=5).json()["locks"][0]["path"] == "*"
    assert api.get("ad/get/", AD_GET)["code"] == 40100
    requests.delete(url, timeout=5)
    assert api.get("ad/get/", AD_GET)["code"] == 0
