"""The upload's outlet (declared at parse time for a literal event source, else an alias), the counts its asset
event carries, and its OpenLineage facets from the run."""

from __future__ import annotations

import json

import pytest

from airflow_provider_tiktok.operators.events import ASSET_ALIAS
from airflow_provider_tiktok.utils import clock
from tests.helpers.connections import TEST_BASE_URL
from tests.helpers.events import NOW, PIXEL, operator, record

pytestmark = pytest.mark.unit

URL = f"{TEST_BASE_URL}/open_api/v1.3/event/track/"
EXTRA = {"event_source": "web", "received": 3, "sent": 2, "rejected": 1, "batches": 1, "test_event_code": False}


@pytest.fixture
def tiktok(tiktok_conn, requests_mock, monkeypatch, home):
    """requests-mock accepting every batch; the operator's clock at NOW."""
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)
    return requests_mock.post(URL, json={"code": 0, "message": "OK", "request_id": "req-1", "data": {}})


@pytest.fixture
def run_context(context):
    """A task context with real outlet event accessors."""
    from airflow.sdk.execution_time.context import OutletEventAccessors

    return {**context(), "outlet_events": OutletEventAccessors()}


@pytest.fixture
def export(tmp_path):
    """A JSON Lines export of three purchases, the last one too old to send (rejected before sending)."""
    path = tmp_path / "exports" / "purchases.jsonl"
    path.parent.mkdir()
    rows = [record(1), record(2), record(3, event_time="2025-01-01T00:00:00Z")]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_literal_event_source_declares_its_asset_and_user_outlets_stay():
    from airflow.sdk import Asset, AssetAlias

    assert operator().outlets == [Asset(uri=f"tiktok-events://{PIXEL}")]
    mine = Asset(uri="s3://shop/exports")
    assert operator(outlets=[mine]).outlets == [mine, Asset(uri=f"tiktok-events://{PIXEL}")]
    assert operator(outlets=mine).outlets == [mine, Asset(uri=f"tiktok-events://{PIXEL}")]
    for rendered_later in ("{{ params.pixel }}", "{{ var.value.pixel }}", "pixel.sql"):
        assert operator(event_source_id=rendered_later).outlets == [AssetAlias(name=ASSET_ALIAS)]


def test_the_declared_asset_carries_the_run_counts(tiktok, run_context, export):
    from airflow.sdk import Asset

    op = operator(events=str(export), max_rejected_fraction=0.5)
    summary = op.execute(run_context)
    assert (summary["received"], summary["sent"], summary["rejected"]) == (3, 2, 1)
    assert run_context["outlet_events"][Asset(uri=f"tiktok-events://{PIXEL}")].extra == EXTRA


def test_a_templated_event_source_attaches_its_asset_through_the_alias(tiktok, run_context, export):
    from airflow.sdk import AssetAlias

    op = operator(event_source_id="{{ params.pixel }}", events=str(export), max_rejected_fraction=0.5)
    op.event_source_id = PIXEL  # as rendered
    op.execute(run_context)
    [event] = run_context["outlet_events"][AssetAlias(name=ASSET_ALIAS)].asset_alias_events
    assert event.dest_asset_key.uri == f"tiktok-events://{PIXEL}/"  # as Airflow normalises it
    assert event.extra == EXTRA


def test_facets_name_the_file_and_the_event_source_with_their_counts(tiktok, run_context, export):
    op = operator(events=str(export), max_rejected_fraction=0.5)
    op.execute(run_context)
    lineage = op.get_openlineage_facets_on_complete(None)
    [source] = lineage.inputs
    [target] = lineage.outputs
    assert (source.namespace, source.name) == ("file", str(export))
    assert source.inputFacets["inputStatistics"].rowCount == 3
    assert (target.namespace, target.name) == ("tiktok://tiktok.test", f"event_source/{PIXEL}")
    assert target.outputFacets["outputStatistics"].rowCount == 2
    assert len(tiktok.request_history) == 1  # lineage asked TikTok nothing


def test_an_upload_failed_for_its_rejected_share_still_reports_what_it_sent(tiktok, run_context, export):
    op = operator(events=str(export))
    with pytest.raises(Exception, match="1 of 3 events were rejected"):
        op.execute(run_context)
    [target] = op.get_openlineage_facets_on_complete(None).outputs
    assert target.outputFacets["outputStatistics"].rowCount == 2


def test_an_upload_that_stopped_early_has_no_datasets(tiktok, run_context):
    from airflow.providers.openlineage.extractors import OperatorLineage

    op = operator(events=[{"event": "Purchase", "unknown_column": 1}])
    with pytest.raises(Exception, match="unknown_column"):
        op.execute(run_context)
    assert op.get_openlineage_facets_on_complete(None) == OperatorLineage()
