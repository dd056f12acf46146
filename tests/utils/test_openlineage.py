"""OpenLineage of the metrics import and the event upload: dataset identities, row counts, SQL inputs, and the
operators working without the OpenLineage provider."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from airflow_provider_tiktok.utils import clock
from airflow_provider_tiktok.utils import openlineage as ol

pytestmark = pytest.mark.unit

WAREHOUSE = {"conn_type": "postgres", "host": "db.example.com", "port": 6543, "schema": "marketing_db", "login": "u"}


def tiktok_hook(base_url: str = "https://business-api.tiktok.com") -> SimpleNamespace:
    """What lineage reads of the TikTok hook: its connection's base URL."""
    return SimpleNamespace(config=SimpleNamespace(base_url=base_url))


@pytest.fixture
def warehouse(monkeypatch: pytest.MonkeyPatch):
    """A PostgresHook on a connection no test connects to; its current schema answers ``reporting``."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(WAREHOUSE))
    monkeypatch.setattr(PostgresHook, "get_openlineage_default_schema", lambda self: "reporting")
    return PostgresHook(postgres_conn_id="warehouse")


def test_tiktok_namespace_is_the_api_host():
    assert ol.tiktok_namespace("https://business-api.tiktok.com") == "tiktok://business-api.tiktok.com"
    assert ol.tiktok_namespace("http://127.0.0.1:8123") == "tiktok://127.0.0.1:8123"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/srv/tiktok/ad_metrics", ("file", "/srv/tiktok/ad_metrics")),
        ("file:///srv/exports/events.csv", ("file", "/srv/exports/events.csv")),
        ("s3://aws_default@shop-bucket/tiktok/metrics", ("s3://shop-bucket", "tiktok/metrics")),
        ("gs://shop-bucket/exports/2026-03-10.jsonl.gz", ("gs://shop-bucket", "exports/2026-03-10.jsonl.gz")),
        ("memory://store", ("memory://store", "/")),
    ],
)
def test_storage_dataset_ids(location, expected):
    assert ol.storage_dataset_id(location) == expected


def test_a_relative_folder_is_named_by_its_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ol.storage_dataset_id("metrics") == ("file", f"{tmp_path}/metrics")


def test_ad_metrics_into_a_folder():
    summary = {"advertiser_id": "7000000000000000002", "rows": 1234, "destination": "/srv/metrics"}
    lineage = ol.ad_metrics_lineage(tiktok_hook(), (SimpleNamespace(), summary), None)
    [source] = lineage.inputs
    [target] = lineage.outputs
    assert (source.namespace, source.name) == (
        "tiktok://business-api.tiktok.com",
        "advertiser/7000000000000000002/report/ad_daily",
    )
    assert source.inputFacets == {}
    assert (target.namespace, target.name) == ("file", "/srv/metrics")
    assert list(target.outputFacets) == ["outputStatistics"]
    assert target.outputFacets["outputStatistics"].rowCount == 1234
    assert lineage.run_facets == {}
    assert lineage.job_facets == {}


def test_ad_metrics_into_a_table(warehouse):
    summary = {"advertiser_id": "7000000000000000001", "rows": 56, "destination": "warehouse:ad_metrics"}
    written = (SimpleNamespace(hook=warehouse), summary)
    [qualified] = ol.ad_metrics_lineage(tiktok_hook(), written, "analytics.tiktok_ad_metrics").outputs
    assert (qualified.namespace, qualified.name) == (
        "postgres://db.example.com:6543",
        "marketing_db.analytics.tiktok_ad_metrics",
    )
    assert qualified.outputFacets["outputStatistics"].rowCount == 56
    [unqualified] = ol.ad_metrics_lineage(tiktok_hook(), written, "ad_metrics").outputs
    assert unqualified.name == "marketing_db.reporting.ad_metrics"  # the connection's current schema


def test_the_default_postgres_port_completes_the_namespace(warehouse, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({**WAREHOUSE, "port": None}))
    assert ol.table_dataset_id(warehouse, "s.t") == ("postgres://db.example.com:5432", "marketing_db.s.t")


def test_a_run_that_wrote_nothing_has_no_datasets():
    from airflow.providers.openlineage.extractors import OperatorLineage

    assert ol.ad_metrics_lineage(tiktok_hook(), None, None) == OperatorLineage()
    assert ol.events_lineage(tiktok_hook(), None, events="/x.csv", sql=None, sql_conn_id=None) == OperatorLineage()


def test_events_from_a_file():
    from openlineage.client.serde import Serde

    summary = {"event_source_id": "CPIXEL0000000000001", "received": 1000, "sent": 998}
    for events in ("s3://aws_default@shop/exports/2026-03-10.csv.gz", Path("/srv/exports/2026-03-10.csv.gz")):
        lineage = ol.events_lineage(
            tiktok_hook("http://127.0.0.1:8123"), summary, events=events, sql=None, sql_conn_id=None
        )
        [source] = lineage.inputs
        [target] = lineage.outputs
        assert source.inputFacets["inputStatistics"].rowCount == 1000
        assert (target.namespace, target.name) == ("tiktok://127.0.0.1:8123", "event_source/CPIXEL0000000000001")
        assert target.outputFacets["outputStatistics"].rowCount == 998
    assert (source.namespace, source.name) == ("file", "/srv/exports/2026-03-10.csv.gz")
    serialised = Serde.to_dict(target)  # what the OpenLineage client sends
    assert serialised["outputFacets"]["outputStatistics"]["rowCount"] == 998
    assert serialised["outputFacets"]["outputStatistics"]["_schemaURL"].endswith("OutputStatisticsOutputDatasetFacet")


def test_events_in_memory_name_no_input():
    summary = {"event_source_id": "7300000000000000001", "received": 2, "sent": 2}
    lineage = ol.events_lineage(tiktok_hook(), summary, events=[{"event": "Purchase"}], sql=None, sql_conn_id=None)
    assert lineage.inputs == []
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("tiktok://business-api.tiktok.com", "event_source/7300000000000000001")
    ]


def test_events_from_a_query_name_its_tables(warehouse):
    sql = "SELECT o.email, o.total FROM shop.orders o JOIN customers c ON c.id = o.customer_id"
    summary = {"event_source_id": "CPIXEL0000000000001", "received": 10, "sent": 10}
    lineage = ol.events_lineage(tiktok_hook(), summary, events=None, sql=sql, sql_conn_id="warehouse")
    assert sorted((d.namespace, d.name) for d in lineage.inputs) == [
        ("postgres://db.example.com:6543", "marketing_db.reporting.customers"),
        ("postgres://db.example.com:6543", "marketing_db.shop.orders"),
    ]
    assert lineage.job_facets["sql"].query == sql
    assert [d.outputFacets["outputStatistics"].rowCount for d in lineage.outputs] == [10]


@pytest.fixture
def without_openlineage(monkeypatch: pytest.MonkeyPatch):
    """The operator modules imported afresh while neither OpenLineage package can be imported."""
    import airflow_provider_tiktok.operators as package
    from airflow_provider_tiktok.operators import ad_metrics, audience, events  # noqa: F401  (the originals)

    for name in list(sys.modules):
        if name.split(".")[0] == "openlineage" or name.startswith("airflow.providers.openlineage"):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "openlineage", None)
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage", None)
    for name in list(sys.modules):
        if name.startswith("airflow_provider_tiktok.operators.") or name == "airflow_provider_tiktok.utils.openlineage":
            monkeypatch.delitem(sys.modules, name)
    for name in ("ad_metrics", "audience", "events"):
        monkeypatch.setattr(package, name, getattr(package, name))  # put back after the fresh imports
    return {
        name: importlib.import_module(f"airflow_provider_tiktok.operators.{name}")
        for name in ("ad_metrics", "audience", "events")
    }


def test_the_operators_work_without_the_openlineage_provider(
    without_openlineage, tiktok_conn, requests_mock, tmp_path, monkeypatch
):
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import OutletEventAccessors

    with pytest.raises(ImportError):
        import openlineage.client.event_v2  # noqa: F401
    events = without_openlineage["events"]
    requests_mock.post("https://tiktok.test/open_api/v1.3/event/track/", json={"code": 0, "message": "OK", "data": {}})
    op = events.TikTokEventsUploadOperator(
        task_id="upload",
        event_source_id="CPIXEL0000000000001",
        events=[
            {
                "event": "Purchase",
                "event_time": "2026-03-10T15:00:00Z",
                "email": "pat@example.org",
                "page_url": "https://shop.example.com/thanks",
            }
        ],
        state_uri=str(tmp_path / "state"),
        rejects_uri=str(tmp_path / "rejects.jsonl"),
    )
    monkeypatch.setattr(clock, "utcnow", lambda: datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc))
    ti = SimpleNamespace(dag_id="d", task_id="upload", map_index=-1, xcom_push=lambda key, value: None)
    context = {"ti": ti, "run_id": "manual__1", "outlet_events": OutletEventAccessors()}
    assert op.execute(context)["sent"] == 1
    assert context["outlet_events"][Asset(uri="tiktok-events://CPIXEL0000000000001")].extra["sent"] == 1
    with pytest.raises(ImportError):  # Airflow only asks for lineage when the provider is installed
        op.get_openlineage_facets_on_complete(None)
    assert without_openlineage["ad_metrics"].TikTokAdMetricsOperator(task_id="m", advertiser_id="7000000000000000001")
    assert without_openlineage["audience"].TikTokAudienceSyncOperator(
        task_id="a", members=["a@example.com"], id_type="email", audience_name="A"
    )
