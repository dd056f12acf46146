"""Audience semantics from TikTok's definitions: expiry with and without ``retention_in_days``, matched users
(``cover_num``) at a match rate below 1, the 1,000 minimum judged on them, and ``user/info/``."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
import requests

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, API_PREFIX, USER_ID
from airflow_provider_tiktok.emulator.__main__ import build_state, parse_args
from airflow_provider_tiktok.emulator.state import EmulatorState
from tests.emulator.test_audiences import create, details, members, path_of, update
from tests.helpers.emulator_api import FIXED_NOW, Api

DAY = 86_400
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def matched(ids: list[str], rate: float) -> list[str]:
    """The ids the emulator's documented rule matches: the first 8 hex digits of SHA-256(id) / 2**32 < rate."""
    return [i for i in ids if int(hashlib.sha256(i.encode()).hexdigest()[:8], 16) / 2**32 < rate]


def at(moment: datetime) -> str:
    """TikTok's time format."""
    return moment.strftime(TIME_FORMAT)


@pytest.mark.integration
def test_retention_given_counts_from_creation_and_nothing_resets_it(api: Api, emulator, hashed_ids) -> None:
    answer = create(api, [path_of(api, hashed_ids(1500))], retention_in_days=30)
    audience = answer["data"]["custom_audience_id"]
    info = details(api, audience)["audience_details"]
    assert (info["expired_time"], info["is_expiring"], info["is_valid"]) == (
        at(FIXED_NOW + timedelta(days=30)),
        False,
        True,
    )
    emulator.state.advance_clock(10 * DAY)
    assert update(api, audience, [path_of(api, hashed_ids(10, start=5000))], "APPEND")["code"] == 0
    assert update(api, audience, None, None, custom_audience_name="Renamed")["code"] == 0
    assert details(api, audience)["audience_details"]["expired_time"] == at(FIXED_NOW + timedelta(days=30))
    emulator.state.advance_clock(14 * DAY)  # 6 days left
    assert details(api, audience)["audience_details"]["is_expiring"] is True
    emulator.state.advance_clock(6 * DAY)
    info = details(api, audience)["audience_details"]
    assert (info["is_expiring"], info["is_valid"]) == (True, False)
    assert "expired" in info["msg"]
    assert "is_expired" not in info  # TikTok's fields are is_expiring and expired_time


@pytest.mark.integration
def test_retention_omitted_expires_365_days_after_the_last_update(api: Api, emulator, hashed_ids) -> None:
    audience = create(api, [path_of(api, hashed_ids(1500))])["data"]["custom_audience_id"]
    assert emulator.state.audiences[audience].retention_in_days is None
    assert details(api, audience)["audience_details"]["expired_time"] == at(FIXED_NOW + timedelta(days=365))
    emulator.state.advance_clock(100 * DAY)
    assert update(api, audience, [path_of(api, hashed_ids(10, start=5000))], "APPEND")["code"] == 0
    updated = FIXED_NOW + timedelta(days=100)
    assert details(api, audience)["audience_details"]["expired_time"] == at(updated + timedelta(days=365))
    emulator.state.advance_clock(DAY)
    refused = update(api, audience, [path_of(api, hashed_ids(600))], "REMOVE")  # 910 would remain: refused
    assert refused["code"] == 40002
    assert details(api, audience)["audience_details"]["expired_time"] == at(updated + timedelta(days=365))
    assert update(api, audience, None, None, custom_audience_name="Renamed")["code"] == 0  # a rename modifies it
    renamed = updated + timedelta(days=1)
    assert details(api, audience)["audience_details"]["expired_time"] == at(renamed + timedelta(days=365))


@pytest.mark.integration
def test_cover_num_counts_matched_users_only(api: Api, emulator, hashed_ids) -> None:
    emulator.state.settings.match_rate = 0.5
    ids = hashed_ids(1800)
    expected = matched(ids, 0.5)
    assert 800 < len(expected) < 1000  # about half
    audience = create(api, [path_of(api, ids)])["data"]["custom_audience_id"]
    info = details(api, audience)["audience_details"]
    assert (info["cover_num"], info["is_valid"]) == (len(expected), False)
    assert "matched" in info["msg"]
    listed = api.get("dmp/custom_audience/list/", {"advertiser_id": emulator.state.audiences[audience].advertiser_id})
    assert listed["data"]["list"][0]["cover_num"] == len(expected)
    assert len(members(emulator, audience)) == 1800  # every uploaded id is kept; only the matched ones count
    requests.post(f"{emulator.url}/_emulator/settings", json={"match_rate": 1}, timeout=5).raise_for_status()
    assert details(api, audience)["audience_details"]["cover_num"] == 1800


@pytest.mark.integration
def test_the_1000_minimum_is_judged_on_matched_users(api: Api, emulator, hashed_ids) -> None:
    rate = 0.5
    requests.post(f"{emulator.url}/_emulator/settings", json={"match_rate": rate}, timeout=5).raise_for_status()
    ids = hashed_ids(2400)
    hits = matched(ids, rate)
    audience = create(api, [path_of(api, ids)])["data"]["custom_audience_id"]
    assert details(api, audience)["audience_details"]["cover_num"] == len(hits) > 1000
    before = members(emulator, audience)
    calls = emulator.state.audience_calls_today(audience)
    too_many = hits[: len(hits) - 999]  # 999 matched users would remain, of 2400 - len(too_many) >= 1000 ids
    assert 2400 - len(too_many) >= 1000
    answer = update(api, audience, [path_of(api, too_many)], "REMOVE")
    assert answer["code"] == 40002
    assert "would hold 999 users" in answer["message"]
    assert "matched users" in answer["message"]
    assert "at least 1000" in answer["message"]
    assert members(emulator, audience) == before  # nothing changed ...
    assert emulator.state.audience_calls_today(audience) == calls + 1  # ... yet the call was spent
    assert update(api, audience, [path_of(api, hits[: len(hits) - 1000])], "REMOVE")["code"] == 0
    info = details(api, audience)["audience_details"]
    assert (info["cover_num"], info["is_valid"]) == (1000, True)
    # APPEND of unmatched ids adds members but no matched users; REPLACE by them alone is refused.
    candidates = hashed_ids(3000, start=10_000)
    hit_set = set(matched(candidates, rate))
    misses = [i for i in candidates if i not in hit_set]
    assert update(api, audience, [path_of(api, misses[:50])], "APPEND")["code"] == 0
    assert details(api, audience)["audience_details"]["cover_num"] == 1000
    refused = update(api, audience, [path_of(api, misses[:1500])], "REPLACE")
    assert (refused["code"], "would hold 0 users" in refused["message"]) == (40002, True)


@pytest.mark.integration
def test_match_rate_setting_over_the_control_api(emulator) -> None:
    url = f"{emulator.url}/_emulator/settings"
    assert requests.get(url, timeout=5).json()["match_rate"] == 1.0
    assert requests.post(url, json={"match_rate": 0.25}, timeout=5).json()["match_rate"] == 0.25
    assert requests.post(url, json={"match_rate": 1.5}, timeout=5).status_code == 400
    assert requests.post(url, json={"match_rate": "half"}, timeout=5).status_code == 400
    assert emulator.state.settings.match_rate == 0.25
    emulator.reset()
    assert emulator.state.settings.match_rate == 1.0


@pytest.mark.unit
def test_match_rate_cli_flag() -> None:
    assert build_state(parse_args([])).settings.match_rate == 1.0
    assert build_state(parse_args(["--match-rate", "0.6"])).settings.match_rate == 0.6
    with pytest.raises(ValueError, match="match_rate"):
        build_state(parse_args(["--match-rate", "2"]))


@pytest.mark.unit
def test_match_rule_is_deterministic() -> None:
    from airflow_provider_tiktok.emulator.matching import matched_count, matches

    ids = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(2000)]
    assert matched_count(ids, 0.3) == len(matched(ids, 0.3))
    assert [i for i in ids if matches(i, 0.3)] == matched(ids, 0.3)
    assert matched_count(ids, 1.0) == 2000
    assert matched_count(ids, 0.0) == 0
    assert set(matched(ids, 0.3)) <= set(matched(ids, 0.6))  # a higher rate keeps every earlier match
    assert EmulatorState().settings.match_rate == 1.0


@pytest.mark.integration
@pytest.mark.parametrize("path", ["user/info/", "user/info"])
def test_user_info(api: Api, emulator, path: str) -> None:
    answer = api.get(path)
    assert answer["code"] == 0
    assert answer["data"] == {
        "display_name": "Demo Marketer",
        "email": "d***@example.com",
        "core_user_id": USER_ID,
        "create_time": answer["data"]["create_time"],
    }
    assert isinstance(answer["data"]["create_time"], int)
    assert "demo.marketer" not in str(answer)
    reporting_only = emulator.state.issue_token(scopes=frozenset({"reporting"}))
    assert api.get(path, token=reporting_only)["code"] == 0  # any valid token, whatever its scopes
    assert api.get(path, token=None)["code"] == 40104
    assert api.get(path, token="nope")["code"] == 40105
    response = requests.get(f"{emulator.url}{API_PREFIX}/{path}", headers={"Access-Token": ACCESS_TOKEN}, timeout=5)
    assert response.headers["X-Tt-Logid"] == response.json()["request_id"]
