"""The example DAG: its shipped export staged with recent times and uploaded to the emulator as test events."""

from __future__ import annotations

import csv
import importlib.util
from datetime import datetime
from pathlib import Path

import pytest

from airflow_provider_tiktok.operators.events import TikTokEventsUploadOperator
from tests.helpers.events import NOW, receipts, sha, track_calls

DAG_FILE = Path(__file__).parents[3] / "dags_examples" / "tiktok_events_upload.py"


@pytest.fixture(scope="module")
def module():
    spec = importlib.util.spec_from_file_location("tiktok_events_upload_example", DAG_FILE)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.mark.unit
def test_dag_shape(module):
    dag = module.dag
    assert dag.dag_id == "tiktok_events_upload"
    upload = dag.get_task("upload_events")
    assert isinstance(upload, TikTokEventsUploadOperator)
    assert upload.upstream_task_ids == {"stage_demo_events"}
    assert upload.test_event_code
    assert upload.max_rejected_fraction == 0.05


@pytest.mark.unit
def test_staging_moves_every_time_by_one_offset(module, tmp_path):
    target = tmp_path / "staged.csv"
    assert module.stage_events(module.SHIPPED_EVENTS, target, NOW) == 120
    with module.SHIPPED_EVENTS.open() as a, target.open() as b:
        shipped, staged = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert [{k: v for k, v in r.items() if k != "occurred_at"} for r in staged] == [
        {k: v for k, v in r.items() if k != "occurred_at"} for r in shipped
    ]
    assert staged[-1]["occurred_at"] == "2026-03-10T15:20:00Z"
    assert target.stat().st_mode & 0o077 == 0


@pytest.mark.integration
def test_the_shipped_events_reach_the_emulator(module, emulator, context, tmp_path):
    staged = tmp_path / "staged.csv"
    module.stage_events(module.SHIPPED_EVENTS, staged, NOW)
    upload = module.dag.get_task("upload_events")
    upload.events = str(staged)
    upload.hook.sleep = lambda seconds: None
    summary = upload.execute(context())
    assert (summary["received"], summary["sent"], summary["rejected"]) == (120, 118, 2)
    assert summary["rejected_by_reason"] == {
        "currency: is not an ISO 4217 currency code": 1,
        "page_url: is required for web events": 1,
    }
    assert summary["dropped_fields"] == {"phone": 1}
    assert summary["test_event_code"] is True
    assert len(track_calls(emulator)) == 118  # test events go one per request
    assert len(receipts(emulator, module.PIXEL_CODE)) == 118
    with staged.open() as handle:
        first = next(csv.DictReader(handle))
    stored = emulator.state.events[module.PIXEL_CODE].values()
    [sent] = [e for e in stored if e["user"]["email"] == sha(first["customer_email"].lower())]
    moment = datetime.fromisoformat(first["occurred_at"].replace("Z", "+00:00"))
    assert (sent["event"], sent["event_time"]) == (first["event_name"], int(moment.timestamp()))
