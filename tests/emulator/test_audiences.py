"""Custom audiences on the emulator: customer files, APPEND/REMOVE/REPLACE, the 1,000 minimum, 24 calls a UTC day."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timezone

import pytest
import requests

from airflow_provider_tiktok.emulator import ADVERTISER_A, ADVERTISER_B
from tests.helpers.emulator_api import Api

pytestmark = pytest.mark.integration


def upload(
    api: Api,
    lines: list[str],
    *,
    name: str = "ids.csv",
    calculate_type: str = "EMAIL_SHA256",
    signature: str | None = None,
    advertiser_id: str = ADVERTISER_A,
    file_name: str | None = None,
) -> dict:
    """Upload a customer file (one id a line) as multipart, like TikTok's SDK."""
    content = "\n".join(lines).encode()
    form = {
        "advertiser_id": advertiser_id,
        "calculate_type": calculate_type,
        "file_signature": signature or hashlib.md5(content).hexdigest(),
    }
    if file_name:
        form["file_name"] = file_name
    return api.post("dmp/custom_audience/file/upload/", data=form, files={"file": (name, content, "text/csv")})


def path_of(api: Api, lines: list[str], **kwargs) -> str:
    """Upload and return the file_path (asserting success)."""
    answer = upload(api, lines, **kwargs)
    assert answer["code"] == 0, answer
    return answer["data"]["file_path"]


def create(api: Api, paths: list[str], name: str = "Cohort", **extra) -> dict:
    """Create an audience from file paths."""
    body = {
        "advertiser_id": ADVERTISER_A,
        "custom_audience_name": name,
        "file_paths": paths,
        "calculate_type": "EMAIL_SHA256",
        "audience_sub_type": "NORMAL",
        "audience_enhancement": False,
        **extra,
    }
    return api.post("dmp/custom_audience/create/", body)


def update(api: Api, audience_id: str, paths: list[str] | None, action: str | None = "APPEND", **extra) -> dict:
    """Update an audience (``action`` None leaves it out: TikTok then REPLACEs)."""
    body = {"advertiser_id": ADVERTISER_A, "custom_audience_id": audience_id, **extra}
    if paths is not None:
        body["file_paths"] = paths
    if action is not None:
        body["action"] = action
    return api.post("dmp/custom_audience/update/", body)


def details(api: Api, audience_id: str) -> dict:
    """audience_details and history of one audience."""
    answer = api.get(
        "dmp/custom_audience/get/", {"advertiser_id": ADVERTISER_A, "custom_audience_ids": json.dumps([audience_id])}
    )
    assert answer["code"] == 0, answer
    return answer["data"]["list"][0]


@pytest.fixture
def audience(api: Api, hashed_ids: Callable[..., list[str]]) -> str:
    """An audience of users 0..1499."""
    answer = create(api, [path_of(api, hashed_ids(1500))])
    assert answer["code"] == 0, answer
    return answer["data"]["custom_audience_id"]


def members(emulator, audience_id: str) -> list[str]:
    """The emulator's membership, through the control API."""
    response = requests.get(f"{emulator.url}/_emulator/audiences/{audience_id}/members", timeout=5).json()
    assert response["count"] == len(response["members"])
    return response["members"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"name": "ids.xlsx"}, 40908),
        ({"name": "ids.CSV"}, 40908),
        ({"name": "upload.bin", "file_name": "ids.txt"}, 0),
        ({"signature": "0" * 32}, 40900),
        ({"calculate_type": "IDFA_MD5"}, 40002),
        ({"calculate_type": "EMAIL"}, 40002),
    ],
    ids=["xlsx", "upper-case-extension", "file-name-field", "md5-mismatch", "sha256-lines-as-md5", "unknown-type"],
)
def test_upload_rules(api: Api, hashed_ids, kwargs: dict, code: int) -> None:
    assert upload(api, hashed_ids(3), **kwargs)["code"] == code


def test_upload_content_rules(api: Api, emulator, hashed_ids) -> None:
    assert upload(api, ["", "  "])["code"] == 40906
    bad = upload(api, [*hashed_ids(2), "someone@example.com"])
    assert bad["code"] == 40002
    assert "Line 3" in bad["message"]
    md5_ids = [hashlib.md5(f"gaid{i}".encode()).hexdigest() for i in range(3)]
    assert upload(api, md5_ids, calculate_type="GAID_MD5")["code"] == 0
    assert upload(api, [f"{hashed_ids(1)[0]},{md5_ids[0]}"], calculate_type="MULTIPLE_TYPES")["code"] == 0
    emulator.state.settings.max_upload_bytes = 1000
    assert upload(api, hashed_ids(20))["code"] == 40907
    assert upload(api, hashed_ids(10))["code"] == 0


def test_create_validates_files_and_allows_small_audiences(api: Api, emulator, hashed_ids) -> None:
    small = create(api, [path_of(api, hashed_ids(10))])
    assert small["code"] == 0
    info = details(api, small["data"]["custom_audience_id"])["audience_details"]
    assert (info["cover_num"], info["is_valid"], info["calculate_type"]) == (10, False, "EMAIL_SHA256")
    assert {"audience_id", "name", "is_expiring", "expired_time", "create_time", "msg", "error_msg"} <= set(info)
    phone_path = path_of(api, hashed_ids(3), calculate_type="PHONE_SHA256")
    assert create(api, [phone_path])["code"] == 40909
    assert create(api, ["0123456789abcdef"])["code"] == 40905  # 16 characters, as TikTok's paths, but unknown
    assert create(api, ["emulator/nowhere.csv"])["code"] == 40002  # not 16 characters
    other_advertiser = path_of(api, hashed_ids(3), advertiser_id=ADVERTISER_B)
    assert create(api, [other_advertiser])["code"] == 40905
    assert create(api, [path_of(api, hashed_ids(3))], name="x" * 129)["code"] == 40002
    assert create(api, [path_of(api, hashed_ids(3))], retention_in_days=366)["code"] == 40002
    assert create(api, [])["code"] == 40002
    many = [path_of(api, hashed_ids(1, start=i)) for i in range(3)] * 167  # 501 paths
    assert create(api, many)["code"] == 40002
    assert create(api, many[:500])["code"] == 0
    assert requests.get(f"{emulator.url}/_emulator/stats", timeout=5).json()["max_file_paths"] == 501


def test_file_paths_expire(api: Api, emulator, hashed_ids) -> None:
    emulator.state.settings.file_path_ttl_seconds = 600
    path = path_of(api, hashed_ids(5))
    emulator.state.advance_clock(601)
    assert create(api, [path])["code"] == 40910


def test_append_remove_replace(api: Api, emulator, audience: str, hashed_ids) -> None:
    expected = set(hashed_ids(1500))
    assert set(members(emulator, audience)) == expected
    assert update(api, audience, [path_of(api, hashed_ids(150, start=1450))], "APPEND")["code"] == 0
    expected |= set(hashed_ids(150, start=1450))
    assert set(members(emulator, audience)) == expected
    assert len(expected) == 1600
    assert update(api, audience, [path_of(api, hashed_ids(500))], "REMOVE")["code"] == 0
    expected -= set(hashed_ids(500))
    assert set(members(emulator, audience)) == expected
    assert update(api, audience, [path_of(api, hashed_ids(1200, start=5000))], None)["code"] == 0  # default REPLACE
    assert members(emulator, audience) == sorted(hashed_ids(1200, start=5000))
    history = details(api, audience)["audience_history"]
    assert [h["action"] for h in history] == ["REPLACE", "REMOVE", "APPEND", "CREATE"]
    assert {"action_detail", "msg", "opt_time"} <= set(history[0])
    assert details(api, audience)["audience_details"]["cover_num"] == 1200


def test_updates_never_leave_fewer_than_1000(api: Api, emulator, audience: str, hashed_ids) -> None:
    before = members(emulator, audience)
    removal = update(api, audience, [path_of(api, hashed_ids(501))], "REMOVE")
    assert removal["code"] == 40002
    assert "999" in removal["message"]
    assert update(api, audience, [path_of(api, hashed_ids(999, start=9000))], "REPLACE")["code"] == 40002
    assert members(emulator, audience) == before
    assert update(api, audience, [path_of(api, hashed_ids(500))], "REMOVE")["code"] == 0
    assert len(members(emulator, audience)) == 1000
    assert update(api, audience, [path_of(api, hashed_ids(3))], "MERGE")["code"] == 40002


def test_replace_while_processing_is_rejected(api: Api, emulator, audience: str, hashed_ids) -> None:
    emulator.state.settings.replace_processing_seconds = 3600
    assert update(api, audience, [path_of(api, hashed_ids(1100))], "REPLACE")["code"] == 0
    busy = update(api, audience, [path_of(api, hashed_ids(1200))], "REPLACE")
    assert busy["code"] != 0
    assert "processing" in busy["message"]
    assert update(api, audience, [path_of(api, hashed_ids(10, start=7000))], "APPEND")["code"] == 0
    emulator.state.advance_clock(3601)
    assert update(api, audience, [path_of(api, hashed_ids(1200))], "REPLACE")["code"] == 0


def test_rename_and_delete(api: Api, emulator, audience: str) -> None:
    assert update(api, audience, None, None, custom_audience_name="Renamed")["code"] == 0
    assert details(api, audience)["audience_details"]["name"] == "Renamed"
    assert update(api, audience, None, None)["code"] == 40002
    assert (
        api.post("dmp/custom_audience/delete/", {"advertiser_id": ADVERTISER_A, "custom_audience_ids": [audience]})[
            "code"
        ]
        == 0
    )
    assert (
        api.get(
            "dmp/custom_audience/get/", {"advertiser_id": ADVERTISER_A, "custom_audience_ids": json.dumps([audience])}
        )["code"]
        == 40002
    )
    assert (
        api.post("dmp/custom_audience/delete/", {"advertiser_id": ADVERTISER_A, "custom_audience_ids": []})["code"]
        == 40002
    )


def test_24_calls_per_audience_per_utc_day(api: Api, emulator, audience: str, hashed_ids) -> None:
    emulator.state.set_clock(datetime(2026, 3, 10, 23, 0, tzinfo=timezone.utc))
    path = path_of(api, hashed_ids(10, start=3000))
    assert emulator.state.audience_calls_today(audience) == 1  # the create, earlier the same UTC day
    for _ in range(23):
        assert update(api, audience, [path], "APPEND")["code"] == 0
    before = members(emulator, audience)
    refused = update(api, audience, [path_of(api, hashed_ids(10, start=4000))], "APPEND")
    assert refused["code"] == 40002
    assert "daily limit of 24 calls" in refused["message"]
    assert members(emulator, audience) == before
    assert update(api, audience, None, None, custom_audience_name="late")["code"] == 40002
    assert (
        api.post("dmp/custom_audience/delete/", {"advertiser_id": ADVERTISER_A, "custom_audience_ids": [audience]})[
            "code"
        ]
        == 40002
    )
    emulator.state.set_clock(datetime(2026, 3, 10, 23, 59, 59, tzinfo=timezone.utc))
    assert update(api, audience, [path], "APPEND")["code"] == 40002
    emulator.state.set_clock(datetime(2026, 3, 11, 0, 0, tzinfo=timezone.utc))
    assert update(api, audience, [path], "APPEND")["code"] == 0
    stats = requests.get(f"{emulator.url}/_emulator/stats", timeout=5).json()["audience_calls"][audience]
    assert stats == {"2026-03-10": 24, "2026-03-11": 1}


def test_create_counts_against_the_new_audience(api: Api, emulator, audience: str) -> None:
    assert emulator.state.audience_calls_today(audience) == 1
    for _ in range(23):
        assert update(api, audience, None, None, custom_audience_name="n")["code"] == 0
    assert update(api, audience, None, None, custom_audience_name="n")["code"] == 40002


def test_list_pages(api: Api, hashed_ids) -> None:
    path = path_of(api, hashed_ids(5))
    ids = [create(api, [path], name=f"a{i}")["data"]["custom_audience_id"] for i in range(12)]
    page = api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER_A, "page": 2})["data"]
    assert page["page_info"] == {"page": 2, "page_size": 10, "total_number": 12, "total_page": 2}
    assert [a["audience_id"] for a in page["list"]] == ids[10:]
    chosen = api.get(
        "dmp/custom_audience/list/", {"advertiser_id": ADVERTISER_A, "custom_audience_ids": json.dumps(ids[:3])}
    )["data"]
    assert [a["name"] for a in chosen["list"]] == ["a0", "a1", "a2"]
    assert api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER_A, "page_size": 101})["code"] == 40002
