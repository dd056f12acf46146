"""The upload operator with requests-mock: the exact request, inputs (file, gzip, SQL), field maps, arguments,
errors about the request itself, and the extra link."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime, timezone

import pytest

from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokConfigError, TikTokInputError
from airflow_provider_tiktok.links import XCOM_LINK_KEY
from airflow_provider_tiktok.operators import events as events_op
from airflow_provider_tiktok.utils import clock
from tests.helpers.connections import FAKE_TOKEN, TEST_BASE_URL
from tests.helpers.events import NOW, NOW_S, PIXEL, operator, record, sha

URL = f"{TEST_BASE_URL}/open_api/v1.3/event/track/"
OK = {"code": 0, "message": "OK", "request_id": "req-1", "data": {}}


@pytest.fixture
def tiktok(tiktok_conn, requests_mock, monkeypatch, home):
    """requests-mock answering every event batch with success; the operator's clock at NOW."""
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)
    return requests_mock.post(URL, json=OK)


@pytest.mark.unit
def test_the_exact_request_with_a_field_map_test_code_and_limited_data_use(tiktok, context):
    rows = [
        {
            "name": "CompletePayment",
            "timestamp": "2026-03-10T16:00:00+01:00",
            "mail": " Pat@Example.org",
            "agent": "UA/1",
            "cookie_id": "ttp-1",
            "tiktok_click_id": "click-1",
            "internal_score": 0.7,
            "url": "https://shop.example.com/thanks",
            "contents": [{"content_id": "a", "price": 2.5, "quantity": 2}, {"content_id": "b", "price": 1}],
            "currency": "CAD",
        }
    ]
    field_map = {
        "name": "event",
        "timestamp": "event_time",
        "mail": "email",
        "agent": "user_agent",
        "cookie_id": "ttp",
        "tiktok_click_id": "ttclid",
        "internal_score": None,
        "url": "page_url",
    }
    op = operator(events=rows, field_map=field_map, test_event_code="TEST42", limited_data_use=True)
    summary = op.execute(context())
    [request] = tiktok.request_history
    assert request.headers["Access-Token"] == FAKE_TOKEN
    moment = int(datetime(2026, 3, 10, 15, 0, tzinfo=timezone.utc).timestamp())
    email = sha("pat@example.org")
    sent = {
        "event": "CompletePayment",
        "event_time": moment,
        "user": {"email": email, "ttclid": "click-1", "ttp": "ttp-1", "user_agent": "UA/1"},
        "properties": {
            "currency": "CAD",
            "content_type": "product",
            "contents": [{"content_id": "a", "price": 2.5, "quantity": 2}, {"content_id": "b", "price": 1}],
        },
        "page": {"url": "https://shop.example.com/thanks"},
        "limited_data_use": True,
    }
    # derived: SHA-256 of the whole event as sent (without event_id) in canonical JSON, first 36 hex characters
    canonical = json.dumps(sent, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    event_id = hashlib.sha256(canonical.encode()).hexdigest()[:36]
    assert request.json() == {
        "event_source": "web",
        "event_source_id": PIXEL,
        "test_event_code": "TEST42",
        "data": [{**sent, "event_id": event_id}],
    }
    assert summary["test_event_code"] is True


@pytest.mark.unit
def test_a_gzipped_json_lines_file_is_streamed(tiktok, context, tmp_path):
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(record(n)) + "\n" for n in range(1500)).encode()))
    summary = operator(events=str(path), batch_size=500).execute(context())
    assert [len(r.json()["data"]) for r in tiktok.request_history] == [500, 500, 500]
    assert summary["sent"] == 1500


@pytest.mark.unit
def test_unknown_columns_fail_before_anything_is_sent(tiktok, context):
    with pytest.raises(TikTokInputError, match=r"row 1, field 'customer_email'.*field_map"):
        operator(events=[{**record(1), "customer_email": "x@example.com"}]).execute(context())
    assert tiktok.call_count == 0


@pytest.mark.unit
def test_an_error_about_the_request_fails_at_once_without_splitting(tiktok, requests_mock, context):
    requests_mock.post(URL, json={"code": 40002, "message": "event_source_id: pixel not found", "request_id": "r"})
    with pytest.raises(TikTokApiError, match="pixel not found"):
        operator(events=[record(n) for n in range(10)]).execute(context())
    assert requests_mock.call_count == 1


@pytest.mark.unit
def test_empty_input_sends_nothing(tiktok, context, tmp_path):
    (tmp_path / "none.csv").write_text("event,event_time,email,page_url\n")
    summary = operator(events=str(tmp_path / "none.csv")).execute(context())
    assert (summary["received"], summary["sent"], summary["batches"], summary["api_calls"]) == (0, 0, 0, 0)
    assert tiktok.call_count == 0


@pytest.mark.integration
def test_events_from_sql_with_timestamps_and_numerics(tiktok, context, postgres_server, monkeypatch):
    import psycopg2

    with psycopg2.connect(postgres_server.dsn) as conn, conn.cursor() as cursor:
        cursor.execute(
            "drop table if exists conversions; create table conversions "
            "(event text, event_time timestamptz, email text, page_url text, value numeric(10,2), currency text)"
        )
        cursor.executemany(
            "insert into conversions values ('Purchase', to_timestamp(%s), %s, 'https://s.example.com/', %s, 'USD')",
            [(NOW_S - 60 * n, f"sql{n}@example.com", f"{n}.10") for n in range(1, 4)],
        )
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_server.airflow_conn_json())
    operator(sql="select * from conversions order by 2 desc", sql_conn_id="warehouse").execute(context())
    [request] = tiktok.request_history
    sent = request.json()["data"]
    assert [(e["event_time"], e["user"]["email"], e["properties"]["value"]) for e in sent] == [
        (NOW_S - 60, sha("sql1@example.com"), 1.1),
        (NOW_S - 120, sha("sql2@example.com"), 2.1),
        (NOW_S - 180, sha("sql3@example.com"), 3.1),
    ]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 1001}, "batch_size"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"max_rejected_fraction": 1.5}, "max_rejected_fraction"),
    ],
)
def test_bad_arguments_fail_at_dag_parse_time(kwargs, message):
    with pytest.raises(TikTokConfigError, match=message):
        events_op.TikTokEventsUploadOperator(task_id="t", event_source_id=PIXEL, events=[], **kwargs)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"event_source_id": " "}, "event_source_id"), ({"event_source": "tv"}, "event_source")],
)
def test_bad_rendered_arguments_fail_before_reading_or_sending(tiktok, context, kwargs, message):
    with pytest.raises(TikTokConfigError, match=message):
        operator(events=[record(1)], **kwargs).execute(context())
    assert tiktok.call_count == 0


@pytest.mark.unit
def test_template_fields_and_the_link(monkeypatch):
    fields = events_op.TikTokEventsUploadOperator.template_fields
    assert {"events", "event_source_id", "sql", "sql_conn_id", "field_map", "tiktok_conn_id"} <= set(fields)
    from airflow_provider_tiktok.compat import XCom

    seen = {}

    def get_value(*, ti_key, key):
        seen.update(ti_key=ti_key, key=key)
        return "https://ads.tiktok.com/i18n/events_manager?aadvid=1"

    monkeypatch.setattr(XCom, "get_value", get_value)
    [link] = events_op.TikTokEventsUploadOperator.operator_extra_links
    assert link.name == "TikTok Events Manager"
    assert link.get_link(None, ti_key="k") == "https://ads.tiktok.com/i18n/events_manager?aadvid=1"
    assert seen == {"ti_key": "k", "key": XCOM_LINK_KEY}
    assert events_op.events_manager_url(None) == "https://ads.tiktok.com/i18n/events_manager"


@pytest.mark.unit
def test_mapped_tasks_keep_separate_progress(tiktok, context, home):
    ctx = context()
    ctx["ti"].map_index = 0
    operator(events=[record(1)]).execute(ctx)
    ctx["ti"].map_index = 1
    operator(events=[record(1)]).execute(ctx)
    assert tiktok.call_count == 2
    names = sorted(p.name for p in (home / "tiktok" / "state" / "events" / "events_dag" / "upload").iterdir())
    assert names == [
        "manual__2026-03-10T15%3A30%3A00%2B00%3A00.0.json",
        "manual__2026-03-10T15%3A30%3A00%2B00%3A00.1.json",
    ]
