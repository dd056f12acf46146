"""Fan-out of a big input: mapped uploads over shards, on workers that share only the connection's state_uri.

Each map index keeps its own progress, so a retry of one shard (on any worker) resends only that shard's
missing batches, and the shards together send every event exactly once.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.utils import clock
from tests.helpers.connections import TEST_BASE_URL
from tests.helpers.events import NOW, operator, records

URL = f"{TEST_BASE_URL}/open_api/v1.3/event/track/"
OK = {"code": 0, "message": "OK", "request_id": "req-1", "data": {}}
#: A permission error: not retryable, so the attempt fails at once.
DENIED = {"code": 40001, "message": "No permission", "request_id": "req-2", "data": {}}
SHARDS = [records(6, start=0), records(6, start=100), records(6, start=200)]


@pytest.fixture
def shared(tmp_path, set_tiktok_conn, monkeypatch, home):
    """The connection names a state folder outside every worker's AIRFLOW_HOME."""
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)
    root = tmp_path / "shared-state"
    set_tiktok_conn(rate_limit="1000", events_rate_limit="1000", state_uri=str(root))
    return root


def sent_ids(mock) -> list[str]:
    return [event["event_id"] for request in mock.request_history for event in request.json()["data"]]


def run_shard(context, index: int, **kwargs):
    ctx = context()
    ctx["ti"].map_index = index
    return operator(events=SHARDS[index], batch_size=2, max_in_flight=1, **kwargs).execute(ctx)


@pytest.mark.unit
def test_a_failed_shard_resends_only_its_missing_batches_and_every_event_goes_once(
    shared, home, context, requests_mock
):
    answers = [OK] * 3 + [OK, DENIED] + [OK] * 2 + [OK] * 3  # shard 0; shard 1 fails; its retry; shard 2
    mock = requests_mock.post(URL, [{"json": answer} for answer in answers])
    run_shard(context, 0)
    with pytest.raises(TikTokApiError):
        run_shard(context, 1)  # its first batch is accepted, then TikTok refuses the second
    retried = run_shard(context, 1)  # the retry, as if on the other worker: only the shared state is common
    run_shard(context, 2)
    assert (retried["sent"], retried["received"]) == (6, 6)
    assert mock.call_count == len(answers)  # shard 1's retry sent its two missing batches only
    bodies = [request.json()["data"] for request in mock.request_history]
    accepted = [
        event["event_id"] for body, answer in zip(bodies, answers, strict=True) if answer is OK for event in body
    ]
    assert len(accepted) == len(set(accepted)) == 18
    progress = sorted((shared / "events" / "events_dag" / "upload").iterdir())
    assert [path.name.rsplit(".", 2)[-2] for path in progress] == ["0", "1", "2"]
    assert [len(json.loads(path.read_text())["batches"]) for path in progress] == [3, 3, 3]
    assert not (home / "tiktok" / "state").exists()  # nothing in the worker's own AIRFLOW_HOME


@pytest.mark.unit
def test_shards_send_each_event_exactly_once(shared, context, requests_mock):
    mock = requests_mock.post(URL, json=OK)
    for index in range(3):
        run_shard(context, index)
    for index in range(3):
        run_shard(context, index)  # a cleared and rerun mapped task: every batch already accepted
    ids = sent_ids(mock)
    assert len(ids) == 18
    assert len(set(ids)) == 18
