"""The measuring parts of ``bench/load.py`` against the session emulator: sliding-window counts, the streamed
membership digest, the cover_num read, the receipts-only event mode and in-place audience updates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A, API_PREFIX
from airflow_provider_tiktok.emulator.state import Audience
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from bench import load
from tests.helpers.clock import EMULATOR_NOW

PIXEL = "CTESTPIXEL000000001"


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> Iterator[EmulatorServer]:
    """The session emulator at its seeded start, reset again afterwards (these tests change its settings)."""
    emulator_server.reset()
    yield emulator_server
    emulator_server.reset()


@pytest.mark.unit
def test_max_in_window_counts_half_open_windows() -> None:
    assert load.max_in_window([], 1.0) == 0
    assert load.max_in_window([5.0], 1.0) == 1
    # 0.0, 0.25, 0.5, 0.75 fit in [0, 1); 1.0 starts the next window.
    assert load.max_in_window([0.0, 0.25, 0.5, 0.75, 1.0], 1.0) == 4
    assert load.max_in_window([1.0, 0.5, 0.0, 0.999, 0.25], 1.0) == 4  # order does not matter
    burst = [10.0 + i / 100 for i in range(12)] + [30.0, 30.5]
    assert load.max_in_window(burst, 1.0) == 12
    assert load.max_in_window(burst, 60.0) == 14


@pytest.mark.unit
def test_size_labels() -> None:
    assert [load.size_label(n) for n in (900, 1000, 20_000, 100_000, 2_500_000, 10_000_000)] == [
        "900",
        "1k",
        "20k",
        "100k",
        "2.5M",
        "10M",
    ]


@pytest.mark.unit
def test_member_hash_is_sha256_of_the_normalised_email() -> None:
    assert load.member_email(7) == "Member7@Example.com "
    assert load.member_hash(7) == hashlib.sha256(b"member7@example.com").hexdigest()


def add_audience(emulator: EmulatorServer, members: set[str]) -> str:
    """An audience put straight into the emulator's state."""
    with emulator.state.lock:
        audience_id = emulator.state.next_audience_id()
        emulator.state.audiences[audience_id] = Audience(
            audience_id, ADVERTISER_A, "Digest", "EMAIL_SHA256", members, EMULATOR_NOW, 365
        )
    return audience_id


@pytest.mark.integration
def test_streamed_digest_equals_the_cohort_across_chunk_boundaries(emulator: EmulatorServer) -> None:
    count = 20_000  # about 1.4 MB of JSON: ids are cut by the 1 MB chunk boundary
    audience_id = add_audience(emulator, {load.member_hash(i) for i in range(count)})
    found = load.emulator_digest(emulator, audience_id)  # type: ignore[arg-type]
    assert found == (*load.cohort_digest(range(count)), True)
    assert load.audience_size(emulator, audience_id) == count  # type: ignore[arg-type]


@pytest.mark.integration
def test_streamed_digest_tells_a_different_membership(emulator: EmulatorServer) -> None:
    audience_id = add_audience(emulator, {load.member_hash(i) for i in range(1, 1001)})
    count, digest, ascending = load.emulator_digest(emulator, audience_id)  # type: ignore[arg-type]
    assert ascending
    assert count == 1000
    assert (count, digest) != load.cohort_digest(range(1000))


def track(emulator: EmulatorServer, ids: list[str]) -> dict:
    """Send one batch of minimal web events with these ids."""
    email = hashlib.sha256(b"buyer@example.com").hexdigest()
    moment = int((EMULATOR_NOW - timedelta(hours=1)).timestamp())
    data = [
        {
            "event": "Purchase",
            "event_time": moment,
            "event_id": i,
            "user": {"email": email},
            "page": {"url": "https://s.example"},
        }
        for i in ids
    ]
    body = {"event_source": "web", "event_source_id": PIXEL, "data": data}
    answer = requests.post(
        f"{emulator.url}{API_PREFIX}/event/track/", json=body, headers={"Access-Token": ACCESS_TOKEN}, timeout=30
    )
    return answer.json()


@pytest.mark.integration
def test_receipts_only_mode_counts_without_keeping_bodies(emulator: EmulatorServer) -> None:
    emulator.state.settings.keep_event_bodies = False
    assert track(emulator, ["a", "b", "c"])["code"] == 0
    assert track(emulator, ["c"])["code"] == 0
    summary = requests.get(f"{emulator.url}/_emulator/events", params={"event_source_id": PIXEL}, timeout=30).json()
    assert summary["receipts"] == {"a": 1, "b": 1, "c": 2}
    assert (summary["unique"], summary["total_receipts"]) == (3, 4)
    assert PIXEL not in emulator.state.events


@pytest.mark.integration
def test_bodies_are_kept_by_default(emulator: EmulatorServer) -> None:
    assert track(emulator, ["a"])["code"] == 0
    assert emulator.state.events[PIXEL]["a"]["event"] == "Purchase"


def api(emulator: EmulatorServer, path: str, **kwargs: object) -> dict:
    answer = requests.post(
        f"{emulator.url}{API_PREFIX}/{path}", headers={"Access-Token": ACCESS_TOKEN}, timeout=30, **kwargs
    )
    return answer.json()


def upload(emulator: EmulatorServer, ids: list[str]) -> str:
    content = "".join(i + "\n" for i in ids).encode()
    data = {
        "advertiser_id": ADVERTISER_A,
        "calculate_type": "EMAIL_SHA256",
        "file_signature": hashlib.md5(content).hexdigest(),
    }
    answer = api(emulator, "dmp/custom_audience/file/upload/", data=data, files={"file": ("ids.txt", content)})
    return answer["data"]["file_path"]


@pytest.mark.integration
def test_in_place_updates_leave_uploaded_files_untouched(emulator: EmulatorServer) -> None:
    """APPEND/REMOVE now change the member set in place: a file used by a REPLACE must not change with it."""
    first = [load.member_hash(i) for i in range(1200)]
    extra = [load.member_hash(i) for i in range(5000, 5100)]
    base = upload(emulator, first)
    created = api(
        emulator,
        "dmp/custom_audience/create/",
        json={
            "advertiser_id": ADVERTISER_A,
            "custom_audience_name": "A",
            "file_paths": [base],
            "calculate_type": "EMAIL_SHA256",
        },
    )
    audience_id = created["data"]["custom_audience_id"]

    def update(action: str, path: str) -> dict:
        body = {
            "advertiser_id": ADVERTISER_A,
            "custom_audience_id": audience_id,
            "action": action,
            "file_paths": [path],
        }
        return api(emulator, "dmp/custom_audience/update/", json=body)

    assert update("REPLACE", base)["code"] == 0
    assert update("APPEND", upload(emulator, extra))["code"] == 0
    assert update("REMOVE", upload(emulator, first[:150]))["code"] == 0
    expected = set(first[150:]) | set(extra)
    assert emulator.state.audience_members(audience_id) == sorted(expected)
    assert emulator.state.files[base].ids == frozenset(first)
    refused = update("REMOVE", upload(emulator, first[150:] + extra[:51]))  # would leave 49
    assert refused["code"] == 40002
    assert "49 users" in refused["message"]
    assert emulator.state.audience_members(audience_id) == sorted(expected)
    # A second audience from the same file gets the file's ids, not the first audience's.
    other = api(
        emulator,
        "dmp/custom_audience/create/",
        json={
            "advertiser_id": ADVERTISER_A,
            "custom_audience_name": "B",
            "file_paths": [base],
            "calculate_type": "EMAIL_SHA256",
        },
    )
    assert emulator.state.audience_members(other["data"]["custom_audience_id"]) == sorted(first)
    assert json.dumps(emulator.state.stats()["audience_calls"][audience_id]) == json.dumps(
        {EMULATOR_NOW.date().isoformat(): 5}
    )
